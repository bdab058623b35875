"""Four-eyes approval rules: thresholds, binding to content, no self-approval."""

from __future__ import annotations

import pytest

from gameball_batch import batch_types
from gameball_batch.approvals import (
    ApprovalRefused,
    ApprovalRules,
    approval_reasons,
    check_approval,
    content_digest,
)
from gameball_batch.impact import Impact, ValueImpact


def _impact(slug: str, *values: ValueImpact) -> Impact:
    return Impact(batch_type=batch_types.get(slug), rows=10, customers=5, values=values)


def _amount(total: float, largest: float, negative: float = 0.0) -> ValueImpact:
    return ValueImpact("amount", "amount", total, total - negative, negative, largest, 1.0, ())


def _points(total: float, largest: float) -> ValueImpact:
    return ValueImpact("points", "points", total, total, 0.0, largest, 1.0, ())


def test_no_rules_never_need_approval() -> None:
    assert approval_reasons(_impact("cashback", _amount(1e9, 1e9)), ApprovalRules()) == []


def test_total_amount_over_threshold_needs_approval() -> None:
    rules = ApprovalRules(total_amount_over=10_000)
    assert approval_reasons(_impact("cashback", _amount(9_999, 10)), rules) == []
    reasons = approval_reasons(_impact("cashback", _amount(10_001, 10)), rules)
    assert len(reasons) == 1
    assert "total amount 10,001.00" in reasons[0]


def test_single_large_row_needs_approval_even_when_total_is_small() -> None:
    rules = ApprovalRules(row_points_over=500)
    reasons = approval_reasons(_impact("redemptions", _points(600, 600)), rules)
    assert any("one row moves 600 points" in r for r in reasons)


def test_negative_adjustments_over_threshold_need_approval() -> None:
    rules = ApprovalRules(negative_adjustments_over=100)
    deducting = _impact("adjustments", _amount(-50, 150, negative=-150))
    assert any("deduct 150.00" in r for r in approval_reasons(deducting, rules))


def test_redemptions_over_threshold_need_approval() -> None:
    rules = ApprovalRules(redemptions_over=1_000)
    assert approval_reasons(_impact("redemptions", _points(1_200, 50)), rules)
    # The same total on a cashback job is not a redemption.
    assert not approval_reasons(_impact("cashback", _amount(1_200, 50)), rules)


def test_unknown_approval_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="total_amount_ovr"):
        ApprovalRules.from_mapping({"total_amount_ovr": 5})


def test_any_change_in_content_changes_the_digest() -> None:
    base = {
        "fingerprint": "abc",
        "mapping": {"customerId": "Customer"},
        "row_count": 10,
        "totals": {"amount.total": 100.0},
    }
    digest = content_digest(**base)  # type: ignore[arg-type]
    for change in (
        {"fingerprint": "abd"},
        {"mapping": {"customerId": "User"}},
        {"row_count": 11},
        {"totals": {"amount.total": 100.5}},
    ):
        assert content_digest(**{**base, **change}) != digest  # type: ignore[arg-type]


def test_self_approval_is_refused() -> None:
    with pytest.raises(ApprovalRefused, match="cannot approve"):
        check_approval(
            submitter="ops@x.example", approver="OPS@x.example",
            approved_digest="d", current_digest="d",
        )


def test_approval_of_changed_content_is_refused() -> None:
    with pytest.raises(ApprovalRefused, match="changed after it was reviewed"):
        check_approval(
            submitter="ops@x.example", approver="boss@x.example",
            approved_digest="old", current_digest="new",
        )
    check_approval(
        submitter="ops@x.example", approver="boss@x.example",
        approved_digest="same", current_digest="same",
    )
