"""The sandbox's rules, tested on the pure core with a fixed clock (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.sandbox.core import (
    CoreConfig,
    Faults,
    ItemFailure,
    Job,
    JobNotFound,
    RateLimiter,
    SandboxCore,
    parse_fault_options,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PAST = "2026-11-20T09:00:00Z"
FUTURE = "2026-12-01T00:00:00Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def core(clock: FakeClock) -> SandboxCore:
    sandbox = SandboxCore(clock=clock)
    sandbox.seed(3)  # cus-1001 … cus-1003 with 1000 points
    return sandbox


def run(core: SandboxCore, slug: str, *items: Any) -> Job:
    job = core.create_job(slug, list(items))
    core.run(job)
    return job


def only_failure(job: Job) -> dict[str, Any]:
    assert not job.successful, job.successful
    assert len(job.failed) == 1
    return job.failed[0]


def cashback(tx: str, customer: str = "cus-1001", amount: float = 100.0,
             when: str = PAST) -> dict[str, Any]:
    return {"customerId": customer, "transactionId": tx, "transactionTime": when,
            "amount": amount}


def redeem(tx: str, customer: str = "cus-1001", **how: Any) -> dict[str, Any]:
    return {"customerId": customer, "transactionId": tx, "transactionTime": PAST, **how}


def points(core: SandboxCore, customer: str = "cus-1001") -> int:
    return core.customers[customer].points


# --- seeding -------------------------------------------------------------------------------


def test_seed_creates_demo_customers_with_positive_balances(core: SandboxCore) -> None:
    assert list(core.customers) == ["cus-1001", "cus-1002", "cus-1003"]
    assert all(c.points == 1000 for c in core.customers.values())


# --- schema problems -----------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_an_item_missing_required_fields_fails_with_3000_naming_them(
    core: SandboxCore, slug: str
) -> None:
    failure = only_failure(run(core, slug, {"note": "nothing useful"}))
    assert failure["code"] == 3000
    assert failure["message"].startswith("Missing Arguments: customerId")
    assert BATCH_TYPES[slug].result_key in failure


def test_an_item_that_is_not_an_object_fails_alone(core: SandboxCore) -> None:
    job = run(core, "cashback", "oops", cashback("T-1"))
    assert [f["code"] for f in job.failed] == [3016]
    assert [s["transactionId"] for s in job.successful] == ["T-1"]
    assert job.state == "completed"


def test_a_failing_item_never_fails_the_other_items(core: SandboxCore) -> None:
    job = run(core, "cashback", cashback("T-1"), cashback("T-2", customer="nobody"),
              cashback("T-3", customer="cus-1002"))
    assert [s["transactionId"] for s in job.successful] == ["T-1", "T-3"]
    assert [(f["transactionId"], f["code"]) for f in job.failed] == [("T-2", 7000)]
    assert job.state == "completed"


# --- customers -----------------------------------------------------------------------------


def test_customers_are_created_then_updated_with_merged_attributes(core: SandboxCore) -> None:
    first = run(core, "customers", {"customerId": "c-1", "email": "a@example.com",
                                    "customerAttributes": {"firstName": "Amira",
                                                           "custom": {"tier": "gold"}}})
    second = run(core, "customers", {"customerId": "c-1",
                                     "customerAttributes": {"lastName": "Saleh",
                                                            "custom": {"vip": "yes"}}})
    assert first.successful[0]["message"] == "Customer created successfully"
    assert second.successful[0]["message"] == "Customer updated successfully"
    attributes = core.customers["c-1"].attributes
    assert attributes["firstName"] == "Amira"
    assert attributes["lastName"] == "Saleh"
    assert attributes["custom"] == {"tier": "gold", "vip": "yes"}
    assert core.customers["c-1"].email == "a@example.com"


def test_customer_attributes_that_are_not_an_object_fail_with_3003(core: SandboxCore) -> None:
    failure = only_failure(run(core, "customers", {"customerId": "c-1",
                                                   "customerAttributes": "Amira"}))
    assert failure["code"] == 3003
    assert "c-1" not in core.customers


# --- orders --------------------------------------------------------------------------------


def order(order_id: str, customer: str = "cus-1001", **extra: Any) -> dict[str, Any]:
    return {"customerId": customer, "orderId": order_id, "orderDate": PAST,
            "totalPaid": 250.5, **extra}


def test_an_order_creates_an_unknown_customer_and_rewards_points(core: SandboxCore) -> None:
    job = run(core, "orders", order("SO-1", customer="new-customer"))
    assert job.successful == [{"customerId": "new-customer", "orderId": "SO-1",
                               "rewardedPoints": 250, "redeemedPoints": 0}]
    assert points(core, "new-customer") == 250


def test_a_repeated_order_id_fails_with_9004_in_the_same_or_a_later_job(
    core: SandboxCore,
) -> None:
    same = run(core, "orders", order("SO-1"), order("SO-1"))
    later = run(core, "orders", order("SO-1"))
    assert [f["code"] for f in same.failed] == [9004]
    assert same.failed[0]["message"] == "Transaction ID Already Exists"
    assert only_failure(later)["orderId"] == "SO-1"
    assert points(core) == 1250


def test_an_order_in_the_future_fails_with_9007(core: SandboxCore) -> None:
    item = {**order("SO-9"), "orderDate": FUTURE}
    assert only_failure(run(core, "orders", item))["code"] == 9007


def test_an_order_consumes_a_points_hold(core: SandboxCore) -> None:
    hold = core.create_hold("cus-1001", 200)
    job = run(core, "orders", order("SO-1", redemption={"pointsHoldReference": hold.reference}))
    assert job.successful[0]["redeemedPoints"] == 200
    assert points(core) == 1000 - 200 + 250
    assert only_failure(run(core, "orders", order(
        "SO-2", redemption={"pointsHoldReference": hold.reference})))["code"] == 9006


# --- balance inquiries ---------------------------------------------------------------------


def test_balance_inquiry_returns_the_balance_or_7000(core: SandboxCore) -> None:
    job = run(core, "balance-inquiries", {"customerId": "cus-1002"}, {"customerId": "ghost"})
    balance = job.successful[0]
    assert balance["customerId"] == "cus-1002"
    assert balance["totalPointsBalance"] == 1000
    assert balance["availablePointsValue"] == 100.0  # factor 0.1
    assert job.failed == [{"customerId": "ghost", "message": "Customer Not Found",
                           "code": 7000}]
    assert "ghost" not in core.customers


# --- adjustments ---------------------------------------------------------------------------


def test_adjustments_add_positive_and_deduct_negative_amounts(core: SandboxCore) -> None:
    job = run(core, "adjustments", {"customerId": "cus-1001", "amount": 50, "reason": "gift"},
              {"customerId": "cus-1002", "amount": -20})
    assert [s["points"] for s in job.successful] == [50, -20]
    assert points(core, "cus-1001") == 1050
    assert points(core, "cus-1002") == 980


def test_a_deduction_beyond_the_balance_fails_with_9008(core: SandboxCore) -> None:
    failure = only_failure(run(core, "adjustments", {"customerId": "cus-1001", "amount": -1001}))
    assert (failure["code"], failure["message"]) == (9008, "Insufficient Balance Points")
    assert points(core) == 1000


def test_adjustment_rules_unknown_customer_zero_and_points_override(core: SandboxCore) -> None:
    job = run(core, "adjustments", {"customerId": "ghost", "amount": 5},
              {"customerId": "cus-1001", "amount": 0},
              {"customerId": "cus-1001", "amount": 5, "points": 70})
    assert [f["code"] for f in job.failed] == [7000, 3003]
    assert points(core) == 1070


def test_adjustment_amount_converts_through_the_configured_rate(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(adjustment_points_per_unit=10))
    core.seed(1)
    run(core, "adjustments", {"customerId": "cus-1001", "amount": 2.5})
    assert points(core) == 1025


# --- cashback ------------------------------------------------------------------------------


def test_cashback_earns_points_at_the_configured_rate(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(cashback_points_per_unit=2.0))
    core.seed(1)
    job = run(core, "cashback", cashback("T-1", amount=150.75))
    result = job.successful[0]
    assert result["rewardEquivalentPoints"] == 301
    assert result["transactionId"] == "T-1"
    assert isinstance(result["gameballTransactionId"], int)
    assert points(core) == 1301


def test_a_repeated_transaction_id_fails_with_9004_within_and_across_jobs(
    core: SandboxCore,
) -> None:
    first = run(core, "cashback", cashback("T-1"), cashback("T-1", customer="cus-1002"))
    second = run(core, "cashback", cashback("T-1"))
    assert first.failed == [{"customerId": "cus-1002", "message": "Transaction ID Already Exists",
                             "code": 9004, "transactionId": "T-1"}]
    assert only_failure(second)["code"] == 9004
    assert points(core) == 1100
    assert points(core, "cus-1002") == 1000


def test_cashback_for_an_unknown_customer_is_7000_unless_configured(clock: FakeClock) -> None:
    strict = SandboxCore(clock=clock)
    lenient = SandboxCore(clock=clock, config=CoreConfig(cashback_creates_customers=True))
    assert only_failure(run(strict, "cashback", cashback("T-1", customer="x")))["code"] == 7000
    assert run(lenient, "cashback", cashback("T-1", customer="x")).successful
    assert lenient.customers["x"].points == 100


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"transactionTime": FUTURE}, 9007),
        ({"transactionTime": "21/11/2026"}, 3003),
        ({"amount": 0}, 3003),
        ({"amount": "12,5"}, 3003),
    ],
)
def test_cashback_rejects_bad_values(core: SandboxCore, change: dict[str, Any],
                                     code: int) -> None:
    assert only_failure(run(core, "cashback", {**cashback("T-1"), **change}))["code"] == code
    assert points(core) == 1000


def test_a_time_exactly_now_is_not_in_the_future(core: SandboxCore) -> None:
    assert run(core, "cashback", cashback("T-1", when="2026-11-25T10:00:00Z")).successful


def test_time_clash_is_9003_only_when_enabled(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(check_time_clash=True))
    core.seed(1)
    job = run(core, "cashback", cashback("T-1"), cashback("T-2"))
    assert [f["code"] for f in job.failed] == [9003]


# --- redemptions ---------------------------------------------------------------------------


def test_redeem_by_points_amount_and_hold(core: SandboxCore) -> None:
    hold = core.create_hold("cus-1001", 30)
    job = run(core, "redemptions", redeem("R-1", points=50), redeem("R-2", amount=10),
              redeem("R-3", holdReference=hold.reference))
    assert [s["redeemEquivalentPoints"] for s in job.successful] == [50, 100, 30]
    assert isinstance(job.successful[0]["gameballTransactionId"], str)
    assert points(core) == 1000 - 180
    assert core.customers["cus-1001"].held == 0


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ({}, 3000),
        ({"points": 5, "amount": 1}, 3003),
        ({"points": 1001}, 9008),
        ({"holdReference": "no-such-hold"}, 9006),
        ({"points": 2.5}, 3003),
    ],
)
def test_redeem_refusals(core: SandboxCore, how: dict[str, Any], code: int) -> None:
    assert only_failure(run(core, "redemptions", redeem("R-1", **how)))["code"] == code
    assert points(core) == 1000


def test_held_points_cannot_be_redeemed_twice(core: SandboxCore) -> None:
    core.create_hold("cus-1001", 990)
    assert only_failure(run(core, "redemptions", redeem("R-1", points=20)))["code"] == 9008


def test_a_hold_of_another_customer_or_expired_is_9006(core: SandboxCore,
                                                       clock: FakeClock) -> None:
    other = core.create_hold("cus-1002", 10)
    mine = core.create_hold("cus-1001", 10)
    clock.now = NOW + timedelta(minutes=11)
    job = run(core, "redemptions", redeem("R-1", holdReference=other.reference),
              redeem("R-2", holdReference=mine.reference))
    assert [f["code"] for f in job.failed] == [9006, 9006]


def test_redeem_for_an_unknown_customer_is_7000(core: SandboxCore) -> None:
    assert only_failure(run(core, "redemptions", redeem("R-1", "ghost", points=1)))[
        "code"] == 7000


def test_hold_refusals(core: SandboxCore) -> None:
    with pytest.raises(ItemFailure) as unknown:
        core.create_hold("ghost", 10)
    with pytest.raises(ItemFailure) as too_many:
        core.create_hold("cus-1001", 5000)
    assert (unknown.value.code, too_many.value.code) == (7000, 9008)


# --- events --------------------------------------------------------------------------------


def test_events_create_the_customer_and_are_stored(core: SandboxCore) -> None:
    job = run(core, "events", {"customerId": "fan-1", "events": {
        "write_review": {"stars": 5}, "visit_store": {}}})
    assert job.successful == [{"customerId": "fan-1", "message": "Events processed"}]
    assert [e["event"] for e in core.events] == ["write_review", "visit_store"]
    assert "fan-1" in core.customers


@pytest.mark.parametrize("events", [[], {}, {"write_review": "5 stars"}])
def test_malformed_events_fail_with_3003(core: SandboxCore, events: Any) -> None:
    failure = only_failure(run(core, "events", {"customerId": "fan-1", "events": events}))
    assert failure["code"] == 3003


# --- jobs ----------------------------------------------------------------------------------


def test_a_job_moves_queued_running_completed_with_results_filling_in(
    core: SandboxCore, clock: FakeClock,
) -> None:
    job = core.create_job("cashback", [cashback(f"T-{n}") for n in range(3)])
    queued = core.status(job)
    assert (queued["status"], queued["startedAt"], queued["response"]) == ("queued", None, None)
    assert queued["createdAt"] == "2026-11-25T10:00:00Z"
    clock.now = NOW + timedelta(seconds=5)
    assert core.process(2) == 2
    running = core.status(job)
    assert running["status"] == "running"
    assert running["startedAt"] == "2026-11-25T10:00:05Z"
    assert (running["finishedCount"], running["totalCount"]) == (2, 3)
    assert len(running["response"]["successful"]) == 2
    core.process(10)
    assert core.status(job)["status"] == "completed"


def test_jobs_are_processed_oldest_first(core: SandboxCore) -> None:
    first = core.create_job("cashback", [cashback("T-1"), cashback("T-2")])
    second = core.create_job("cashback", [cashback("T-3")])
    core.process(2)
    assert (first.state, second.state) == ("completed", "queued")
    assert core.pending_items() == 1


def test_a_job_where_every_item_failed_is_failed(core: SandboxCore) -> None:
    job = run(core, "cashback", cashback("T-1", customer="x"), cashback("T-2", customer="y"))
    assert core.status(job)["status"] == "failed"
    assert core.status(job)["errorCount"] == 2


def test_rich_stop_keeps_counts_and_results_of_the_items_applied(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(replies="rich"))
    core.seed(1)
    job = core.create_job("cashback", [cashback(f"T-{n}") for n in range(4)])
    core.process(1)
    core.stop(job.job_id)
    core.process(10)
    status = core.status(job)
    assert status["status"] == "stopped"
    assert status["finishedCount"] == 1
    assert status["response"]["successful"][0]["transactionId"] == "T-0"
    assert points(core) == 1100
    assert core.counts("cashback") == {"T-0": 1}


def test_a_stopped_job_answers_the_tutorials_zeros_but_its_applied_items_stay(
        core: SandboxCore) -> None:
    job = core.create_job("cashback", [cashback(f"T-{n}") for n in range(4)])
    core.process(1)
    core.stop(str(job.job_id))
    core.process(10)
    status = core.status(job)
    assert {k: status[k] for k in ("status", "totalCount", "finishedCount", "errorCount",
                                   "startedAt", "response")} == {
        "status": "stopped", "totalCount": 0, "finishedCount": 0, "errorCount": 0,
        "startedAt": None, "response": None}
    assert points(core) == 1100  # the item processed before the stop stays applied
    assert [t.transaction_id for t in core.all_transactions()] == ["T-0"]
    assert core.counts("cashback") == {"T-0": 1}


def test_stop_keeps_results_can_be_forced_either_way(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(stop_keeps_results=True))
    core.seed(1)
    job = core.create_job("cashback", [cashback("T-1"), cashback("T-2")])
    core.process(1)
    core.stop(job.job_id)
    assert core.status(job)["response"]["successful"] == [
        {"customerId": "cus-1001", "gameballTransactionId": 900001, "rewardAmount": 10.0,
         "rewardEquivalentPoints": 100}]


def test_stopping_a_finished_job_changes_nothing(core: SandboxCore) -> None:
    job = run(core, "cashback", cashback("T-1"))
    assert core.stop(job.job_id).state == "completed"


def test_total_count_can_mean_processed_so_far(clock: FakeClock) -> None:
    core = SandboxCore(clock=clock, config=CoreConfig(total_count="processed"))
    core.seed(1)
    job = core.create_job("cashback", [cashback("T-1"), cashback("T-2")])
    core.process(1)
    assert core.status(job)["totalCount"] == 1


def test_unknown_job_ids_are_not_found(core: SandboxCore) -> None:
    with pytest.raises(JobNotFound):
        core.job("999")
    with pytest.raises(JobNotFound):
        core.job("not-a-number")


def test_status_spellings_and_error_key_variants(core: SandboxCore) -> None:
    job = run(core, "cashback", cashback("T-1"), cashback("T-2", "x"), cashback("T-3", "y"))
    assert core.status(job, spelling="capitalised")["status"] == "Completed"
    assert core.status(job, spelling="v3")["status"] == "finished"
    errored = core.status(job, message_key="error")["response"]["failed"]
    assert all("error" in f and "message" not in f for f in errored)
    mixed = core.status(job, message_key="mixed")["response"]["failed"]
    assert ["message" in f for f in mixed] == [True, False]


def test_status_shape_two_reports_progress(core: SandboxCore) -> None:
    job = core.create_job("cashback", [cashback("T-1"), cashback("T-2", customer="x")])
    assert core.status_v2(job)["status"] == "pending"
    core.process(1)
    assert core.status_v2(job)["status"] == "processing"
    core.process(1)
    body = core.status_v2(job)
    assert body["batchId"] == str(job.job_id)
    assert (body["progress"], body["processedItems"], body["failedItems"]) == (100, 2, 1)
    assert len(body["results"]) == len(body["errors"]) == 1


def test_counts_separate_applied_from_submitted(core: SandboxCore) -> None:
    run(core, "cashback", cashback("T-1"))
    run(core, "cashback", cashback("T-1"))
    assert core.counts("cashback") == {"T-1": 1}
    assert core.counts("cashback", submitted=True) == {"T-1": 2}


def test_a_job_holds_at_most_1000_items(core: SandboxCore) -> None:
    with pytest.raises(ValueError, match="1000"):
        core.create_job("customers", [{"customerId": "c"}] * 1001)


def test_reset_forgets_everything(core: SandboxCore) -> None:
    run(core, "cashback", cashback("T-1"))
    core.reset()
    assert (core.customers, core.jobs, core.counts("cashback")) == ({}, {}, {})


# --- faults and rate limits ----------------------------------------------------------------


def test_fault_counters_fire_exactly_n_times() -> None:
    faults = Faults(error_after_next=2)
    assert [faults.take("error_after") for _ in range(4)] == [True, True, False, False]


def test_fault_probabilities_are_reproducible_with_a_seed() -> None:
    first = Faults(drop_after=0.5, seed=7)
    second = Faults(drop_after=0.5, seed=7)
    assert [first.take("drop_after") for _ in range(20)] == [
        second.take("drop_after") for _ in range(20)]


def test_faults_parse_from_cli_text_and_refuse_nonsense() -> None:
    faults = Faults().updated(parse_fault_options(["latency=0.25", "error-before-next=3",
                                                   "status_spelling=capitalised"]))
    assert (faults.latency, faults.error_before_next, faults.status_spelling) == (
        0.25, 3, "capitalised")
    for bad in (["bogus=1"], ["error_after=2"], ["latency=fast"], ["message_key=oops"],
                ["no-equals-sign"]):
        with pytest.raises(ValueError):  # noqa: PT011 - each message is checked in the CLI
            Faults().updated(parse_fault_options(bad))


def test_rate_limiter_allows_30_per_second_and_360_per_30_seconds() -> None:
    now = [0.0]
    limiter = RateLimiter(monotonic=lambda: now[0])
    assert all(limiter.admit("k") == 0 for _ in range(30))
    assert limiter.admit("k") > 0
    assert limiter.admit("other-key") == 0
    for second in range(1, 12):
        now[0] = float(second)
        for _ in range(30):
            limiter.admit("k")
    now[0] = 12.0
    wait = limiter.admit("k")
    assert 0 < wait <= 30  # 360 used within the last 30 s
    now[0] = 30.5
    assert limiter.admit("k") == 0


@pytest.mark.parametrize(("shared", "status_read_waits"), [(False, False), (True, True)])
def test_rate_limiter_counts_each_method_apart_unless_shared(
    shared: bool, status_read_waits: bool
) -> None:
    limiter = RateLimiter(shared=shared, monotonic=lambda: 0.0)
    assert all(limiter.admit("k", "POST") == 0 for _ in range(30))
    assert limiter.admit("k", "POST") > 0
    assert (limiter.admit("k", "GET") > 0) is status_read_waits
