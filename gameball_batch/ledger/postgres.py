"""The ledger on PostgreSQL: several console replicas and runners on one database.

:class:`PgLedger` is the same :class:`~gameball_batch.ledger.store.Ledger`: every query,
every transition of :mod:`.transitions` and every guard runs unchanged. What differs is the
plumbing, and only that lives here:

- **Connections** come from psycopg's pool. A read borrows a connection for one statement
  (or, between ``BEGIN`` and ``COMMIT``, for one snapshot) and gives it back; a write
  transaction holds one until it commits, in pipeline mode: its statements are sent at
  once and waited for only when their answer is read (see :class:`_Tx`).
- **Durability is SQLite's**: the claim of a chunk before its POST waits for the disk at
  commit; other writes commit with ``synchronous_commit`` off (see :meth:`PgLedger._tx`).
- **One writer at a time, as on SQLite.** Each write transaction first takes a
  transaction-scoped advisory lock of the ledger's schema. The transitions read a chunk's
  row set, move its rows and write it back; the guarded updates check a state and then set
  it; the audit log's ids must follow commit order for readers that follow it. With one
  writer at a time all of that means exactly what it means on SQLite, so the transition
  table, the owner checks and the audit triggers behave identically on both backends.
- **Time is the database's.** Leases expire by the server's clock, never a worker's: the
  ledger's clock is ``clock_timestamp()`` read from the server, re-read every few seconds
  and carried forward in between with the local monotonic clock.
- **The schema** is created at the current version in one step (PostgreSQL has no ledgers
  from before this version to upgrade) and recorded in ``ledger_schema``; two processes
  starting at once migrate once (an advisory lock).
- **Live pages** learn of writes by ``LISTEN``/``NOTIFY``: every write transaction notifies
  the ledger's channel at commit, a listener thread counts them (:meth:`PgLedger.changes`),
  and a page that saw no change since its last read reuses it instead of reading again.
- **SQL** is written once for both, in the subset they share; this module turns SQLite's
  ``?`` placeholders into psycopg's and ``json_extract(col, '$.name')`` into ``->>``.
  PostgreSQL's errors reach the shared code as the DB-API errors of :mod:`sqlite3` that it
  already handles (an integrity error stays an integrity error).

Bytes (payloads, replies, row sets, cells, keys) are stored as ``bytea``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from gameball_batch.ledger.schema import SCHEMA_VERSION, LedgerError
from gameball_batch.ledger.sqlite import WriteLock
from gameball_batch.ledger.store import Ledger

log = logging.getLogger(__name__)

# The schema at version 9 (SQLite's migrations 1-9 brought its files to the same layout).
# Append to MIGRATIONS (index = version reached - 1 - FIRST) when schema.py gains one.
FIRST = SCHEMA_VERSION
CREATE = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    batch_type TEXT NOT NULL,
    file_name TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    sheet TEXT,
    mapping TEXT NOT NULL DEFAULT '{}',
    columns TEXT NOT NULL DEFAULT '[]',
    row_count BIGINT NOT NULL DEFAULT 0,
    item_count BIGINT NOT NULL DEFAULT 0,
    chunk_count BIGINT NOT NULL DEFAULT 0,
    totals TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    error TEXT,
    actor TEXT NOT NULL DEFAULT '',
    parent_job_id TEXT REFERENCES jobs(id),
    id_seed TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION,
    target_kind TEXT NOT NULL DEFAULT '',
    target_url TEXT NOT NULL DEFAULT '',
    target_fp TEXT NOT NULL DEFAULT '',
    abort BIGINT NOT NULL DEFAULT 0,
    retry_of TEXT,
    scheduled_at DOUBLE PRECISION,
    -- SQLite's implicit rowid (insertion order), which the job list breaks ties by
    rowid BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_fingerprint ON jobs(fingerprint, batch_type);
CREATE UNIQUE INDEX jobs_retry_of ON jobs(retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX jobs_scheduled ON jobs(state, scheduled_at);
CREATE TABLE chunks (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    idx BIGINT NOT NULL,
    item_count BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    doubts BIGINT NOT NULL DEFAULT 0,
    remote_job_id TEXT,
    last_error TEXT,
    owner TEXT,
    not_before DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX chunks_state ON chunks(job_id, state);
CREATE TABLE chunk_payloads (
    job_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE chunk_results (
    job_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    results BYTEA NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE audit (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    job_id TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_job ON audit(job_id, id);
CREATE UNIQUE INDEX audit_undo_of ON audit(((detail::json)->>'parent_job_id'))
    WHERE action = 'job.undo_of';
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE balance_snapshots (
    job_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    customer TEXT NOT NULL,
    points DOUBLE PRECISION,
    earned DOUBLE PRECISION,
    error TEXT,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, idx, customer)
);
CREATE TABLE row_evidence (
    job_id TEXT NOT NULL,
    row BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, row)
);
CREATE TABLE row_tallies (
    job_id TEXT NOT NULL,
    chunk_idx BIGINT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (job_id, chunk_idx, status)
);
CREATE TABLE row_sets (
    job_id TEXT NOT NULL,
    chunk_idx BIGINT NOT NULL,
    lo BIGINT NOT NULL,
    hi BIGINT NOT NULL,
    rows BYTEA NOT NULL,
    PRIMARY KEY (job_id, chunk_idx)
);
CREATE TABLE row_cells (
    job_id TEXT NOT NULL,
    part BIGINT NOT NULL,
    lo BIGINT NOT NULL,
    hi BIGINT NOT NULL,
    cells BYTEA NOT NULL,
    PRIMARY KEY (job_id, part)
);
CREATE TABLE key_sets (
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    keys BYTEA NOT NULL,
    PRIMARY KEY (job_id, kind)
)
"""
MIGRATIONS: tuple[str, ...] = ()  # versions after FIRST, in order

