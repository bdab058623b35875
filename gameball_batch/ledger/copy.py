"""Copy a whole ledger into an empty one: SQLite to PostgreSQL (or back), bytes unchanged.

``python -m gameball_batch ledger copy --from ledger.db --to postgresql://…`` moves a team
from the embedded SQLite file to a shared database without losing what was already sent
(a ledger that forgets what it sent can no longer promise exactly once). Every table is
copied row by row in primary-key order with its values as stored: payloads, replies, row
sets, cells and keys byte for byte, audit entries with their ids. The copy refuses a target
that holds anything, runs in one transaction, and ends by comparing each table's row count
and a SHA-256 over its rows on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gameball_batch.ledger.schema import LedgerError
from gameball_batch.ledger.store import Ledger

# Every table of the ledger: (name, columns, primary key). Parents before children.
TABLES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("jobs", ("id", "batch_type", "file_name", "fingerprint", "sheet", "mapping", "columns",
              "row_count", "item_count", "chunk_count", "totals", "state", "error", "actor",
              "parent_job_id", "id_seed", "created_at", "updated_at", "lease_owner",
              "lease_expires", "target_kind", "target_url", "target_fp", "abort", "retry_of",
              "scheduled_at"), ("created_at", "id")),
    ("chunks", ("job_id", "idx", "item_count", "state", "attempts", "doubts", "remote_job_id",
                "last_error", "owner", "not_before", "created_at", "updated_at", "sent_at",
                "finished_at"), ("job_id", "idx")),
    ("chunk_payloads", ("job_id", "idx", "payload"), ("job_id", "idx")),
    ("chunk_results", ("job_id", "idx", "results"), ("job_id", "idx")),
    ("row_sets", ("job_id", "chunk_idx", "lo", "hi", "rows"), ("job_id", "chunk_idx")),
    ("row_tallies", ("job_id", "chunk_idx", "status", "n"), ("job_id", "chunk_idx", "status")),
    ("row_cells", ("job_id", "part", "lo", "hi", "cells"), ("job_id", "part")),
    ("key_sets", ("job_id", "kind", "at", "keys"), ("job_id", "kind")),
    ("row_evidence", ("job_id", "row", "verdict", "evidence", "at"), ("job_id", "row")),
    ("balance_snapshots", ("job_id", "idx", "customer", "points", "earned", "error", "at"),
     ("job_id", "idx", "customer")),
    ("meta", ("key", "value"), ("key",)),
    ("audit", ("id", "at", "actor", "action", "job_id", "detail"), ("id",)),
)
_BATCH = 500  # rows per INSERT batch


@dataclass(frozen=True)
class TableCopy:
    """What one table held on each side after the copy."""

    name: str
    rows: int
    checksum: str


class CopyError(LedgerError):
    """The copy was refused or did not verify; says why. The target is left as it was."""


def _rows(ledger: Ledger, table: str, columns: tuple[str, ...],
          key: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """Every row of a table in primary-key order, a page at a time (keyset paging)."""
    cols, order = ", ".join(columns), ", ".join(key)
    last: tuple[Any, ...] | None = None
    where = " OR ".join(
        "(" + " AND ".join([*(f"{k} = ?" for k in key[:i]), f"{key[i]} > ?"]) + ")"
        for i in range(len(key)))
    while True:
        sql = f"SELECT {cols} FROM {table}"
        args: list[Any] = []
        if last is not None:
            sql += f" WHERE {where}"
            for i in range(len(key)):
                args += [last[columns.index(k)] for k in key[:i + 1]]
        page = [tuple(r) for r in ledger._conn().execute(
            f"{sql} ORDER BY {order} LIMIT {_BATCH}", args)]
        yield from page
        if len(page) < _BATCH:
            return
        last = page[-1]


def _canonical(value: Any) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, bytes | bytearray | memoryview):
        return b"B" + bytes(value).hex().encode()
    if isinstance(value, float):
        return b"F" + float(value).hex().encode()
    if isinstance(value, int):
        return b"I" + str(value).encode()
    return b"T" + str(value).encode()


def digest(ledger: Ledger, table: str) -> TableCopy:
    """A table's row count and a SHA-256 over its rows in key order."""
    name, columns, key = next(t for t in TABLES if t[0] == table)
    sha, count = hashlib.sha256(), 0
    for row in _rows(ledger, name, columns, key):
        sha.update(b"\x1e".join(_canonical(v) for v in row) + b"\x1d")
        count += 1
    return TableCopy(name, count, sha.hexdigest())


def copy_ledger(source: Ledger, target: Ledger, *,
                progress: Callable[[str, int], None] | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` into the empty ``target``; what each table holds.

    Raises :class:`CopyError` if the target holds anything, or if a table's count or
    checksum differs afterwards.
    """
    for name, _, _ in TABLES:
        if target._conn().execute(f"SELECT 1 FROM {name} LIMIT 1").fetchone() is not None:
            raise CopyError(f"The target ledger {target.where} is not empty (its {name} table "
                            "holds rows). Copy into a new, empty database.")
    with target._tx(bulk=True) as tx:
        for name, columns, key in TABLES:
            sql = (f"INSERT INTO {name} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")
            count, batch = 0, []
            for row in _rows(source, name, columns, key):
                batch.append(row)
                if len(batch) >= _BATCH:
                    tx.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                tx.executemany(sql, batch)
                count += len(batch)
            if progress is not None:
                progress(name, count)
        target._after_copy(tx)
    out = []
    for name, _, _ in TABLES:
        mine, theirs = digest(source, name), digest(target, name)
        if mine != theirs:
            raise CopyError(f"The copy of table {name} does not match: {mine.rows} rows "
                            f"(sha256 {mine.checksum[:12]}) in {source.where}, {theirs.rows} "
                            f"(sha256 {theirs.checksum[:12]}) in {target.where}.")
        out.append(mine)
    return out
