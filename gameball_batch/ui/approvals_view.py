"""The Approvals screen: jobs waiting for a second person, their impact review, the decision.

Only approvers reach it (``access_view`` leaves it out of everyone else's navigation, and
:func:`render` checks again). Each waiting job shows why it needs approval, who submitted
it, its totals, the first item exactly as it will be sent and a page of its rows; the
approver approves (the job is queued for the runner) or rejects it with a reason. The
rules — no self-approval, nothing changed since the review — live in
``gameball_batch.approval_flow``; this module only draws and calls it.

This module must not send anything.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import pandas as pd
import streamlit as st

from gameball_batch import approval_flow, notify, schedule
from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch.access import Role
from gameball_batch.approvals import ApprovalRefused
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.ledger import Ledger
from gameball_batch.ui import access_view, frame, services
from gameball_batch.ui.common import why_disabled
from gameball_batch.ui.text import literal

log = logging.getLogger(__name__)

AP_APPROVE = "ap.approve."  # + job id: button
AP_REJECT = "ap.reject."  # + job id: button
AP_REASON = "ap.reason."  # + job id: text input, the rejection reason
AP_ROWS = "ap.rows."  # + job id: dataframe of the first rows
AP_FLASH = "ap.flash"  # (kind, message) shown once after a decision
ROWS_SHOWN = 50


def render() -> None:
    st.title("Approvals")
    settings = services.get_settings()
    who = frame.identity()
    if Role.APPROVER not in access_view.roles(settings, who):
        st.error("Only approvers can see this page. Ask an administrator to add you to "
                 "[roles] approvers.")
        return
    _flash()
    ledger = services.get_ledger()
    try:
        waiting = approval_flow.awaiting(ledger)
    except Exception:
        log.exception("reading jobs awaiting approval failed")
        st.error("The jobs awaiting approval could not be read; details are in the log.")
        return
    if not waiting:
        st.info("Nothing is waiting for approval.", icon=":material/task_alt:")
        return
    st.caption(f"{len(waiting)} job(s) wait for a second person. You are "
               f"**{literal(who.actor)}**.")
    for pending in waiting:
        _job_card(ledger, pending, who.actor)


def _flash() -> None:
    flash = st.session_state.pop(AP_FLASH, None)
    if flash:
        kind, message = flash
        (st.success if kind == "success" else st.error)(message)


def _job_card(ledger: Ledger, pending: approval_flow.PendingApproval, actor: str) -> None:
    job = pending.job
    title = BATCH_TYPES[job.batch_type].title if job.batch_type in BATCH_TYPES else job.batch_type
    with st.container(border=True):
        st.subheader(f"{literal(title)} · {literal(job.file_name)}")
        when = datetime.fromtimestamp(job.created_at).strftime("%Y-%m-%d %H:%M")
        st.caption(f"Job {literal(job.id)} · submitted by **{literal(job.actor)}** at {when}")
        st.text(_who_waits(pending))
        st.warning("Needs approval because: " + literal("; ".join(pending.reasons or (
            "(no reason recorded)",))))
        if not pending.intact:
            st.error("This job changed after it was submitted for approval (file, mapping, "
                     "rows, totals or payload), so it cannot be approved. Reject it and ask "
                     "for a new submission.")
        _impact(ledger, job)
        _decision(ledger, pending, actor)


def _who_waits(pending: approval_flow.PendingApproval) -> str:
    """Who is waiting, for how long, for what totals (and when it is meant to go out):
    the same facts the team signal carries. Literal text: names come from people."""
    job, now = pending.job, time.time()
    waited = notify.duration_text(now - (pending.requested_at or job.created_at))
    line = f"{job.actor or 'Someone'} has been waiting {waited} for this approval."
    totals = notify.totals_text(job.totals)
    if totals:
        line += f" Totals: {totals}."
    if job.scheduled_at is not None:
        zone = schedule.zone_name(services.get_settings().extra)
        line += f" Scheduled for {schedule.local_text(job.scheduled_at, zone)}"
        line += (": its time has passed, so it starts as soon as it is approved."
                 if job.scheduled_at <= now else "; approved before then, it waits for it.")
    return line


def _impact(ledger: Ledger, job: lg.Job) -> None:
    a, b, c = st.columns(3)
    a.metric("Rows", f"{job.row_count:,}")
    b.metric("Items", f"{job.item_count:,}")
    c.metric("Requests", f"{job.chunk_count:,}")
    totals = {k: v for k, v in job.totals.items() if k not in ("rows", "reading")}
    if job.totals.get("reading"):  # how the file was read: decimal mark, dates, header row
        st.text(f"Read with: {job.totals['reading']}")
    if totals:
        st.dataframe(pd.DataFrame({"total": list(totals), "value": list(totals.values())}),
                     hide_index=True)
    try:
        first = json.loads(ledger.payload(job.id, 0))["body"][0]
    except (KeyError, IndexError, ValueError):
        first = None
    if first is not None:
        st.markdown("**The first item, exactly as it will be sent:**")
        st.code(json.dumps(first, indent=2, ensure_ascii=False), language="json")
    rows = job_service.rows_frame(ledger, job.id, limit=ROWS_SHOWN)
    st.markdown(f"**The first {min(ROWS_SHOWN, job.row_count):,} rows as uploaded**")
    st.dataframe(rows.drop(columns=["status", "message", "chunk"], errors="ignore"),
                 key=AP_ROWS + job.id)


def _decision(ledger: Ledger, pending: approval_flow.PendingApproval, actor: str) -> None:
    job_id = pending.job.id
    problem = pending.may_approve(actor)
    left, right = st.columns(2)
    with left:
        left.button("Approve and send", key=AP_APPROVE + job_id, type="primary",
                    disabled=problem is not None, on_click=_approve, args=(ledger, job_id, actor))
        why_disabled(literal(problem) if problem else None)
    with right:
        reason = st.text_input("Reason for rejecting (the submitter reads it)",
                               key=AP_REASON + job_id)
        st.button("Reject", key=AP_REJECT + job_id, disabled=not reason.strip(),
                  on_click=_reject, args=(ledger, job_id, actor))
        why_disabled(None if reason.strip() else "Rejecting needs a reason: the submitter "
                     "reads it.")


def _approve(ledger: Ledger, job_id: str, actor: str) -> None:
    try:
        approval_flow.approve(ledger, job_id, actor)
    except ApprovalRefused as exc:
        st.session_state[AP_FLASH] = ("error", literal(exc))
        return
    job = ledger.job(job_id)
    if job is not None and job.state == lg.JOB_SCHEDULED and job.scheduled_at is not None:
        zone = schedule.zone_name(services.get_settings().extra)
        when = schedule.local_text(job.scheduled_at, zone)
        st.session_state[AP_FLASH] = ("success", f"Job {job_id} approved: it starts at its "
                                      f"scheduled time, {when}.")
        return
    st.session_state[AP_FLASH] = ("success", f"Job {job_id} approved: it is queued and the "
                                  "runner sends it now.")


def _reject(ledger: Ledger, job_id: str, actor: str) -> None:
    reason = str(st.session_state.get(AP_REASON + job_id, ""))
    try:
        approval_flow.reject(ledger, job_id, actor, reason)
    except ApprovalRefused as exc:
        st.session_state[AP_FLASH] = ("error", literal(exc))
        return
    st.session_state[AP_FLASH] = ("success", f"Job {job_id} rejected; nothing was sent.")
