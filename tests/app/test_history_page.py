"""The history page: the audit trail of every job and decision, filtered the way auditors ask."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from console_pages import page_app
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.ui import history_view as jv

DAY = 86_400.0
T0 = 1_790_000_000.0  # 2026-09-21, a fixed clock so the date filter is deterministic


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Iterator[Ledger]:
    with env_ledger(clock=clock) as book:
        yield book


def submit(book: Ledger, job_id: str, actor: str) -> None:
    book.create_job(
        NewJob(id=job_id, batch_type="adjustments", file_name=f"{job_id}.csv", fingerprint="f",
               sheet=None, mapping={}, columns=("Customer", "Amount"), row_count=1,
               item_count=1, totals={}, actor=actor),
        [NewChunk(0, b'{"body":[{"customerId":"cus-1001","amount":5}]}', 1)],
        [NewRow(2, 0, "cus-1001", ("cus-1001", "5"))],
    )


@pytest.fixture
def trail(ledger: Ledger, clock: Clock) -> Ledger:
    """Two jobs by two people on two days, with a stop and a resolution."""
    submit(ledger, "job-aaaa", "amira@example.com")
    ledger.audit("amira@example.com", "upload", None, {"file": "job-aaaa.csv"})
    clock.now += DAY
    submit(ledger, "job-bbbb", "omar@example.com")
    ledger.set_job_state("job-bbbb", lg.JOB_STOPPING, actor="omar@example.com")
    ledger.audit("omar@example.com", "chunk.resolved", "job-bbbb",
                 {"chunk": 0, "decision": "not_applied", "reason": "checked dashboard"})
    return ledger


def app() -> AppTest:
    return page_app("history").run()


def shown(at: AppTest) -> list[tuple[str, str, str]]:
    table = at.dataframe[0].value
    return list(zip(table["who"], table["what"], table["job_id"], strict=True))


def test_with_nothing_recorded_the_page_says_what_will_appear(ledger: Ledger) -> None:
    at = app()
    assert not at.exception
    assert any("Nothing has happened yet" in i.value for i in at.info)


def test_every_action_is_listed_newest_first_with_actor(trail: Ledger) -> None:
    at = app()
    assert not at.exception
    assert shown(at) == [
        ("omar@example.com", "in-doubt rows resolved", "job-bbbb"),
        ("omar@example.com", "stop requested", "job-bbbb"),
        ("omar@example.com", "submitted", "job-bbbb"),
        ("amira@example.com", "upload", ""),
        ("amira@example.com", "submitted", "job-aaaa"),
    ]
    table = at.dataframe[0].value
    assert "checked dashboard" in table["detail"].iloc[0]
    assert table["what"].iloc[1] == "stop requested"


def test_filter_by_job_id_prefix(trail: Ledger) -> None:
    at = app()
    at.text_input(key=jv.HI_JOB).input("job-a").run()
    assert shown(at) == [("amira@example.com", "submitted", "job-aaaa")]


def test_filter_by_action_and_actor(trail: Ledger) -> None:
    at = app()
    at.multiselect(key=jv.HI_ACTIONS).select("job.created")
    at.multiselect(key=jv.HI_ACTORS).select("omar@example.com").run()
    assert shown(at) == [("omar@example.com", "submitted", "job-bbbb")]


def test_filter_by_date(trail: Ledger) -> None:
    at = app()
    first_day = date(2026, 9, 21)
    at.date_input(key=jv.HI_DATES).set_value((first_day, first_day)).run()
    assert {actor for actor, _, _ in shown(at)} == {"amira@example.com"}
    assert any("2 of 5 entries" in c.value for c in at.caption)


def test_the_filtered_entries_can_be_exported(trail: Ledger) -> None:
    at = app()
    export = next(d for d in at.download_button if d.key == jv.HI_EXPORT)
    assert export.label == "Export these entries (CSV)"
    assert not export.proto.disabled


def test_an_unreadable_ledger_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a ledger" * 100)
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(broken))
    at = app()
    assert not at.exception
    assert any("cannot be opened" in e.value for e in at.error)


def test_runner_actors_and_details_read_as_words_not_codes(ledger: Ledger) -> None:
    ledger.audit("vm:10771:1c754ea9", "lease.acquired", None,
                 {"child_job_id": "abc", "rows": 1200, "override": True})
    ledger.audit("cli:amira", "job.stopping", None, {})
    at = app()
    table = at.dataframe[0].value
    assert list(table["who"]) == ["amira (command line)", "runner on vm (process 10771)"]
    detail = table["detail"].iloc[1]
    assert detail == "child job id: abc · rows: 1,200 · override: yes"
    assert "{" not in detail
