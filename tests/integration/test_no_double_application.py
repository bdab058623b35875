"""Issue 11, one test per reproduction: no path applies a row twice or reports it wrongly.

Each test replays a path from the issue against the sandbox over real HTTP, answering as
Gameball documents (result items ``{customerId, message}`` only), and proves with the
sandbox's own per-key counts that nothing was applied twice. It also checks what the
operator sees: the rows' statuses and messages, the audit log, the exports and the guards.

Files go through the real intake (read, map, validate, plan, guards, ``approval_flow``)
wherever the guards matter, because the guards read the business keys stored there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ledgers import open_test_ledger
from submission_helpers import SEEDED, add_job, applied_counts, inject, item_for, wait_until

from gameball_batch import approval_flow, guards, jobs
from gameball_batch import ledger as lg
from gameball_batch import runner as runner_mod
from gameball_batch.approvals import ApprovalRules
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import GameballClient
from gameball_batch.exports import to_csv_bytes
from gameball_batch.impact import assess
from gameball_batch.ingest import read_table
from gameball_batch.ledger import Ledger
from gameball_batch.mapping import apply_mapping, mapping_problems, suggest_mapping
from gameball_batch.payloads import plan_chunks
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer
from gameball_batch.sandbox import faults as sandbox_faults
from gameball_batch.validate import validate

PAST = "2026-01-02T03:04:05Z"
RULES = ApprovalRules()  # no thresholds: a reviewed retry is queued, not held for approval
PRODUCTION = lg.Target.of(sandbox=False, base_url="https://api.gameball.co",
                          api_key="a-production-key-that-is-never-used")


@pytest.fixture(autouse=True)
def _customers(sandbox: SandboxServer) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)


@pytest.fixture
def here(sandbox: SandboxServer) -> lg.Target:
    """The sandbox as a target, as the console and the CLI record it."""
    return lg.Target.of(sandbox=True, base_url=sandbox.url, api_key=sandbox.api_key)


@pytest.fixture
def make_runner(ledger: Ledger, sandbox: SandboxServer, here: lg.Target) -> Iterator[
        Callable[..., Runner]]:
    made: list[Runner] = []

    def factory() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    def make(led: Ledger | None = None, **options: Any) -> Runner:
        settings: dict[str, Any] = dict(poll_initial=0.0, poll_max=0.1, retry_initial=0.01,
                                        retry_max=0.05, tick=0.02, target=here)
        settings.update(options)
        runner = Runner(led or ledger, factory, **settings)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


# --- the intake, as the console and the CLI run it ------------------------------------------


@dataclass
class Intake:
    """A file read, mapped, validated, planned and checked by the duplicate guards."""

    name: str
    table: Any
    mapping: dict[str, str]
    result: Any
    keys: pd.Series
    report: guards.DuplicateReport


def intake(ledger: Ledger, data: str | bytes, slug: str, *, target: lg.Target,
           name: str = "file.csv") -> Intake:
    bt = BATCH_TYPES[slug]
    table = read_table(data.encode() if isinstance(data, str) else data, name)
    headers = [str(c) for c in table.frame.columns]
    mapping = dict(suggest_mapping(bt, headers).mapping)
    assert not mapping_problems(bt, mapping, headers)
    result = validate(bt, apply_mapping(table.frame, mapping), columns=mapping,
                      id_seed=table.fingerprint)
    assert not len(result.issues), result.issues
    keys = guards.business_keys(result, mapping)
    report = guards.check(ledger, batch_type=bt, fingerprint=table.fingerprint, keys=keys,
                          key_fields=guards.key_fields_for(bt, mapping), target=target,
                          ids=guards.file_ids(result))
    return Intake(name, table, mapping, result, keys, report)


def submit(ledger: Ledger, got: Intake, *, target: lg.Target,
           override: str | None = None) -> str:
    """Create the job the way the console does (guards enforced, approval rules applied)."""
    submission = approval_flow.submit(
        ledger, plan_chunks(got.result), impact=assess(got.result), frame=got.table.frame,
        file_name=got.name, fingerprint=got.table.fingerprint, mapping=got.mapping,
        actor="operator", rules=RULES, duplicates=got.report, keys=got.keys,
        override_reason=override, target=target)
    assert submission.state == lg.JOB_QUEUED
    return submission.job_id


def adjustments_per_customer(sandbox: SandboxServer) -> Counter[str]:
    """Applied adjustment transactions per customer, as the sandbox booked them."""
    with sandbox.state.lock:
        return Counter(t.customer_id for t in sandbox.core.transactions["manual"].values())


def chunk_of(ledger: Ledger, job_id: str, index: int = 0) -> lg.Chunk:
    chunk = ledger.chunk(job_id, index)
    assert chunk is not None
    return chunk


def job_of(ledger: Ledger, job_id: str) -> lg.Job:
    job = ledger.job(job_id)
    assert job is not None
    return job


def pause_processing(sandbox: SandboxServer) -> None:
    """Jobs stay queued at the sandbox: a remote job that never settles."""
    sandbox.state.instant = False
    sandbox.state.item_rate = 0


# --- 1 and 2: retry once, and retries seen by the duplicate guard ---------------------------

NEW_CUSTOMERS = [f"new-{n}" for n in range(1, 11)]
ADJUSTMENTS = "customerId,amount,reason\n" + "".join(
    f"{c},5,goodwill\n" for c in NEW_CUSTOMERS)


def failed_adjustments_for_new_customers(
    sandbox: SandboxServer, ledger: Ledger, runner: Runner, here: lg.Target
) -> str:
    """The issue's start: adjustments for 10 customers that do not exist yet all fail;
    then the operator creates the customers."""
    parent = submit(ledger, intake(ledger, ADJUSTMENTS, "adjustments", target=here,
                                   name="goodwill.csv"), target=here)
    runner.run_until_idle(parent, timeout=30)
    assert jobs.summary(ledger, parent).rows["failed"] == 10
    assert adjustments_per_customer(sandbox) == Counter()
    customers = add_job(ledger, "customers", [
        {"customerId": c, "customerAttributes": {"displayName": c}} for c in NEW_CUSTOMERS])
    runner.run_until_idle(customers, timeout=30)
    assert jobs.summary(ledger, customers).all_applied
    return parent


def test_retrying_twice_makes_one_child_and_the_second_call_names_it(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    runner = make_runner()
    parent = failed_adjustments_for_new_customers(sandbox, ledger, runner, here)
    with pytest.raises(jobs.NeedsReview):  # adjustments are never a one-click retry
        approval_flow.retry(ledger, parent, "ops-1", rules=RULES, target=here)
    child = approval_flow.retry(ledger, parent, "ops-1", rules=RULES, target=here,
                                confirmed=True).job_id
    with pytest.raises(jobs.RetryExists) as again:
        approval_flow.retry(ledger, parent, "ops-2", rules=RULES, target=here, confirmed=True)
    assert again.value.child_id == child
    assert child[:8] in str(again.value)
    with pytest.raises(jobs.RetryExists):  # the CLI's path (reviewed) agrees
        jobs.retry_failed(ledger, parent, "ops-3", target=here, reviewed=True)
    assert [j.id for j in ledger.jobs() if j.retry_of == parent] == [child]
    assert jobs.summary(ledger, parent).retry_child == child

    runner.run_until_idle(child, timeout=30)
    assert jobs.summary(ledger, child).rows["applied"] == 10
    assert adjustments_per_customer(sandbox) == Counter({c: 1 for c in NEW_CUSTOMERS})
    assert applied_counts(sandbox, "adjustments") == {c: 1 for c in NEW_CUSTOMERS}


def test_two_concurrent_retries_make_one_child(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
    here: lg.Target, tmp_path: Path,
) -> None:
    runner = make_runner()
    parent = failed_adjustments_for_new_customers(sandbox, ledger, runner, here)
    # Two operators, each with their own connection to the ledger, press "Retry" at once.
    start = threading.Barrier(2)
    children: list[str] = []
    refusals: list[jobs.RetryExists] = []

    def press(actor: str) -> None:
        with open_test_ledger(tmp_path) as own:
            start.wait()
            try:
                children.append(approval_flow.retry(own, parent, actor, rules=RULES,
                                                    target=here, confirmed=True).job_id)
            except jobs.RetryExists as exc:
                refusals.append(exc)

    threads = [threading.Thread(target=press, args=(f"ops-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(children) == 1
    assert [r.child_id for r in refusals] == children
    assert [j.id for j in ledger.jobs() if j.retry_of == parent] == children

    runner.run_until_idle(children[0], timeout=30)
    assert adjustments_per_customer(sandbox) == Counter({c: 1 for c in NEW_CUSTOMERS})


def test_a_retry_over_an_approval_threshold_waits_for_a_second_person(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    runner = make_runner()
    parent = failed_adjustments_for_new_customers(sandbox, ledger, runner, here)
    strict = ApprovalRules(total_amount_over=10)  # the retry moves 10 × 5
    held = approval_flow.retry(ledger, parent, "ops", rules=strict, target=here,
                               confirmed=True)
    assert held.awaiting_approval
    assert held.approval_reasons
    assert runner.scan() == []  # the runner never drives a job awaiting approval
    with pytest.raises(approval_flow.ApprovalRefused):
        approval_flow.approve(ledger, held.job_id, "ops")  # not one's own
    approval_flow.approve(ledger, held.job_id, "lead")
    runner.run_until_idle(held.job_id, timeout=30)
    assert adjustments_per_customer(sandbox) == Counter({c: 1 for c in NEW_CUSTOMERS})


def test_a_reupload_of_the_failed_rows_export_after_a_retry_is_blocked_naming_the_retry(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    runner = make_runner()
    parent = failed_adjustments_for_new_customers(sandbox, ledger, runner, here)
    child = approval_flow.retry(ledger, parent, "ops", rules=RULES, target=here,
                                confirmed=True).job_id
    runner.run_until_idle(child, timeout=30)
    assert jobs.summary(ledger, child).rows["applied"] == 10

    export = jobs.failed_rows_frame(ledger, parent)  # the parent's rows are still "failed"
    assert len(export) == 10
    again = intake(ledger, to_csv_bytes(export), "adjustments", target=here,
                   name="goodwill-failed-rows.csv")
    assert again.report.blocked
    assert {m.job_id for m in again.report.row_matches} == {child}
    assert sorted(m.earlier_row for m in again.report.row_matches) == sorted(
        r.row for r in ledger.rows(child, statuses=(lg.ROW_APPLIED,)))
    assert any(child in line for line in again.report.lines())
    with pytest.raises(guards.DuplicatesBlocked):
        submit(ledger, again, target=here)
    assert adjustments_per_customer(sandbox) == Counter({c: 1 for c in NEW_CUSTOMERS})


# --- 3: "already exists" means only what it says --------------------------------------------


def test_9003_transaction_time_already_exists_is_never_counted_applied(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox.core, "config",
                        replace(sandbox.core.config, check_time_clash=True))
    runner = make_runner(concurrency=1)
    earlier = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(4)])
    runner.run_until_idle(earlier, timeout=30)
    # Same customers, same transaction times, new transaction ids: Gameball answers 9003.
    # Chunk 0's first send fails before applying, so its resend is a resend.
    inject(sandbox, error_before_next=1)
    clashing = [item_for("cashback", 10 + i, customer=f"cus-{1001 + i}") for i in range(4)]
    job_id = add_job(ledger, "cashback", clashing, per_chunk=2)
    runner.run_until_idle(job_id, timeout=30)

    rows = ledger.rows(job_id)
    assert chunk_of(ledger, job_id, 0).attempts == 2
    assert all("Transaction Time Already Exists" in (r.message or "") for r in rows)
    assert lg.ROW_APPLIED not in {r.status for r in rows}
    assert {r.status for r in rows if r.chunk_idx == 1} == {lg.ROW_FAILED}
    assert jobs.summary(ledger, job_id).rows[lg.ROW_APPLIED] == 0
    counts = applied_counts(sandbox, "cashback")
    assert counts == {f"CB-{i}": 1 for i in range(4)}  # only the earlier job's


ONE_INVOICE = f"customerId,transactionId,transactionTime,amount\ncus-1001,INV-7,{PAST},10\n"
SAME_ID_NEW_AMOUNT = ("customerId,transactionId,transactionTime,amount\n"
                      f"cus-1002,INV-7,{PAST},99\ncus-1003,INV-8,{PAST},20\n")


def test_a_reused_transaction_id_is_blocked_and_a_9004_on_a_resend_names_the_other_job(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    runner = make_runner()
    first = submit(ledger, intake(ledger, ONE_INVOICE, "cashback", target=here), target=here)
    runner.run_until_idle(first, timeout=30)
    assert jobs.summary(ledger, first).all_applied

    second = intake(ledger, SAME_ID_NEW_AMOUNT, "cashback", target=here, name="second.csv")
    assert [(m.row, m.id, m.job_id, m.earlier_row) for m in second.report.id_matches] == [
        (2, "INV-7", first, 2)]
    assert any(first in line and "INV-7" in line for line in second.report.lines())
    with pytest.raises(guards.DuplicatesBlocked):
        submit(ledger, second, target=here)
    with sandbox.state.lock:  # nothing was sent
        assert sandbox.core.counts("cashback", submitted=True) == {"INV-7": 1}

    # Sent anyway, with an audited override; the first send of its chunk ends in doubt,
    # so Gameball's 9004 for INV-7 comes on a resend.
    job_id = submit(ledger, second, target=here, override="finance asked for it")
    assert any(e.action == guards.OVERRIDE_ACTION for e in ledger.audit_entries(job_id))
    inject(sandbox, error_before_next=1)
    runner.run_until_idle(job_id, timeout=30)
    by_key = {r.key: r for r in ledger.rows(job_id)}
    assert by_key["INV-8"].status == lg.ROW_APPLIED
    reused = by_key["INV-7"]
    assert reused.status == lg.ROW_UNKNOWN
    assert first[:8] in (reused.message or "")
    with sandbox.state.lock:
        assert dict(sandbox.core.counts("cashback")) == {"INV-7": 1, "INV-8": 1}
        assert sandbox.core.transactions["cashback"]["INV-7"].amount == 10  # the first one


# --- 4: in doubt, then stopped ---------------------------------------------------------------


def test_a_chunk_in_doubt_then_stopped_is_never_offered_as_not_sent(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    items = [item_for("cashback", i, customer="cus-9999" if i == 3 else None)
             for i in range(4)]
    job_id = add_job(ledger, "cashback", items, per_chunk=2)
    inject(sandbox, error_after_next=1)  # chunk 0 is applied, its answer is a 500
    # A long back-off keeps chunk 0 queued for its automatic resend while the job stops.
    runner = make_runner(concurrency=1, retry_initial=60.0, retry_max=60.0)
    runner.start()

    def queued_for_resend() -> bool:
        chunk0, chunk1 = ledger.chunks(job_id)
        return (chunk0.state == lg.CHUNK_PENDING and chunk0.doubts == 1
                and chunk1.state == lg.CHUNK_DONE)

    wait_until(queued_for_resend)
    assert jobs.request_stop(ledger, job_id, "lead")
    assert runner.wait(job_id, timeout=30).state == lg.JOB_STOPPED

    doubted = ledger.rows(job_id, chunk_idx=0)
    assert {r.status for r in doubted} == {lg.ROW_UNKNOWN}
    assert all(r.doubted for r in doubted)
    assert [d.index for d in jobs.in_doubt(ledger, job_id)] == [0]
    export = jobs.failed_rows_frame(ledger, job_id)
    assert export["source row"].tolist() == [5]  # only cus-9999's row, never chunk 0's
    child = jobs.retry_failed(ledger, job_id, "lead", target=here)
    assert [r.row for r in ledger.rows(child)] == [5]
    runner.wait(child, timeout=30)
    assert applied_counts(sandbox, "cashback") == {"CB-0": 1, "CB-1": 1, "CB-2": 1}


# --- 5: everything ends ----------------------------------------------------------------------


def test_a_remote_job_that_never_settles_ends_in_doubt_with_its_last_status(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    pause_processing(sandbox)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    make_runner(max_age=0.3).run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).state == lg.JOB_NEEDS_OPERATOR
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_UNKNOWN
    assert "last status: 'queued'" in (chunk.last_error or "")
    assert ledger.chunk_results(job_id, 0)["status"] == "queued"
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_UNKNOWN}
    assert applied_counts(sandbox, "adjustments") == {}


def test_an_unknown_status_word_ends_in_doubt_with_the_word_kept(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A spelling no documentation mentions, for every state the sandbox can be in.
    monkeypatch.setitem(sandbox_faults.STATUS_SPELLINGS, "cancelled", dict.fromkeys(
        ("queued", "running", "completed", "failed", "stopped"), "Cancelled"))
    inject(sandbox, status_spelling="cancelled")
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    make_runner(max_age=0.3).run_until_idle(job_id, timeout=30)
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_UNKNOWN
    assert "'Cancelled'" in (chunk.last_error or "")
    assert ledger.chunk_results(job_id, 0)["status"] == "Cancelled"
    # Gameball applied them; we cannot tell, so they wait for an operator, never "not sent".
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_UNKNOWN}
    assert set(applied_counts(sandbox, "adjustments").values()) == {1}


def test_status_reads_that_keep_answering_401_end_in_doubt(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pause_processing(sandbox)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    runner = make_runner(max_refusals=2)
    runner.start()
    wait_until(lambda: chunk_of(ledger, job_id).state == lg.CHUNK_ACCEPTED)
    monkeypatch.setattr(sandbox.state, "api_key", "a-rotated-key")  # every read: 401
    assert runner.wait(job_id, timeout=30).state == lg.JOB_NEEDS_OPERATOR
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_UNKNOWN
    assert "refused 3 status reads" in (chunk.last_error or "")
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_UNKNOWN}


def test_a_refused_remote_stop_is_retried_audited_and_shown(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pause_processing(sandbox)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    first = make_runner()
    first.start()
    wait_until(lambda: chunk_of(ledger, job_id).state == lg.CHUNK_ACCEPTED)
    first.stop()  # the chunk stays accepted, its remote job id recorded
    remote = chunk_of(ledger, job_id).remote_job_id
    monkeypatch.setattr(sandbox.state, "api_key", "a-rotated-key")  # stops and reads: 401
    assert jobs.request_stop(ledger, job_id, "lead", abort=True)

    final = make_runner(max_refusals=5).run_until_idle(job_id, timeout=30)
    refused = ledger.audit_entries(job_id, action="job.abort_refused")
    assert len(refused) >= 2  # retried
    assert {e.detail["remote_job_id"] for e in refused} == {remote}
    assert [e.detail["attempt"] for e in refused] == list(range(1, len(refused) + 1))
    assert final.state == lg.JOB_STOPPED
    assert "did not accept the stop" in (final.error or "")
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_UNKNOWN}


@pytest.mark.timeout(30)
def test_run_until_idle_honours_its_timeout_inside_the_drive(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    pause_processing(sandbox)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    with pytest.raises(TimeoutError):
        make_runner().run_until_idle(job_id, timeout=2)
    assert job_of(ledger, job_id).lease_owner is None  # left resumable for the next runner
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_ACCEPTED
    assert chunk.remote_job_id


# --- 6: stale owners -------------------------------------------------------------------------


def later_ledger(tmp_path: Path) -> Ledger:
    """The same ledger seen from a clock past every lease of this test's first runner."""
    return open_test_ledger(tmp_path, clock=lambda: time.time() + 31)


