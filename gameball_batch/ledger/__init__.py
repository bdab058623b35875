"""The durable job store: jobs, their chunks (exact payload bytes), their rows, and an audit log.

- :mod:`.states`: the names of every job, chunk and row state;
- :mod:`.records`: the plain records it takes and gives (jobs, chunks, rows, targets);
- :mod:`.schema`: versioned migrations;
- :mod:`.sqlite`: connections, the write lock, checkpoints, durability, stored bytes;
- :mod:`.transitions`: the one table of allowed state changes, and the only SQL that makes
  them;
- :mod:`.store`: :class:`Ledger`, the API the runner, the services and the pages use;
- :mod:`.postgres`: the same ledger on PostgreSQL (:func:`open_ledger` picks by location).

``from gameball_batch import ledger as lg`` gives all of it: ``lg.Ledger``, ``lg.JOB_QUEUED``…
"""

from collections.abc import Callable
from pathlib import Path

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
    key_fingerprint,
)
from gameball_batch.ledger.schema import MIGRATIONS, SCHEMA_VERSION, LedgerError
from gameball_batch.ledger.schema import statements as _statements
from gameball_batch.ledger.sqlite import WriteLock as _WriteLock
from gameball_batch.ledger.sqlite import pack as _pack
from gameball_batch.ledger.sqlite import unpack as _unpack
from gameball_batch.ledger.states import *  # noqa: F403 - the state names are the API
from gameball_batch.ledger.store import ID_SCOPES, Ledger, RetryExists, WrongTarget

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(where: object) -> bool:
    """Whether a ledger location names a PostgreSQL database (else: a SQLite file)."""
    return isinstance(where, str) and where.startswith(POSTGRES_SCHEMES)


def open_ledger(where: str | Path, *, clock: Callable[[], float] | None = None,
                allow_network_fs: bool = False) -> Ledger:
    """The ledger at ``where``: a ``postgresql://`` URL (:mod:`.postgres`), or a SQLite
    file's path (the default: nothing to set up)."""
    if is_postgres(where):
        from gameball_batch.ledger.postgres import PgLedger

        return PgLedger(str(where), clock=clock)
    if clock is None:
        return Ledger(where, allow_network_fs=allow_network_fs)
    return Ledger(where, clock=clock, allow_network_fs=allow_network_fs)

__all__ = [
    "ID_SCOPES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AuditEntry",
    "Chunk",
    "ChunkFinish",
    "ItemOutcome",
    "Job",
    "KeyColumns",
    "Ledger",
    "LedgerError",
    "NewChunk",
    "NewJob",
    "NewRow",
    "NewRows",
    "RetryExists",
    "Row",
    "Target",
    "WrongTarget",
    "_WriteLock",
    "_pack",
    "_statements",
    "_unpack",
    "is_postgres",
    "key_fingerprint",
    "open_ledger",
]
