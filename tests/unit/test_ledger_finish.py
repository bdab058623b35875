"""Closing chunks in batches: each chunk keeps its guard, every row gets its own verdict."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import ledger_target, open_test_ledger
from tally_check import tally_drift

from gameball_batch import ledger as lg
from gameball_batch.ledger import ChunkFinish, ItemOutcome, Ledger, NewChunk, NewJob, NewRow


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = open_test_ledger(tmp_path)
    job = NewJob(id="job-1", batch_type="cashback", file_name="drop.csv", fingerprint="f",
                 sheet=None, mapping={}, columns=("Customer",), row_count=9, item_count=9,
                 totals={}, actor="amira")
    chunks = [NewChunk(i, b'{"body":[]}', 3) for i in range(3)]
    led.create_job(job, chunks, [NewRow(r + 2, r // 3, f"T{r}", (f"cus-{r}",)) for r in range(9)])
    led.acquire_lease("job-1", "r", 30)
    for index in (0, 1):  # chunk 2 is never sent
        assert led.claim("job-1", index, "r") is not None
        assert led.mark_accepted("job-1", index, f"remote-{index}")
    yield led
    led.close()
    assert tally_drift(ledger_target(tmp_path)) == [], "row counts drifted from the rows"


def _statuses(ledger: Ledger) -> dict[int, str]:
    return {r.row: r.status for r in ledger.rows("job-1")}


def test_one_call_closes_several_chunks_and_maps_each_row(ledger: Ledger) -> None:
    closed = ledger.finish_chunks([
        ChunkFinish("job-1", 0, state=lg.CHUNK_DONE, applied=["T0", "T2", "T99"],
                    outcomes=[ItemOutcome("T1", lg.ROW_FAILED, "Customer Not Found")],
                    results={"successful": [{"transactionId": "T0"}]},
                    unlisted=(lg.ROW_UNKNOWN, "not reported")),
        ChunkFinish("job-1", 1, state=lg.CHUNK_DONE, applied=["T3"],
                    unlisted=(lg.ROW_UNKNOWN, "not reported")),
        ChunkFinish("job-1", 2, state=lg.CHUNK_DONE, applied=["T6", "T7", "T8"],
                    unlisted=None),  # still pending: its guard refuses, nothing is applied
    ])
    assert closed == [True, True, False]
    assert _statuses(ledger) == {2: "applied", 3: "failed", 4: "applied",
                                 5: "applied", 6: "unknown", 7: "unknown",
                                 8: "pending", 9: "pending", 10: "pending"}
    failed = ledger.rows("job-1", statuses=(lg.ROW_FAILED,))
    assert [r.message for r in failed] == ["Customer Not Found"]
    assert ledger.chunk_results("job-1", 0) == {"successful": [{"transactionId": "T0"}]}
    assert ledger.chunk_counts("job-1")[lg.CHUNK_DONE] == 2


def test_an_outcome_left_open_keeps_its_own_reason_and_the_rest_get_the_unlisted_one(
    ledger: Ledger,
) -> None:
    assert ledger.finish_chunk(
        "job-1", 0, state=lg.CHUNK_DONE, applied=["T0"],
        outcomes=[ItemOutcome("T1", lg.ROW_UNKNOWN, "odd")],
        unlisted=(lg.ROW_UNKNOWN, "not reported"),
    )
    rows = {r.row: (r.status, r.message) for r in ledger.rows("job-1", chunk_idx=0)}
    assert rows == {2: ("applied", None), 3: ("unknown", "odd"),
                    4: ("unknown", "not reported")}


def test_a_reply_can_never_call_a_row_not_applied(ledger: Ledger) -> None:
    from gameball_batch.ledger.transitions import TransitionError

    with pytest.raises(TransitionError):
        ledger.finish_chunk("job-1", 0, state=lg.CHUNK_DONE, applied=["T0"],
                            unlisted=(lg.ROW_NOT_APPLIED, "stopped first"))
    assert ledger.chunk("job-1", 0).state == lg.CHUNK_ACCEPTED  # type: ignore[union-attr]


@pytest.mark.sqlite_only  # plants a failing trigger through a raw sqlite3 connection
def test_a_failing_batch_leaves_every_chunk_accepted(ledger: Ledger) -> None:
    with sqlite3.connect(ledger.path) as raw:  # the second chunk's rows cannot be written
        raw.execute("CREATE TRIGGER broken BEFORE UPDATE ON row_sets WHEN NEW.chunk_idx = 1 "
                    "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(sqlite3.Error, match="disk trouble"):
        ledger.finish_chunks([
            ChunkFinish("job-1", 0, state=lg.CHUNK_DONE, applied=["T0", "T1", "T2"],
                        unlisted=None),
            ChunkFinish("job-1", 1, state=lg.CHUNK_DONE,
                        outcomes=[ItemOutcome("T3", lg.ROW_FAILED, "x")], unlisted=None),
        ])
    assert ledger.chunk_counts("job-1")[lg.CHUNK_ACCEPTED] == 2
    assert set(_statuses(ledger).values()) == {"pending"}
