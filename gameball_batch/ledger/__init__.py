"""The durable job store: jobs, their chunks (exact payload bytes), their rows, and an audit log.

- :mod:`.states`: the names of every job, chunk and row state;
- :mod:`.records`: the plain records it takes and gives (jobs, chunks, rows, targets);
- :mod:`.schema`: versioned migrations;
- :mod:`.sqlite`: connections, the write lock, checkpoints, durability, stored bytes;
- :mod:`.transitions`: the one table of allowed state changes, and the only SQL that makes
  them;
- :mod:`.store`: :class:`Ledger`, the API the runner, the services and the pages use.

``from gameball_batch import ledger as lg`` gives all of it: ``lg.Ledger``, ``lg.JOB_QUEUED``…
"""

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
    "key_fingerprint",
]
