"""Drives jobs from the ledger through the Gameball client, every row applied at most once.

The state transitions are the product. A chunk moves only through these, each one a guarded
ledger update (the chunk must be in the state named on the left):

    pending  ──mark_sending──▶ sending        payload already in the ledger; only the holder of
                                              a live lease, on a job that is queued/running
    sending  ──jobId──────────▶ accepted      remote job id recorded before any polling
    sending  ──NotSent/429────▶ pending       provably never left, or refused: send later
    sending  ──4xx refused────▶ failed        rows failed with Gameball's message (not applied)
    sending  ──401/403/404────▶ pending       and the job pauses: configuration, not data
    sending  ──5xx/MaybeSent──▶ unknown       may have been applied: never resent blindly
    accepted ──completed──────▶ done          per-item results → rows by result key; items in
                                              neither list → row unknown
    accepted ──failed (job)───▶ failed        same mapping
    accepted ──stopped────────▶ done          unreported rows not_applied (or unknown when
                                              Gameball reports nothing after it had started)
    unknown  ──resend-safe────▶ pending       customers/balance-inquiries (idempotent) and
                                              orders/cashback/redemptions (server dedupes), at
                                              most RESEND_LIMIT times; then an "already exists"
                                              (9004) failure of a key this job sent counts as
                                              applied
    unknown  ──operator───────▶ pending | done | failed   (jobs.resolve_chunk, audited)
    pending  ──job stopping───▶ failed        rows not_applied

A ``sending`` chunk found by a new lease holder (its runner died mid-POST) becomes
``unknown``. ``accepted`` chunks survive restarts: the new runner just polls their jobId.

Jobs: queued → running → finished | needs_operator (in-doubt rows wait for a decision);
paused (send nothing more, follow accepted chunks); stopping → stopped.

Recording is handed off, sending is not. ``sending`` (before the POST), ``accepted``
(before the first poll), ``pending`` and ``unknown`` are each written in their own
transaction the moment they happen; ``sending`` and ``accepted`` even go ahead of recording
that waits for the ledger (see ``ledger._WriteLock``). Only the last step, ``accepted →
done/failed`` with its rows, is handed to one recorder thread. A crash or a failed
transaction before that commit leaves the chunk ``accepted`` with its jobId, so the next
runner polls Gameball again and records the same results: nothing is lost that cannot be
re-derived, no chunk is marked sent that was not, no row applied that was not.

One runner per process (``owner_id`` = host:pid:random). A job is driven only under a lease
in the ledger, renewed while driving; a lease whose owner process is gone on this host, or
whose time ran out, may be taken over. The chunk-level guard (``mark_sending`` checks the
lease inside its UPDATE) is what makes two runners unable to send the same chunk.

This module must not build payloads, read files, talk HTTP itself (the client does) or
touch streamlit. It never sees API keys: the client factory holds them.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Protocol

from gameball_batch import batch_types
from gameball_batch import ledger as lg
from gameball_batch.batch_types import BatchType
from gameball_batch.client import ItemResult, JobStatus
from gameball_batch.client.errors import (
    ApiError,
    AuthError,
    GameballError,
    InvalidRequest,
    NotFound,
    NotSent,
    RateLimited,
)
from gameball_batch.ledger import ItemOutcome, Ledger

log = logging.getLogger(__name__)

RESEND_LIMIT = 5  # automatic resends of one in-doubt chunk before an operator must decide
ALREADY_EXISTS_CODE = 9004
POLL_FLOOR = 0.05  # seconds between polls of a job still running, at the least
PENDING_BATCH = 64  # pending chunk indices read per scheduling query
FINAL_REMOTE_STATES = ("completed", "failed", "stopped")
DRIVE_STATES = (lg.JOB_QUEUED, lg.JOB_RUNNING, lg.JOB_STOPPING)
SEND_STATES = (lg.JOB_QUEUED, lg.JOB_RUNNING)


class Client(Protocol):
    """What the runner needs of :class:`gameball_batch.client.GameballClient`."""

    def create_batch(self, slug_or_type: str, payload: bytes) -> str: ...
    def get_status(self, job_id: str, batch_type: str | None = None) -> JobStatus: ...
    def stop(self, job_id: str) -> None: ...
    def close(self) -> None: ...


ClientFactory = Callable[[], Client]


def new_owner_id() -> str:
    """host:pid:random — the pid lets a runner on the same host see that an owner died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host in a process that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def describe(exc: BaseException) -> str:
    """An operator-facing line for a client error (never a key: the client never puts one)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ApiError) and exc.code is not None and str(exc.code) not in text:
        text = f"{text} (code {exc.code})"
    return text


def is_already_exists(item: ItemResult) -> bool:
    return item.code == ALREADY_EXISTS_CODE or "already exists" in (item.message or "").lower()


class _FirstPoll:
    """How long to wait before a chunk's first status poll, learnt per job.

    It starts at ``poll_initial``. A remote job already finished at its first poll halves the
    wait for the next chunk (Gameball, or an instant sandbox, is faster than assumed); one
    still running doubles it again, never above ``poll_initial``. A fast Gameball is not held
    back by a fixed wait, and a slow one costs at most about one extra status request per
    chunk while the wait settles (the rate limiter counts those like any other).
    """

    def __init__(self, initial: float) -> None:
        self._initial = initial
        self._waits: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, job_id: str) -> float:
        with self._lock:
            return self._waits.get(job_id, self._initial)

    def learn(self, job_id: str, finished: bool) -> None:
        with self._lock:
            current = self._waits.get(job_id, self._initial)
            if finished:
                current = current / 2 if current >= 0.002 else 0.0
            else:
                current = min(self._initial, max(current * 2, POLL_FLOOR))
            self._waits[job_id] = current


class _Recorder:
    """One writer thread that records finished chunks, one ledger transaction each.

    Workers hand over a chunk's final status and go on sending: recording (mapping results
    to rows, JSON, SQL) is off the path that keeps Gameball busy. One chunk per transaction
    (~2 ms for 1000 rows), because a sender waiting to mark its next chunk goes in between
    (see ``ledger._WriteLock``). A chunk handed over but not yet recorded is still
    ``accepted`` in the ledger, so a crash (or a failed transaction) loses nothing that
    cannot be re-derived: the next runner polls its remote job again and records it then.
    """

    def __init__(self, ledger: Ledger, *, capacity: int) -> None:
        self._ledger = ledger
        # Bounded: a worker waits when recording falls behind, so memory stays flat.
        self._queue: queue.Queue[Callable[[], lg.ChunkFinish] | None] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name="gameball-recorder",
                                        daemon=True)
        self._thread.start()

    def put(self, finish: Callable[[], lg.ChunkFinish]) -> None:
        self._queue.put(finish)

    def close(self) -> None:
        """Record everything handed over so far, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (make := self._queue.get()) is not None:
            try:
                self._ledger.finish_chunks([make()])
            except Exception:  # the chunk stays accepted: the next drive polls it again
                log.exception("recording a finished chunk failed; it will be polled again")


