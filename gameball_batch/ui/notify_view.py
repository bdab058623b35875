"""The Settings page's "Team signals" panel: the webhooks, their last delivery, a test.

Each hook is named by its ``name`` and host only: a webhook URL is a credential (whoever
has a Slack incoming-webhook URL can post to the channel), so it is never shown. The
deliveries themselves run in the notifier thread (``gameball_batch.notify``); this panel
reads their audit entries and can send one test message (operators only), which is
audited like any delivery. Names and results are shown as literal text.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import streamlit as st

from gameball_batch import notify
from gameball_batch.access import Role
from gameball_batch.ledger import AuditEntry
from gameball_batch.ui import access_view, frame, services

log = logging.getLogger(__name__)

NT_HOOK = "nt.hook"  # selectbox: which hook gets the test message
NT_TEST = "nt.test"  # button
NT_FLASH = "nt.flash"  # (ok, message) of the last test


def render() -> None:
    """Draw the panel (one call from the Settings page)."""
    st.header("Team signals")
    settings = services.get_settings()
    try:
        config = notify.settings_from(settings.extra)
    except notify.NotifyConfigError as exc:
        st.error(f"Team signals are off: {exc}")
        return
    if not config.hooks:
        st.caption("No webhooks are set up. Add a [[notify.hooks]] table to "
                   ".streamlit/secrets.toml (see the README: a Slack incoming webhook takes "
                   "three lines) to tell a chat channel when a job needs someone.")
        return
    last = _last_attempts()
    table = pd.DataFrame([{
        "hook": hook.name,
        "host": hook.host,
        "events": ", ".join(sorted(hook.events)),
        "last delivery": _when(last[hook.name].at) if hook.name in last else "none yet",
        "event": str(last[hook.name].detail.get("event", "")) if hook.name in last else "",
        "result": (f"{last[hook.name].detail.get('outcome', '')} "
                   f"({last[hook.name].detail.get('result', '')})") if hook.name in last else "",
    } for hook in config.hooks])
    st.dataframe(table, hide_index=True)
    if not _may_test():
        return
    names = [hook.name for hook in config.hooks]
    choice = st.selectbox("Send a test message to", names, key=NT_HOOK)
    if st.button("Send a test message", key=NT_TEST):
        hook = next(h for h in config.hooks if h.name == choice)
        with st.spinner(f"Posting to {hook.host}…"):
            ok, what = notify.send_test(services.get_ledger(), hook, config,
                                        frame.identity().actor)
        st.session_state[NT_FLASH] = (ok, f"{'Delivered' if ok else 'Not delivered'} to "
                                          f"'{hook.name}' ({what}).")
    flash = st.session_state.get(NT_FLASH)
    if flash:
        (st.success if flash[0] else st.error)(flash[1])


def _last_attempts() -> dict[str, AuditEntry]:
    try:
        return notify.last_attempts(services.get_ledger())
    except Exception:
        log.exception("reading the deliveries failed")
        return {}


def _may_test() -> bool:
    try:
        return access_view.holds(Role.OPERATOR)
    except Exception:
        return False


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
