"""The runner against the real sandbox over HTTP: every row applied exactly once, or told why.

Jobs here are built straight from API items (one source row per item) so each test controls
its chunks; tests/integration/test_cli_jobs.py covers the path from a spreadsheet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ledgers import open_test_ledger
from submission_helpers import (
    DEDUPED,
    SAFE,
    SEEDED,
    UNSAFE,
    add_job,
    applied_counts,
    inject,
    item_for,
    wait_until,
)

from gameball_batch import jobs
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer


@pytest.fixture(autouse=True)
def _customers(sandbox: SandboxServer) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)


@pytest.fixture
def factory(sandbox: SandboxServer) -> Callable[[], GameballClient]:
    def make() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    return make


@pytest.fixture
def make_runner(ledger: Ledger, factory: Callable[[], GameballClient]) -> Iterator[
        Callable[..., Runner]]:
    made: list[Runner] = []

    def make(led: Ledger | None = None, **options: Any) -> Runner:
        settings: dict[str, Any] = dict(poll_initial=0.0, poll_max=0.1, retry_initial=0.01,
                                        retry_max=0.05, tick=0.02)
        settings.update(options)
        runner = Runner(led or ledger, factory, **settings)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_every_type_is_applied_exactly_once(
    slug: str, sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(12)])
    make_runner().run_until_idle(job_id, timeout=30)
    outcome = jobs.summary(ledger, job_id)
    assert outcome.state == "finished"
    assert outcome.rows["applied"] == 12
    counts = applied_counts(sandbox, BATCH_TYPES[slug].slug)
    assert sorted(set(counts.values())) == [1]


def test_item_failures_reach_the_rows_that_caused_them(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    items = [item_for("cashback", i, customer="cus-9999" if i in (3, 7) else None)
             for i in range(10)]
    job_id = add_job(ledger, "cashback", items, per_chunk=4)
    make_runner().run_until_idle(job_id, timeout=30)
    failed = ledger.rows(job_id, statuses=("failed",))
    assert [r.row for r in failed] == [5, 9]  # items 3 and 7 sit on rows 5 and 9
    assert all("Customer Not Found" in (r.message or "") for r in failed)
    assert jobs.summary(ledger, job_id).state == "finished"


def test_each_chunk_keeps_gameballs_status_reply_as_received(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    items = [item_for("cashback", i, customer="cus-9999" if i == 2 else None) for i in range(4)]
    job_id = add_job(ledger, "cashback", items, per_chunk=2)
    make_runner().run_until_idle(job_id, timeout=30)
    remote = ledger.chunk(job_id, 1).remote_job_id  # type: ignore[union-attr]
    with GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                        rate_limit=None) as client:
        reply = json.loads(client.get_status(str(remote), "cashback").body)
    assert ledger.chunk_results(job_id, 1) == reply
    assert [f["customerId"] for f in reply["response"]["failed"]] == ["cus-9999"]


def test_a_key_sent_by_another_job_is_a_failure_not_applied(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    runner = make_runner()
    first = add_job(ledger, "cashback", [item_for("cashback", 1)])
    runner.run_until_idle(first, timeout=30)
    second = add_job(ledger, "cashback", [item_for("cashback", 1)])
    runner.run_until_idle(second, timeout=30)
    (row,) = ledger.rows(second)
    assert row.status == "failed"
    assert "already exists" in (row.message or "").lower()


def test_a_429_storm_delays_but_applies_every_row_once(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    inject(sandbox, rate_limit_next=25)
    job_id = add_job(ledger, "redemptions", [item_for("redemptions", i) for i in range(20)],
                     per_chunk=2)
    make_runner().run_until_idle(job_id, timeout=60)
    assert jobs.summary(ledger, job_id).rows["applied"] == 20
    assert set(applied_counts(sandbox, "redemptions").values()) == {1}


@pytest.mark.parametrize("slug", SAFE)
def test_a_500_before_applying_is_resent_for_safe_types(
    slug: str, sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    inject(sandbox, error_before_next=2)
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(10)])
    make_runner().run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).all_applied
    assert set(applied_counts(sandbox, slug).values()) == {1}


@pytest.mark.parametrize("fault", ["error_after_next", "drop_after_next"])
@pytest.mark.parametrize("slug", SAFE)
def test_in_doubt_chunks_of_safe_types_are_resent_without_applying_twice(
    slug: str, fault: str, sandbox: SandboxServer, ledger: Ledger,
    make_runner: Callable[..., Runner],
) -> None:
    inject(sandbox, **{fault: 1})
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(10)])
    make_runner().run_until_idle(job_id, timeout=30)
    outcome = jobs.summary(ledger, job_id)
    assert outcome.all_applied
    counts = applied_counts(sandbox, slug)
    if slug in DEDUPED:
        assert set(counts.values()) == {1}
    else:  # idempotent: the resend repeats an upsert or a read, which changes nothing
        assert len(counts) == 10


@pytest.mark.parametrize("fault", ["error_before_next", "error_after_next", "drop_after_next"])
@pytest.mark.parametrize("slug", UNSAFE)
def test_in_doubt_chunks_of_unsafe_types_wait_for_an_operator(
    slug: str, fault: str, sandbox: SandboxServer, ledger: Ledger,
    make_runner: Callable[..., Runner],
) -> None:
    inject(sandbox, **{fault: 1})
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(10)])
    runner = make_runner()
    runner.run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).state == "needs_operator"
    (doubt,) = jobs.in_doubt(ledger, job_id)
    assert doubt.decisions == ("resend", "applied", "not_applied")
    assert set(applied_counts(sandbox, slug).values()) == {1}  # nothing was sent twice
    applied_already = fault != "error_before_next"
    decision = "applied" if applied_already else "resend"
    jobs.resolve_chunk(ledger, job_id, doubt.index, decision, actor="lead",
                       reason="checked the sandbox")
    runner.run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).all_applied
    assert set(applied_counts(sandbox, slug).values()) == {1}
    assert len(applied_counts(sandbox, slug)) == 10
    assert any(e.actor == "lead" and e.detail.get("decision") == decision
               for e in ledger.audit_entries(job_id))


def test_marking_in_doubt_rows_not_applied_lets_them_be_retried(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    inject(sandbox, error_before_next=1)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(4)],
                     per_chunk=2)
    runner = make_runner(concurrency=1)
    runner.run_until_idle(job_id, timeout=30)
    (doubt,) = jobs.in_doubt(ledger, job_id)
    jobs.resolve_chunk(ledger, job_id, doubt.index, "not_applied", actor="lead",
                       reason="sandbox shows nothing")
    assert jobs.summary(ledger, job_id).state == "finished"
    child = jobs.retry_failed(ledger, job_id, "lead", reviewed=True)
    runner.run_until_idle(child, timeout=30)
    assert jobs.summary(ledger, child).all_applied
    assert [r.row for r in ledger.rows(child)] == list(doubt.rows)
    assert set(applied_counts(sandbox, "adjustments").values()) == {1}


def test_a_second_runner_never_drives_a_job_whose_lease_is_live(
    sandbox: SandboxServer, ledger: Ledger, tmp_path: Path, make_runner: Callable[..., Runner]
) -> None:
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(10)])
    assert ledger.acquire_lease(job_id, "elsewhere:1:a", 300)
    other = open_test_ledger(tmp_path)
    try:
        assert not make_runner(other).drive(job_id)
        assert applied_counts(sandbox, "cashback") == {}
    finally:
        other.close()


def test_two_running_runners_share_jobs_but_never_a_job(
    sandbox: SandboxServer, ledger: Ledger, tmp_path: Path, make_runner: Callable[..., Runner]
) -> None:
    inject(sandbox, latency=0.01)
    ids = [add_job(ledger, "cashback", [item_for("cashback", 20 * j + i) for i in range(20)],
                   per_chunk=2) for j in range(3)]
    other = open_test_ledger(tmp_path)
    try:
        first, second = make_runner(), make_runner(other)
        first.start()
        second.start()
        for job_id in ids:
            first.wait(job_id, timeout=60)
        for job_id in ids:
            owners = {c.owner for c in ledger.chunks(job_id)}
            assert len(owners) == 1
            assert jobs.summary(ledger, job_id).all_applied
        assert set(applied_counts(sandbox, "cashback").values()) == {1}
    finally:
        other.close()


def test_stop_mid_job_leaves_every_row_applied_or_not_applied(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    sandbox.state.instant = False
    sandbox.state.item_rate = 40
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(60)],
                     per_chunk=5)
    runner = make_runner(concurrency=2)
    runner.start()
    wait_until(lambda: jobs.summary(ledger, job_id).rows["applied"] >= 5)
    assert jobs.request_stop(ledger, job_id, "lead")
    final = runner.wait(job_id, timeout=30)
    assert final.state == "stopped"
    rows = ledger.rows(job_id)
    applied = {r.key for r in rows if r.status == "applied"}
    assert {r.status for r in rows} <= {"applied", "not_applied"}
    assert "not_applied" in {r.status for r in rows}
    assert applied == set(applied_counts(sandbox, "cashback"))


def test_a_stop_recorded_during_a_send_lets_no_later_chunk_leave(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    """The runner reads a job's state at most every quarter second between chunks; a stop
    recorded meanwhile is still honoured at once, by the claim's own guard."""
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(10)],
                     per_chunk=2)

    def stop_during_first_send(*_args: Any) -> None:
        jobs.request_stop(ledger, job_id, "lead")

    make_runner(concurrency=1, before_send=stop_during_first_send).run_until_idle(
        job_id, timeout=30)
    assert jobs.summary(ledger, job_id).state == "stopped"
    assert set(applied_counts(sandbox, "cashback")) == {"CB-0", "CB-1"}  # chunk 0 only
    statuses = {r.key: r.status for r in ledger.rows(job_id)}
    assert statuses == {**{f"CB-{i}": "not_applied" for i in range(2, 10)},
                        "CB-0": "applied", "CB-1": "applied"}


