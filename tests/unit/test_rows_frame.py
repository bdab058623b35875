"""A job's rows as a table: status and message first, then the file's own columns.

A file column whose name the table already uses ("status", "message", …) is kept, marked
"(file)", and building the table raises no pandas deprecation warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import open_test_ledger

from gameball_batch import jobs
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "rows.db") as led:
        yield led


def test_file_columns_that_clash_are_kept_and_marked_without_a_warning(ledger: Ledger) -> None:
    ledger.create_job(
        NewJob(id="j", batch_type="cashback", file_name="f.csv", fingerprint="f", sheet=None,
               mapping={}, columns=("Customer", "status", "Amount"), row_count=2,
               item_count=2, totals={}, actor="ops@shop.example"),
        [NewChunk(0, b'{"body":[]}', 2)],
        [NewRow(2, 0, "A", ("cus-1", "VIP", "10")), NewRow(3, 0, "B", ("cus-2", "", "12,5"))],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas' Pandas4Warning included
        frame = jobs.rows_frame(ledger, "j")
    assert list(frame.columns) == ["status", "message", "key", "chunk", "Customer",
                                   "status (file)", "Amount"]
    assert list(frame.index) == [2, 3]
    assert frame.index.name == "row"
    assert list(frame["status"]) == ["pending", "pending"]
    assert list(frame["status (file)"]) == ["VIP", ""]
    assert list(frame["Amount"]) == ["10", "12,5"]
