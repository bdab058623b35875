"""The jobs page as an operator sees it: list, live detail, errors, downloads and decisions.

Jobs are written into the real ledger the page reads (the file ``GAMEBALL_BATCH_DB``
points at) and moved through its real guarded transitions, so each test sees the states a
runner would leave behind: running, finished with failures, in doubt, stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import page_app, shown_text
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ui import jobs_view as jv
from gameball_batch.ui import state as keys

COLUMNS = ("Customer", "Amount", "Invoice")
OWNER = "test-runner"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with env_ledger() as book:
        yield book


def make_job(
    book: Ledger, job_id: str, *, rows: int = 6, per_chunk: int = 2, file_name: str = "drop.csv"
) -> str:
    """A queued cashback job: ``rows`` rows in chunks of ``per_chunk``; row n has key INV-n."""
    body = [
        {"customerId": f"cus-{1000 + r}", "transactionId": f"INV-{r}", "amount": r}
        for r in range(2, rows + 2)
    ]
    chunks = [
        NewChunk(i, json.dumps({"body": body[s : s + per_chunk]}).encode(),
                 len(body[s : s + per_chunk]))
        for i, s in enumerate(range(0, rows, per_chunk))
    ]
    new_rows = [
        NewRow(r, (r - 2) // per_chunk, f"INV-{r}", (f"cus-{1000 + r}", str(r), f"INV-{r}"))
        for r in range(2, rows + 2)
    ]
    book.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name=file_name, fingerprint="f" * 64,
               sheet=None, mapping={"customerId": "Customer"}, columns=COLUMNS, row_count=rows,
               item_count=rows, totals={"amount.total": 20.0}, actor="amira@example.com"),
        chunks, new_rows,
    )
    return job_id


def start(book: Ledger, job_id: str) -> None:
    book.acquire_lease(job_id, OWNER, 300)
    book.set_job_state(job_id, lg.JOB_RUNNING, actor=OWNER)


def finish(book: Ledger, job_id: str, index: int, failed: dict[str, str] | None = None) -> None:
    """Send, accept and close one chunk; keys in ``failed`` fail with their message."""
    failed = failed or {}
    assert book.mark_sending(job_id, index, OWNER)
    assert book.mark_accepted(job_id, index, f"remote-{index}")
    keys = book.chunk_keys(job_id, index)
    outcomes = [
        ItemOutcome(k, lg.ROW_FAILED if k in failed else lg.ROW_APPLIED, failed.get(k))
        for k in sorted(keys)
    ]
    assert book.finish_chunk(job_id, index, state=lg.CHUNK_DONE, outcomes=outcomes,
                             unlisted=None)


def in_doubt(book: Ledger, job_id: str, index: int) -> None:
    assert book.mark_sending(job_id, index, OWNER)
    assert book.mark_unknown(job_id, index, error="the connection dropped after sending")


def app(job_id: str | None = None) -> AppTest:
    at = page_app("jobs")
    if job_id:
        at.query_params["job"] = job_id
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if m.label == label)


def no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --- the list --------------------------------------------------------------------------------


def test_an_empty_ledger_points_the_operator_to_new_batch(ledger: Ledger) -> None:
    at = app()
    no_traceback(at)
    assert any("No jobs yet" in i.value for i in at.info)


def test_the_list_shows_each_job_and_opens_the_chosen_one(ledger: Ledger) -> None:
    make_job(ledger, "job-one", file_name="october.csv")
    make_job(ledger, "job-two", file_name="november.csv")
    at = app()
    no_traceback(at)
    table = at.dataframe[0].value
    assert set(table["file"]) == {"october.csv", "november.csv"}
    assert set(table["submitted by"]) == {"amira@example.com"}
    at.selectbox(key=jv.JB_OPEN).select("job-one")
    at.button(key=jv.JB_OPEN_GO).click().run()
    no_traceback(at)
    assert at.query_params["job"] == "job-one"
    assert any("october.csv" in shown_text(s.value) for s in at.subheader)


def test_a_ledger_file_that_is_not_a_ledger_gives_a_way_forward(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite file at all" * 100)
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(broken))
    at = app()
    no_traceback(at)
    assert any("GAMEBALL_BATCH_DB" in e.value for e in at.error)


# --- the detail -----------------------------------------------------------------------------


def test_a_running_job_shows_live_totals_and_its_charts(ledger: Ledger) -> None:
    make_job(ledger, "live", rows=6, per_chunk=2)
    start(ledger, "live")
    finish(ledger, "live", 0, failed={"INV-3": "customer not found"})
    at = app("live")
    no_traceback(at)
    assert metric(at, "Rows") == "6"
    assert metric(at, "Applied") == "1"
    assert metric(at, "Failed") == "1"
    assert metric(at, "Pending") == "4"
    assert "2 of 6 rows finished" in at.get("progress")[0].proto.text
    assert len(at.get("plotly_chart")) == 3  # progress, chunk grid, failures by message
    assert not at.button(key=jv.JB_STOP).disabled


def test_a_shared_link_to_an_unknown_job_says_so_without_a_traceback(ledger: Ledger) -> None:
    at = app("no-such-job")
    no_traceback(at)
    assert any("There is no job no-such-job" in shown_text(e.value) for e in at.error)


def test_the_error_table_shows_source_rows_and_original_cells(ledger: Ledger) -> None:
    make_job(ledger, "errs", rows=4, per_chunk=2)
    start(ledger, "errs")
    finish(ledger, "errs", 0, failed={"INV-2": "customer not found"})
    finish(ledger, "errs", 1, failed={"INV-5": "amount too large"})
    ledger.set_job_state("errs", lg.JOB_FINISHED)
    at = app("errs")
    no_traceback(at)
    table = at.dataframe[0].value
    assert list(table.index) == [2, 5]
    assert list(table["message"]) == ["customer not found", "amount too large"]
    assert list(table["Customer"]) == ["cus-1002", "cus-1005"]


def test_a_clean_job_has_nothing_to_download_as_failed(ledger: Ledger) -> None:
    make_job(ledger, "clean", rows=2, per_chunk=2)
    start(ledger, "clean")
    finish(ledger, "clean", 0)
    ledger.set_job_state("clean", lg.JOB_FINISHED)
    at = app("clean")
    no_traceback(at)
    buttons = {d.key: d for d in at.download_button}
    assert buttons[jv.JB_DL_FAILED_CSV].proto.disabled
    assert metric(at, "Applied") == "2"
    assert any("No failed, in-doubt or not-applied rows" in c.value for c in at.caption)


def test_a_finished_job_offers_its_failed_rows_for_download(ledger: Ledger) -> None:
    make_job(ledger, "done", rows=4, per_chunk=2)
    start(ledger, "done")
    finish(ledger, "done", 0, failed={"INV-3": "customer not found"})
    finish(ledger, "done", 1)
    ledger.set_job_state("done", lg.JOB_FINISHED)
    at = app("done")
    no_traceback(at)
    buttons = {d.key: d for d in at.download_button}
    assert buttons[jv.JB_DL_FAILED_CSV].label == "Failed rows, CSV (1)"
    assert buttons[jv.JB_DL_FAILED_XLSX].label == "Failed rows, XLSX (1)"
    assert not buttons[jv.JB_DL_FAILED_CSV].proto.disabled
    assert not buttons[jv.JB_DL_RESULTS].proto.disabled
    assert at.button(key=jv.JB_STOP).disabled


def test_retrying_failed_rows_opens_a_child_job_with_exactly_those_rows(ledger: Ledger) -> None:
    make_job(ledger, "parent", rows=4, per_chunk=2)
    start(ledger, "parent")
    finish(ledger, "parent", 0, failed={"INV-3": "customer not found"})
    finish(ledger, "parent", 1, failed={"INV-4": "customer not found"})
    ledger.set_job_state("parent", lg.JOB_FINISHED)
    at = app("parent")
    at.button(key=jv.JB_RETRY).click().run()
    no_traceback(at)
    child_id = str(at.query_params["job"])
    assert child_id != "parent"
    child = ledger.job(child_id)
    assert child is not None
    assert child.parent_job_id == "parent"
    assert [r.row for r in ledger.rows(child_id)] == [3, 4]
    assert any("Retry job" in s.value for s in at.success)


def test_stop_asks_the_runner_to_send_nothing_more(ledger: Ledger) -> None:
    make_job(ledger, "stopme")
    start(ledger, "stopme")
    at = app("stopme")
    at.button(key=jv.JB_STOP).click().run()
    no_traceback(at)
    job = ledger.job("stopme")
    assert job is not None
    assert job.state == lg.JOB_STOPPING
    assert any("Stop requested" in s.value for s in at.success)
    assert any(e.action == "job.stopping" for e in ledger.audit_entries("stopme"))


def test_pause_then_resume_puts_the_job_back_in_the_queue(ledger: Ledger) -> None:
    make_job(ledger, "pausable")
    start(ledger, "pausable")
    at = app("pausable")
    at.button(key=jv.JB_PAUSE).click().run()
    assert ledger.job("pausable").state == lg.JOB_PAUSED  # type: ignore[union-attr]
    at.button(key=jv.JB_RESUME).click().run()
    no_traceback(at)
    assert ledger.job("pausable").state == lg.JOB_QUEUED  # type: ignore[union-attr]


def test_an_in_doubt_chunk_waits_for_a_confirmed_decision_with_a_reason(ledger: Ledger) -> None:
    make_job(ledger, "doubt", rows=4, per_chunk=2)
    start(ledger, "doubt")
    finish(ledger, "doubt", 0)
    in_doubt(ledger, "doubt", 1)
    ledger.set_job_state("doubt", lg.JOB_NEEDS_OPERATOR)
    at = app("doubt")
    no_traceback(at)
    assert metric(at, "In doubt") == "2"
    assert at.button(key=jv.JB_RESOLVE_GO).disabled  # no reason, no confirmation yet
    at.radio(key=jv.JB_RESOLVE_DECISION).set_value("applied")
    at.text_input(key=jv.JB_RESOLVE_REASON).input("dashboard shows INV-4 and INV-5")
    at.checkbox(key=jv.JB_RESOLVE_CONFIRM).check()
    at.run()
    assert not at.button(key=jv.JB_RESOLVE_GO).disabled
    at.button(key=jv.JB_RESOLVE_GO).click().run()
    no_traceback(at)
    assert ledger.row_counts("doubt")[lg.ROW_APPLIED] == 4
    assert ledger.job("doubt").state == lg.JOB_FINISHED  # type: ignore[union-attr]
    resolved = [e for e in ledger.audit_entries("doubt") if e.action == "chunk.done"]
    assert resolved[-1].detail["reason"] == "dashboard shows INV-4 and INV-5"


def test_resending_an_in_doubt_chunk_puts_the_job_back_in_the_queue(ledger: Ledger) -> None:
    make_job(ledger, "resend", rows=4, per_chunk=2)
    start(ledger, "resend")
    finish(ledger, "resend", 0)
    in_doubt(ledger, "resend", 1)
    ledger.set_job_state("resend", lg.JOB_NEEDS_OPERATOR)
    at = app("resend")
    at.radio(key=jv.JB_RESOLVE_DECISION).set_value("resend")
    at.text_input(key=jv.JB_RESOLVE_REASON).input("dashboard shows nothing for INV-4, INV-5")
    at.checkbox(key=jv.JB_RESOLVE_CONFIRM).check()
    at.run()
    at.button(key=jv.JB_RESOLVE_GO).click().run()
    no_traceback(at)
    chunk = ledger.chunk("resend", 1)
    assert chunk is not None
    assert chunk.state == lg.CHUNK_PENDING
    assert ledger.job("resend").state == lg.JOB_QUEUED  # type: ignore[union-attr]
    assert any(e.action == "chunk.resend" for e in ledger.audit_entries("resend"))


def test_row_counts_are_read_once_and_refreshed_in_the_background_when_the_job_changes(
    ledger: Ledger,
) -> None:
    make_job(ledger, "cached", rows=4, per_chunk=2)
    start(ledger, "cached")
    cache = jv.ViewCache(patience=0.0)  # never wait: shows the stale-then-fresh path
    first = jv.load_snapshot(ledger, "cached", cache=cache)
    again = jv.load_snapshot(ledger, "cached", cache=cache)
    assert cache.computed == 1  # nothing changed: nothing re-read
    finish(ledger, "cached", 0, failed={"INV-2": "customer not found"})
    stale = jv.load_snapshot(ledger, "cached", cache=cache)  # returns at once, queues a refresh
    assert cache.wait_idle()
    fresh = jv.load_snapshot(ledger, "cached", cache=cache)
    assert first is not None
    assert again is not None
    assert stale is not None
    assert fresh is not None
    assert first.rows == again.rows == stale.rows
    assert fresh.rows[lg.ROW_FAILED] == 1
    assert fresh.rows[lg.ROW_APPLIED] == 1


def test_a_small_jobs_refresh_arrives_within_the_same_rerun(ledger: Ledger) -> None:
    make_job(ledger, "small", rows=4, per_chunk=2)
    start(ledger, "small")
    cache = jv.ViewCache(patience=5.0)  # generous: a 4-row count takes microseconds
    jv.load_snapshot(ledger, "small", cache=cache)
    finish(ledger, "small", 0)
    snap = jv.load_snapshot(ledger, "small", cache=cache)
    assert snap is not None
    assert snap.rows[lg.ROW_APPLIED] == 2


def test_a_settled_job_is_always_read_exactly(ledger: Ledger) -> None:
    make_job(ledger, "settled", rows=2, per_chunk=2)
    start(ledger, "settled")
    cache = jv.ViewCache()
    jv.load_snapshot(ledger, "settled", cache=cache)
    finish(ledger, "settled", 0, failed={"INV-3": "customer not found"})
    ledger.set_job_state("settled", lg.JOB_FINISHED)
    snap = jv.load_snapshot(ledger, "settled", cache=cache)
    assert snap is not None
    assert snap.rows[lg.ROW_FAILED] == 1


# --- operator experience ---------------------------------------------------------------------


def test_stop_and_abort_are_two_named_actions_and_abort_needs_a_confirmation(
    ledger: Ledger,
) -> None:
    make_job(ledger, "abortme")
    start(ledger, "abortme")
    at = app("abortme")
    assert at.button(key=jv.JB_STOP).label == "Stop sending"
    assert at.button(key=jv.JB_ABORT).label == "Abort at Gameball"
    captions = " ".join(shown_text(c.value) for c in at.caption)
    assert "nothing new is sent" in captions
    assert "in doubt" in captions
    assert at.button(key=jv.JB_ABORT).disabled  # not before the confirmation
    assert "Abort at Gameball needs the confirmation above it." in captions
    at.checkbox(key=jv.JB_ABORT_CONFIRM).check().run()
    at.button(key=jv.JB_ABORT).click().run()
    no_traceback(at)
    job = ledger.job("abortme")
    assert job is not None
    assert job.state == lg.JOB_STOPPING
    assert any("Abort requested" in s.value for s in at.success)


def test_a_disabled_retry_says_why(ledger: Ledger) -> None:
    make_job(ledger, "running-retry")
    start(ledger, "running-retry")
    finish(ledger, "running-retry", 0, failed={"INV-3": "customer not found"})
    at = app("running-retry")
    assert at.button(key=jv.JB_RETRY).disabled
    assert any("Retry once the job has settled" in c.value for c in at.caption)


def test_the_header_and_the_counts_are_drawn_together_in_the_live_part(ledger: Ledger) -> None:
    make_job(ledger, "together", rows=4, per_chunk=2)
    at = app("together")
    assert any("queued" in m.value for m in at.markdown if "submitted by" in m.value)
    start(ledger, "together")
    finish(ledger, "together", 0)
    at.run()  # what the fragment's next refresh draws
    header = next(m.value for m in at.markdown if "submitted by" in m.value)
    assert "**running**" in header
    assert metric(at, "Applied") == "2"


def test_a_short_id_in_the_link_opens_the_job(ledger: Ledger) -> None:
    make_job(ledger, "abcdef12-0000-4000-8000-000000000000", file_name="short.csv")
    at = app("abcdef12")
    no_traceback(at)
    assert any("short.csv" in shown_text(s.value) for s in at.subheader)
    assert at.query_params["job"] == "abcdef12-0000-4000-8000-000000000000"


def test_the_list_badges_a_job_that_needs_attention_and_filters_by_state(
    ledger: Ledger,
) -> None:
    make_job(ledger, "clean", rows=2, per_chunk=2, file_name="clean.csv")
    start(ledger, "clean")
    finish(ledger, "clean", 0)
    ledger.set_job_state("clean", lg.JOB_FINISHED)
    make_job(ledger, "needy", rows=2, per_chunk=2, file_name="needy.csv")
    start(ledger, "needy")
    finish(ledger, "needy", 0, failed={"INV-3": "customer not found"})
    ledger.set_job_state("needy", lg.JOB_FINISHED)
    at = app()
    no_traceback(at)
    assert any("1 job(s) need attention" in m.value for m in at.markdown)
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert any("1 failed" in b for b in badges)
    table = at.dataframe[0].value
    assert table.set_index("file").loc["needy.csv", "needs attention"] == "1 failed"
    assert table.set_index("file").loc["clean.csv", "applied"] == 2
    at.multiselect(key=keys.JB_F_STATES).select(lg.JOB_FINISHED).run()
    assert len(at.dataframe[0].value) == 2


def _adjustments_job(book: Ledger, job_id: str) -> None:
    """A finished adjustments job whose second row failed (its customer did not exist)."""
    body = [{"customerId": "cus-1001", "amount": 5}, {"customerId": "cus-9999", "amount": -3}]
    book.create_job(
        NewJob(id=job_id, batch_type="adjustments", file_name="adj.csv", fingerprint="a" * 64,
               sheet=None, mapping={}, columns=COLUMNS, row_count=2, item_count=2,
               totals={}, actor="amira@example.com"),
        [NewChunk(0, json.dumps({"body": body}).encode(), 2)],
        [NewRow(2, 0, "cus-1001", ("cus-1001", "5", "")),
         NewRow(3, 0, "cus-9999", ("cus-9999", "-3", ""))],
    )
    start(book, job_id)
    assert book.mark_sending(job_id, 0, OWNER)
    assert book.mark_accepted(job_id, 0, "remote-0")
    assert book.finish_chunk(job_id, 0, state=lg.CHUNK_DONE, applied=["cus-1001"],
                             outcomes=[ItemOutcome("cus-9999", lg.ROW_FAILED,
                                                   "Customer Not Found")], unlisted=None)
    book.set_job_state(job_id, lg.JOB_FINISHED)


def test_retrying_adjustments_is_reviewed_first_and_happens_once(ledger: Ledger) -> None:
    """Adjustments are not safe to resend: the retry shows its impact and needs a tick;
    afterwards the job says it was retried and offers no second retry."""
    _adjustments_job(ledger, "adj-parent")
    at = app("adj-parent")
    at.button(key=jv.JB_RETRY).click().run()
    no_traceback(at)
    assert ledger.retry_child("adj-parent") is None  # nothing created by the first click
    assert any("amount: adds 0.00, deducts 3.00, net -3.00" in t.value for t in at.text)
    assert at.button(key=keys.JB_RETRY_SEND).disabled
    at.checkbox(key=keys.JB_RETRY_CONFIRM).check().run()
    at.button(key=keys.JB_RETRY_SEND).click().run()
    no_traceback(at)
    child = ledger.retry_child("adj-parent")
    assert child is not None
    assert [r.key for r in ledger.rows(child.id)] == ["cus-9999"]
    again = app("adj-parent")
    assert again.button(key=jv.JB_RETRY).disabled
    assert any("Already retried as job" in c.value for c in again.caption)


def test_choosing_another_in_doubt_chunk_starts_its_form_empty(ledger: Ledger) -> None:
    """A reason and a tick given for one chunk never carry over to the next one."""
    make_job(ledger, "two-doubts", rows=4, per_chunk=2)
    start(ledger, "two-doubts")
    in_doubt(ledger, "two-doubts", 0)
    in_doubt(ledger, "two-doubts", 1)
    ledger.set_job_state("two-doubts", lg.JOB_NEEDS_OPERATOR)
    at = app("two-doubts")
    at.text_input(key=jv.JB_RESOLVE_REASON).input("checked chunk 1 in the dashboard")
    at.checkbox(key=jv.JB_RESOLVE_CONFIRM).check()
    at.run()
    options = at.selectbox(key=jv.JB_RESOLVE_CHUNK).options
    at.selectbox(key=jv.JB_RESOLVE_CHUNK).select(options[1]).run()
    no_traceback(at)
    assert at.text_input(key=jv.JB_RESOLVE_REASON).value == ""
    assert not at.checkbox(key=jv.JB_RESOLVE_CONFIRM).value
    assert at.button(key=jv.JB_RESOLVE_GO).disabled


def test_the_job_says_how_its_file_was_read(ledger: Ledger) -> None:
    """Decimal commas, date order, header row: the reading chosen at upload stays shown."""
    ledger.create_job(
        NewJob(id="read-job", batch_type="cashback", file_name="eu.csv", fingerprint="e" * 64,
               sheet=None, mapping={}, columns=COLUMNS, row_count=0, item_count=0,
               totals={"reading": "decimal commas (1.234,50 = 1234.50) · header in row 4"},
               actor="amira@example.com"),
        [], [],
    )
    at = app("read-job")
    no_traceback(at)
    assert any("Read with: decimal commas (1.234,50 = 1234.50) · header in row 4"
               in shown_text(c.value) for c in at.caption)
