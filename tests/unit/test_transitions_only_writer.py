"""The transition table is the one writer of chunk and row states, and every entry is used.

Issue 11 asks that only ``ledger/transitions.py`` writes ``chunks.state`` or a row's status
(DESIGN.md §10) and that doubt is sticky (§6): no cause but an operator or evidence from
Gameball turns a row that was in doubt into "not applied". Three kinds of proof:

* a scan of the package's SQL (every string literal, f-strings included) for writes of
  those columns outside the transition module;
* a walk through the ledger API the runner, the services and the approval flow call, that
  watches every state change it makes: each one must be in the table, for the cause that
  made it, and together they must make every move of the table;
* the table itself, and the ledger under stop, reject, pause and retry, for the doubt rule.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from ledgers import open_test_ledger

import gameball_batch
from gameball_batch import jobs
from gameball_batch import ledger as lg
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ledger import transitions as tr

PACKAGE = Path(gameball_batch.__file__).parent
WRITER = PACKAGE / "ledger" / "transitions.py"
SCHEMA = PACKAGE / "ledger" / "schema.py"

# --- the scan --------------------------------------------------------------------------------

_TABLE = r"(?:\w+\.)?[\"`\[]?(?P<table>\w+)[\"`\]]?"  # main.rows, "rows", [rows]
_UPDATE = re.compile(
    r"\bUPDATE\s+(?:OR\s+\w+\s+)?" + _TABLE + r"(?:\s+AS\s+\w+)?"
    r"(?:\s+INDEXED\s+BY\s+\w+|\s+NOT\s+INDEXED)?\s+SET\s+(?P<set>.*?)"
    r"(?=\bFROM\b|\bWHERE\b|\bRETURNING\b|;|$)",
    re.I | re.S)
_INSERT = re.compile(r"\b(?:INSERT|REPLACE)\s+(?:OR\s+\w+\s+)?INTO\s+" + _TABLE
                     + r"(?![\w.])(?P<rest>[^;]*)", re.I | re.S)
# A chunk's state is a column; a row's status lives in its chunk's row set (schema 9), so
# every write of a row set writes row statuses.
STATE_COLUMN = {"chunks": "state", "row_sets": "rows"}
PLACEHOLDER = "{…}"  # where an f-string computes text: could be any column


def state_writes(sql: str) -> list[str]:
    """The statements in ``sql`` that write a chunk's state or a row's status."""
    found = []
    for m in _UPDATE.finditer(sql):
        column = STATE_COLUMN.get(m["table"].lower())
        assignments = m["set"]
        if column and (re.search(rf"\b{column}\s*=", assignments, re.I)
                       or PLACEHOLDER in assignments):
            found.append(m.group(0).strip())
    for m in _INSERT.finditer(sql):
        if m["table"].lower() in STATE_COLUMN:
            found.append(m.group(0).strip())
    return found


def reshapes(statement: str) -> bool:
    """A migration's INSERT … SELECT copies rows across a table rebuild: it decides nothing."""
    return (re.match(r"(?:INSERT|REPLACE)\b", statement, re.I) is not None
            and re.search(r"\bSELECT\b", statement, re.I) is not None
            and re.search(r"\bVALUES\b", statement, re.I) is None)


