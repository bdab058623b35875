"""The console's frame: the environment banner, the sign-in gate and the shared sidebar.

``app.py`` calls these around ``st.navigation`` so every page carries the same banner
(sandbox or production, and where requests go) and the same sidebar (connection state and
running jobs). The sidebar's job list refreshes itself in a fragment only while something
runs. This module must not create jobs or send anything; it only reads.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NoReturn

import streamlit as st

from gameball_batch import access
from gameball_batch import ledger as lg
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.settings import Settings
from gameball_batch.ui import routing, services
from gameball_batch.ui import state as keys
from gameball_batch.ui.text import literal

log = logging.getLogger(__name__)

SIDEBAR_REFRESH_SECONDS = 2.0
SIDEBAR_JOBS = 8
SANDBOX_KEY_TEXT = "sandbox demo key"  # the sidebar and Settings name it alike


def _no_page() -> None:
    """The only page while the console refuses to show anything."""


def stop_without_pages() -> NoReturn:
    """End this run with only what is already drawn, and no page reachable by URL.

    Without an ``st.navigation`` call in a run, Streamlit falls back to its old multipage
    mode, where a URL like ``/new_batch`` runs a page file on its own. Each page file hands
    over to ``app.py`` in that case (``routing.hand_over``), which would only come back here;
    registering one hidden, empty page closes the fallback for this session as well.
    """
    st.navigation([st.Page(_no_page, title="gameball-batch", url_path="locked")],
                  position="hidden")
    st.stop()


def load_settings_or_stop() -> Settings:
    """Settings, or a clear message (and nothing else) when the configuration is broken."""
    try:
        return services.get_settings()
    except (ValueError, OSError) as exc:
        st.error(
            f"The console's configuration cannot be read: {literal(exc)}\n\n"
            "Fix `.streamlit/secrets.toml` (see `secrets.example.toml`) or the GAMEBALL_* "
            "environment variables, then reload this page."
        )
        stop_without_pages()


def connection_or_stop() -> services.Connection:
    """The effective connection; starting the embedded sandbox on first use."""
    try:
        return services.get_connection()
    except Exception as exc:  # a sandbox that cannot start must not become a traceback
        log.exception("connection setup failed")
        st.error(
            f"The embedded sandbox could not start: {literal(exc)}. Restart the console; if it "
            "keeps failing, check that 127.0.0.1 accepts local connections."
        )
        stop_without_pages()


def start_runner() -> str | None:
    """Start the background runner once per process; an operator message when it cannot."""
    try:
        services.get_runner()
    except Exception as exc:
        log.exception("runner start failed")
        return (
            f"The background runner is not running ({type(exc).__name__}: {literal(exc)}). "
            "Jobs can be created but will wait until the console is restarted."
        )
    return None


def banner(connection: services.Connection) -> None:
    """The environment banner nobody can miss: production in a warning colour."""
    if connection.is_production:
        st.warning(
            f"**PRODUCTION** — requests go to **{connection.base_url}**. "
            "Every job changes real customers' points and balances.",
            icon=":material/warning:",
        )
    else:
        st.info(
            f"**SANDBOX** — requests go to the embedded Gameball sandbox at "
            f"**{connection.base_url}**. Nothing here touches real customers.",
            icon=":material/science:",
        )
    try:
        ledger_warning = services.get_ledger().warning
    except Exception:  # the page itself says what is wrong with the ledger
        ledger_warning = None
    if ledger_warning:
        st.warning(literal(ledger_warning), icon=":material/dns:")  # network filesystem, allowed


def identity() -> access.Identity:
    """Who is at the console: the signed-in user, or the local operator."""
    try:
        user = st.user
        if user.get("is_logged_in"):
            email = user.get("email")
            name = user.get("name")
            return access.Identity(
                email=str(email) if email else None, name=str(name) if name else None
            )
    except Exception:  # st.user is unavailable in some hosts; the local operator applies
        log.debug("st.user unavailable", exc_info=True)
    return access.Identity()


def auth_configured(settings: Settings) -> bool:
    """Whether an [auth] (OIDC) section exists, in Streamlit's secrets or our settings file."""
    if "auth" in settings.extra:
        return True
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def sign_in_gate(settings: Settings) -> None:
    """Refuse to show anything when production needs sign-in and nobody is signed in."""
    mode = access.sign_in_mode(settings, auth_configured=auth_configured(settings))
    if mode is access.SignIn.MISCONFIGURED:
        st.error(
            "This console talks to production but no sign-in is configured. Add an [auth] "
            "section to `.streamlit/secrets.toml`, or set [auth_policy] allow_anonymous = "
            "true if this console runs only on a trusted machine."
        )
        stop_without_pages()
    if mode is access.SignIn.REQUIRED and not identity().signed_in:
        st.header("Sign in to continue")
        st.write("This console changes real customers' balances, so you need to sign in.")
        if st.button("Sign in", key=keys.FRAME_LOGIN, type="primary"):
            st.login()
        stop_without_pages()


