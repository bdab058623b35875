"""The ledger keeps jobs, exact chunk payloads, rows and an append-only audit log."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_clock import FakeClock
from ledgers import ledger_target, open_ledger, open_test_ledger
from tally_check import tally_drift

from gameball_batch import ledger as lg
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow

TESTS = str(Path(__file__).resolve().parents[1])  # for the scripts of other processes


def _job(job_id: str = "job-1", rows: int = 4, per_chunk: int = 2) -> tuple:
    job = NewJob(
        id=job_id, batch_type="cashback", file_name="drop.csv", fingerprint="f" * 64,
        sheet=None, mapping={"customerId": "Customer"}, columns=("Customer", "Amount"),
        row_count=rows, item_count=rows, totals={"amount.total": 10.0}, actor="amira",
    )
    chunks = [
        NewChunk(i, b'{"body":[%d]}' % i, min(per_chunk, rows - i * per_chunk))
        for i in range((rows + per_chunk - 1) // per_chunk)
    ]
    new_rows = [NewRow(r + 2, r // per_chunk, f"T{r}", (f"cus-{r}", "1.5")) for r in range(rows)]
    return job, chunks, new_rows


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    led = open_test_ledger(tmp_path, clock=clock)
    led.create_job(*_job())
    yield led
    led.close()
    assert tally_drift(ledger_target(tmp_path)) == [], "row counts drifted from the rows"


def test_a_new_ledger_is_at_the_current_schema(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path, "l.db") as led:
        assert led.schema_version() == lg.SCHEMA_VERSION


@pytest.mark.sqlite_only
def test_new_file_is_at_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as led:
        assert led.schema_version() == lg.SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.sqlite_only  # the version is SQLite's user_version
def test_file_from_a_newer_version_is_refused_with_a_message(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "l.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(lg.LedgerError, match="newer gameball-batch"):
        Ledger(tmp_path / "l.db")


@pytest.mark.sqlite_only  # a SQLite file written by an old version
def test_a_ledger_from_schema_3_keeps_its_payloads_and_results(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number in range(3):
        for statement in lg._statements(lg.MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute("INSERT INTO jobs (id, batch_type, state, created_at, updated_at) "
                 "VALUES ('old', 'cashback', 'finished', 1, 1)")
    conn.execute("INSERT INTO chunks (job_id, idx, payload, item_count, state, created_at, "
                 "updated_at, results) VALUES ('old', 0, X'7B7D', 1, 'done', 1, 1, "
                 "'{\"successful\":[{\"transactionId\":\"T0\"}],\"failed\":[]}')")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with Ledger(path) as led:
        assert led.schema_version() == lg.SCHEMA_VERSION
        assert led.payload("old", 0) == b"{}"
        assert led.chunk_results("old", 0) == {"successful": [{"transactionId": "T0"}],
                                               "failed": []}
        assert led.chunk("old", 0).state == "done"  # type: ignore[union-attr]
    raw = sqlite3.connect(path)
    columns = [r[1] for r in raw.execute("PRAGMA table_info(chunks)")]
    assert columns == ["job_id", "idx", "item_count", "state", "attempts", "doubts",
                       "remote_job_id", "last_error", "owner", "not_before", "created_at",
                       "updated_at", "sent_at", "finished_at"]
    assert raw.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                       "AND tbl_name = 'chunks'").fetchall() == [("chunks_state",)]
    raw.close()


@pytest.mark.sqlite_only  # a SQLite file written by an old version
def test_a_ledger_from_schema_8_keeps_every_row_as_it_was(tmp_path: Path) -> None:
    """Schema 9 keeps rows per chunk: a ledger written before keeps each row's chunk, key,
    status, message, result, doubt mark and cells, its counts and its guards' keys."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for number in range(8):
        for statement in lg._statements(lg.MIGRATIONS[number]):  # type: ignore[arg-type]
            conn.execute(statement)
    conn.execute("INSERT INTO jobs (id, batch_type, state, columns, created_at, updated_at) "
                 "VALUES ('old', 'cashback', 'finished', '[\"Customer\", \"Amount\"]', 5, 5)")
    conn.executemany(
        "INSERT INTO chunks (job_id, idx, item_count, state, created_at, updated_at) "
        "VALUES ('old', ?, 1, ?, 5, 5)", [(0, "done"), (1, "unknown")])
    old_rows = [  # row, chunk, key, status, message, result, cells, doubted
        (2, 0, "T0", "applied", None, None, '["cus-0", "1.5"]', 0),
        (3, 0, "T1", "failed", "7000 no customer", '{"code": 7000}', '["cus-1", "2"]', 0),
        (4, 1, "T2", "unknown", "502", None, '["cus-2", "\u0663"]', 1),
        (5, -1, "", "not_applied", "Not sent: invalid", None, '["", "x"]', 0),
    ]
    conn.executemany("INSERT INTO rows (job_id, row, chunk_idx, key, status, message, result, "
                     "cells, doubted) VALUES ('old', ?, ?, ?, ?, ?, ?, ?, ?)", old_rows)
    conn.executemany("INSERT INTO row_keys (job_id, row, bkey, at) VALUES ('old', ?, ?, 5)",
                     [(2, "cashback|cus-0|1.5"), (3, "cashback|cus-1|2")])
    conn.executemany("INSERT INTO item_ids (scope, id, job_id, row) "
                     "VALUES ('cashback', ?, 'old', ?)", [("T0", 2), ("T1", 3), ("T2", 4)])
    conn.execute("INSERT INTO row_tallies (job_id, chunk_idx, status, n) SELECT job_id, "
                 "chunk_idx, status, COUNT(*) FROM rows GROUP BY 1, 2, 3")
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()
    with Ledger(path) as led:
        assert led.schema_version() == lg.SCHEMA_VERSION
        rows = led.rows("old")
        assert [(r.row, r.chunk_idx, r.key, r.status, r.message, r.result, r.cells, r.doubted)
                for r in rows] == [
            (2, 0, "T0", "applied", None, None, ("cus-0", "1.5"), False),
            (3, 0, "T1", "failed", "7000 no customer", {"code": 7000}, ("cus-1", "2"), False),
            (4, 1, "T2", "unknown", "502", None, ("cus-2", "\u0663"), True),
            (5, -1, "", "not_applied", "Not sent: invalid", None, ("", "x"), False)]
        assert led.row_counts("old")["unknown"] == 1
        assert led.left_out_count("old") == 1
        assert led.find_row_keys(["cashback|cus-0|1.5", "cashback|cus-1|2"], since=0,
                                 statuses=("applied", "unknown")) == [
            ("cashback|cus-0|1.5", "old", 2, 5.0)]
        assert led.find_ids("cashback", ["T2", "T9"]) == [("T2", "old", 4, "unknown")]
        assert led.row_keys_of("old", [3]) == [(3, "cashback|cus-1|2")]
    assert tally_drift(path) == []
    raw = sqlite3.connect(path)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"rows", "row_keys", "item_ids"}
    raw.close()


