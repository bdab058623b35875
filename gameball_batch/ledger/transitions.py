"""The one table of allowed state changes, and the only SQL that writes a chunk's or a row's state.

Every change of ``chunks.state`` or of a row's status (its chunk's record in ``row_sets``)
anywhere in the project goes through a function of this module, inside a transaction the
caller opened (``tx``); a test scans the package's SQL to keep it so. Each function checks
its move against the tables below before it writes anything, and only moves chunks and rows
in a state the table allows to move, so a race between two writers can make a move not
happen, never make a forbidden one.

Chunks (``CHUNK_MOVES``: (from, to) → who may make it)::

    pending  → sending                 the lease holder, on a job still sending (claim)
    sending  → accepted | pending | failed | unknown    the lease holder that claimed it
    sending  → unknown                 a new lease holder taking over a dead runner's chunk
    accepted → done | failed | unknown the lease holder
    unknown  → pending                 resend: the lease holder (safe types) or an operator
    unknown  → done | failed           an operator, or evidence from Gameball
    pending  → failed                  never sent: stop, reject (only if never in doubt)
    pending  → unknown                 stop of a chunk queued for resend after a doubt

Rows are born ``pending`` with their job, except the rows an operator left out at
validation, which are born ``not_applied`` in no chunk (-1). A job's rows are kept per
chunk (:mod:`.rowsets`): each function here reads a chunk's row set, moves its rows and
writes it back with the chunk's tallies, in the caller's transaction.

Every exit from ``sending`` and ``accepted`` names its owner: it happens only while that
owner holds the job's lease (``AND lease_owner = ?``). A refused exit is audited with the
Gameball job id it would otherwise have dropped.

Rows (``ROW_MOVES``: (from, to) → the causes that may make it). The rule that matters most
is that doubt is sticky: a row that was ever ``unknown`` keeps ``doubted = 1``, and leaves
``unknown`` only for ``applied`` (Gameball named it as applied, or an operator or evidence
says so) or ``not_applied`` (an operator or evidence). No stop, reject, pause, retry or
failed resend makes it "not sent".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from gameball_batch.ledger.records import ChunkFinish, ItemOutcome, NewChunk
from gameball_batch.ledger.rowsets import Born, RowSet
from gameball_batch.ledger.sqlite import dumps, pack
from gameball_batch.ledger.states import (
    CHUNK_ACCEPTED,
    CHUNK_DONE,
    CHUNK_FAILED,
    CHUNK_PENDING,
    CHUNK_SENDING,
    CHUNK_UNKNOWN,
    ROW_APPLIED,
    ROW_FAILED,
    ROW_NOT_APPLIED,
    ROW_PENDING,
    ROW_UNKNOWN,
)

# Who may move a chunk: the lease holder that claimed it, a lease holder taking over, an
# operator's decision, evidence from Gameball, or "unsent" (nothing ever left).
OWNER, TAKEOVER, OPERATOR, EVIDENCE, UNSENT = "owner", "takeover", "operator", "evidence", "unsent"

CHUNK_MOVES: Mapping[tuple[str, str], frozenset[str]] = {
    (CHUNK_PENDING, CHUNK_SENDING): frozenset({OWNER}),
    (CHUNK_SENDING, CHUNK_ACCEPTED): frozenset({OWNER}),
    (CHUNK_SENDING, CHUNK_PENDING): frozenset({OWNER}),
    (CHUNK_SENDING, CHUNK_FAILED): frozenset({OWNER}),
    (CHUNK_SENDING, CHUNK_UNKNOWN): frozenset({OWNER, TAKEOVER}),
    (CHUNK_ACCEPTED, CHUNK_DONE): frozenset({OWNER}),
    (CHUNK_ACCEPTED, CHUNK_FAILED): frozenset({OWNER}),
    (CHUNK_ACCEPTED, CHUNK_UNKNOWN): frozenset({OWNER}),
    (CHUNK_UNKNOWN, CHUNK_PENDING): frozenset({OWNER, OPERATOR}),
    (CHUNK_UNKNOWN, CHUNK_DONE): frozenset({OPERATOR, EVIDENCE}),
    (CHUNK_UNKNOWN, CHUNK_FAILED): frozenset({OPERATOR, EVIDENCE}),
    (CHUNK_PENDING, CHUNK_FAILED): frozenset({UNSENT}),
    (CHUNK_PENDING, CHUNK_UNKNOWN): frozenset({UNSENT}),
}
OWNED = (CHUNK_SENDING, CHUNK_ACCEPTED)  # exits from these name their owner

# Why a row moves: Gameball's reply to a send, a send whose fate is unknown, a chunk that
# never left, an operator's decision, or evidence gathered from Gameball (verify.py).
REPLY, IN_DOUBT, NEVER_SENT = "reply", "in_doubt", "never_sent"
# A reply to a type whose resend changes nothing (customer upserts, balance inquiries): for
# those, the answer to a resend is the answer, so it may settle a row that was in doubt.
IDEMPOTENT = "idempotent"

ROW_MOVES: Mapping[tuple[str, str], frozenset[str]] = {
    (ROW_PENDING, ROW_APPLIED): frozenset({REPLY, IDEMPOTENT, OPERATOR, EVIDENCE}),
    (ROW_PENDING, ROW_FAILED): frozenset({REPLY, IDEMPOTENT}),
    (ROW_PENDING, ROW_UNKNOWN): frozenset({REPLY, IDEMPOTENT, IN_DOUBT}),
    (ROW_PENDING, ROW_NOT_APPLIED): frozenset({NEVER_SENT, OPERATOR, EVIDENCE}),
    (ROW_UNKNOWN, ROW_UNKNOWN): frozenset({REPLY, IDEMPOTENT, IN_DOUBT}),  # a new reason
    (ROW_UNKNOWN, ROW_APPLIED): frozenset({REPLY, IDEMPOTENT, OPERATOR, EVIDENCE}),
    (ROW_UNKNOWN, ROW_FAILED): frozenset({IDEMPOTENT}),
    (ROW_UNKNOWN, ROW_NOT_APPLIED): frozenset({OPERATOR, EVIDENCE}),
    # An operator's "resend": their word that the earlier send did not apply.
    (ROW_UNKNOWN, ROW_PENDING): frozenset({OPERATOR}),
}


class TransitionError(ValueError):
    """A move the tables above do not allow was asked for: a bug, never an operator error."""


def row_sources(to: str, cause: str) -> tuple[str, ...]:
    """The row statuses from which ``cause`` may move a row to ``to`` (empty: none)."""
    return tuple(f for (f, t), causes in ROW_MOVES.items() if t == to and cause in causes)


def _row_sources(to: str, cause: str) -> tuple[str, ...]:
    sources = row_sources(to, cause)
    if not sources:
        raise TransitionError(f"no row may move to {to!r} because of {cause!r}")
    return sources


def _check_chunk(sources: Collection[str], to: str, who: str) -> None:
    for source in sources:
        if who not in CHUNK_MOVES.get((source, to), frozenset()):
            raise TransitionError(f"a chunk may not move {source!r} → {to!r} by {who!r}")


def _marks(values: Collection[Any]) -> str:
    return ",".join("?" * len(values))


# --- birth ---------------------------------------------------------------------------------


def insert(tx: sqlite3.Connection, job_id: str, chunks: list[NewChunk],
           sets: Sequence[Born], now: float) -> None:
    """A new job's chunks, every one pending, and their row sets (``rowsets.born``: every
    row pending, but the rows an operator left out at validation, born ``not_applied`` in
    no chunk, each with its reason)."""
    tx.executemany(
        "INSERT INTO chunks (job_id, idx, item_count, state, created_at, updated_at) "
        "VALUES (?, ?, ?, 'pending', ?, ?)",
        ((job_id, c.index, c.item_count, now, now) for c in chunks),
    )
    tx.executemany(
        "INSERT INTO row_sets (job_id, chunk_idx, lo, hi, rows) VALUES (?, ?, ?, ?, ?)",
        ((job_id, b.chunk, b.lo, b.hi, b.blob) for b in sets),
    )
    tx.executemany(
        "INSERT INTO row_tallies (job_id, chunk_idx, status, n) VALUES (?, ?, ?, ?)",
        ((job_id, b.chunk, status, n) for b in sets for status, n in b.tally),
    )


# --- row sets: read, change, write back with their tallies (schema 9) ----------------------


def _ask_rows(tx: sqlite3.Connection, job_id: str, chunk: int) -> Any:
    return tx.execute("SELECT rows FROM row_sets WHERE job_id = ? AND chunk_idx = ?",
                      (job_id, chunk))


def load(tx: sqlite3.Connection, job_id: str, chunk: int) -> RowSet | None:
    r = _ask_rows(tx, job_id, chunk).fetchone()
    return None if r is None else RowSet.decode(r[0])


def _save(tx: sqlite3.Connection, job_id: str, chunk: int, rs: RowSet) -> None:
    """Write a changed row set back, and count its rows again per status in the same
    transaction, so a job's counts (``Ledger.row_counts``) are a sum over its chunks."""
    tx.execute("UPDATE row_sets SET rows = ? WHERE job_id = ? AND chunk_idx = ?",
               (rs.encode(), job_id, chunk))
    tx.execute("DELETE FROM row_tallies WHERE job_id = ? AND chunk_idx = ?", (job_id, chunk))
    tx.executemany(
        "INSERT INTO row_tallies (job_id, chunk_idx, status, n) VALUES (?, ?, ?, ?)",
        ((job_id, chunk, status, n) for status, n in sorted(rs.tally().items())))


