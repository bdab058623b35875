"""Send at a time and team signals in the console (AppTest): a big job scheduled on the
review step waits for approval; the approver sees who waits, how long, the totals and the
time, and approving keeps it scheduled; Settings lists the hooks and sends a test message."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from console_pages import goto, page_app
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ui import notify_view, schedule_view, services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SETTINGS = """
[roles]
operators = ["ops@shop.example"]
approvers = ["boss@shop.example"]

[approval]
total_amount_over = 100

[console]
timezone = "Africa/Cairo"
"""
CSV = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
       b"cus-1001,INV-1,2026-01-02T10:00:00Z,80\n"
       b"cus-1002,INV-2,2026-01-02T10:05:00Z,70.5\n")


@pytest.fixture
def inbox() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/topsecret", got
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _configured(inbox: tuple[str, list[dict[str, Any]]]) -> Iterator[None]:
    services.shutdown()
    hook = f'\n[[notify.hooks]]\nname = "ops-chat"\nurl = "{inbox[0]}"\n'
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(SETTINGS + hook)
    yield
    services.shutdown()


def as_user(email: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    return at.run()


def job(job_id: str) -> lg.Job:
    with env_ledger() as ledger:
        found = ledger.job(job_id)
        assert found is not None
        return found


def test_a_scheduled_big_job_is_approved_early_and_keeps_its_time() -> None:
    at = as_user("ops@shop.example")
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value(("drop.csv", CSV, "text/csv")).run()
    at.radio(key=schedule_view.SC_MODE).set_value(schedule_view.AT).run()
    [shown] = [t.value for t in at.text if t.value.startswith("Sends at")]
    assert "Africa/Cairo" in shown
    assert "UTC" in shown
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = str(at.session_state[keys.NB_LAST_JOB])
    held = job(job_id)
    assert held.state == lg.JOB_AWAITING_APPROVAL
    assert held.scheduled_at is not None

    boss = as_user("boss@shop.example")
    goto(boss, "approvals").run()
    assert not boss.exception, [e.value for e in boss.exception]
    waits = [t.value for t in boss.text if "waiting" in t.value]
    assert waits, [t.value for t in boss.text]
    assert "ops@shop.example has been waiting" in waits[0]
    assert "Totals: amount 150.50" in waits[0]
    assert "Scheduled for" in waits[0]
    boss.button(key="ap.approve." + job_id).click().run()
    assert any("starts at its scheduled time" in s.value for s in boss.success)
    assert job(job_id).state == lg.JOB_SCHEDULED


def hooks_table(at: AppTest) -> Any:
    return next(d.value for d in at.dataframe if "hook" in d.value.columns)


def test_settings_lists_the_hook_without_its_url_and_sends_a_test_message(
        inbox: tuple[str, list[dict[str, Any]]]) -> None:
    at = as_user("ops@shop.example")
    goto(at, "settings").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(h.value == "Team signals" for h in at.header)
    table = hooks_table(at)
    assert list(table["hook"]) == ["ops-chat"]
    assert list(table["host"]) == ["127.0.0.1"]
    assert "topsecret" not in str(table.to_dict())
    at.button(key=notify_view.NT_TEST).click().run()
    assert any("Delivered to 'ops-chat'" in s.value for s in at.success)
    assert inbox[1]
    assert inbox[1][-1]["event"] == "test"
    at.run()
    table = hooks_table(at)
    assert "delivered" in str(table["result"].iloc[0])




def stored_job(book: Ledger, job_id: str, *, scheduled_at: float | None = None) -> None:
    body = [{"customerId": "cus-1001", "transactionId": f"{job_id}-1", "amount": 5}]
    book.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name=f"{job_id}.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("item",), row_count=1, item_count=1,
               totals={}, actor="ops@shop.example",
               state=lg.JOB_QUEUED if scheduled_at is None else lg.JOB_SCHEDULED,
               scheduled_at=scheduled_at),
        [NewChunk(0, json.dumps({"body": body}).encode(), 1)],
        [NewRow(2, 0, f"{job_id}-1", ("x",))])


def test_upcoming_jobs_head_the_list_and_count_down_until_cancelled() -> None:
    with env_ledger() as book:
        stored_job(book, "later", scheduled_at=time.time() + 2 * 3600)
        stored_job(book, "newest")  # created after it: first in time order, second here
    at = page_app("jobs")
    at.user = {"is_logged_in": True, "email": "ops@shop.example"}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["job"])[:2] == ["later", "newest"]
    assert "starts in 1 h 59 min" in str(table["state"].iloc[0])

    at.query_params["job"] = "later"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = [t.value for t in at.text]
    assert any(t.startswith("Scheduled for") and "Africa/Cairo" in t for t in texts), texts
    assert any(t.startswith("Starts in 1 h 59 min") for t in texts), texts
    at.button(key=schedule_view.SC_CANCEL + "later").click().run()
    assert any("Cancelled: nothing was sent." in s.value for s in at.success)
    assert job("later").state == lg.JOB_REJECTED
