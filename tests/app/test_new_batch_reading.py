"""New batch reads the files operators in Gameball's markets export, and says how it read them.

A payout list with a title block above its header, a European-locale export with decimal
commas, custom columns whose kinds the operator can change. The real console runs (app.py
with its sandbox and ledger), files go in through the real uploader.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xlsxwriter
from console_pages import first_item_json, metric, open_console, shown_text, upload
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAST = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def payout_list(header: list[str]) -> bytes:
    """An XLSX like the issue's: title in row 1, a date line, a blank row, header in row 4."""
    sink = io.BytesIO()
    book = xlsxwriter.Workbook(sink, {"in_memory": True})
    sheet = book.add_worksheet("Payouts")
    sheet.write(0, 0, "Ramadan cashback campaign: payout list")
    sheet.write(1, 0, "Prepared 2026-03-01")
    sheet.write_row(3, 0, header)
    for n in range(3):
        sheet.write_row(4 + n, 0, [f"cus-{1001 + n}", f"INV-{n}", PAST, f"{10 + n}.50"])
    book.close()
    return sink.getvalue()


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_a_title_block_is_skipped_and_the_header_row_is_named() -> None:
    data = payout_list(["Customer ID", "Transaction ID", "Transaction Time", "Amount"])
    at = upload(open_console(), "payouts.xlsx", data)
    assert not at.error, [e.value for e in at.error]
    assert "Header found in row 4; rows 1–3 skipped" in captions(at)
    assert metric(at, "Rows") == "3"
    assert metric(at, "Valid") == "3"
    assert at.number_input(key=keys.NB_HEADER_ROW).value is None  # found, not chosen


def test_the_operator_chooses_the_header_row_when_none_is_found() -> None:
    data = payout_list(["Client", "Invoice", "When", "Sum"])
    at = upload(open_console(), "payouts.xlsx", data)
    assert any("choose the header row" in e.value for e in at.error)
    assert not any("has no header but has data" in e.value for e in at.error)
    at.number_input(key=keys.NB_HEADER_ROW).set_value(4).run()
    assert not at.exception
    assert "Header chosen in row 4; rows 1–3 skipped" in captions(at)
    assert "Client" in at.selectbox(key=keys.map_key("customerId")).options
    for path, column in (("customerId", "Client"), ("transactionId", "Invoice"),
                         ("transactionTime", "When"), ("amount", "Sum")):
        at.selectbox(key=keys.map_key(path)).set_value(column).run()
    assert metric(at, "Valid") == "3"


def test_decimal_commas_are_offered_and_read_only_when_the_operator_says_so() -> None:
    data = ("Customer ID;Transaction ID;Transaction Time;Amount\n"
            f"cus-1001;INV-1;{PAST};12,25\n"
            f"cus-1002;INV-2;{PAST};1.234,50\n"
            f"cus-1003;INV-3;{PAST};7\n").encode()
    at = upload(open_console(), "export.csv", data)
    assert metric(at, "Invalid") == "2"  # never read silently
    offer = [i.value for i in at.info if "decimals with commas" in i.value]
    assert offer == ["This file writes decimals with commas, e.g. 12,25 → 12.25. "
                     "Read it that way?"]
    at.button(key=keys.NB_DECIMAL_ACCEPT).click().run()
    assert not at.exception
    assert at.selectbox(key=keys.NB_DECIMAL).value == "comma"
    assert metric(at, "Invalid") == "0"
    assert not [i for i in at.info if "decimals with commas" in i.value]
    assert any("decimal commas (1.234,50 = 1234.50)" in t.value for t in at.text)
    # The job keeps how its file was read: in its totals (review) and its history.
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.session_state[keys.NB_LAST_JOB]
    with env_ledger() as ledger:
        job = ledger.job(job_id)
        assert job is not None
        assert job.totals["reading"].startswith("decimal commas (1.234,50 = 1234.50)")
        assert [e.detail["reading"] for e in ledger.audit_entries(job_id)
                if e.action == "file.read"] == [job.totals["reading"]]
        first = json.loads(ledger.payload(job_id, 0))["body"]
    assert [item["amount"] for item in first] == [12.25, 1234.5, 7]


def test_custom_columns_show_their_kind_and_the_operator_can_change_it() -> None:
    data = (b"customerId,event,metadata.stars,metadata.sku\n"
            b"cus-1001,write_review,5,00123\n"
            b"cus-1002,write_review,4,00124\n")
    at = upload(open_console(), "events.csv", data, slug="events")
    stars = at.selectbox(key=keys.NB_KIND_PREFIX + "metadata.stars")
    assert stars.value == "number"
    assert at.selectbox(key=keys.NB_KIND_PREFIX + "metadata.sku").value == "text"
    stars.set_value("text").run()
    assert not at.exception
    assert any("metadata.stars as text" in t.value for t in at.text)


@pytest.mark.parametrize(("name", "data", "message"), [
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nests lists or objects too deeply"),
    ("payouts.xlsx", b"Customer ID,Amount\ncus-1001,5\n", "Rename it to end in .csv and "
                                                          "upload it again."),
])
def test_hostile_files_get_one_clear_message_on_the_page(
    name: str, data: bytes, message: str,
) -> None:
    at = upload(open_console(), name, data)
    # Shown as literal text (escaped for markdown): read it as the operator does.
    assert any(message in shown_text(e.value) for e in at.error), [e.value for e in at.error]


def test_arabic_indic_amounts_are_reviewed_as_they_will_be_sent() -> None:
    data = ("Customer ID,Transaction ID,Transaction Time,Amount\n"
            f"cus-1001,INV-1,{PAST},١٥٠٫٥٠\n"
            f"cus-1002,INV-2,{PAST},۱۲۳\n").encode()
    at = upload(open_console(), "arabic.csv", data)
    assert metric(at, "Valid") == "2"
    first = json.loads(first_item_json(at))
    assert first["amount"] == 150.5
    assert first["customerId"] == "cus-1001"