def _chunks_holding(tx: sqlite3.Connection, job_id: str, statuses: Collection[str],
                    chunk_states: Collection[str] | None = None) -> list[int]:
    """The chunks of a job with a row in one of ``statuses`` (by their tallies), optionally
    only chunks in one of ``chunk_states``."""
    sql = (f"SELECT DISTINCT t.chunk_idx FROM row_tallies AS t WHERE t.job_id = ? "
           f"AND t.n > 0 AND t.status IN ({_marks(statuses)})")
    args: list[Any] = [job_id, *statuses]
    if chunk_states is not None:
        sql += (f" AND t.chunk_idx IN (SELECT idx FROM chunks WHERE job_id = ? "
                f"AND state IN ({_marks(chunk_states)}))")
        args += [job_id, *chunk_states]
    return [int(r[0]) for r in tx.execute(sql + " ORDER BY t.chunk_idx", args)]


def write_sets(tx: sqlite3.Connection, job_id: str, sets: Collection[tuple[int, RowSet]]) -> None:
    """Row sets written whole, with their tallies (schema 9 turning old rows into sets)."""
    tx.executemany(
        "INSERT INTO row_sets (job_id, chunk_idx, lo, hi, rows) VALUES (?, ?, ?, ?, ?)",
        ((job_id, index, *rs.bounds(), rs.encode()) for index, rs in sets))
    tx.execute("DELETE FROM row_tallies WHERE job_id = ?", (job_id,))
    tx.executemany(
        "INSERT INTO row_tallies (job_id, chunk_idx, status, n) VALUES (?, ?, ?, ?)",
        ((job_id, index, status, n) for index, rs in sets
         for status, n in sorted(rs.tally().items())))


