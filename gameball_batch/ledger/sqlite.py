"""SQLite plumbing for the ledger: connections, the write lock, checkpoints, stored bytes.

SQLite in WAL mode, so the console, a CLI run and a background runner can open the same
file at once: readers never block the writer, and every write is a short ``BEGIN IMMEDIATE``
transaction (with a generous ``busy_timeout``) so two processes queue instead of failing.

Durability (issue "Durable before the send"): connections run ``synchronous = NORMAL``,
which in WAL mode survives an application crash but not a power cut or an OS crash. The
one write that must survive both, because the exactly-once rule rests on it, is a chunk
marked ``sending`` before its POST leaves: :func:`durable` runs that transaction with
``synchronous = FULL``, so its COMMIT fsyncs the WAL (and with it everything committed
before) before the request is written to the socket. WAL does not work on network
filesystems, so :func:`check_local` refuses a ledger there unless told otherwise.

This module must not know about jobs, chunks or rows.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from gameball_batch.ledger.schema import LedgerError

log = logging.getLogger(__name__)


def connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    """A ledger connection: WAL, NORMAL sync, foreign keys, rows by name."""
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a write takes the
    # lock up front instead of failing when a read transaction tries to upgrade.
    conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # bulk writes; see durable() for the claim
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def durable(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the transaction inside with ``synchronous = FULL``: on disk when COMMIT returns.

    Set around the transaction, not inside it (SQLite ignores a change of ``synchronous``
    within a transaction). Costs one fsync of the WAL per use.
    """
    conn.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous = NORMAL")


@contextmanager
def big_cache(conn: sqlite3.Connection, mib: int = 512) -> Iterator[None]:
    """A page cache of up to ``mib`` MiB for one bulk transaction (storing a big job).

    A job's rows reach its indexes out of order (rows by source row, the chunk index by
    chunk): with the writer's usual 32 MiB, a 1M-row job spills dirty pages to the WAL and
    reads them back many times over. SQLite takes cache memory only as pages are used.
    """
    before = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = {-mib * 1024}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {before}")


def synchronous(conn: sqlite3.Connection) -> int:
    """The connection's current ``synchronous`` level (1 NORMAL, 2 FULL)."""
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


# Filesystem types on which SQLite's WAL (shared memory, byte-range locks) is not safe.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph",
    "glusterfs", "lustre", "gpfs", "fuse.sshfs", "sshfs", "fuse.s3fs", "fuse.gcsfuse",
    "davfs", "fuse.davfs2", "fuse.rclone", "beegfs", "ocfs2", "gfs2",
})


def filesystem_type(path: Path, mounts: str | None = None) -> str:
    """The type of the filesystem holding ``path``, from ``/proc/mounts`` ("" if unknown).

    The longest mount point that contains the path wins. ``mounts`` is the text of a
    mounts table, for tests.
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, parts[2]
    return kind


def check_local(path: Path, *, allow_network: bool,
                fs_type: Callable[[Path], str] = filesystem_type) -> str | None:
    """Refuse a ledger on a network filesystem; the warning to show when it is allowed."""
    kind = fs_type(path.parent if not path.exists() else path)
    if kind.lower() not in NETWORK_FILESYSTEMS:
        return None
    message = (f"The ledger {path} is on a network filesystem ({kind}). SQLite's write-ahead "
               "log is not safe there: two machines could both believe they sent a chunk, "
               "or a crash could lose the record that one was sent.")
    if not allow_network:
        raise LedgerError(message + " Put the ledger on a local disk (GAMEBALL_BATCH_DB or "
                          "[ledger] path), or use PostgreSQL. To accept the risk, set "
                          "[ledger] allow_network_fs = true.")
    log.warning("%s Allowed by [ledger] allow_network_fs.", message)
    return message + " Allowed by [ledger] allow_network_fs."


dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class Checkpointer:
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


class WriteLock:
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


# Payloads, results and row sets are stored compressed behind a marker (JSON never starts
# with NUL), so ledgers from before it, and any blob without it, read back unchanged:
# zstd with the original size (schema 9 on), or zlib (before).
_PACKED = b"\x00z1"
_ZSTD = b"\x00zs"


def pack(data: bytes) -> bytes:
    """Compress a payload, a status reply or a row set for storage (zstd).

    A 1000-item status reply is ~180 KB of repetitive JSON; compressed it is a few KB, so
    every chunk writes (and checkpoints) a twentieth of the pages, for ~0.1 ms that runs
    without the GIL (zlib at level 1 took three times as long, and stored more). The bytes
    read back are exactly the bytes stored.
    """
    packed: bytes = pa.compress(data, codec="zstd", asbytes=True)
    return _ZSTD + len(data).to_bytes(8, "little") + packed


def unpack(blob: bytes | str) -> bytes:
    if isinstance(blob, str):  # results stored as text before schema 4
        return blob.encode()
    data = bytes(blob)
    if data.startswith(_ZSTD):
        size = int.from_bytes(data[3:11], "little")
        out: bytes = pa.decompress(data[11:], decompressed_size=size, codec="zstd",
                                   asbytes=True)
        return out
    return zlib.decompress(data[len(_PACKED):]) if data.startswith(_PACKED) else data


_WRITE_LOCKS: dict[str, WriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def write_lock_for(path: Path) -> WriteLock:
    """One lock per ledger file per process, shared by every Ledger object on that file."""
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, WriteLock())

