"""What the ledger keeps for verification: balance snapshots, verdicts with their evidence,
and the link from a job to its one undo job (schema migration 7).

Functions over a :class:`~.store.Ledger` (its write transaction and reading connection), so
the store's own class stays as it is. Nothing here changes a chunk's or a row's state: a
verdict is *recorded* here, and settled (if an operator accepts it) through the transition
table, by ``Ledger.settle_rows`` and friends.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gameball_batch.ledger.store import Ledger

UNDO_ACTION = "job.undo_of"  # audit entry in the undo job's own transaction (unique parent)


@dataclass(frozen=True)
class Snapshot:
    """One customer's balance (points) just before a chunk was sent, or why there is none."""

    customer: str
    points: float | None
    error: str | None
    at: float
    earned: float | None = None  # total points ever earned, when Gameball reported it


def save_snapshot(ledger: Ledger, job_id: str, index: int,
                  balances: Mapping[str, float | None], errors: Mapping[str, str],
                  earned: Mapping[str, float | None] | None = None) -> None:
    """Record the balances taken before chunk ``index`` was sent (replacing an older one:
    the snapshot that counts is the one just before the latest send)."""
    now = ledger.now()
    customers = set(balances) | set(errors)
    with ledger._tx() as tx:
        tx.execute("DELETE FROM balance_snapshots WHERE job_id = ? AND idx = ?", (job_id, index))
        tx.executemany(
            "INSERT INTO balance_snapshots (job_id, idx, customer, points, earned, error, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((job_id, index, c, balances.get(c), (earned or {}).get(c), errors.get(c), now)
             for c in sorted(customers)))


def snapshots(ledger: Ledger, job_id: str) -> dict[tuple[int, str], Snapshot]:
    """Every snapshot of the job, by (chunk, customer)."""
    cur = ledger._conn().execute(
        "SELECT idx, customer, points, earned, error, at FROM balance_snapshots "
        "WHERE job_id = ?", (job_id,))
    return {(int(r["idx"]), str(r["customer"])): Snapshot(
        str(r["customer"]), r["points"], r["error"], float(r["at"]), r["earned"]) for r in cur}


def save_verdicts(ledger: Ledger, job_id: str,
                  verdicts: Iterable[tuple[int, str, Mapping[str, Any]]]) -> int:
    """Record each row's latest verdict and evidence; how many were written."""
    now = ledger.now()
    values = [(job_id, row, verdict, json.dumps(dict(evidence), default=str), now)
              for row, verdict, evidence in verdicts]
    with ledger._tx() as tx:
        tx.executemany("INSERT INTO row_evidence (job_id, row, verdict, evidence, at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, row) DO UPDATE SET "
                       "verdict = excluded.verdict, evidence = excluded.evidence, "
                       "at = excluded.at", values)
    return len(values)


def verdicts(ledger: Ledger, job_id: str) -> dict[int, tuple[str, dict[str, Any], float]]:
    """The recorded verdicts of a job: row → (verdict, evidence, when)."""
    cur = ledger._conn().execute(
        "SELECT row, verdict, evidence, at FROM row_evidence WHERE job_id = ?", (job_id,))
    return {int(r["row"]): (str(r["verdict"]), json.loads(r["evidence"]), float(r["at"]))
            for r in cur}


def undo_child(ledger: Ledger, job_id: str) -> str | None:
    """The job that undoes ``job_id``, if one was made."""
    r = ledger._conn().execute(
        "SELECT job_id FROM audit WHERE action = ? AND "
        "json_extract(detail, '$.parent_job_id') = ?", (UNDO_ACTION, job_id)).fetchone()
    return None if r is None else str(r[0])


def undo_parent(ledger: Ledger, job_id: str) -> str | None:
    """The job that ``job_id`` undoes, if it is an undo job."""
    r = ledger._conn().execute(
        "SELECT json_extract(detail, '$.parent_job_id') FROM audit WHERE action = ? "
        "AND job_id = ?", (UNDO_ACTION, job_id)).fetchone()
    return None if r is None else str(r[0])


def is_undo_conflict(exc: BaseException) -> bool:
    """Whether a failed job creation was refused because the parent was already undone."""
    return isinstance(exc, sqlite3.IntegrityError) and "audit" in str(exc).lower()
