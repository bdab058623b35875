"""How the ledger writes: senders go first, the log is checkpointed aside, blobs are deflated."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow


def _store(led: Ledger, payload: bytes) -> None:
    job = NewJob(id="job-1", batch_type="cashback", file_name="drop.csv", fingerprint="f",
                 sheet=None, mapping={}, columns=("Customer",), row_count=1, item_count=1,
                 totals={}, actor="amira")
    led.create_job(job, [NewChunk(0, payload, 1)], [NewRow(2, 0, "T0", ("cus-1",))])


def test_a_waiting_sender_goes_before_waiting_recording() -> None:
    gate = lg._WriteLock()
    gate.YIELD_AT_MOST = 60.0  # this test decides the order, not a timeout
    order: list[str] = []
    sender_waiting = threading.Event()

    def sender() -> None:
        sender_waiting.set()
        with gate.hold(sending=True):
            order.append("sender")

    def recorder() -> None:
        with gate.hold(background=True):
            order.append("recorder")

    with gate.hold():  # a transaction in progress
        first = threading.Thread(target=sender)
        first.start()
        sender_waiting.wait()
        with gate._gate:  # until the sender has queued for the lock
            assert gate._gate.wait_for(lambda: gate._senders == 1, timeout=30)
        second = threading.Thread(target=recorder)
        second.start()
    first.join()
    second.join()
    assert order == ["sender", "recorder"]


@pytest.mark.sqlite_only  # SQLite's write-ahead log and its checkpoints
def test_written_pages_reach_the_database_file_while_the_ledger_stays_open(
    tmp_path: Path,
) -> None:
    # The writer never checkpoints inside a commit; the checkpointer thread does it aside.
    # Reading the file as immutable ignores the write-ahead log: the job shows there only
    # once its pages were copied back.
    led = Ledger(tmp_path / "ledger.db")
    _store(led, b'{"body":[{"transactionId":"T0"}]}')
    uri = f"file:{tmp_path / 'ledger.db'}?mode=ro&immutable=1"

    def in_main_file() -> bool:
        with sqlite3.connect(uri, uri=True) as raw:
            try:
                return raw.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
            except sqlite3.DatabaseError:  # not even the schema copied yet
                return False

    checkpointer = led._checkpointer
    assert checkpointer is not None
    with checkpointer.done:  # woken after each checkpoint; no polling
        assert checkpointer.done.wait_for(in_main_file, timeout=30), "never checkpointed"
    led.close()


@pytest.mark.sqlite_only  # reads SQLite's stored bytes through the private connection
def test_payloads_are_stored_deflated_and_read_back_exactly(tmp_path: Path) -> None:
    items = b",".join(b'{"customerId":"cus-%d","transactionId":"T%d","amount":10}' % (i, i)
                      for i in range(1000))
    payload = b'{"body":[' + items + b"]}"
    with Ledger(tmp_path / "ledger.db") as led:
        _store(led, payload)
        assert led.payload("job-1", 0) == payload
        stored = led._conn().execute("SELECT payload FROM chunk_payloads").fetchone()[0]
    assert len(stored) < len(payload) / 5  # a 1M-row job's ledger stays a fraction its size
