"""A new operator's day in the real console, in Debian's Chromium.

The console runs under ``streamlit run`` with its own embedded sandbox and runner (see
``conftest.py``). Tests wait on elements and on ``data-test-script-state``, never on fixed
sleeps; every wait has a deadline. A failure keeps a screenshot under ``tests/e2e/artifacts/``.
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
from e2e_support import ARTIFACTS, AppServer, open_page, rerun_after, wait_for_app

from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow, open_ledger

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB_DONE_MS = 120_000  # the sandbox processes 200 items/s; generous for a loaded CI machine
CASHBACK_HEADER = ["Customer ID", "Transaction ID", "Transaction Time", "Amount"]
MAIN_PROGRESS = "[data-testid='stMain'] [data-testid='stProgress']"  # the sidebar has its own
WHEN = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ledger(app_server: AppServer) -> Iterator[Ledger]:
    """The console's own ledger file, opened from the test process (WAL: safe to share)."""
    with open_ledger(app_server.ledger) as book:
        yield book


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text())


def metric_value(page: Any, label: str) -> str:
    metrics = page.locator("[data-testid='stMain'] [data-testid='stMetric']")
    metric = metrics.filter(has_text=label).first
    return str(metric.locator("[data-testid='stMetricValue']").inner_text()).strip()


def wait_for_text(page: Any, text: str, *, timeout_ms: int = 30_000) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)


def queue_cashback_job(
    book: Ledger, job_id: str, *, good: int, unknown_customers: int, per_chunk: int = 150
) -> None:
    """A queued cashback job for the console's runner: ``good`` rows for demo customers,
    then ``unknown_customers`` rows the sandbox refuses (customer not found). Chunks hold
    each customer once, as the planner makes them (results name only the customer)."""
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


def cashback_csv(path: Path, *, good: int) -> Path:
    """A campaign file: ``good`` rows for demo customers, 3 for customers the sandbox does
    not know (they fail at Gameball), and 4 invalid rows (one fixable: '12,5')."""
    lines = [",".join(CASHBACK_HEADER)]
    lines.append(f"cus-1001,FIX-1,{WHEN},\"12,5\"")  # row 2: decimal comma, fixed in the editor
    lines += [f"cus-{1001 + n % 150},OK-{n},{WHEN},{10 + n % 7}" for n in range(good)]
    lines += [f"cus-missing-{n},GONE-{n},{WHEN},25" for n in range(3)]
    lines.append(f"cus-1002,BAD-1,{WHEN},-3")  # negative amount
    lines.append(f",BAD-2,{WHEN},10")  # no customer
    lines.append("cus-1003,BAD-3,yesterday,10")  # not a time
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def choose_batch_type(page: Any, title: str) -> None:
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Batch type").first
    box.click()
    rerun_after(page, page.get_by_role("option", name=title).first.click)


def upload(page: Any, path: Path) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(path))
    page.locator("[data-testid='stFileChipName']").filter(has_text=path.name).wait_for()
    page.get_by_role("button", name="Start over").wait_for()  # the server holds the file
    wait_for_app(page)


