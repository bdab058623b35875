"""The ledger's row tallies (schema 8) agree with a count of the rows themselves.

Every transition that moves rows recounts the chunks it touched; a path that forgot would
make the Jobs page's counts drift from the rows. The ledger fixtures check this for every
job when their test ends, so each ledger and integration test checks it too. The rows are
counted from their row sets (schema 9), decoded here independently of the transitions.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from gameball_batch.ledger.rowsets import RowSet


def tally_drift(path: Path) -> list[tuple[str, int, str, int, int]]:
    """(job, chunk, status, tallied, counted) wherever the two differ."""
    conn = sqlite3.connect(path)
    try:
        counted: Counter[tuple[str, int, str]] = Counter()
        for job, chunk, blob in conn.execute("SELECT job_id, chunk_idx, rows FROM row_sets"):
            for status, n in RowSet.decode(blob).tally().items():
                counted[(job, chunk, status)] += n
        tallied = {(j, c, s): n for j, c, s, n in conn.execute(
            "SELECT job_id, chunk_idx, status, n FROM row_tallies WHERE n != 0")}
    finally:
        conn.close()
    return [(*key, tallied.get(key, 0), counted.get(key, 0))
            for key in sorted(set(counted) | set(tallied))
            if tallied.get(key, 0) != counted.get(key, 0)]
