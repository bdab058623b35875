"""A shared link opened on a console that nobody has opened since it started, for every page.

Streamlit runs its old multipage mode (every file in ``pages/`` becomes a page, run on its
own) until some script run has called ``st.navigation``. Each page file therefore only
defines ``render()`` and, run alone, hands over to ``app.py`` (``ui/routing.py``): the
router draws the frame (banner, sign-in gate, role filter) and then opens the page the
link pointed at, with its query parameters. Each test starts its own console, so that its
very first request is the deep link.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARTIFACTS, AppServer, open_page, run_console

from gameball_batch.ledger import NewChunk, NewJob, NewRow, open_ledger

pytestmark = [pytest.mark.e2e]

JOB_ID = "5f1e2d3c-0000-4000-8000-00000000e2e1"
URLS = {  # first request → the page title that must show, under the frame
    "/jobs?job=" + JOB_ID: "Jobs",
    "/jobs?job=" + JOB_ID[:8]: "Jobs",  # the short id the console shows
    "/new": "New batch",
    "/approvals": "Approvals",
    "/history": "History",
    "/settings": "Settings",
    "/new_batch": "New batch",  # the file's own name, as Streamlit's old mode serves it
}


@pytest.fixture
def fresh_console(tmp_path: Path) -> Iterator[AppServer]:
    with run_console(tmp_path) as server:
        with open_ledger(server.ledger) as book:
            book.create_job(
                NewJob(id=JOB_ID, batch_type="adjustments", file_name="shared-link.csv",
                       fingerprint="f", sheet=None, mapping={}, columns=("Customer", "Amount"),
                       row_count=1, item_count=1, totals={}, actor="amira@example.com",
                       state="paused"),
                [NewChunk(0, b'{"body":[{"customerId":"cus-1001","amount":5}]}', 1)],
                [NewRow(2, 0, "cus-1001", ("cus-1001", "5"))],
            )
        yield server


@pytest.mark.parametrize("path", list(URLS), ids=lambda p: p.strip("/").split("?")[0]
                         + ("-short" if p.endswith(JOB_ID[:8]) else ""))
def test_the_first_visit_by_a_shared_link_gets_the_frame_and_its_page(
    fresh_console: AppServer, page: Any, path: str
) -> None:
    open_page(page, fresh_console.url + path)
    title = URLS[path]
    main = page.locator("[data-testid='stMain']")
    # app.py drew the frame: the environment banner and the sidebar's connection panel.
    main.get_by_text("SANDBOX", exact=False).first.wait_for()
    page.locator("[data-testid='stSidebar']").get_by_text("Running jobs").wait_for()
    main.locator("h1").filter(has_text=title).first.wait_for()
    if "?job=" in path:  # … and the link landed on the job it pointed at
        main.get_by_text("shared-link.csv").first.wait_for()
        assert JOB_ID in page.url
    if path == "/jobs?job=" + JOB_ID:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "shared-link-fresh-console.png"), full_page=True)
