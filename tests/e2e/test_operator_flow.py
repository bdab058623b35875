"""A new operator's day in the real console, in Debian's Chromium.

The console runs under ``streamlit run`` with its own embedded sandbox and runner (see
``conftest.py``). Tests wait on elements and on ``data-test-script-state``, never on fixed
sleeps; every wait has a deadline. A failure keeps a screenshot under ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARTIFACTS, AppServer, open_page, wait_for_app

from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB_DONE_MS = 120_000  # the sandbox processes 200 items/s; generous for a loaded CI machine
CASHBACK_HEADER = ["Customer ID", "Transaction ID", "Transaction Time", "Amount"]
WHEN = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ledger(app_server: AppServer) -> Iterator[Ledger]:
    """The console's own ledger file, opened from the test process (WAL: safe to share)."""
    with Ledger(app_server.db_path) as book:
        yield book


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text())


def metric_value(page: Any, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return str(metric.locator("[data-testid='stMetricValue']").inner_text()).strip()


def wait_for_text(page: Any, text: str, *, timeout_ms: int = 30_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)


def queue_cashback_job(
    book: Ledger, job_id: str, *, good: int, unknown_customers: int, per_chunk: int = 250
) -> None:
    """A queued cashback job for the console's runner: ``good`` rows for demo customers,
    then ``unknown_customers`` rows the sandbox refuses (customer not found)."""
    body: list[dict[str, Any]] = []
    cells: list[tuple[str, ...]] = []
    for n in range(good + unknown_customers):
        customer = f"cus-{1001 + n % 150}" if n < good else f"cus-missing-{n}"
        tx = f"E2E-{job_id}-{n}"
        body.append({"customerId": customer, "transactionId": tx, "transactionTime": WHEN,
                     "amount": 10 + n % 7})
        cells.append((customer, tx, WHEN, str(10 + n % 7)))
    chunks = [
        NewChunk(i, json.dumps({"body": body[s : s + per_chunk]}).encode(),
                 len(body[s : s + per_chunk]))
        for i, s in enumerate(range(0, len(body), per_chunk))
    ]
    rows = [NewRow(n + 2, n // per_chunk, item["transactionId"], cells[n])
            for n, item in enumerate(body)]
    book.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name="campaign.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=tuple(CASHBACK_HEADER), row_count=len(body),
               item_count=len(body), totals={}, actor="e2e@example.com"),
        chunks, rows,
    )


def download_text(page: Any, button_name: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button_name).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text(encoding="utf-8-sig")


def test_jobs_page_follows_a_running_job_live_and_exports_its_failed_rows(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    open_page(page, app_server.url + "/jobs")  # the first run starts the sandbox and runner
    queue_cashback_job(ledger, "e2e-live", good=1200, unknown_customers=3)

    open_page(page, app_server.url + "/jobs?job=e2e-live")
    wait_for_text(page, "campaign.csv")
    # Live: the progress text advances without any click while the job runs.
    progress = page.locator("[data-testid='stProgress']").first
    progress.wait_for()
    page.wait_for_function(
        """() => {
            const p = document.querySelector("[data-testid='stProgress']");
            const m = p && p.innerText.match(/([\\d,]+) of ([\\d,]+) rows finished/);
            return m && Number(m[1].replace(/,/g, '')) > 0
                      && Number(m[1].replace(/,/g, '')) < Number(m[2].replace(/,/g, ''));
        }""",
        timeout=JOB_DONE_MS,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jobs-page-mid-run.png"), full_page=True)
    assert page.url.endswith("job=e2e-live")

    wait_for_text(page, "finished", timeout_ms=JOB_DONE_MS)
    page.get_by_text("1,203 of 1,203 rows finished").wait_for(timeout=JOB_DONE_MS)
    wait_for_app(page)
    assert metric_value(page, "Applied") == "1,200"
    assert metric_value(page, "Failed") == "3"
    page.screenshot(path=str(ARTIFACTS / "jobs-page-finished.png"), full_page=True)

    name, text = download_text(page, "Failed rows, CSV (3)")
    assert name.endswith("-failed.csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["source row"] for r in table] == ["1202", "1203", "1204"]
    assert [r["Customer ID"] for r in table] == [f"cus-missing-{n}" for n in (1200, 1201, 1202)]
    assert all(r["error"] for r in table)


def test_a_refresh_keeps_the_same_job_open(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    queue_cashback_job(ledger, "e2e-refresh", good=5, unknown_customers=0)
    open_page(page, app_server.url + "/jobs?job=e2e-refresh")
    wait_for_text(page, "campaign.csv")
    page.reload()
    wait_for_app(page)
    wait_for_text(page, "e2e-refresh")
    assert re.search(r"job=e2e-refresh", page.url)