def test_a_stale_runners_late_accept_is_refused_and_audited_with_gameballs_job_id(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    inject(sandbox, latency=1.0)  # the stale runner's POST is slow to answer
    stale = make_runner()
    sending = threading.Thread(target=stale.drive, args=(job_id,))
    sending.start()
    wait_until(lambda: chunk_of(ledger, job_id).state == lg.CHUNK_SENDING)
    with later_ledger(tmp_path) as later:
        assert make_runner(later).drive(job_id)  # takes the lease over
    sending.join(30)

    with sandbox.state.lock:
        (remote,) = [str(j) for j in sandbox.core.jobs]
    refused = ledger.audit_entries(job_id, action="chunk.refused")
    assert [(e.actor, e.detail["remote_job_id"]) for e in refused] == [(stale.owner_id, remote)]
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_UNKNOWN  # the new owner's verdict
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_UNKNOWN}
    assert set(applied_counts(sandbox, "adjustments").values()) == {1}


def test_a_stale_runner_never_settles_the_job_it_lost(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(3)])
    inject(sandbox, latency=1.0)  # the stale runner's POST is slow to answer
    stale = make_runner()
    sending = threading.Thread(target=stale.drive, args=(job_id,))
    sending.start()
    wait_until(lambda: chunk_of(ledger, job_id).state == lg.CHUNK_SENDING)
    with later_ledger(tmp_path) as later:
        # A new owner takes the lease and closes the chunk its predecessor was sending, as
        # a runner's drive begins; the stale runner's answer arrives before it goes on.
        assert later.acquire_lease(job_id, "new-owner", 30)
        assert later.recover_sending(job_id, "new-owner") == [0]
        sending.join(30)
        assert job_of(ledger, job_id).state == lg.JOB_RUNNING  # still the new owner's
        inject(sandbox, latency=0.0)
        assert make_runner(later, owner_id="new-owner").drive(job_id)
    # Cashback is safe to resend: the new owner resent it, and Gameball's 9004 says the
    # stale runner's send applied it. Every row applied, once.
    assert jobs.summary(ledger, job_id).all_applied
    assert set(applied_counts(sandbox, "cashback").values()) == {1}