def edit_last_cell_of_first_failing_row(page: Any, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the last column of the row editor's first row.

    The editor is a canvas grid that fills the page's width, so its last column ends at the
    grid's right edge: double-click there on the first row (below the 35 px header) to open
    the cell's editor, check it holds ``old``, replace the text and commit with Enter.
    """
    editor = page.get_by_text("Edit the original cells").first.locator(
        "xpath=following::*[@data-testid='stDataFrame'][1]"
    )
    editor.scroll_into_view_if_needed()
    box = editor.bounding_box()
    assert box is not None, "the row editor is not on the page"
    page.mouse.dblclick(box["x"] + box["width"] - 25, box["y"] + 35 + 17)
    cell = page.locator(".gdg-input:not([disabled])").first
    cell.wait_for()
    assert cell.input_value() == old
    cell.fill(new)
    rerun_after(page, lambda: cell.press("Enter"))  # the edit reaches the server


def wait_for_partial_progress(page: Any, *, at_least: int = 1) -> None:
    """Wait until the job's progress text shows at least ``at_least`` but not all rows
    finished (``at_least=0``: the job is simply not finished yet)."""
    page.locator(MAIN_PROGRESS).first.wait_for()
    page.wait_for_function(
        """(least) => {
            const p = document.querySelector("[data-testid='stMain'] [data-testid='stProgress']");
            const m = p && p.innerText.match(/([\\d,]+) of ([\\d,]+) rows finished/);
            const n = s => Number(s.replace(/,/g, ''));
            return m && n(m[1]) >= least && n(m[1]) < n(m[2]);
        }""",
        arg=at_least,
        timeout=JOB_DONE_MS,
    )


def download_text(page: Any, button_name: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.get_by_role("button", name=button_name).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text(encoding="utf-8-sig")


def test_jobs_page_follows_a_running_job_live_and_exports_its_failed_rows(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    # The first run starts the sandbox and runner. It opens "/" on purpose: see
    # test_fresh_console.py for what a deep link does to a console nobody has opened yet.
    open_page(page, app_server.url + "/")
    queue_cashback_job(ledger, "e2e-live", good=1200, unknown_customers=3)

    open_page(page, app_server.url + "/jobs?job=e2e-live")
    wait_for_text(page, "campaign.csv")
    # Live: the progress text advances without any click while the job runs.
    wait_for_partial_progress(page)  # live: the page advances without any click
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


def test_a_row_of_the_job_list_opens_the_job_and_all_jobs_goes_back(
    app_server: AppServer, ledger: Ledger, page: Any
) -> None:
    queue_cashback_job(ledger, "e2e-pick", good=3, unknown_customers=0)  # newest: first row
    open_page(page, app_server.url + "/jobs")
    table = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").first
    table.wait_for()
    box = table.bounding_box()
    assert box is not None
    # The selection column is the narrow first one; the first row sits below the header.
    rerun_after(page, lambda: page.mouse.click(box["x"] + 14, box["y"] + 35 + 17))
    page.wait_for_url(re.compile(r".*/jobs\?job=e2e-pick$"))
    wait_for_text(page, "e2e-pick")
    rerun_after(page, page.get_by_role("button", name="All jobs").click)
    page.get_by_text("Open a job").wait_for()
    assert "job=" not in page.url


def test_new_operator_fixes_drops_submits_and_downloads_the_failed_rows(
    app_server: AppServer, page: Any, tmp_path: Path
) -> None:
    data = cashback_csv(tmp_path / "campaign.csv", good=1190)
    open_page(page, app_server.url + "/")  # New batch is the default page
    choose_batch_type(page, "Cashback Rewards")
    upload(page, data)
    wait_for_text(page, "Detected:")

    # 4 invalid rows: the decimal comma, a negative amount, no customer, a bad time
    wait_for_text(page, "Fix failing rows")
    assert metric_value(page, "Invalid") == "4"
    edit_last_cell_of_first_failing_row(page, "12,5", "12.5")  # Amount: the last column
    rerun_after(page, page.get_by_role("button", name="Apply fixes and validate again").click)
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMetric']")].some(
            m => m.innerText.includes("Invalid") && m.innerText.trim().endsWith("3"))"""
    )

    rerun_after(page, page.get_by_text("leave out the 3 invalid ones").click)  # drop the rest
    wait_for_text(page, "5. Review the impact")
    rerun_after(page, page.get_by_text("I have reviewed the 1,194 rows").click)
    page.get_by_role("button", name="Submit 1,194 rows to the sandbox").click()

    # Lands on the job, which the runner drives live to completion.
    page.wait_for_url(re.compile(r".*/jobs\?job=.+"))
    wait_for_text(page, "campaign.csv")
    wait_for_partial_progress(page, at_least=0)  # not finished when we land …
    page.get_by_text("1,194 of 1,194 rows finished").wait_for(timeout=JOB_DONE_MS)  # … then is
    wait_for_app(page)
    assert metric_value(page, "Applied") == "1,191"
    assert metric_value(page, "Failed") == "3"

    # The three Gameball refused, and the three left out at validation: nothing of the
    # file disappears, and the download is ready to fix and upload again.
    _, text = download_text(page, "Failed rows, CSV (6)")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["Customer ID"] for r in table] == ["cus-missing-0", "cus-missing-1",
                                                 "cus-missing-2", "cus-1002", "", "cus-1003"]
    assert [r["source row"] for r in table] == ["1193", "1194", "1195", "1196", "1197", "1198"]
    assert all(r["error"] for r in table)
    assert all(r["error"].startswith("Not sent: invalid at validation") for r in table[3:])


