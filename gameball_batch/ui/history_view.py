"""The History page: the append-only audit trail, filterable and exportable.

``pages/history.py`` calls :func:`render`. The trail and its readable form (who in words,
details as "key: value" instead of raw JSON) come from ``jobs_model``; this module only
draws them. Actors, file names and reasons are shown in a table, so they stay literal
text. It only reads the ledger.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gameball_batch.ui import state as keys
from gameball_batch.ui.common import guard, ledger_or_stop, safe_bytes
from gameball_batch.ui.jobs_model import (
    ACTION_TEXT,
    AUDIT_LIMIT,
    date_range,
    filter_history,
    history_frame,
    readable_actor,
)

# Re-exported for tests that drive this page by its widget keys.
HI_JOB, HI_ACTIONS, HI_ACTORS = keys.HI_JOB, keys.HI_ACTIONS, keys.HI_ACTORS
HI_DATES, HI_EXPORT = keys.HI_DATES, keys.HI_EXPORT
SHOWN = ["at", "who", "what", "job_id", "detail"]


def render() -> None:
    """The audit trail: who did what, when; filterable and exportable."""
    st.title("History")
    st.caption("Every upload, submission, approval, stop, retry and resolution, with who "
               "did it and when. The trail is append-only.")
    ledger = ledger_or_stop()
    frame = pd.DataFrame()
    with guard("read the audit trail", stop=True):
        frame = history_frame(ledger)
    if frame.empty:
        st.info("Nothing has happened yet. Submitted jobs and every decision appear here.")
        return
    filtered = _filters(frame)
    st.dataframe(
        filtered[SHOWN],
        hide_index=True,
        width="stretch",
        column_config={
            "at": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "job_id": st.column_config.TextColumn("job"),
        },
    )
    st.caption(f"{len(filtered):,} of {len(frame):,} entries"
               + (f" (the newest {AUDIT_LIMIT:,})" if len(frame) >= AUDIT_LIMIT else ""))
    with guard("prepare the export"):
        st.download_button(
            "Export these entries (CSV)",
            data=safe_bytes(lambda: _csv(filtered), "the audit export"),
            file_name="gameball-batch-audit.csv",
            mime="text/csv",
            key=keys.HI_EXPORT,
            on_click="ignore",
            icon=":material/download:",
            disabled=filtered.empty,
        )


def _csv(frame: pd.DataFrame) -> bytes:
    from gameball_batch import exports

    out = frame.copy()
    out["at"] = out["at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return bytes(exports.to_csv_bytes(out))


def _filters(frame: pd.DataFrame) -> pd.DataFrame:
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    job = c1.text_input("Job id", key=keys.HI_JOB, placeholder="paste a job id or its start")
    actions = c2.multiselect("Action", sorted(frame["action"].unique()), key=keys.HI_ACTIONS,
                             format_func=lambda a: ACTION_TEXT.get(a, a))
    actors = c3.multiselect("Who", sorted(frame["actor"].unique()), key=keys.HI_ACTORS,
                            format_func=readable_actor)
    first = frame["at"].min().date()
    last = frame["at"].max().date()
    dates = c4.date_input("Dates (UTC)", value=(first, last), key=keys.HI_DATES)
    since, until = date_range(dates)
    return filter_history(frame, job=str(job), actions=actions, actors=actors,
                          since=since, until=until)