def test_payload_bytes_are_stored_exactly(ledger: Ledger) -> None:
    assert ledger.payload("job-1", 1) == b'{"body":[1]}'
    assert [c.state for c in ledger.chunks("job-1")] == ["pending", "pending"]
    assert ledger.row_counts("job-1")["pending"] == 4


def test_rows_keep_source_numbers_and_original_cells(ledger: Ledger) -> None:
    rows = ledger.rows("job-1")
    assert [r.row for r in rows] == [2, 3, 4, 5]
    assert rows[0].cells == ("cus-0", "1.5")
    assert ledger.job("job-1").columns == ("Customer", "Amount")  # type: ignore[union-attr]


def test_only_the_lease_holder_may_mark_a_chunk_sending(ledger: Ledger) -> None:
    assert not ledger.mark_sending("job-1", 0, "runner-a")  # no lease yet
    assert ledger.acquire_lease("job-1", "runner-a", 30)
    assert not ledger.acquire_lease("job-1", "runner-b", 30)
    assert not ledger.mark_sending("job-1", 0, "runner-b")
    assert ledger.mark_sending("job-1", 0, "runner-a")
    assert not ledger.mark_sending("job-1", 0, "runner-a")  # already sending


def test_an_expired_lease_can_be_taken_over(ledger: Ledger, clock: FakeClock) -> None:
    assert ledger.acquire_lease("job-1", "runner-a", 30)
    clock.now += 31
    assert ledger.acquire_lease("job-1", "runner-b", 30)
    assert not ledger.renew_lease("job-1", "runner-a", 30)
    assert not ledger.mark_sending("job-1", 0, "runner-a")


def test_a_lease_of_a_dead_process_can_be_broken(ledger: Ledger) -> None:
    assert ledger.acquire_lease("job-1", "runner-a", 30)
    assert ledger.acquire_lease("job-1", "runner-b", 30, break_if=lambda owner: owner == "runner-a")


def test_a_paused_job_sends_nothing(ledger: Ledger) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    assert ledger.set_job_state("job-1", lg.JOB_PAUSED, actor="amira")
    assert not ledger.mark_sending("job-1", 0, "r")


