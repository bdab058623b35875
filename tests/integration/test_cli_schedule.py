"""``submit --at``, ``reschedule`` and ``cancel`` from the command line, over the sandbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gameball_batch.cli import main
from gameball_batch.sandbox import SandboxServer

CSV = ("customerId,transactionId,transactionTime,amount\n"
       "cus-1001,T-1,2026-01-02T03:04:05Z,10\ncus-1002,T-2,2026-01-02T03:04:05Z,20.5\n")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ahead(hours: float) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return moment.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat(timespec="minutes")


def test_submit_at_schedules_then_reschedule_and_cancel(connected: SandboxServer,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "cb.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run("submit", str(path), "--type", "cashback", "--yes", "--json",
                 "--at", ahead(3))
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["state"] == "scheduled"
    assert "scheduled for" in result.stderr
    assert "UTC" in result.stderr

    waiting = run("resume", job["id"], "--wait")  # nothing to drive yet: it says so
    assert waiting.exit_code == 0, waiting.output
    assert "It waits" in waiting.stderr

    moved = run("reschedule", job["id"], "--at", ahead(5))
    assert moved.exit_code == 0, moved.output
    assert "now scheduled for" in moved.stdout

    cancelled = run("cancel", job["id"], "--reason", "campaign moved")
    assert cancelled.exit_code == 0, cancelled.output
    status = json.loads(run("status", job["id"], "--json").stdout)
    assert status["state"] == "rejected"
    assert status["rows"]["not_applied"] == 2

    again = run("cancel", job["id"])
    assert again.exit_code == 2
    assert "not scheduled" in again.stderr


@pytest.mark.parametrize(("at", "message"), [
    ("2020-01-01T09:00+02:00", "in the past"),
    ("2099-01-01T09:00Z", "more than 90 days ahead"),
    ("friday morning", "2026-12-04T09:00+02:00"),
])
def test_a_bad_time_is_refused_with_a_message_and_nothing_is_created(
    connected: SandboxServer, tmp_path: Path, at: str, message: str,
) -> None:
    path = tmp_path / "cb.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run("submit", str(path), "--type", "cashback", "--yes", "--at", at)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert run("jobs").stdout.strip() == "No jobs yet."
