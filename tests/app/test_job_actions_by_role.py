"""Only operators act on jobs: a viewer follows a job and downloads its rows, nothing more.

A viewer opens the same job as an operator and sees its state, totals and downloads, but no
Stop / Pause / Resume / Retry / Resolve controls, only a short explanation. Roles come from
a real ``[roles]`` settings section and the signed-in person from ``at.user``; jobs are
written into the real ledger the page reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import page_app
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ui import jobs_view as jv
from gameball_batch.ui import services

ROOT = Path(__file__).resolve().parents[2]
JOBS = "jobs"
ROLES = """
[roles]
viewers = ["carol@audit.example"]
operators = ["ops@shop.example"]
"""
VIEWER = "carol@audit.example"
OPERATOR = "ops@shop.example"
OWNER = "test-runner"
ACTION_KEYS = (jv.JB_STOP, jv.JB_PAUSE, jv.JB_RESUME, jv.JB_RETRY)


@pytest.fixture(autouse=True)
def _roles() -> Iterator[None]:
    services.shutdown()
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(ROLES)
    yield
    services.shutdown()


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with env_ledger() as book:
        yield book


def make_job(book: Ledger, job_id: str) -> None:
    """A running 4-row cashback job in two chunks; row n has key INV-n."""
    body = [{"customerId": f"cus-{1000 + r}", "transactionId": f"INV-{r}", "amount": r}
            for r in range(2, 6)]
    chunks = [NewChunk(i, json.dumps({"body": body[2 * i: 2 * i + 2]}).encode(), 2)
              for i in range(2)]
    rows = [NewRow(r, (r - 2) // 2, f"INV-{r}", (f"cus-{1000 + r}", str(r))) for r in range(2, 6)]
    book.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name="drop.csv", fingerprint="f" * 64,
               sheet=None, mapping={}, columns=("Customer", "Amount"), row_count=4,
               item_count=4, totals={}, actor=OPERATOR),
        chunks, rows,
    )
    book.acquire_lease(job_id, OWNER, 300)
    book.set_job_state(job_id, lg.JOB_RUNNING, actor=OWNER)


def finish_with_failure(book: Ledger, job_id: str) -> None:
    """Chunk 0 closes with INV-3 refused; chunk 1 is in doubt; the job waits for a person."""
    assert book.mark_sending(job_id, 0, OWNER)
    assert book.mark_accepted(job_id, 0, "remote-0")
    assert book.finish_chunk(job_id, 0, state=lg.CHUNK_DONE, unlisted=None, outcomes=[
        ItemOutcome("INV-2", lg.ROW_APPLIED, None),
        ItemOutcome("INV-3", lg.ROW_FAILED, "customer not found")])
    assert book.mark_sending(job_id, 1, OWNER)
    assert book.mark_unknown(job_id, 1, error="the connection dropped after sending")
    book.set_job_state(job_id, lg.JOB_NEEDS_OPERATOR)


def page(path: str, email: str, job_id: str | None = None) -> AppTest:
    at = page_app(path)
    at.user = {"is_logged_in": True, "email": email}
    if job_id:
        at.query_params["job"] = job_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button_keys(at: AppTest) -> set[str]:
    return {str(b.key) for b in at.button}


def widget_keys(at: AppTest) -> set[str]:
    found = {str(b.key) for b in at.button}
    for kind in ("selectbox", "radio", "text_input", "checkbox", "number_input"):
        found |= {str(w.key) for w in at.get(kind)}
    return found


# --- jobs page -------------------------------------------------------------------------------


def test_a_viewer_sees_a_running_job_but_cannot_stop_or_pause_it(ledger: Ledger) -> None:
    make_job(ledger, "live")
    at = page(JOBS, VIEWER, "live")
    assert next(m.value for m in at.metric if m.label == "Rows") == "4"
    assert not button_keys(at) & set(ACTION_KEYS)
    assert any(jv.VIEW_ONLY_TEXT in c.value for c in at.caption)
    assert ledger.job("live").state == lg.JOB_RUNNING  # type: ignore[union-attr]


def test_a_viewer_gets_downloads_but_no_retry_or_resolve_controls(ledger: Ledger) -> None:
    make_job(ledger, "doubt")
    finish_with_failure(ledger, "doubt")
    at = page(JOBS, VIEWER, "doubt")
    downloads = {d.key: d for d in at.download_button}
    assert not downloads[jv.JB_DL_FAILED_CSV].proto.disabled
    assert not downloads[jv.JB_DL_RESULTS].proto.disabled
    resolve = {jv.JB_RESOLVE_CHUNK, jv.JB_RESOLVE_DECISION, jv.JB_RESOLVE_REASON,
               jv.JB_RESOLVE_CONFIRM, jv.JB_RESOLVE_GO}
    assert not widget_keys(at) & (set(ACTION_KEYS) | resolve)
    assert any("An operator decides" in w.value for w in at.warning)


def test_an_operator_gets_every_action_on_the_same_job(ledger: Ledger) -> None:
    make_job(ledger, "doubt")
    finish_with_failure(ledger, "doubt")
    at = page(JOBS, OPERATOR, "doubt")
    assert set(ACTION_KEYS) <= button_keys(at)
    assert jv.JB_RESOLVE_GO in button_keys(at)
    assert not any(jv.VIEW_ONLY_TEXT in c.value for c in at.caption)
