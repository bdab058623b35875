"""The jobs and history screens: job list, live job detail, actions, audit trail.

``screens/jobs.py`` and ``screens/history.py`` only call :func:`render_jobs_page` and
:func:`render_history_page`. Everything here *reads* the ledger, and changes a job only
through ``gameball_batch.jobs`` (stop, pause, resume, retry, resolve), which audits each
decision. Nothing here submits: the runner's thread does that.

The live part of a job detail runs inside ``st.fragment(run_every=…)`` that is switched
off by a full rerun once the job settles. It must stay cheap while a million-row job runs,
so each rerun reads only the job row, one row per chunk (about 1,000 for a million rows)
and the job's newest audit id. The queries that grow with the job's size (row counts,
failures by message, a page of the error table) live in one process-wide :class:`ViewCache`
under a signature of those cheap reads: recomputed only when a chunk, the job or its audit
trail changed and, while the job runs, on a background thread (reading only) so that a
rerun never waits long for them. Downloads are built only when clicked.

No traceback reaches the page: package calls are wrapped, and failures become
``st.error`` with a way forward.
"""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch.access import Role
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.charts.jobs import chunk_grid_figure, failures_figure, progress_figure
from gameball_batch.ledger import Ledger
from gameball_batch.ui import access_view, schedule_view, services, verify_view
from gameball_batch.ui import state as keys

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
ERROR_STATUSES = (lg.ROW_FAILED, lg.ROW_UNKNOWN, lg.ROW_NOT_APPLIED)

# --- widget and session keys of these two pages (tests use them) ---------------------------

