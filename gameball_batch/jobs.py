"""Job services shared by the CLI and the console: create, summarise, control, retry, export.

Every operator action on a job goes through here, so the CLI and the console behave the
same and every decision lands in the audit log with who made it and why. Callers never
write SQL; they get plain dataclasses and pandas frames.

This module must not send anything (the runner does), import streamlit, or hold keys.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch import batch_types
from gameball_batch import ledger as lg
from gameball_batch.batch_types import MAX_ITEMS_PER_REQUEST, BatchType
from gameball_batch.exports import to_csv_bytes, to_xlsx_bytes
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow, NewRows
from gameball_batch.ledger import rowsets as lg_rowsets

if TYPE_CHECKING:
    from gameball_batch.payloads import ChunkPlan

DECISIONS = ("resend", "applied", "not_applied")
ERROR_COLUMN = "error"
ROW_COLUMN = "source row"
RETRYABLE = (lg.ROW_FAILED, lg.ROW_NOT_APPLIED)


class JobError(ValueError):
    """An operator action that cannot be done; ``str(e)`` says why, for the operator."""


class RetryExists(JobError):
    """The job's failed rows were already retried; ``child_id`` is that retry."""

    def __init__(self, parent_id: str, child_id: str) -> None:
        super().__init__(f"Job {parent_id[:8]}'s failed rows were already retried as job "
                         f"{child_id[:8]}; open that job instead. A job is retried once.")
        self.parent_id = parent_id
        self.child_id = child_id


# --- creating ------------------------------------------------------------------------------


def create_job(
    ledger: Ledger,
    plan: ChunkPlan,
    *,
    frame: pd.DataFrame,
    file_name: str,
    fingerprint: str,
    mapping: Mapping[str, str],
    actor: str,
    sheet: str | None = None,
    totals: Mapping[str, Any] | None = None,
    state: str = lg.JOB_QUEUED,
    row_keys: lg.KeyColumns | Iterable[tuple[int, str]] = (),
    audit: Sequence[tuple[str, dict[str, Any]]] = (),
    target: lg.Target = lg.Target(),  # noqa: B008 - immutable
    retry_of: str | None = None,
    scheduled_at: float | None = None,
    left_out: Mapping[int, str] | None = None,
) -> str:
    """Store a planned job (payload bytes, rows with their original cells); its new id.

    ``frame`` is the file as read (all text, index = source row numbers); the cells of each
    planned row are kept so failed rows can be exported exactly as the operator sent them.
    ``row_keys`` and ``audit`` are stored with it (see :meth:`Ledger.create_job`).
    ``left_out``: source row → why, for rows of ``frame`` the operator chose not to send
    (invalid at validation): they are kept as "not sent" with their cells, so the job's
    results and failed-rows download hold the whole file (:func:`left_out_reasons`).
    """
    columns = tuple(str(c) for c in frame.columns)
    job_id = str(uuid.uuid4())
    job = NewJob(
        id=job_id, batch_type=plan.batch_type.slug, file_name=file_name,
        fingerprint=fingerprint, sheet=sheet, mapping=dict(mapping), columns=columns,
        row_count=plan.row_count, item_count=plan.item_count, totals=dict(totals or {}),
        actor=actor, id_seed=fingerprint, state=state, target=target, retry_of=retry_of,
        scheduled_at=scheduled_at,
    )
    chunks = [NewChunk(c.index, c.payload, c.size) for c in plan.chunks]
    planned, chunk_of, keys = plan.row_columns()
    outside = sorted((left_out or {}).items())
    kept = np.sort(np.concatenate([planned, np.asarray([r for r, _ in outside], dtype=np.int64)]))
    rows = NewRows(planned, chunk_of, keys, _cells(frame, kept), outside)
    ledger.create_job(job, chunks, rows, row_keys=row_keys, audit=audit)
    return job_id