# --- chunks --------------------------------------------------------------------------------


def claim(tx: sqlite3.Connection, job_id: str, index: int, owner: str, now: float) -> Any:
    """pending → sending, only for the holder of a live lease on a job still sending.

    Returns the statement's result: its ``rowcount`` is 1 when the chunk was claimed. The
    caller may read it after the commit (a claim that moved nothing wrote nothing), so on
    PostgreSQL the whole claim is one round trip.
    """
    _check_chunk((CHUNK_PENDING,), CHUNK_SENDING, OWNER)
    return tx.execute(
        "UPDATE chunks SET state = 'sending', attempts = attempts + 1, owner = ?, "
        "sent_at = ?, updated_at = ? WHERE job_id = ? AND idx = ? AND state = 'pending' "
        "AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND lease_owner = ? "
        "AND lease_expires > ? AND state IN ('queued', 'running'))",
        (owner, now, now, job_id, index, job_id, owner, now),
    )


def move_chunk(
    tx: sqlite3.Connection, job_id: str, index: int, to: str, *, expect: Collection[str],
    who: str, owner: str | None, now: float, sets: Mapping[str, Any] | None = None,
) -> bool:
    """Move one chunk from one of ``expect`` to ``to``; whether it moved.

    ``who`` names the cause (a key of the sets in ``CHUNK_MOVES``). Exits from ``sending``
    and ``accepted`` need ``owner``: they happen only while it holds the job's lease (and,
    unless ``who`` is a takeover, only for the owner that claimed the chunk). ``sets``:
    further columns to write (``remote_job_id``, ``last_error``, ``doubts`` …).
    """
    _check_chunk(expect, to, who)
    owned = [s for s in expect if s in OWNED]
    columns = {"state": to, "updated_at": now, **(sets or {})}
    assignments = ", ".join(
        f"{name} = {name} + 1" if value is _INCREMENT else f"{name} = ?"
        for name, value in columns.items())
    args: list[Any] = [v for v in columns.values() if v is not _INCREMENT]
    sql = (f"UPDATE chunks SET {assignments} WHERE job_id = ? AND idx = ? "
           f"AND state IN ({_marks(expect)})")
    args += [job_id, index, *expect]
    if owned and owner is None:
        # Unnamed: the runner that claimed the chunk, which must still hold the lease.
        sql += (" AND (state NOT IN ('sending', 'accepted') OR EXISTS (SELECT 1 FROM jobs "
                "WHERE id = ? AND lease_owner = chunks.owner))")
        args.append(job_id)
    elif owned:
        sql += (" AND (state NOT IN ('sending', 'accepted') OR EXISTS (SELECT 1 FROM jobs "
                "WHERE id = ? AND lease_owner = ?))")
        args += [job_id, owner]
        if who != TAKEOVER:
            # A POST in flight belongs to the runner that made it; an accepted chunk to
            # whoever holds the lease now (a new holder follows its predecessor's jobs).
            sql += " AND (state != 'sending' OR owner = ?)"
            args.append(owner)
    return tx.execute(sql, args).rowcount == 1