def sidebar(connection: services.Connection, runner_problem: str | None) -> None:
    """Connection state and the running jobs, on every page."""
    with st.sidebar:
        _connection_panel(connection)
        if runner_problem:
            st.error(runner_problem)
        _running_jobs()


def _connection_panel(connection: services.Connection) -> None:
    if connection.is_production:
        st.badge("production", icon=":material/warning:", color="orange")
    else:
        st.badge("sandbox", icon=":material/science:", color="blue")
    st.caption(f"API: {connection.base_url}")
    key = SANDBOX_KEY_TEXT if connection.sandbox is not None else connection.api_key.masked()
    st.caption(f"API key: {key}")
    result = st.session_state.get(keys.ST_CONNECTION_RESULT)
    if result is not None:
        ok, message = result
        icon = ":material/check_circle:" if ok else ":material/error:"
        (st.success if ok else st.error)(message, icon=icon)
    elif connection.sandbox is not None:
        st.caption("Embedded sandbox running in this process.")
    else:
        st.caption("Connection not tested yet — Settings → Test connection.")


def _active_jobs() -> list[lg.Job]:
    try:
        return services.get_ledger().jobs(states=lg.ACTIVE_JOB_STATES, limit=SIDEBAR_JOBS)
    except Exception:  # the sidebar must never take a page down
        log.exception("reading running jobs failed")
        return []


def _running_jobs() -> None:
    active = bool(_active_jobs())
    # A fragment that reruns on its own only while something runs; once the last job
    # settles, one full rerun drops the timer.
    refresh = SIDEBAR_REFRESH_SECONDS if active else None
    st.fragment(run_every=refresh)(_running_jobs_body)(active)


def _running_jobs_body(was_active: bool) -> None:
    jobs = _active_jobs()
    if was_active and not jobs:
        st.rerun(scope="app")  # the last job settled: a full run turns the timer off
    st.subheader("Running jobs")
    if not jobs:
        st.caption("Nothing running.")
        return
    ledger = services.get_ledger()
    for job in jobs:
        counts = ledger.chunk_counts(job.id)
        finished = counts[lg.CHUNK_DONE] + counts[lg.CHUNK_FAILED]
        total = max(job.chunk_count, 1)
        title = BATCH_TYPES[job.batch_type].title if job.batch_type in BATCH_TYPES else ""
        when = datetime.fromtimestamp(job.created_at).strftime("%H:%M")
        st.page_link(  # a link label is markdown: the file name goes in literally
            routing.page("jobs"),
            label=literal(job.file_name or job.id[:8]),
            query_params={keys.JOB_QUERY_PARAM: job.id},
        )
        st.progress(
            finished / total, text=f"{title} · {job.state} · {job.row_count:,} rows · {when}"
        )