_CLOCK_REFRESH = 5.0  # seconds between readings of the server's clock


def redact(url: str) -> str:
    """The URL without its password, for messages and cache keys."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


_JSON_FIELD = re.compile(r"json_extract\((\w+(?:\.\w+)?), '\$\.(\w+)'\)")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Our SQL (SQLite's dialect, within what both share) as psycopg takes it."""
    sql = _JSON_FIELD.sub(r"((\1::json)->>'\2')", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class _Row(tuple):
    """A result row read by position or by column name, like :class:`sqlite3.Row`."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=512)
def _row_kind(names: tuple[str, ...]) -> type[_Row]:
    """One row class per list of column names (made once: a class per query cost more
    than the query's own Python work)."""
    return type("Row", (_Row,), {"_names": {n: i for i, n in enumerate(names)},
                                 "__slots__": ()})


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    kind = _row_kind(tuple(d.name for d in cursor.description or ()))

    def make(values: Sequence[Any]) -> _Row:
        row: _Row = kind(values)
        return row

    return make


def _convert(exc: Exception) -> Exception:
    """PostgreSQL's error as the DB-API error of sqlite3 the shared code handles."""
    import psycopg

    message = str(exc).strip()
    if isinstance(exc, psycopg.IntegrityError):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, psycopg.OperationalError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


class _Result:
    """A finished statement: its rows (read at once) and how many rows it changed."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _run(conn: Any, sql: str, args: Sequence[Any] | None) -> _Result:
    import psycopg

    try:
        with conn.cursor() as cur:
            cur.execute(translate(sql), tuple(args) if args is not None else ())
            rows = cur.fetchall() if cur.description is not None else []
            return _Result(rows, cur.rowcount)
    except psycopg.Error as exc:
        raise _convert(exc) from exc


def _rollback(conn: Any) -> None:
    """End a failed write transaction; a connection that broke is the pool's to replace."""
    import psycopg

    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")


class _Pending:
    """A statement sent in a pipeline: its outcome is waited for only when read."""

    def __init__(self, tx: _Tx, cursor: Any) -> None:
        self._tx = tx
        self._cursor = cursor
        self._rows: list[Any] | None = None

    def _result(self) -> list[Any]:
        if self._rows is None:
            cur = self._cursor
            if cur.pgresult is None:  # not answered yet (a wait may have brought it already)
                self._tx.sync()
            self._rows = cur.fetchall() if cur.description is not None else []
        return self._rows

    @property
    def rowcount(self) -> int:
        self._result()
        return int(self._cursor.rowcount)

    def fetchone(self) -> Any:
        rows = self._result()
        return rows[0] if rows else None

    def fetchall(self) -> list[Any]:
        return self._result()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._result())


class _Tx:
    """One write transaction on one pooled connection in pipeline mode, spoken to as the
    shared code speaks to SQLite (``execute``, ``executemany``).

    Statements are sent at once and waited for only when their rows or row count are read:
    a write whose outcome nobody reads rides along with the next read, or the commit. A
    finished chunk's closing is two round trips instead of eight (a claim one), and each
    round trip is time the ledger's one writer holds everyone else up. An error is raised at the
    next wait at the latest, and always before the transaction commits.
    """

    def __init__(self, conn: Any, pipeline: Any) -> None:
        self._conn = conn
        self._pipeline = pipeline

    def send(self, sql: str, args: Sequence[Any] | None = None) -> Any:
        import psycopg

        cur = self._conn.cursor()
        try:
            cur.execute(translate(sql), tuple(args) if args is not None else ())
        except psycopg.Error as exc:
            raise _convert(exc) from exc
        return cur

    def sync(self) -> None:
        """Wait for everything sent so far (raising the first error among it)."""
        import psycopg

        try:
            self._pipeline.sync()
        except psycopg.Error as exc:
            raise _convert(exc) from exc

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> _Pending:
        return _Pending(self, self.send(sql, args))

    def executemany(self, sql: str, rows: Any) -> _Pending:
        import psycopg

        cur = self._conn.cursor()
        try:
            cur.executemany(translate(sql), [tuple(r) for r in rows])
        except psycopg.Error as exc:
            raise _convert(exc) from exc
        return _Pending(self, cur)


class _Reader:
    """The reads of one thread: each statement borrows a pooled connection and gives it
    back, except between ``BEGIN`` and ``COMMIT``, which read one snapshot on one."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._local = threading.local()

    def execute(self, sql: str, args: Sequence[Any] | None = None) -> _Result:
        pinned = getattr(self._local, "conn", None)
        verb = sql.strip().upper()
        if verb == "BEGIN":
            conn = self._pool.getconn()
            self._local.conn = conn
            _run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None)
            return _Result([], -1)
        if verb in ("COMMIT", "ROLLBACK") and pinned is not None:
            self._local.conn = None
            try:
                _run(pinned, verb, None)
            finally:
                self._pool.putconn(pinned)
            return _Result([], -1)
        if pinned is not None:
            return _run(pinned, sql, args)
        with self._pool.connection() as conn:
            return _run(conn, sql, args)


class PgLedger(Ledger):
    """The ledger in a PostgreSQL database (``url``: a libpq URL, ``postgresql://…``; a
    ``search_path`` given in its ``options`` puts it in that schema)."""

    # Console replicas and runners on other machines send through it too: the client's
    # rate limit is booked here for all of them (client/ratelimit.py, limiter_for).
    shared_by_processes = True

    def __init__(self, url: str, *, clock: Callable[[], float] | None = None,
                 busy_ms: int = 30_000, pool_size: int = 10) -> None:
        try:
            import psycopg_pool
        except ImportError:  # pragma: no cover - a dependency of the project
            raise LedgerError("A PostgreSQL ledger needs psycopg: pip install -r "
                              "requirements.txt") from None
        self.url = url
        self.where = redact(url)
        self.warning: str | None = None
        self._busy_ms = busy_ms
        self._lock = threading.Lock()
        self._write_lock = WriteLock()
        self._checkpointer = None
        self._synced: tuple[float, float] | None = None  # (server epoch, local monotonic)
        self._clock = clock if clock is not None else self._server_time
        self._pool = psycopg_pool.ConnectionPool(
            _conninfo(url), min_size=1, max_size=pool_size, open=False,
            kwargs={"autocommit": True, "row_factory": _row_factory},
            timeout=busy_ms / 1000, name="gameball-batch-ledger")
        try:
            self._pool.open(wait=True, timeout=busy_ms / 1000)
        except Exception as exc:
            self._pool.close()
            raise LedgerError(f"The PostgreSQL ledger at {self.where} cannot be reached: "
                              f"{str(exc).strip()}") from None
        self._reader = _Reader(self._pool)
        self._lock_key = f"gameball-batch:{self._scalar('SELECT current_schema()')}"
        # LISTEN/NOTIFY: every write transaction notifies this channel (one per ledger) at
        # its commit; a listener thread counts the notifications (see changes()).
        self._channel = "gb_" + hashlib.sha256(self._lock_key.encode()).hexdigest()[:20]
        # The statements that open and close every write (see _tx): literals, made once.
        with self._pool.connection() as conn:
            lock = int(_run(conn, "SELECT hashtext(?)", (self._lock_key,)).fetchone()[0])
        self._begin = ("BEGIN", f"SELECT pg_advisory_xact_lock({lock})")
        self._begin_lazy = ("BEGIN", "SET LOCAL synchronous_commit TO off", self._begin[1])
        self._commit = (f"NOTIFY {self._channel}", "COMMIT")
        self._changes = 0
        self._listening: threading.Thread | None = None
        self._heard = threading.Event()  # set once LISTEN holds
        self._closed = threading.Event()
        self._migrate()

    # -- plumbing (everything else is Ledger's) --

    def _scalar(self, sql: str) -> Any:
        with self._pool.connection() as conn:
            return _run(conn, sql, None).fetchone()[0]

    def _server_time(self) -> float:
        """The database server's clock, carried forward by the local monotonic clock."""
        mono = time.monotonic()
        synced = self._synced
        if synced is None or mono - synced[1] > _CLOCK_REFRESH:
            server = float(self._scalar("SELECT EXTRACT(EPOCH FROM clock_timestamp())"))
            self._synced = synced = (server, time.monotonic())
            return server
        return synced[0] + (mono - synced[1])

    def _conn(self) -> Any:
        return self._reader

    @contextmanager
    def _tx(self, *, sending: bool = False, background: bool = False,
            sync: bool = False, bulk: bool = False, quiet: bool = False) -> Iterator[Any]:
        """One write transaction, the only writer of this ledger while it runs.

        Durability is SQLite's (see :mod:`.sqlite`): only a ``sync`` transaction (the claim
        of a chunk, before its POST leaves) waits for its commit to be on disk. Every other
        one commits with ``synchronous_commit`` off: visible at once, on disk within
        moments, and never out of order, since the WAL is one sequence and a ``sync``
        commit flushes everything before it. A database crash can lose the last fraction of
        a second of them, which costs what an OS crash costs a SQLite ledger: a chunk
        recorded ``accepted`` may fall back to ``sending`` (a takeover puts it in doubt,
        never "not sent"), a finished one to ``accepted`` (polled again). ``bulk`` needs no
        page cache here. ``quiet``: a write no page shows (a rate-limit booking) notifies no
        listener.
        """
        with contextlib.ExitStack() as turn:
            turn.enter_context(self._write_lock.hold(sending=sending, background=background))
            with self._pool.connection() as conn:
                yield from self._pipelined(conn, turn, sync=sync, quiet=quiet)
        if not quiet:  # our own write: this process's pages see it at once, unnotified
            self._changes += 1

    def _pipelined(self, conn: Any, turn: contextlib.ExitStack, *, sync: bool,
                   quiet: bool) -> Iterator[_Tx]:
        """The transaction of :meth:`_tx` on ``conn``; ``turn`` holds this process's turn
        to write, given up once the COMMIT is sent."""
        import psycopg

        try:
            with conn.pipeline() as pipeline:
                tx = _Tx(conn, pipeline)
                for statement in self._begin if sync else self._begin_lazy:
                    tx.send(statement)  # waited for with the first statement read
                yield tx
                for statement in ("COMMIT",) if quiet else self._commit:
                    tx.send(statement)
                # The COMMIT is on its way: the next writer of this process may send its
                # own statements now. The server runs them once this commit has released
                # the advisory lock, so writes stay one at a time, and the next one does
                # not wait a round trip for this one's answer.
                turn.close()
            # Leaving the pipeline waits for the COMMIT (and raises what failed).
        except psycopg.Error as exc:
            _rollback(conn)
            raise _convert(exc) from exc
        except BaseException:
            _rollback(conn)  # after the pipeline: the transaction may still be open
            raise

    def _migrate(self) -> None:
        with self._tx() as tx:
            tx.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version BIGINT NOT NULL)")
            r = tx.execute("SELECT version FROM ledger_schema").fetchone()
            version = int(r[0]) if r is not None else 0
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"The ledger at {self.where} was written by a newer gameball-batch "
                    f"(schema {version}, this version reads up to {SCHEMA_VERSION}). "
                    "Upgrade before using it.")
            if version == 0:
                for statement in _split(CREATE):
                    tx.execute(statement)
                tx.execute("INSERT INTO ledger_schema (version) VALUES (?)", (FIRST,))
                version = FIRST
            for number in range(version, SCHEMA_VERSION):
                for statement in _split(MIGRATIONS[number - FIRST]):
                    tx.execute(statement)
                tx.execute("UPDATE ledger_schema SET version = ?", (number + 1,))

    def _after_copy(self, tx: Any) -> None:
        """After ``ledger copy`` wrote audit entries with their ids: new ones follow them."""
        tx.execute("SELECT setval(pg_get_serial_sequence('audit', 'id'), "
                   "GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS NOT NULL) FROM audit")

    def schema_version(self) -> int:
        return int(self._conn().execute("SELECT version FROM ledger_schema").fetchone()[0])

    def changes(self) -> int | None:
        """How many committed writes this process has heard of (LISTEN/NOTIFY); None until
        the listener runs, or when it cannot (then pages read the ledger as on SQLite)."""
        if self._listening is None:
            with self._lock:
                if self._listening is None:
                    self._listening = threading.Thread(
                        target=self._listen, name="gameball-ledger-listen", daemon=True)
                    self._listening.start()
            return None
        return self._changes if self._heard.is_set() and self._listening.is_alive() else None

    def _listen(self) -> None:
        import psycopg

        try:
            with psycopg.connect(_conninfo(self.url), autocommit=True) as conn:
                conn.execute(f"LISTEN {self._channel}")
                self._heard.set()  # writes from now on are heard; pages read once first
                while not self._closed.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1000):
                        self._changes += 1
        except psycopg.Error:  # pages fall back to reading on every rerun
            self._heard.clear()
            log.warning("The ledger's change notifications stopped; pages poll instead.",
                        exc_info=True)

    def close(self) -> None:
        """Close the pool (call once this ledger's threads are done)."""
        self._closed.set()
        if self._listening is not None:
            self._listening.join(timeout=3)
        self._pool.close()


def _split(script: str) -> list[str]:
    """Statements of a script; a ``$$`` body stays whole."""
    out, buf, quoted = [], "", False
    for piece in re.split(r"(\$\$|;)", script):
        if piece == "$$":
            quoted = not quoted
        if piece == ";" and not quoted:
            if buf.strip():
                out.append(buf.strip())
            buf = ""
            continue
        buf += piece
    if buf.strip():
        out.append(buf.strip())
    return out


def _conninfo(url: str) -> str:
    """``postgres://`` as libpq spells it; everything else unchanged."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    dict(parse_qsl(urlsplit(url).query))  # a malformed query raises here, with its text
    return url
