"""Four-eyes approval over the ledger: held jobs, approve, reject, self-approval, changes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ledgers import open_test_ledger
from prepared_files import example

from gameball_batch import approval_flow, runner
from gameball_batch import ledger as lg
from gameball_batch.approvals import ApprovalRefused, ApprovalRules
from gameball_batch.ledger import Ledger

OPS = "ops@shop.example"
BOSS = "boss@shop.example"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "approvals.db") as led:
        yield led


# slug, the one rule that is crossed, a phrase of its reason
RULES = [
    ("cashback", ApprovalRules(total_amount_over=1000), "total amount 1,243.24"),
    ("redemptions", ApprovalRules(total_points_over=50), "total points 80"),
    ("cashback", ApprovalRules(row_amount_over=500), "row moves 999.99"),
    ("redemptions", ApprovalRules(row_points_over=40), "row moves 50 points"),
    ("adjustments", ApprovalRules(negative_adjustments_over=1), "adjustments deduct 5.00"),
    ("redemptions", ApprovalRules(redemptions_over=10), "redemptions total 80.00"),
]


@pytest.mark.parametrize(("slug", "rules", "phrase"), RULES,
                         ids=[next(k for k, v in vars(r).items() if v) for _, r, _ in RULES])
def test_each_rule_holds_the_job_for_approval(
    ledger: Ledger, slug: str, rules: ApprovalRules, phrase: str
) -> None:
    held = example(slug).submit(ledger, actor=OPS, rules=rules)
    assert held.awaiting_approval
    assert any(phrase in r for r in held.approval_reasons), held.approval_reasons
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_AWAITING_APPROVAL
    request = next(e for e in ledger.audit_entries(held.job_id)
                   if e.action == approval_flow.REQUESTED)
    assert request.actor == OPS
    assert any(phrase in r for r in request.detail["reasons"])


@pytest.mark.parametrize(("slug", "rules", "phrase"), RULES)
def test_below_every_threshold_the_job_is_queued(
    ledger: Ledger, slug: str, rules: ApprovalRules, phrase: str
) -> None:
    lenient = ApprovalRules(**{k: v * 1000 for k, v in vars(rules).items() if v is not None})
    assert example(slug).submit(ledger, rules=lenient).state == lg.JOB_QUEUED


def test_the_runner_never_sends_a_job_awaiting_approval(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, rules=ApprovalRules(total_amount_over=1))
    assert lg.JOB_AWAITING_APPROVAL not in runner.DRIVE_STATES
    assert ledger.acquire_lease(held.job_id, "some-runner", 60)
    assert ledger.claim(held.job_id, 0, "some-runner") is None  # the guarded send refuses


def test_another_approver_approves_and_the_job_is_queued(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=ApprovalRules(total_amount_over=1))
    [pending] = approval_flow.awaiting(ledger)
    assert pending.job.id == held.job_id
    assert pending.intact
    assert pending.may_approve(BOSS) is None
    approval_flow.approve(ledger, held.job_id, BOSS)
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_QUEUED
    approved = [e for e in ledger.audit_entries(held.job_id) if e.action == approval_flow.APPROVED]
    assert [e.actor for e in approved] == [BOSS]
    assert approved[0].detail["digest"] == pending.requested_digest
    assert approval_flow.awaiting(ledger) == []


def test_self_approval_is_refused_and_audited(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=ApprovalRules(total_amount_over=1))
    with pytest.raises(ApprovalRefused, match="You submitted this job"):
        approval_flow.approve(ledger, held.job_id, "OPS@shop.example ")
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_AWAITING_APPROVAL
    assert [e.action for e in ledger.audit_entries(held.job_id)][-1] == approval_flow.REFUSED


def _raise_an_amount_in_the_payloads(raw: sqlite3.Connection) -> None:
    for idx, blob in raw.execute("SELECT idx, payload FROM chunk_payloads").fetchall():
        edited = lg._unpack(blob).replace(b"150.75", b"1500.75")
        assert edited != lg._unpack(blob)
        raw.execute("UPDATE chunk_payloads SET payload = ? WHERE idx = ?", (edited, idx))


@pytest.mark.sqlite_only  # edits the SQLite file behind the ledger's back
@pytest.mark.parametrize("change", [
    "UPDATE jobs SET totals = json_set(totals, '$.\"amount.total\"', 99999.0)",
    "UPDATE jobs SET mapping = json_set(mapping, '$.amount', 'Other column')",
    "UPDATE jobs SET row_count = row_count - 1",
    _raise_an_amount_in_the_payloads,
], ids=["totals", "mapping", "row count", "payload"])
def test_any_change_after_the_request_voids_the_approval(
    ledger: Ledger, tmp_path: Path, change: str | Callable[[sqlite3.Connection], None]
) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=ApprovalRules(total_amount_over=1))
    with sqlite3.connect(tmp_path / "approvals.db") as raw:  # someone edits the ledger file
        if isinstance(change, str):
            raw.execute(change)
        else:
            change(raw)
    [pending] = approval_flow.awaiting(ledger)
    assert not pending.intact
    with pytest.raises(ApprovalRefused, match="changed after it was reviewed"):
        approval_flow.approve(ledger, held.job_id, BOSS)
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_AWAITING_APPROVAL


def test_reject_needs_a_reason_and_settles_the_job(ledger: Ledger) -> None:
    held = example("cashback").submit(ledger, actor=OPS, rules=ApprovalRules(total_amount_over=1))
    with pytest.raises(ApprovalRefused, match="reason"):
        approval_flow.reject(ledger, held.job_id, BOSS, "  ")
    approval_flow.reject(ledger, held.job_id, BOSS, "wrong campaign")
    job = ledger.job(held.job_id)
    assert job is not None
    assert job.state == lg.JOB_REJECTED
    assert job.state in lg.SETTLED_JOB_STATES
    assert job.error == f"Rejected by {BOSS}: wrong campaign"
    rejected = [e for e in ledger.audit_entries(held.job_id) if e.action == approval_flow.REJECTED]
    assert rejected[0].detail["reason"] == "wrong campaign"
    with pytest.raises(ApprovalRefused, match="rejected"):
        approval_flow.approve(ledger, held.job_id, BOSS)


def test_a_queued_job_cannot_be_approved(ledger: Ledger) -> None:
    job = example("cashback").submit(ledger)
    with pytest.raises(ApprovalRefused, match="only a job awaiting approval"):
        approval_flow.approve(ledger, job.job_id, BOSS)


def test_unknown_approval_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="total_amount_ovr"):
        approval_flow.rules_from_settings({"approval": {"total_amount_ovr": 5}})
    assert approval_flow.rules_from_settings({}) == ApprovalRules()
