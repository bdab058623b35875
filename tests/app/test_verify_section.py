"""The job page's "Verify at Gameball" section: who gets which controls, and what it shows.

Roles come from a real ``[roles]`` section; the job and its recorded verdicts are written
into the real ledger the page reads. Gameball text (a transaction id from the file, a
note) must reach the page as literal text.
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
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ledger import evidence as ev
from gameball_batch.ui import services
from gameball_batch.ui import verify_view as vv

ROOT = Path(__file__).resolve().parents[2]
ROLES = """
[roles]
viewers = ["carol@audit.example"]
operators = ["ops@shop.example"]
"""
VIEWER = "carol@audit.example"
OPERATOR = "ops@shop.example"
ACTIONS = {vv.VF_RUN, vv.VF_RECONCILE, vv.VF_ACCEPT, vv.VF_REASON, vv.VF_DECIDE, vv.VF_UNDO}
HOSTILE = "**INV** <b>2</b>"


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


def in_doubt_job(book: Ledger) -> str:
    body = [{"customerId": "cus-1002", "transactionId": HOSTILE, "amount": 2}]
    book.create_job(
        NewJob(id="vj", batch_type="cashback", file_name="drop.csv", fingerprint="f" * 64,
               sheet=None, mapping={}, columns=("Customer",), row_count=1, item_count=1,
               totals={}, actor=OPERATOR),
        [NewChunk(0, json.dumps({"body": body}).encode(), 1)], [NewRow(2, 0, HOSTILE, ("x",))])
    book.acquire_lease("vj", "t", 300)
    book.set_job_state("vj", lg.JOB_RUNNING, actor="t")
    assert book.mark_sending("vj", 0, "t")
    assert book.mark_unknown("vj", 0, error="dropped")
    book.set_job_state("vj", lg.JOB_NEEDS_OPERATOR)
    ev.save_verdicts(book, "vj", [(2, "applied", {"note": f"Gameball holds {HOSTILE}",
                                                  "customer": "cus-1002"})])
    return "vj"


def page(email: str, job_id: str) -> AppTest:
    at = page_app("jobs")
    at.user = {"is_logged_in": True, "email": email}
    at.query_params["job"] = job_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def keys_of(at: AppTest) -> set[str]:
    found = {str(b.key) for b in at.button}
    for kind in ("text_input", "multiselect", "radio"):
        found |= {str(w.key) for w in at.get(kind)}
    return found


def test_a_viewer_sees_the_verdicts_and_the_report_but_no_verify_controls(
    ledger: Ledger,
) -> None:
    at = page(VIEWER, in_doubt_job(ledger))
    assert not keys_of(at) & ACTIONS
    assert {d.key for d in at.download_button} >= {vv.VF_CSV, vv.VF_XLSX}
    assert next(m.value for m in at.metric if m.label == "applied") == "1"


def test_an_operator_accepts_the_verdicts_with_one_reason(ledger: Ledger) -> None:
    job_id = in_doubt_job(ledger)
    at = page(OPERATOR, job_id)
    assert {vv.VF_RUN, vv.VF_RECONCILE} <= keys_of(at)
    at.text_input(key=vv.VF_REASON).input("Gameball agrees").run()
    at.button(key=vv.VF_ACCEPT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert ledger.row_counts(job_id)[lg.ROW_APPLIED] == 1
    assert ledger.job_state(job_id) == lg.JOB_FINISHED


def test_text_from_a_file_or_gameball_is_never_rendered_as_markdown(ledger: Ledger) -> None:
    at = page(OPERATOR, in_doubt_job(ledger))
    rendered = " ".join(str(m.value) for m in at.markdown)
    assert HOSTILE not in rendered
    assert "<b>2</b>" not in rendered
