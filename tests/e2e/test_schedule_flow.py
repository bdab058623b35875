"""Send at a time in the real console, in Debian's Chromium: schedule, countdown, cancel.

On the review step the operator picks "Send at…" and a time three minutes ahead (the zone
is UTC here); the job lands in ``scheduled``, its page counts down live, and the operator
cancels it before its time: nothing is sent and its rows are not applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    ARTIFACTS,
    AppServer,
    open_expander,
    open_page,
    rerun_after,
    wait_for_app,
)

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, open_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WHEN = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ledger(app_server: AppServer) -> Iterator[Ledger]:
    with open_ledger(app_server.ledger) as book:
        yield book


def countdown_text(page: Any) -> str:
    return str(page.get_by_text(re.compile(r"^Starts in ")).first.inner_text())


def test_schedule_a_job_see_its_countdown_and_cancel_it(
    app_server: AppServer, ledger: Ledger, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "timed.csv"
    path.write_text("Customer ID,Transaction ID,Transaction Time,Amount\n" + "".join(
        f"cus-{1001 + n},TIMED-{n},{WHEN},{10 + n}\n" for n in range(5)), encoding="utf-8")
    open_page(page, app_server.url + "/")
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Batch type").first
    box.click()
    rerun_after(page, page.get_by_role("option", name="Cashback Rewards").first.click)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
    page.get_by_role("button", name="Start over").wait_for()
    wait_for_app(page)
    page.get_by_text("6. Submit").first.wait_for()

    rerun_after(page, page.get_by_text("Send at…").first.click)
    page.get_by_text(re.compile(r"^Sends at .* UTC")).first.wait_for()
    # A short time ahead: three minutes from now (the zone is UTC here).
    soon = (datetime.now(UTC) + timedelta(minutes=3)).strftime("%H:%M")
    if soon < datetime.now(UTC).strftime("%H:%M"):
        pytest.skip("three minutes from now is tomorrow: the date would change too")
    hour, minute = soon.split(":")
    page.get_by_role("spinbutton", name="hour, Time").first.click()
    page.keyboard.type(hour)
    page.get_by_role("spinbutton", name="minute, Time").first.click()
    page.keyboard.type(minute)
    rerun_after(page, lambda: page.keyboard.press("Tab"))  # leaving the field commits it
    shown = page.get_by_text(re.compile(r"^Sends at .* UTC, in [0-9] min")).first
    shown.wait_for()
    assert soon in shown.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "send-at-review-step.png"), full_page=True)
    rerun_after(page, page.get_by_text("I have reviewed the 5 rows").click)
    page.get_by_role("button", name="Submit 5 rows to the sandbox").click()

    page.wait_for_url(re.compile(r".*/jobs\?job=.+"))
    job_id = page.url.rsplit("job=", 1)[1]
    page.get_by_text(re.compile(r"^Scheduled for .*UTC")).first.wait_for()
    first = countdown_text(page)
    assert re.match(r"Starts in [0-3] min", first), first
    # Live: the countdown moves on by itself.
    page.wait_for_function(
        """(first) => [...document.querySelectorAll("[data-testid='stText']")].some(
            t => t.innerText.startsWith("Starts in ") && t.innerText !== first)""",
        arg=first)
    page.screenshot(path=str(ARTIFACTS / "scheduled-job-countdown.png"), full_page=True)
    job = ledger.job(job_id)
    assert job is not None
    assert job.state == lg.JOB_SCHEDULED

    panel = open_expander(page, "Reschedule or cancel")
    rerun_after(page, panel.get_by_role("button", name="Cancel this job").click)
    page.get_by_text("Cancelled: nothing was sent.").first.wait_for()
    job = ledger.job(job_id)
    assert job is not None
    assert job.state == lg.JOB_REJECTED
    assert ledger.row_counts(job_id)[lg.ROW_NOT_APPLIED] == 5
    assert ledger.chunk_counts(job_id)[lg.CHUNK_DONE] == 0
