"""verify.py: Gameball's evidence → a verdict per row, with the evidence behind it."""

from __future__ import annotations

from typing import Any

import pytest

from gameball_batch import verify as vf


def _facts(item: dict[str, Any], key: str = "INV-1") -> vf.RowFacts:
    return vf.RowFacts(row=2, key=key, customer=str(item.get("customerId", "cus-1")), item=item)


def _entry(**fields: Any) -> dict[str, Any]:
    return {"transactionType": "PaymentReward", "transactionId": "INV-1",
            "gameballTransactionId": 900001, "transactionDate": "2026-01-02T03:04:05.000",
            **fields}


CASHBACK = {"customerId": "cus-1", "transactionId": "INV-1", "amount": 150.75}
REDEEM_POINTS = {"customerId": "cus-1", "transactionId": "INV-1", "points": 30}
ORDER = {"customerId": "cus-1", "orderId": "INV-1", "totalPaid": 99}


@pytest.mark.parametrize(("slug", "item", "evidence", "verdict", "says"), [
    ("cashback", CASHBACK,
     vf.OrderEvidence(True, (_entry(amount=150.75, equivalentPoints=150),)),
     vf.APPLIED, "same amount"),
    ("cashback", CASHBACK,
     vf.OrderEvidence(True, (_entry(amount=99.0, equivalentPoints=99),)),
     vf.UNCLEAR, "different amount"),
    ("cashback", CASHBACK, vf.OrderEvidence(False, (), "Order Not Found"),
     vf.ABSENT, "no transaction"),
    ("cashback", CASHBACK, vf.OrderEvidence(False, (), "Invalid Value"),
     vf.UNCLEAR, "could not look"),
    ("cashback", CASHBACK, None, vf.UNCLEAR, "no answer"),
    ("cashback", CASHBACK, vf.OrderEvidence(True, ()), vf.UNCLEAR, "lists no transaction"),
    ("cashback", CASHBACK,
     vf.OrderEvidence(True, (_entry(transactionType="Refund", amount=150.75),)),
     vf.UNCLEAR, "lists no transaction"),
    ("redemptions", REDEEM_POINTS,
     vf.OrderEvidence(True, (_entry(transactionType="Redemption", amount=3.0,
                                    equivalentPoints=-30),)),
     vf.APPLIED, "same points"),
    ("redemptions", {"customerId": "cus-1", "transactionId": "INV-1", "holdReference": "h"},
     vf.OrderEvidence(True, (_entry(transactionType="Redemption", equivalentPoints=-5),)),
     vf.APPLIED, "names no amount"),
    ("orders", ORDER, vf.OrderEvidence(True, (_entry(amount=99, equivalentPoints=99),)),
     vf.APPLIED, "same amount"),
    ("orders", ORDER, vf.OrderEvidence(True, (_entry(transactionId="OTHER", amount=99),)),
     vf.UNCLEAR, "lists no transaction"),
])
def test_order_transactions_evidence_gives_a_verdict(
    slug: str, item: dict[str, Any], evidence: vf.OrderEvidence | None, verdict: str,
    says: str,
) -> None:
    result = vf.order_verdict(slug, _facts(item), evidence)
    assert result.verdict == verdict
    assert says in result.note
    assert result.evidence["source"] == "Order Transactions"


def test_a_different_amount_shows_both_values() -> None:
    result = vf.order_verdict("cashback", _facts(CASHBACK), vf.OrderEvidence(
        True, (_entry(amount=99.0, equivalentPoints=99),)))
    assert result.evidence["expected"] == {"amount": 150.75}
    assert result.evidence["found"][0]["amount"] == 99.0


def test_applied_evidence_carries_the_points_awarded() -> None:
    result = vf.order_verdict("cashback", _facts(CASHBACK), vf.OrderEvidence(
        True, (_entry(amount=150.75, equivalentPoints=150),)))
    assert result.evidence["points"] == 150


def test_result_items_are_read_as_documented() -> None:
    found = vf.order_evidence_of(
        [{"orderId": "A", "transactions": [_entry(transactionId="A")], "count": 1}],
        [{"customerId": "B", "message": "Order Not Found"}])
    assert found["A"].found
    assert len(found["A"].transactions) == 1
    assert not found["B"].found
    assert found["B"].message == "Order Not Found"


ADJ = {"customerId": "cus-1", "amount": 25}