def test_a_stale_runners_late_finish_is_refused_and_audited(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    pause_processing(sandbox)
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(3)])
    stale = make_runner()
    following = threading.Thread(target=stale.drive, args=(job_id,))
    following.start()
    wait_until(lambda: chunk_of(ledger, job_id).state == lg.CHUNK_ACCEPTED)
    remote = chunk_of(ledger, job_id).remote_job_id
    with later_ledger(tmp_path) as later:
        owner = make_runner(later)
        taking_over = threading.Thread(target=owner.drive, args=(job_id,))
        taking_over.start()
        wait_until(lambda: job_of(ledger, job_id).lease_owner == owner.owner_id)
        sandbox.state.item_rate = 1000  # Gameball finishes the job; both runners see it
        following.join(30)
        taking_over.join(30)

    refused = ledger.audit_entries(job_id, action="chunk.refused")
    assert [(e.actor, e.detail["remote_job_id"]) for e in refused] == [(stale.owner_id, remote)]
    chunk = chunk_of(ledger, job_id)
    assert chunk.state == lg.CHUNK_DONE
    assert {r.status for r in ledger.rows(job_id)} == {lg.ROW_APPLIED}
    assert set(applied_counts(sandbox, "adjustments").values()) == {1}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_pid_of_another_pid_namespace_on_the_same_host_keeps_its_lease(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    host, _pid, _random, namespace = runner_mod.new_owner_id().split(":")
    pid = dead_pid()
    assert runner_mod.owner_is_dead(f"{host}:{pid}:deadbeef:{namespace}")  # here: dead
    other = f"{host}:{pid}:deadbeef:4026531836-0ther0ne"  # another container, same hostname
    assert not runner_mod.owner_is_dead(other)
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(3)])
    assert ledger.acquire_lease(job_id, other, 300)
    assert not make_runner().drive(job_id)
    assert applied_counts(sandbox, "cashback") == {}


