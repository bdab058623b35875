"""The new-batch flow as an operator walks it: empty, uploaded, invalid, fixed, valid, submitted.

The real console runs (``app.py``, with its embedded sandbox and ledger in tmp_path); files
go in through the real ``st.file_uploader`` (AppTest can set its value), and inline fixes
through the data editor's edit state, exactly as the browser sends it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xlsxwriter
from console_pages import first_item_json, goto, metric, open_console, shown_text, upload
from ledgers import env_ledger

from gameball_batch import jobs
from gameball_batch.ui import services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAST = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
FUTURE = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
HEADER = "Customer ID,Transaction ID,Transaction Time,Amount"


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def cashback_csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    return ("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n").encode()


GOOD = [(f"cus-{1001 + n}", f"INV-{n}", PAST, f"{10 + n}.50") for n in range(5)]
BAD = [("cus-1010", "INV-90", PAST, "12;5"), ("cus-1011", "INV-91", FUTURE, "20")]


def test_empty_page_explains_the_type_and_offers_templates() -> None:
    at = open_console()
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    text = "\n".join(m.value for m in at.markdown)
    for label in ("Customer ID", "Transaction ID", "Amount"):
        assert label in text
    assert "Upload a file to continue" in at.info[-1].value
    assert not at.metric  # nothing validated yet
    labels = {b.key: b.label for b in at.download_button}
    assert labels[keys.NB_TEMPLATE_CSV] == "Download CSV template"
    assert labels[keys.NB_TEMPLATE_XLSX] == "Download XLSX template"


def test_an_unreadable_file_shows_the_reason_not_a_traceback() -> None:
    at = upload(open_console(), "broken.xlsx", b"this is not a workbook")
    assert not at.exception
    assert at.error
    assert "Could not read broken.xlsx" in shown_text(at.error[0].value)


def test_uploaded_file_is_mapped_by_suggestion_and_detection_is_shown() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    caption = "\n".join(c.value for c in at.caption)
    for detected in ("format CSV", "delimiter comma", "5 rows"):
        assert detected in caption
    assert at.selectbox(key=keys.map_key("customerId")).value == "Customer ID"
    assert at.selectbox(key=keys.map_key("amount")).value == "Amount"


def test_unmapping_a_required_field_stops_the_flow_with_a_message() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    at.selectbox(key=keys.map_key("amount")).set_value(keys.NO_COLUMN).run()
    assert not at.exception
    assert any("Fix the mapping" in e.value for e in at.error)
    assert not any(m.label == "Valid" for m in at.metric)


def test_invalid_rows_are_counted_charted_and_offered_for_fixing() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD + BAD))
    assert metric(at, "Rows") == "7"
    assert metric(at, "Valid") == "5"
    assert metric(at, "Invalid") == "2"
    editor = at.data_editor[0]
    failing = editor.value
    assert sorted(int(r) for r in failing.index) == [7, 8]  # Excel row numbers
    assert at.checkbox(key=keys.NB_DROP_INVALID).value is False
    assert not [b for b in at.button if b.key == keys.NB_SUBMIT]  # no review until resolved


def test_a_fix_in_the_editor_is_validated_again() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD + BAD))
    editor_key = at.data_editor[0].key
    assert editor_key == keys.editor_key(0)
    at.session_state[editor_key] = {
        "edited_rows": {0: {"Amount": "12.5"}}, "added_rows": [], "deleted_rows": [],
    }
    at.button(key=keys.NB_APPLY_FIXES).click().run()
    assert not at.exception
    assert metric(at, "Invalid") == "1"
    assert at.session_state[keys.NB_FIXES] == {7: {"Amount": "12.5"}}
    assert [int(r) for r in at.data_editor[0].value.index] == [8]


def test_dropping_invalid_rows_leads_to_the_review() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD + BAD))
    at.checkbox(key=keys.NB_DROP_INVALID).check().run()
    assert not at.exception
    assert metric(at, "Rows to send") == "5"
    assert metric(at, "Distinct customers") == "5"
    assert "INV-0" in first_item_json(at)  # the first item's exact JSON


def test_a_valid_file_shows_impact_plan_and_the_first_item() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    assert metric(at, "Invalid") == "0"
    assert metric(at, "Rows to send") == "5"
    assert metric(at, "Total amount") == "62.50"
    plan = "\n".join(m.value for m in at.markdown)
    assert "5 items from 5 rows in 1 request(s)" in plan
    assert '"customerId": "cus-1001"' in first_item_json(at)
    assert at.button(key=keys.NB_SUBMIT).disabled  # not confirmed yet


def test_submitting_creates_the_job_and_lands_on_it() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD + BAD))
    at.checkbox(key=keys.NB_DROP_INVALID).check().run()
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.session_state[keys.NB_LAST_JOB]
    assert at.query_params.get(keys.JOB_QUERY_PARAM) == job_id
    with env_ledger() as ledger:
        job = ledger.job(job_id)
        assert job is not None
        assert job.row_count == 5
        assert job.file_name == "drop.csv"
        assert sorted(r.row for r in ledger.rows(job_id, statuses=("pending",))) == [
            2, 3, 4, 5, 6]
    # The console's runner picks the queued job up and the sandbox applies every row.
    finished = services.get_runner().wait(job_id, timeout=60)
    assert finished.state == "finished"
    with env_ledger() as ledger:
        assert ledger.row_counts(job_id)["applied"] == 5
        # Nothing disappears: the two rows left out are the job's too, as not sent, with
        # why, and in the failed-rows download ready to fix and upload again.
        left = ledger.rows(job_id, statuses=("not_applied",))
        assert [r.row for r in left] == [7, 8]
        assert all((r.message or "").startswith("Not sent: invalid at validation") for r in left)
        assert "Amount must be a number" in (left[0].message or "")
        export = jobs.failed_rows_frame(ledger, job_id)
        assert sorted(export["source row"]) == [7, 8]
        assert jobs.summary(ledger, job_id).left_out == 2
        assert [e.detail["rows"] for e in ledger.audit_entries(job_id)
                if e.action == "job.left_out"] == [2]


def test_an_inline_fix_is_in_the_jobs_history_with_its_before_and_after() -> None:
    at = upload(open_console(), "fix.csv", cashback_csv(GOOD + BAD[:1]))
    at.session_state[keys.NB_FIXES] = {7: {"Amount": "12.5"}}
    at.run()
    assert metric(at, "Invalid") == "0"
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.session_state[keys.NB_LAST_JOB]
    with env_ledger() as ledger:
        (entry,) = [e for e in ledger.audit_entries(job_id) if e.action == "file.fixes"]
    assert entry.detail["fixes"] == [{"row": 7, "column": "Amount", "before": "12;5",
                                      "after": "12.5"}]


def test_sending_the_same_file_again_needs_an_explicit_override() -> None:
    data = cashback_csv(GOOD)
    at = upload(open_console(), "drop.csv", data)
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    goto(at, "new_batch").run()
    at = upload(at, "drop.csv", data)
    assert any("already sent" in w.value for w in at.warning)
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    assert at.button(key=keys.NB_SUBMIT).disabled
    at.checkbox(key=keys.NB_OVERRIDE_SENT).check().run()
    assert at.button(key=keys.NB_SUBMIT).disabled  # an override needs a reason (audited)
    at.text_input(key=keys.NB_OVERRIDE_REASON).input("Gameball support asked for a resend").run()
    assert not at.button(key=keys.NB_SUBMIT).disabled


def test_production_needs_the_row_count_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "Zq7xWv93KpL0mN4tRb8yHc2j")
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", "Ux5Qe1Gd6Fh0Js9Ka3Lz7Mw2")
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GAMEBALL_ALLOW_ANONYMOUS", "1")
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    assert at.button(key=keys.NB_SUBMIT).disabled
    at.text_input(key=keys.NB_CONFIRM_TEXT).input("4").run()
    assert at.button(key=keys.NB_SUBMIT).disabled
    at.text_input(key=keys.NB_CONFIRM_TEXT).input("5").run()
    assert not at.button(key=keys.NB_SUBMIT).disabled


def test_a_workbook_offers_its_sheets_and_reads_the_chosen_one() -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    notes = book.add_worksheet("Notes")
    notes.write_row(0, 0, ["just", "notes"])
    drop = book.add_worksheet("Drop")
    drop.write_row(0, 0, HEADER.split(","))
    for r, row in enumerate(GOOD, start=1):
        drop.write_row(r, 0, list(row))
    book.close()
    at = open_console()
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value(
        ("drop.xlsx", buffer.getvalue(), "application/vnd.ms-excel")).run()
    assert not at.exception
    sheet = at.selectbox(key=keys.NB_SHEET)
    assert sheet.options == ["Notes", "Drop"]
    sheet.set_value("Drop").run()
    assert not at.exception
    assert metric(at, "Valid") == "5"


def test_a_disabled_submit_says_what_is_missing() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    assert at.button(key=keys.NB_SUBMIT).disabled
    assert any("To submit: tick “I have reviewed …” above." in c.value for c in at.caption)
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    assert not at.button(key=keys.NB_SUBMIT).disabled
    assert not any("To submit:" in c.value for c in at.caption)


def test_the_batch_type_stays_and_the_submitted_notice_shows_once() -> None:
    at = upload(open_console(), "drop.csv", cashback_csv(GOOD))
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    goto(at, "new_batch").run()
    assert at.selectbox(key=keys.NB_TYPE).value == "cashback"  # not back to Customer Data
    assert any("was submitted" in s.value for s in at.success)
    goto(at, "history").run()
    goto(at, "new_batch").run()
    assert not any("was submitted" in s.value for s in at.success)  # not stale
    assert at.selectbox(key=keys.NB_TYPE).value == "cashback"