class _Increment:
    def __repr__(self) -> str:
        return "INCREMENT"


_INCREMENT: Any = _Increment()
INCREMENT: Any = _INCREMENT  # ``sets={"doubts": INCREMENT}`` adds one to the column


def refusal(tx: sqlite3.Connection, job_id: str, index: int) -> dict[str, Any]:
    """What the chunk and its job look like now, for the audit of a refused move."""
    r = tx.execute(
        "SELECT c.state, c.owner, c.remote_job_id, j.lease_owner FROM chunks AS c "
        "JOIN jobs AS j ON j.id = c.job_id WHERE c.job_id = ? AND c.idx = ?",
        (job_id, index),
    ).fetchone()
    if r is None:
        return {"chunk": index, "found": False}
    return {"chunk": index, "state": r["state"], "chunk_owner": r["owner"],
            "lease_owner": r["lease_owner"], "recorded_remote_job_id": r["remote_job_id"]}


# --- rows ----------------------------------------------------------------------------------


def move_rows(
    tx: sqlite3.Connection, job_id: str, to: str, cause: str, message: str | None, *,
    chunk: int | None = None, statuses: Collection[str] | None = None,
) -> int:
    """Move every row of the job (or of one chunk) that the table lets ``cause`` move.

    ``statuses`` narrows the sources further (e.g. only ``unknown`` rows).
    """
    sources = _row_sources(to, cause)
    if statuses is not None:
        sources = tuple(s for s in sources if s in statuses)
        if not sources:
            return 0
    chunks = _chunks_holding(tx, job_id, sources) if chunk is None else [chunk]
    moved = 0
    for index in chunks:
        rs = load(tx, job_id, index)
        if rs is None:
            continue
        here = [i for i, status in enumerate(rs.status) if status in sources]
        for i in here:
            rs.set(i, to, message)
        if here:
            _save(tx, job_id, index, rs)
            moved += len(here)
    return moved


