"""``python -m gameball_batch ledger copy``: a team moves its ledger without losing a byte.

The source is a SQLite file holding a 100,000-row job part-way through sending (one chunk
closed with a failed row, one in doubt), a small finished job, verification evidence and
the audit trail. It is copied into the test's backend (PostgreSQL in the suite's second
pass), then back into a new SQLite file: every table must come back with the same rows and
the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from ledgers import ledger_target

from gameball_batch import ledger as lg
from gameball_batch.cli import main
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow, open_ledger
from gameball_batch.ledger.copy import TABLES, digest
from gameball_batch.ledger.evidence import save_snapshot, save_verdicts

ROWS, SIZE = 100_000, 1_000


def _filled(path: Path) -> None:
    with Ledger(path) as led:
        job = NewJob(id="big", batch_type="cashback", file_name="drop.csv", fingerprint="f1",
                     sheet=None, mapping={"customerId": "Customer"},
                     columns=("Customer", "Amount"), row_count=ROWS, item_count=ROWS,
                     totals={"amount.total": 1.5 * ROWS}, actor="amira")
        chunks = [NewChunk(i, b'{"body":[{"transactionId":"T%d","amount":1.5}]}' % i, SIZE)
                  for i in range(ROWS // SIZE)]
        rows = [NewRow(r + 2, r // SIZE, f"T{r}", (f"cus-{r % 977}", "1.5"))
                for r in range(ROWS)]
        led.create_job(job, chunks, rows, row_keys=[(r + 2, f"k{r}") for r in range(ROWS)])
        assert led.acquire_lease("big", "A", 60)
        assert led.claim("big", 0, "A") is not None
        assert led.mark_accepted("big", 0, "remote-0", owner="A")
        assert led.finish_chunk("big", 0, state=lg.CHUNK_DONE, owner="A",
                                outcomes=[ItemOutcome("T7", lg.ROW_FAILED, "7000 no such")],
                                results=b'{"status":"completed"}',
                                unlisted=(lg.ROW_APPLIED, None))
        assert led.claim("big", 1, "A") is not None
        assert led.mark_unknown("big", 1, error="502 from Gameball", owner="A", actor="A")
        save_verdicts(led, "big", [(SIZE + 2, "applied", {"balance": 10})])
        save_snapshot(led, "big", 1, {"cus-5": 120.5, "cus-6": None}, {"cus-6": "404"})
        led.set_meta("routes:https://api.gameball.co", "gitbook")
        small = NewJob(id="small", batch_type="adjustments", file_name="fix.xlsx",
                       fingerprint="f2", sheet="Sheet1", mapping={}, columns=("C",),
                       row_count=1, item_count=1, totals={}, actor="omar")
        led.create_job(small, [NewChunk(0, b'{"body":[]}', 1)],
                       [NewRow(2, 0, "cus-1", ("cus-1",))],
                       left_out=[(NewRow(3, -1, "", ("",)), "Not sent: invalid")])


def _copy(source: str, target: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ledger", "copy", "--from", source, "--to", target],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_a_100k_row_ledger_copies_there_and_back_byte_for_byte(tmp_path: Path) -> None:
    _filled(tmp_path / "source.db")
    middle = ledger_target(tmp_path, "copy.db")
    code, out = _copy(str(tmp_path / "source.db"), str(middle))
    assert code == 0, out
    assert "every table's count and SHA-256 match" in out
    code, out = _copy(str(middle), str(tmp_path / "back.db"))
    assert code == 0, out
    with Ledger(tmp_path / "source.db") as src, Ledger(tmp_path / "back.db") as back, \
            open_ledger(middle) as mid:
        for name, _, _ in TABLES:
            assert digest(src, name) == digest(back, name) == digest(mid, name), name
        assert digest(src, "row_sets").rows == ROWS // SIZE + 2  # + the small job: 0, -1
        for led in (mid, back):  # the ledger reads the same through the copies
            assert led.payload("big", 42) == b'{"body":[{"transactionId":"T42","amount":1.5}]}'
            assert led.row_counts("big") == src.row_counts("big")
            assert led.rows("big", limit=5, offset=5) == src.rows("big", limit=5, offset=5)
            assert led.find_row_keys(["k99999"], since=0, statuses=("pending",)) == \
                src.find_row_keys(["k99999"], since=0, statuses=("pending",))
        entries = src.audit_entries(limit=100)
        assert mid.audit_entries(limit=100) == entries
        mid.audit("lead", "after.copy")  # a new entry follows the copied ones
        assert mid.audit_entries(limit=1)[0].id == entries[-1].id + 1


def test_the_copy_refuses_a_target_that_holds_anything(tmp_path: Path) -> None:
    _filled(tmp_path / "source.db")
    target = ledger_target(tmp_path, "copy.db")
    assert _copy(str(tmp_path / "source.db"), str(target))[0] == 0
    code, out = _copy(str(tmp_path / "source.db"), str(target))
    assert code == 2
    assert "is not empty" in out
    with open_ledger(target) as led:
        assert [j.id for j in led.jobs()] == ["small", "big"]  # nothing written twice


def test_copying_from_a_missing_file_says_so(tmp_path: Path) -> None:
    code, out = _copy(str(tmp_path / "nope.db"), str(tmp_path / "new.db"))
    assert code == 2
    assert "no ledger file" in out
    assert not (tmp_path / "new.db").exists()
