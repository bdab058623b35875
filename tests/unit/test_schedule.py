"""Send at a time, on the fake clock: schedule, reschedule, cancel, late approval, restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_clock import FakeClock
from ledgers import open_test_ledger
from prepared_files import Prepared, example

from gameball_batch import approval_flow, runner, schedule
from gameball_batch import ledger as lg
from gameball_batch.approvals import ApprovalRules
from gameball_batch.ledger import Ledger

OPS = "ops@shop.example"
BOSS = "boss@shop.example"
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0
STRICT = ApprovalRules(total_amount_over=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def ledger(tmp_path: Path, clock: FakeClock) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "schedule.db", clock=clock) as led:
        yield led


def submit_at(ledger: Ledger, at: float | None, *, rules: ApprovalRules | None = None,
              prep: Prepared | None = None) -> approval_flow.Submission:
    prep = prep or example("cashback")
    return approval_flow.submit(
        ledger, prep.plan, impact=prep.impact, frame=prep.table.frame,
        file_name=prep.table.name, fingerprint=prep.table.fingerprint, mapping=prep.mapping,
        actor=OPS, rules=rules or ApprovalRules(), duplicates=prep.report(ledger),
        keys=prep.keys, scheduled_at=at)


def state(ledger: Ledger, job_id: str) -> str:
    job = ledger.job(job_id)
    assert job is not None
    return job.state


def actions(ledger: Ledger, job_id: str) -> list[str]:
    return [e.action for e in ledger.audit_entries(job_id)]


def test_a_scheduled_job_waits_for_its_time_then_is_queued(
        ledger: Ledger, clock: FakeClock) -> None:
    sub = submit_at(ledger, NOW + HOUR)
    assert sub.state == lg.JOB_SCHEDULED
    job = ledger.job(sub.job_id)
    assert job is not None
    assert job.scheduled_at == NOW + HOUR
    assert lg.JOB_SCHEDULED not in runner.DRIVE_STATES
    assert lg.JOB_SCHEDULED not in lg.SETTLED_JOB_STATES
    assert schedule.SET in actions(ledger, sub.job_id)

    clock.now = NOW + HOUR - 1
    assert schedule.release_due(ledger) == []
    assert state(ledger, sub.job_id) == lg.JOB_SCHEDULED

    clock.now = NOW + HOUR
    assert schedule.release_due(ledger) == [sub.job_id]
    assert state(ledger, sub.job_id) == lg.JOB_QUEUED
    [released] = ledger.audit_entries(sub.job_id, action="job.queued")
    assert released.actor == schedule.SCHEDULER
    assert released.detail["released"] is True
    assert schedule.release_due(ledger) == []  # released once


def test_a_time_in_the_past_or_too_far_ahead_is_refused(ledger: Ledger) -> None:
    with pytest.raises(schedule.ScheduleError, match="in the past"):
        submit_at(ledger, NOW - 60)
    with pytest.raises(schedule.ScheduleError, match="more than 90 days ahead"):
        submit_at(ledger, NOW + 91 * 24 * HOUR)
    assert ledger.jobs() == []  # nothing was created


def test_times_are_read_in_the_operators_zone_and_shown_with_utc() -> None:
    at = schedule.parse_at("2026-12-04T09:00+02:00")
    assert at == dt.datetime(2026, 12, 4, 7, 0, tzinfo=dt.UTC).timestamp()
    assert schedule.parse_at("2026-12-04T09:00", "Africa/Cairo") == at
    assert schedule.local_text(at, "Africa/Cairo") == "2026-12-04 09:00 Africa/Cairo (07:00 UTC)"
    assert schedule.from_local(dt.date(2026, 12, 4), dt.time(9, 0), "Africa/Cairo") == at
    with pytest.raises(schedule.ScheduleError, match="2026-12-04T09:00"):
        schedule.parse_at("next friday")
    with pytest.raises(schedule.ScheduleError, match="not a time zone"):
        schedule.zone("Mars/Olympus")
    assert schedule.zone_name({"console": {"timezone": "Africa/Cairo"}}) == "Africa/Cairo"
    assert schedule.zone_name({}) == "UTC"
    assert schedule.countdown(NOW + 2 * HOUR + 300, NOW) == "in 2 h 5 min"


def test_reschedule_moves_the_time_and_is_audited(ledger: Ledger, clock: FakeClock) -> None:
    sub = submit_at(ledger, NOW + HOUR)
    schedule.reschedule(ledger, sub.job_id, NOW + 3 * HOUR, BOSS)
    [moved] = ledger.audit_entries(sub.job_id, action=schedule.RESCHEDULED)
    assert (moved.actor, moved.detail["from"], moved.detail["to"]) == (BOSS, NOW + HOUR,
                                                                       NOW + 3 * HOUR)
    clock.now = NOW + 2 * HOUR
    assert schedule.release_due(ledger) == []
    with pytest.raises(schedule.ScheduleError, match="in the past"):
        schedule.reschedule(ledger, sub.job_id, NOW + HOUR, BOSS)
    clock.now = NOW + 3 * HOUR
    assert schedule.release_due(ledger) == [sub.job_id]
    with pytest.raises(schedule.ScheduleError, match="queued and not scheduled"):
        schedule.reschedule(ledger, sub.job_id, NOW + 5 * HOUR, BOSS)


def test_cancel_settles_it_like_a_rejection(ledger: Ledger) -> None:
    sub = submit_at(ledger, NOW + HOUR)
    schedule.cancel(ledger, sub.job_id, BOSS, "campaign moved")
    job = ledger.job(sub.job_id)
    assert job is not None
    assert job.state == lg.JOB_REJECTED
    assert "Cancelled by boss@shop.example" in (job.error or "")
    counts = ledger.row_counts(sub.job_id)
    assert counts[lg.ROW_NOT_APPLIED] == job.row_count
    assert counts[lg.ROW_PENDING] == 0
    assert schedule.CANCELLED in actions(ledger, sub.job_id)
    assert schedule.release_due(ledger) == []
    with pytest.raises(schedule.ScheduleError, match="rejected and not scheduled"):
        schedule.cancel(ledger, sub.job_id, BOSS)
    assert schedule.was_cancelled(ledger, sub.job_id)  # a second click is told it is done


def test_a_job_rejected_by_an_approver_was_not_cancelled(ledger: Ledger) -> None:
    sub = submit_at(ledger, NOW + HOUR, rules=STRICT)
    approval_flow.reject(ledger, sub.job_id, BOSS, "wrong campaign")
    assert not schedule.was_cancelled(ledger, sub.job_id)
    with pytest.raises(schedule.ScheduleError):
        schedule.cancel(ledger, sub.job_id, BOSS)


def test_a_started_job_can_no_longer_be_cancelled(ledger: Ledger, clock: FakeClock) -> None:
    sub = submit_at(ledger, NOW + HOUR)
    clock.now = NOW + HOUR
    schedule.release_due(ledger)
    with pytest.raises(schedule.ScheduleError, match="stop it instead"):
        schedule.cancel(ledger, sub.job_id, BOSS)


def test_approved_before_its_time_it_waits_for_the_time(
        ledger: Ledger, clock: FakeClock) -> None:
    sub = submit_at(ledger, NOW + HOUR, rules=STRICT)
    assert sub.state == lg.JOB_AWAITING_APPROVAL
    approval_flow.approve(ledger, sub.job_id, BOSS)
    assert state(ledger, sub.job_id) == lg.JOB_SCHEDULED
    clock.now = NOW + HOUR
    assert schedule.release_due(ledger) == [sub.job_id]


def test_unapproved_at_its_time_it_does_not_start_and_says_so(
        ledger: Ledger, clock: FakeClock) -> None:
    sub = submit_at(ledger, NOW + HOUR, rules=STRICT)
    clock.now = NOW + HOUR + 5
    assert schedule.release_due(ledger) == []
    assert schedule.release_due(ledger) == []
    job = ledger.job(sub.job_id)
    assert job is not None
    assert job.state == lg.JOB_AWAITING_APPROVAL
    assert "not approved yet" in (job.error or "")
    assert actions(ledger, sub.job_id).count(schedule.WAITING_APPROVAL) == 1  # said once
    approval_flow.approve(ledger, sub.job_id, BOSS)  # late: it starts at once
    job = ledger.job(sub.job_id)
    assert job is not None
    assert job.state == lg.JOB_QUEUED
    assert job.error is None


def test_scheduled_jobs_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(NOW)
    with open_test_ledger(tmp_path, "restart.db", clock=clock) as first:
        early = submit_at(first, NOW + HOUR).job_id
        late = submit_at(first, NOW + 5 * HOUR, prep=example("redemptions")).job_id
    clock.now = NOW + 2 * HOUR  # the process was down past the first job's time
    with open_test_ledger(tmp_path, "restart.db", clock=clock) as second:
        assert schedule.release_due(second) == [early]
        assert state(second, late) == lg.JOB_SCHEDULED
        late_job = second.job(late)
        assert late_job is not None
        assert late_job.scheduled_at == NOW + 5 * HOUR