def move_listed_rows(
    tx: sqlite3.Connection, job_id: str, rows: Mapping[int, tuple[str, str | None]],
    cause: str,
) -> int:
    """Settle single rows by number, each to its own (status, message); how many moved."""
    sources = {to: _row_sources(to, cause) for to in {status for status, _ in rows.values()}}
    if not rows:
        return 0
    lo, hi = min(rows), max(rows)
    moved = 0
    for index, blob in tx.execute(
            "SELECT chunk_idx, rows FROM row_sets WHERE job_id = ? AND lo <= ? AND hi >= ? "
            "ORDER BY chunk_idx", (job_id, hi, lo)).fetchall():
        rs = RowSet.decode(blob)
        changed = 0
        for i, row in enumerate(rs.row):
            verdict = rows.get(row)
            if verdict is not None and rs.status[i] in sources[verdict[0]]:
                rs.set(i, verdict[0], verdict[1])
                changed += 1
        if changed:
            _save(tx, job_id, int(index), rs)
            moved += changed
    return moved


def resend_rows(tx: sqlite3.Connection, job_id: str, index: int) -> int:
    """An operator chose to resend an in-doubt chunk: its rows wait for that send again."""
    return move_rows(tx, job_id, ROW_PENDING, OPERATOR, None, chunk=index,
                     statuses=(ROW_UNKNOWN,))


def unsent(tx: sqlite3.Connection, job_id: str, message: str, now: float) -> None:
    """The job will send nothing more (stop, reject): settle what never left.

    A pending chunk never in doubt is failed and its rows not_applied. A pending chunk that
    was in doubt before (queued for a resend) may have been applied by that earlier send:
    it becomes unknown again and its rows stay in doubt, for an operator or evidence.
    """
    _check_chunk((CHUNK_PENDING,), CHUNK_FAILED, UNSENT)
    _check_chunk((CHUNK_PENDING,), CHUNK_UNKNOWN, UNSENT)
    tx.execute(
        "UPDATE chunks SET state = 'unknown', last_error = ?, updated_at = ? "
        "WHERE job_id = ? AND state = 'pending' AND doubts > 0",
        (f"{message} An earlier send of this chunk may have been applied.", now, job_id),
    )
    tx.execute(
        "UPDATE chunks SET state = 'failed', last_error = ?, finished_at = ?, updated_at = ? "
        "WHERE job_id = ? AND state = 'pending'",
        (message, now, now, job_id),
    )
    # Rows of a chunk back in doubt stay (or become again) in doubt, with their message.
    in_doubt = _row_sources(ROW_UNKNOWN, IN_DOUBT)
    for index in _chunks_holding(tx, job_id, in_doubt, (CHUNK_UNKNOWN,)):
        rs = load(tx, job_id, index)
        assert rs is not None
        for i, status in enumerate(rs.status):
            if status in in_doubt:
                rs.set(i, ROW_UNKNOWN, rs.message[i])
        _save(tx, job_id, index, rs)
    # Rows of chunks that are now failed were never sent (never in doubt): not applied.
    sources = _row_sources(ROW_NOT_APPLIED, NEVER_SENT)
    for index in _chunks_holding(tx, job_id, sources, (CHUNK_FAILED,)):
        rs = load(tx, job_id, index)
        assert rs is not None
        here = [i for i, status in enumerate(rs.status)
                if status in sources and not rs.doubted[i]]
        for i in here:
            rs.set(i, ROW_NOT_APPLIED, message)
        if here:
            _save(tx, job_id, index, rs)


