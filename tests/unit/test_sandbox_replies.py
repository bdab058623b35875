"""What the sandbox answers per item: documented replies by default, rich ones on request,
and the Order Transactions batch (pure core, fixed clock, no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gameball_batch.sandbox.core import CoreConfig, SandboxCore

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PAST = "2026-11-20T09:00:00Z"


def make(replies: str = "documented") -> SandboxCore:
    core = SandboxCore(clock=lambda: NOW, config=CoreConfig(replies=replies))  # type: ignore[arg-type]
    core.seed(2)
    return core


def reply(core: SandboxCore, slug: str, *items: Any) -> dict[str, Any]:
    job = core.create_job(slug, list(items))
    core.run(job)
    response: dict[str, Any] = core.status(job)["response"]
    return response


def cashback(tx: str, customer: str = "cus-1001", amount: float = 100.0) -> dict[str, Any]:
    return {"customerId": customer, "transactionId": tx, "transactionTime": PAST,
            "amount": amount}


# Every type once, with the exact success item the docs allow (reference §3, brief).
DOCUMENTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("customers", {"customerId": "new-1", "email": "a@example.com"},
     {"customerId": "new-1", "message": "Customer created successfully"}),
    ("orders", {"customerId": "cus-1001", "orderId": "SO-1", "orderDate": PAST,
                "totalPaid": 50},
     {"customerId": "cus-1001", "rewardedPoints": 50, "redeemedPoints": 0}),
    ("adjustments", {"customerId": "cus-1001", "amount": 25, "transactionId": "ADJ-1"},
     {"customerId": "cus-1001", "gameballTransactionId": 900001, "points": 25,
      "amount": 25.0}),
    ("cashback", cashback("T-1"),
     {"customerId": "cus-1001", "gameballTransactionId": 900001, "rewardAmount": 10.0,
      "rewardEquivalentPoints": 100}),
    ("redemptions", {"customerId": "cus-1001", "transactionId": "R-1",
                     "transactionTime": PAST, "points": 200},
     {"customerId": "cus-1001", "gameballTransactionId": "900001", "redeemAmount": 20.0,
      "redeemEquivalentPoints": 200}),
    ("events", {"customerId": "cus-1001", "events": {"visit": {}}},
     {"customerId": "cus-1001", "message": "Events processed"}),
]


@pytest.mark.parametrize(("slug", "item", "expected"), DOCUMENTED,
                         ids=[case[0] for case in DOCUMENTED])
def test_documented_success_items_carry_only_documented_fields(
        slug: str, item: dict[str, Any], expected: dict[str, Any]) -> None:
    assert reply(make(), slug, item)["successful"] == [expected]


def test_documented_balance_items_are_the_customer_id_and_the_balance_fields() -> None:
    core = make()
    reply(core, "adjustments", {"customerId": "cus-1001", "amount": -300})
    [item] = reply(core, "balance-inquiries", {"customerId": "cus-1001"})["successful"]
    assert set(item) == {
        "customerId", "totalPointsBalance", "totalPointsValue", "availablePointsBalance",
        "availablePointsValue", "pendingPoints", "pendingPointsValue", "currency",
        "pointsName", "nextExpiringPointsAmount", "nextExpiringPointsValue",
        "nextExpiringPointsDate", "totalEarnedPoints"}
    assert item["totalPointsBalance"] == 700  # the adjustment shows at once


def test_an_updated_customer_still_gets_the_one_documented_message() -> None:
    core = make()
    assert reply(core, "customers", {"customerId": "cus-1001"})["successful"] == [
        {"customerId": "cus-1001", "message": "Customer created successfully"}]


@pytest.mark.parametrize(("slug", "item", "message"), [
    ("cashback", cashback("T-1", customer="nobody"), "Customer Not Found"),
    ("redemptions", {"customerId": "cus-1001", "transactionId": "R-1",
                     "transactionTime": PAST, "points": 5000},
     "Insufficient Balance Points"),
    ("orders", {"customerId": "cus-1001", "orderId": "SO-1"},
     "Missing Arguments: orderDate, totalPaid"),
    ("adjustments", {"customerId": "nobody", "amount": 5}, "Customer Not Found"),
])
def test_documented_failed_items_are_exactly_customer_id_and_message(
        slug: str, item: dict[str, Any], message: str) -> None:
    assert reply(make(), slug, item)["failed"] == [
        {"customerId": item["customerId"], "message": message}]


def test_duplicates_fail_with_the_single_api_names_and_no_batch_key() -> None:
    core = make()
    response = reply(core, "cashback", cashback("T-1"), cashback("T-1"))
    assert response["failed"] == [
        {"customerId": "cus-1001", "message": "Transaction ID Already Exists"}]
    clash = SandboxCore(clock=lambda: NOW,
                        config=CoreConfig(check_time_clash=True))
    clash.seed(1)
    assert reply(clash, "cashback", cashback("T-1"), cashback("T-2"))["failed"] == [
        {"customerId": "cus-1001", "message": "Transaction Time Already Exists"}]


def test_the_error_key_fault_renames_message_in_documented_items() -> None:
    core = make()
    job = core.create_job("cashback", [cashback("T-1", customer="nobody")])
    core.run(job)
    assert core.status(job, message_key="error")["response"]["failed"] == [
        {"customerId": "nobody", "error": "Customer Not Found"}]


def test_rich_items_add_the_batch_key_and_the_error_code() -> None:
    core = make("rich")
    response = reply(core, "cashback", cashback("T-1"), cashback("T-1"))
    assert response["successful"][0]["transactionId"] == "T-1"
    assert response["failed"] == [{"customerId": "cus-1001", "transactionId": "T-1",
                                   "message": "Transaction ID Already Exists", "code": 9004}]
    order = reply(core, "orders", {"customerId": "cus-1001", "orderId": "SO-1",
                                   "orderDate": PAST, "totalPaid": 5})
    assert order["successful"][0]["orderId"] == "SO-1"


def test_an_unknown_reply_style_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="documented, rich"):
        CoreConfig(replies="fancy")  # type: ignore[arg-type]


# --- Order Transactions (reference §2.8, §3.9) ----------------------------------------------


def test_order_transactions_lists_orders_cashback_and_redemptions_or_order_not_found() -> None:
    core = make()
    reply(core, "orders", {"customerId": "cus-1001", "orderId": "SO-1", "orderDate": PAST,
                           "totalPaid": 40})
    reply(core, "cashback", cashback("INV-7", amount=30))
    reply(core, "redemptions", {"customerId": "cus-1002", "transactionId": "INV-7",
                                "transactionTime": PAST, "amount": 5})
    response = reply(core, "order-transactions", "SO-1", "INV-7", "NOPE", "SO-1")
    order, invoice, again = response["successful"]
    assert order == {"orderId": "SO-1", "count": 1, "transactions": [{
        "transactionDate": "2026-11-20T09:00:00.000", "gameballTransactionId": 900001,
        "transactionType": "PaymentReward", "amount": 40.0, "transactionId": "SO-1",
        "equivalentPoints": 40}]}
    assert again == order
    assert invoice["count"] == 2
    assert [(t["transactionType"], t["equivalentPoints"], t["amount"])
            for t in invoice["transactions"]] == [("PaymentReward", 30, 30.0),
                                                  ("Redemption", 50, 5.0)]
    assert response["failed"] == [{"customerId": "NOPE", "message": "Order Not Found"}]


def test_every_order_id_lands_in_exactly_one_list() -> None:
    core = make()
    reply(core, "cashback", cashback("A"))
    ids: list[Any] = ["A", "B", 7, None, "A"]
    job = core.create_job("order-transactions", ids)
    core.run(job)
    status = core.status(job)
    assert (status["finishedCount"], status["errorCount"], status["status"]) == (
        2, 3, "completed")
    assert [f["customerId"] for f in status["response"]["failed"]] == ["B", 7, None]
    assert status["operation"] == "Order Transactions Batch Job"
    assert core.counts("order-transactions") == {"A": 2}


def test_an_order_paid_partly_with_held_points_shows_its_redemption_too() -> None:
    core = make()
    hold = core.create_hold("cus-1001", 30)
    reply(core, "orders", {"customerId": "cus-1001", "orderId": "SO-2", "orderDate": PAST,
                           "totalPaid": 20, "redemption": {"pointsHoldReference": hold.reference}})
    [item] = reply(core, "order-transactions", "SO-2")["successful"]
    assert [(t["transactionType"], t["equivalentPoints"], t["amount"])
            for t in item["transactions"]] == [("PaymentReward", 20, 20.0),
                                               ("Redemption", 30, 3.0)]
