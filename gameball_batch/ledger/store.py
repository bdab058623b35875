"""The durable job store: jobs, their chunks (exact payload bytes), their rows, and an audit log.

Each thread gets its own reading connection; every write goes through one writer connection
under a per-file lock (see :mod:`.sqlite`). The ledger offers *guarded* primitives: a state
change names the state it expects, and reports whether it happened, so two threads or
processes racing on one chunk cannot both win. The moves themselves, and the rules of who
may make them, are :mod:`.transitions`'; which move to make and when is the runner's
business (``runner.py``, deciding through ``outcomes.py``); operator-facing services live
in ``jobs.py``.

This module must not talk to the network, import pandas or streamlit, or ever store an API
key: nothing here accepts a credential (a job's target holds only a key's fingerprint).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch.ledger import rowsets
from gameball_batch.ledger import transitions as tr
from gameball_batch.ledger.records import (
    AuditEntry,
    Chunk,
    ChunkFinish,
    ItemOutcome,
    Job,
    KeyColumns,
    NewChunk,
    NewJob,
    NewRow,
    NewRows,
    Row,
    Target,
)
from gameball_batch.ledger.schema import MIGRATIONS, SCHEMA_VERSION, LedgerError, statements
from gameball_batch.ledger.sqlite import (
    Checkpointer,
    big_cache,
    check_local,
    connect,
    dumps,
    durable,
    pack,
    unpack,
    write_lock_for,
)
from gameball_batch.ledger.states import (
    CHUNK_ACCEPTED,
    CHUNK_PENDING,
    CHUNK_SENDING,
    CHUNK_STATES,
    CHUNK_UNKNOWN,
    ROW_STATUSES,
    ROW_UNKNOWN,
)

# Types whose transaction or order ids Gameball refuses twice (9004): their ids are indexed
# across jobs, for the id guard and for reading a 9004 on a resend (DESIGN.md §3, §5).
ID_SCOPES = ("orders", "cashback", "redemptions")


# Upserts in the syntax SQLite (3.24+) and PostgreSQL share.
_SET_META = ("INSERT INTO meta (key, value) VALUES (?, ?) "
             "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


class WrongTarget(LedgerError):
    """A job was sent to another Gameball target than the one configured; says which."""


class RetryExists(LedgerError):
    """The job's failed rows were already retried: ``child_id`` is that retry."""

    def __init__(self, parent_id: str, child_id: str) -> None:
        super().__init__(f"Job {parent_id}'s failed rows were already retried as job "
                         f"{child_id}.")
        self.parent_id = parent_id
        self.child_id = child_id


_JOB_COLUMNS = (
    "id, batch_type, file_name, fingerprint, sheet, mapping, columns, row_count, item_count, "
    "chunk_count, totals, state, error, actor, parent_job_id, id_seed, created_at, updated_at, "
    "lease_owner, lease_expires, target_kind, target_url, target_fp, abort, retry_of, scheduled_at"
)
_CHUNK_COLUMNS = (
    "job_id, idx, item_count, state, attempts, doubts, remote_job_id, last_error, owner, "
    "not_before, created_at, updated_at, sent_at, finished_at"
)


def _job(r: sqlite3.Row) -> Job:
    return Job(
        id=r["id"], batch_type=r["batch_type"], file_name=r["file_name"],
        fingerprint=r["fingerprint"], sheet=r["sheet"], mapping=json.loads(r["mapping"]),
        columns=tuple(json.loads(r["columns"])), row_count=r["row_count"],
        item_count=r["item_count"], chunk_count=r["chunk_count"],
        totals=json.loads(r["totals"]), state=r["state"], error=r["error"], actor=r["actor"],
        parent_job_id=r["parent_job_id"], id_seed=r["id_seed"], created_at=r["created_at"],
        updated_at=r["updated_at"], lease_owner=r["lease_owner"],
        lease_expires=r["lease_expires"],
        target=Target(r["target_kind"], r["target_url"], r["target_fp"]),
        abort=bool(r["abort"]), retry_of=r["retry_of"], scheduled_at=r["scheduled_at"],
    )


def _chunk(r: sqlite3.Row) -> Chunk:
    return Chunk(
        job_id=r["job_id"], index=r["idx"], item_count=r["item_count"], state=r["state"],
        attempts=r["attempts"], doubts=r["doubts"], remote_job_id=r["remote_job_id"],
        last_error=r["last_error"], owner=r["owner"], not_before=r["not_before"],
        created_at=r["created_at"], updated_at=r["updated_at"], sent_at=r["sent_at"],
        finished_at=r["finished_at"],
    )


def _row(r: sqlite3.Row) -> Row:
    return Row(
        row=r["row"], chunk_idx=r["chunk_idx"], key=r["key"], status=r["status"],
        message=r["message"], result=json.loads(r["result"]) if r["result"] else None,
        cells=tuple(json.loads(r["cells"])), doubted=bool(r["doubted"]),
    )