JB_OPEN = "jb.open"  # selectbox: job to open from the list
JB_OPEN_GO = "jb.open_go"  # button
JB_LIST_TABLE = "jb.list_table"  # dataframe with row selection
JB_BACK = "jb.back"  # button: back to the list
JB_ERR_STATUS = "jb.err_status"  # multiselect on the error table
JB_ERR_PAGE = "jb.err_page"  # number input: page of the error table
JB_STOP = "jb.stop"
JB_PAUSE = "jb.pause"
JB_RESUME = "jb.resume"
JB_RETRY = "jb.retry"
JB_RESOLVE_CHUNK = "jb.resolve_chunk"  # selectbox: in-doubt chunk (1-based label)
JB_RESOLVE_DECISION = "jb.resolve_decision"  # radio
JB_RESOLVE_REASON = "jb.resolve_reason"  # text input
JB_RESOLVE_CONFIRM = "jb.resolve_confirm"  # checkbox
JB_RESOLVE_GO = "jb.resolve_go"  # button
JB_DL_FAILED_CSV = "jb.dl_failed_csv"
JB_DL_FAILED_XLSX = "jb.dl_failed_xlsx"
JB_DL_RESULTS = "jb.dl_results"
JB_FLASH = "jb.flash"  # (kind, message) shown once after an action
HI_JOB = "hi.job"  # text input: job id (or its start)
HI_ACTIONS = "hi.actions"  # multiselect
HI_ACTORS = "hi.actors"  # multiselect
HI_DATES = "hi.dates"  # date_input range
HI_EXPORT = "hi.export"  # download button

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
        ("rows", str(ledger.path), job_id),
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
    failed = ledger.rows(job_id, statuses=(lg.ROW_FAILED,), limit=sample)
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
            ("failures", str(ledger.path), job_id),
            snap.signature,
            lambda: failure_counts(ledger, job_id),
            background=background,
            wait=False,
        )
    wanted = tuple(s for s in statuses if snap.rows.get(s, 0))
    errors = pd.DataFrame()
    if wanted:
        errors = cache.get(
            ("errors", str(ledger.path), job_id, wanted, page),
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


# --- shared page plumbing ------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _cache() -> ViewCache:
    """One cache per process: every operator watching a job shares its refreshes."""
    return ViewCache()


def _actor() -> str:
    try:
        from gameball_batch.ui import frame

        return frame.identity().actor
    except Exception:  # a page opened on its own (tests) still records someone
        log.debug("identity unavailable", exc_info=True)
        from gameball_batch.access import LOCAL_ACTOR

        return LOCAL_ACTOR


@contextmanager
def _guard(what: str, *, stop: bool = False) -> Iterator[None]:
    """Turn any failure inside into an operator message instead of a traceback."""
    try:
        yield
    except job_service.JobError as exc:
        st.error(str(exc), icon=":material/block:")
        if stop:
            st.stop()
    except lg.LedgerError as exc:
        st.error(f"The job ledger cannot be used: {exc}", icon=":material/database:")
        if stop:
            st.stop()
    except Exception as exc:  # st.stop()/st.rerun() are BaseException: they pass through
        log.exception("%s failed", what)
        st.error(
            f"Could not {what}: {type(exc).__name__}: {exc}. Reload the page to try again; "
            "if it keeps failing, check the console's log.",
            icon=":material/error:",
        )
        if stop:
            st.stop()


def _ledger_or_stop() -> Ledger:
    try:
        return services.get_ledger()
    except Exception as exc:
        log.exception("opening the ledger failed")
        st.error(
            f"The job ledger cannot be opened: {exc}. Check GAMEBALL_BATCH_DB (or the "
            "`db_path` in secrets.toml) points to a writable file, then reload.",
            icon=":material/database:",
        )
        st.stop()


def _flash(kind: str, message: str) -> None:
    st.session_state[JB_FLASH] = (kind, message)


def _show_flash() -> None:
    flash = st.session_state.pop(JB_FLASH, None)
    if flash:
        kind, message = flash
        {"success": st.success, "warning": st.warning}.get(kind, st.info)(message)


def _open_job(job_id: str | None) -> None:
    if job_id:
        st.query_params[keys.JOB_QUERY_PARAM] = job_id
    else:
        st.query_params.pop(keys.JOB_QUERY_PARAM, None)


# --- jobs page -----------------------------------------------------------------------------


def render_jobs_page() -> None:
    """The job list, or one job's detail when ``?job=<id>`` is in the URL."""
    st.title("Jobs")
    ledger = _ledger_or_stop()
    _show_flash()
    job_id = st.query_params.get(keys.JOB_QUERY_PARAM)
    if job_id:
        _render_detail(ledger, str(job_id))
    else:
        _render_list(ledger)


def _list_frame(jobs: list[lg.Job], ledger: Ledger) -> pd.DataFrame:
    """One line per job; progress from chunk counts (cheap for any job size)."""
    records = []
    for job in jobs:
        counts = ledger.chunk_counts(job.id)
        closed = counts[lg.CHUNK_DONE] + counts[lg.CHUNK_FAILED]
        records.append(
            {
                "job": job.id,
                "type": type_title(job.batch_type),
                "file": job.file_name,
                "who": job.actor,
                "when": datetime.fromtimestamp(job.created_at, tz=UTC),
                "state": schedule_view.list_state(job, STATE_TEXT.get(job.state, job.state)),
                "rows": job.row_count,
                "progress": closed / job.chunk_count if job.chunk_count else 1.0,
                "retry of": (job.parent_job_id or "")[:8],
            }
        )
    return pd.DataFrame.from_records(records)


def _render_list(ledger: Ledger) -> None:
    jobs: list[lg.Job] = []
    with _guard("read the job list", stop=True):
        jobs = schedule_view.upcoming_first(ledger.jobs(limit=LIST_LIMIT))
    if not jobs:
        st.info("No jobs yet. Start one from **New batch**: upload a file, check it, submit.")
        return
    live = any(is_live(j.state) for j in jobs) or schedule_view.any_upcoming(jobs)
    st.fragment(run_every=LIST_LIVE_SECONDS if live else None)(_list_body)(live)
    _open_controls(jobs)


def _list_body(was_live: bool) -> None:
    ledger = services.get_ledger()
    with _guard("read the job list"):
        jobs = schedule_view.upcoming_first(ledger.jobs(limit=LIST_LIMIT))
        if was_live and not any(is_live(j.state) for j in jobs) \
                and not schedule_view.any_upcoming(jobs):
            st.rerun(scope="app")  # the last running job settled: drop the timer
        frame = _list_frame(jobs, ledger)
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            key=JB_LIST_TABLE,
            on_select="rerun",
            selection_mode="single-row",
            column_config={
                "job": st.column_config.TextColumn("job", width="small"),
                "when": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm"),
                "rows": st.column_config.NumberColumn("rows", format="localized"),
                "progress": st.column_config.ProgressColumn(
                    "progress", min_value=0.0, max_value=1.0, format="percent"
                ),
            },
        )
        selection = st.session_state.get(JB_LIST_TABLE)
        picked = _selected_row(selection)
        if picked is not None and picked < len(frame):
            st.session_state.pop(JB_LIST_TABLE, None)  # else "All jobs" would reopen it
            _open_job(str(frame.iloc[picked]["job"]))
            st.rerun(scope="app")


