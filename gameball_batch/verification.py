"""Verification services for the CLI and the console: gather evidence, accept verdicts,
decide in bulk, reconcile a job with Gameball, and undo an adjustments job.

- :func:`gather` asks Gameball (Order Transactions, Balance Inquiries, through the client's
  ``lookups``) about the rows in doubt, or every row, has ``verify.py`` decide a verdict per
  row, and records verdicts and evidence in the ledger.
- :func:`accept` settles the recorded *applied* and *absent* verdicts of rows still in doubt
  in one audited action with one reason. Applied rows become applied; absent rows of types
  safe to resend are resent (their chunk goes back to pending when the whole chunk is
  absent) or, when only part of a chunk is, become not applied (retryable); absent
  adjustments become not applied, i.e. retryable through a reviewed retry. Unclear rows stay
  in doubt. Every move goes through the ledger's transition table with cause ``evidence``.
- :func:`decide_chunks`: one operator decision (resend / applied / not applied) for several
  chunks at once, one reason (``jobs.resolve_chunk`` per chunk).
- :func:`report_frame` / :func:`report_bytes`: every row beside Gameball's evidence,
  mismatches first, for a formula-safe CSV or XLSX (``exports.py``).
- :func:`undo`: a new adjustments job reversing exactly the applied rows, through the same
  duplicate guards and approval rules as any job (``approval_flow.submit``), linked to its
  parent; once per job, never an undo of an undo.

This module must not import streamlit or hold keys: callers hand it a client.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gameball_batch import batch_types, jobs
from gameball_batch import ledger as lg
from gameball_batch import verify as vf
from gameball_batch.client import lookups
from gameball_batch.client.errors import GameballError
from gameball_batch.exports import to_csv_bytes, to_xlsx_bytes
from gameball_batch.ledger import Ledger
from gameball_batch.ledger import evidence as ev
from gameball_batch.ledger import transitions as tr

ACCEPTED = "verify.accepted"  # audit action of an accepted set of verdicts
VERIFIED = "verify.gathered"  # audit action of a verification run
DECIDED = "verify.bulk_decision"
UNDO_REASON = "Undo of job {job}: {reason}"
UNDOABLE = ("adjustments", "cashback")


class VerifyError(jobs.JobError):
    """A verification action that cannot be done; the message says why."""


# --- gathering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The verdicts of one run, their counts, and notes for the operator."""

    job_id: str
    batch_type: str
    verdicts: tuple[vf.Verdict, ...]
    notes: tuple[str, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return vf.counts(self.verdicts)

    @property
    def settleable(self) -> int:
        """How many verdicts an operator can accept (applied or absent)."""
        return sum(v.verdict in (vf.APPLIED, vf.ABSENT) for v in self.verdicts)

    def as_json(self, *, rows: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.job_id, **self.counts}
        if rows:
            out["rows"] = [v.as_dict() for v in self.verdicts]
        return out


def _job(ledger: Ledger, job_id: str) -> lg.Job:
    job = ledger.job(job_id)
    if job is None:
        raise VerifyError(f"There is no job {job_id} in {ledger.where}.")
    return job


def row_facts(ledger: Ledger, job: lg.Job, rows: Sequence[lg.Row]) -> list[vf.RowFacts]:
    """Each row with the API item that carried it (from the chunk's stored payload)."""
    bt = batch_types.get(job.batch_type)
    items: dict[int, dict[str, Mapping[str, Any]]] = {}
    out = []
    for r in rows:
        if r.chunk_idx not in items:
            body = json.loads(ledger.payload(job.id, r.chunk_idx)).get("body") or []
            items[r.chunk_idx] = {str(i.get(bt.result_key, "")): i for i in body
                                  if isinstance(i, dict)}
        item = items[r.chunk_idx].get(r.key, {})
        out.append(vf.RowFacts(r.row, r.key, str(item.get("customerId", "")), item, r.status,
                               r.chunk_idx))
    return out


def gather(ledger: Ledger, client: Any, job_id: str, *, all_rows: bool = False,
           actor: str = "verify", polling: lookups.Polling | None = None,
           target: lg.Target | None = None) -> Verification:
    """Evidence and a verdict for each row in doubt (or every row), recorded in the ledger.

    ``target``: the Gameball ``client`` talks to; a job sent elsewhere is refused, since
    another account's records say nothing about it.
    """
    job = _job(ledger, job_id)
    if target is not None and job.target.known and not job.target.same_as(target):
        raise VerifyError(f"Job {job_id[:8]} was sent to {job.target.label}; this connection "
                          f"asks {target.label}, whose records say nothing about it.")
    rows = ledger.rows(job_id, statuses=None if all_rows else (lg.ROW_UNKNOWN,), cells=False)
    facts = row_facts(ledger, job, rows)
    slug = job.batch_type
    notes: list[str] = []
    if slug in vf.ORDER_LOOKUP_TYPES:
        verdicts = _by_order_transactions(client, slug, facts, notes, polling)
    elif slug in vf.BALANCE_TYPES:
        verdicts = _by_balances(ledger, client, job, facts, notes, polling)
    elif slug in vf.RESEND_SAFE_NO_EVIDENCE:
        verdicts = [vf.no_evidence_needed(slug, f) for f in facts]
    else:
        verdicts = [vf.events_unclear(f) for f in facts]
    ev.save_verdicts(ledger, job_id, ((v.row, v.verdict, {**v.evidence, "customer": v.customer})
                                      for v in verdicts))
    result = Verification(job_id, slug, tuple(verdicts), tuple(notes))
    ledger.audit(actor, VERIFIED, job_id, {"all_rows": all_rows, **result.counts,
                                           "notes": list(notes)})
    return result


def _by_order_transactions(client: Any, slug: str, facts: Sequence[vf.RowFacts],
                           notes: list[str], polling: lookups.Polling | None,
                           ) -> list[vf.Verdict]:
    if not facts:
        return []
    try:
        found = lookups.order_transactions(client, [f.key for f in facts], polling)
    except GameballError as exc:
        notes.append(f"Order Transactions failed: {exc}")
        evidence: dict[str, vf.OrderEvidence] = {}
    else:
        evidence = vf.order_evidence_of(found.successful, found.failed)
    return [vf.order_verdict(slug, f, evidence.get(f.key)) for f in facts]


def _by_balances(ledger: Ledger, client: Any, job: lg.Job, facts: Sequence[vf.RowFacts],
                 notes: list[str], polling: lookups.Polling | None) -> list[vf.Verdict]:
    if not facts:
        return []
    snaps = ev.snapshots(ledger, job.id)
    learners = _factor_rows(ledger, job, snaps, {f.row for f in facts})
    customers = [f.customer for f in facts] + [f.customer for f in learners]
    try:
        now = lookups.balances(client, customers, polling)
    except GameballError as exc:
        notes.append(f"Balance Inquiries failed: {exc}")
        now = lookups.Balances(failed=dict.fromkeys(customers, f"the look-up failed: {exc}"))
    after = {c: vf.balance_of(item) for c, item in now.items.items()}
    earned = {c: vf.earned_of(item) for c, item in now.items.items()}
    pairs = []
    for f in learners:
        snap, now_points = snaps.get((f.chunk, f.customer)), after.get(f.customer)
        if snap is not None and snap.points is not None and now_points is not None:
            pairs.append((float(f.item.get("amount", 0) or 0), now_points - snap.points))
    factor = vf.learn_factor(pairs)
    notes.append(factor.note)
    # An adjustment's key is its customer.
    repeated = Counter(r.key for r in ledger.rows(job.id, cells=False))
    others = _other_adjustments(ledger, job)
    out = []
    for f in facts:
        snap = snaps.get((f.chunk, f.customer))
        moved = _moved_by(f.customer, repeated[f.customer], others,
                          snap.at if snap is not None else None)
        balance = vf.BalanceEvidence(
            before=snap.points if snap is not None else None,
            after=after.get(f.customer),
            snapshot_error=(snap.error if snap is not None else
                            "the chunk was sent without a balance snapshot"),
            after_error=now.failed.get(f.customer), moved_by=moved,
            earned_before=snap.earned if snap is not None else None,
            earned_after=earned.get(f.customer))
        out.append(vf.adjustment_verdict(f, balance, factor))
    return out


def _factor_rows(ledger: Ledger, job: lg.Job, snaps: Mapping[tuple[int, str], ev.Snapshot],
                 exclude: Collection[int], limit: int = 200) -> list[vf.RowFacts]:
    """Rows of the job Gameball reported applied (never in doubt), with a snapshot: the
    ones a factor between amount and points may be learnt from."""
    known = [r for r in ledger.rows(job.id, statuses=(lg.ROW_APPLIED,), doubted=False,
                                                 cells=False)
             if r.row not in exclude and (r.chunk_idx, r.key) in snaps][:limit]
    return row_facts(ledger, job, known)


def _other_adjustments(ledger: Ledger, job: lg.Job) -> list[tuple[lg.Job, set[str]]]:
    """Other adjustments jobs of the same target, with their customers (they move the same
    balances: an undo, a concurrent job)."""
    out = []
    for other in ledger.jobs(batch_type="adjustments", limit=200):
        if other.id == job.id or (job.target.known and not other.target.same_as(job.target)):
            continue
        if other.state == lg.JOB_REJECTED:
            continue
        out.append((other, {r.key for r in ledger.rows(other.id, cells=False)}))
    return out


def _moved_by(customer: str, rows_in_job: int, others: Sequence[tuple[lg.Job, set[str]]],
              since: float | None) -> str | None:
    if rows_in_job > 1:
        return f"this customer has {rows_in_job} rows in this job"
    for other, customers in others:
        if customer in customers and (since is None or other.updated_at >= since):
            return f"job {other.id[:8]} also adjusts this customer"
    return None


def recorded(ledger: Ledger, job_id: str) -> Verification:
    """The verdicts recorded by the latest verification runs of a job."""
    job = _job(ledger, job_id)
    found = ev.verdicts(ledger, job_id)
    rows = {r.row: r for r in ledger.rows(job_id, cells=False)}
    verdicts = tuple(
        vf.Verdict(row, str(evidence.pop("customer", "")), rows[row].key if row in rows else "",
                   verdict, evidence)
        for row, (verdict, evidence, _at) in sorted(found.items()))
    return Verification(job_id, job.batch_type, verdicts)


# --- accepting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """What accepting the verdicts did."""

    applied: int = 0
    not_applied: int = 0
    resent_chunks: tuple[int, ...] = ()
    left_unclear: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def settled(self) -> int:
        return self.applied + self.not_applied


def accept(ledger: Ledger, job_id: str, *, actor: str, reason: str) -> Accepted:
    """Settle every recorded applied/absent verdict of rows still in doubt (see module doc)."""
    if not reason.strip():
        raise VerifyError("Give a reason: it goes into the audit log with the verdicts.")
    job = _job(ledger, job_id)
    bt = batch_types.get(job.batch_type)
    found = ev.verdicts(ledger, job_id)
    doubt = {r.row: r for r in ledger.rows(job_id, statuses=(lg.ROW_UNKNOWN,), cells=False)}
    if not doubt:
        raise VerifyError(f"Job {job_id[:8]} has no rows in doubt.")
    applied = {row for row in doubt if found.get(row, ("",))[0] == vf.APPLIED}
    absent = {row for row in doubt if found.get(row, ("",))[0] == vf.ABSENT}
    if not applied and not absent:
        raise VerifyError("No row in doubt has an applied or absent verdict: run verify first, "
                          "or decide the chunks yourself.")
    detail = {"reason": reason.strip(), "applied": len(applied), "absent": len(absent)}
    resend = _whole_chunks_absent(ledger, job, bt, doubt, absent)
    settle: dict[int, tuple[str, str | None]] = {
        row: (lg.ROW_APPLIED, None) for row in applied}
    message = f"Verified absent at Gameball; accepted by {actor}: {reason.strip()}"
    settle.update({row: (lg.ROW_NOT_APPLIED, message) for row in absent
                   if doubt[row].chunk_idx not in resend})
    for index in resend:
        ledger.mark_pending(job_id, index, error=None, expect=(lg.CHUNK_UNKNOWN,), actor=actor,
                            detail={**detail, "decision": "resend (verified absent)"},
                            operator=True)
    ledger.settle_rows(job_id, settle, actor=actor, action=ACCEPTED,
                       detail={**detail, "resent_chunks": sorted(resend)}, cause=tr.EVIDENCE)
    _close_settled_chunks(ledger, job_id, actor)
    jobs.after_decision(ledger, job_id, actor)
    moved_not = sum(1 for s, _ in settle.values() if s == lg.ROW_NOT_APPLIED)
    return Accepted(applied=len(applied), not_applied=moved_not,
                    resent_chunks=tuple(sorted(resend)),
                    left_unclear=len(doubt) - len(applied) - len(absent))


def _whole_chunks_absent(ledger: Ledger, job: lg.Job, bt: batch_types.BatchType,
                         doubt: Mapping[int, lg.Row], absent: set[int]) -> set[int]:
    """Chunks to resend: resend-safe type, chunk unknown, every row in doubt verified absent,
    and a job that still sends."""
    if not bt.resend_safe or job.state in (lg.JOB_STOPPED, lg.JOB_STOPPING, lg.JOB_REJECTED):
        return set()
    by_chunk: dict[int, list[int]] = {}
    for row, r in doubt.items():
        by_chunk.setdefault(r.chunk_idx, []).append(row)
    out = set()
    for index, rows in by_chunk.items():
        chunk = ledger.chunk(job.id, index)
        if chunk is not None and chunk.state == lg.CHUNK_UNKNOWN and all(
                row in absent for row in rows) and len(rows) == len(
                ledger.rows(job.id, chunk_idx=index, cells=False)):
            out.add(index)
    return out


def _close_settled_chunks(ledger: Ledger, job_id: str, actor: str) -> None:
    """An unknown chunk whose rows are all settled now is closed, by evidence."""
    for chunk in ledger.chunks(job_id, states=(lg.CHUNK_UNKNOWN,)):
        statuses = {r.status for r in ledger.rows(job_id, chunk_idx=chunk.index, cells=False)}
        if lg.ROW_UNKNOWN in statuses or lg.ROW_PENDING in statuses:
            continue
        state = lg.CHUNK_DONE if lg.ROW_APPLIED in statuses else lg.CHUNK_FAILED
        ledger.finish_chunk(job_id, chunk.index, state=state, unlisted=None,
                            expect=(lg.CHUNK_UNKNOWN,), cause=tr.EVIDENCE, actor=None,
                            error=None if state == lg.CHUNK_DONE else
                            "Verified absent at Gameball.")


def decide_chunks(ledger: Ledger, job_id: str, chunks: Iterable[int], decision: str, *,
                  actor: str, reason: str) -> int:
    """One decision for several in-doubt chunks (rows with no evidence); how many decided."""
    if not reason.strip():
        raise VerifyError("Give a reason: it goes into the audit log with your decision.")
    chosen = sorted(set(chunks))
    if not chosen:
        raise VerifyError("Choose at least one chunk.")
    for index in chosen:
        jobs.resolve_chunk(ledger, job_id, index, decision, actor=actor, reason=reason)
    ledger.audit(actor, DECIDED, job_id, {"chunks": chosen, "decision": decision,
                                          "reason": reason.strip()})
    return len(chosen)


# --- reconciliation ------------------------------------------------------------------------

_AGREES = {(lg.ROW_APPLIED, vf.APPLIED), (lg.ROW_NOT_APPLIED, vf.ABSENT),
           (lg.ROW_FAILED, vf.ABSENT)}
_CONTRADICTS = {(lg.ROW_APPLIED, vf.ABSENT), (lg.ROW_NOT_APPLIED, vf.APPLIED),
                (lg.ROW_FAILED, vf.APPLIED)}
_ORDER = {"mismatch": 0, "in doubt": 1, "unclear": 2, "not verifiable": 3, "agrees": 4}


def agreement(status: str, verdict: str) -> str:
    """How our status and Gameball's evidence relate, for the report."""
    if (status, verdict) in _CONTRADICTS:
        return "mismatch"
    if verdict == vf.UNCLEAR:
        return "unclear"
    if verdict == vf.NOT_VERIFIABLE:
        return "not verifiable"
    if status == lg.ROW_UNKNOWN:
        return "in doubt"
    return "agrees" if (status, verdict) in _AGREES else "mismatch"


def report_frame(ledger: Ledger, verification: Verification) -> pd.DataFrame:
    """Every verified row: our status beside Gameball's evidence, mismatches first."""
    rows = {r.row: r for r in ledger.rows(verification.job_id, cells=False)}
    records = []
    for v in verification.verdicts:
        status = rows[v.row].status if v.row in rows else ""
        evidence = {k: val for k, val in v.evidence.items() if k != "note"}
        records.append({"row": v.row, "customer": v.customer, "key": v.key,
                        "our status": status, "gameball verdict": v.verdict,
                        "agreement": agreement(status, v.verdict), "note": v.note,
                        "evidence": json.dumps(evidence, ensure_ascii=False, default=str)})
    frame = pd.DataFrame(records, columns=["row", "customer", "key", "our status",
                                           "gameball verdict", "agreement", "note", "evidence"])
    if frame.empty:
        return frame
    order = frame["agreement"].map(_ORDER)
    return frame.assign(_o=order).sort_values(["_o", "row"]).drop(columns="_o") \
        .reset_index(drop=True)


def summary_lines(verification: Verification) -> list[str]:
    c = verification.counts
    return [f"verified applied {c[vf.APPLIED]:,}", f"verified absent {c[vf.ABSENT]:,}",
            f"unclear {c[vf.UNCLEAR]:,}", f"not verifiable {c[vf.NOT_VERIFIABLE]:,}"]


def report_bytes(ledger: Ledger, verification: Verification, fmt: str) -> bytes:
    """The reconciliation report as CSV or XLSX (every cell text, formula-safe)."""
    frame = report_frame(ledger, verification)
    if fmt == "csv":
        return to_csv_bytes(frame)
    if fmt == "xlsx":
        return to_xlsx_bytes(frame, sheet="reconciliation")
    raise VerifyError(f"Write the report as csv or xlsx, not '{fmt}'.")


# --- undo ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndoPlan:
    """What an undo of a job would reverse, and what it leaves out."""

    job_id: str
    items: tuple[tuple[int, dict[str, Any]], ...]  # (parent row, reversing item)
    left_in_doubt: int
    refused: str | None = None

    @property
    def possible(self) -> bool:
        return self.refused is None and bool(self.items)


def undo_plan(ledger: Ledger, job_id: str, reason: str = "") -> UndoPlan:
    """The reversing items of an undo of ``job_id``, or why it cannot be undone."""
    job = _job(ledger, job_id)
    in_doubt = ledger.row_counts(job_id)[lg.ROW_UNKNOWN]

    def refuse(why: str) -> UndoPlan:
        return UndoPlan(job_id, (), in_doubt, why)

    if ev.undo_parent(ledger, job_id) is not None:
        return refuse("This job is itself an undo; undoing an undo is refused. Submit a new "
                      "file if the balances need another change.")
    child = ev.undo_child(ledger, job_id)
    if child is not None:
        return refuse(f"This job was already undone by job {child[:8]}; a job is undone once.")
    if job.batch_type not in UNDOABLE:
        return refuse(f"Only adjustments (and cashback with verified points) can be undone; "
                      f"this job is {job.batch_type}.")
    if job.state not in lg.SETTLED_JOB_STATES:
        return refuse(f"This job is still {job.state.replace('_', ' ')}; undo it once it "
                      "has settled.")
    text = UNDO_REASON.format(job=job_id, reason=reason.strip())
    applied = ledger.rows(job_id, statuses=(lg.ROW_APPLIED,), cells=False)
    facts = row_facts(ledger, job, applied)
    if job.batch_type == "cashback":
        return _cashback_undo(ledger, job_id, facts, in_doubt, text)
    items = tuple((f.row, vf.reversal_item(f.item, text)) for f in facts)
    if not items:
        return refuse("No row of this job is applied: there is nothing to undo.")
    return UndoPlan(job_id, items, in_doubt)


def _cashback_undo(ledger: Ledger, job_id: str, facts: Sequence[vf.RowFacts], in_doubt: int,
                   text: str) -> UndoPlan:
    """Cashback is reversed by adjusting the points it awarded, known only from evidence."""
    found = ev.verdicts(ledger, job_id)
    points = {f.row: found[f.row][1].get("points") for f in facts if f.row in found}
    missing = [f.row for f in facts if not isinstance(points.get(f.row), int | float)]
    if missing or not facts:
        return UndoPlan(job_id, (), in_doubt, (
            f"Gameball has not reported the points awarded for {len(missing):,} applied "
            "row(s), so the undo cannot know what to deduct. Run verify with every row "
            "(verify JOB --all) first." if facts else
            "No row of this job is applied: there is nothing to undo."))
    items = tuple((f.row, vf.reversal_item(
        {"customerId": f.customer, "amount": points[f.row]}, text)) for f in facts)
    return UndoPlan(job_id, items, in_doubt)


def undo(ledger: Ledger, job_id: str, *, actor: str, reason: str, rules: Any,
         target: lg.Target | None = None, override_reason: str | None = None,
         days: int | None = None) -> Any:
    """Create the undo job (see :func:`undo_plan`) through the guards and approval rules;
    the :class:`approval_flow.Submission`."""
    from gameball_batch import approval_flow, guards, impact, payloads, validate

    if not reason.strip():
        raise VerifyError("Give a reason: it becomes the reason of every reversing row.")
    plan = undo_plan(ledger, job_id, reason)
    if plan.refused is not None:
        raise VerifyError(plan.refused)
    parent = _job(ledger, job_id)
    if target is not None and parent.target.known and not parent.target.same_as(target):
        raise VerifyError(f"Job {job_id[:8]} was sent to {parent.target.label}; this "
                          f"connection is {target.label}. A job is undone on its own target.")
    bt = batch_types.get("adjustments")
    frame = pd.DataFrame(
        {"customerId": [i["customerId"] for _, i in plan.items],
         "amount": [_amount_text(i["amount"]) for _, i in plan.items],
         "reason": [i["reason"] for _, i in plan.items]},
        index=pd.Index([row for row, _ in plan.items], name="row", dtype="int64"), dtype=object)
    mapping = {"customerId": "customerId", "amount": "amount", "reason": "reason"}
    fingerprint = hashlib.sha256(f"undo:{job_id}".encode()).hexdigest()
    result = validate.validate(bt, frame, columns=mapping, id_seed=fingerprint)
    if len(result.issues):
        first = result.issues.iloc[0]
        raise VerifyError(f"The undo rows do not validate (row {first['row']}: "
                          f"{first['message']}).")
    chunks = payloads.plan_chunks(result)
    keys = guards.business_keys(result, mapping)
    report = guards.check(ledger, batch_type=bt, fingerprint=fingerprint, keys=keys,
                          key_fields=guards.key_fields_for(bt, mapping),
                          target=target or (parent.target if parent.target.known else None),
                          days=guards.DEFAULT_DAYS if days is None else days)
    try:
        return approval_flow.submit(
            ledger, chunks, impact=impact.assess(result), frame=frame,
            file_name=f"undo-of-{job_id[:8]}.csv", fingerprint=fingerprint, mapping=mapping,
            actor=actor, rules=rules, duplicates=report, keys=keys,
            override_reason=override_reason,
            target=parent.target if parent.target.known else target,
            audit=[(ev.UNDO_ACTION, {"parent_job_id": job_id, "reason": reason.strip(),
                                     "rows": len(plan.items),
                                     "left_in_doubt": plan.left_in_doubt})])
    except Exception as exc:
        if ev.is_undo_conflict(exc):
            raise VerifyError(f"Job {job_id[:8]} was already undone a moment ago; a job is "
                              "undone once.") from None
        raise


def _amount_text(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
