"""The impact review: the totals an operator confirms and an approver signs."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from gameball_batch import batch_types
from gameball_batch.impact import assess
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=str)
    frame.index = pd.RangeIndex(2, len(rows) + 2, name="row")
    return frame


def _cashback(amounts: list[str], customers: list[str] | None = None) -> pd.DataFrame:
    customers = customers or [f"cus-{1001 + i}" for i in range(len(amounts))]
    return _frame(
        [
            {
                "customerId": c,
                "transactionId": f"T{i}",
                "transactionTime": "2026-11-20T10:00:00Z",
                "amount": a,
            }
            for i, (c, a) in enumerate(zip(customers, amounts, strict=True))
        ]
    )


def test_totals_count_rows_customers_and_amounts_of_valid_rows_only() -> None:
    frame = _cashback(["10", "20.5", "oops"], ["cus-1", "cus-2", "cus-2"])
    impact = assess(validate(batch_types.CASHBACK, frame, now=NOW))
    assert (impact.rows, impact.customers) == (2, 2)
    assert impact.total_amount == 30.5
    assert impact.largest_amount == 20.5


def test_a_row_far_above_the_median_is_called_out_with_its_row_number() -> None:
    amounts = ["10"] * 20 + ["5000"]
    impact = assess(validate(batch_types.CASHBACK, _cashback(amounts), now=NOW))
    value = impact.value("amount")
    assert value is not None
    assert value.outlier_rows == (22,)
    assert any("rows 22" in w for w in impact.warnings)
    assert impact.largest_rows.index[0] == 22


def test_deductions_of_an_adjustment_file_are_totalled_and_warned() -> None:
    frame = _frame(
        [
            {"customerId": "cus-1", "amount": "50"},
            {"customerId": "cus-2", "amount": "-20"},
            {"customerId": "cus-3", "amount": "-5"},
        ]
    )
    impact = assess(validate(batch_types.ADJUSTMENTS, frame, now=NOW))
    assert impact.total_amount == 25
    assert impact.negative_amount == -25
    assert any("deducts: 25.00" in w for w in impact.warnings)


def test_orders_with_line_item_rows_count_each_order_total_once() -> None:
    base = {"customerId": "cus-1", "orderDate": "2026-11-20T10:00:00Z", "totalPaid": "100"}
    frame = _frame(
        [
            {**base, "orderId": "SO-1", "lineItems.productId": "P1"},
            {**base, "orderId": "SO-1", "lineItems.productId": "P2"},
            {**base, "orderId": "SO-2", "lineItems.productId": "P3"},
        ]
    )
    impact = assess(validate(batch_types.ORDERS, frame, now=NOW))
    assert impact.total_amount == 200


def test_totals_are_stable_json_numbers_for_the_approval_digest() -> None:
    impact = assess(validate(batch_types.CASHBACK, _cashback(["1.1", "2.2"]), now=NOW))
    assert impact.totals() == {
        "rows": 2.0,
        "customers": 2.0,
        "amount.total": 3.3,
        "amount.negative": 0.0,
    }
