"""The review's numbers as the operator reads them: money and points, added/deducted/net,
outliers as warnings with their rows, and the rows the editor offers."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from gameball_batch import batch_types, impact, payloads
from gameball_batch.ui import review_model
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=str)
    frame.index = pd.RangeIndex(2, len(rows) + 2, name="row")
    return frame


def _cashback(amounts: list[str]) -> pd.DataFrame:
    return _frame([{"customerId": f"cus-{1001 + i}", "transactionId": f"T{i}",
                    "transactionTime": "2026-11-20T10:00:00Z", "amount": a}
                   for i, a in enumerate(amounts)])


def test_money_keeps_its_cents_and_points_are_whole_numbers() -> None:
    assert review_model.format_value(900, "amount") == "900.00"
    assert review_model.format_value(1234.5, "amount") == "1,234.50"
    assert review_model.format_value(1250, "points") == "1,250"
    assert review_model.format_value(-40, "points") == "-40"


def test_an_adjustments_file_reads_as_added_deducted_and_net() -> None:
    frame = _frame([{"customerId": "cus-1", "amount": "500", "reason": "bonus"},
                    {"customerId": "cus-2", "amount": "500", "reason": "bonus"},
                    {"customerId": "cus-3", "amount": "-100", "reason": "fix"}])
    bt = batch_types.get("adjustments")
    line = review_model.value_lines(bt, impact.assess(validate(bt, frame, now=NOW)))[0]
    assert line.has_deductions
    assert (line.text("added"), line.text("deducted"), line.text("net")) == (
        "1,000.00", "100.00", "900.00")


def test_a_file_without_deductions_has_no_deducted_part() -> None:
    result = validate(batch_types.CASHBACK, _cashback(["10", "20.5"]), now=NOW)
    line = review_model.value_lines(result.batch_type, impact.assess(result))[0]
    assert not line.has_deductions
    assert line.text("net") == "30.50"


def test_an_outlier_becomes_a_warning_with_its_row_column_and_value() -> None:
    result = validate(batch_types.CASHBACK, _cashback(["10"] * 20 + ["5000"]), now=NOW)
    assert result.warnings.empty
    warned = review_model.with_value_warnings(result, {"amount": "Amount"})
    row = warned.warnings.iloc[0]
    assert (int(row["row"]), row["column"], row["field"], row["value"], row["code"]) == (
        22, "Amount", "amount", "5000", impact.OUTLIER_CODE)
    assert "500× the median (10.00)" in row["message"]
    assert len(warned.warnings) == 1
    assert warned.invalid_count == 0  # a warning never blocks
    assert review_model.warned_rows(warned) == frozenset({22})


def test_no_outlier_no_warning() -> None:
    result = validate(batch_types.CASHBACK, _cashback(["10", "12", "11"]), now=NOW)
    assert review_model.with_value_warnings(result, {}) is result
    assert impact.value_warnings(result, {}).empty


def test_step_4_lists_errors_and_warnings_together_and_edits_both() -> None:
    frame = _cashback(["10"] * 20 + ["5000", "oops"])  # rows 22 (outlier) and 23 (error)
    result = review_model.with_value_warnings(validate(batch_types.CASHBACK, frame, now=NOW),
                                              {"amount": "Amount"})
    table = review_model.issue_table(result)
    assert table[["row", "severity"]].values.tolist() == [[22, "warning"], [23, "error"]]
    assert review_model.editable_rows(result) == [22, 23]
    assert review_model.editable_rows(result, find=5) == [5, 22, 23]
    assert review_model.editable_rows(result, find=23) == [23, 22]
    shown = review_model.rows_frame(frame, [23, 5, 99], ["amount"])
    assert shown.index.tolist() == [23, 5]


def test_a_review_is_built_from_binned_counts_and_the_plan() -> None:
    result = validate(batch_types.CASHBACK, _cashback(["10", "20", "30"]), now=NOW)
    before = review_model.computations
    review = review_model.build_review(result)
    planned = review_model.build_plan_review(result, lambda r: payloads.plan_chunks(r, size=2))
    assert review_model.computations == before + 2
    assert int(review.histograms["amount"]["count"].sum()) == 3
    assert (planned.chunk_count, planned.largest_chunk) == (2, 2)
    assert '"customerId": "cus-1001"' in planned.first_item_json


def test_big_review_values_are_kept_for_fewer_files_than_the_cache_holds() -> None:
    from gameball_batch.ui.intake_model import IntakeCache

    cache = IntakeCache(entries=4)
    built: list[str] = []
    for name in ("a", "b", "c", "a"):
        cache.get("plan", name, lambda n=name: built.append(n) or n, keep=2)
    assert built == ["a", "b", "c", "a"]  # "a" was dropped when "c" came: two are kept
    cache.get("plan", "c", lambda: built.append("again") or "c", keep=2)
    assert built[-1] == "a"  # the newest two are still there