def _selected_row(selection: Any) -> int | None:
    try:
        rows = selection["selection"]["rows"]
    except (KeyError, TypeError, IndexError):
        return None
    return int(rows[0]) if rows else None


def _open_controls(jobs: list[lg.Job]) -> None:
    labels = {
        j.id: f"{type_title(j.batch_type)} · {j.file_name or '—'} · "
        f"{format_when(j.created_at)} · {j.id[:8]}"
        for j in jobs
    }
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Open a job", list(labels), format_func=labels.__getitem__, key=JB_OPEN
    )
    if right.button("Open", key=JB_OPEN_GO, type="primary") and chosen:
        _open_job(chosen)
        st.rerun()
    st.caption("Tip: click a row in the table to open it. The job's address can be shared.")


# --- job detail ----------------------------------------------------------------------------


def _render_detail(ledger: Ledger, job_id: str) -> None:
    if st.button("← All jobs", key=JB_BACK):
        st.session_state.pop(JB_LIST_TABLE, None)
        _open_job(None)
        st.rerun()
    snap: JobSnapshot | None = None
    with _guard("read the job", stop=True):
        snap = load_snapshot(ledger, job_id, cache=_cache())
    if snap is None:
        st.error(
            f"There is no job `{job_id}` in this console's ledger. It may belong to another "
            "ledger file, or the link was cut short. Go back to **All jobs** to pick one."
        )
        return
    may_act = _may_act()
    _header(snap.job, may_act=may_act)
    st.fragment(run_every=LIVE_SECONDS if snap.live else None)(_live_body)(
        job_id, snap.live
    )
    with _guard("show the downloads"):
        _downloads(ledger, snap)
    with _guard("show the actions"):
        _actions(ledger, snap, may_act=may_act)
    verify_view.render_verify(ledger, job_id)  # Verify at Gameball, reconcile, undo


def _may_act() -> bool:
    """Whether the person at the console may change jobs: operators only; no when unsure."""
    try:
        return access_view.holds(Role.OPERATOR)
    except Exception:  # roles unreadable: show the job, offer no action
        log.exception("reading the roles of the person at the console failed")
        return False


def _header(job: lg.Job, *, may_act: bool) -> None:
    st.subheader(f"{type_title(job.batch_type)} · {job.file_name or 'untitled file'}")
    bits = [
        f"{STATE_ICON.get(job.state, '')} **{STATE_TEXT.get(job.state, job.state)}**",
        f"submitted by {job.actor or 'unknown'}",
        format_when(job.created_at),
        f"job `{job.id}`",
    ]
    if job.sheet:
        bits.insert(2, f"sheet {job.sheet}")
    st.markdown(" · ".join(bits))
    if job.parent_job_id:
        st.caption(f"Retry of job `{job.parent_job_id}` (its failed rows).")
    if job.error:
        st.warning(job.error)
    schedule_view.job_panel(job, may_act=may_act)  # a scheduled job: countdown, changes
    if job.state == lg.JOB_AWAITING_APPROVAL:
        st.info(
            "This job waits for a second person: an approver reviews it on the **Approvals** "
            "page. Nothing is sent before that."
        )
    if job.state == lg.JOB_NEEDS_OPERATOR:
        st.warning(
            "Some rows are **in doubt**: Gameball may or may not have applied them. "
            + ("Decide below under *Resolve in-doubt chunks*; nothing is resent without you."
               if may_act else "An operator decides on them; nothing is resent before that.")
        )


def _live_body(job_id: str, was_live: bool) -> None:
    """One rerun of the live detail: cheap reads, then drawing."""
    ledger = services.get_ledger()
    cache = _cache()
    statuses = st.session_state.get(JB_ERR_STATUS) or list(ERROR_STATUSES)
    page = int(st.session_state.get(JB_ERR_PAGE) or 1)
    view = None
    with _guard("refresh the job"):
        view = live_view(ledger, job_id, cache=cache, statuses=statuses, page=page)
    if view is None:
        return
    snap, failures, errors = view
    if was_live and not snap.live:
        st.rerun(scope="app")  # the job settled: a full run turns the timer off
    _totals(snap)
    _charts(snap, failures)
    _error_table(snap, errors)


