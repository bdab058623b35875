"""A rejected job is settled to its rows: nothing pending, honest totals and exports, no retry.

An approver's rejection moves the job to ``rejected`` and, in the same transaction, its
chunks to failed and its rows to not_applied with the approver's verdict; a retry, which
would send them without approval, is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import open_test_ledger
from prepared_files import example

from gameball_batch import approval_flow, jobs
from gameball_batch import ledger as lg
from gameball_batch.approvals import ApprovalRefused, ApprovalRules
from gameball_batch.ledger import Ledger

OPS = "ops@shop.example"
BOSS = "boss@shop.example"
HOLD = ApprovalRules(total_amount_over=1)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "reject.db") as led:
        yield led


def test_rejecting_marks_every_row_not_applied_and_every_chunk_failed(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=HOLD)
    job = ledger.job(held.job_id)
    assert job is not None
    approval_flow.reject(ledger, held.job_id, BOSS, "wrong campaign")
    counts = ledger.row_counts(held.job_id)
    assert counts[lg.ROW_PENDING] == 0
    assert counts[lg.ROW_NOT_APPLIED] == job.row_count
    chunks = ledger.chunk_counts(held.job_id)
    assert chunks[lg.CHUNK_FAILED] == job.chunk_count
    assert chunks[lg.CHUNK_PENDING] == 0
    summary = jobs.summary(ledger, held.job_id)
    assert summary.done_rows == job.row_count  # nothing shown as still to come
    messages = {r.message for r in ledger.rows(held.job_id)}
    assert messages == {f"Not sent: rejected by {BOSS}: wrong campaign"}


def test_the_failed_rows_export_of_a_rejected_job_says_why(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=HOLD)
    approval_flow.reject(ledger, held.job_id, BOSS, "wrong campaign")
    frame = jobs.failed_rows_frame(ledger, held.job_id)
    job = ledger.job(held.job_id)
    assert job is not None
    assert len(frame) == job.row_count
    assert set(frame[jobs.ERROR_COLUMN]) == {f"Not sent: rejected by {BOSS}: wrong campaign"}


def test_a_rejected_job_cannot_be_retried_past_its_approver(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=HOLD)
    approval_flow.reject(ledger, held.job_id, BOSS, "wrong campaign")
    with pytest.raises(jobs.JobError, match="rejected by an approver"):
        jobs.retry_failed(ledger, held.job_id, OPS)
    assert [j.id for j in ledger.jobs()] == [held.job_id]  # no child job was created


def test_a_refused_rejection_leaves_the_rows_alone(ledger: Ledger) -> None:
    queued = example("cashback").submit(ledger, actor=OPS)  # below every rule: queued
    with pytest.raises(ApprovalRefused):
        approval_flow.reject(ledger, queued.job_id, BOSS, "too late")
    assert ledger.row_counts(queued.job_id)[lg.ROW_NOT_APPLIED] == 0
    assert ledger.chunk_counts(queued.job_id)[lg.CHUNK_FAILED] == 0


@pytest.mark.sqlite_only  # plants a failing trigger through a raw sqlite3 connection
def test_the_rows_move_in_the_same_transaction_as_the_state(
    ledger: Ledger, tmp_path: Path
) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=HOLD)
    # A trigger makes the row update fail: the state change must roll back with it.
    with sqlite3.connect(tmp_path / "reject.db") as raw:
        raw.execute("CREATE TRIGGER no_row_updates BEFORE UPDATE ON row_sets "
                    "BEGIN SELECT RAISE(ABORT, 'rows are read-only'); END")
    with pytest.raises(sqlite3.DatabaseError, match="read-only"):
        approval_flow.reject(ledger, held.job_id, BOSS, "wrong campaign")
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_AWAITING_APPROVAL
    assert ledger.chunk_counts(held.job_id)[lg.CHUNK_FAILED] == 0
