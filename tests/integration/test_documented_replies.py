"""Every row ends right when Gameball answers only what its docs show (issue "Gameball as
documented").

The sandbox answers in its default, documented mode: result items carry only
``customerId`` plus ``message`` or ``error``, and a stopped job answers zeros and
``response: null``. Files go through the real pipeline (validate, plan, store, run), so the
planner's customer-once chunks are what make each reply name exactly one row; the sandbox's
own per-key counts are the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from submission_helpers import applied_counts, inject, wait_until

from gameball_batch import jobs
from gameball_batch import ledger as lg
from gameball_batch.batch_types import get
from gameball_batch.client import GameballClient, Paths
from gameball_batch.ledger import Ledger
from gameball_batch.payloads import plan_chunks
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAST = "2026-11-20T10:00:00Z"


@pytest.fixture
def make_runner(sandbox: SandboxServer, ledger: Ledger) -> Iterator[Callable[..., Runner]]:
    made: list[Runner] = []

    def make(paths: Paths | None = None, **options: Any) -> Runner:
        def client() -> GameballClient:
            return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                                  rate_limit=None, sleep=lambda _s: None, paths=paths)

        settings: dict[str, Any] = dict(poll_initial=0.0, poll_max=0.05, retry_initial=0.01,
                                        retry_max=0.05, tick=0.02)
        settings.update(options)
        runner = Runner(ledger, client, **settings)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


def _frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def _store(ledger: Ledger, slug: str, data: pd.DataFrame) -> str:
    result = validate(get(slug), data, now=NOW, id_seed="seed")
    assert result.invalid_count == 0, result.issues.head().to_string()
    plan = plan_chunks(result)
    return jobs.create_job(ledger, plan, frame=data, file_name=f"{slug}.csv",
                           fingerprint=f"fp-{slug}-{len(data)}", mapping={}, actor="test")


def _statuses(ledger: Ledger, job_id: str, key_column: str, data: pd.DataFrame
              ) -> dict[str, str]:
    """Each row's status in the ledger, by the row's own key (transaction or order id)."""
    return {str(data.at[r.row, key_column]): r.status for r in ledger.rows(job_id)}


def test_redemptions_of_customers_with_several_rows_end_exactly_as_gameball_applied_them(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    """500 customers with four rows each and points for two, and 100 rows for customers who
    do not exist: Gameball applies 1,000 and fails 1,100, and so must we say, row by row."""
    with sandbox.state.lock:
        sandbox.core.seed(505, points=100)  # every redemption below costs 40 points
    # cus-1001 … cus-1005 come seeded with more points: use the 500 after them.
    customers = [f"cus-{1006 + i % 500}" for i in range(2_000)]
    customers += [f"ghost-{i}" for i in range(100)]
    data = _frame({"customerId": customers,
                   "transactionId": [f"RD-{i}" for i in range(len(customers))],
                   "transactionTime": [PAST] * len(customers),
                   "points": ["40"] * len(customers)})
    job_id = _store(ledger, "redemptions", data)
    assert ledger.job(job_id).chunk_count == 4  # type: ignore[union-attr]  # customer once
    make_runner(concurrency=2).run_until_idle(job_id, timeout=60)

    applied_at_gameball = applied_counts(sandbox, "redemptions")
    assert set(applied_at_gameball.values()) == {1}
    assert len(applied_at_gameball) == 1_000
    ours = _statuses(ledger, job_id, "transactionId", data)
    assert {k for k, s in ours.items() if s == lg.ROW_APPLIED} == set(applied_at_gameball)
    counts = jobs.summary(ledger, job_id).rows
    assert (counts[lg.ROW_APPLIED], counts[lg.ROW_FAILED], counts[lg.ROW_UNKNOWN]) == (
        1_000, 1_100, 0)
    failed = ledger.rows(job_id, statuses=(lg.ROW_FAILED,))
    assert {r.message for r in failed} == {"Insufficient Balance Points", "Customer Not Found"}
    export = jobs.failed_rows_frame(ledger, job_id)
    assert sorted(export["source row"]) == sorted(r.row for r in failed)


@pytest.mark.parametrize("paths", [Paths.gitbook(), Paths.openapi()],
                         ids=["status shape 1", "status shape 2"])
@pytest.mark.parametrize("message_key", ["message", "error", "mixed"])
@pytest.mark.parametrize("slug", ["cashback", "orders"])
def test_repeated_customers_map_back_by_customer_in_every_documented_shape(
    slug: str, message_key: str, paths: Paths, sandbox: SandboxServer, ledger: Ledger,
    make_runner: Callable[..., Runner],
) -> None:
    """Every row of a customer with several orders or cashback rows gets its own outcome,
    whether failures come as ``message`` or ``error`` and whatever the status shape."""
    inject(sandbox, message_key=message_key)
    customers = [f"cus-{1001 + i % 3}" for i in range(12)] + ["ghost-1", "ghost-2"]
    n = len(customers)
    if slug == "cashback":
        data = _frame({"customerId": customers, "transactionId": [f"CB-{i}" for i in range(n)],
                       "transactionTime": [PAST] * n, "amount": ["10"] * n})
        key = "transactionId"
        ghosts_fail = True
    else:
        data = _frame({"customerId": customers, "orderId": [f"SO-{i}" for i in range(n)],
                       "orderDate": [PAST] * n, "totalPaid": ["10"] * n})
        key = "orderId"
        ghosts_fail = False  # orders create a customer Gameball does not know (§3.2)
    job_id = _store(ledger, slug, data)
    make_runner(paths=paths).run_until_idle(job_id, timeout=60)

    ours = _statuses(ledger, job_id, key, data)
    at_gameball = applied_counts(sandbox, slug)
    assert set(at_gameball.values()) == {1}
    assert {k for k, s in ours.items() if s == lg.ROW_APPLIED} == set(at_gameball)
    expected_failed = {f"CB-{i}" for i in (12, 13)} if ghosts_fail else set()
    assert {k for k, s in ours.items() if s == lg.ROW_FAILED} == expected_failed
    assert lg.ROW_UNKNOWN not in ours.values()
    if ghosts_fail:
        messages = {r.message for r in ledger.rows(job_id, statuses=(lg.ROW_FAILED,))}
        assert messages == {"Customer Not Found"}


def _slow_job(sandbox: SandboxServer, ledger: Ledger, slug: str,
              rows: int) -> tuple[str, pd.DataFrame]:
    with sandbox.state.lock:
        sandbox.core.seed(rows, points=1000)
    sandbox.state.instant = False
    sandbox.state.item_rate = 150  # a few seconds of work: time to stop in the middle
    customers = [f"cus-{1001 + i}" for i in range(rows)]
    if slug == "adjustments":
        data = _frame({"customerId": customers, "amount": ["5"] * rows})
    else:
        data = _frame({"customerId": customers,
                       "transactionId": [f"CB-{i}" for i in range(rows)],
                       "transactionTime": [PAST] * rows, "amount": ["10"] * rows})
    job_id = ledger.job(_store(ledger, slug, data)).id  # type: ignore[union-attr]
    return job_id, data


def test_stop_sending_mid_job_leaves_no_row_in_doubt(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    job_id, _data = _slow_job(sandbox, ledger, "cashback", 1_200)
    runner = make_runner(concurrency=1)
    runner.start()
    wait_until(lambda: ledger.chunk_counts(job_id)[lg.CHUNK_ACCEPTED] >= 1, timeout=30)
    assert jobs.request_stop(ledger, job_id, "amira")  # stop sending: the default
    wait_until(lambda: jobs.summary(ledger, job_id).settled, timeout=60)

    summary = jobs.summary(ledger, job_id)
    assert summary.state == lg.JOB_STOPPED
    assert summary.rows[lg.ROW_UNKNOWN] == 0
    at_gameball = applied_counts(sandbox, "cashback")
    assert set(at_gameball.values()) <= {1}
    assert summary.rows[lg.ROW_APPLIED] == len(at_gameball)
    not_sent = ledger.rows(job_id, statuses=(lg.ROW_NOT_APPLIED,))
    assert summary.rows[lg.ROW_APPLIED] + len(not_sent) == 1_200
    assert all("stopped" in (r.message or "") for r in not_sent)


def test_an_abort_followed_by_a_retry_of_the_failed_rows_applies_nothing_twice(
    sandbox: SandboxServer, ledger: Ledger, make_runner: Callable[..., Runner]
) -> None:
    job_id, _data = _slow_job(sandbox, ledger, "adjustments", 1_500)
    runner = make_runner(concurrency=1)
    runner.start()
    wait_until(lambda: ledger.chunk_counts(job_id)[lg.CHUNK_ACCEPTED] >= 1, timeout=30)
    assert jobs.request_stop(ledger, job_id, "amira", abort=True)
    wait_until(lambda: jobs.summary(ledger, job_id).settled, timeout=60)
    summary = jobs.summary(ledger, job_id)
    assert summary.state == lg.JOB_STOPPED
    # The aborted chunk's reply is the tutorial's zeros: its rows stay in doubt, never
    # "not applied", though Gameball applied some of them before the stop.
    assert summary.rows[lg.ROW_UNKNOWN] > 0
    assert any(e.action == "job.abort_sent" for e in ledger.audit_entries(job_id))
    in_doubt = {r.key for r in ledger.rows(job_id, statuses=(lg.ROW_UNKNOWN,))}
    retryable = {r.key for r in ledger.rows(job_id, statuses=jobs.RETRYABLE)}
    assert not in_doubt & retryable

    child = jobs.retry_failed(ledger, job_id, "amira", reviewed=True)
    assert {r.key for r in ledger.rows(child)} == retryable
    sandbox.state.instant = True
    make_runner().run_until_idle(child, timeout=60)
    per_customer = sandbox_counts_by_customer(sandbox)
    assert set(per_customer.values()) == {1}, "an adjustment was applied twice"


def sandbox_counts_by_customer(sandbox: SandboxServer) -> dict[str, int]:
    """Adjustment transactions Gameball holds per customer (the ground truth)."""
    with sandbox.state.lock:
        return dict(sandbox.core.counts("adjustments"))