def test_in_doubt_rows_stay_in_doubt_while_the_runner_resends_their_chunk(
    ledger: Ledger,
) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 0, "r")
    assert ledger.mark_unknown("job-1", 0, error="connection dropped")
    assert ledger.row_counts("job-1")["unknown"] == 2
    assert ledger.chunk("job-1", 0).doubts == 1  # type: ignore[union-attr]
    assert ledger.mark_pending("job-1", 0, error=None, expect=("unknown",), owner="r")
    assert ledger.chunk("job-1", 0).state == "pending"  # type: ignore[union-attr]
    # Doubt is sticky: only the resend's reply, an operator or evidence settles the rows.
    assert ledger.row_counts("job-1")["unknown"] == 2
    assert all(r.doubted for r in ledger.rows("job-1", chunk_idx=0))


def test_an_operators_resend_puts_the_rows_back_to_pending_with_their_mark(
    ledger: Ledger,
) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 0, "r")
    assert ledger.mark_unknown("job-1", 0, error="connection dropped")
    assert ledger.mark_pending("job-1", 0, error=None, expect=("unknown",), actor="amira",
                               operator=True)
    assert ledger.row_counts("job-1")["pending"] == 4
    assert [r.doubted for r in ledger.rows("job-1", chunk_idx=0)] == [True, True]


def test_results_reach_the_rows_of_their_key(ledger: Ledger) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 0, "r")
    ledger.mark_accepted("job-1", 0, "77")
    outcomes = [ItemOutcome("T0", "applied", "ok", {"points": 3})]
    assert ledger.finish_chunk("job-1", 0, state="done", outcomes=outcomes,
                               unlisted=("unknown", "no result"))
    by_row = {r.row: r for r in ledger.rows("job-1", chunk_idx=0)}
    assert by_row[2].status == "applied"
    assert by_row[2].result == {"points": 3}
    assert by_row[3].status == "unknown"
    # a second, racing finish changes nothing
    assert not ledger.finish_chunk("job-1", 0, state="done", outcomes=[], unlisted=None)


@pytest.mark.parametrize(("applied", "outcomes", "expected"), [
    (["T0", "T1"], [], {2: "applied", 3: "applied"}),
    (["T0"], [ItemOutcome("T1", "failed", "Customer Not Found")], {2: "applied", 3: "failed"}),
    (["T0"], [], {2: "applied", 3: "unknown"}),  # T1 not reported: not assumed applied
    (["T0", "T9"], [], {2: "applied", 3: "unknown"}),  # a foreign key applies nothing
], ids=["all applied", "one failed", "one unreported", "foreign key"])
def test_every_row_gets_the_verdict_of_its_own_key(
    ledger: Ledger, applied: list[str], outcomes: list[ItemOutcome], expected: dict[int, str]
) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 0, "r")
    ledger.mark_accepted("job-1", 0, "77")
    assert ledger.finish_chunk("job-1", 0, state="done", applied=applied, outcomes=outcomes,
                               unlisted=("unknown", "Gameball did not report this row."))
    assert {r.row: r.status for r in ledger.rows("job-1", chunk_idx=0)} == expected
    assert ledger.row_counts("job-1")["pending"] == 2  # the other chunk is untouched


def test_sending_chunks_left_by_a_dead_owner_become_unknown(ledger: Ledger) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 1, "r")
    assert ledger.acquire_lease("job-1", "r2", 30, break_if=lambda owner: owner == "r")
    assert ledger.recover_sending("job-1", "r2") == [1]
    assert ledger.chunk("job-1", 1).state == "unknown"  # type: ignore[union-attr]


def test_only_the_lease_holder_recovers_a_sending_chunk(ledger: Ledger) -> None:
    ledger.acquire_lease("job-1", "r", 30)
    ledger.mark_sending("job-1", 1, "r")
    ledger.recover_sending("job-1", "r2")  # r2 holds no lease: refused, and audited
    assert ledger.chunk("job-1", 1).state == "sending"  # type: ignore[union-attr]
    assert [e.action for e in ledger.audit_entries("job-1")][-1] == "chunk.refused"