def _text(node: ast.AST) -> str | None:
    """The text of a string literal or f-string (computed parts as a placeholder)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else PLACEHOLDER
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def sql_strings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string in a module that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.value) for n in ast.walk(tree)
                  if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    parts = {id(child) for n in ast.walk(tree)
             if isinstance(n, ast.BinOp | ast.JoinedStr) for child in ast.iter_child_nodes(n)}
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in parts:
            continue
        text = _text(node)
        if text is not None:
            yield getattr(node, "lineno", 0), text


def writers_in(path: Path, *, allow: Callable[[str], bool] = lambda _s: False) -> list[str]:
    return [f"{path.relative_to(PACKAGE.parent)}:{line}: {w}"
            for line, text in sql_strings(path) if _MAY_WRITE.search(text)
            for w in state_writes(text) if not allow(w)]


_MAY_WRITE = re.compile(r"\b(?:UPDATE|INTO)\b", re.I)  # a cheap first look


@pytest.mark.parametrize(("sql", "writes"), [
    ("UPDATE chunks SET state = 'failed' WHERE job_id = ?", True),
    ("update row_sets set lo = ?, rows = ? where job_id = ?", True),
    ("UPDATE chunks SET {…} WHERE job_id = ?", True),
    ("INSERT OR REPLACE INTO row_sets (job_id, rows) VALUES (?, ?)", True),
    ('UPDATE main."chunks" SET state=? WHERE idx = ?', True),
    ("CREATE TRIGGER t AFTER INSERT ON jobs BEGIN UPDATE row_sets SET rows = 'x'; END", True),
    ("UPDATE chunks SET remote_job_id = ? WHERE state = 'accepted'", False),
    ("UPDATE row_sets SET lo = 1 WHERE chunk_idx = 0", False),
    ("UPDATE jobs SET state = ? WHERE id = ?", False),
    ("INSERT INTO chunks_v4 (state) SELECT state FROM chunks", False),
    ("INSERT INTO chunk_results (job_id, idx, results) VALUES (?, ?, ?)", False),
])
def test_the_scan_tells_state_writes_from_other_sql(sql: str, writes: bool) -> None:
    assert bool(state_writes(sql)) is writes


def test_the_scan_finds_the_writes_of_the_transition_module() -> None:
    """Not vacuous: it sees the writes that are there."""
    found = "\n".join(writers_in(WRITER))
    for statement in ("UPDATE chunks SET state", "UPDATE row_sets SET rows",
                      "INSERT INTO chunks", "INSERT INTO row_sets", "UPDATE chunks SET {…}"):
        assert statement in found


def test_only_the_transition_module_writes_chunk_states_and_row_statuses() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != WRITER:  # migrations may rebuild tables (INSERT … SELECT), nothing more
            offenders += writers_in(path, allow=reshapes if path == SCHEMA else lambda _s: False)
    assert offenders == []


def test_a_migration_may_copy_rows_but_not_decide_them() -> None:
    assert reshapes("INSERT INTO row_sets (job_id, rows) SELECT job_id, rows FROM sets_v9")
    assert not reshapes("INSERT INTO row_sets (job_id, rows) VALUES ('j', x'00')")
    assert not reshapes("UPDATE row_sets SET rows = x'00' WHERE chunk_idx IN (SELECT 1)")


# --- the walk ----------------------------------------------------------------------------------

OTHER_THAN_OPERATOR = frozenset(
    {tr.OWNER, tr.TAKEOVER, tr.UNSENT, tr.REPLY, tr.IN_DOUBT, tr.NEVER_SENT, tr.IDEMPOTENT})


Place = tuple[str, int]  # (job, chunk index or source row)


class Watcher:
    """Snapshots every chunk state and row status around each step and records the moves,
    with the cause the step stands for (a row whose message changed in ``unknown`` counts
    as a move ``unknown → unknown``, the table's "new reason")."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.chunk_moves: set[tuple[str, str, str]] = set()
        self.row_moves: set[tuple[str, str, str]] = set()

    def _snapshot(self) -> tuple[dict[Place, str], dict[Place, tuple[str, str | None]]]:
        chunks: dict[Place, str] = {}
        rows: dict[Place, tuple[str, str | None]] = {}
        for job in self.ledger.jobs(limit=100):
            chunks.update({(job.id, c.index): c.state for c in self.ledger.chunks(job.id)})
            rows.update({(job.id, r.row): (r.status, r.message)
                         for r in self.ledger.rows(job.id)})
        return chunks, rows

    @contextmanager
    def step(self, chunk_cause: str, row_cause: str) -> Iterator[None]:
        chunks, rows = self._snapshot()
        yield
        after_chunks, after_rows = self._snapshot()
        self.chunk_moves |= {(chunks[k], s, chunk_cause) for k, s in after_chunks.items()
                             if k in chunks and chunks[k] != s}
        self.row_moves |= {(rows[k][0], s, row_cause) for k, (s, m) in after_rows.items()
                           if k in rows and (rows[k][0] != s
                                             or (s == lg.ROW_UNKNOWN and rows[k][1] != m))}


def new_job(ledger: Ledger, slug: str, chunks: int, state: str = lg.JOB_QUEUED) -> str:
    job_id = f"{slug}-{time.monotonic_ns()}"
    ledger.create_job(
        NewJob(id=job_id, batch_type=slug, file_name="f.csv", fingerprint=job_id, sheet=None,
               mapping={}, columns=("item",), row_count=chunks, item_count=chunks, totals={},
               actor="amira", state=state),
        [NewChunk(i, b'{"body":[{"customerId":"K%d","transactionId":"K%d"}]}' % (i, i), 1)
         for i in range(chunks)],
        [NewRow(i + 2, i, f"K{i}", ("x",)) for i in range(chunks)],
    )
    return job_id


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = open_test_ledger(tmp_path)
    yield led
    led.close()


def walk(ledger: Ledger, tmp_path: Path) -> Watcher:
    """Every path the runner (owner), a new lease holder (takeover), an operator
    (jobs.resolve_chunk), evidence (verify) and a stop (unsent) take through the ledger."""
    w = Watcher(ledger)
    job = new_job(ledger, "cashback", 13)
    assert ledger.acquire_lease(job, "A", 30)

    def sent(index: int, accepted: bool = False) -> None:
        with w.step(tr.OWNER, tr.REPLY):
            assert ledger.claim(job, index, "A") is not None
        if accepted:
            with w.step(tr.OWNER, tr.REPLY):
                assert ledger.mark_accepted(job, index, f"remote-{index}", owner="A")

    def in_doubt(index: int, expect: tuple[str, ...] = (lg.CHUNK_SENDING,),
                 error: str = "500") -> None:
        with w.step(tr.OWNER, tr.IN_DOUBT):
            assert ledger.mark_unknown(job, index, error=error, expect=expect, owner="A",
                                       actor="A")

    def closed(index: int, state: str, cause: str = tr.REPLY, **finish: object) -> None:
        who = cause if cause in (tr.OPERATOR, tr.EVIDENCE) else tr.OWNER
        owner = "A" if who == tr.OWNER else None
        with w.step(who, cause):
            assert ledger.finish_chunk(job, index, state=state, owner=owner, cause=cause,
                                       **finish)  # type: ignore[arg-type]

    def operator(index: int, decision: str) -> None:
        with w.step(tr.OPERATOR, tr.OPERATOR):
            jobs.resolve_chunk(ledger, job, index, decision, actor="lead", reason="checked")

    # 0: accepted, done, its row applied by the reply.
    sent(0, accepted=True)
    closed(0, lg.CHUNK_DONE, applied=["K0"], unlisted=(lg.ROW_UNKNOWN, "unlisted"))
    # 1: a 429 (pending again), then refused as a whole (failed, its row failed).
    sent(1)
    with w.step(tr.OWNER, tr.REPLY):
        assert ledger.mark_pending(job, 1, error="429", owner="A")
    sent(1)
    closed(1, lg.CHUNK_FAILED, expect=(lg.CHUNK_SENDING,), unlisted=(lg.ROW_FAILED, "4xx"))
    # 2: a job-level failure with an item failed; 3: a reply naming nobody (rows in doubt).
    sent(2, accepted=True)
    closed(2, lg.CHUNK_FAILED, outcomes=[ItemOutcome("K2", lg.ROW_FAILED, "7000")],
           unlisted=(lg.ROW_UNKNOWN, "unlisted"))
    sent(3, accepted=True)
    closed(3, lg.CHUNK_DONE, unlisted=(lg.ROW_UNKNOWN, "Gameball did not say"))
    # 4: never settled (accepted → unknown); the operator says applied.
    sent(4, accepted=True)
    in_doubt(4, expect=(lg.CHUNK_ACCEPTED,))
    operator(4, "applied")
    # 5: a 5xx; the operator says not applied.
    sent(5)
    in_doubt(5)
    operator(5, "not_applied")
    # 6: a 5xx; the operator resends (rows pending again).
    sent(6)
    in_doubt(6)
    operator(6, "resend")
    # 7 and 8: evidence from Gameball settles them (verify.py).
    for index, state, row in ((7, lg.CHUNK_DONE, lg.ROW_APPLIED),
                              (8, lg.CHUNK_FAILED, lg.ROW_NOT_APPLIED)):
        sent(index)
        in_doubt(index)
        closed(index, state, cause=tr.EVIDENCE, expect=(lg.CHUNK_UNKNOWN,),
               unlisted=(row, "evidence"), actor="verify")
    # 9 and 12: a 5xx, resent automatically; the resend's reply leaves 9 in doubt (a new
    # reason) and names 12 applied (a 9004 for an id no other job used).
    for index, status in ((9, lg.ROW_UNKNOWN), (12, lg.ROW_APPLIED)):
        sent(index)
        in_doubt(index)
        with w.step(tr.OWNER, tr.REPLY):
            assert ledger.mark_pending(job, index, error="500", expect=(lg.CHUNK_UNKNOWN,),
                                       owner="A", actor="A")
        sent(index, accepted=True)
        closed(index, lg.CHUNK_DONE, unlisted=None,
               outcomes=[ItemOutcome(f"K{index}", status, "after the resend")])
    # 10: in doubt and queued for its automatic resend when the job stops (unknown again);
    # 11: never sent when it stops (failed, its row not applied).
    sent(10)
    in_doubt(10)
    with w.step(tr.OWNER, tr.REPLY):
        assert ledger.mark_pending(job, 10, error="500", expect=(lg.CHUNK_UNKNOWN,),
                                   owner="A", actor="A")
    sent(10)
    in_doubt(10, error="502 on the resend")
    with w.step(tr.OWNER, tr.REPLY):
        assert ledger.mark_pending(job, 10, error="500", expect=(lg.CHUNK_UNKNOWN,),
                                   not_before=time.time() + 3600, owner="A", actor="A")
    # A new lease holder finds chunk 6 (resent by the operator) mid-send: in doubt again.
    sent(6)
    with open_test_ledger(tmp_path, clock=lambda: time.time() + 31) as later:
        assert later.acquire_lease(job, "B", 30)
        with w.step(tr.TAKEOVER, tr.IN_DOUBT):
            assert later.recover_sending(job, "B") == [6]
    # Evidence settles single rows by number (verify.py): here two rows never sent.
    evidence_job = new_job(ledger, "cashback", 2)
    with w.step(tr.EVIDENCE, tr.EVIDENCE):
        assert ledger.settle_rows(
            evidence_job,
            {2: (lg.ROW_APPLIED, "Gameball holds it"), 3: (lg.ROW_NOT_APPLIED, "absent")},
            actor="verify", action="verify.accepted", detail={}) == 2
    assert ledger.set_job_state(job, lg.JOB_STOPPING, actor="lead")
    with w.step(tr.UNSENT, tr.NEVER_SENT):
        ledger.settle_unsent(job, "Not sent: the job was stopped.")
    # Idempotent types: a resend's answer is the answer, even for a row that was in doubt.
    customers = new_job(ledger, "customers", 6)
    assert ledger.acquire_lease(customers, "A", 30)
    answers = [  # (in doubt before?, the reply's verdict on the row)
        (False, lg.ROW_APPLIED), (False, lg.ROW_FAILED), (False, lg.ROW_UNKNOWN),
        (True, lg.ROW_APPLIED), (True, lg.ROW_UNKNOWN), (True, lg.ROW_FAILED)]
    for index, (doubted, verdict) in enumerate(answers):
        with w.step(tr.OWNER, tr.IDEMPOTENT):
            assert ledger.claim(customers, index, "A") is not None
        if doubted:
            with w.step(tr.OWNER, tr.IN_DOUBT):
                assert ledger.mark_unknown(customers, index, error="500", owner="A",
                                           actor="A")
            with w.step(tr.OWNER, tr.IDEMPOTENT):
                assert ledger.mark_pending(customers, index, error="500",
                                           expect=(lg.CHUNK_UNKNOWN,), owner="A", actor="A")
            with w.step(tr.OWNER, tr.IDEMPOTENT):
                assert ledger.claim(customers, index, "A") is not None
        with w.step(tr.OWNER, tr.IDEMPOTENT):
            assert ledger.mark_accepted(customers, index, f"remote-c{index}", owner="A")
        with w.step(tr.OWNER, tr.IDEMPOTENT):
            assert ledger.finish_chunk(
                customers, index, state=lg.CHUNK_DONE, owner="A", cause=tr.IDEMPOTENT,
                outcomes=[ItemOutcome(f"K{index}", verdict, "the resend's answer")],
                unlisted=None)
    return w


def test_every_state_change_is_a_move_of_the_table_for_the_cause_that_made_it(
    ledger: Ledger, tmp_path: Path
) -> None:
    w = walk(ledger, tmp_path)
    assert {m for m in w.chunk_moves if m[2] not in tr.CHUNK_MOVES.get(m[:2], ())} == set()
    assert {m for m in w.row_moves if m[2] not in tr.ROW_MOVES.get(m[:2], ())} == set()


# Allowed by the table, made by no caller: an operator decides on the rows of a chunk in
# doubt, and those rows are all in doubt (a chunk goes unknown with every row it holds).
UNREACHED = {((lg.ROW_PENDING, lg.ROW_APPLIED), tr.OPERATOR),
             ((lg.ROW_PENDING, lg.ROW_NOT_APPLIED), tr.OPERATOR)}


def test_every_move_of_the_table_is_made(ledger: Ledger, tmp_path: Path) -> None:
    w = walk(ledger, tmp_path)
    assert set(tr.CHUNK_MOVES) - {m[:2] for m in w.chunk_moves} == set()
    assert set(tr.ROW_MOVES) - {m[:2] for m in w.row_moves} == set()


def test_every_cause_the_table_names_makes_its_move(ledger: Ledger, tmp_path: Path) -> None:
    w = walk(ledger, tmp_path)
    assert {(k, c) for k, causes in tr.CHUNK_MOVES.items() for c in causes
            if (*k, c) not in w.chunk_moves} == set()
    assert {(k, c) for k, causes in tr.ROW_MOVES.items() for c in causes
            if (*k, c) not in w.row_moves} == UNREACHED


# --- doubt is sticky ---------------------------------------------------------------------------


def test_only_an_operator_or_evidence_turns_doubt_into_not_applied_in_the_table() -> None:
    assert tr.ROW_MOVES[(lg.ROW_UNKNOWN, lg.ROW_NOT_APPLIED)] == {tr.OPERATOR, tr.EVIDENCE}
    # Nor by a detour: no chain of other causes leads from unknown to not_applied.
    reached, frontier = {lg.ROW_UNKNOWN}, [lg.ROW_UNKNOWN]
    while frontier:
        here = frontier.pop()
        for (source, to), causes in tr.ROW_MOVES.items():
            if source == here and causes & OTHER_THAN_OPERATOR and to not in reached:
                reached.add(to)
                frontier.append(to)
    assert lg.ROW_NOT_APPLIED not in reached
    for cause in OTHER_THAN_OPERATOR:
        assert lg.ROW_UNKNOWN not in tr.row_sources(lg.ROW_NOT_APPLIED, cause)


def doubted_job(ledger: Ledger, *, resent_by_operator: bool = False) -> str:
    """A job whose chunk 0 went in doubt (and, if asked, an operator chose to resend it),
    while chunk 1 was never sent."""
    job = new_job(ledger, "adjustments", 2)
    assert ledger.acquire_lease(job, "A", 30)
    assert ledger.claim(job, 0, "A") is not None
    assert ledger.mark_unknown(job, 0, error="500", owner="A", actor="A")
    ledger.release_lease(job, "A")
    if resent_by_operator:
        jobs.resolve_chunk(ledger, job, 0, "resend", actor="lead", reason="looks unsent")
    return job


def row_of_chunk0(ledger: Ledger, job: str) -> lg.Row:
    (row,) = ledger.rows(job, chunk_idx=0)
    return row


@pytest.mark.parametrize("resent_by_operator", [False, True])
def test_a_stop_never_makes_a_doubted_row_not_sent(ledger: Ledger,
                                                   resent_by_operator: bool) -> None:
    job = doubted_job(ledger, resent_by_operator=resent_by_operator)
    assert jobs.request_stop(ledger, job, "lead")
    ledger.settle_unsent(job, "Not sent: the job was stopped.")  # what the runner does
    row = row_of_chunk0(ledger, job)
    assert (row.status, row.doubted) == (lg.ROW_UNKNOWN, True)
    assert [r.status for r in ledger.rows(job, chunk_idx=1)] == [lg.ROW_NOT_APPLIED]


def test_a_rejection_never_makes_a_doubted_row_not_sent(ledger: Ledger) -> None:
    job = doubted_job(ledger, resent_by_operator=True)
    assert ledger.set_job_state(job, lg.JOB_REJECTED, unsent="Not sent: rejected by lead")
    assert row_of_chunk0(ledger, job).status == lg.ROW_UNKNOWN


def test_pause_and_retry_leave_a_doubted_row_in_doubt(ledger: Ledger) -> None:
    job = doubted_job(ledger)
    assert jobs.pause(ledger, job, "lead")
    assert row_of_chunk0(ledger, job).status == lg.ROW_UNKNOWN
    assert jobs.request_stop(ledger, job, "lead")
    ledger.settle_unsent(job, "Not sent: the job was stopped.")
    assert ledger.set_job_state(job, lg.JOB_STOPPED, expect=(lg.JOB_STOPPING,))
    child = jobs.retry_failed(ledger, job, "lead", reviewed=True)
    assert [r.row for r in ledger.rows(child)] == [3]  # only the row never sent
    assert row_of_chunk0(ledger, job).status == lg.ROW_UNKNOWN


@pytest.mark.parametrize("cause", sorted(OTHER_THAN_OPERATOR - {tr.OWNER, tr.TAKEOVER,
                                                                tr.UNSENT}))
def test_no_cause_but_an_operator_or_evidence_moves_a_doubted_row_to_not_applied(
    ledger: Ledger, cause: str
) -> None:
    job = doubted_job(ledger)
    with ledger._tx() as tx:  # the transition module's own entry points
        with suppress(tr.TransitionError):
            tr.move_rows(tx, job, lg.ROW_NOT_APPLIED, cause, "no", chunk=0)
        with suppress(tr.TransitionError):
            tr.move_listed_rows(tx, job, {2: (lg.ROW_NOT_APPLIED, "no")}, cause)
    assert row_of_chunk0(ledger, job).status == lg.ROW_UNKNOWN
