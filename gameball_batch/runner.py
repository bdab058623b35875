"""Drives jobs from the ledger through the Gameball client, every row applied at most once.

The runner keeps threads, leases and scheduling. What a reply or an error *means* is decided
in ``outcomes.py``; which state may follow which, and who may move it, is the ledger's
transition table (``ledger/transitions.py``). The path of a chunk::

    pending  ──claim (durable)──▶ sending      payload already in the ledger; only the holder
                                               of a live lease, on a job still sending
    sending  ──jobId────────────▶ accepted     remote job id recorded before any polling
    sending  ──not sent / 429───▶ pending      provably never left, or refused: send later
    sending  ──4xx refused──────▶ failed       rows failed with Gameball's message
    sending  ──401/403/404──────▶ pending      and the job pauses: configuration, not data
    sending  ──5xx / lost answer▶ unknown      may have been applied: never resent blindly
    accepted ──final status─────▶ done|failed  outcomes.read_status: rows by customer/key;
                                               rows the reply does not name stay in doubt
    accepted ──no progress / 4xx▶ unknown      everything ends: after ``max_age`` without
                                               progress or ``max_refusals`` refused reads
    unknown  ──resend-safe──────▶ pending      customers, balance inquiries (idempotent) and
                                               orders, cashback, redemptions (server dedupes),
                                               at most RESEND_LIMIT times; rows stay in doubt
                                               until the resend's reply names them
    unknown  ──operator/evidence▶ pending | done | failed   (jobs.py, verify, audited)

**Stop sending** (a job in ``stopping``) sends nothing new: pending chunks that never left
fail with their rows not applied (those that were in doubt before stay in doubt), and chunks
Gameball accepted are followed to the end, so every outcome stays known. **Abort at
Gameball** (``stopping`` with ``abort``) also asks Gameball to stop each remote job, retrying
a refused stop with back-off (shown on the job and audited).

A ``sending`` chunk found by a new lease holder (its runner died mid-POST) becomes
``unknown``. ``accepted`` chunks survive restarts: the new runner polls their jobId.

Recording is handed off, sending is not. ``sending`` (before the POST, fsynced), ``accepted``
(before the first poll), ``pending`` and ``unknown`` are each written in their own
transaction the moment they happen. Only ``accepted → done/failed`` with its rows is handed
to one recorder thread; a crash before that commit leaves the chunk ``accepted`` with its
jobId, so the next runner polls Gameball again and records the same results.

One runner per process (``owner_id`` = host:pid:random:pid-namespace). A job is driven only
under a lease in the ledger, renewed while driving; a lease whose time ran out, or whose
owner process is gone on this host *and in this PID namespace*, may be taken over. Every
exit from ``sending``/``accepted`` names its owner, so a stale runner's late reply cannot
overwrite the new owner's chunk (the refusal is audited with the Gameball job id).

A runner serves one target (sandbox or production, base URL, key fingerprint): it never
drives a job that was sent to another.

This module must not build payloads, read files, talk HTTP itself (the client does) or
touch streamlit. It never sees API keys: the client factory holds them.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol

from gameball_batch import batch_types, schedule
from gameball_batch import ledger as lg
from gameball_batch import outcomes as oc
from gameball_batch.batch_types import BatchType
from gameball_batch.client import JobStatus
from gameball_batch.client.errors import (
    ApiError,
    GameballError,
    NotFound,
    RateLimited,
    ServerError,
)
from gameball_batch.ledger import Ledger, Target, WrongTarget
from gameball_batch.snapshots import BeforeSend

log = logging.getLogger(__name__)

RESEND_LIMIT = 5  # automatic resends of one in-doubt chunk before an operator must decide
POLL_FLOOR = 0.05  # seconds between polls of a job still running, at the least
PENDING_BATCH = 64  # pending chunk indices read per scheduling query
STATE_FRESH = 0.25  # seconds a job state read stays good enough for the hot paths
MAX_AGE = 30 * 60.0  # seconds a remote job may go without progress before it is in doubt
MAX_REFUSALS = 5  # status reads refused with a 4xx in a row before the chunk is in doubt
FINAL_REMOTE_STATES = ("completed", "failed", "stopped")
DRIVE_STATES = (lg.JOB_QUEUED, lg.JOB_RUNNING, lg.JOB_STOPPING)
SEND_STATES = (lg.JOB_QUEUED, lg.JOB_RUNNING)
# Rows of other jobs that could be why Gameball already holds an id (DESIGN.md §3).
LIVE_ROWS = (lg.ROW_APPLIED, lg.ROW_PENDING, lg.ROW_UNKNOWN)


class Client(Protocol):
    """What the runner needs of :class:`gameball_batch.client.GameballClient`."""

    def create_batch(self, slug_or_type: str, payload: bytes) -> str: ...
    def get_status(self, job_id: str, batch_type: str | None = None) -> JobStatus: ...
    def stop(self, job_id: str) -> None: ...
    def close(self) -> None: ...


ClientFactory = Callable[[], Client]


def _pid_namespace() -> str:
    """This process's PID namespace and boot: two containers with one hostname differ here."""
    parts = []
    with contextlib.suppress(OSError):
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8])
    return "-".join(parts)


