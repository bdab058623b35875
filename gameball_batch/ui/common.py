"""Plumbing the job, history and approval pages share: guarded calls, the ledger, the actor.

Nothing here draws a page; it only turns failures into operator messages (never a
traceback), opens the process's ledger, and names who is at the console for the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger
from gameball_batch.ui import services
from gameball_batch.ui.text import literal

log = logging.getLogger(__name__)


def actor() -> str:
    """Who the audit log records for an action taken at this console."""
    try:
        from gameball_batch.ui import frame

        return frame.identity().actor
    except Exception:  # a page opened on its own (tests) still records someone
        log.debug("identity unavailable", exc_info=True)
        from gameball_batch.access import LOCAL_ACTOR

        return LOCAL_ACTOR


@contextmanager
def guard(what: str, *, stop: bool = False) -> Iterator[None]:
    """Turn any failure inside into an operator message instead of a traceback."""
    try:
        yield
    except job_service.JobError as exc:
        st.error(literal(exc), icon=":material/block:")
        if stop:
            st.stop()
    except lg.LedgerError as exc:
        st.error(f"The job ledger cannot be used: {literal(exc)}", icon=":material/database:")
        if stop:
            st.stop()
    except Exception as exc:  # st.stop()/st.rerun() are BaseException: they pass through
        log.exception("%s failed", what)
        st.error(
            f"Could not {what}: {type(exc).__name__}: {literal(exc)}. Reload the page to try "
            "again; if it keeps failing, check the console's log.",
            icon=":material/error:",
        )
        if stop:
            st.stop()


def ledger_or_stop() -> Ledger:
    """The process's ledger, or a clear message and the end of this run."""
    try:
        return services.get_ledger()
    except Exception as exc:
        log.exception("opening the ledger failed")
        st.error(
            f"The job ledger cannot be opened: {literal(exc)}. Check GAMEBALL_BATCH_DB (or "
            "the `db_path` in secrets.toml) points to a writable file, then reload.",
            icon=":material/database:",
        )
        st.stop()


def safe_bytes(build: Callable[[], bytes], what: str) -> Callable[[], bytes]:
    """Deferred download data that never raises into Streamlit's download thread."""

    def run() -> bytes:
        try:
            return build()
        except Exception as exc:
            log.exception("building %s failed", what)
            return f"Could not build {what}: {exc}\n".encode()

    return run


def why_disabled(reason: str | None) -> None:
    """Next to a disabled button: what is missing (a confirmation, a reason, a role)."""
    if reason:
        st.caption(f":material/info: {reason}")
