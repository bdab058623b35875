"""Four-eyes approval over the ledger: submit (guarded), request, approve, reject, list.

A job whose impact crosses an approval rule (``approvals.approval_reasons``) is created in
the ``awaiting_approval`` state, which the runner never drives. The request is an audit
entry (``approval.requested``) holding the reasons and the *content digest* of exactly what
was reviewed: file fingerprint, mapping, row count, totals and the bytes of every chunk
that will be sent. Approving recomputes the digest from the stored job and its stored
payloads; any difference voids the approval, and so does approving one's own job. An
approved job goes to ``queued`` (the runner picks it up); a rejected one to ``rejected``
(settled, nothing sent: its chunks failed and its rows not_applied in the same
transaction). Every request, approval, refusal and rejection is audited.

:func:`submit` is the one way the console and the CLI create a job: it enforces the
duplicate guards (``guards.py``), applies the approval rules and records both.

This module must not import streamlit or send anything (the runner sends).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from gameball_batch import batch_types, guards, jobs, schedule
from gameball_batch import ledger as lg
from gameball_batch.approvals import (
    ApprovalRefused,
    ApprovalRules,
    approval_reasons,
    check_approval,
    content_digest,
)
from gameball_batch.ledger import Ledger

if TYPE_CHECKING:
    from gameball_batch.impact import Impact
    from gameball_batch.payloads import ChunkPlan

REQUESTED = "approval.requested"
APPROVED = "approval.approved"
REFUSED = "approval.refused"
REJECTED = "approval.rejected"
FILE_READ = "file.read"  # how a job's file was read (decimal mark, dates, header row, kinds)


def rules_from_settings(extra: Mapping[str, Any]) -> ApprovalRules:
    """The ``[approval]`` section as rules (ValueError with a message for a typo)."""
    raw = extra.get("approval")
    return ApprovalRules.from_mapping(raw if isinstance(raw, Mapping) else None)


# --- the digest ------------------------------------------------------------------------------


def _bound(digest: str, payload_sha: str) -> str:
    return hashlib.sha256(f"{digest}:{payload_sha}".encode()).hexdigest()


def _payload_sha(payloads: list[bytes]) -> str:
    h = hashlib.sha256()
    for payload in payloads:
        h.update(len(payload).to_bytes(8, "big"))
        h.update(payload)
    return h.hexdigest()


def reviewed_digest(
    *, fingerprint: str, mapping: Mapping[str, str], plan: ChunkPlan,
    totals: Mapping[str, float],
) -> str:
    """The digest of what the submitter reviewed (before the job is stored)."""
    base = content_digest(fingerprint=fingerprint, mapping=mapping, row_count=plan.row_count,
                          totals=totals)
    return _bound(base, _payload_sha([c.payload for c in plan.chunks]))


def stored_digest(ledger: Ledger, job: lg.Job) -> str:
    """The digest of the job as the ledger holds it now (and as the runner would send it)."""
    totals = {k: float(v) for k, v in job.totals.items() if isinstance(v, int | float)}
    base = content_digest(fingerprint=job.fingerprint, mapping=job.mapping,
                          row_count=job.row_count, totals=totals)
    payloads = [ledger.payload(job.id, c.index) for c in ledger.chunks(job.id)]
    return _bound(base, _payload_sha(payloads))


# --- submitting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    job_id: str
    state: str  # queued, scheduled, or awaiting_approval
    approval_reasons: tuple[str, ...] = ()
    override_reason: str | None = None
    scheduled_at: float | None = None  # send at this moment (UTC epoch); None: now

    @property
    def awaiting_approval(self) -> bool:
        return self.state == lg.JOB_AWAITING_APPROVAL


def submit(
    ledger: Ledger, plan: ChunkPlan, *, impact: Impact, frame: pd.DataFrame, file_name: str,
    fingerprint: str, mapping: Mapping[str, str], actor: str, rules: ApprovalRules,
    duplicates: guards.DuplicateReport, keys: pd.Series, override_reason: str | None = None,
    sheet: str | None = None, target: lg.Target | None = None,
    scheduled_at: float | None = None, audit: Sequence[tuple[str, dict[str, Any]]] = (),
    left_out: Mapping[int, str] | None = None, reading: str | None = None,
) -> Submission:
    """Create the job: refused while duplicates are not overridden; held for approval when a
    rule says so; otherwise queued for the runner (or, with ``scheduled_at``, scheduled:
    see schedule.py; a time in the past or too far ahead raises ScheduleError). ``audit``:
    further entries stored in the job's own transaction (an undo's link to its parent).
    ``left_out``: rows not sent because they were invalid, kept with the job (jobs.py)."""
    override = guards.require_override(duplicates, override_reason)
    if scheduled_at is not None:
        schedule.check(scheduled_at, ledger.now())
    reasons = tuple(approval_reasons(impact, rules))
    state = schedule.initial_state(scheduled_at, bool(reasons))
    totals = impact.totals()
    # The override and the approval request are stored in the job's own transaction: the
    # runner can never see a queued job whose override or row keys are missing.
    entries = [*(entry for entry in [guards.override_entry(duplicates, override)] if entry),
               *audit]
    if reading:  # in History: how the file was read (decimal mark, dates, header row, kinds)
        entries.append((FILE_READ, {"file": file_name, "reading": reading}))
    if reasons:
        digest = reviewed_digest(fingerprint=fingerprint, mapping=mapping, plan=plan,
                                 totals=totals)
        entries.append((REQUESTED, {"reasons": list(reasons), "digest": digest}))
    if scheduled_at is not None:
        entries.append((schedule.SET, {"scheduled_at": scheduled_at}))
    job_id = jobs.create_job(
        ledger, plan, frame=frame, file_name=file_name, fingerprint=fingerprint,
        mapping=mapping, actor=actor, sheet=sheet, state=state,
        # How the file was read (decimal mark, date order, header row, column kinds) rides
        # with the totals; the approval digest above covers only the numeric totals.
        totals={**totals, "reading": reading} if reading else totals,
        row_keys=guards.stored_keys(keys), audit=entries, target=target or lg.Target(),
        scheduled_at=scheduled_at, left_out=left_out,
    )
    return Submission(job_id, state, reasons, override, scheduled_at)


def retry(
    ledger: Ledger, job_id: str, actor: str, *, rules: ApprovalRules,
    target: lg.Target | None = None, confirmed: bool = False,
) -> Submission:
    """Retry a job's failed rows, once (``jobs.retry_failed``), the way its type needs.

    Types safe to resend (the server refuses a repeated id, or resending changes nothing)
    are queued at once. The others (adjustments, events) are reviewed like a new job: the
    caller shows :func:`retry_impact` and has the operator confirm (``confirmed``), and the
    approval rules apply to the retry's totals. It is never a one-click send.
    """
    parent = ledger.job(job_id)
    if parent is None:
        raise jobs.JobError(f"There is no job {job_id} in {ledger.where}.")
    bt = batch_types.get(parent.batch_type)
    if bt.resend_safe:
        return Submission(jobs.retry_failed(ledger, job_id, actor, target=target),
                          lg.JOB_QUEUED)
    if not confirmed:
        raise jobs.NeedsReview(
            f"{bt.title} are not safe to resend, so a retry is reviewed like a new job: "
            "check its impact, then confirm.")
    reasons = tuple(approval_reasons(retry_impact(ledger, job_id), rules))
    state = lg.JOB_AWAITING_APPROVAL if reasons else lg.JOB_QUEUED
    child = jobs.retry_failed(ledger, job_id, actor, target=target, state=state,
                              reviewed=True)
    if reasons:
        stored = ledger.job(child)
        assert stored is not None
        ledger.audit(actor, REQUESTED, child, {"reasons": list(reasons),
                                               "digest": stored_digest(ledger, stored)})
    return Submission(child, state, reasons)


def retry_impact(ledger: Ledger, job_id: str) -> Impact:
    """What a retry of ``job_id``'s failed rows would do, as a new job's review shows it."""
    from gameball_batch.impact import of_items

    job = ledger.job(job_id)
    if job is None:
        raise jobs.JobError(f"There is no job {job_id} in {ledger.where}.")
    return of_items(batch_types.get(job.batch_type), jobs.retry_items(ledger, job_id))


# --- deciding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingApproval:
    """A job waiting for a second person, with why and whether it is still as reviewed."""

    job: lg.Job
    reasons: tuple[str, ...]
    requested_digest: str | None
    requested_at: float | None
    current_digest: str

    @property
    def intact(self) -> bool:
        return self.requested_digest is not None and self.requested_digest == self.current_digest

    def may_approve(self, approver: str) -> str | None:
        """Why ``approver`` cannot approve this job; None when they can."""
        try:
            check_approval(submitter=self.job.actor, approver=approver,
                           approved_digest=self.requested_digest or "",
                           current_digest=self.current_digest)
        except ApprovalRefused as exc:
            return str(exc)
        return None


def _request(ledger: Ledger, job_id: str) -> lg.AuditEntry | None:
    entries = [e for e in ledger.audit_entries(job_id) if e.action == REQUESTED]
    return entries[-1] if entries else None


def pending_approval(ledger: Ledger, job_id: str) -> PendingApproval:
    """One job awaiting approval; ApprovalRefused when it is not waiting (any more)."""
    job = ledger.job(job_id)
    if job is None:
        raise ApprovalRefused(f"There is no job {job_id}.")
    if job.state != lg.JOB_AWAITING_APPROVAL:
        raise ApprovalRefused(f"Job {job_id} is {job.state.replace('_', ' ')}: only a job "
                              "awaiting approval can be approved or rejected.")
    request = _request(ledger, job_id)
    return PendingApproval(
        job=job,
        reasons=tuple(request.detail.get("reasons", ())) if request else (),
        requested_digest=str(request.detail.get("digest")) if request else None,
        requested_at=request.at if request else None,
        current_digest=stored_digest(ledger, job),
    )


def awaiting(ledger: Ledger, *, limit: int = 100) -> list[PendingApproval]:
    """Every job awaiting approval, oldest first (the longest wait at the top)."""
    waiting = ledger.jobs(states=(lg.JOB_AWAITING_APPROVAL,), limit=limit)
    return [pending_approval(ledger, j.id) for j in reversed(waiting)]


def approve(ledger: Ledger, job_id: str, approver: str) -> None:
    """Approve: the job goes to the queue (a scheduled one before its time: back to
    ``scheduled``, to wait for it). Refused (and audited) for one's own job or a job
    that changed since it was reviewed."""
    pending = pending_approval(ledger, job_id)
    problem = pending.may_approve(approver)
    if problem is None and pending.requested_digest is None:
        problem = "This job has no approval request on record, so it cannot be approved."
    if problem is not None:
        ledger.audit(approver, REFUSED, job_id, {"reason": problem,
                                                 "digest": pending.current_digest})
        raise ApprovalRefused(problem)
    detail = {"digest": pending.current_digest, "submitter": pending.job.actor}
    to = schedule.state_when_approved(pending.job, ledger.now())
    if not ledger.set_job_state(job_id, to, expect=(lg.JOB_AWAITING_APPROVAL,),
                                actor=approver, detail=detail):
        raise ApprovalRefused("Someone else decided on this job a moment ago; reload the page.")
    ledger.audit(approver, APPROVED, job_id, detail)


def reject(ledger: Ledger, job_id: str, approver: str, reason: str) -> None:
    """Reject with a reason: the job is settled as rejected and nothing is sent."""
    if not reason.strip():
        raise ApprovalRefused("Give a reason for the rejection: the submitter will read it.")
    pending = pending_approval(ledger, job_id)
    detail = {"reason": reason.strip(), "submitter": pending.job.actor}
    verdict = f"Rejected by {approver}: {reason.strip()}"
    # Its rows and chunks are settled with the state, so totals and exports never show a
    # rejected job's rows as still pending.
    if not ledger.set_job_state(job_id, lg.JOB_REJECTED, expect=(lg.JOB_AWAITING_APPROVAL,),
                                error=verdict, actor=approver, detail=detail,
                                unsent=f"Not sent: {verdict[0].lower()}{verdict[1:]}"):
        raise ApprovalRefused("Someone else decided on this job a moment ago; reload the page.")
    ledger.audit(approver, REJECTED, job_id, detail)
