"""The plain records the ledger takes and gives: jobs, chunks, rows, audit entries, targets.

Frozen dataclasses and named tuples only: no SQL and no I/O here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from gameball_batch.ledger.states import (
    CHUNK_ACCEPTED,
    JOB_QUEUED,
    TARGET_PRODUCTION,
    TARGET_SANDBOX,
)


@dataclass(frozen=True)
class Target:
    """Where a job is sent: sandbox or production, the base URL, and whose account.

    ``fingerprint`` is a truncated hash of the API key: enough to tell two accounts apart,
    useless for recovering the key. The key itself is never stored (DESIGN.md §9).
    """

    kind: str = ""  # "sandbox" | "production"; "" for jobs stored before targets existed
    base_url: str = ""
    fingerprint: str = ""

    @classmethod
    def of(cls, *, sandbox: bool, base_url: str, api_key: str) -> Target:
        return cls(TARGET_SANDBOX if sandbox else TARGET_PRODUCTION,
                   base_url.rstrip("/"), key_fingerprint(api_key))

    @property
    def known(self) -> bool:
        return bool(self.kind)

    @property
    def label(self) -> str:
        """"sandbox" or "production · api.gameball.co · key 1a2b3c": never the key."""
        if not self.kind:
            return "unrecorded"
        if self.kind == TARGET_SANDBOX:
            return "sandbox"
        host = urlsplit(self.base_url).netloc or self.base_url
        return f"{self.kind} · {host} · key {self.fingerprint[:6]}"

    def same_as(self, other: Target) -> bool:
        """Whether jobs of ``other`` may be driven, retried or de-duplicated here.

        A local sandbox moves between ports from run to run; its identity is the demo
        account. A production target must match exactly.
        """
        if self.kind != other.kind or self.fingerprint != other.fingerprint:
            return False
        return self.kind == TARGET_SANDBOX or self.base_url == other.base_url


def key_fingerprint(api_key: str) -> str:
    """12 hex characters of SHA-256 over the key: names an account, reveals nothing."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12] if api_key else ""


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
    target: Target = Target()
    retry_of: str | None = None  # the job whose failed rows this one retries (at most one)
    scheduled_at: float | None = None  # send at this moment (UTC epoch), not before


@dataclass(frozen=True)
class NewChunk:
    index: int
    payload: bytes
    item_count: int


@dataclass(frozen=True)
class NewRow:
    """One row of a small new job (a retry, a test); big jobs come as :class:`NewRows`."""

    row: int
    chunk_idx: int
    key: str
    cells: Sequence[str]  # aligned with NewJob.columns


class KeyColumns(NamedTuple):
    """Business keys for the duplicate guards, column-wise: source rows and their keys."""

    rows: Any  # Sequence[int] or a numpy array of int64
    keys: Sequence[str]


@dataclass(frozen=True)
class NewRows:
    """A new job's rows column-wise, as the ledger keeps them (one record per chunk).

    ``rows``, ``chunk``, ``keys``: every planned source row, its chunk's index and its
    item's key, aligned, the rows of one chunk next to each other (numpy int64 and int32
    arrays, a pyarrow string array). ``left_out``: (source row, why) for rows the operator
    chose not to send, kept as "not sent" in no chunk. ``cells``: the cells of all of them,
    a table of ``row`` (ascending) and one text column per file column
    (``rowsets.cells_table``); rows missing from it have every cell empty.
    """

    rows: Any
    chunk: Any
    keys: Any
    cells: Any  # typed loosely so records stay free of numpy and pyarrow
    left_out: Sequence[tuple[int, str]] = ()


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
    target: Target = Target()
    abort: bool = False  # the stop asked Gameball to stop its jobs too
    retry_of: str | None = None
    scheduled_at: float | None = None  # send at this moment (UTC epoch); see schedule.py


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
    doubted: bool = False  # was ever in doubt: only an operator or evidence settles it


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
    """One chunk to close, for :meth:`Ledger.finish_chunks` (see :meth:`Ledger.finish_chunk`).

    ``owner``: the runner closing it; a chunk that is ``sending`` or ``accepted`` closes
    only for the holder of its job's lease (a stale runner's late reply is refused and
    audited). ``cause``: "reply" (Gameball's answer to this send), "operator" or
    "evidence"; rows that were in doubt may be settled only by the latter two, or by a
    reply that names them.
    """

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
    owner: str | None = None
    cause: str = "reply"