def _cells(frame: pd.DataFrame, rows: np.ndarray) -> Any:
    """The cells of ``rows`` (ascending) column-wise, as the ledger keeps them: text, a
    missing cell as ``""``; a row not in ``frame`` has every cell empty."""
    index = frame.index
    if index.is_unique:
        where = index.get_indexer(pd.Index(rows))
    else:  # the first row of each number, as before
        first = ~index.duplicated(keep="first")
        inner = index[first].get_indexer(pd.Index(rows))
        where = np.where(inner >= 0, np.flatnonzero(first)[np.maximum(inner, 0)], -1)
    take = pa.array(where, mask=where < 0)
    columns = []
    for position in range(len(frame.columns)):
        series = frame.iloc[:, position]
        try:
            text = pa.array(series, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # not text: the cell as it prints
            text = pa.array(series.astype(object).where(series.notna(), "").map(str),
                            type=pa.string())
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        columns.append(pc.fill_null(text.take(take), ""))
    return lg_rowsets.cells_table(rows, columns)


LEFT_OUT = "Not sent: invalid at validation"


def left_out_reasons(issues: pd.DataFrame, sent: Collection[int],
                     rows: Iterable[int]) -> dict[int, str]:
    """Why each row of ``rows`` not in ``sent`` was left out: its validation messages.

    ``issues`` is validation's issue table (``row``, ``message`` …).
    """
    sent_rows = set(sent)
    wanted = [int(r) for r in rows if int(r) not in sent_rows]
    messages: dict[int, list[str]] = {}
    if len(issues) and wanted:
        chosen = issues[issues["row"].isin(wanted)]
        for row, message in zip(chosen["row"].tolist(), chosen["message"].tolist(),
                                strict=True):
            messages.setdefault(int(row), []).append(str(message))
    return {row: f"{LEFT_OUT}: " + "; ".join(messages.get(row, ["no valid values"])[:5])
            for row in wanted}


def fix_entries(original: pd.DataFrame, fixes: Mapping[int, Mapping[str, str]],
                *, limit: int = 500) -> list[dict[str, Any]]:
    """Every inline fix as row, column, before and after (for the audit trail)."""
    out: list[dict[str, Any]] = []
    for row, cells in sorted(fixes.items()):
        for column, after in sorted(cells.items()):
            before: Any = original.at[row, column] if (row in original.index
                                                       and column in original.columns) else ""
            out.append({"row": int(row), "column": str(column),
                        "before": "" if before is None or before != before else str(before),
                        "after": str(after)})
            if len(out) >= limit:
                return out
    return out


def earlier_jobs(ledger: Ledger, fingerprint: str, slug: str) -> list[lg.Job]:
    """Jobs that already sent this exact file as this type (the resend guard, DESIGN.md §5)."""
    return ledger.jobs(fingerprint=fingerprint, batch_type=slug)


UPLOADED = "file.uploaded"  # audit action: a file was read successfully (no job yet)


def record_upload(
    ledger: Ledger, *, actor: str, file_name: str, file_format: str, rows: int,
    fingerprint: str, sheet: str | None = None,
) -> None:
    """Audit that ``actor`` uploaded a readable file: what it was, never its contents."""
    detail: dict[str, Any] = {"file": file_name, "format": file_format, "rows": rows,
                              "fingerprint": fingerprint}
    if sheet:
        detail["sheet"] = sheet
    ledger.audit(actor, UPLOADED, None, detail)


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSummary:
    """What a list or a status line shows about one job."""

    id: str
    batch_type: str
    title: str
    file_name: str
    state: str
    actor: str
    created_at: float
    updated_at: float
    row_count: int
    item_count: int
    chunk_count: int
    rows: dict[str, int]
    chunks: dict[str, int]
    totals: dict[str, Any] = field(default_factory=dict)
    parent_job_id: str | None = None
    error: str | None = None
    lease_owner: str | None = None
    target_kind: str = ""  # "sandbox" | "production" ("" for jobs from before targets)
    target_label: str = ""  # "sandbox" or "production · api.gameball.co · key 1a2b3c"
    abort: bool = False  # a stop that also asked Gameball to stop its jobs
    retry_child: str | None = None  # the job that retried this one's failed rows
    scheduled_at: float | None = None  # UTC epoch a scheduled job starts at
    left_out: int = 0  # rows of the file not sent: invalid at validation

    @property
    def done_rows(self) -> int:
        return self.row_count - self.rows.get(lg.ROW_PENDING, 0)

    @property
    def progress(self) -> float:
        return self.done_rows / self.row_count if self.row_count else 1.0

    @property
    def settled(self) -> bool:
        return self.state in lg.SETTLED_JOB_STATES

    @property
    def all_applied(self) -> bool:
        return self.state == lg.JOB_FINISHED and self.rows.get(lg.ROW_APPLIED, 0) == self.row_count

    @property
    def in_doubt(self) -> int:
        return self.rows.get(lg.ROW_UNKNOWN, 0)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(progress=round(self.progress, 4), all_applied=self.all_applied)
        return out


def _job_or_error(ledger: Ledger, job_id: str) -> lg.Job:
    job = ledger.job(job_id)
    if job is None:
        raise JobError(f"There is no job {job_id} in {ledger.where}.")
    return job


def summary(ledger: Ledger, job_id: str) -> JobSummary:
    job = _job_or_error(ledger, job_id)
    bt = batch_types.BATCH_TYPES.get(job.batch_type)
    return JobSummary(
        id=job.id, batch_type=job.batch_type, title=bt.title if bt else job.batch_type,
        file_name=job.file_name, state=job.state, actor=job.actor, created_at=job.created_at,
        updated_at=job.updated_at, row_count=job.row_count, item_count=job.item_count,
        chunk_count=job.chunk_count, rows=ledger.row_counts(job.id),
        chunks=ledger.chunk_counts(job.id), totals=job.totals, parent_job_id=job.parent_job_id,
        error=job.error, lease_owner=job.lease_owner, target_kind=job.target.kind,
        target_label=job.target.label, abort=job.abort,
        retry_child=child.id if (child := ledger.retry_child(job.id)) is not None else None,
        scheduled_at=job.scheduled_at, left_out=ledger.left_out_count(job.id),
    )


def list_jobs(
    ledger: Ledger, *, limit: int = 100, states: Collection[str] | None = None
) -> list[JobSummary]:
    """Newest first."""
    return [summary(ledger, j.id) for j in ledger.jobs(states=states, limit=limit)]


SHORT_ID_MIN = 6  # the console shows ids cut to 8 characters; any unique 6+ prefix works


def resolve_job_id(ledger: Ledger, text: str) -> str:
    """The full id of the job ``text`` names: the id itself or a unique prefix of 6+ chars.

    Raises :class:`JobError` with the candidates listed when the prefix is ambiguous, and
    with a plain message when nothing matches or the prefix is too short.
    """
    wanted = text.strip()
    if not wanted:
        raise JobError("Give a job id (the console shows its first 8 characters).")
    if ledger.job(wanted) is not None:
        return wanted
    if len(wanted) < SHORT_ID_MIN:
        raise JobError(f"There is no job {wanted} in {ledger.where}; a short id needs at "
                       f"least {SHORT_ID_MIN} characters.")
    matches = [j for j in ledger.jobs(limit=1_000_000) if j.id.startswith(wanted)]
    if not matches:
        raise JobError(f"There is no job {wanted} in {ledger.where}.")
    if len(matches) > 1:
        listed = "; ".join(f"{j.id} ({j.file_name or 'no file'})" for j in matches[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise JobError(f"{wanted} matches {len(matches)} jobs: {listed}{more}. "
                       "Give more of the id.")
    return matches[0].id


def row_counts(ledger: Ledger, job_id: str) -> dict[str, int]:
    _job_or_error(ledger, job_id)
    return ledger.row_counts(job_id)


def rows_frame(
    ledger: Ledger, job_id: str, *, statuses: Collection[str] | None = None,
    limit: int | None = None, offset: int = 0, with_cells: bool = True,
) -> pd.DataFrame:
    """Rows with their status and message (and original cells), index = source row."""
    job = _job_or_error(ledger, job_id)
    rows = ledger.rows(job_id, statuses=statuses, limit=limit, offset=offset)
    frame = pd.DataFrame(
        {"status": [r.status for r in rows], "message": [r.message or "" for r in rows],
         "key": [r.key for r in rows], "chunk": [r.chunk_idx for r in rows]},
        index=pd.Index([r.row for r in rows], name="row", dtype="int64"),
    )
    if with_cells and job.columns:
        # A file column named like one of ours ("status", …) is kept as "status (file)".
        names = [f"{c} (file)" if c in frame.columns else c for c in job.columns]
        cells = pd.DataFrame([list(r.cells) for r in rows], columns=names,
                             index=frame.index, dtype=object)
        frame = pd.concat([frame, cells], axis=1)
    return frame


def failed_rows_frame(ledger: Ledger, job_id: str) -> pd.DataFrame:
    """Failed and not-applied rows as the operator sent them, plus why: fix and re-import.

    Columns: "source row", every original column in its order, "error". Rows in doubt are
    left out on purpose: they may have been applied, and re-sending them could apply twice.
    """
    job = _job_or_error(ledger, job_id)
    rows = ledger.rows(job_id, statuses=RETRYABLE)
    error_col = ERROR_COLUMN if ERROR_COLUMN not in job.columns else "gameball error"
    row_col = ROW_COLUMN if ROW_COLUMN not in job.columns else "gameball source row"
    data: dict[str, list[Any]] = {row_col: [r.row for r in rows]}
    for i, column in enumerate(job.columns):
        data[column] = [r.cells[i] if i < len(r.cells) else "" for r in rows]
    data[error_col] = [r.message or r.status for r in rows]
    frame = pd.DataFrame(data, dtype=object)
    frame[row_col] = frame[row_col].astype("int64")
    return frame


def export_failed(ledger: Ledger, job_id: str, path: Path) -> int:
    """Write the failed rows to ``path`` (.csv or .xlsx); how many rows were written."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise JobError(f"Export to .csv or .xlsx, not '{path.suffix or path.name}'.")
    frame = failed_rows_frame(ledger, job_id)
    data = to_csv_bytes(frame) if suffix == ".csv" else to_xlsx_bytes(frame)
    path.write_bytes(data)
    return len(frame)


@dataclass(frozen=True)
class InDoubtChunk:
    """A chunk whose rows may or may not have been applied: an operator decides."""

    index: int
    state: str  # "unknown" (the send's fate) or done/failed with unreported rows
    rows: tuple[int, ...]
    error: str | None
    decisions: tuple[str, ...]


def in_doubt(ledger: Ledger, job_id: str) -> list[InDoubtChunk]:
    """Every chunk with rows in doubt, and which decisions the operator may take."""
    _job_or_error(ledger, job_id)
    by_chunk: dict[int, list[int]] = {}
    for r in ledger.rows(job_id, statuses=(lg.ROW_UNKNOWN,), cells=False):
        by_chunk.setdefault(r.chunk_idx, []).append(r.row)
    out = []
    for index, rows in sorted(by_chunk.items()):
        chunk = ledger.chunk(job_id, index)
        if chunk is None or chunk.state in (lg.CHUNK_PENDING, lg.CHUNK_SENDING):
            continue
        decisions = DECISIONS if chunk.state == lg.CHUNK_UNKNOWN else DECISIONS[1:]
        out.append(InDoubtChunk(index, chunk.state, tuple(rows), chunk.last_error, decisions))
    return out


def audit_trail(ledger: Ledger, job_id: str | None = None, *, limit: int = 1000) -> pd.DataFrame:
    entries = ledger.audit_entries(job_id, limit=limit)
    return pd.DataFrame(
        {"at": pd.to_datetime([e.at for e in entries], unit="s", utc=True),
         "actor": [e.actor for e in entries], "action": [e.action for e in entries],
         "job_id": [e.job_id or "" for e in entries],
         "detail": [json.dumps(e.detail, ensure_ascii=False) for e in entries]},
    )


# --- operator actions ----------------------------------------------------------------------


def request_stop(ledger: Ledger, job_id: str, actor: str, *, abort: bool = False) -> bool:
    """Stop the job (DESIGN.md §7).

    **Stop sending** (the default): nothing new is sent; chunks Gameball already accepted
    run to the end and are recorded, so every row's outcome stays known. **Abort at
    Gameball** (``abort``): also asks Gameball to stop each of the job's remote jobs; the
    docs promise nothing about which items ran before that, so rows its reply does not list
    stay in doubt. A stop already under way can be turned into an abort, never back.
    """
    job = _job_or_error(ledger, job_id)
    if job.state in lg.SETTLED_JOB_STATES:
        return False
    if job.state == lg.JOB_STOPPING and (job.abort or not abort):
        return False
    return ledger.set_job_state(job_id, lg.JOB_STOPPING, expect=lg.ACTIVE_JOB_STATES,
                                actor=actor, abort=abort or job.abort,
                                detail={"mode": "abort at Gameball" if abort
                                        else "stop sending"})


def pause(ledger: Ledger, job_id: str, actor: str) -> bool:
    """Send nothing more; chunks already accepted are still followed to their results."""
    _job_or_error(ledger, job_id)
    return ledger.set_job_state(job_id, lg.JOB_PAUSED, expect=(lg.JOB_QUEUED, lg.JOB_RUNNING),
                                actor=actor)


def resume(ledger: Ledger, job_id: str, actor: str) -> bool:
    """A paused job goes back to the queue (any runner picks it up)."""
    job = _job_or_error(ledger, job_id)
    if job.state == lg.JOB_STOPPED:
        raise JobError("This job was stopped; use retry-failed to send its remaining rows.")
    return ledger.set_job_state(job_id, lg.JOB_QUEUED, expect=(lg.JOB_PAUSED,), actor=actor)


def resolve_chunk(
    ledger: Ledger, job_id: str, chunk_idx: int, decision: str, *, actor: str, reason: str
) -> None:
    """An operator's decision on an in-doubt chunk: resend it, or mark its rows applied or not.

    Recorded in the audit log with the reason. "resend" is only offered for a chunk whose
    send's fate is unknown; for a chunk Gameball processed, only its unreported rows are in
    doubt and resending the whole chunk could apply the others twice.
    """
    if decision not in DECISIONS:
        raise JobError(f"Decision must be one of {', '.join(DECISIONS)}, not '{decision}'.")
    if not reason.strip():
        raise JobError("Give a reason: it goes into the audit log with your decision.")
    job = _job_or_error(ledger, job_id)
    chunk = ledger.chunk(job_id, chunk_idx)
    if chunk is None:
        raise JobError(f"Job {job_id} has no chunk {chunk_idx + 1}.")
    detail = {"decision": decision, "reason": reason.strip()}
    if chunk.state == lg.CHUNK_UNKNOWN:
        _resolve_unknown_chunk(ledger, job, chunk_idx, decision, actor, detail)
    elif chunk.state in (lg.CHUNK_DONE, lg.CHUNK_FAILED) and decision != "resend":
        status = lg.ROW_APPLIED if decision == "applied" else lg.ROW_NOT_APPLIED
        ledger.resolve_unknown_rows(job_id, chunk_idx, status=status, actor=actor, detail=detail,
                                    message=_verdict(decision, actor, reason))
    else:
        raise JobError(f"Chunk {chunk_idx + 1} is {chunk.state}: nothing to resend.")
    after_decision(ledger, job_id, actor)


def _verdict(decision: str, actor: str, reason: str) -> str:
    label = "applied" if decision == "applied" else "not applied"
    return f"Marked {label} by {actor}: {reason.strip()}"


def _resolve_unknown_chunk(
    ledger: Ledger, job: lg.Job, index: int, decision: str, actor: str, detail: dict[str, Any]
) -> None:
    if decision == "resend":
        if job.state in (lg.JOB_STOPPED, lg.JOB_STOPPING):
            raise JobError("This job was stopped: it sends nothing more.")
        ledger.mark_pending(job.id, index, error=None, expect=(lg.CHUNK_UNKNOWN,), actor=actor,
                            detail=detail, operator=True)
        return
    applied = decision == "applied"
    ledger.finish_chunk(
        job.id, index, state=lg.CHUNK_DONE if applied else lg.CHUNK_FAILED, outcomes=(),
        unlisted=(lg.ROW_APPLIED if applied else lg.ROW_NOT_APPLIED,
                  _verdict(decision, actor, detail["reason"])),
        expect=(lg.CHUNK_UNKNOWN,), actor=actor, detail=detail, cause="operator",
    )


def after_decision(ledger: Ledger, job_id: str, actor: str) -> None:
    """Re-queue a job with chunks to send; finish one with nothing left in doubt."""
    job = _job_or_error(ledger, job_id)
    chunks = ledger.chunk_counts(job_id)
    if chunks[lg.CHUNK_PENDING] and job.state == lg.JOB_NEEDS_OPERATOR:
        ledger.set_job_state(job_id, lg.JOB_QUEUED, expect=(lg.JOB_NEEDS_OPERATOR,), actor=actor)
        return
    open_chunks = chunks[lg.CHUNK_PENDING] + chunks[lg.CHUNK_SENDING] + chunks[lg.CHUNK_ACCEPTED]
    if job.state == lg.JOB_NEEDS_OPERATOR and not open_chunks and not chunks[lg.CHUNK_UNKNOWN] \
            and not ledger.row_counts(job_id)[lg.ROW_UNKNOWN]:
        ledger.set_job_state(job_id, lg.JOB_FINISHED, expect=(lg.JOB_NEEDS_OPERATOR,),
                             actor=actor)


# --- retry ---------------------------------------------------------------------------------


class NeedsReview(JobError):
    """A retry of a type that is not safe to resend must be reviewed like a new job."""


def retry_failed(
    ledger: Ledger, job_id: str, actor: str, *, target: lg.Target | None = None,
    state: str = lg.JOB_QUEUED, audit: Sequence[tuple[str, dict[str, Any]]] = (),
    reviewed: bool = False,
) -> str:
    """The one child job holding exactly the failed and not-applied rows, with the same items.

    A job's failed rows are retried **once**: a second request, from a second click, another
    operator or the CLI, raises :class:`RetryExists` naming the existing child (the ledger's
    unique index decides, so concurrent requests agree). Items are copied from the parent's
    stored payloads, so generated transaction ids and every value stay the same; the child
    is linked to its parent, keeps its target, and stores its rows' business keys, so rows
    it applies show in later duplicate checks. Rows that were ever in doubt are retried only
    after an operator or evidence settled them (their status says so). Types that are not
    safe to resend (adjustments, events) need ``reviewed``: the caller has shown the impact,
    applied the approval rules (``state``/``audit``) and had the operator confirm.
    """
    parent = _job_or_error(ledger, job_id)
    if parent.state == lg.JOB_REJECTED:
        raise JobError(f"Job {job_id} was rejected by an approver, so its rows cannot be "
                       "retried. Fix the file and submit it again for approval.")
    if parent.state not in lg.SETTLED_JOB_STATES:
        raise JobError(f"Job {job_id} is still {parent.state}; retry once it has settled.")
    existing = ledger.retry_child(job_id)
    if existing is not None:
        raise RetryExists(job_id, existing.id)
    if target is not None and parent.target.known and not parent.target.same_as(target):
        raise JobError(f"Job {job_id[:8]} was sent to {parent.target.label}; this console is "
                       f"connected to {target.label}. A job is only retried against its own "
                       "target.")
    bt = batch_types.get(parent.batch_type)
    if not bt.resend_safe and not reviewed:
        raise NeedsReview(f"{bt.title} are not safe to resend, so retrying job {job_id[:8]} "
                          "is reviewed like a new job: check the impact, then confirm.")
    # Rows left out at validation were never planned: they need fixing and a new file.
    rows = [r for r in ledger.rows(job_id, statuses=RETRYABLE) if r.chunk_idx >= 0]
    if not rows:
        raise JobError(f"Job {job_id} has no failed or not-applied rows to retry (rows left "
                       "out at validation need fixing: download them, fix, upload again).")
    items = _items_for(ledger, bt, job_id, rows)
    chunks, new_rows = _rechunk(items, rows)
    child = NewJob(
        id=str(uuid.uuid4()), batch_type=parent.batch_type, file_name=parent.file_name,
        fingerprint=parent.fingerprint, sheet=parent.sheet, mapping=parent.mapping,
        columns=parent.columns, row_count=len(new_rows), item_count=len(items),
        totals=_totals(bt, [item for _, _, item in items]), actor=actor,
        id_seed=parent.id_seed, parent_job_id=parent.id, state=state,
        target=parent.target if parent.target.known else (target or lg.Target()),
        retry_of=parent.id,
    )
    keys = ledger.row_keys_of(job_id, [r.row for r in new_rows])
    entries = [("job.retry_of", {"parent_job_id": parent.id, "rows": len(new_rows)}),
               *audit]
    try:
        ledger.create_job(child, chunks, new_rows, row_keys=keys, audit=entries)
    except lg.RetryExists as exc:  # another request won the race
        raise RetryExists(job_id, exc.child_id) from None
    ledger.audit(actor, "job.retry_failed", job_id, {"child_job_id": child.id,
                                                     "rows": len(new_rows)})
    return child.id


def retry_items(ledger: Ledger, job_id: str) -> list[dict[str, Any]]:
    """The items a retry of ``job_id`` would send (for its review)."""
    parent = _job_or_error(ledger, job_id)
    bt = batch_types.get(parent.batch_type)
    rows = [r for r in ledger.rows(job_id, statuses=RETRYABLE) if r.chunk_idx >= 0]
    return [item for _, _, item in _items_for(ledger, bt, job_id, rows)]


def _items_for(
    ledger: Ledger, bt: BatchType, job_id: str, rows: Sequence[lg.Row]
) -> list[tuple[int, str, dict[str, Any]]]:
    """(parent chunk, key, item) for every item holding one of ``rows``."""
    wanted: dict[int, set[str]] = {}
    for r in rows:
        wanted.setdefault(r.chunk_idx, set()).add(r.key)
    out = []
    for index, keys in sorted(wanted.items()):
        body = json.loads(ledger.payload(job_id, index))["body"]
        for item in body:
            key = str(item.get(bt.result_key, ""))
            if key in keys:
                out.append((index, key, item))
    return out


def _rechunk(
    items: list[tuple[int, str, dict[str, Any]]], rows: Sequence[lg.Row]
) -> tuple[list[NewChunk], list[NewRow]]:
    """Pack items into chunks by the planner's rules (payloads.place_items): at most 1000,
    neither a key nor a customer twice in one chunk."""
    import pyarrow as pa

    from gameball_batch.payloads import place_items

    keys = pa.array([key for _, key, _ in items], type=pa.large_string())
    customers = pa.array([str(item.get("customerId", "")) for _, _, item in items],
                         type=pa.large_string())
    placement, _busiest = place_items(keys, customers, MAX_ITEMS_PER_REQUEST)
    chunks: list[NewChunk] = []
    placed: dict[tuple[int, str], int] = {}
    for index, members in enumerate(placement):
        body = [items[i][2] for i in members]
        chunks.append(NewChunk(index, _payload(body), len(body)))
        placed.update({(items[i][0], items[i][1]): index for i in members})
    new_rows = [NewRow(r.row, placed[(r.chunk_idx, r.key)], r.key, r.cells)
                for r in rows if (r.chunk_idx, r.key) in placed]
    return chunks, new_rows


def _payload(body: Iterable[dict[str, Any]]) -> bytes:
    items = json.dumps(list(body), separators=(",", ":"), ensure_ascii=False)
    return b'{"body":' + items.encode() + b"}"


def _totals(bt: BatchType, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": len(items)}
    for path in (*bt.money_fields, *bt.points_fields):
        total = 0.0
        for item in items:
            value: Any = item
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, int | float):
                total += float(value)
        out[f"{path}.total"] = round(total, 6)
    return out
