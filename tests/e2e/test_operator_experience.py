"""What an operator sees at a glance, in Debian's Chromium: the Jobs list's badges, a live
header, and a Submit button that says why it is disabled.

Each journey saves a screenshot under ``tests/e2e/artifacts/`` for reviewers: the New
batch review, a running job and the Jobs list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARTIFACTS, AppServer, open_page, rerun_after

from gameball_batch import jobs
from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow, open_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB_DONE_MS = 120_000
WHEN = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
HEADER = "[data-testid='stMain'] [data-testid='stMarkdown']"


@pytest.fixture
def ledger(app_server: AppServer) -> Iterator[Ledger]:
    with open_ledger(app_server.ledger) as book:
        yield book


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def cashback_job(book: Ledger, job_id: str, rows: int, *, state: str = lg.JOB_QUEUED) -> None:
    """A cashback job for demo customers, in chunks of 150 that hold each customer once (as
    the planner makes them: results name only the customer); all valid for the sandbox."""
    body = [{"customerId": f"cus-{1001 + n % 150}", "transactionId": f"UX-{job_id}-{n}",
             "transactionTime": WHEN, "amount": 10 + n % 7} for n in range(rows)]
    chunks = [NewChunk(i, json.dumps({"body": body[s:s + 150]}).encode(),
                       len(body[s:s + 150])) for i, s in enumerate(range(0, rows, 150))]
    new_rows = [NewRow(n + 2, n // 150, item["transactionId"],
                       (item["customerId"], item["transactionId"], WHEN, str(item["amount"])))
                for n, item in enumerate(body)]
    book.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name=f"{job_id}.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("Customer ID", "Transaction ID",
                                                "Transaction Time", "Amount"),
               row_count=rows, item_count=rows, totals={}, actor="e2e@example.com",
               state=state),
        chunks, new_rows,
    )


def test_the_jobs_list_badges_a_job_with_not_applied_rows(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    open_page(page, app_server.url + "/")  # starts the console's runner
    # A paused job that an operator stops before anything was sent: the console's runner
    # settles it as stopped with every row not applied (the badge is about display, so
    # the job is made directly in the ledger, through the same calls the buttons use).
    cashback_job(ledger, "ux-stopped", 40, state=lg.JOB_PAUSED)
    assert jobs.request_stop(ledger, "ux-stopped", "e2e@example.com")
    cashback_job(ledger, "ux-clean", 5, state=lg.JOB_PAUSED)  # needs nothing: no badge
    open_page(page, app_server.url + "/jobs")
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("40 not applied").first.wait_for(timeout=JOB_DONE_MS)
    main.get_by_text("1 job(s) need attention").wait_for()
    link = main.locator("a").filter(has_text="ux-stopped.csv").first
    assert "job=ux-stopped" in str(link.get_attribute("href"))
    assert main.locator("a").filter(has_text="ux-clean.csv").count() == 0
    shot(page, "jobs-list.png")


def header_text(page: Any) -> str:
    header = page.locator(HEADER).filter(has_text="submitted by").first
    return str(header.inner_text())


def test_the_header_of_a_running_job_is_live(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    open_page(page, app_server.url + "/")
    cashback_job(ledger, "ux-live", 1500)
    open_page(page, app_server.url + "/jobs?job=ux-live")
    # No click, no reload: the header moves with the job, as the progress bar does.
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel)].some(
            e => e.innerText.includes("submitted by") && e.innerText.includes("running"))""",
        arg=HEADER, timeout=JOB_DONE_MS,
    )
    # The submitter's address is text, not a mailto: link (markdown would autolink it).
    assert page.locator("[data-testid='stMain'] a[href^='mailto:']").count() == 0
    page.get_by_role("button", name="Stop sending").wait_for()
    page.get_by_role("button", name="Abort at Gameball").wait_for()
    shot(page, "running-job.png")
    page.get_by_text("1,500 of 1,500 rows finished").wait_for(timeout=JOB_DONE_MS)
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel)].some(
            e => e.innerText.includes("submitted by") && e.innerText.includes("finished"))""",
        arg=HEADER, timeout=JOB_DONE_MS,
    )
    assert "running" not in header_text(page)


def test_a_disabled_submit_says_what_is_missing(
    app_server: AppServer, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "small-drop.csv"
    path.write_text("Customer ID,Transaction ID,Transaction Time,Amount\n"
                    + "".join(f"cus-{1001 + n},SUB-{n},{WHEN},{10 + n}\n" for n in range(5)))
    open_page(page, app_server.url + "/")  # New batch is the default page
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Batch type").first
    box.click()
    rerun_after(page, page.get_by_role("option", name="Cashback Rewards").first.click)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
    submit = page.get_by_role("button", name="Submit 5 rows to the sandbox")
    submit.wait_for(timeout=60_000)
    assert submit.is_disabled()
    reason = page.get_by_text("To submit: tick “I have reviewed …” above.")
    reason.wait_for()
    # The page scrolls inside its main pane, so a full-page shot shows only what is in view.
    reason.scroll_into_view_if_needed()
    shot(page, "new-batch-review.png")
    rerun_after(page, page.get_by_text("I have reviewed the 5 rows").click)
    assert submit.is_enabled()
    assert reason.count() == 0