def _totals(snap: JobSnapshot) -> None:
    rows = snap.rows
    st.progress(
        snap.progress,
        text=f"{snap.done_rows:,} of {snap.job.row_count:,} rows finished "
        f"({snap.progress:.0%})",
    )
    cols = st.columns(7)
    cols[0].metric("Rows", f"{snap.job.row_count:,}")
    cols[1].metric("Applied", f"{rows.get(lg.ROW_APPLIED, 0):,}")
    cols[2].metric("Failed", f"{rows.get(lg.ROW_FAILED, 0) + rows.get(lg.ROW_NOT_APPLIED, 0):,}",
                   help="Refused by Gameball, or never sent (job stopped, marked not applied).")
    cols[3].metric("In doubt", f"{rows.get(lg.ROW_UNKNOWN, 0):,}",
                   help="Gameball may or may not have applied these rows; an operator decides.")
    cols[4].metric("Pending", f"{rows.get(lg.ROW_PENDING, 0):,}")
    cols[5].metric("Items/s", f"{snap.rate:,.0f}" if snap.rate else "—",
                   help=f"Items finished per second over the last {RATE_WINDOW:.0f} s.")
    cols[6].metric("ETA", format_duration(snap.eta_seconds) if snap.live else "—")


def _charts(snap: JobSnapshot, failures: Counter[str]) -> None:
    left, right = st.columns([3, 2])
    # Per-item failures are counted in rows (the totals and the bar chart below); the line
    # can only tell chunks Gameball refused as a whole, so it shows them only when any were.
    series = {"finished": snap.done_items}
    if snap.failed_items and snap.failed_items[-1]:
        series["in refused chunks"] = snap.failed_items
    left.plotly_chart(
        progress_figure(
            snap.times,
            series,
            total=snap.job.item_count,
            unit="items",
        ),
        width="stretch",
        key="jb.chart_progress",
    )
    right.plotly_chart(
        chunk_grid_figure(snap.chunk_states), width="stretch", key="jb.chart_chunks"
    )
    if failures:
        st.plotly_chart(failures_figure(failures), width="stretch", key="jb.chart_failures")
        failed = snap.rows.get(lg.ROW_FAILED, 0)
        if failed > FAILURE_SAMPLE:
            st.caption(f"Messages ranked from the first {FAILURE_SAMPLE:,} of {failed:,} "
                       "failed rows.")


def _error_table(snap: JobSnapshot, errors: pd.DataFrame) -> None:
    st.markdown("#### Rows that need attention")
    if not snap.error_rows:
        st.caption("No failed, in-doubt or not-applied rows" +
                   (" so far." if snap.live else "."))
        return
    choices = [s for s in ERROR_STATUSES if snap.rows.get(s, 0)]
    left, right = st.columns([3, 1])
    picked = left.multiselect(
        "Show", choices, default=choices, format_func=lambda s: (
            f"{ROW_STATUS_TEXT.get(s, s)} ({snap.rows.get(s, 0):,})"
        ), key=JB_ERR_STATUS,
    )
    total = sum(snap.rows.get(s, 0) for s in picked)
    pages = max(1, math.ceil(total / ERROR_PAGE_SIZE))
    right.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                       key=JB_ERR_PAGE)
    if errors.empty:
        st.caption("Nothing to show for this choice.")
        return
    st.dataframe(
        errors,
        width="stretch",
        column_config={"row": st.column_config.NumberColumn("source row", format="%d")},
    )
    st.caption("Source row = the row number in your file (header = row 1).")


# --- downloads -----------------------------------------------------------------------------


def _safe_bytes(build: Callable[[], bytes], what: str) -> Callable[[], bytes]:
    """Deferred download data that never raises into Streamlit's download thread."""

    def run() -> bytes:
        try:
            return build()
        except Exception as exc:
            log.exception("building %s failed", what)
            return f"Could not build {what}: {exc}\n".encode()

    return run


