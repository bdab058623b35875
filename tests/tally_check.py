"""The ledger's row tallies (schema 8) agree with a count of the rows themselves.

Every transition that moves rows recounts the chunks it touched; a path that forgot would
make the Jobs page's counts drift from the rows. The ledger fixtures check this for every
job when their test ends, so each ledger and integration test checks it too. The rows are
counted from their row sets (schema 9), decoded here independently of the transitions, and
read straight from the store: the SQLite file, or the PostgreSQL schema a URL names.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ledgers import is_url

from gameball_batch.ledger.rowsets import RowSet

_ROW_SETS = "SELECT job_id, chunk_idx, rows FROM row_sets"
_TALLIES = "SELECT job_id, chunk_idx, status, n FROM row_tallies WHERE n != 0"


def _read(target: str | Path) -> tuple[list[Any], list[Any]]:
    if is_url(target):
        import psycopg

        with psycopg.connect(str(target)) as pg:  # bytea comes back as bytes
            return (pg.execute(_ROW_SETS).fetchall(), pg.execute(_TALLIES).fetchall())
    conn = sqlite3.connect(target)
    try:
        return conn.execute(_ROW_SETS).fetchall(), conn.execute(_TALLIES).fetchall()
    finally:
        conn.close()


def _count(row_sets: Iterable[Any]) -> Counter[tuple[str, int, str]]:
    counted: Counter[tuple[str, int, str]] = Counter()
    for job, chunk, blob in row_sets:
        for status, n in RowSet.decode(bytes(blob)).tally().items():
            counted[(job, chunk, status)] += n
    return counted


def tally_drift(target: str | Path) -> list[tuple[str, int, str, int, int]]:
    """(job, chunk, status, tallied, counted) wherever the two differ, for the ledger at
    ``target`` (a SQLite path or a ``postgresql://`` URL, as :func:`ledgers.ledger_target`
    gives)."""
    row_sets, tallies = _read(target)
    counted = _count(row_sets)
    tallied = {(j, c, s): n for j, c, s, n in tallies}
    return [(*key, tallied.get(key, 0), counted.get(key, 0))
            for key in sorted(set(counted) | set(tallied))
            if tallied.get(key, 0) != counted.get(key, 0)]
