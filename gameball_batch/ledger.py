"""The durable job store: jobs, their chunks (exact payload bytes), their rows, and an audit log.

SQLite in WAL mode, so the console, a CLI run and a background runner can open the same
file at once: readers never block the writer, and every write is a short ``BEGIN IMMEDIATE``
transaction (with a generous ``busy_timeout``) so two processes queue instead of failing.
Each thread gets its own connection.

The ledger offers *guarded* primitives: a state change names the state it expects, and
reports whether it happened, so two threads or processes racing on one chunk cannot both
win. Which transition to make and when is the runner's business (see ``runner.py``); the
operator-facing service functions live in ``jobs.py``.

This module must not talk to the network, import pandas or streamlit, or ever store an API
key: nothing here accepts a credential.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

# --- states (documented with their transitions in runner.py) -----------------------------

JOB_QUEUED = "queued"  # created, waiting for a runner
JOB_RUNNING = "running"  # a runner is sending and polling its chunks
JOB_PAUSED = "paused"  # send nothing more; chunks already accepted are still followed
JOB_STOPPING = "stopping"  # stop requested: remote jobs in flight are being stopped
JOB_STOPPED = "stopped"  # stopped; rows never sent are not_applied
JOB_NEEDS_OPERATOR = "needs_operator"  # in-doubt chunks wait for an operator decision
JOB_FINISHED = "finished"  # every chunk done or failed; rows applied or failed
# Four-eyes approval (approval_flow.py): the runner never drives a job awaiting approval;
# an approver moves it to queued, or to rejected (settled, nothing sent).
JOB_AWAITING_APPROVAL = "awaiting_approval"
JOB_REJECTED = "rejected"
JOB_STATES = (
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_PAUSED,
    JOB_STOPPING,
    JOB_STOPPED,
    JOB_NEEDS_OPERATOR,
    JOB_FINISHED,
    JOB_AWAITING_APPROVAL,
    JOB_REJECTED,
)
ACTIVE_JOB_STATES = (JOB_QUEUED, JOB_RUNNING, JOB_PAUSED, JOB_STOPPING)
SETTLED_JOB_STATES = (JOB_STOPPED, JOB_NEEDS_OPERATOR, JOB_FINISHED, JOB_REJECTED)

CHUNK_PENDING = "pending"
CHUNK_SENDING = "sending"
CHUNK_ACCEPTED = "accepted"
CHUNK_DONE = "done"
CHUNK_FAILED = "failed"
CHUNK_UNKNOWN = "unknown"
CHUNK_STATES = (
    CHUNK_PENDING,
    CHUNK_SENDING,
    CHUNK_ACCEPTED,
    CHUNK_DONE,
    CHUNK_FAILED,
    CHUNK_UNKNOWN,
)

ROW_PENDING = "pending"
ROW_APPLIED = "applied"
ROW_FAILED = "failed"
ROW_UNKNOWN = "unknown"
ROW_NOT_APPLIED = "not_applied"
ROW_STATUSES = (ROW_PENDING, ROW_APPLIED, ROW_FAILED, ROW_UNKNOWN, ROW_NOT_APPLIED)

# --- schema ------------------------------------------------------------------------------

# Ordered migrations: migration N brings a file from user_version N-1 to N. Never edit a
# shipped migration; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        batch_type TEXT NOT NULL,
        file_name TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL DEFAULT '',
        sheet TEXT,
        mapping TEXT NOT NULL DEFAULT '{}',
        columns TEXT NOT NULL DEFAULT '[]',
        row_count INTEGER NOT NULL DEFAULT 0,
        item_count INTEGER NOT NULL DEFAULT 0,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        totals TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        error TEXT,
        actor TEXT NOT NULL DEFAULT '',
        parent_job_id TEXT REFERENCES jobs(id),
        id_seed TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        lease_owner TEXT,
        lease_expires REAL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_fingerprint ON jobs(fingerprint, batch_type);
    CREATE TABLE chunks (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        idx INTEGER NOT NULL,
        payload BLOB NOT NULL,
        item_count INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        doubts INTEGER NOT NULL DEFAULT 0,
        remote_job_id TEXT,
        last_error TEXT,
        owner TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL,
        finished_at REAL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    CREATE INDEX chunks_state ON chunks(job_id, state);
    CREATE TABLE rows (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        chunk_idx INTEGER NOT NULL,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT,
        result TEXT,
        cells TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE INDEX rows_item ON rows(job_id, chunk_idx, key);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_job ON audit(job_id, id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 2: Gameball's per-item results kept once per chunk (one JSON document), not per row.
    """
    ALTER TABLE chunks ADD COLUMN results TEXT;
    """,
    # 3: each row's business key (guards.py), so "sent in the last N days?" is an indexed
    # lookup instead of a scan of every row's cells.
    """
    CREATE TABLE row_keys (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        bkey TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE INDEX row_keys_bkey ON row_keys(bkey, at);
    """,
    # 4: payloads and results move out of the chunk record. Every state change of a chunk
    # rewrote its record, ~100 KB of payload included (claim, accepted, finish: three times
    # per chunk), and the scheduler's reads walked past it; now the chunk record is a few
    # dozen bytes and each blob is written once. The table is rebuilt rather than altered
    # with DROP COLUMN, which needs SQLite 3.35 (RHEL 9 and Ubuntu 20.04 ship older ones).
    """
    CREATE TABLE chunk_payloads (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        payload BLOB NOT NULL,
        PRIMARY KEY (job_id, idx)
    );
    INSERT INTO chunk_payloads (job_id, idx, payload) SELECT job_id, idx, payload FROM chunks;
    CREATE TABLE chunk_results (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        results BLOB NOT NULL,
        PRIMARY KEY (job_id, idx)
    );
    INSERT INTO chunk_results (job_id, idx, results)
        SELECT job_id, idx, results FROM chunks WHERE results IS NOT NULL;
    CREATE TABLE chunks_v4 (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        idx INTEGER NOT NULL,
        item_count INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        doubts INTEGER NOT NULL DEFAULT 0,
        remote_job_id TEXT,
        last_error TEXT,
        owner TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL,
        finished_at REAL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    INSERT INTO chunks_v4 (job_id, idx, item_count, state, attempts, doubts, remote_job_id,
                           last_error, owner, not_before, created_at, updated_at, sent_at,
                           finished_at)
        SELECT job_id, idx, item_count, state, attempts, doubts, remote_job_id, last_error,
               owner, not_before, created_at, updated_at, sent_at, finished_at FROM chunks;
    DROP TABLE chunks;
    ALTER TABLE chunks_v4 RENAME TO chunks;
    CREATE INDEX chunks_state ON chunks(job_id, state);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class LedgerError(RuntimeError):
    """The ledger file cannot be used (newer schema, not a ledger); the message says why."""


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewJob:
    """What :meth:`Ledger.create_job` needs to know about a job."""

    id: str
    batch_type: str
    file_name: str
    fingerprint: str
    sheet: str | None
    mapping: dict[str, str]
    columns: tuple[str, ...]  # original headers, the order of each row's cells
    row_count: int
    item_count: int
    totals: dict[str, Any]
    actor: str
    id_seed: str = ""
    parent_job_id: str | None = None
    state: str = JOB_QUEUED


@dataclass(frozen=True)
class NewChunk:
    index: int
    payload: bytes
    item_count: int


@dataclass(frozen=True)
class NewRow:
    row: int
    chunk_idx: int
    key: str
    cells: Sequence[str]  # aligned with NewJob.columns


@dataclass(frozen=True)
class Job:
    id: str
    batch_type: str
    file_name: str
    fingerprint: str
    sheet: str | None
    mapping: dict[str, str]
    columns: tuple[str, ...]
    row_count: int
    item_count: int
    chunk_count: int
    totals: dict[str, Any]
    state: str
    error: str | None
    actor: str
    parent_job_id: str | None
    id_seed: str
    created_at: float
    updated_at: float
    lease_owner: str | None
    lease_expires: float | None


@dataclass(frozen=True)
class Chunk:
    job_id: str
    index: int
    item_count: int
    state: str
    attempts: int
    doubts: int  # times a send of this chunk ended in doubt (it may have been applied)
    remote_job_id: str | None
    last_error: str | None
    owner: str | None
    not_before: float
    created_at: float
    updated_at: float
    sent_at: float | None
    finished_at: float | None


@dataclass(frozen=True)
class Row:
    row: int
    chunk_idx: int
    key: str
    status: str
    message: str | None
    result: dict[str, Any] | None
    cells: tuple[str, ...]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    job_id: str | None
    detail: dict[str, Any]


class ItemOutcome(NamedTuple):
    """The outcome of one item of a chunk, applied to every source row of that item.

    A named tuple, not a dataclass: a million of them are made per million rows.
    """

    key: str
    status: str
    message: str | None
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChunkFinish:
    """One chunk to close, for :meth:`Ledger.finish_chunks` (see :meth:`Ledger.finish_chunk`)."""

    job_id: str
    index: int
    state: str
    unlisted: tuple[str, str | None] | None
    outcomes: Iterable[ItemOutcome] = ()
    applied: Collection[str] = ()
    results: Any = None
    error: str | None = None
    expect: Collection[str] = (CHUNK_ACCEPTED,)
    actor: str | None = None
    detail: dict[str, Any] | None = None


class _Prepared(NamedTuple):
    outcomes: list[tuple[str, str | None, str | None, str, int, str]]
    applied: str | None
    results: bytes | None
    reported: str | None  # applied and outcome keys together, when any key was applied


def _prepare(f: ChunkFinish) -> _Prepared:
    outcomes = [(o.status, o.message, None if o.result is None else _dumps(o.result),
                 f.job_id, f.index, o.key) for o in f.outcomes]
    # JSON bytes (Gameball's reply as received) are kept as they are: no second encoding.
    results = None if f.results is None else _pack(
        f.results if isinstance(f.results, bytes) else _dumps(f.results).encode())
    reported = _dumps([*f.applied, *(o[5] for o in outcomes)]) if f.applied else None
    return _Prepared(outcomes, _dumps(list(f.applied)) if f.applied else None, results,
                     reported)


_OPEN_ROWS = ("pending", "unknown")
# Applied keys and the unlisted verdict in one walk of the chunk's rows (rows_item index).
_FINISH_ROWS = (
    "UPDATE rows INDEXED BY rows_item SET "
    "status = CASE WHEN key IN (SELECT value FROM json_each(:applied)) THEN 'applied' "
    "ELSE :ustatus END, "
    "message = CASE WHEN key IN (SELECT value FROM json_each(:applied)) THEN NULL "
    "ELSE :umessage END "
    "WHERE job_id = :job AND chunk_idx = :chunk AND (key IN (SELECT value FROM "
    "json_each(:applied)) OR (:ustatus IS NOT NULL AND status IN ('pending', 'unknown')))"
)
# The common case, Gameball reported every key of the chunk: is any row's key unreported?
_UNREPORTED_ROW = (
    "SELECT 1 FROM rows INDEXED BY rows_item WHERE job_id = ? AND chunk_idx = ? "
    "AND key NOT IN (SELECT value FROM json_each(?)) LIMIT 1"
)


_JOB_COLUMNS = (
    "id, batch_type, file_name, fingerprint, sheet, mapping, columns, row_count, item_count, "
    "chunk_count, totals, state, error, actor, parent_job_id, id_seed, created_at, updated_at, "
    "lease_owner, lease_expires"
)
_CHUNK_COLUMNS = (
    "job_id, idx, item_count, state, attempts, doubts, remote_job_id, last_error, owner, "
    "not_before, created_at, updated_at, sent_at, finished_at"
)


def _job(r: sqlite3.Row) -> Job:
    return Job(
        id=r["id"],
        batch_type=r["batch_type"],
        file_name=r["file_name"],
        fingerprint=r["fingerprint"],
        sheet=r["sheet"],
        mapping=json.loads(r["mapping"]),
        columns=tuple(json.loads(r["columns"])),
        row_count=r["row_count"],
        item_count=r["item_count"],
        chunk_count=r["chunk_count"],
        totals=json.loads(r["totals"]),
        state=r["state"],
        error=r["error"],
        actor=r["actor"],
        parent_job_id=r["parent_job_id"],
        id_seed=r["id_seed"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        lease_owner=r["lease_owner"],
        lease_expires=r["lease_expires"],
    )


def _chunk(r: sqlite3.Row) -> Chunk:
    return Chunk(
        job_id=r["job_id"],
        index=r["idx"],
        item_count=r["item_count"],
        state=r["state"],
        attempts=r["attempts"],
        doubts=r["doubts"],
        remote_job_id=r["remote_job_id"],
        last_error=r["last_error"],
        owner=r["owner"],
        not_before=r["not_before"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        sent_at=r["sent_at"],
        finished_at=r["finished_at"],
    )


def _row(r: sqlite3.Row) -> Row:
    return Row(
        row=r["row"],
        chunk_idx=r["chunk_idx"],
        key=r["key"],
        status=r["status"],
        message=r["message"],
        result=json.loads(r["result"]) if r["result"] else None,
        cells=tuple(json.loads(r["cells"])),
    )


def _marks(values: Collection[Any]) -> str:
    return ",".join("?" * len(values))


# --- the ledger --------------------------------------------------------------------------


class Ledger:
    """One SQLite ledger file, safe to share between threads and processes."""

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.time, busy_ms: int = 30_000
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._busy_ms = busy_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = _write_lock_for(self.path)
        self._migrate(self._conn())

    # -- connections and transactions --

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write takes the
        # lock up front instead of failing when a read transaction tries to upgrade.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_ms / 1000, isolation_level=None,
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; fast commits
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._all.append(conn)
        return conn

    def _writer_conn(self) -> sqlite3.Connection:
        """The one connection this Ledger writes through (call with the write lock held).

        Every thread's writes share it: SQLite drops a connection's page cache whenever
        another connection changed the file, so per-thread writers re-read the pages they
        update in every transaction; one writer keeps them warm. The write lock serialises
        its use, so no two threads ever run statements on it at once.
        """
        if self._writer is None:
            self._writer = self._open()
            self._writer.execute("PRAGMA cache_size = -32768")  # 32 MiB: a few chunks' pages
            # The checkpointer copies the WAL back, off the write lock (see _Checkpointer).
            self._writer.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = _Checkpointer(self.path, self._busy_ms)
            weakref.finalize(self, self._checkpointer.close)  # a ledger nobody closed
        return self._writer

    @contextmanager
    def _tx(self, *, sending: bool = False, background: bool = False,
            ) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``sending``: a step on the way to or from Gameball, which
        the ``background`` (recording) transactions let go first."""
        # Writers of this process queue on a Python lock: SQLite's busy handler would make
        # them sleep in growing steps instead, which costs far more than the writes.
        with self._write_lock.hold(sending=sending, background=background):
            conn = self._writer_conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        checkpointer = self._checkpointer  # close() may clear it meanwhile
        if checkpointer is not None:
            checkpointer.written()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._tx() as tx:
            try:
                version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{self.path} is not a ledger file: {exc}") from None
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path} was written by a newer gameball-batch (schema {version}, "
                    f"this version reads up to {SCHEMA_VERSION}). Upgrade before using it."
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")

    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    def now(self) -> float:
        return self._clock()

    def close(self) -> None:
        """Close every connection this ledger opened (call once its threads are done)."""
        with self._write_lock.hold():
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.close()
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._writer = None
        self._local = threading.local()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- audit --

    def _audit(
        self, tx: sqlite3.Connection, actor: str, action: str, job_id: str | None,
        detail: dict[str, Any] | None,
    ) -> None:
        tx.execute(
            "INSERT INTO audit (at, actor, action, job_id, detail) VALUES (?, ?, ?, ?, ?)",
            (self._clock(), actor, action, job_id, json.dumps(detail or {}, default=str)),
        )

    def audit(
        self, actor: str, action: str, job_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit log."""
        with self._tx() as tx:
            self._audit(tx, actor, action, job_id, detail)

    def audit_entries(self, job_id: str | None = None, *, limit: int = 1000) -> list[AuditEntry]:
        """Newest last."""
        where, args = ("WHERE job_id = ?", [job_id]) if job_id else ("", [])
        cur = self._conn().execute(
            f"SELECT * FROM (SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?) ORDER BY id",
            [*args, limit],
        )
        return [
            AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["job_id"],
                       json.loads(r["detail"]))
            for r in cur
        ]

    # -- jobs --

    def create_job(
        self, job: NewJob, chunks: Iterable[NewChunk], rows: Iterable[NewRow], *,
        row_keys: Iterable[tuple[int, str]] = (),
        audit: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        """Store a job, every chunk's exact payload and every row, in one transaction.

        ``row_keys``: (row, business key) pairs for the duplicate guard (see guards.py);
        ``audit``: (action, detail) entries by the job's actor, such as an override or an
        approval request. Both land in the same transaction as the job, so no crash can
        leave a job that the runner may send without them.
        """
        now = self._clock()
        chunk_list = list(chunks)
        packed = [_pack(c.payload) for c in chunk_list]  # before the lock: nobody waits on it
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO jobs (id, batch_type, file_name, fingerprint, sheet, mapping, "
                "columns, row_count, item_count, chunk_count, totals, state, actor, "
                "parent_job_id, id_seed, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, job.batch_type, job.file_name, job.fingerprint, job.sheet,
                 json.dumps(job.mapping), json.dumps(list(job.columns)), job.row_count,
                 job.item_count, len(chunk_list), json.dumps(job.totals, default=str),
                 job.state, job.actor, job.parent_job_id, job.id_seed, now, now),
            )
            tx.executemany(
                "INSERT INTO chunks (job_id, idx, item_count, state, created_at, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                ((job.id, c.index, c.item_count, now, now) for c in chunk_list),
            )
            tx.executemany(
                "INSERT INTO chunk_payloads (job_id, idx, payload) VALUES (?, ?, ?)",
                ((job.id, c.index, blob) for c, blob in zip(chunk_list, packed, strict=True)),
            )
            tx.executemany(
                "INSERT INTO rows (job_id, row, chunk_idx, key, status, cells) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                ((job.id, r.row, r.chunk_idx, r.key, _cells_json(r.cells)) for r in rows),
            )
            tx.executemany(
                "INSERT OR REPLACE INTO row_keys (job_id, row, bkey, at) VALUES (?, ?, ?, ?)",
                ((job.id, row, key, now) for row, key in row_keys),
            )
            detail = {"batch_type": job.batch_type, "file": job.file_name,
                      "rows": job.row_count, "items": job.item_count,
                      "chunks": len(chunk_list), "parent_job_id": job.parent_job_id}
            self._audit(tx, job.actor, "job.created", job.id, detail)
            for action, entry in audit:
                self._audit(tx, job.actor, action, job.id, entry)

    def job(self, job_id: str) -> Job | None:
        r = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return _job(r) if r else None

    def job_state(self, job_id: str) -> str | None:
        """Just the job's state: what the runner checks between requests."""
        r = self._conn().execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if r is None else str(r[0])

    def jobs(
        self, *, states: Collection[str] | None = None, limit: int = 200,
        fingerprint: str | None = None, batch_type: str | None = None,
    ) -> list[Job]:
        """Newest first."""
        clauses: list[str] = []
        args: list[Any] = []
        if states is not None:
            clauses.append(f"state IN ({_marks(states)})")
            args += list(states)
        if fingerprint is not None:
            clauses.append("fingerprint = ?")
            args.append(fingerprint)
        if batch_type is not None:
            clauses.append("batch_type = ?")
            args.append(batch_type)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cur = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, rowid DESC "
            "LIMIT ?",
            [*args, limit],
        )
        return [_job(r) for r in cur]

    def set_job_state(
        self, job_id: str, state: str, *, expect: Collection[str] | None = None,
        error: str | None = None, actor: str | None = None,
        detail: dict[str, Any] | None = None, unsent: str | None = None,
    ) -> bool:
        """Move a job to ``state`` if it is in one of ``expect``; audit it when ``actor``.

        ``unsent``: settle what was never sent, in the same transaction (a rejected job):
        pending chunks become failed and pending rows not_applied, with this message.
        """
        with self._tx() as tx:
            now = self._clock()
            sql = "UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?"
            args: list[Any] = [state, error, now, job_id]
            if expect is not None:
                sql += f" AND state IN ({_marks(expect)})"
                args += list(expect)
            changed = tx.execute(sql, args).rowcount == 1
            if changed and unsent is not None:
                tx.execute(
                    "UPDATE chunks SET state = 'failed', last_error = ?, finished_at = ?, "
                    "updated_at = ? WHERE job_id = ? AND state = 'pending'",
                    (unsent, now, now, job_id),
                )
                tx.execute(
                    "UPDATE rows SET status = 'not_applied', message = ? "
                    "WHERE job_id = ? AND status = 'pending'",
                    (unsent, job_id),
                )
            if changed and actor is not None:
                self._audit(tx, actor, f"job.{state}", job_id, detail)
            return changed

    # -- leases --

    def acquire_lease(
        self, job_id: str, owner: str, seconds: float,
        *, break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take (or renew) the job's lease unless another owner holds a live one.

        ``break_if(owner)`` may declare a live lease abandoned (its process is gone).
        """
        now = self._clock()
        with self._tx() as tx:
            r = tx.execute(
                "SELECT lease_owner, lease_expires FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if r is None:
                return False
            holder, expires = r["lease_owner"], r["lease_expires"]
            live = holder is not None and holder != owner and (expires or 0) > now
            if live and not (break_if is not None and break_if(holder)):
                return False
            tx.execute(
                "UPDATE jobs SET lease_owner = ?, lease_expires = ? WHERE id = ?",
                (owner, now + seconds, job_id),
            )
            if holder != owner:
                self._audit(tx, owner, "lease.acquired", job_id,
                            {"previous_owner": holder} if holder else None)
            return True

    def renew_lease(self, job_id: str, owner: str, seconds: float) -> bool:
        """Extend our lease; False when we no longer hold it (it expired and was taken)."""
        now = self._clock()
        with self._tx() as tx:
            return tx.execute(
                "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ?",
                (now + seconds, job_id, owner),
            ).rowcount == 1

    def release_lease(self, job_id: str, owner: str) -> None:
        with self._tx() as tx:
            tx.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_expires = NULL "
                "WHERE id = ? AND lease_owner = ?",
                (job_id, owner),
            )

    # -- chunks --

    def chunk(self, job_id: str, index: int) -> Chunk | None:
        r = self._conn().execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE job_id = ? AND idx = ?", (job_id, index)
        ).fetchone()
        return _chunk(r) if r else None

    def chunks(self, job_id: str, *, states: Collection[str] | None = None) -> list[Chunk]:
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE job_id = ?"
        args: list[Any] = [job_id]
        if states is not None:
            sql += f" AND state IN ({_marks(states)})"
            args += list(states)
        return [_chunk(r) for r in self._conn().execute(sql + " ORDER BY idx", args)]

    def payload(self, job_id: str, index: int) -> bytes:
        r = self._conn().execute(
            "SELECT payload FROM chunk_payloads WHERE job_id = ? AND idx = ?", (job_id, index)
        ).fetchone()
        if r is None:
            raise KeyError(f"job {job_id} has no chunk {index}")
        return _unpack(r["payload"])

    def chunk_counts(self, job_id: str) -> dict[str, int]:
        cur = self._conn().execute(
            "SELECT state, COUNT(*) AS n FROM chunks WHERE job_id = ? GROUP BY state", (job_id,)
        )
        counts = dict.fromkeys(CHUNK_STATES, 0)
        counts.update({r["state"]: r["n"] for r in cur})
        return counts

    def ready_chunks(self, job_id: str, *, limit: int, exclude: Collection[int] = ()) -> list[int]:
        """Pending chunks whose back-off has passed, lowest index first."""
        sql = "SELECT idx FROM chunks WHERE job_id = ? AND state = 'pending' AND not_before <= ?"
        args: list[Any] = [job_id, self._clock()]
        if exclude:
            sql += f" AND idx NOT IN ({_marks(exclude)})"
            args += list(exclude)
        cur = self._conn().execute(sql + " ORDER BY idx LIMIT ?", [*args, limit])
        return [r["idx"] for r in cur]

    def next_not_before(self, job_id: str) -> float | None:
        r = self._conn().execute(
            "SELECT MIN(not_before) FROM chunks WHERE job_id = ? AND state = 'pending'",
            (job_id,),
        ).fetchone()
        return None if r[0] is None else float(r[0])

    def mark_sending(self, job_id: str, index: int, owner: str) -> bool:
        """pending → sending, only while ``owner`` holds a live lease on a job still sending.

        This one guarded UPDATE is what keeps two runners from sending the same chunk and
        keeps a paused or stopped job from sending anything more.
        """
        return self.claim(job_id, index, owner) is not None

    def claim(self, job_id: str, index: int, owner: str) -> tuple[bytes, int] | None:
        """:meth:`mark_sending`, returning the chunk's payload and doubts when it succeeded."""
        now = self._clock()
        with self._tx(sending=True) as tx:
            changed = tx.execute(
                "UPDATE chunks SET state = 'sending', attempts = attempts + 1, owner = ?, "
                "sent_at = ?, updated_at = ? WHERE job_id = ? AND idx = ? AND state = 'pending' "
                "AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? "
                "AND lease_expires > ? AND state IN ('queued', 'running'))",
                (owner, now, now, job_id, index, job_id, owner, now),
            ).rowcount == 1
            if not changed:
                return None
            r = tx.execute(
                "SELECT p.payload, c.doubts FROM chunks AS c JOIN chunk_payloads AS p "
                "ON p.job_id = c.job_id AND p.idx = c.idx WHERE c.job_id = ? AND c.idx = ?",
                (job_id, index),
            ).fetchone()
            payload, doubts = r["payload"], int(r["doubts"])
        return _unpack(payload), doubts  # unpacked after the commit: senders wait less

    def mark_pending(
        self, job_id: str, index: int, *, error: str | None, not_before: float = 0.0,
        expect: Collection[str] = (CHUNK_SENDING,), actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Back to pending (never left, refused, or an in-doubt chunk chosen for resending)."""
        with self._tx() as tx:
            changed = tx.execute(
                f"UPDATE chunks SET state = 'pending', last_error = ?, not_before = ?, "
                f"updated_at = ? WHERE job_id = ? AND idx = ? AND state IN ({_marks(expect)})",
                (error, not_before, self._clock(), job_id, index, *expect),
            ).rowcount == 1
            if changed:
                tx.execute(
                    "UPDATE rows INDEXED BY rows_item SET status = 'pending', message = NULL "
                    "WHERE job_id = ? AND chunk_idx = ? AND status = 'unknown'",
                    (job_id, index),
                )
                if actor is not None:
                    self._audit(tx, actor, "chunk.resend", job_id,
                                {"chunk": index, **(detail or {})})
            return changed

    def mark_unknown(
        self, job_id: str, index: int, *, error: str,
        expect: Collection[str] = (CHUNK_SENDING,), actor: str | None = None,
    ) -> bool:
        """The send's fate is unknown: it may have been applied. Its rows become unknown."""
        with self._tx() as tx:
            changed = tx.execute(
                f"UPDATE chunks SET state = 'unknown', doubts = doubts + 1, last_error = ?, "
                f"updated_at = ? WHERE job_id = ? AND idx = ? AND state IN ({_marks(expect)})",
                (error, self._clock(), job_id, index, *expect),
            ).rowcount == 1
            if changed:
                tx.execute(
                    "UPDATE rows INDEXED BY rows_item SET status = 'unknown', message = ? "
                    "WHERE job_id = ? AND chunk_idx = ? AND status = 'pending'",
                    (error, job_id, index),
                )
                self._audit(tx, actor or "runner", "chunk.in_doubt", job_id,
                            {"chunk": index, "error": error})
            return changed

    def mark_accepted(self, job_id: str, index: int, remote_job_id: str) -> bool:
        with self._tx(sending=True) as tx:
            return tx.execute(
                "UPDATE chunks SET state = 'accepted', remote_job_id = ?, last_error = NULL, "
                "updated_at = ? WHERE job_id = ? AND idx = ? AND state = 'sending'",
                (remote_job_id, self._clock(), job_id, index),
            ).rowcount == 1

    def finish_chunk(
        self, job_id: str, index: int, *, state: str, outcomes: Iterable[ItemOutcome] = (),
        applied: Collection[str] = (), results: Any = None,
        unlisted: tuple[str, str | None] | None, error: str | None = None,
        expect: Collection[str] = (CHUNK_ACCEPTED,), actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Close a chunk (done or failed) and write each item's outcome to its source rows.

        ``applied``: keys whose rows are simply applied (one statement for all of them);
        ``outcomes``: every other per-key outcome, with its message and result; ``results``:
        what Gameball said about the whole chunk, kept as one JSON document: its status
        reply as received (bytes, stored unchanged) or any JSON-able value (the result of
        an applied row lives there, see :meth:`chunk_results`); ``unlisted`` =
        (status, message) for rows whose item got no outcome (None leaves them as they are).
        """
        return self.finish_chunks([ChunkFinish(
            job_id, index, state=state, outcomes=outcomes, applied=applied, results=results,
            unlisted=unlisted, error=error, expect=expect, actor=actor, detail=detail,
        )])[0]

    def finish_chunks(self, finishes: Sequence[ChunkFinish]) -> list[bool]:
        """:meth:`finish_chunk` for several chunks in one transaction; whether each closed.

        All or nothing: a failure leaves every one of them as it was (still ``accepted``,
        so a runner polls it again). Each chunk keeps its own guard.
        """
        # Encode before taking the write lock: other threads wait only for SQLite itself.
        prepared = [_prepare(f) for f in finishes]
        with self._tx(background=True) as tx:
            now = self._clock()
            return [self._finish(tx, f, p, now) for f, p in zip(finishes, prepared, strict=True)]

    def _finish(self, tx: sqlite3.Connection, f: ChunkFinish, p: _Prepared, now: float) -> bool:
        changed = tx.execute(
            f"UPDATE chunks SET state = ?, last_error = ?, finished_at = ?, updated_at = ? "
            f"WHERE job_id = ? AND idx = ? AND state IN ({_marks(f.expect)})",
            (f.state, f.error, now, now, f.job_id, f.index, *f.expect),
        ).rowcount == 1
        if not changed:
            return False
        if p.results is not None:
            tx.execute("INSERT OR REPLACE INTO chunk_results (job_id, idx, results) "
                       "VALUES (?, ?, ?)", (f.job_id, f.index, p.results))
        if p.reported is not None and tx.execute(
                _UNREPORTED_ROW, (f.job_id, f.index, p.reported)).fetchone() is None:
            # Every row's key was reported: all applied in one plain pass (a third of the
            # cost of testing each row against the applied keys), then the outcomes below
            # overwrite the rows they name.
            tx.execute("UPDATE rows INDEXED BY rows_item SET status = 'applied', message = NULL "
                       "WHERE job_id = ? AND chunk_idx = ?", (f.job_id, f.index))
        elif p.applied is not None or f.unlisted is not None:
            # One pass over the chunk's rows: applied keys, and (when asked) the unlisted
            # verdict for rows still pending/unknown. Applied wins whatever the row's status.
            unlisted = f.unlisted or (None, None)
            tx.execute(_FINISH_ROWS, {"applied": p.applied or "[]", "ustatus": unlisted[0],
                                      "umessage": unlisted[1], "job": f.job_id,
                                      "chunk": f.index})
        if p.outcomes:
            tx.executemany(
                "UPDATE rows SET status = ?, message = ?, result = ? "
                "WHERE job_id = ? AND chunk_idx = ? AND key = ?",
                p.outcomes,
            )
            if f.unlisted is not None and any(o[0] in _OPEN_ROWS for o in p.outcomes):
                self._mark_unlisted(tx, f.job_id, f.index, f.unlisted)
        if f.actor is not None:
            self._audit(tx, f.actor, f"chunk.{f.state}", f.job_id,
                        {"chunk": f.index, **(f.detail or {})})
        return True

    @staticmethod
    def _mark_unlisted(tx: sqlite3.Connection, job_id: str, index: int,
                       unlisted: tuple[str, str | None]) -> None:
        tx.execute(  # by chunk: the planner would otherwise walk the whole job
            "UPDATE rows INDEXED BY rows_item SET status = ?, message = ? "
            "WHERE job_id = ? AND chunk_idx = ? AND status IN ('pending', 'unknown')",
            (unlisted[0], unlisted[1], job_id, index),
        )

    def chunk_results(self, job_id: str, index: int) -> Any:
        """What Gameball said about a chunk, as recorded (None before it finished).

        For chunks the runner closed this is Gameball's status reply, decoded; ledgers from
        before schema 4 hold ``{"successful": [...], "failed": [...]}``.
        """
        r = self._conn().execute(
            "SELECT results FROM chunk_results WHERE job_id = ? AND idx = ?", (job_id, index)
        ).fetchone()
        return json.loads(_unpack(r["results"])) if r is not None and r["results"] else None

    def resolve_unknown_rows(
        self, job_id: str, index: int, *, status: str, message: str, actor: str,
        detail: dict[str, Any],
    ) -> int:
        """An operator's verdict on the unknown rows of a chunk already closed."""
        with self._tx() as tx:
            n = tx.execute(
                "UPDATE rows INDEXED BY rows_item SET status = ?, message = ? "
                "WHERE job_id = ? AND chunk_idx = ? AND status = 'unknown'",
                (status, message, job_id, index),
            ).rowcount
            self._audit(tx, actor, "chunk.resolved", job_id, {"chunk": index, **detail})
            return int(n)

    def recover_sending(self, job_id: str, owner: str) -> list[int]:
        """Chunks a previous owner left in ``sending`` may have been sent: make them unknown.

        Call only while holding the lease and before sending anything yourself.
        """
        stuck = [c.index for c in self.chunks(job_id, states=(CHUNK_SENDING,))]
        for index in stuck:
            self.mark_unknown(job_id, index, actor=owner,
                              error="the runner sending this chunk stopped before it knew "
                                    "whether Gameball received it")
        return stuck

    # -- rows --

    def row_counts(self, job_id: str) -> dict[str, int]:
        cur = self._conn().execute(
            "SELECT status, COUNT(*) AS n FROM rows WHERE job_id = ? GROUP BY status", (job_id,)
        )
        counts = dict.fromkeys(ROW_STATUSES, 0)
        counts.update({r["status"]: r["n"] for r in cur})
        return counts

    def rows(
        self, job_id: str, *, statuses: Collection[str] | None = None,
        chunk_idx: int | None = None, limit: int | None = None, offset: int = 0,
    ) -> list[Row]:
        sql = (
            "SELECT row, chunk_idx, key, status, message, result, cells FROM rows "
            "WHERE job_id = ?"
        )
        args: list[Any] = [job_id]
        if statuses is not None:
            sql += f" AND status IN ({_marks(statuses)})"
            args += list(statuses)
        if chunk_idx is not None:
            sql += " AND chunk_idx = ?"
            args.append(chunk_idx)
        sql += " ORDER BY row LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        return [_row(r) for r in self._conn().execute(sql, args)]

    def chunk_keys(self, job_id: str, index: int) -> set[str]:
        cur = self._conn().execute(
            "SELECT DISTINCT key FROM rows WHERE job_id = ? AND chunk_idx = ?", (job_id, index)
        )
        return {r["key"] for r in cur}

    # -- business keys (duplicate guards, see guards.py) --

    def find_row_keys(
        self, keys: Collection[str], *, since: float, statuses: Collection[str],
        exclude_job_states: Collection[str] = (), limit: int = 1000,
    ) -> list[tuple[str, str, int, float]]:
        """(bkey, job_id, row, at) of stored rows with one of ``keys``, newer than ``since``,
        whose status is one of ``statuses``; an indexed lookup per key."""
        sql = (
            "SELECT k.bkey, k.job_id, k.row, k.at FROM json_each(?) AS w "
            "JOIN row_keys AS k INDEXED BY row_keys_bkey ON k.bkey = w.value AND k.at >= ? "
            "JOIN rows AS r ON r.job_id = k.job_id AND r.row = k.row "
            f"AND r.status IN ({_marks(statuses)}) "
            "JOIN jobs AS j ON j.id = k.job_id"
        )
        args: list[Any] = [_dumps(list(keys)), since, *statuses]
        if exclude_job_states:
            sql += f" WHERE j.state NOT IN ({_marks(exclude_job_states)})"
            args += list(exclude_job_states)
        cur = self._conn().execute(sql + " ORDER BY k.at DESC, k.row LIMIT ?", [*args, limit])
        return [(r[0], r[1], int(r[2]), float(r[3])) for r in cur]


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_cells_encoder = json.JSONEncoder(ensure_ascii=False).encode
_quote = json.encoder.encode_basestring  # the C quoting json.dumps uses with ensure_ascii=False


def _cells_json(cells: Sequence[str]) -> str:
    """Exactly ``json.dumps(list(cells), ensure_ascii=False)``, about 4x faster for text cells.

    Called once per row when a job is stored (a million times for a million rows).
    """
    try:
        return "[" + ", ".join(map(_quote, cells)) + "]"
    except TypeError:  # a cell that is not text: let the encoder say how it looks
        return _cells_encoder(list(cells))

class _Checkpointer:
    """Copies the write-ahead log back into the database file from its own thread.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold. With
    ~100 KB of payload and results per chunk that was a 15-20 ms stall every couple of
    dozen chunks, with the write lock held, so no runner thread could mark its next chunk
    sending meanwhile. A passive checkpoint from a connection of its own copies the same
    pages while writers go on. Measured on a 1M-row job: the slowest 1 % of chunk
    recordings 16.9 ms -> 3.3 ms, the longest claim 13.8 ms -> 2.9 ms (ledger alone); the
    mean wait to mark a chunk sending 6.4 ms -> 3.0 ms (bench/submit.py).

    ``rounds`` counts finished checkpoints and is announced on ``done``, so a caller can
    wait for the next one instead of polling.
    """

    INTERVAL = 0.2  # seconds between checkpoints while something is being written

    def __init__(self, path: Path, busy_ms: int) -> None:
        self._path = path
        self._busy_ms = busy_ms
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self.done = threading.Condition()
        self.rounds = 0
        self._thread = threading.Thread(target=self._run, name="gameball-ledger-checkpoint",
                                        daemon=True)
        self._thread.start()

    def written(self) -> None:
        self._dirty.set()

    def close(self) -> None:
        """Checkpoint what is left and end the thread."""
        self._closing.set()
        self._dirty.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=self._busy_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        try:
            while True:
                self._dirty.wait()
                self._dirty.clear()
                self._checkpoint(conn)
                # At most one checkpoint per interval: each copies what came in meanwhile.
                if self._closing.wait(self.INTERVAL):
                    break
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:  # the next round tries again; meanwhile the WAL only grows
            log.warning("checkpointing %s failed", self._path, exc_info=True)
        with self.done:
            self.rounds += 1
            self.done.notify_all()


class _WriteLock:
    """The write lock of one ledger file in this process, letting sending steps go first.

    A runner thread that is about to POST a chunk (``claim``) or has just had its jobId
    (``mark_accepted``) should not queue behind the recorder, whose transactions are the
    long ones (a 1000-row chunk's results): while it waits, Gameball (or the sandbox) waits
    for that chunk. Background transactions therefore hold off, briefly, while a sending
    one is waiting; sending ones never wait for anything but the transaction in progress.
    On a 1M-row job (bench/submit.py) this cut the mean wait to mark a chunk sending from
    3.0 ms to 1.75 ms, with recording one chunk per transaction.
    """

    YIELD_AT_MOST = 0.05  # seconds a background transaction defers to waiting senders

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._gate = threading.Condition(threading.Lock())
        self._senders = 0

    @contextmanager
    def hold(self, *, sending: bool = False, background: bool = False) -> Iterator[None]:
        if sending:
            with self._gate:
                self._senders += 1
                self._gate.notify_all()  # anyone watching the count sees it rise
            try:
                self._lock.acquire()
            finally:
                with self._gate:
                    self._senders -= 1
                    if not self._senders:
                        self._gate.notify_all()
        else:
            if background:
                with self._gate:
                    self._gate.wait_for(lambda: not self._senders, self.YIELD_AT_MOST)
            self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()


# Payloads and results are stored deflated behind this marker (JSON never starts with NUL),
# so ledgers from before it, and any blob without it, read back unchanged.
_PACKED = b"\x00z1"


def _pack(data: bytes) -> bytes:
    """Deflate a payload or a status reply for storage (zlib level 1).

    A 1000-item status reply is ~180 KB of repetitive JSON; deflated it is ~9 KB, so every
    chunk writes (and checkpoints) a twentieth of the pages, for ~0.3 ms of zlib that runs
    without the GIL. The bytes read back are exactly the bytes stored.
    """
    return _PACKED + zlib.compress(data, 1)


def _unpack(blob: bytes | str) -> bytes:
    if isinstance(blob, str):  # results stored as text before schema 4
        return blob.encode()
    data = bytes(blob)
    return zlib.decompress(data[len(_PACKED):]) if data.startswith(_PACKED) else data


_WRITE_LOCKS: dict[str, _WriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock_for(path: Path) -> _WriteLock:
    """One lock per ledger file per process, shared by every Ledger object on that file."""
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, _WriteLock())


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out
