"""Schema 9: a ledger's rows, kept one record per row until then, become row sets.

Runs once, inside the migration's transaction, when a ledger written by an earlier version
is opened: each job's rows become one row set per chunk (with its tallies), its cells a few
compressed parts, its business keys and ids one record per kind. Then the old per-row
tables go. Nothing about a row changes: its chunk, key, status, message, result and doubt
mark are carried over as they were.
"""

from __future__ import annotations

import json
import sqlite3

from gameball_batch.ledger import rowsets
from gameball_batch.ledger import transitions as tr
from gameball_batch.ledger.rowsets import RowSet

TABLES = """
CREATE TABLE row_sets (
    job_id TEXT NOT NULL,
    chunk_idx INTEGER NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    rows BLOB NOT NULL,
    PRIMARY KEY (job_id, chunk_idx)
);
CREATE TABLE row_cells (
    job_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    lo INTEGER NOT NULL,
    hi INTEGER NOT NULL,
    cells BLOB NOT NULL,
    PRIMARY KEY (job_id, part)
);
CREATE TABLE key_sets (
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    keys BLOB NOT NULL,
    PRIMARY KEY (job_id, kind)
);
"""
DROPPED = ("rows", "row_keys", "item_ids")


def rows_into_sets(tx: sqlite3.Connection) -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            tx.execute(statement)
    jobs = [(r[0], json.loads(r[1]), r[2]) for r in tx.execute(
        "SELECT id, columns, created_at FROM jobs ORDER BY created_at")]
    for job_id, columns, created in jobs:
        _job(tx, job_id, len(columns), created)
    for table in DROPPED:
        tx.execute(f"DROP TABLE {table}")


def _job(tx: sqlite3.Connection, job_id: str, width: int, created: float) -> None:
    sets: dict[int, RowSet] = {}
    cells: list[tuple[int, list[object]]] = []
    for row, index, key, status, message, result, text, doubted in tx.execute(
            "SELECT row, chunk_idx, key, status, message, result, cells, doubted FROM rows "
            "WHERE job_id = ? ORDER BY row", (job_id,)):
        rs = sets.setdefault(int(index), RowSet([], []))
        rs.row.append(int(row))
        rs.key.append(key)
        rs.status.append(status)
        rs.message.append(message)
        rs.result.append(json.loads(result) if result else None)
        rs.doubted.append(int(doubted))
        cells.append((int(row), json.loads(text)))
    tr.write_sets(tx, job_id, sorted(sets.items()))
    table = rowsets.cells_of_rows(cells, width)
    tx.executemany("INSERT INTO row_cells (job_id, part, lo, hi, cells) VALUES (?, ?, ?, ?, ?)",
                   ((job_id, *part) for part in rowsets.encode_cells(table)))
    where = {row: index for index, rs in sets.items() for row in rs.row}
    keyed = tx.execute("SELECT row, bkey, at FROM row_keys WHERE job_id = ? ORDER BY row",
                       (job_id,)).fetchall()
    if keyed:
        tx.execute("INSERT INTO key_sets (job_id, kind, at, keys) VALUES (?, ?, ?, ?)",
                   (job_id, rowsets.BKEY, float(keyed[0][2]), rowsets.encode_keys(
                       [k for _, k, _ in keyed], [r for r, _, _ in keyed],
                       [where.get(r, -1) for r, _, _ in keyed])))
    ids = tx.execute("SELECT row, id FROM item_ids WHERE job_id = ? ORDER BY row",
                     (job_id,)).fetchall()
    if ids:
        tx.execute("INSERT INTO key_sets (job_id, kind, at, keys) VALUES (?, ?, ?, ?)",
                   (job_id, rowsets.ID, created, rowsets.encode_keys(
                       [i for _, i in ids], [r for r, _ in ids],
                       [where.get(r, -1) for r, _ in ids])))