def _marks(values: Collection[Any]) -> str:
    return ",".join("?" * len(values))


def _target_clause(target: Target, alias: str) -> tuple[str, list[Any]]:
    """SQL saying "this job's target is ``target``" (see :meth:`Target.same_as`)."""
    sql = f"{alias}.target_kind = ? AND {alias}.target_fp = ?"
    args: list[Any] = [target.kind, target.fingerprint]
    if target.kind != "sandbox":
        sql += f" AND {alias}.target_url = ?"
        args.append(target.base_url)
    return sql, args


class Ledger:
    """One SQLite ledger file, safe to share between threads and processes.

    ``allow_network_fs``: open a ledger on a network filesystem anyway (``warning`` then
    says why that is risky, for the console's banner).
    """

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.time, busy_ms: int = 30_000,
        allow_network_fs: bool = False,
        fs_type: Callable[[Path], str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.where = str(self.path)  # where this ledger lives, for messages and cache keys
        self._clock = clock
        self._busy_ms = busy_ms
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.warning = (check_local(self.path, allow_network=allow_network_fs, fs_type=fs_type)
                        if fs_type is not None
                        else check_local(self.path, allow_network=allow_network_fs))
        self._write_lock = write_lock_for(self.path)
        self._migrate()

    # -- connections and transactions --

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path, self._busy_ms)
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
            # The checkpointer copies the WAL back, off the write lock (see Checkpointer).
            self._writer.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = Checkpointer(self.path, self._busy_ms)
            weakref.finalize(self, self._checkpointer.close)  # a ledger nobody closed
        return self._writer

    def changes(self) -> int | None:
        """A count of writes this process heard of, where the database announces them
        (PostgreSQL's LISTEN/NOTIFY); None here: SQLite announces nothing, so pages read
        the ledger on every rerun (cheaply: see ui/jobs_model.py)."""
        return None

    @contextmanager
    def _tx(self, *, sending: bool = False, background: bool = False,
            sync: bool = False, bulk: bool = False,
            quiet: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``sending``: a step on the way to or from Gameball, which
        the ``background`` (recording) transactions let go first. ``sync``: on disk (WAL
        fsynced) when this returns, whatever the machine does next. ``bulk``: a big job
        being stored, with a page cache that holds its indexes. ``quiet``: a write no page
        shows (PostgreSQL notifies no listener of it; nothing to do here)."""
        # Writers of this process queue on a Python lock: SQLite's busy handler would make
        # them sleep in growing steps instead, which costs far more than the writes.
        with self._write_lock.hold(sending=sending, background=background):
            conn = self._writer_conn()
            with durable(conn) if sync else big_cache(conn) if bulk else nullcontext():
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

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """This thread's reading connection inside one read transaction: several reads
        that must agree (a job's row sets and their cells) see one state of the ledger."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
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
                migration = MIGRATIONS[number]
                if callable(migration):
                    migration(tx)
                else:
                    for statement in statements(migration):
                        tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")

    def _after_copy(self, tx: sqlite3.Connection) -> None:
        """After ``ledger copy`` wrote every table (ledger/copy.py): nothing to do here
        (SQLite's AUTOINCREMENT follows the audit ids written)."""

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

    def audit_entries(self, job_id: str | None = None, *, limit: int = 1000,
                      action: str | None = None) -> list[AuditEntry]:
        """Newest last."""
        clauses, args = [], []
        if job_id:
            clauses.append("job_id = ?")
            args.append(job_id)
        if action:
            clauses.append("action = ?")
            args.append(action)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        cur = self._conn().execute(
            f"SELECT * FROM (SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?) AS a "
            "ORDER BY id",
            [*args, limit],
        )
        return [
            AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["job_id"],
                       json.loads(r["detail"]))
            for r in cur
        ]

    def _refused(self, tx: sqlite3.Connection, actor: str | None, job_id: str, index: int,
                 to: str, detail: Mapping[str, Any]) -> None:
        """Audit a move that its owner asked for and the ledger refused."""
        self._audit(tx, actor or "runner", "chunk.refused", job_id,
                    {**tr.refusal(tx, job_id, index), "to": to, **detail})

    # -- meta: small facts the client learnt (which routes Gameball serves) --

    def meta(self, key: str) -> str | None:
        r = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if r is None else str(r[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as tx:
            tx.execute(_SET_META, (key, value))

    def swap_meta(self, key: str, expect: str | None, value: str) -> bool:
        """Set ``key`` to ``value`` only if it holds ``expect`` now (None: unset); whether it
        did. A compare-and-set, for leases between processes (notify.py)."""
        with self._tx() as tx:
            r = tx.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if (None if r is None else str(r[0])) != expect:
                return False
            tx.execute(_SET_META, (key, value))
            return True

    def update_meta(self, key: str, change: Callable[[str | None], tuple[str, Any]]) -> Any:
        """Read ``key``, store what ``change`` makes of it, in one transaction (no other
        process writes in between); what ``change`` returned beside the new value. The
        shared rate limiter books sends this way (client/ratelimit.py)."""
        with self._tx(sending=True, quiet=True) as tx:
            r = tx.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value, result = change(None if r is None else str(r[0]))
            tx.execute(_SET_META, (key, value))
            return result

    def remembered_routes(self, base_url: str) -> str | None:
        """The status/stop route pair ("gitbook"/"openapi") this Gameball was found to serve."""
        return self.meta(f"routes:{base_url.rstrip('/')}")

    def remember_routes(self, base_url: str, pair: str) -> None:
        self.set_meta(f"routes:{base_url.rstrip('/')}", pair)

    # -- jobs --

    def create_job(
        self, job: NewJob, chunks: Iterable[NewChunk], rows: NewRows | Iterable[NewRow], *,
        row_keys: KeyColumns | Iterable[tuple[int, str]] = (),
        audit: Sequence[tuple[str, dict[str, Any]]] = (),
        left_out: Sequence[tuple[NewRow, str]] = (),
    ) -> None:
        """Store a job, every chunk's exact payload and every row, in one transaction.

        ``rows``: a big job's rows column-wise (:class:`NewRows`), or a small job's
        :class:`NewRow` records (with ``left_out``: rows of the file the operator chose not
        to send, each with the reason). Rows left out are kept with the job as
        ``not_applied`` so nothing of the file disappears.

        ``row_keys``: (row, business key) pairs for the duplicate guard (see guards.py), or
        the same column-wise (:class:`KeyColumns`); ``audit``: (action,
        detail) entries by the job's actor, such as an override or an approval request.
        Both land in the same transaction as the job, so no crash can leave a job that the
        runner may send without them. A job with ``retry_of`` raises :class:`RetryExists`
        when that job was already retried.
        """
        now = self._clock()
        chunk_list = list(chunks)
        if not isinstance(rows, NewRows):
            rows = rowsets.new_rows(list(rows), left_out, len(job.columns))
        # Everything is encoded before the lock (nobody waits on it), compression on two
        # threads (zlib lets go of the GIL).
        with ThreadPoolExecutor(max_workers=2) as pool:
            packed = list(pool.map(pack, (c.payload for c in chunk_list)))
        sets = rowsets.born(rows)
        cells = rowsets.encode_cells(rows.cells)
        if isinstance(row_keys, KeyColumns):
            keys = row_keys
        else:
            pairs = list(row_keys)
            keys = KeyColumns([r for r, _ in pairs], [k for _, k in pairs])
        # Each key remembers its row's chunk: a guard's match reads that chunk's statuses only.
        key_rows = np.asarray(keys[0], dtype=np.int64)
        bkeys = (rowsets.encode_keys(keys[1], key_rows,
                                     rowsets.chunks_of(key_rows, (rows.rows, rows.chunk)))
                 if len(key_rows) else None)
        ids = (rowsets.encode_keys(rows.keys, rows.rows, rows.chunk)
               if job.batch_type in ID_SCOPES and len(rows.rows) else None)
        t = job.target
        try:
            with self._tx(bulk=True) as tx:
                tx.execute(
                    "INSERT INTO jobs (id, batch_type, file_name, fingerprint, sheet, mapping, "
                    "columns, row_count, item_count, chunk_count, totals, state, actor, "
                    "parent_job_id, id_seed, created_at, updated_at, target_kind, target_url, "
                    "target_fp, retry_of, scheduled_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.id, job.batch_type, job.file_name, job.fingerprint, job.sheet,
                     json.dumps(job.mapping), json.dumps(list(job.columns)), job.row_count,
                     job.item_count, len(chunk_list), json.dumps(job.totals, default=str),
                     job.state, job.actor, job.parent_job_id, job.id_seed, now, now,
                     t.kind, t.base_url, t.fingerprint, job.retry_of, job.scheduled_at),
                )
                tx.executemany(
                    "INSERT INTO chunk_payloads (job_id, idx, payload) VALUES (?, ?, ?)",
                    ((job.id, c.index, blob)
                     for c, blob in zip(chunk_list, packed, strict=True)),
                )
                tr.insert(tx, job.id, chunk_list, sets, now)
                tx.executemany(
                    "INSERT INTO row_cells (job_id, part, lo, hi, cells) VALUES (?, ?, ?, ?, ?)",
                    ((job.id, *part) for part in cells))
                tx.executemany(
                    "INSERT INTO key_sets (job_id, kind, at, keys) VALUES (?, ?, ?, ?)",
                    ((job.id, kind, now, blob)
                     for kind, blob in ((rowsets.BKEY, bkeys), (rowsets.ID, ids))
                     if blob is not None))
                detail = {"batch_type": job.batch_type, "file": job.file_name,
                          "rows": job.row_count, "items": job.item_count,
                          "chunks": len(chunk_list), "parent_job_id": job.parent_job_id,
                          "target": t.label}
                if rows.left_out:
                    detail_out = {"rows": len(rows.left_out),
                                  "example_rows": [r for r, _ in rows.left_out[:20]]}
                    audit = [*audit, ("job.left_out", detail_out)]
                self._audit(tx, job.actor, "job.created", job.id, detail)
                for action, entry in audit:
                    self._audit(tx, job.actor, action, job.id, entry)
        except sqlite3.IntegrityError:
            if job.retry_of is not None:
                child = self.retry_child(job.retry_of)
                if child is not None:
                    raise RetryExists(job.retry_of, child.id) from None
            raise

    def retry_child(self, job_id: str) -> Job | None:
        """The job that retries ``job_id``'s failed rows, if there is one."""
        r = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE retry_of = ?", (job_id,)
        ).fetchone()
        return _job(r) if r else None

    def job(self, job_id: str) -> Job | None:
        r = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return _job(r) if r else None

    def job_ids(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids of jobs that start with ``prefix`` (for short ids typed by an operator)."""
        cur = self._conn().execute(
            "SELECT id FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [str(r[0]) for r in cur]

    def job_state(self, job_id: str) -> str | None:
        """Just the job's state: what the runner checks between requests."""
        r = self._conn().execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if r is None else str(r[0])

    def jobs(
        self, *, states: Collection[str] | None = None, limit: int = 200,
        fingerprint: str | None = None, batch_type: str | None = None,
        target: Target | None = None,
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
        if target is not None:
            sql, targs = _target_clause(target, "jobs")
            clauses.append(sql)
            args += targs
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
        abort: bool | None = None,
    ) -> bool:
        """Move a job to ``state`` if it is in one of ``expect``; audit it when ``actor``.

        ``unsent``: settle what was never sent, in the same transaction (a rejected job):
        see :func:`transitions.unsent`. ``abort``: record whether a stop also stops the
        job's remote jobs at Gameball.
        """
        with self._tx() as tx:
            now = self._clock()
            sql = "UPDATE jobs SET state = ?, error = ?, updated_at = ?"
            args: list[Any] = [state, error, now]
            if abort is not None:
                sql += ", abort = ?"
                args.append(int(abort))
            sql += " WHERE id = ?"
            args.append(job_id)
            if expect is not None:
                sql += f" AND state IN ({_marks(expect)})"
                args += list(expect)
            changed = tx.execute(sql, args).rowcount == 1
            if changed and unsent is not None:
                tr.unsent(tx, job_id, unsent, now)
            if changed and actor is not None:
                self._audit(tx, actor, f"job.{state}", job_id, detail)
            return changed

    def set_job_error(self, job_id: str, error: str | None) -> None:
        """Show a line on the job (a remote stop being retried …) without moving it."""
        with self._tx() as tx:
            tx.execute("UPDATE jobs SET error = ?, updated_at = ? WHERE id = ?",
                       (error, self._clock(), job_id))

    # -- send at a time (schedule.py decides; these are its guarded reads and writes) --

    def set_schedule(
        self, job_id: str, scheduled_at: float | None, *, expect: Collection[str],
        actor: str, action: str, detail: dict[str, Any] | None = None,
        state: str | None = None,
    ) -> bool:
        """Set a job's ``scheduled_at`` (and ``state``) if it is in one of ``expect``; the
        change and its audit entry ``action`` land in one transaction."""
        with self._tx() as tx:
            sql = "UPDATE jobs SET scheduled_at = ?, updated_at = ?"
            args: list[Any] = [scheduled_at, self._clock()]
            if state is not None:
                sql += ", state = ?"
                args.append(state)
            sql += f" WHERE id = ? AND state IN ({_marks(expect)})"
            changed = tx.execute(sql, [*args, job_id, *expect]).rowcount == 1
            if changed:
                self._audit(tx, actor, action, job_id, detail)
            return changed

    def due_jobs(self, state: str, now: float, *, limit: int = 1000) -> list[Job]:
        """Jobs in ``state`` whose ``scheduled_at`` has come, earliest first."""
        cur = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = ? AND scheduled_at IS NOT NULL "
            "AND scheduled_at <= ? ORDER BY scheduled_at LIMIT ?", (state, now, limit))
        return [_job(r) for r in cur]

    def audit_after(self, after_id: int, *, limit: int = 200) -> list[AuditEntry]:
        """Audit entries with an id above ``after_id``, oldest first (for tailing the log)."""
        cur = self._conn().execute(
            "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [AuditEntry(r["id"], r["at"], r["actor"], r["action"], r["job_id"],
                           json.loads(r["detail"])) for r in cur]

    def last_audit_id(self) -> int:
        r = self._conn().execute("SELECT MAX(id) FROM audit").fetchone()
        return int(r[0] or 0)

    def settle_unsent(self, job_id: str, message: str) -> None:
        """The job sends nothing more: settle the chunks that never left (runner's stop)."""
        with self._tx() as tx:
            tr.unsent(tx, job_id, message, self._clock())

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
        return unpack(r["payload"])

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
        """:meth:`mark_sending`, returning the chunk's payload and doubts when it succeeded.

        The claim is the write the exactly-once rule rests on, so it commits with
        ``synchronous = FULL``: the WAL is on disk before the POST can leave.
        """
        now = self._clock()
        with self._tx(sending=True, sync=True) as tx:
            # Asked before the claim, which changes neither, and both answers read after
            # the commit: on PostgreSQL the claim is one round trip (statements are
            # pipelined and waited for when read), on SQLite nothing changes.
            asked = tx.execute(
                "SELECT p.payload, c.doubts FROM chunks AS c JOIN chunk_payloads AS p "
                "ON p.job_id = c.job_id AND p.idx = c.idx WHERE c.job_id = ? AND c.idx = ?",
                (job_id, index),
            )
            claimed = tr.claim(tx, job_id, index, owner, now)
        if claimed.rowcount != 1:
            return None
        r = asked.fetchone()
        return unpack(r["payload"]), int(r["doubts"])  # unpacked after the commit

    def mark_pending(
        self, job_id: str, index: int, *, error: str | None, not_before: float = 0.0,
        expect: Collection[str] = (CHUNK_SENDING,), actor: str | None = None,
        detail: dict[str, Any] | None = None, owner: str | None = None,
        operator: bool = False,
    ) -> bool:
        """Back to pending: never left, refused, or an in-doubt chunk chosen for resending.

        Rows of an in-doubt chunk stay in doubt while it waits to be resent: only the reply
        to the resend (or an operator) settles them. An operator's resend (``operator``) is
        the operator's word that the earlier send did not apply, so its rows go back to
        pending (their doubt mark stays).
        """
        who = tr.OPERATOR if operator else tr.OWNER
        with self._tx() as tx:
            changed = tr.move_chunk(
                tx, job_id, index, CHUNK_PENDING, expect=expect, who=who, owner=owner,
                now=self._clock(), sets={"last_error": error, "not_before": not_before})
            if changed and operator:
                tr.resend_rows(tx, job_id, index)
            if changed and actor is not None:
                self._audit(tx, actor, "chunk.resend", job_id,
                            {"chunk": index, **(detail or {})})
            if not changed and owner is not None and CHUNK_SENDING in expect:
                self._refused(tx, actor or owner, job_id, index, CHUNK_PENDING,
                              {"error": error})
            return changed

    def mark_unknown(
        self, job_id: str, index: int, *, error: str,
        expect: Collection[str] = (CHUNK_SENDING,), actor: str | None = None,
        owner: str | None = None, takeover: bool = False, results: Any = None,
    ) -> bool:
        """The send's fate is unknown: it may have been applied. Its rows become unknown.

        ``takeover``: a new lease holder closing a chunk its dead predecessor was sending.
        ``results``: what Gameball last said (a status that never settled), kept for the
        operator.
        """
        who = tr.TAKEOVER if takeover else tr.OWNER
        blob = None if results is None else pack(
            results if isinstance(results, bytes) else dumps(results).encode())
        with self._tx() as tx:
            changed = tr.move_chunk(
                tx, job_id, index, CHUNK_UNKNOWN, expect=expect, who=who,
                owner=owner or actor, now=self._clock(),
                sets={"doubts": tr.INCREMENT, "last_error": error})
            if changed:
                tr.move_rows(tx, job_id, ROW_UNKNOWN, tr.IN_DOUBT, error, chunk=index)
                if blob is not None:
                    tx.execute(tr.SET_RESULTS, (job_id, index, blob))
                self._audit(tx, actor or owner or "runner", "chunk.in_doubt", job_id,
                            {"chunk": index, "error": error})
            elif owner is not None or actor is not None:
                self._refused(tx, actor or owner, job_id, index, CHUNK_UNKNOWN,
                              {"error": error})
            return changed

    def mark_accepted(self, job_id: str, index: int, remote_job_id: str,
                      owner: str | None = None) -> bool:
        """sending → accepted with Gameball's job id, for the runner that sent it.

        Refused (and audited with the job id, so it is not lost) when ``owner`` no longer
        holds the job's lease or the chunk was meanwhile taken over.
        """
        with self._tx(sending=True) as tx:
            changed = tr.move_chunk(
                tx, job_id, index, CHUNK_ACCEPTED, expect=(CHUNK_SENDING,), who=tr.OWNER,
                owner=owner or self._chunk_owner(tx, job_id, index), now=self._clock(),
                sets={"remote_job_id": remote_job_id, "last_error": None})
            if not changed:
                self._refused(tx, owner, job_id, index, CHUNK_ACCEPTED,
                              {"remote_job_id": remote_job_id})
            return changed

    @staticmethod
    def _chunk_owner(tx: sqlite3.Connection, job_id: str, index: int) -> str:
        r = tx.execute("SELECT owner FROM chunks WHERE job_id = ? AND idx = ?",
                       (job_id, index)).fetchone()
        return str(r[0]) if r is not None and r[0] is not None else ""

    def finish_chunk(
        self, job_id: str, index: int, *, state: str, outcomes: Iterable[ItemOutcome] = (),
        applied: Collection[str] = (), results: Any = None,
        unlisted: tuple[str, str | None] | None, error: str | None = None,
        expect: Collection[str] = (CHUNK_ACCEPTED,), actor: str | None = None,
        detail: dict[str, Any] | None = None, owner: str | None = None,
        cause: str = tr.REPLY,
    ) -> bool:
        """Close a chunk (done or failed) and write each item's outcome to its source rows.

        ``applied``: keys whose rows are simply applied (one statement for all of them);
        ``outcomes``: every other per-key outcome, with its message and result; ``results``:
        what Gameball said about the whole chunk, kept as one JSON document: its status
        reply as received (bytes, stored unchanged) or any JSON-able value; ``unlisted`` =
        (status, message) for rows the reply did not name (None leaves them as they are).
        ``owner``/``cause``: see :class:`ChunkFinish`.
        """
        return self.finish_chunks([ChunkFinish(
            job_id, index, state=state, outcomes=outcomes, applied=applied, results=results,
            unlisted=unlisted, error=error, expect=expect, actor=actor, detail=detail,
            owner=owner, cause=cause,
        )])[0]

    def finish_chunks(self, finishes: Sequence[ChunkFinish]) -> list[bool]:
        """:meth:`finish_chunk` for several chunks in one transaction; whether each closed.

        All or nothing: a failure leaves every one of them as it was (still ``accepted``,
        so a runner polls it again). Each chunk keeps its own guard.
        """
        # Encode before taking the write lock: other threads wait only for SQLite itself.
        prepared = [tr.prepare(f) for f in finishes]
        with self._tx(background=True) as tx:
            now = self._clock()
            done = []
            for f, p in zip(finishes, prepared, strict=True):
                closed = tr.finish(tx, f, p, now)
                if closed and f.actor is not None:
                    self._audit(tx, f.actor, f"chunk.{f.state}", f.job_id,
                                {"chunk": f.index, **(f.detail or {})})
                elif not closed and f.owner is not None:
                    self._refused(tx, f.actor or f.owner, f.job_id, f.index, f.state,
                                  dict(f.detail or {}))
                done.append(closed)
            return done

    def chunk_results(self, job_id: str, index: int) -> Any:
        """What Gameball said about a chunk, as recorded (None before it finished).

        For chunks the runner closed this is Gameball's status reply, decoded; ledgers from
        before schema 4 hold ``{"successful": [...], "failed": [...]}``.
        """
        r = self._conn().execute(
            "SELECT results FROM chunk_results WHERE job_id = ? AND idx = ?", (job_id, index)
        ).fetchone()
        return json.loads(unpack(r["results"])) if r is not None and r["results"] else None

    def resolve_unknown_rows(
        self, job_id: str, index: int, *, status: str, message: str, actor: str,
        detail: dict[str, Any], cause: str = tr.OPERATOR,
    ) -> int:
        """An operator's (or evidence's) verdict on the unknown rows of a closed chunk."""
        with self._tx() as tx:
            n = tr.move_rows(tx, job_id, status, cause, message, chunk=index,
                             statuses=(ROW_UNKNOWN,))
            self._audit(tx, actor, "chunk.resolved", job_id, {"chunk": index, **detail})
            return n

    def settle_rows(
        self, job_id: str, verdicts: Mapping[int, tuple[str, str | None]], *, actor: str,
        action: str, detail: dict[str, Any], cause: str = tr.EVIDENCE,
    ) -> int:
        """Settle single rows by number (row → (status, message)), in one audited step.

        Only moves the transition table allows for ``cause`` happen; the count says how many.
        """
        with self._tx() as tx:
            n = tr.move_listed_rows(tx, job_id, verdicts, cause)
            self._audit(tx, actor, action, job_id, {**detail, "rows": n})
            return n

    def recover_sending(self, job_id: str, owner: str) -> list[int]:
        """Chunks a previous owner left in ``sending`` may have been sent: make them unknown.

        Call only while holding the lease and before sending anything yourself.
        """
        stuck = [c.index for c in self.chunks(job_id, states=(CHUNK_SENDING,))]
        for index in stuck:
            self.mark_unknown(job_id, index, actor=owner, owner=owner, takeover=True,
                              error="the runner sending this chunk stopped before it knew "
                                    "whether Gameball received it")
        return stuck

    # -- rows --

    def row_counts(self, job_id: str) -> dict[str, int]:
        cur = self._conn().execute(
            "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM row_tallies WHERE job_id = ? "
            "GROUP BY status",
            (job_id,),
        )
        counts = dict.fromkeys(ROW_STATUSES, 0)
        counts.update({r["status"]: r["n"] for r in cur})
        return counts

    def rows(
        self, job_id: str, *, statuses: Collection[str] | None = None,
        chunk_idx: int | None = None, limit: int | None = None, offset: int = 0,
        doubted: bool | None = None, cells: bool = True,
    ) -> list[Row]:
        """A job's rows by source row, optionally only those in ``statuses``, of one chunk,
        (not) ever in doubt; ``limit``/``offset`` page through them. ``cells=False`` leaves
        each row's cells empty (they are read from their own records).

        Reads one snapshot: the row sets and cells of a job being sent agree.
        """
        with self._snapshot() as conn:
            found = self._rows(conn, job_id, statuses, chunk_idx, limit, offset, doubted)
            width = 0
            if cells and found:
                r = conn.execute("SELECT columns FROM jobs WHERE id = ?", (job_id,)).fetchone()
                width = len(json.loads(r[0])) if r is not None else 0
            texts = self._cells(conn, job_id, [row for row, *_ in found], width) if width else {}
        return [Row(row=row, chunk_idx=index, key=rs.key[i], status=rs.status[i],
                    message=rs.message[i], result=rs.result[i], cells=texts.get(row, ()),
                    doubted=bool(rs.doubted[i]))
                for row, index, i, rs in found]

    @staticmethod
    def _rows(
        conn: sqlite3.Connection, job_id: str, statuses: Collection[str] | None,
        chunk_idx: int | None, limit: int | None, offset: int, doubted: bool | None,
    ) -> list[tuple[int, int, int, rowsets.RowSet]]:
        """(row, chunk, position, its row set) of the rows asked for, in source-row order."""
        sql = "SELECT chunk_idx, lo, rows FROM row_sets WHERE job_id = ?"
        args: list[Any] = [job_id]
        if chunk_idx is not None:
            sql += " AND chunk_idx = ?"
            args.append(chunk_idx)
        elif statuses is not None:  # only chunks holding such rows, by their tallies
            sql += (" AND chunk_idx IN (SELECT chunk_idx FROM row_tallies WHERE job_id = ? "
                    f"AND n > 0 AND status IN ({_marks(statuses)}))")
            args += [job_id, *statuses]
        wanted = None if statuses is None else set(statuses)
        need = None if limit is None else offset + limit
        found: list[tuple[int, int, int, rowsets.RowSet]] = []
        checked = 0
        # In order of each chunk's first row: chunks follow the file, so the first page of a
        # big job is found in its first chunks, and the search stops once no chunk left can
        # hold a row before the last one the page needs.
        for index, lo, blob in sorted(conn.execute(sql, args).fetchall(), key=lambda r: r[1]):
            if need is not None and len(found) >= need and len(found) >= checked:
                found.sort(key=lambda f: f[0])
                del found[need:]
                checked = len(found) + max(1000, need // 10)
                if lo > found[-1][0]:
                    break
            rs = rowsets.RowSet.decode(blob)
            for i, row in enumerate(rs.row):
                if ((wanted is None or rs.status[i] in wanted)
                        and (doubted is None or bool(rs.doubted[i]) == doubted)):
                    found.append((row, int(index), i, rs))
        found.sort(key=lambda f: f[0])
        return found[offset:need]

    @staticmethod
    def _cells(conn: sqlite3.Connection, job_id: str, rows: Sequence[int],
               width: int) -> dict[int, tuple[str, ...]]:
        """Row → its cells as the operator sent them, for ``rows`` of a job."""
        if not rows:
            return {}
        lo, hi = min(rows), max(rows)
        parts = [rowsets.decode_cells(r[0]) for r in conn.execute(
            "SELECT cells FROM row_cells WHERE job_id = ? AND lo <= ? AND hi >= ? "
            "ORDER BY part", (job_id, hi, lo))]
        return rowsets.cells_of(parts, rows, width)

    def row_keys_of(self, job_id: str, rows: Collection[int]) -> list[tuple[int, str]]:
        """The stored business keys of some rows of a job (a retry stores them again)."""
        r = self._conn().execute("SELECT keys FROM key_sets WHERE job_id = ? AND kind = ?",
                                 (job_id, rowsets.BKEY)).fetchone()
        if r is None:
            return []
        table = rowsets.decode_keys(r[0])
        wanted = set(rows)
        return [(row, key) for row, key in zip(table.column("row").to_pylist(),
                                               table.column("key").to_pylist(), strict=True)
                if row in wanted]

    def left_out_count(self, job_id: str) -> int:
        """Rows of the file left out at validation (stored in no chunk)."""
        r = self._conn().execute("SELECT SUM(n) FROM row_tallies WHERE job_id = ? "
                                 "AND chunk_idx = -1", (job_id,)).fetchone()
        return int(r[0] or 0)

    def chunk_keys(self, job_id: str, index: int) -> set[str]:
        r = self._conn().execute("SELECT rows FROM row_sets WHERE job_id = ? AND chunk_idx = ?",
                                 (job_id, index)).fetchone()
        return set() if r is None else set(rowsets.RowSet.decode(r[0]).key)

    # -- business keys and ids (duplicate guards, see guards.py) --

    def _matches(
        self, conn: sqlite3.Connection, kind: str, keys: Collection[str], jobs_sql: str,
        args: Sequence[Any], statuses: Collection[str] | None, limit: int,
    ) -> list[tuple[str, str, int, float, str]]:
        """(key, job, row, at, row status) of stored rows whose key of ``kind`` is one of
        ``keys``, in the jobs ``jobs_sql`` selects (in its order), whose status is one of
        ``statuses``; at most ``limit``.

        Each job's keys are one record: matched column-wise against the wanted keys (a
        million wanted keys against a million stored: a few hundredths of a second).
        """
        if not keys:
            return []
        wanted = pa.array(list(keys), type=pa.string())
        out: list[tuple[str, str, int, float, str]] = []
        for job_id, at, blob in conn.execute(jobs_sql, [kind, *args]).fetchall():
            table = rowsets.decode_keys(blob)
            hit = table.filter(pc.is_in(table.column("key"), value_set=wanted))
            if not hit.num_rows:
                continue
            hit = hit.sort_by([("row", "ascending")])
            status_of = self._statuses(conn, job_id, hit.column("row").to_pylist(),
                                       hit.column("chunk").to_pylist())
            for key, row in zip(hit.column("key").to_pylist(), hit.column("row").to_pylist(),
                                strict=True):
                status = status_of.get(row)
                if status is not None and (statuses is None or status in statuses):
                    out.append((key, job_id, row, float(at), status))
                    if len(out) >= limit:
                        return out
        return out

    @staticmethod
    def _statuses(conn: sqlite3.Connection, job_id: str, rows: Sequence[int],
                  chunks: Sequence[int]) -> dict[int, str]:
        """Row → its status, for some rows of a job (their chunk, -1 when not known)."""
        args: list[Any]
        if any(c < 0 for c in chunks):
            sql, args = "SELECT rows FROM row_sets WHERE job_id = ?", [job_id]
        else:
            distinct = sorted(set(chunks))
            sql = ("SELECT rows FROM row_sets WHERE job_id = ? "
                   f"AND chunk_idx IN ({_marks(distinct)})")
            args = [job_id, *distinct]
        wanted = set(rows)
        out: dict[int, str] = {}
        for (blob,) in conn.execute(sql, args):
            rs = rowsets.RowSet.decode(blob)
            out.update((row, status) for row, status in zip(rs.row, rs.status, strict=True)
                       if row in wanted)
        return out

    def find_row_keys(
        self, keys: Collection[str], *, since: float, statuses: Collection[str],
        exclude_job_states: Collection[str] = (), limit: int = 1000,
        target: Target | None = None,
    ) -> list[tuple[str, str, int, float]]:
        """(bkey, job_id, row, at) of stored rows with one of ``keys``, stored since
        ``since``, whose status is one of ``statuses``; newest job first."""
        sql = ("SELECT k.job_id, k.at, k.keys FROM key_sets AS k JOIN jobs AS j "
               "ON j.id = k.job_id WHERE k.kind = ? AND k.at >= ?")
        args: list[Any] = [since]
        if exclude_job_states:
            sql += f" AND j.state NOT IN ({_marks(exclude_job_states)})"
            args += list(exclude_job_states)
        if target is not None:
            tsql, targs = _target_clause(target, "j")
            sql += " AND " + tsql
            args += targs
        with self._snapshot() as conn:
            found = self._matches(conn, rowsets.BKEY, keys, sql + " ORDER BY k.at DESC",
                                  args, statuses, limit)
        return [(key, job_id, row, at) for key, job_id, row, at, _ in found]

    def find_ids(
        self, scope: str, ids: Collection[str], *, target: Target | None = None,
        exclude_job: str | None = None, statuses: Collection[str] | None = None,
        limit: int = 1000,
    ) -> list[tuple[str, str, int, str]]:
        """(id, job_id, row, row status) of earlier rows that used one of ``ids`` as their
        transaction or order id (``scope`` = the batch type), whatever their amount; oldest
        job first."""
        sql = ("SELECT k.job_id, k.at, k.keys FROM key_sets AS k JOIN jobs AS j "
               "ON j.id = k.job_id WHERE k.kind = ? AND j.batch_type = ? "
               "AND j.state != 'rejected'")
        args: list[Any] = [scope]
        if exclude_job is not None:
            sql += " AND k.job_id != ?"
            args.append(exclude_job)
        if target is not None:
            tsql, targs = _target_clause(target, "j")
            sql += " AND " + tsql
            args += targs
        with self._snapshot() as conn:
            found = self._matches(conn, rowsets.ID, ids, sql + " ORDER BY j.created_at",
                                  args, statuses, limit)
        return [(key, job_id, row, status) for key, job_id, row, _, status in found]
