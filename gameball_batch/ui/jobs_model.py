"""What the Jobs and History pages show, computed without widgets: testable without a browser.

Snapshots of one job (counts, chunk states, rate, ETA), the process-wide :class:`ViewCache`
that keeps a million-row job's live view cheap, failures by message, one page of the error
table, the job list with its attention badges and filters, the audit trail made readable,
and the formatting both pages share. ``jobs_view`` and ``history_view`` draw these.

It reads the ledger only through ``gameball_batch.jobs`` and the ledger's read methods, and
must not import streamlit.

The live part of a job detail must stay cheap while a million-row job runs, so each rerun
reads only the job row, one row per chunk (about 1,000 for a million rows) and the job's
newest audit id. The queries that grow with the job's size (row counts, failures by
message, a page of the error table) live in one process-wide :class:`ViewCache` under a
signature of those cheap reads: recomputed only when a chunk, the job or its audit trail
changed and, while the job runs, on a background thread (reading only) so that a rerun
never waits long for them.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import threading
import time as _time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast

import pandas as pd

from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch import schedule
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.ledger import Ledger

log = logging.getLogger(__name__)
T = TypeVar("T")

# --- tuning ----------------------------------------------------------------------------------

LIVE_SECONDS = 2.0  # how often a running job's detail refreshes
LIST_LIVE_SECONDS = 5.0  # how often the job list refreshes while something runs
RATE_WINDOW = 60.0  # seconds of closed chunks the rate is measured over
ERROR_PAGE_SIZE = 100
FAILURE_SAMPLE = 20_000  # failed rows read to rank messages (the failed count is exact)
LIST_LIMIT = 200
AUDIT_LIMIT = 20_000
SHORT_ID = 8  # characters of a job id the console shows (any unique 6+ prefix opens it)
ERROR_STATUSES = (lg.ROW_FAILED, lg.ROW_UNKNOWN, lg.ROW_NOT_APPLIED)

STATE_TEXT: dict[str, str] = {  # plain words: table cells cannot show icons
    lg.JOB_QUEUED: "queued",
    lg.JOB_RUNNING: "running",
    lg.JOB_PAUSED: "paused",
    lg.JOB_STOPPING: "stopping",
    lg.JOB_STOPPED: "stopped",
    lg.JOB_NEEDS_OPERATOR: "needs a decision",
    lg.JOB_FINISHED: "finished",
    lg.JOB_AWAITING_APPROVAL: "waiting for approval",
    lg.JOB_REJECTED: "rejected by an approver",
    lg.JOB_SCHEDULED: "scheduled",
}
# Material icons, not emoji: they ship with Streamlit, so they render on machines without an
# emoji font (kiosks, CI browsers).
STATE_ICON: dict[str, str] = {
    lg.JOB_QUEUED: ":material/schedule:",
    lg.JOB_RUNNING: ":material/play_circle:",
    lg.JOB_PAUSED: ":material/pause_circle:",
    lg.JOB_STOPPING: ":material/stop_circle:",
    lg.JOB_STOPPED: ":material/stop_circle:",
    lg.JOB_NEEDS_OPERATOR: ":material/warning:",
    lg.JOB_FINISHED: ":material/check_circle:",
    lg.JOB_AWAITING_APPROVAL: ":material/how_to_reg:",
    lg.JOB_REJECTED: ":material/cancel:",
    lg.JOB_SCHEDULED: ":material/event:",
}
ROW_STATUS_TEXT: dict[str, str] = {
    lg.ROW_PENDING: "pending",
    lg.ROW_APPLIED: "applied",
    lg.ROW_FAILED: "failed",
    lg.ROW_UNKNOWN: "in doubt",
    lg.ROW_NOT_APPLIED: "not applied",
}
VIEW_ONLY_TEXT = (
    "Only operators can stop, pause, resume or retry a job and decide on in-doubt chunks. "
    "You can follow it here and download its rows."
)
DECISION_TEXT: dict[str, str] = {
    "resend": "Resend it (only if Gameball surely did not apply it)",
    "applied": "Mark its rows applied (Gameball did apply them)",
    "not_applied": "Mark its rows not applied (they can be retried later)",
}


def is_live(state: str) -> bool:
    """Whether a job in this state can still change without an operator."""
    return state in lg.ACTIVE_JOB_STATES


# --- reading: cheap snapshot + signature cache ---------------------------------------------


class ViewCache:
    """Values that grow with a job's size, reused while their signature is unchanged.

    With ``background=True`` a changed signature does not block the caller for long: a
    refresh is queued on one daemon thread and the caller waits at most ``patience``
    seconds for it (a small job's counts arrive in time), then takes the stale value; the
    next rerun (two seconds later) shows the fresh one. SQLite releases the GIL while it
    counts, so the refresh barely slows the script thread. A value never computed before,
    or asked for with ``background=False`` (a settled job), is computed in the caller:
    exact, once.
    """

    def __init__(self, *, max_entries: int = 256, patience: float = 0.1) -> None:
        self.patience = patience  # seconds a rerun waits for a refresh before going stale
        self._entries: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
        self._queued: dict[tuple[Any, ...], tuple[tuple[Any, ...], Callable[[], Any]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._max = max_entries
        self.computed = 0  # how many values were (re)computed: benches and tests read it
        self._snapshots: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def snapshot(self, key: tuple[Any, ...], heard: int,
                 read: Callable[[], JobSnapshot | None]) -> JobSnapshot | None:
        """The snapshot last read for ``key``, while the ledger announced no write since
        (``heard``: its count of writes), no value of this cache changed since (a count
        refreshed in the background makes a new snapshot) and 30 s have not turned; else a
        fresh read. The cheap reads themselves: not counted in :attr:`computed`."""
        epoch = int(_time.monotonic() // 30)  # should a notification ever be missed
        with self._lock:
            hit = self._snapshots.get(key)
        if hit is not None and hit[0] == (heard, self.computed, epoch):
            return cast(JobSnapshot | None, hit[1])
        value = read()
        with self._lock:
            if len(self._snapshots) >= self._max:
                self._snapshots.pop(next(iter(self._snapshots)))
            self._snapshots[key] = ((heard, self.computed, epoch), value)
        return value

    def get(
        self,
        key: tuple[Any, ...],
        signature: tuple[Any, ...],
        compute: Callable[[], T],
        *,
        background: bool = False,
        wait: bool = True,
    ) -> T:
        """The value for ``key`` at ``signature``; see the class docstring.

        ``wait=False``: with ``background``, never wait for the refresh (secondary values,
        so that one rerun spends its patience at most once).
        """
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and (hit[0] == signature or background):
                if hit[0] != signature:
                    self._queue(key, signature, compute)
                    if wait:
                        hit = self._await(key, signature, hit)
                value: T = hit[1]
                return value
        value = compute()
        self._store(key, signature, value)
        return value

    def _await(
        self, key: tuple[Any, ...], signature: tuple[Any, ...], stale: tuple[Any, Any]
    ) -> tuple[Any, Any]:
        """Give a queued refresh a moment (small jobs finish in it); else the stale value.

        Called with the lock held; waiting on the condition releases it.
        """
        deadline = _time.monotonic() + self.patience
        while (left := deadline - _time.monotonic()) > 0:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == signature:
                return entry
            self._wake.wait(left)
        return self._entries.get(key, stale)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no refresh is queued (tests and benches)."""
        deadline = _time.monotonic() + timeout
        with self._lock:
            while self._queued and _time.monotonic() < deadline:
                self._wake.wait(0.05)
            return not self._queued

    def _store(self, key: tuple[Any, ...], signature: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            self.computed += 1
            self._entries.pop(key, None)
            self._entries[key] = (signature, value)
            while len(self._entries) > self._max:  # oldest first: dicts keep insertion order
                self._entries.pop(next(iter(self._entries)))

    def _queue(
        self, key: tuple[Any, ...], signature: tuple[Any, ...], compute: Callable[[], Any]
    ) -> None:
        self._queued[key] = (signature, compute)  # a newer request replaces an older one
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._work, name="gameball-jobs-view", daemon=True
            )
            self._thread.start()
        self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queued:
                    if not self._wake.wait(60.0):
                        self._thread = None
                        return  # idle for a minute: let the thread go
                key = next(iter(self._queued))
                signature, compute = self._queued[key]
            try:
                value = compute()
            except Exception:  # the page shows the stale value; the next rerun retries
                log.exception("refreshing %s failed", key[0])
            else:
                self._store(key, signature, value)
            with self._lock:
                if self._queued.get(key, (None,))[0] == signature:
                    del self._queued[key]
                self._wake.notify_all()


@dataclass(frozen=True)
class JobSnapshot:
    """Everything the live part of a job detail shows, read in one go."""

    job: lg.Job
    signature: tuple[Any, ...]  # changes whenever any row of the job may have changed
    rows: dict[str, int]  # row status -> count (exact)
    chunk_states: list[str]  # by chunk index
    times: list[datetime] = field(default_factory=list)  # when each chunk closed, in order
    done_items: list[int] = field(default_factory=list)  # cumulative items in closed chunks
    failed_items: list[int] = field(default_factory=list)  # … of which in failed chunks
    rate: float | None = None  # items per second over the last RATE_WINDOW seconds
    eta_seconds: float | None = None
    remaining_items: int = 0

    @property
    def live(self) -> bool:
        return is_live(self.job.state)

    @property
    def done_rows(self) -> int:
        return self.job.row_count - self.rows.get(lg.ROW_PENDING, 0)

    @property
    def error_rows(self) -> int:
        return sum(self.rows.get(s, 0) for s in ERROR_STATUSES)

    @property
    def progress(self) -> float:
        total = self.job.row_count
        return 1.0 if total <= 0 else min(1.0, max(0.0, self.done_rows / total))


def _last_audit_id(ledger: Ledger, job_id: str) -> int:
    entries = ledger.audit_entries(job_id, limit=1)
    return entries[-1].id if entries else 0


def load_snapshot(
    ledger: Ledger, job_id: str, *, cache: ViewCache | None = None, now: float | None = None
) -> JobSnapshot | None:
    """Read one job's live view; ``None`` when the ledger has no such job.

    Every ledger write that moves a row also touches its chunk's ``updated_at``, the job's,
    or appends to the job's audit trail, so those three make a sound cache signature.
    """
    mark = ledger.changes()
    if mark is not None and cache is not None:
        # PostgreSQL announces every write (LISTEN/NOTIFY): with none since the last read,
        # the last snapshot is still true and nothing is read (ViewCache.snapshot).
        return cache.snapshot(("snapshot", ledger.where, job_id), mark,
                              lambda: _read_snapshot(ledger, job_id, cache, now))
    return _read_snapshot(ledger, job_id, cache, now)


def _read_snapshot(ledger: Ledger, job_id: str, cache: ViewCache | None,
                   now: float | None) -> JobSnapshot | None:
    job = ledger.job(job_id)
    if job is None:
        return None
    chunks = ledger.chunks(job_id)
    signature = (
        job.state,
        job.updated_at,
        max((c.updated_at for c in chunks), default=0.0),
        _last_audit_id(ledger, job_id),
    )
    cache = cache if cache is not None else ViewCache()
    rows = cache.get(
        ("rows", ledger.where, job_id),
        signature,
        lambda: ledger.row_counts(job_id),
        background=is_live(job.state),
    )
    return _snapshot(job, chunks, rows, signature, now=ledger.now() if now is None else now)


_CLOSED_CHUNKS = (lg.CHUNK_DONE, lg.CHUNK_FAILED)
_OPEN_CHUNKS = (lg.CHUNK_PENDING, lg.CHUNK_SENDING, lg.CHUNK_ACCEPTED)


def _snapshot(
    job: lg.Job,
    chunks: list[lg.Chunk],
    rows: dict[str, int],
    signature: tuple[Any, ...],
    *,
    now: float,
) -> JobSnapshot:
    closed = sorted(
        (c for c in chunks if c.finished_at is not None and c.state in _CLOSED_CHUNKS),
        key=lambda c: c.finished_at or 0.0,
    )
    times, done, failed = [], [], []
    if closed:  # start the lines at zero when sending began, so one chunk already draws one
        began = min(c.sent_at or c.created_at for c in chunks)
        times, done, failed = [datetime.fromtimestamp(began, tz=UTC)], [0], [0]
    done_total = failed_total = 0
    for c in closed:
        done_total += c.item_count
        failed_total += c.item_count if c.state == lg.CHUNK_FAILED else 0
        times.append(datetime.fromtimestamp(c.finished_at or 0.0, tz=UTC))
        done.append(done_total)
        failed.append(failed_total)
    remaining = sum(c.item_count for c in chunks if c.state in _OPEN_CHUNKS)
    rate = _rate(closed, now) if is_live(job.state) else None
    return JobSnapshot(
        job=job,
        signature=signature,
        rows=rows,
        chunk_states=[c.state for c in chunks],
        times=times,
        done_items=done,
        failed_items=failed,
        rate=rate,
        eta_seconds=remaining / rate if rate and remaining else None,
        remaining_items=remaining,
    )


def _rate(closed: list[lg.Chunk], now: float) -> float | None:
    """Items per second over the last RATE_WINDOW seconds of closed chunks."""
    recent = [c for c in closed if (c.finished_at or 0.0) >= now - RATE_WINDOW]
    if not recent:
        return None
    started = min(c.sent_at or c.created_at for c in recent)
    return sum(c.item_count for c in recent) / max(now - started, 1.0)


def failure_counts(ledger: Ledger, job_id: str, *, sample: int = FAILURE_SAMPLE) -> Counter[str]:
    """Failed rows by message, from at most ``sample`` failed rows (the first by row)."""
    failed = ledger.rows(job_id, statuses=(lg.ROW_FAILED,), limit=sample, cells=False)
    return Counter((r.message or "(no message)") for r in failed)


def error_page(
    ledger: Ledger, job_id: str, statuses: Sequence[str], page: int
) -> pd.DataFrame:
    """One page of failed / in-doubt / not-applied rows with their original cells."""
    frame = job_service.rows_frame(
        ledger,
        job_id,
        statuses=tuple(statuses),
        limit=ERROR_PAGE_SIZE,
        offset=max(0, page - 1) * ERROR_PAGE_SIZE,
    )
    frame = frame.drop(columns=["chunk"], errors="ignore")
    frame["status"] = frame["status"].map(lambda s: ROW_STATUS_TEXT.get(s, s))
    return frame


def live_view(
    ledger: Ledger, job_id: str, *, cache: ViewCache, statuses: Sequence[str], page: int
) -> tuple[JobSnapshot, Counter[str], pd.DataFrame] | None:
    """The data of one live rerun: snapshot, failures by message and one error page.

    This is what the fragment costs on the server, and what ``bench/console.py`` times.
    """
    snap = load_snapshot(ledger, job_id, cache=cache)
    if snap is None:
        return None
    background = snap.live  # a running job may lag one rerun; a settled one is exact
    failures: Counter[str] = Counter()
    if snap.rows.get(lg.ROW_FAILED, 0):
        failures = cache.get(
            ("failures", ledger.where, job_id),
            snap.signature,
            lambda: failure_counts(ledger, job_id),
            background=background,
            wait=False,
        )
    wanted = tuple(s for s in statuses if snap.rows.get(s, 0))
    errors = pd.DataFrame()
    if wanted:
        errors = cache.get(
            ("errors", ledger.where, job_id, wanted, page),
            snap.signature,
            lambda: error_page(ledger, job_id, wanted, page),
            background=background,
            wait=False,
        )
    return snap, failures, errors


# --- formatting ----------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "—"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def format_when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def type_title(slug: str) -> str:
    bt = BATCH_TYPES.get(slug)
    return bt.title if bt else slug




def short_id(job_id: str) -> str:
    """The id as the console shows it; the CLI and ``?job=`` accept it back."""
    return job_id[:SHORT_ID]


def target_text(summary: job_service.JobSummary) -> str:
    """Where a job sends: its recorded target, or a plain word when none was recorded."""
    return summary.target_label or summary.target_kind or "not recorded"


# --- the job list ----------------------------------------------------------------------------


def attention(summary: job_service.JobSummary) -> list[str]:
    """What about this job needs a person, in plain words; empty when nothing does."""
    rows = summary.rows
    out = [
        f"{rows.get(status, 0):,} {ROW_STATUS_TEXT[status]}"
        for status in (lg.ROW_FAILED, lg.ROW_UNKNOWN, lg.ROW_NOT_APPLIED)
        if rows.get(status, 0)
    ]
    if summary.state == lg.JOB_NEEDS_OPERATOR:
        out.append("needs an operator")
    if summary.state == lg.JOB_AWAITING_APPROVAL:
        out.append("awaiting approval")
    return out


def list_summaries(
    ledger: Ledger, cache: ViewCache, *, limit: int = LIST_LIMIT
) -> list[job_service.JobSummary]:
    """The newest jobs with their row counts, each recounted only when the job changed.

    A job's signature is its state, its last update and its chunk states (all cheap); the
    row counts behind it grow with the job, so a running job's are refreshed in the
    background, like the detail's.
    """
    out = []
    for job in ledger.jobs(limit=limit):
        signature = (job.state, job.updated_at, tuple(sorted(ledger.chunk_counts(job.id).items())),
                     _last_audit_id(ledger, job.id))
        out.append(cache.get(
            ("summary", ledger.where, job.id), signature,
            functools.partial(job_service.summary, ledger, job.id),
            background=is_live(job.state),
        ))
    return schedule.upcoming_first(out)  # jobs waiting for their time first


@dataclass(frozen=True)
class ListFilter:
    """The list's filters; an empty one matches every job."""

    states: frozenset[str] = frozenset()  # ledger states
    types: frozenset[str] = frozenset()  # batch type slugs
    targets: frozenset[str] = frozenset()  # target_text values
    submitters: frozenset[str] = frozenset()

    def matches(self, s: job_service.JobSummary) -> bool:
        return all((
            not self.states or s.state in self.states,
            not self.types or s.batch_type in self.types,
            not self.targets or target_text(s) in self.targets,
            not self.submitters or s.actor in self.submitters,
        ))


def filter_jobs(
    summaries: Iterable[job_service.JobSummary], wanted: ListFilter
) -> list[job_service.JobSummary]:
    return [s for s in summaries if wanted.matches(s)]


def filter_choices(summaries: Sequence[job_service.JobSummary]) -> dict[str, list[str]]:
    """The values each filter can take, from the jobs listed (sorted, no repeats)."""
    return {
        "states": sorted({s.state for s in summaries}, key=lambda v: STATE_TEXT.get(v, v)),
        "types": sorted({s.batch_type for s in summaries}, key=type_title),
        "targets": sorted({target_text(s) for s in summaries}),
        "submitters": sorted({s.actor for s in summaries}),
    }


def list_frame(summaries: Sequence[job_service.JobSummary]) -> pd.DataFrame:
    """One line per job: what it is, where it went, and its rows by outcome."""
    records = [
        {
            "job": short_id(s.id),
            "needs attention": " · ".join(attention(s)),
            "state": schedule.list_state(s, STATE_TEXT.get(s.state, s.state)),
            "type": s.title,
            "target": target_text(s),
            "file": s.file_name,
            "submitted by": readable_actor(s.actor),
            "when": datetime.fromtimestamp(s.created_at, tz=UTC),
            "rows": s.row_count,
            "applied": s.rows.get(lg.ROW_APPLIED, 0),
            "failed": s.rows.get(lg.ROW_FAILED, 0),
            "in doubt": s.rows.get(lg.ROW_UNKNOWN, 0),
            "not applied": s.rows.get(lg.ROW_NOT_APPLIED, 0),
            "progress": s.progress,
            "retry of": short_id(s.parent_job_id or ""),
        }
        for s in summaries
    ]
    return pd.DataFrame.from_records(records, columns=LIST_COLUMNS)


LIST_COLUMNS = ("job", "needs attention", "state", "type", "target", "file", "submitted by",
                "when", "rows", "applied", "failed", "in doubt", "not applied", "progress",
                "retry of")


# --- history ---------------------------------------------------------------------------------

ACTION_TEXT: dict[str, str] = {
    job_service.UPLOADED: "file uploaded",
    "job.created": "submitted",
    "job.retry_failed": "retry requested",
    "job.stopping": "stop requested",
    "job.stopped": "stopped",
    "job.paused": "paused",
    "job.queued": "resumed / re-queued",
    "job.running": "started",
    "job.finished": "finished",
    "job.needs_operator": "waiting for a decision",
    "chunk.resend": "chunk resend chosen",
    "chunk.resolved": "in-doubt rows resolved",
    "chunk.in_doubt": "chunk in doubt",
    "chunk.done": "chunk marked applied",
    "chunk.failed": "chunk marked not applied",
    "lease.acquired": "runner took the job",
    "job.awaiting_approval": "waiting for approval",
    "job.rejected": "rejected",
    "approval.requested": "approval requested",
    "approval.approved": "approved",
    "approval.rejected": "approval rejected",
    "approval.refused": "approval refused (not allowed)",
    "duplicates.override": "duplicate guard overridden",
}

# A runner's lease owner: host, process id and a random tag (``runner.py``).
_RUNNER = re.compile(r"^(?P<host>.+):(?P<pid>\d+):[0-9a-f]{6,}$")


def readable_actor(actor: str) -> str:
    """Who did it, in words: a person, the command line of a user, or a runner on a host."""
    if not actor:
        return "unknown"
    runner = _RUNNER.match(actor)
    if runner:
        return f"runner on {runner['host']} (process {runner['pid']})"
    if actor.startswith("cli:"):
        return f"{actor[4:]} (command line)"
    if actor == "cli":
        return "command line"
    return actor


def _words(key: str) -> str:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).replace("_", " ").replace(".", " ")
    return spaced.strip().lower()


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{_words(str(k))} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def readable_detail(detail: str) -> str:
    """An audit entry's detail as "key: value · …" instead of raw JSON."""
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return detail
    if not isinstance(data, dict):
        return _value_text(data)
    return " · ".join(f"{_words(str(k))}: {_value_text(v)}" for k, v in data.items())