def test_pause_sends_nothing_more_and_resume_finishes(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(20)],
                     per_chunk=2)
    assert jobs.pause(ledger, job_id, "lead")
    runner = make_runner()
    runner.run_until_idle(job_id, timeout=30)
    assert applied_counts(sandbox, "cashback") == {}
    assert jobs.resume(ledger, job_id, "lead")
    runner.run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).all_applied


def test_a_started_runner_resumes_unfinished_jobs(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    ids = [add_job(ledger, "orders", [item_for("orders", 10 * j + i) for i in range(6)])
           for j in range(2)]
    runner = make_runner()
    runner.start()
    for job_id in ids:
        assert runner.wait(job_id, timeout=30).state == "finished"


def test_failed_rows_export_with_original_cells_and_the_error(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    items = [item_for("cashback", i, customer="cus-9999" if i == 2 else None) for i in range(4)]
    job_id = add_job(ledger, "cashback", items)
    make_runner().run_until_idle(job_id, timeout=30)
    frame = jobs.failed_rows_frame(ledger, job_id)
    assert list(frame.columns) == ["source row", "item", "error"]
    assert frame["source row"].tolist() == [4]
    assert json.loads(frame["item"].iloc[0])["transactionId"] == "CB-2"
    assert "Customer Not Found" in frame["error"].iloc[0]


def test_an_expired_lease_of_a_silent_owner_is_taken_over(
    sandbox: SandboxServer, ledger: Ledger, tmp_path: Path, make_runner: Callable[..., Runner]
) -> None:
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(6)])
    assert ledger.acquire_lease(job_id, "other-host:1:a", 30)  # a runner that went silent
    assert not make_runner().drive(job_id)
    later = open_test_ledger(tmp_path, clock=lambda: time.time() + 31)
    try:
        assert make_runner(later).drive(job_id)
        assert jobs.summary(ledger, job_id).all_applied
        takeover = [e for e in ledger.audit_entries(job_id) if e.action == "lease.acquired"]
        assert takeover[-1].detail == {"previous_owner": "other-host:1:a"}
    finally:
        later.close()


def test_a_paused_jobs_accepted_chunks_are_still_followed_after_a_restart(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    """Paused: nothing new is sent, but what Gameball accepted is recorded, even by a runner
    started after the pause (the one that sent it is gone)."""
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(4)],
                     per_chunk=2)
    first = make_runner(owner_id="gone")
    assert ledger.acquire_lease(job_id, "gone", 30)
    claimed = ledger.claim(job_id, 0, "gone")
    assert claimed is not None
    remote = first.client().create_batch("cashback", claimed[0])
    assert ledger.mark_accepted(job_id, 0, remote, owner="gone")
    assert jobs.pause(ledger, job_id, "lead")
    ledger.release_lease(job_id, "gone")  # that runner stopped
    runner = make_runner()
    runner.start()
    wait_until(lambda: ledger.chunk_counts(job_id)["done"] == 1)
    assert ledger.job_state(job_id) == "paused"
    assert ledger.chunk_counts(job_id)["pending"] == 1  # the other chunk was never sent
    assert set(applied_counts(sandbox, "cashback")) == {"CB-0", "CB-1"}