# --- closing a chunk with Gameball's per-item results ----------------------------------------


SET_RESULTS = ("INSERT INTO chunk_results (job_id, idx, results) VALUES (?, ?, ?) "
               "ON CONFLICT (job_id, idx) DO UPDATE SET results = excluded.results")


class Prepared(NamedTuple):
    """A :class:`ChunkFinish` encoded before the write lock is taken."""

    outcomes: list[ItemOutcome]
    applied: frozenset[str]
    results: bytes | None


def prepare(f: ChunkFinish) -> Prepared:
    # JSON bytes (Gameball's reply as received) are kept as they are: no second encoding.
    results = None if f.results is None else pack(
        f.results if isinstance(f.results, bytes) else dumps(f.results).encode())
    return Prepared(list(f.outcomes), frozenset(f.applied), results)


def finish(tx: sqlite3.Connection, f: ChunkFinish, p: Prepared, now: float) -> bool:
    """Close a chunk and write each item's outcome to its rows (see ``Ledger.finish_chunk``).

    A row is moved only from a status the table lets ``f.cause`` move it from: applied when
    its key was applied, else its item's own outcome, else (not named by the reply at all)
    the ``unlisted`` verdict.
    """
    who = f.cause if f.cause in (OPERATOR, EVIDENCE) else OWNER
    # The rows are asked for before the guarded move, which does not change them: on
    # PostgreSQL both answers then come back in one round trip (see postgres._Tx).
    rows = _ask_rows(tx, f.job_id, f.index)
    if not move_chunk(tx, f.job_id, f.index, f.state, expect=f.expect, who=who,
                      owner=f.owner, now=now,
                      sets={"last_error": f.error, "finished_at": now}):
        return False
    if p.results is not None:
        tx.execute(SET_RESULTS, (f.job_id, f.index, p.results))
    r = rows.fetchone()
    if r is None:
        return True
    rs = RowSet.decode(r[0])
    applied_from = _row_sources(ROW_APPLIED, f.cause) if p.applied else ()
    own = {o.key: o for o in p.outcomes}
    sources = {status: _row_sources(status, f.cause) for status in {o.status for o in own.values()}}
    unlisted = (None if f.unlisted is None
                else (*f.unlisted, _row_sources(f.unlisted[0], f.cause)))
    statuses, messages = rs.status, rs.message
    if p.applied and p.applied.issuperset(rs.key) and set(statuses).issubset(applied_from):
        # The usual closing: every row applied, whole columns at once (the loop below would
        # do the same a row at a time, ~0.5 ms a chunk while the senders wait for the GIL).
        rs.status, rs.message = [ROW_APPLIED] * len(rs), [None] * len(rs)
        _save(tx, f.job_id, f.index, rs)
        return True
    for i, (key, status) in enumerate(zip(rs.key, statuses, strict=True)):
        if key in p.applied:
            if status in applied_from:  # rs.set(i, ROW_APPLIED, None), a thousand times
                statuses[i] = ROW_APPLIED
                messages[i] = None
        elif (o := own.get(key)) is not None:
            if status in sources[o.status]:
                rs.set(i, o.status, o.message, result=o.result)
        elif unlisted is not None and status in unlisted[2]:
            rs.set(i, unlisted[0], unlisted[1])
    _save(tx, f.job_id, f.index, rs)
    return True