def history_frame(ledger: Ledger, *, limit: int = AUDIT_LIMIT) -> pd.DataFrame:
    """The audit trail, newest first, with readable actions, actors and details."""
    frame = job_service.audit_trail(ledger, limit=limit)
    if frame.empty:
        return frame
    frame = frame.iloc[::-1].reset_index(drop=True)  # newest first
    frame.insert(2, "what", frame["action"].map(lambda a: ACTION_TEXT.get(a, a)))
    frame["who"] = frame["actor"].map(readable_actor)
    frame["detail"] = frame["detail"].map(readable_detail)
    return frame[["at", "who", "what", "job_id", "detail", "actor", "action"]]


def filter_history(
    frame: pd.DataFrame,
    *,
    job: str = "",
    actions: Sequence[str] = (),
    actors: Sequence[str] = (),
    since: date | None = None,
    until: date | None = None,
) -> pd.DataFrame:
    """The audit rows matching every given filter (an empty filter matches all)."""
    if frame.empty:
        return frame
    keep = pd.Series(True, index=frame.index)
    if job.strip():
        keep &= frame["job_id"].str.startswith(job.strip())
    if actions:
        keep &= frame["action"].isin(list(actions))
    if actors:
        keep &= frame["actor"].isin(list(actors))
    if since is not None:
        keep &= frame["at"] >= pd.Timestamp(datetime.combine(since, time.min, tzinfo=UTC))
    if until is not None:
        end = datetime.combine(until, time.min, tzinfo=UTC) + timedelta(days=1)
        keep &= frame["at"] < pd.Timestamp(end)
    return frame[keep]


def date_range(value: Any) -> tuple[date | None, date | None]:
    """A date_input's value (one date, a pair, or a half-picked range) as (since, until)."""
    if isinstance(value, date):
        return value, value
    if isinstance(value, Sequence) and value:
        start = value[0] if isinstance(value[0], date) else None
        end = value[1] if len(value) > 1 and isinstance(value[1], date) else start
        return start, end
    return None, None
