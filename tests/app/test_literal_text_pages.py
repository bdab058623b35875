"""Every place a page shows a file name, sheet, actor, reason or Gameball message shows it
as literal text: fed markdown and HTML, no element holds a live link or tag.

AppTest gives each element's markdown source. A character that markdown or HTML would act
on must arrive escaped (``text.literal``), and once the escapes are undone the operator
reads exactly what the file or the person supplied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from console_pages import APP, goto, page_app, shown_text
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ui import state as keys

NAME = "[pay](javascript:alert(3)) <b>x.csv"
ACTOR = "[Approve here](https://evil.example)@shop.example"
MESSAGE = "<a href='https://evil.example'>click</a> [here](https://evil.example)"
SHEET = "[s](https://evil.example)"
JOB_ID = "11111111-2222-4333-8444-555555555555"
LIVE = re.compile(r"(?<!\\)[\[<]")  # an unescaped link or tag opener
OUR_BADGE = re.compile(r":[a-z]+-badge\[[^\[\]<]*\]")  # st.badge's own markup, our words
MARKDOWN_KINDS = ("title", "header", "subheader", "markdown", "caption", "error", "warning",
                  "info", "success")


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with env_ledger() as book:
        yield book


def hostile_job(book: Ledger) -> None:
    """A job whose every operator- or file-supplied text is markdown and HTML, in doubt."""
    body = [{"customerId": "cus-1001", "amount": 5}]
    book.create_job(
        NewJob(id=JOB_ID, batch_type="adjustments", file_name=NAME, fingerprint="f",
               sheet=SHEET, mapping={}, columns=("Customer", "Amount"), row_count=1,
               item_count=1, totals={}, actor=ACTOR, state=lg.JOB_PAUSED),
        [NewChunk(0, json.dumps({"body": body}).encode(), 1)],
        [NewRow(2, 0, "cus-1001", ("cus-1001", MESSAGE))],
    )
    book.set_job_state(JOB_ID, lg.JOB_QUEUED, actor=ACTOR)
    book.acquire_lease(JOB_ID, "test-runner", 300)
    book.set_job_state(JOB_ID, lg.JOB_RUNNING, actor="test-runner")
    assert book.mark_sending(JOB_ID, 0, "test-runner")
    assert book.mark_unknown(JOB_ID, 0, error=MESSAGE)
    book.set_job_state(JOB_ID, lg.JOB_NEEDS_OPERATOR, actor="test-runner")
    book.audit(ACTOR, "chunk.resolved", JOB_ID, {"reason": MESSAGE})


def markdown_sources(at: AppTest) -> list[str]:
    found: list[str] = []
    for kind in MARKDOWN_KINDS:
        found += [str(e.value) for e in at.get(kind)]
    for kind in ("button", "checkbox", "text_input", "selectbox", "multiselect", "radio"):
        found += [str(w.label) for w in at.get(kind)] + [str(w.help or "") for w in at.get(kind)]
    found += [str(link.proto.label) for link in at.get("page_link")]  # labels are markdown
    return found


def assert_literal_everywhere(at: AppTest, *expected: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    sources = markdown_sources(at)
    for source in sources:
        if OUR_BADGE.fullmatch(source):
            continue
        assert not LIVE.search(source), f"live markup in: {source!r}"
    shown = " ".join(shown_text(s) for s in sources)
    for text in expected:
        assert text in shown, f"{text!r} is not shown literally"


def test_the_job_list_shows_names_and_actors_literally(ledger: Ledger) -> None:
    hostile_job(ledger)
    at = page_app("jobs").run()
    assert_literal_everywhere(at, NAME)
    table = at.dataframe[0].value  # tables show text as it is
    assert NAME in set(table["file"])
    assert ACTOR in set(table["submitted by"])


def test_the_job_detail_shows_names_sheets_actors_and_messages_literally(
    ledger: Ledger,
) -> None:
    hostile_job(ledger)
    at = page_app("jobs")
    at.query_params[keys.JOB_QUERY_PARAM] = JOB_ID
    at.run()
    assert_literal_everywhere(at, NAME, SHEET, ACTOR)
    chunk = at.selectbox(key=keys.JB_RESOLVE_CHUNK)  # option text is plain, never markdown
    assert MESSAGE in str(chunk.value)


def test_history_shows_actors_and_reasons_as_table_text(ledger: Ledger) -> None:
    hostile_job(ledger)
    at = page_app("history").run()
    assert_literal_everywhere(at)
    table = at.dataframe[0].value
    assert ACTOR in set(table["who"])
    assert any(MESSAGE in d for d in table["detail"])


def test_new_batch_shows_the_file_name_literally() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    goto(at, "new_batch").run()
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    data = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
            b"cus-1001,T-1,2026-01-02T10:00:00Z,5\n")
    at.file_uploader[0].set_value((NAME, data, "text/csv")).run()
    assert_literal_everywhere(at, NAME)
    assert any(shown_text(c.value).startswith(f"Detected: **{NAME}**") for c in at.caption)