@pytest.mark.parametrize(("balance", "factor", "verdict", "says"), [
    (vf.BalanceEvidence(1000, 1025), vf.Factor(), vf.APPLIED, "as the row asks"),
    (vf.BalanceEvidence(1000, 1000), vf.Factor(), vf.ABSENT, "unchanged"),
    (vf.BalanceEvidence(1000, 1040), vf.Factor(), vf.UNCLEAR, "other activity"),
    (vf.BalanceEvidence(1000, 1250), vf.Factor(10.0, True, "learnt"), vf.APPLIED, "as the row"),
    (vf.BalanceEvidence(None, 1025, snapshot_error="timed out"), vf.Factor(), vf.UNCLEAR,
     "No snapshot: timed out"),
    (vf.BalanceEvidence(None, 1025), vf.Factor(), vf.UNCLEAR, "No snapshot"),
    (vf.BalanceEvidence(1000, None, after_error="Customer Not Found"), vf.Factor(),
     vf.UNCLEAR, "Customer Not Found"),
    (vf.BalanceEvidence(1000, 1025, moved_by="job abc also adjusted this customer"),
     vf.Factor(), vf.UNCLEAR, "cannot tell"),
])
def test_balance_evidence_gives_a_verdict(
    balance: vf.BalanceEvidence, factor: vf.Factor, verdict: str, says: str,
) -> None:
    result = vf.adjustment_verdict(_facts(ADJ, key="cus-1"), balance, factor)
    assert result.verdict == verdict
    assert says in result.note
    assert (result.evidence["before"], result.evidence["after"]) == (balance.before,
                                                                     balance.after)


@pytest.mark.parametrize(("pairs", "value", "learnt"), [
    ([], 1.0, False),
    ([(25.0, 250.0), (-5.0, -50.0)], 10.0, True),
    ([(25.0, 250.0), (5.0, 7.0)], 1.0, False),
])
def test_a_factor_is_learnt_only_when_applied_rows_agree(
    pairs: list[tuple[float, float]], value: float, learnt: bool,
) -> None:
    factor = vf.learn_factor(pairs)
    assert (factor.value, factor.learnt) == (value, learnt)
    assert factor.note


@pytest.mark.parametrize(("slug", "verdict", "says"), [
    ("customers", vf.NOT_VERIFIABLE, "Safe to resend"),
    ("balance-inquiries", vf.NOT_VERIFIABLE, "Safe to resend"),
])
def test_resend_safe_types_need_no_evidence(slug: str, verdict: str, says: str) -> None:
    result = vf.no_evidence_needed(slug, _facts({"customerId": "cus-1"}, key="cus-1"))
    assert (result.verdict, says in result.note) == (verdict, True)


def test_events_are_always_unclear() -> None:
    result = vf.events_unclear(_facts({"customerId": "cus-1"}, key="cus-1"))
    assert result.verdict == vf.UNCLEAR
    assert "no look-up" in result.note


def test_counts_name_every_verdict() -> None:
    rows = [vf.Verdict(2, "c", "k", vf.APPLIED), vf.Verdict(3, "c", "k", vf.APPLIED)]
    assert vf.counts(rows) == {"applied": 2, "absent": 0, "unclear": 0, "not_verifiable": 0}


@pytest.mark.parametrize(("item", "amount"), [
    ({"customerId": "cus-1", "amount": 25}, -25),
    ({"customerId": "cus-1", "amount": -2.5}, 2.5),
])
def test_a_reversal_negates_the_amount(item: dict[str, Any], amount: float) -> None:
    reversed_item = vf.reversal_item(item, "Undo of job x: wrong file")
    assert reversed_item == {"customerId": "cus-1", "amount": amount,
                             "reason": "Undo of job x: wrong file"}


def test_balance_items_are_read_as_v4_or_v3() -> None:
    assert vf.balance_of({"customerId": "c", "totalPointsBalance": 12}) == 12
    assert vf.balance_of({"playerUniqueId": "c", "pointsBalance": "7"}) == 7
    assert vf.balance_of({"customerId": "c"}) is None


def test_an_unchanged_balance_with_points_earned_meanwhile_is_unclear() -> None:
    hidden = vf.BalanceEvidence(1000, 1000, earned_before=5000, earned_after=5025)
    result = vf.adjustment_verdict(_facts(ADJ, key="cus-1"), hidden, vf.Factor())
    assert result.verdict == vf.UNCLEAR
    assert result.evidence["earned_change"] == 25


def test_an_unchanged_balance_and_unchanged_earnings_are_absent() -> None:
    still = vf.BalanceEvidence(1000, 1000, earned_before=5000, earned_after=5000)
    assert vf.adjustment_verdict(_facts(ADJ, key="cus-1"), still, vf.Factor()).verdict == \
        vf.ABSENT
