"""The Settings screen: connection, limits, access and (in sandbox mode) sandbox controls.

Keys are only ever shown masked (``Secret.masked()``: that a key is set, and its length).
Limits changed here apply to this process only and restart the runner; nothing is written
to disk. Sandbox controls go through :mod:`gameball_batch.ui.sandbox_admin` and are drawn
only when the console talks to the embedded sandbox. Only operators get the controls that
change limits or the sandbox; everyone else sees the read-only panels (the role check is
``access_view.holds``). This module must not send batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from gameball_batch import access
from gameball_batch.access import Role
from gameball_batch.ui import access_view, frame, notify_view, sandbox_admin, services
from gameball_batch.ui import state as keys
from gameball_batch.ui.frame import SANDBOX_KEY_TEXT
from gameball_batch.ui.text import literal

log = logging.getLogger(__name__)

OPERATORS_ONLY = ("Only operators can change the limits or the sandbox; ask one if something "
                  "here needs to change.")


def render() -> None:
    st.title("Settings")
    _flash()
    settings = services.get_settings()
    connection = services.get_connection()
    may_change = _may_change()
    _connection(connection, settings)
    _limits(settings, may_change=may_change)
    _access(settings)
    notify_view.render()
    if connection.sandbox is not None:
        _customers(connection.base_url)
    if connection.sandbox is not None and may_change:
        _sandbox(connection.base_url)


def _may_change() -> bool:
    """Whether the person at the console may change limits and the sandbox (operators)."""
    try:
        return access_view.holds(Role.OPERATOR)
    except Exception:  # roles unreadable: read-only
        log.exception("reading the roles of the person at the console failed")
        return False


def _flash() -> None:
    flash = st.session_state.pop(keys.ST_FLASH, None)
    if flash:
        kind, message = flash
        (st.success if kind == "success" else st.error)(message)


def _run(action: Callable[[], str]) -> None:
    """Run a button's action; its outcome is shown once, as success or error.

    The role is checked again here: a callback must not outlive a role taken away.
    """
    if not _may_change():
        st.session_state[keys.ST_FLASH] = ("error", OPERATORS_ONLY)
        return
    try:
        st.session_state[keys.ST_FLASH] = ("success", action())
    except (sandbox_admin.SandboxAdminError, ValueError) as exc:
        st.session_state[keys.ST_FLASH] = ("error", literal(exc))
    except Exception as exc:
        log.exception("settings action failed")
        st.session_state[keys.ST_FLASH] = (
            "error", f"That did not work ({type(exc).__name__}); details are in the log.")


# --- connection -----------------------------------------------------------------------------


def _connection(connection: services.Connection, settings: Any) -> None:
    st.header("Connection")
    a, b = st.columns(2)
    a.metric("Environment", connection.environment.upper())
    b.markdown(f"**Base URL**  \n{connection.base_url}")
    if connection.sandbox is not None:
        st.markdown(f"**API key:** {SANDBOX_KEY_TEXT}")
        st.caption("No Gameball account is configured, so the console uses its embedded "
                   "sandbox and its demo key. Set GAMEBALL_API_KEY and GAMEBALL_SECRET_KEY (or "
                   "`.streamlit/secrets.toml`) and restart to use production.")
    else:
        st.markdown(f"**API key:** {connection.api_key.masked()}  \n"
                    f"**Secret key:** "
                    f"{connection.secret_key.masked() if connection.secret_key else 'not set'}")
    st.caption(f"Ledger: `{settings.ledger_label}`")
    st.button("Test connection", key=keys.ST_TEST_CONNECTION, on_click=_test_connection)
    result = st.session_state.get(keys.ST_CONNECTION_RESULT)
    if result is not None:
        ok, message = result
        (st.success if ok else st.error)(message)


def _test_connection() -> None:
    try:
        st.session_state[keys.ST_CONNECTION_RESULT] = services.test_connection()
    except Exception as exc:  # the probe must never take the page down
        log.exception("connection test failed")
        st.session_state[keys.ST_CONNECTION_RESULT] = (
            False, f"The connection test itself failed ({type(exc).__name__}).")


# --- limits ---------------------------------------------------------------------------------


def _limits(settings: Any, *, may_change: bool) -> None:
    st.header("Limits")
    a, b, c, d, e = st.columns(5)
    a.metric("Chunks in flight per job", settings.concurrency)
    b.metric("Requests per second", f"{settings.rate_per_second:g}")
    c.metric("Requests per 30 s", settings.rate_per_30s)
    # Two short metrics: one "200 MB · 2,000,000 rows" value was cut off in its column.
    d.metric("Upload limit", f"{settings.max_upload_mb} MB")
    e.metric("Rows per file", f"{settings.max_rows:,}")
    st.caption("Request limits count creating batches and reading their status together."
               if settings.rate_shared else
               "Request limits apply to creating batches and to reading their status "
               "separately, as Gameball lists GET and POST limits per resource. Set "
               "`rate_shared = true` under [limits] if Gameball answers with 429s.")
    if not may_change:
        st.caption(OPERATORS_ONLY)
        return
    with st.expander("Change for this process (until restart)"):
        left, right = st.columns(2)
        left.number_input("Chunks in flight per job", min_value=1, max_value=32, step=1,
                          value=int(settings.concurrency), key=keys.ST_CONCURRENCY)
        right.number_input("Requests per second", min_value=0.5, max_value=30.0, step=0.5,
                           value=float(settings.rate_per_second), key=keys.ST_RATE,
                           help="Gameball allows 30 per second and 360 per 30 s per key "
                                "and HTTP method.")
        st.button("Apply and restart the runner", key=keys.ST_APPLY_LIMITS,
                  on_click=lambda: _run(_apply_limits))


def _apply_limits() -> str:
    concurrency = int(st.session_state[keys.ST_CONCURRENCY])
    rate = float(st.session_state[keys.ST_RATE])
    services.set_tunable(concurrency=concurrency, rate_per_second=rate)
    return f"Runner restarted with {concurrency} chunks in flight and {rate:g} requests/s."


# --- access ---------------------------------------------------------------------------------


def _access(settings: Any) -> None:
    st.header("Access")
    who = frame.identity()
    roles = ", ".join(sorted(r.value for r in access_view.roles(settings, who))) or "none"
    st.markdown(f"You are **{literal(who.actor)}** · roles: {roles}")
    if not access.policy_from_settings(settings).configured:
        st.caption("No [roles] section is configured, so everyone who can open the console "
                   "holds every role.")


# --- sandbox --------------------------------------------------------------------------------


def _customers(url: str) -> None:
    """Who there is to practise with: how many, their ids, their balances, as a download."""
    st.header("Sandbox customers")
    try:
        listed = sandbox_admin.customers(url)
    except sandbox_admin.SandboxAdminError as exc:
        st.error(str(exc))
        return
    demo = listed.demo_range
    ids = f"demo ids {demo[0]} … {demo[1]}" if demo else "no demo customers (seed some below)"
    st.caption(f"{listed.count:,} customers in the sandbox; {ids}. Balances are in points.")
    if listed.rows:
        st.dataframe(listed.rows, hide_index=True, key=keys.ST_SANDBOX_CUSTOMERS)
        st.download_button("Download customers (CSV)", data=listed.to_csv_bytes(),
                           file_name="sandbox-customers.csv", mime="text/csv",
                           key=keys.ST_SANDBOX_CUSTOMERS_CSV)


def _sandbox(url: str) -> None:
    st.header("Sandbox controls")
    st.caption("Training and testing only: these change the embedded sandbox, never Gameball.")
    try:
        current = sandbox_admin.processing(url)
        faults = sandbox_admin.faults(url)
    except sandbox_admin.SandboxAdminError as exc:
        st.error(literal(exc))
        return
    left, right = st.columns(2)
    with left:
        st.button("Reset the sandbox (forget all data)", key=keys.ST_SANDBOX_RESET,
                  on_click=lambda: _run(lambda: _reset(url)))
        st.number_input("Demo customers to seed", min_value=1, max_value=100_000, value=200,
                        step=50, key=keys.ST_SEED_COUNT)
        st.button("Seed customers", key=keys.ST_SEED, on_click=lambda: _run(lambda: _seed(url)))
    with right:
        st.number_input("Processing speed (items per second)", min_value=0.0,
                        value=float(current.get("itemRate", 0.0)), step=50.0,
                        key=keys.ST_SANDBOX_RATE, help="0 pauses processing.")
        st.button("Apply speed", key=keys.ST_SANDBOX_RATE_APPLY,
                  on_click=lambda: _run(lambda: _speed(url)))
        st.caption(f"{int(current.get('pendingItems', 0)):,} items waiting in the sandbox.")
    _fault_controls(url, faults)


def _reset(url: str) -> str:
    customers = sandbox_admin.reset(url)
    return f"Sandbox reset: {customers:,} demo customers, no jobs, no transactions."


def _seed(url: str) -> str:
    count = sandbox_admin.seed(url, int(st.session_state[keys.ST_SEED_COUNT]))
    return f"Seeded {count:,} demo customers (cus-1001 …)."


def _speed(url: str) -> str:
    answer = sandbox_admin.set_item_rate(url, float(st.session_state[keys.ST_SANDBOX_RATE]))
    return f"The sandbox now processes {float(answer.get('itemRate', 0)):g} items per second."


FAULT_INPUTS = (
    (keys.ST_FAULT_ERROR_BEFORE, "error_before", "500 before applying (probability)"),
    (keys.ST_FAULT_ERROR_AFTER, "error_after", "500 after applying — in doubt (probability)"),
    (keys.ST_FAULT_DROP_AFTER, "drop_after", "Dropped connection after applying (probability)"),
    (keys.ST_FAULT_LATENCY, "latency", "Extra latency per request (seconds)"),
)


def _fault_controls(url: str, faults: dict[str, Any]) -> None:
    active = {k: v for k, v in faults.items() if v and k in {f[1] for f in FAULT_INPUTS}}
    # Open while faults are active or after an action here: the message an action leaves
    # above the section would otherwise make Streamlit draw it anew, closed.
    opened = bool(active) or bool(st.session_state.get(keys.ST_FAULT_OPEN))
    with st.expander("Fault injection (training)", expanded=opened, key=keys.ST_FAULT_SECTION):
        st.caption("Active: " + (", ".join(f"{k}={v}" for k, v in active.items()) or "none"))
        grid = st.columns(2)
        for i, (key, name, label) in enumerate(FAULT_INPUTS):
            upper = 1.0 if name != "latency" else 30.0
            grid[i % 2].number_input(label, min_value=0.0, max_value=upper, step=0.05,
                                     value=float(faults.get(name, 0.0)), key=key)
        st.number_input("Refuse the next N requests with 429", min_value=0, max_value=1000,
                        value=int(faults.get("rate_limit_next", 0)), step=1,
                        key=keys.ST_FAULT_RATE_LIMIT_NEXT)
        left, right = st.columns(2)
        left.button("Apply faults", key=keys.ST_FAULT_APPLY,
                    on_click=lambda: _run(lambda: _apply_faults(url)))
        right.button("Clear all faults", key=keys.ST_FAULT_CLEAR,
                     on_click=lambda: _run(lambda: _clear_faults(url)))


def _apply_faults(url: str) -> str:
    st.session_state[keys.ST_FAULT_OPEN] = True
    changes: dict[str, Any] = {name: float(st.session_state[key]) for key, name, _ in FAULT_INPUTS}
    changes["rate_limit_next"] = int(st.session_state[keys.ST_FAULT_RATE_LIMIT_NEXT])
    sandbox_admin.set_faults(url, changes)
    shown = ", ".join(f"{k}={v:g}" for k, v in changes.items() if v) or "none"
    return f"Faults applied: {shown}."


def _clear_faults(url: str) -> str:
    st.session_state[keys.ST_FAULT_OPEN] = True
    sandbox_admin.clear_faults(url)
    for key, _, _ in FAULT_INPUTS:
        st.session_state.pop(key, None)
    st.session_state.pop(keys.ST_FAULT_RATE_LIMIT_NEXT, None)
    return "All faults cleared."
