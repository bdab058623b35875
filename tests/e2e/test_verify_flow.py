"""Verify at Gameball in the browser: an in-doubt job settled by one "Accept verdicts" click.

The job is really applied at the console's own sandbox (sent straight through a client), but
the ledger only knows that the send's answer was lost: its rows are in doubt. The operator
asks Gameball, reads the verdicts, gives one reason and accepts them with one click.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    AppServer,
    free_port,
    open_page,
    require_browser,
    rerun_after,
    run_console,
)

from gameball_batch import ledger as lg
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow, open_ledger
from gameball_batch.sandbox.model import DEMO_API_KEY, DEMO_SECRET_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WHEN = "2026-01-02T03:04:05Z"
JOB = "e2e-verify"
ROWS = 6


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, int]]:
    """A console whose local sandbox listens on a port of its own (never the shared 8999)."""

    require_browser()
    port = free_port()
    with run_console(tmp_path_factory.mktemp("verify-console"),
                     extra_env={"GAMEBALL_SANDBOX_PORT": str(port)}) as server:
        yield server, port


def _in_doubt_job(book: Ledger, port: int) -> None:
    body = [{"customerId": f"cus-{1001 + n}", "transactionId": f"E2E-V-{n}",
             "transactionTime": WHEN, "amount": 10 + n} for n in range(ROWS)]
    payload = json.dumps({"body": body}).encode()
    book.create_job(
        NewJob(id=JOB, batch_type="cashback", file_name="drop.csv", fingerprint="e" * 64,
               sheet=None, mapping={}, columns=("Customer",), row_count=ROWS, item_count=ROWS,
               totals={}, actor="amira@example.com"),
        [NewChunk(0, payload, ROWS)],
        [NewRow(n + 2, 0, item["transactionId"], (item["customerId"],))
         for n, item in enumerate(body)])
    book.acquire_lease(JOB, "e2e", 300)
    book.set_job_state(JOB, lg.JOB_RUNNING, actor="e2e")
    assert book.mark_sending(JOB, 0, "e2e")
    # Gameball applies the chunk; its answer never reaches the ledger.
    with GameballClient(f"http://127.0.0.1:{port}", DEMO_API_KEY, DEMO_SECRET_KEY,
                        rate_limit=None) as client:
        client.create_batch("cashback", payload)
    assert book.mark_unknown(JOB, 0, error="the connection dropped after sending")
    book.set_job_state(JOB, lg.JOB_NEEDS_OPERATOR, actor="e2e")
    book.release_lease(JOB, "e2e")


def test_an_in_doubt_job_is_settled_with_one_accept_click(
    console: tuple[AppServer, int], page: Any, tmp_path: Path
) -> None:
    server, port = console
    open_page(page, server.url + "/")  # the first run starts the console's sandbox
    with open_ledger(server.ledger) as book:
        _in_doubt_job(book, port)
        open_page(page, server.url + f"/jobs?job={JOB}")
        rerun_after(page, page.get_by_role("button", name=f"Verify at Gameball ({ROWS} rows "
                                                          "in doubt)").click)
        page.get_by_role("button", name=f"Accept {ROWS} verdicts").wait_for()
        page.get_by_label("Reason for accepting the verdicts (required)").fill(
            "Gameball holds every transaction")
        page.keyboard.press("Tab")
        accept = page.get_by_role("button", name=f"Accept {ROWS} verdicts")
        page.wait_for_function(
            "() => [...document.querySelectorAll('button')].some("
            "b => b.innerText.includes('Accept') && !b.disabled)")
        rerun_after(page, accept.click)
        page.get_by_text(f"{ROWS} row(s) applied").first.wait_for()
        assert book.row_counts(JOB)[lg.ROW_APPLIED] == ROWS
        assert book.job_state(JOB) == lg.JOB_FINISHED
        assert any(e.action == "verify.accepted" and e.detail["reason"] ==
                   "Gameball holds every transaction" for e in book.audit_entries(JOB))