class Runner:
    """The process-level submission engine. ``start()`` a daemon thread, or ``drive()``."""

    def __init__(
        self,
        ledger: Ledger,
        client_factory: ClientFactory,
        *,
        owner_id: str | None = None,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_initial: float = 0.5,
        poll_factor: float = 1.5,
        poll_max: float = 10.0,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        tick: float = 0.25,
        resend_limit: int = RESEND_LIMIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.ledger = ledger
        self.owner_id = owner_id or new_owner_id()
        self._factory = client_factory
        self._client: Client | None = None
        self._client_lock = threading.Lock()
        self._concurrency = concurrency
        self._lease_seconds = lease_seconds
        self._poll = (poll_initial, poll_factor, poll_max)
        self._first_poll = _FirstPoll(poll_initial)
        self._retry = (retry_initial, retry_max)
        self._tick = tick
        self._resend_limit = resend_limit
        self._clock = clock
        self._sleep = sleep
        self._halt = threading.Event()
        self._lost: set[str] = set()  # jobs whose lease we lost while driving
        self._driving: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Resume every unfinished job now and keep picking up new ones in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._halt.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"gameball-runner-{self.owner_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Send nothing more, let in-flight requests finish, release every lease, close."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            threads = list(self._driving.values())
        for thread in threads:
            thread.join(timeout)
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self.scan()
            except Exception:  # keep the process-level runner alive; the job stays resumable
                log.exception("runner scan failed")
            self._halt.wait(self._tick)

    def scan(self) -> list[str]:
        """Start a driving thread for each unfinished job nobody else holds; their ids."""
        started = []
        for job in self.ledger.jobs(states=DRIVE_STATES, limit=1000):
            if self._held_elsewhere(job) or self._is_driving(job.id):
                continue
            thread = threading.Thread(
                target=self._drive_quietly, args=(job.id,), daemon=True,
                name=f"gameball-job-{job.id[:8]}",
            )
            with self._lock:
                self._driving[job.id] = thread
            thread.start()
            started.append(job.id)
        return started

    def _held_elsewhere(self, job: lg.Job) -> bool:
        live = job.lease_owner not in (None, self.owner_id) and (
            (job.lease_expires or 0) > self._clock()
        )
        return live and not owner_is_dead(job.lease_owner or "")

    def _is_driving(self, job_id: str) -> bool:
        with self._lock:
            thread = self._driving.get(job_id)
        return thread is not None and thread.is_alive()

    def _drive_quietly(self, job_id: str) -> None:
        try:
            self.drive(job_id)
        except Exception:
            log.exception("driving job %s failed; it stays resumable", job_id)
        finally:
            with self._lock:
                if self._driving.get(job_id) is threading.current_thread():
                    del self._driving[job_id]

    # --- waiting -----------------------------------------------------------------------

    def idle(self, job_id: str) -> bool:
        """Nothing more will happen to this job without an operator (or a resume)."""
        job = self.ledger.job(job_id)
        if job is None or job.state in lg.SETTLED_JOB_STATES:
            return True
        if job.state != lg.JOB_PAUSED:
            return False
        counts = self.ledger.chunk_counts(job_id)
        return counts[lg.CHUNK_SENDING] == 0 and counts[lg.CHUNK_ACCEPTED] == 0

    def wait(self, job_id: str, timeout: float | None = None) -> lg.Job:
        """Block until the job is idle (another thread or process drives it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle(job_id):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still running after {timeout:g} s")
            self._pause(self._tick)
        return self._job(job_id)

    def run_until_idle(self, job_id: str, timeout: float | None = None) -> lg.Job:
        """Drive the job in this thread; if another live runner holds it, wait for it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle(job_id) and not self._halt.is_set():
            job = self._job(job_id)
            if job.state in DRIVE_STATES and self.drive(job_id):
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still running after {timeout:g} s")
            self._pause(self._tick)
        return self._job(job_id)

    def halt(self) -> None:
        """Ask every loop of this runner to stop at its next step (Ctrl-C in the CLI)."""
        self._halt.set()

    # --- driving one job ---------------------------------------------------------------

    def drive(self, job_id: str) -> bool:
        """Drive one job until nothing more can happen; False if another runner holds it."""
        if not self.ledger.acquire_lease(
            job_id, self.owner_id, self._lease_seconds, break_if=owner_is_dead
        ):
            return False
        try:
            self._lost.discard(job_id)
            job = self._job(job_id)
            bt = batch_types.get(job.batch_type)
            self.ledger.recover_sending(job_id, self.owner_id)
            self.ledger.set_job_state(job_id, lg.JOB_RUNNING, expect=(lg.JOB_QUEUED,),
                                      actor=self.owner_id)
            self._requeue_in_doubt(job_id, bt)
            self._pump(job_id, bt)
            if job_id not in self._lost:
                self._settle(job_id)
        finally:
            self.ledger.release_lease(job_id, self.owner_id)
        return True

    def _pump(self, job_id: str, bt: BatchType) -> None:
        """Keep up to ``concurrency`` chunks in flight until nothing is left to do."""
        recorder = _Recorder(self.ledger, capacity=2 * self._concurrency)
        try:
            self._pump_with(job_id, bt, recorder)
        finally:
            recorder.close()  # every handed-over result is in the ledger before we settle

    def _pump_with(self, job_id: str, bt: BatchType, recorder: _Recorder) -> None:
        inflight: dict[Future[None], int] = {}
        # Chunks accepted before we took the lease (a restart) are followed first; pending
        # chunks are read in batches, so a chunk costs no scheduling query of its own.
        backlog = {c.index: c for c in self.ledger.chunks(job_id, states=(lg.CHUNK_ACCEPTED,))}
        ready: deque[int] = deque()
        renewed = self._clock()
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="gameball-chunk") as pool:
            while True:
                if self._clock() - renewed >= self._lease_seconds / 3:
                    if not self.ledger.renew_lease(job_id, self.owner_id, self._lease_seconds):
                        log.warning("lost the lease on job %s; leaving it", job_id)
                        self._lost.add(job_id)
                    renewed = self._clock()
                if not (self._halt.is_set() or job_id in self._lost):
                    busy = set(inflight.values())
                    for task in self._next_chunks(job_id, busy, self._concurrency - len(inflight),
                                                  backlog, ready):
                        inflight[pool.submit(self._run_chunk, job_id, bt, *task,
                                             recorder)] = task[0]
                if not inflight:
                    delay = self._idle_delay(job_id)
                    if delay is None:
                        return
                    self._pause(delay)
                    continue
                done, _ = wait(inflight, timeout=self._tick, return_when=FIRST_COMPLETED)
                for future in done:
                    index = inflight.pop(future)
                    if future.exception() is not None:
                        log.error("chunk %s of job %s failed unexpectedly", index, job_id,
                                  exc_info=future.exception())

    def _next_chunks(
        self, job_id: str, busy: set[int], free: int, backlog: dict[int, lg.Chunk],
        queue: deque[int],
    ) -> list[tuple[int, lg.Chunk | None]]:
        """(index, accepted chunk or None for a pending one) to run next, at most ``free``."""
        if free <= 0:
            return []
        state = self._state(job_id)
        if state == lg.JOB_STOPPING:
            self._stop_pending(job_id)
        tasks: list[tuple[int, lg.Chunk | None]] = []
        for index in [i for i in backlog if i not in busy][:free]:
            tasks.append((index, backlog.pop(index)))
        if state not in SEND_STATES:
            queue.clear()
            return tasks
        while len(tasks) < free:
            if not queue:
                queue.extend(self.ledger.ready_chunks(job_id, limit=PENDING_BATCH,
                                                      exclude=busy))
                if not queue:
                    break
            index = queue.popleft()
            if index not in busy:
                tasks.append((index, None))
        return tasks

    def _idle_delay(self, job_id: str) -> float | None:
        """With nothing in flight: how long until a backed-off chunk is due (None: done)."""
        if self._halt.is_set() or job_id in self._lost:
            return None
        if self._state(job_id) not in SEND_STATES:
            return None
        due = self.ledger.next_not_before(job_id)
        if due is None:
            return None
        return min(max(due - self._clock(), 0.0), self._tick)

    def _settle(self, job_id: str) -> None:
        """Give the job its resting state once no chunk is pending, sending or accepted."""
        job = self._job(job_id)
        chunks = self.ledger.chunk_counts(job_id)
        if chunks[lg.CHUNK_SENDING] or chunks[lg.CHUNK_ACCEPTED]:
            return
        if chunks[lg.CHUNK_PENDING] and job.state != lg.JOB_STOPPING:
            return  # paused, or halted: it stays resumable
        rows = self.ledger.row_counts(job_id)
        if job.state == lg.JOB_STOPPING:
            self._stop_pending(job_id)
            state = lg.JOB_STOPPED
        elif chunks[lg.CHUNK_UNKNOWN] or rows[lg.ROW_UNKNOWN]:
            state = lg.JOB_NEEDS_OPERATOR
        else:
            state = lg.JOB_FINISHED
        self.ledger.set_job_state(
            job_id, state, expect=(lg.JOB_QUEUED, lg.JOB_RUNNING, lg.JOB_PAUSED,
                                   lg.JOB_STOPPING),
            actor=self.owner_id, detail={"rows": rows},
        )

    def _stop_pending(self, job_id: str) -> None:
        for chunk in self.ledger.chunks(job_id, states=(lg.CHUNK_PENDING,)):
            self.ledger.finish_chunk(
                job_id, chunk.index, state=lg.CHUNK_FAILED, outcomes=(),
                unlisted=(lg.ROW_NOT_APPLIED, "Not sent: the job was stopped."),
                error="stopped before sending", expect=(lg.CHUNK_PENDING,),
            )

    def _requeue_in_doubt(self, job_id: str, bt: BatchType) -> None:
        """Resend-safe types: in-doubt chunks go back to pending (within the resend limit)."""
        if not bt.resend_safe:
            return
        for chunk in self.ledger.chunks(job_id, states=(lg.CHUNK_UNKNOWN,)):
            if chunk.doubts <= self._resend_limit:
                self._auto_resend(job_id, bt, chunk.index, chunk.last_error or "", chunk.doubts)

    def _auto_resend(self, job_id: str, bt: BatchType, index: int, error: str,
                     doubts: int) -> None:
        self.ledger.mark_pending(
            job_id, index, error=error, not_before=self._clock() + self._backoff(doubts),
            expect=(lg.CHUNK_UNKNOWN,), actor=self.owner_id,
            detail={"reason": f"automatic resend: {bt.title} is safe to resend", "error": error},
        )

    # --- one chunk ---------------------------------------------------------------------

    def _run_chunk(self, job_id: str, bt: BatchType, index: int,
                   accepted: lg.Chunk | None, recorder: _Recorder) -> None:
        if accepted is not None and accepted.remote_job_id is not None:
            self._follow(job_id, bt, index, accepted.remote_job_id, accepted.doubts > 0,
                         recorder)
            return
        sent = self._send(job_id, bt, index)
        if sent is not None:
            self._follow(job_id, bt, index, *sent, recorder)

    def _send(self, job_id: str, bt: BatchType, index: int) -> tuple[str, bool] | None:
        """POST the stored payload: (jobId, resent), or None when the chunk is not accepted."""
        claimed = self.ledger.claim(job_id, index, self.owner_id)
        if claimed is None:
            return None
        payload, doubts = claimed
        try:
            remote = self.client().create_batch(bt.slug, payload)
        except (NotSent, RateLimited) as exc:
            hinted = getattr(exc, "retry_after", None)
            wait_for = min(hinted, self._retry[1]) if hinted else self._backoff(
                self._attempts(job_id, index))
            self.ledger.mark_pending(job_id, index, error=describe(exc),
                                     not_before=self._clock() + wait_for)
            return None
        except (AuthError, NotFound) as exc:
            self._pause_for_configuration(job_id, index, exc)
            return None
        except InvalidRequest as exc:
            message = f"Gameball refused this chunk: {describe(exc)}"
            self.ledger.finish_chunk(job_id, index, state=lg.CHUNK_FAILED, outcomes=(),
                                     unlisted=(lg.ROW_FAILED, message), error=message,
                                     expect=(lg.CHUNK_SENDING,), actor=self.owner_id)
            return None
        except Exception as exc:  # ServerError, MaybeSent, or anything we cannot explain
            if not isinstance(exc, GameballError):
                log.exception("unexpected error sending chunk %s of job %s", index, job_id)
            self._in_doubt(job_id, bt, index, describe(exc), expect=(lg.CHUNK_SENDING,))
            return None
        self.ledger.mark_accepted(job_id, index, remote)
        return remote, doubts > 0

    def _attempts(self, job_id: str, index: int) -> int:
        chunk = self.ledger.chunk(job_id, index)
        return chunk.attempts if chunk else 1

    def _pause_for_configuration(self, job_id: str, index: int, exc: GameballError) -> None:
        message = f"Paused: Gameball refused the connection settings: {describe(exc)}"
        self.ledger.mark_pending(job_id, index, error=describe(exc))
        self.ledger.set_job_state(job_id, lg.JOB_PAUSED, expect=SEND_STATES, error=message,
                                  actor=self.owner_id)

    def _in_doubt(self, job_id: str, bt: BatchType, index: int, error: str,
                  *, expect: Collection[str]) -> None:
        if not self.ledger.mark_unknown(job_id, index, error=error, expect=expect,
                                        actor=self.owner_id):
            return
        chunk = self.ledger.chunk(job_id, index)
        if bt.resend_safe and chunk is not None and chunk.doubts <= self._resend_limit:
            self._auto_resend(job_id, bt, index, error, chunk.doubts)

    def _follow(self, job_id: str, bt: BatchType, index: int, remote: str,
                resent: bool, recorder: _Recorder) -> None:
        """Poll an accepted chunk's remote job with back-off until it ends, then record it."""
        _initial, factor, ceiling = self._poll
        delay = self._first_poll.wait(job_id)
        first = True
        stop_sent = False
        while not (self._halt.is_set() or job_id in self._lost):
            if not stop_sent and self._state(job_id) == lg.JOB_STOPPING:
                stop_sent = self._stop_remote(remote)
                delay = 0.0
            self._pause(delay)
            try:
                status = self.client().get_status(remote, bt.slug)
            except NotFound as exc:  # the remote job is gone: we cannot know what it did
                self._in_doubt(job_id, bt, index, f"Gameball no longer knows job {remote}: "
                               f"{describe(exc)}", expect=(lg.CHUNK_ACCEPTED,))
                return
            except GameballError as exc:  # the client already retried; keep following
                log.warning("status of remote job %s: %s", remote, describe(exc))
                delay = min(max(delay * factor, POLL_FLOOR), ceiling)
                continue
            if first and not stop_sent:
                self._first_poll.learn(job_id, status.state in FINAL_REMOTE_STATES)
            first = False
            if status.state in FINAL_REMOTE_STATES:
                recorder.put(functools.partial(self._finish, job_id, index, remote, resent,
                                               status))
                return
            delay = min(max(delay * factor, POLL_FLOOR), ceiling)

    def _stop_remote(self, remote: str) -> bool:
        try:
            self.client().stop(remote)
        except GameballError as exc:
            log.warning("stopping remote job %s: %s", remote, describe(exc))
        return True

    def _finish(self, job_id: str, index: int, remote: str, resent: bool,
                status: JobStatus) -> lg.ChunkFinish:
        """Map every per-item result to its source rows by result key: the chunk's closing.

        ``resent``: an earlier send of this chunk may have been applied, so "already exists"
        for one of its keys means applied by that earlier send.
        """
        # A key that is not in this chunk matches no row; the ledger ignores it.
        applied = [key for key in status.successful.item_keys() if key is not None]
        outcomes = [self._failure(i, i.key, resent) for i in status.failed if i.key is not None]
        # Gameball's reply as received is the chunk's record; encode one only without it.
        results: object = status.body or {"successful": list(status.successful.raw()),
                                          "failed": list(status.failed.raw())}
        return lg.ChunkFinish(
            job_id, index,
            # "failed" only for a job-level failure with no per-item results: a job whose
            # items all failed (or all turned out applied earlier) is still a processed chunk.
            state=lg.CHUNK_FAILED if status.state == "failed" and not (applied or outcomes)
            else lg.CHUNK_DONE,
            applied=applied, outcomes=outcomes, results=results,
            unlisted=self._unlisted(status),
            detail={"remote_job_id": remote,
                    "applied": len(applied) + sum(o.status == lg.ROW_APPLIED for o in outcomes),
                    "failed": sum(o.status == lg.ROW_FAILED for o in outcomes)},
        )

    @staticmethod
    def _failure(item: ItemResult, key: str, resent: bool) -> ItemOutcome:
        if resent and is_already_exists(item):
            # This job sent the key before, in an attempt whose fate was unknown: that
            # attempt is what Gameball remembers, so the row is applied (exactly once).
            message = f"Applied by an earlier attempt of this job (Gameball: {item.message})"
            return ItemOutcome(key, lg.ROW_APPLIED, message, item.data)
        return ItemOutcome(key, lg.ROW_FAILED, item.message or "failed (no message)",
                           item.data)

    @staticmethod
    def _unlisted(status: JobStatus) -> tuple[str, str]:
        if status.state != "stopped":
            return (lg.ROW_UNKNOWN, "Gameball finished the job without reporting this row.")
        nothing_started = (not status.successful and not status.failed
                           and status.started_at is None and not status.finished_count)
        if status.successful or status.failed or nothing_started:
            return (lg.ROW_NOT_APPLIED, "Not applied: the job was stopped before Gameball "
                                        "processed this row.")
        return (lg.ROW_UNKNOWN, "The job was stopped and Gameball did not report this row.")

    # --- helpers -----------------------------------------------------------------------

    def client(self) -> Client:
        """The shared client, made on first use (a stop-only run may never need one)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def _job(self, job_id: str) -> lg.Job:
        job = self.ledger.job(job_id)
        if job is None:
            raise KeyError(f"No job {job_id} in {self.ledger.path}")
        return job

    def _state(self, job_id: str) -> str:
        state = self.ledger.job_state(job_id)
        if state is None:
            raise KeyError(f"No job {job_id} in {self.ledger.path}")
        return state

    def _backoff(self, attempt: int) -> float:
        base, ceiling = self._retry
        return float(min(ceiling, base * 2 ** max(attempt - 1, 0)) * (0.5 + random.random() / 2))

    def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self._halt.wait(seconds)