def new_owner_id() -> str:
    """host:pid:random:namespace: the pid tells a runner here that an owner died, and the
    namespace says whether "here" is really the same PID space."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{_pid_namespace()}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host, in this PID namespace and boot, in a
    process that no longer exists. Anything else waits for its lease to run out."""
    parts = owner.split(":")
    if len(parts) < 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    namespace = _pid_namespace()
    if not namespace or parts[3] != namespace:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False





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
    """The process-level submission engine. ``start()`` a daemon thread, or ``drive()``.

    ``target``: the Gameball this runner's client talks to; jobs sent to another are left
    alone (``None``: drive whatever the ledger holds, for ledgers without targets).
    """

    def __init__(
        self,
        ledger: Ledger,
        client_factory: ClientFactory,
        *,
        owner_id: str | None = None,
        target: Target | None = None,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        poll_initial: float = 0.5,
        poll_factor: float = 1.5,
        poll_max: float = 10.0,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        tick: float = 0.25,
        resend_limit: int = RESEND_LIMIT,
        max_age: float = MAX_AGE,
        max_refusals: int = MAX_REFUSALS,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        max_jobs: int | None = None,
        before_send: BeforeSend | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.ledger = ledger
        self.owner_id = owner_id or new_owner_id()
        self.target = target
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
        self._max_age = max_age
        self._max_refusals = max_refusals
        # The ledger's clock by default: on PostgreSQL, the database's, so leases and
        # back-offs mean the same to every worker whatever its own clock says.
        self._clock = clock if clock is not None else ledger.now
        self._sleep = sleep
        self._max_jobs = max_jobs  # drive at most this many jobs at once (None: every one)
        # e.g. snapshots.before_send: balances of an adjustments chunk's customers, just
        # before it is sent (the console and the CLI turn it on; see snapshots.hook_for).
        self._before_send = before_send
        self._halt = threading.Event()
        self._lost: set[str] = set()  # jobs whose lease we lost, or whose time ran out
        self._states: dict[str, tuple[float, str]] = {}  # job -> (monotonic, state) read
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
        """Start a driving thread for each unfinished job of our target nobody else holds."""
        started = []
        schedule.release_due(self.ledger)  # scheduled jobs whose time came: queued now
        # A paused job sends nothing more, but chunks Gameball accepted are still followed
        # to their results (after a restart too).
        paused = [j for j in self.ledger.jobs(states=(lg.JOB_PAUSED,), limit=1000)
                  if self.ledger.chunk_counts(j.id)[lg.CHUNK_ACCEPTED]]
        for job in [*self.ledger.jobs(states=DRIVE_STATES, limit=1000), *paused]:
            if not self.serves(job) or self._held_elsewhere(job) or self._is_driving(job.id):
                continue
            if self._max_jobs is not None and self._busy() >= self._max_jobs:
                break  # the rest is left to other workers (or to this one, later)
            thread = threading.Thread(
                target=self._drive_quietly, args=(job.id,), daemon=True,
                name=f"gameball-job-{job.id[:8]}",
            )
            with self._lock:
                self._driving[job.id] = thread
            thread.start()
            started.append(job.id)
        return started

    def serves(self, job: lg.Job) -> bool:
        """Whether this runner may drive ``job``: it was sent to this runner's target."""
        if self.target is None or not job.target.known:
            return self.target is None or not job.target.known
        return job.target.same_as(self.target)

    def check_target(self, job: lg.Job) -> None:
        """Raise :class:`WrongTarget`, naming the target the job needs, if we may not drive it."""
        if not self.serves(job):
            here = self.target.label if self.target is not None else "no recorded target"
            raise WrongTarget(
                f"Job {job.id[:8]} was sent to {job.target.label}; this runner talks to "
                f"{here}. Configure the same target (credentials and base URL) to drive it.")

    def _held_elsewhere(self, job: lg.Job) -> bool:
        live = job.lease_owner not in (None, self.owner_id) and (
            (job.lease_expires or 0) > self._clock()
        )
        return live and not owner_is_dead(job.lease_owner or "")

    def _busy(self) -> int:
        with self._lock:
            return sum(1 for thread in self._driving.values() if thread.is_alive())

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
        """Drive the job in this thread; if another live runner holds it, wait for it.

        ``timeout`` is honoured inside the drive too: when it passes, this runner leaves the
        job (resumable, lease released) and raises :class:`TimeoutError`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self.check_target(self._job(job_id))
        while not self.idle(job_id) and not self._halt.is_set():
            job = self._job(job_id)
            if job.state in DRIVE_STATES and self.drive(job_id, deadline=deadline):
                if deadline is not None and time.monotonic() > deadline \
                        and not self.idle(job_id):
                    break
                continue
            if deadline is not None and time.monotonic() > deadline:
                break
            self._pause(self._tick)
        if deadline is not None and time.monotonic() > deadline and not self.idle(job_id):
            raise TimeoutError(f"job {job_id} is still running after {timeout:g} s")
        return self._job(job_id)

    def halt(self) -> None:
        """Ask every loop of this runner to stop at its next step (Ctrl-C in the CLI)."""
        self._halt.set()

    # --- driving one job ---------------------------------------------------------------

    def drive(self, job_id: str, *, deadline: float | None = None) -> bool:
        """Drive one job until nothing more can happen; False if another runner holds it.

        ``deadline`` (``time.monotonic()``): leave the job, still resumable, when it passes.
        """
        self.check_target(self._job(job_id))
        if not self.ledger.acquire_lease(
            job_id, self.owner_id, self._lease_seconds, break_if=owner_is_dead
        ):
            return False
        try:
            self._lost.discard(job_id)
            self._states.pop(job_id, None)  # a reading from an earlier drive is stale now
            job = self._job(job_id)
            bt = batch_types.get(job.batch_type)
            self.ledger.recover_sending(job_id, self.owner_id)
            self.ledger.set_job_state(job_id, lg.JOB_RUNNING, expect=(lg.JOB_QUEUED,),
                                      actor=self.owner_id)
            self._requeue_in_doubt(job_id, bt)
            self._pump(job_id, bt, deadline)
            # Settle only while still holding the lease: a runner whose lease was taken
            # over (and that has not noticed yet) must not close the new owner's job.
            if job_id not in self._lost and self.ledger.renew_lease(
                    job_id, self.owner_id, self._lease_seconds):
                self._settle(job_id)
        finally:
            self.ledger.release_lease(job_id, self.owner_id)
            self._states.pop(job_id, None)
        return True

    def _leaving(self, job_id: str, deadline: float | None) -> bool:
        """Whether to stop working on this job now (halted, lease lost, time is up)."""
        if deadline is not None and time.monotonic() > deadline:
            self._lost.add(job_id)
        return self._halt.is_set() or job_id in self._lost

    def _pump(self, job_id: str, bt: BatchType, deadline: float | None) -> None:
        """Keep up to ``concurrency`` chunks in flight until nothing is left to do."""
        recorder = _Recorder(self.ledger, capacity=2 * self._concurrency)
        try:
            self._pump_with(job_id, bt, recorder, deadline)
        finally:
            recorder.close()  # every handed-over result is in the ledger before we settle

    def _pump_with(self, job_id: str, bt: BatchType, recorder: _Recorder,
                   deadline: float | None) -> None:
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
                if not self._leaving(job_id, deadline):
                    busy = set(inflight.values())
                    for task in self._next_chunks(job_id, busy, self._concurrency - len(inflight),
                                                  backlog, ready):
                        inflight[pool.submit(self._run_chunk, job_id, bt, *task,
                                             recorder, deadline)] = task[0]
                if not inflight:
                    delay = self._idle_delay(job_id, deadline)
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
        state = self._state(job_id, recent=True)
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

    def _idle_delay(self, job_id: str, deadline: float | None) -> float | None:
        """With nothing in flight: how long until a backed-off chunk is due (None: done)."""
        if self._leaving(job_id, deadline):
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
        if job.state == lg.JOB_STOPPING:
            self._stop_pending(job_id)
        rows = self.ledger.row_counts(job_id)
        if job.state == lg.JOB_STOPPING:
            state = lg.JOB_STOPPED
        elif self.ledger.chunk_counts(job_id)[lg.CHUNK_UNKNOWN] or rows[lg.ROW_UNKNOWN]:
            state = lg.JOB_NEEDS_OPERATOR
        else:
            state = lg.JOB_FINISHED
        self.ledger.set_job_state(
            job_id, state, expect=(lg.JOB_QUEUED, lg.JOB_RUNNING, lg.JOB_PAUSED,
                                   lg.JOB_STOPPING),
            error=job.error if state == lg.JOB_STOPPED else None,
            actor=self.owner_id, detail={"rows": rows},
        )

    def _stop_pending(self, job_id: str) -> None:
        """Stop sending: chunks that never left are settled (never-in-doubt rows not sent)."""
        self.ledger.settle_unsent(job_id, "Not sent: the job was stopped.")

    def _requeue_in_doubt(self, job_id: str, bt: BatchType) -> None:
        """Resend-safe types: in-doubt chunks go back to pending (within the resend limit)."""
        if not bt.resend_safe or self._state(job_id) not in SEND_STATES:
            return
        for chunk in self.ledger.chunks(job_id, states=(lg.CHUNK_UNKNOWN,)):
            if chunk.doubts <= self._resend_limit:
                self._auto_resend(job_id, bt, chunk.index, chunk.last_error or "", chunk.doubts)

    def _auto_resend(self, job_id: str, bt: BatchType, index: int, error: str,
                     doubts: int) -> None:
        self.ledger.mark_pending(
            job_id, index, error=error, not_before=self._clock() + self._backoff(doubts),
            expect=(lg.CHUNK_UNKNOWN,), actor=self.owner_id, owner=self.owner_id,
            detail={"reason": f"automatic resend: {bt.title} is safe to resend", "error": error},
        )

    # --- one chunk ---------------------------------------------------------------------

    def _run_chunk(self, job_id: str, bt: BatchType, index: int,
                   accepted: lg.Chunk | None, recorder: _Recorder,
                   deadline: float | None) -> None:
        if accepted is not None and accepted.remote_job_id is not None:
            self._follow(job_id, bt, index, accepted.remote_job_id, accepted.doubts > 0,
                         recorder, deadline)
            return
        sent = self._send(job_id, bt, index)
        if sent is not None:
            remote, resent, payload = sent
            self._follow(job_id, bt, index, remote, resent, recorder, deadline, payload)

    def _send(self, job_id: str, bt: BatchType, index: int) -> tuple[str, bool, bytes] | None:
        """POST the stored payload: (jobId, resent, payload), or None when the chunk is not
        accepted."""
        claimed = self.ledger.claim(job_id, index, self.owner_id)
        if claimed is None:
            return None
        payload, doubts = claimed
        if self._before_send is not None:  # never raises; a failed snapshot is recorded
            self._before_send(self.ledger, self.client(), job_id, bt, index, payload)
        try:
            remote = self.client().create_batch(bt.slug, payload)
        except Exception as exc:
            if not isinstance(exc, GameballError):
                log.exception("unexpected error sending chunk %s of job %s", index, job_id)
            self._after_send_error(job_id, bt, index, exc)
            return None
        if not self.ledger.mark_accepted(job_id, index, remote, owner=self.owner_id):
            # Another runner took the job over meanwhile and owns this chunk now; the
            # ledger audited the refusal with Gameball's job id, so it is not lost.
            log.warning("chunk %s of job %s was taken over; remote job %s left to its owner",
                        index, job_id, remote)
            return None
        return remote, doubts > 0, payload

    def _after_send_error(self, job_id: str, bt: BatchType, index: int,
                          exc: BaseException) -> None:
        verdict = oc.after_send_error(exc)
        if verdict.action == oc.RETRY_LATER:
            hinted = verdict.retry_after
            wait_for = min(hinted, self._retry[1]) if hinted else self._backoff(
                self._attempts(job_id, index))
            self.ledger.mark_pending(job_id, index, error=verdict.message,
                                     not_before=self._clock() + wait_for,
                                     owner=self.owner_id)
        elif verdict.action == oc.PAUSE:
            self.ledger.mark_pending(job_id, index, error=verdict.message,
                                     owner=self.owner_id)
            self.ledger.set_job_state(job_id, lg.JOB_PAUSED, expect=SEND_STATES,
                                      error=verdict.message, actor=self.owner_id)
        elif verdict.action == oc.REFUSED:
            self.ledger.finish_chunk(job_id, index, state=lg.CHUNK_FAILED, outcomes=(),
                                     unlisted=(lg.ROW_FAILED, verdict.message),
                                     error=verdict.message, expect=(lg.CHUNK_SENDING,),
                                     actor=self.owner_id, owner=self.owner_id)
        else:
            self._in_doubt(job_id, bt, index, verdict.message, expect=(lg.CHUNK_SENDING,))

    def _attempts(self, job_id: str, index: int) -> int:
        chunk = self.ledger.chunk(job_id, index)
        return chunk.attempts if chunk else 1

    def _in_doubt(self, job_id: str, bt: BatchType, index: int, error: str,
                  *, expect: Collection[str], results: object = None) -> None:
        if not self.ledger.mark_unknown(job_id, index, error=error, expect=expect,
                                        actor=self.owner_id, owner=self.owner_id,
                                        results=results):
            return
        chunk = self.ledger.chunk(job_id, index)
        if (bt.resend_safe and chunk is not None and chunk.doubts <= self._resend_limit
                and self._state(job_id) in SEND_STATES):
            self._auto_resend(job_id, bt, index, error, chunk.doubts)

    def _follow(self, job_id: str, bt: BatchType, index: int, remote: str,
                resent: bool, recorder: _Recorder, deadline: float | None,
                payload: bytes | None = None) -> None:
        """Poll an accepted chunk's remote job with back-off until it ends, then record it.

        Every wait ends: a remote job that makes no progress for ``max_age``, or whose status
        reads are refused ``max_refusals`` times in a row, puts the chunk in doubt with the
        last status kept for the operator.
        """
        _initial, factor, ceiling = self._poll
        delay = self._first_poll.wait(job_id)
        first = True
        stopper = _RemoteStop(self, job_id, remote)
        watch = oc.Watch(started=self._clock(), max_age=self._max_age,
                         max_refusals=self._max_refusals)
        last_body: bytes = b""
        while not self._leaving(job_id, deadline):
            if stopper.due():
                delay = min(delay, stopper.attempt())
            self._pause(delay)
            try:
                status = self.client().get_status(remote, bt.slug)
            except NotFound as exc:  # the remote job is gone: we cannot know what it did
                self._in_doubt(job_id, bt, index, f"Gameball no longer knows job {remote}: "
                               f"{oc.describe(exc)}", expect=(lg.CHUNK_ACCEPTED,))
                return
            except GameballError as exc:  # the client already retried what it could
                log.warning("status of remote job %s: %s", remote, oc.describe(exc))
                if isinstance(exc, ApiError) and not isinstance(exc, RateLimited | ServerError):
                    watch.refused(exc)
                status = None
            if status is not None:
                watch.observe(status, self._clock())
                last_body = status.body or last_body
                if first and not stopper.asked:
                    self._first_poll.learn(job_id, status.state in FINAL_REMOTE_STATES)
                first = False
                if status.state in FINAL_REMOTE_STATES:
                    recorder.put(functools.partial(self._finish, job_id, bt, index, remote,
                                                   resent, status, payload))
                    return
            gave_up = watch.expired(self._clock())
            if gave_up is not None:
                self._in_doubt(job_id, bt, index, gave_up, expect=(lg.CHUNK_ACCEPTED,),
                               results=last_body or {"last_status": watch.last_raw})
                return
            delay = min(max(delay * factor, POLL_FLOOR), ceiling)

    def _finish(self, job_id: str, bt: BatchType, index: int, remote: str, resent: bool,
                status: JobStatus, payload: bytes | None = None) -> lg.ChunkFinish:
        """Map every per-item result to its source rows (outcomes.py): the chunk's closing.

        ``payload``: the bytes this runner sent, when it sent them (a chunk followed after
        a restart reads them from the ledger).
        """
        if bt.result_key == "customerId":
            items = oc.ChunkItems()
        else:
            items = oc.ChunkItems.of(bt, payload if payload is not None
                                     else self.ledger.payload(job_id, index))
        reading = oc.read_status(bt, status, items, resent=resent,
                                 other_jobs=functools.partial(self._other_jobs, job_id, bt))
        # Gameball's reply as received is the chunk's record; encode one only without it.
        results: object = status.body or {"successful": list(status.successful.raw()),
                                          "failed": list(status.failed.raw())}
        return lg.ChunkFinish(
            job_id, index, state=reading.chunk_state, applied=reading.applied,
            outcomes=reading.outcomes, results=results, unlisted=reading.unlisted,
            owner=self.owner_id, cause=reading.cause,
            detail={"remote_job_id": remote,
                    "applied": len(reading.applied) + sum(
                        o.status == lg.ROW_APPLIED for o in reading.outcomes),
                    "failed": reading.failed, "in_doubt": reading.in_doubt},
        )

    def _other_jobs(self, job_id: str, bt: BatchType, keys: Collection[str]) -> Mapping[str, str]:
        """For ids this job resent and Gameball already holds: another job that used them."""
        job = self._job(job_id)
        found: dict[str, str] = {}
        for key, other, row, _status in self.ledger.find_ids(
                bt.slug, keys, target=job.target if job.target.known else None,
                exclude_job=job_id, statuses=LIVE_ROWS):
            found.setdefault(key, f"job {other[:8]} (row {row})")
        return found

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
            raise KeyError(f"No job {job_id} in {self.ledger.where}")
        return job

    def _state(self, job_id: str, *, recent: bool = False) -> str:
        """The job's state; ``recent``: one read in the last ``STATE_FRESH`` seconds will do.

        The hot paths (choosing the next chunks, the abort check between polls) take a
        recent reading: a stop is seen a moment later, never missed, and nothing is sent
        meanwhile that a stop forbids, because the claim itself checks the job's state in
        its guarded UPDATE. On PostgreSQL each reading is a round trip; per chunk, they
        had added up to a tenth of the runner's time.
        """
        now = time.monotonic()
        if recent:
            seen = self._states.get(job_id)
            if seen is not None and now - seen[0] < STATE_FRESH:
                return seen[1]
        state = self.ledger.job_state(job_id)
        if state is None:
            raise KeyError(f"No job {job_id} in {self.ledger.where}")
        self._states[job_id] = (now, state)
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


class _RemoteStop:
    """Abort at Gameball for one remote job: asked once the job is aborting, retried with
    back-off while Gameball refuses, each refusal shown on the job and audited."""

    def __init__(self, runner: Runner, job_id: str, remote: str) -> None:
        self._runner = runner
        self._job_id = job_id
        self._remote = remote
        self._tries = 0
        self._next = 0.0
        self.asked = False
        self.done = False

    def due(self) -> bool:
        if self.done or self._runner._clock() < self._next:
            return False
        # The state alone between polls (cheap); the whole job only once it is stopping.
        if self._runner._state(self._job_id, recent=True) != lg.JOB_STOPPING:
            return False
        job = self._runner.ledger.job(self._job_id)
        return job is not None and job.abort

    def attempt(self) -> float:
        """Ask Gameball to stop the job; the delay before the next status read."""
        runner = self._runner
        self.asked = True
        self._tries += 1
        try:
            runner.client().stop(self._remote)
        except GameballError as exc:
            wait_for = runner._backoff(self._tries)
            self._next = runner._clock() + wait_for
            message = (f"Gameball did not accept the stop of its job {self._remote} "
                       f"({oc.describe(exc)}); trying again (attempt {self._tries}).")
            runner.ledger.set_job_error(self._job_id, message)
            runner.ledger.audit(runner.owner_id, "job.abort_refused", self._job_id,
                                {"remote_job_id": self._remote, "attempt": self._tries,
                                 "error": oc.describe(exc)})
            return wait_for
        self.done = True
        runner.ledger.audit(runner.owner_id, "job.abort_sent", self._job_id,
                            {"remote_job_id": self._remote, "attempts": self._tries})
        return 0.0