# --- 7: wrong target -------------------------------------------------------------------------

TWO_INVOICES = ("customerId,transactionId,transactionTime,amount\n"
                f"cus-1001,INV-1,{PAST},10\ncus-9999,INV-2,{PAST},20\n")


def test_a_sandbox_job_is_never_driven_guarded_or_retried_as_production(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner], here: lg.Target
) -> None:
    job_id = submit(ledger, intake(ledger, TWO_INVOICES, "cashback", target=here), target=here)
    # Its client would reach the sandbox: only the recorded target keeps it away.
    production = make_runner(target=PRODUCTION)
    with pytest.raises(lg.WrongTarget) as refused:
        production.drive(job_id)
    assert "was sent to sandbox" in str(refused.value)
    with pytest.raises(lg.WrongTarget):
        production.run_until_idle(job_id, timeout=5)
    assert production.scan() == []
    assert applied_counts(sandbox, "cashback") == {}

    make_runner().run_until_idle(job_id, timeout=30)
    rows = jobs.summary(ledger, job_id).rows
    assert (rows[lg.ROW_APPLIED], rows[lg.ROW_FAILED]) == (1, 1)
    assert intake(ledger, TWO_INVOICES, "cashback", target=here).report.blocked
    elsewhere = intake(ledger, TWO_INVOICES, "cashback", target=PRODUCTION).report
    assert not elsewhere.blocked
    with pytest.raises(jobs.JobError, match="sandbox"):
        jobs.retry_failed(ledger, job_id, "lead", target=PRODUCTION)
    assert ledger.retry_child(job_id) is None
    assert applied_counts(sandbox, "cashback") == {"INV-1": 1}


def test_a_production_job_is_never_driven_by_a_sandbox_runner(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    got = intake(ledger, TWO_INVOICES, "cashback", target=PRODUCTION)
    job_id = submit(ledger, got, target=PRODUCTION)
    sandboxed = make_runner()
    with pytest.raises(lg.WrongTarget) as refused:
        sandboxed.drive(job_id)
    assert PRODUCTION.label in str(refused.value)
    assert sandboxed.scan() == []
    assert applied_counts(sandbox, "cashback") == {}
