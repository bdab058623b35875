"""The ledger's row tallies (schema 8) agree with a count of the rows themselves.

Every transition that moves rows recounts the chunks it touched; a path that forgot would
make the Jobs page's counts drift from the rows. The ledger fixtures check this for every
job when their test ends, so each ledger and integration test checks it too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def tally_drift(path: Path) -> list[tuple[str, int, str, int, int]]:
    """(job, chunk, status, tallied, counted) wherever the two differ."""
    conn = sqlite3.connect(path)
    try:
        counted = {(j, c, s): n for j, c, s, n in conn.execute(
            "SELECT job_id, chunk_idx, status, COUNT(*) FROM rows GROUP BY 1, 2, 3")}
        tallied = {(j, c, s): n for j, c, s, n in conn.execute(
            "SELECT job_id, chunk_idx, status, n FROM row_tallies WHERE n != 0")}
    finally:
        conn.close()
    return [(*key, tallied.get(key, 0), counted.get(key, 0))
            for key in sorted(set(counted) | set(tallied))
            if tallied.get(key, 0) != counted.get(key, 0)]
