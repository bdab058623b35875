"""Verify at Gameball against the real sandbox over HTTP (documented replies): in-doubt rows
settled by evidence, checked against the sandbox's own record of what it applied.

Faults are injected per chunk from the runner's ``before_send`` hook, right after the real
balance snapshot: the snapshot's own look-up is never the request that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ledgers import open_test_ledger
from submission_helpers import SEEDED, add_job, applied_counts, inject, item_for

from gameball_batch import approval_flow, jobs, snapshots, verification
from gameball_batch import verify as vf
from gameball_batch.approvals import ApprovalRules
from gameball_batch.batch_types import BatchType
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer

APPLIED_THEN_LOST = {0: "error_after_next", 1: "drop_after_next"}  # chunk → fault
NEVER_APPLIED = {2: "error_before_next"}


@pytest.fixture(autouse=True)
def _customers(sandbox: SandboxServer) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[GameballClient]:
    with GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key, rate_limit=None,
                        sleep=lambda _s: None) as made:
        yield made


@pytest.fixture
def make_runner(ledger: Ledger, sandbox: SandboxServer) -> Iterator[Callable[..., Runner]]:
    made: list[Runner] = []

    def factory() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    def make(faults: dict[int, str] | None = None, then: Callable[[], None] | None = None,
             **options: Any) -> Runner:
        def before_send(led: Ledger, cli: Any, job_id: str, bt: BatchType, index: int,
                        payload: bytes) -> None:
            snapshots.before_send(led, cli, job_id, bt, index, payload)
            if then is not None:
                then()
            if faults and index in faults:
                inject(sandbox, **{faults.pop(index): 1})

        settings: dict[str, Any] = dict(poll_initial=0.0, poll_max=0.1, retry_initial=0.01,
                                        retry_max=0.05, tick=0.02, before_send=before_send,
                                        concurrency=1)  # faults hit the chunk meant
        settings.update(options)
        runner = Runner(ledger, factory, **settings)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


def _balances(sandbox: SandboxServer, customers: list[str]) -> dict[str, int]:
    with sandbox.state.lock:
        return {c: sandbox.core.customers[c].points for c in customers}


def _customers_of(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["customerId"]) for i in items]


def _verdict_by_row(result: verification.Verification) -> dict[int, str]:
    return {v.row: v.verdict for v in result.verdicts}


def test_adjustments_in_doubt_are_settled_by_balances_and_nothing_applies_twice(
    sandbox: SandboxServer, ledger: Ledger, client: GameballClient,
    make_runner: Callable[..., Runner],
) -> None:
    items = [item_for("adjustments", i) | {"amount": 5 + i} for i in range(20)]
    job_id = add_job(ledger, "adjustments", items)
    make_runner({**APPLIED_THEN_LOST, **NEVER_APPLIED}).run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).state == "needs_operator"

    result = verification.gather(ledger, client, job_id)

    truth = applied_counts(sandbox, "adjustments")  # the sandbox's own ground truth
    expected = {row.row: vf.APPLIED if row.key in truth else vf.ABSENT
                for row in ledger.rows(job_id, statuses=("unknown",))}
    assert _verdict_by_row(result) == expected
    assert result.counts == {"applied": 10, "absent": 5, "unclear": 0, "not_verifiable": 0}

    accepted = verification.accept(ledger, job_id, actor="lead", reason="balances agree")
    assert (accepted.applied, accepted.not_applied) == (10, 5)
    assert jobs.summary(ledger, job_id).rows["unknown"] == 0
    retry = approval_flow.retry(ledger, job_id, "lead", rules=ApprovalRules(), confirmed=True)
    make_runner().run_until_idle(retry.job_id, timeout=30)
    assert set(applied_counts(sandbox, "adjustments").values()) == {1}
    assert len(applied_counts(sandbox, "adjustments")) == 20
    customers = _customers_of(items)
    assert _balances(sandbox, customers) == {c: 1000 + 5 + i for i, c in enumerate(customers)}


@pytest.mark.parametrize("slug", ["orders", "cashback", "redemptions"])
def test_orders_cashback_and_redemptions_in_doubt_are_settled_by_order_transactions(
    slug: str, sandbox: SandboxServer, ledger: Ledger, client: GameballClient,
    make_runner: Callable[..., Runner],
) -> None:
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(20)])
    # No automatic resend: the in-doubt chunks wait, as after the resend limit.
    runner = make_runner({**APPLIED_THEN_LOST, **NEVER_APPLIED}, resend_limit=0)
    runner.run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).rows["unknown"] == 15

    result = verification.gather(ledger, client, job_id)

    truth = applied_counts(sandbox, slug)
    expected = {row.row: vf.APPLIED if row.key in truth else vf.ABSENT
                for row in ledger.rows(job_id, statuses=("unknown",))}
    assert _verdict_by_row(result) == expected
    assert result.counts["absent"] == 5
    accepted = verification.accept(ledger, job_id, actor="lead", reason="Gameball agrees")
    assert accepted.resent_chunks == (2,)  # the wholly absent chunk is sent again
    make_runner(resend_limit=0).run_until_idle(job_id, timeout=30)
    assert jobs.summary(ledger, job_id).all_applied
    assert set(applied_counts(sandbox, slug).values()) == {1}
    assert len(applied_counts(sandbox, slug)) == 20


def test_a_customer_whose_balance_moves_during_the_job_is_unclear(
    sandbox: SandboxServer, ledger: Ledger, client: GameballClient,
    make_runner: Callable[..., Runner],
) -> None:
    items = [item_for("adjustments", i) | {"amount": 10} for i in range(5)]
    job_id = add_job(ledger, "adjustments", items)

    def elsewhere() -> None:  # another system adjusts cus-1003 between snapshot and send
        client.create_batch("adjustments", b'{"body":[{"customerId":"cus-1003","amount":3}]}')

    make_runner({0: "error_after_next"}, then=elsewhere).run_until_idle(job_id, timeout=30)

    result = verification.gather(ledger, client, job_id)

    by_customer = {v.customer: v for v in result.verdicts}
    assert by_customer["cus-1003"].verdict == vf.UNCLEAR
    assert by_customer["cus-1003"].evidence["change"] == 13
    assert {v.verdict for c, v in by_customer.items() if c != "cus-1003"} == {vf.APPLIED}


def test_an_adjustments_job_without_a_snapshot_is_unclear_not_guessed(
    sandbox: SandboxServer, ledger: Ledger, client: GameballClient,
    make_runner: Callable[..., Runner],
) -> None:
    job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(5)])
    inject(sandbox, error_after_next=1)
    make_runner(before_send=None).run_until_idle(job_id, timeout=30)
    result = verification.gather(ledger, client, job_id)
    assert result.counts["unclear"] == 5
    assert all("No snapshot" in v.note for v in result.verdicts)


def test_undo_returns_every_reversed_balance_and_is_done_once(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner],
) -> None:
    items = [item_for("adjustments", i) | {"amount": 20 + i} for i in range(15)]
    customers = _customers_of(items)
    before = _balances(sandbox, customers)
    job_id = add_job(ledger, "adjustments", items)
    make_runner({1: "error_after_next"}).run_until_idle(job_id, timeout=30)
    plan = verification.undo_plan(ledger, job_id, "wrong file")
    assert (len(plan.items), plan.left_in_doubt) == (10, 5)

    undo = verification.undo(ledger, job_id, actor="lead", reason="wrong file",
                             rules=ApprovalRules())
    make_runner().run_until_idle(undo.job_id, timeout=30)

    after = _balances(sandbox, customers)
    in_doubt = {r.key for r in ledger.rows(job_id, statuses=("unknown",))}
    assert {c: after[c] for c in customers if c not in in_doubt} == \
        {c: before[c] for c in customers if c not in in_doubt}
    assert all(r.message is None for r in ledger.rows(undo.job_id))
    stored = ledger.payload(undo.job_id, 0).decode()
    assert f"Undo of job {job_id}: wrong file" in stored
    with pytest.raises(verification.VerifyError, match="already undone"):
        verification.undo(ledger, job_id, actor="lead", reason="again", rules=ApprovalRules())
    with pytest.raises(verification.VerifyError, match="undoing an undo"):
        verification.undo(ledger, undo.job_id, actor="lead", reason="redo",
                          rules=ApprovalRules())


def test_cashback_is_undone_by_the_points_verification_reported(
    sandbox: SandboxServer, ledger: Ledger, client: GameballClient,
    make_runner: Callable[..., Runner],
) -> None:
    items = [item_for("cashback", i) | {"amount": 10.5 + i} for i in range(5)]
    customers = _customers_of(items)
    before = _balances(sandbox, customers)
    job_id = add_job(ledger, "cashback", items)
    make_runner().run_until_idle(job_id, timeout=30)
    refused = verification.undo_plan(ledger, job_id, "promo error")
    assert refused.refused is not None
    assert "points" in refused.refused
    verification.gather(ledger, client, job_id, all_rows=True)

    undo = verification.undo(ledger, job_id, actor="lead", reason="promo error",
                             rules=ApprovalRules())
    make_runner().run_until_idle(undo.job_id, timeout=30)

    assert _balances(sandbox, customers) == before


def test_a_job_sent_to_another_target_is_not_verified_here(
    sandbox: SandboxServer, tmp_path: Path, client: GameballClient,
) -> None:
    from gameball_batch.ledger import NewChunk, NewJob, NewRow, Target

    elsewhere = Target.of(sandbox=False, base_url="https://api.gameball.co", api_key="k")
    here = Target.of(sandbox=True, base_url=sandbox.url, api_key=sandbox.api_key)
    with open_test_ledger(tmp_path, "other.db") as book:
        book.create_job(NewJob(id="p", batch_type="cashback", file_name="f", fingerprint="f",
                               sheet=None, mapping={}, columns=("x",), row_count=1,
                               item_count=1, totals={}, actor="t", target=elsewhere),
                        [NewChunk(0, b'{"body":[{"customerId":"c","transactionId":"T"}]}', 1)],
                        [NewRow(2, 0, "T", ("x",))])
        with pytest.raises(verification.VerifyError, match="was sent to production"):
            verification.gather(book, client, "p", all_rows=True, target=here)