@pytest.mark.sqlite_only  # tries the trigger through a raw sqlite3 connection
def test_audit_log_is_append_only(ledger: Ledger) -> None:
    ledger.audit("amira", "note", "job-1", {"why": "test"})
    actions = [e.action for e in ledger.audit_entries("job-1")]
    assert actions == ["job.created", "note"]
    conn = sqlite3.connect(ledger.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")


def test_two_processes_writing_one_file_both_succeed(tmp_path: Path) -> None:
    path = ledger_target(tmp_path, "shared.db")
    open_ledger(path).close()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {TESTS!r})
        from ledgers import open_ledger
        led = open_ledger({str(path)!r})
        for i in range(200):
            led.audit("proc", "tick", None, {{"i": i}})
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    with open_ledger(path) as led:
        for i in range(200):
            led.audit("main", "tick", None, {"i": i})
        assert all(p.wait(timeout=60) == 0 for p in procs)
        assert len(led.audit_entries(limit=10_000)) == 600


def test_only_one_of_two_processes_wins_a_lease(tmp_path: Path) -> None:
    path = ledger_target(tmp_path, "shared.db")
    with open_ledger(path) as led:
        led.create_job(*_job())
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {TESTS!r})
        from ledgers import open_ledger
        led = open_ledger({str(path)!r})
        print(int(led.acquire_lease("job-1", sys.argv[1], 300)))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, f"owner-{i}"], stdout=subprocess.PIPE,
                         text=True)
        for i in range(4)
    ]
    wins = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert sum(wins) == 1


def test_a_job_its_row_keys_and_its_audit_entries_are_stored_together(tmp_path: Path) -> None:
    def keys_then_crash() -> Iterator[tuple[int, str]]:
        yield (2, "cus-0|T0")
        raise RuntimeError("the process died while storing the job")

    job, chunks, rows = _job("job-2")
    with open_test_ledger(tmp_path, "l.db") as led:
        with pytest.raises(RuntimeError):
            led.create_job(job, chunks, rows, row_keys=keys_then_crash(),
                           audit=[("duplicates.override", {"reason": "resend"})])
        assert led.job("job-2") is None
        assert led.audit_entries("job-2") == []
        led.create_job(job, chunks, rows, row_keys=[(2, "cus-0|T0")],
                       audit=[("duplicates.override", {"reason": "resend"})])
        assert [e.action for e in led.audit_entries("job-2")] == ["job.created",
                                                                  "duplicates.override"]
        assert led.find_row_keys(["cus-0|T0"], since=0, statuses=("pending",)) == [
            ("cus-0|T0", "job-2", 2, led.job("job-2").created_at)]  # type: ignore[union-attr]


def test_pages_of_rows_follow_the_file_whichever_chunk_holds_them(tmp_path: Path) -> None:
    """Rows are kept per chunk, and a plan moves a customer's repeats to later chunks: a
    page of rows (the Jobs page's error table) is still the file's rows in order, for every
    page, filter and size."""
    import random

    rng = random.Random(11)
    count, size = 2_500, 100
    order = list(range(2, count + 2))
    for _ in range(300):  # some rows land far from their neighbours, as moved repeats do
        a, b = rng.randrange(count), rng.randrange(count)
        order[a], order[b] = order[b], order[a]
    job = NewJob(id="big", batch_type="cashback", file_name="f.csv", fingerprint="f",
                 sheet=None, mapping={}, columns=("Customer",), row_count=count,
                 item_count=count, totals={}, actor="amira")
    chunks = [NewChunk(i, b"{}", size) for i in range(count // size)]
    rows = [NewRow(row, i // size, f"T{row}", (f"cus-{row}",)) for i, row in enumerate(order)]
    with open_test_ledger(tmp_path, "l.db") as led:
        led.create_job(job, chunks, rows)
        assert led.acquire_lease("big", "A", 60)
        for index in range(0, count // size, 3):  # some chunks closed with a failed row each
            assert led.claim("big", index, "A") is not None
            assert led.mark_accepted("big", index, f"r{index}", owner="A")
            failed = f"T{order[index * size + 7]}"
            assert led.finish_chunk("big", index, state=lg.CHUNK_DONE, owner="A",
                                    outcomes=[ItemOutcome(failed, lg.ROW_FAILED, "no")],
                                    unlisted=(lg.ROW_APPLIED, None))
        for statuses in (None, (lg.ROW_FAILED,), (lg.ROW_PENDING, lg.ROW_FAILED)):
            every = led.rows("big", statuses=statuses, cells=False)
            assert [r.row for r in every] == sorted(r.row for r in every)
            for offset, limit in ((0, 10), (0, 100), (37, 50), (1_200, 100), (2_450, 100)):
                page = led.rows("big", statuses=statuses, limit=limit, offset=offset)
                assert [r.row for r in page] == [r.row for r in every][offset:offset + limit]
                assert all(r.cells == (f"cus-{r.row}",) for r in page)