def test_a_workbook_upload_asks_which_sheet(
    app_server: AppServer, page: Any, tmp_path: Path
) -> None:
    import xlsxwriter

    path = tmp_path / "campaign.xlsx"
    book = xlsxwriter.Workbook(str(path))
    notes = book.add_worksheet("Notes")
    notes.write_row(0, 0, ["Read me", "This sheet is not data"])
    data = book.add_worksheet("Cashback")
    data.write_row(0, 0, CASHBACK_HEADER)
    for n in range(20):
        data.write_row(n + 1, 0, [f"cus-{1001 + n}", f"WB-{n}", WHEN, f"{10 + n}"])
    book.close()

    open_page(page, app_server.url + "/")  # New batch is the default page
    choose_batch_type(page, "Cashback Rewards")
    upload(page, path)
    # The first sheet holds no data: the page says so and points to the sheet picker.
    wait_for_text(page, "Or choose another worksheet")
    sheet = page.locator("[data-testid='stSelectbox']").filter(has_text="Worksheet").first
    sheet.wait_for()
    sheet.click()
    rerun_after(page, page.get_by_role("option", name="Cashback").first.click)
    wait_for_text(page, "sheet “Cashback”")
    wait_for_text(page, "All 20 rows are valid.")
    assert metric_value(page, "Valid") == "20"


def test_a_cashback_drop_with_an_outlier_is_fixed_in_step_4_and_sent_as_fixed(
    app_server: AppServer, ledger: Ledger, page: Any, tmp_path: Path
) -> None:
    """An amount 100x the median is a warning in step 4, with its row in the editor: the
    operator corrects it there, and the job sends the corrected amount."""
    lines = [",".join(CASHBACK_HEADER)]
    lines.append(f"cus-1001,OUT-0,{WHEN},2500")  # row 2: meant 25.00, a slip of the keyboard
    lines += [f"cus-{1002 + n},OUT-{n + 1},{WHEN},{20 + n % 9}" for n in range(40)]
    path = tmp_path / "outlier-drop.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    open_page(page, app_server.url + "/")
    choose_batch_type(page, "Cashback Rewards")
    upload(page, path)
    wait_for_text(page, "Detected:")
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMetric']")].some(
            m => m.innerText.includes("Warnings") && m.innerText.trim().endsWith("1"))""")
    assert metric_value(page, "Invalid") == "0"
    edit_last_cell_of_first_failing_row(page, "2500", "25")  # the warned row, first in the editor
    rerun_after(page, page.get_by_role("button", name="Apply fixes and validate again").click)
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='stMetric']")].some(
            m => m.innerText.includes("Warnings") && m.innerText.trim().endsWith("0"))""")

    wait_for_text(page, "5. Review the impact")
    rerun_after(page, page.get_by_text("I have reviewed the 41 rows").click)
    page.get_by_role("button", name="Submit 41 rows to the sandbox").click()
    page.wait_for_url(re.compile(r".*/jobs\?job=.+"))
    job_id = page.url.rsplit("job=", 1)[1]
    page.get_by_text("41 of 41 rows finished").wait_for(timeout=JOB_DONE_MS)
    sent = [item for chunk in ledger.chunks(job_id)
            for item in json.loads(ledger.payload(job_id, chunk.index))["body"]]
    assert next(i["amount"] for i in sent if i["transactionId"] == "OUT-0") == 25
    fixes = [e for e in ledger.audit_entries(job_id) if e.action == "file.fixes"]
    assert fixes[0].detail["fixes"] == [{"row": 2, "column": "Amount", "before": "2500",
                                         "after": "25"}]
