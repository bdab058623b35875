"""Four-eyes approval in the console: an operator's big job waits; another approver sees it
with its impact and approves or rejects it; the submitter cannot approve their own job."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import goto, shown_text
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ui import approvals_view as view
from gameball_batch.ui import services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SETTINGS = """
[roles]
operators = ["ops@shop.example", "lead@shop.example"]
approvers = ["boss@shop.example", "lead@shop.example"]

[approval]
total_amount_over = 100
"""
CSV = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
       b"cus-1001,INV-1,2026-01-02T10:00:00Z,80\n"
       b"cus-1002,INV-2,2026-01-02T10:05:00Z,70.5\n")


@pytest.fixture(autouse=True)
def _configured() -> Iterator[None]:
    services.shutdown()
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(SETTINGS)
    yield
    services.shutdown()


def as_user(email: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": email}
    return at.run()


def submit_big_job(email: str = "ops@shop.example") -> str:
    at = as_user(email)
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value(("drop.csv", CSV, "text/csv")).run()
    assert any("approval thresholds" in w.value for w in at.warning)
    assert at.button(key=keys.NB_SUBMIT).label == "Submit 2 rows for approval"
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = str(at.session_state[keys.NB_LAST_JOB])
    goto(at, "new_batch").run()
    assert any("waits for an approver" in i.value for i in at.info)
    return job_id


def state_of(job_id: str) -> str:
    with env_ledger() as ledger:
        job = ledger.job(job_id)
        assert job is not None
        return job.state


def approvals_page(email: str) -> AppTest:
    at = as_user(email)
    goto(at, "approvals").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_job_over_a_threshold_waits_and_is_not_sent() -> None:
    job_id = submit_big_job()
    assert state_of(job_id) == lg.JOB_AWAITING_APPROVAL
    assert services.get_sandbox() is not None
    with env_ledger() as ledger:
        assert ledger.chunk_counts(job_id)[lg.CHUNK_PENDING] == 1  # nothing left the ledger


def test_another_approver_sees_the_impact_and_approves_it_then_it_is_sent() -> None:
    job_id = submit_big_job()
    at = approvals_page("boss@shop.example")
    assert any("total amount 150.50 is over 100.00" in shown_text(w.value) for w in at.warning)
    assert '"customerId": "cus-1001"' in at.code[0].value
    assert any(m.label == "Rows" and m.value == "2" for m in at.metric)
    at.button(key=view.AP_APPROVE + job_id).click().run()
    assert any("approved" in s.value for s in at.success)
    assert services.get_runner().wait(job_id, timeout=60).state == lg.JOB_FINISHED
    with env_ledger() as ledger:
        assert ledger.row_counts(job_id)[lg.ROW_APPLIED] == 2
        actions = [(e.actor, e.action) for e in ledger.audit_entries(job_id)]
    assert ("ops@shop.example", "approval.requested") in actions
    assert ("boss@shop.example", "approval.approved") in actions


def test_the_submitter_cannot_approve_their_own_job() -> None:
    job_id = submit_big_job("lead@shop.example")  # an operator who is also an approver
    at = approvals_page("lead@shop.example")
    assert at.button(key=view.AP_APPROVE + job_id).disabled
    assert any("You submitted this job" in c.value for c in at.caption)


def test_an_approver_rejects_with_a_reason_and_nothing_is_sent() -> None:
    job_id = submit_big_job()
    at = approvals_page("boss@shop.example")
    assert at.button(key=view.AP_REJECT + job_id).disabled  # no reason yet
    at.text_input(key=view.AP_REASON + job_id).input("Wrong campaign week").run()
    at.button(key=view.AP_REJECT + job_id).click().run()
    assert state_of(job_id) == lg.JOB_REJECTED
    assert any("Nothing is waiting for approval." in i.value for i in at.info)


@pytest.mark.sqlite_only  # edits the SQLite file behind the ledger's back
def test_a_job_changed_after_the_request_cannot_be_approved() -> None:
    job_id = submit_big_job()
    with sqlite3.connect(os.environ["GAMEBALL_BATCH_DB"]) as raw:
        raw.execute("UPDATE jobs SET totals = json_set(totals, '$.\"amount.total\"', 15.05)")
    at = approvals_page("boss@shop.example")
    assert any("changed after it was submitted" in e.value for e in at.error)
    assert at.button(key=view.AP_APPROVE + job_id).disabled
    assert state_of(job_id) == lg.JOB_AWAITING_APPROVAL