def _failed_csv(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    return bytes(exports.to_csv_bytes(job_service.failed_rows_frame(ledger, job_id)))


def _failed_xlsx(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    return bytes(exports.to_xlsx_bytes(job_service.failed_rows_frame(ledger, job_id)))


def _results_csv(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    frame = job_service.rows_frame(ledger, job_id).drop(columns=["chunk"], errors="ignore")
    return bytes(exports.to_csv_bytes(frame.reset_index()))


def _stem(job: lg.Job) -> str:
    name = (job.file_name or "job").rsplit(".", 1)[0]
    return f"{name}-{job.id[:8]}"


def _downloads(ledger: Ledger, snap: JobSnapshot) -> None:
    st.markdown("#### Downloads")
    job, rows = snap.job, snap.rows
    retryable = rows.get(lg.ROW_FAILED, 0) + rows.get(lg.ROW_NOT_APPLIED, 0)
    cols = st.columns(3)
    cols[0].download_button(
        f"Failed rows, CSV ({retryable:,})",
        data=_safe_bytes(lambda: _failed_csv(ledger, job.id), "the failed rows"),
        file_name=f"{_stem(job)}-failed.csv",
        mime="text/csv",
        key=JB_DL_FAILED_CSV,
        disabled=not retryable,
        on_click="ignore",
        icon=":material/download:",
    )
    cols[1].download_button(
        f"Failed rows, XLSX ({retryable:,})",
        data=_safe_bytes(lambda: _failed_xlsx(ledger, job.id), "the failed rows"),
        file_name=f"{_stem(job)}-failed.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=JB_DL_FAILED_XLSX,
        disabled=not retryable,
        on_click="ignore",
        icon=":material/download:",
    )
    cols[2].download_button(
        "Full results, CSV",
        data=_safe_bytes(lambda: _results_csv(ledger, job.id), "the results"),
        file_name=f"{_stem(job)}-results.csv",
        mime="text/csv",
        key=JB_DL_RESULTS,
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(
        "Failed rows keep your original columns plus an *error* column: fix them and upload "
        "the file again. Rows in doubt are left out on purpose — they may have been applied."
    )


# --- actions -------------------------------------------------------------------------------


def _actions(ledger: Ledger, snap: JobSnapshot, *, may_act: bool) -> None:
    job = snap.job
    st.markdown("#### Actions")
    if not may_act:  # no controls at all: a viewer's session never holds an action widget
        st.caption(VIEW_ONLY_TEXT)
        return
    cols = st.columns(4)
    if cols[0].button("Stop", key=JB_STOP, disabled=not is_live(job.state),
                      help="Send nothing more and stop what Gameball is still processing."):
        _act(lambda: job_service.request_stop(ledger, job.id, _actor()),
             "Stop requested: nothing more will be sent.", "The job is no longer running.")
    if cols[1].button("Pause", key=JB_PAUSE,
                      disabled=job.state not in (lg.JOB_QUEUED, lg.JOB_RUNNING),
                      help="Send nothing more for now; chunks already sent are followed."):
        _act(lambda: job_service.pause(ledger, job.id, _actor()),
             "Paused. Resume whenever you are ready.", "Only a running job can be paused.")
    if cols[2].button("Resume", key=JB_RESUME, disabled=job.state != lg.JOB_PAUSED):
        _act(lambda: job_service.resume(ledger, job.id, _actor()),
             "Resumed: the job is back in the queue.", "Only a paused job can be resumed.")
    retryable = snap.rows.get(lg.ROW_FAILED, 0) + snap.rows.get(lg.ROW_NOT_APPLIED, 0)
    rejected = job.state == lg.JOB_REJECTED  # retrying would send without approval
    if cols[3].button(f"Retry failed rows ({retryable:,})", key=JB_RETRY,
                      disabled=rejected or not (retryable and job.state in lg.SETTLED_JOB_STATES),
                      help="A rejected job cannot be retried: submit the file again." if rejected
                      else "A new job with exactly the failed and not-applied rows, same ids."):
        _retry(ledger, job.id)
    _resolve_section(ledger, snap)


def _act(action: Callable[[], bool], done: str, refused: str) -> None:
    with _guard("do that"):
        changed = action()
        _flash("success" if changed else "warning", done if changed else refused)
        st.rerun()


def _retry(ledger: Ledger, job_id: str) -> None:
    with _guard("create the retry job"):
        child = job_service.retry_failed(ledger, job_id, _actor())
        _flash("success", f"Retry job `{child}` created from the failed rows; it starts now.")
        _open_job(child)
        st.rerun()


def _resolve_section(ledger: Ledger, snap: JobSnapshot) -> None:
    if not snap.rows.get(lg.ROW_UNKNOWN, 0):
        return
    doubtful = job_service.in_doubt(ledger, snap.job.id)
    if not doubtful:
        return
    with st.expander(f"Resolve in-doubt chunks ({len(doubtful)})", expanded=True):
        st.write(
            "Gameball may or may not have applied these chunks (the connection dropped, or "
            "it never reported them). Check in Gameball's dashboard, then decide. Your "
            "decision and reason go into the audit trail."
        )
        by_label = {
            f"chunk {c.index + 1} · {len(c.rows):,} rows · {c.error or 'no detail'}": c
            for c in doubtful
        }
        label = st.selectbox("Chunk", list(by_label), key=JB_RESOLVE_CHUNK)
        chunk = by_label[label] if label in by_label else doubtful[0]
        decision = st.radio("Decision", list(chunk.decisions),
                            format_func=lambda d: DECISION_TEXT.get(d, d), key=JB_RESOLVE_DECISION)
        reason = st.text_input("Reason (required)", key=JB_RESOLVE_REASON,
                               placeholder="e.g. checked the dashboard: no transactions at 14:02")
        sure = st.checkbox(f"I am sure: apply this decision to chunk {chunk.index + 1}",
                           key=JB_RESOLVE_CONFIRM)
        if st.button("Apply decision", key=JB_RESOLVE_GO, type="primary",
                     disabled=not (sure and reason.strip())):
            with _guard("record the decision"):
                job_service.resolve_chunk(ledger, snap.job.id, chunk.index, str(decision),
                                          actor=_actor(), reason=reason)
                _flash("success", f"Decision recorded for chunk {chunk.index + 1}.")
                for key in (JB_RESOLVE_REASON, JB_RESOLVE_CONFIRM):
                    st.session_state.pop(key, None)
                st.rerun()


# --- history page --------------------------------------------------------------------------

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


def history_frame(ledger: Ledger, *, limit: int = AUDIT_LIMIT) -> pd.DataFrame:
    frame = job_service.audit_trail(ledger, limit=limit)
    if frame.empty:
        return frame
    frame = frame.iloc[::-1].reset_index(drop=True)  # newest first
    frame.insert(2, "what", frame["action"].map(lambda a: ACTION_TEXT.get(a, a)))
    return frame


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


def render_history_page() -> None:
    """The audit trail: who did what, when; filterable and exportable."""
    st.title("History")
    st.caption("Every upload, submission, approval, stop, retry and resolution, with who "
               "did it and when. The trail is append-only.")
    ledger = _ledger_or_stop()
    frame = pd.DataFrame()
    with _guard("read the audit trail", stop=True):
        frame = history_frame(ledger)
    if frame.empty:
        st.info("Nothing has happened yet. Submitted jobs and every decision appear here.")
        return
    filtered = _history_filters(frame)
    st.dataframe(
        filtered,
        hide_index=True,
        width="stretch",
        column_config={
            "at": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "job_id": st.column_config.TextColumn("job"),
        },
    )
    st.caption(f"{len(filtered):,} of {len(frame):,} entries"
               + (f" (the newest {AUDIT_LIMIT:,})" if len(frame) >= AUDIT_LIMIT else ""))
    with _guard("prepare the export"):
        st.download_button(
            "Export these entries (CSV)",
            data=_safe_bytes(lambda: _history_csv(filtered), "the audit export"),
            file_name="gameball-batch-audit.csv",
            mime="text/csv",
            key=HI_EXPORT,
            on_click="ignore",
            icon=":material/download:",
            disabled=filtered.empty,
        )


def _history_csv(frame: pd.DataFrame) -> bytes:
    from gameball_batch import exports

    out = frame.copy()
    out["at"] = out["at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return bytes(exports.to_csv_bytes(out))


def _history_filters(frame: pd.DataFrame) -> pd.DataFrame:
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    job = c1.text_input("Job id", key=HI_JOB, placeholder="paste a job id or its start")
    actions = c2.multiselect("Action", sorted(frame["action"].unique()), key=HI_ACTIONS,
                             format_func=lambda a: ACTION_TEXT.get(a, a))
    actors = c3.multiselect("Who", sorted(frame["actor"].unique()), key=HI_ACTORS)
    first = frame["at"].min().date()
    last = frame["at"].max().date()
    dates = c4.date_input("Dates (UTC)", value=(first, last), key=HI_DATES)
    since, until = _date_range(dates)
    return filter_history(frame, job=str(job), actions=actions, actors=actors,
                          since=since, until=until)


def _date_range(value: Any) -> tuple[date | None, date | None]:
    if isinstance(value, date):
        return value, value
    if isinstance(value, Sequence) and value:
        start = value[0] if isinstance(value[0], date) else None
        end = value[1] if len(value) > 1 and isinstance(value[1], date) else start
        return start, end
    return None, None
