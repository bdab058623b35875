"""Validation: what an operator sees for each kind of bad cell, and what a clean row becomes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pandas as pd
import pytest

from gameball_batch.batch_types import BATCH_TYPES, get
from gameball_batch.validate import ISSUE_COLUMNS, ValidationResult, validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def cashback(**overrides: list[str]) -> pd.DataFrame:
    n = len(next(iter(overrides.values()))) if overrides else 1
    base = {
        "customerId": [f"cus-{1000 + i}" for i in range(n)],
        "transactionId": [f"INV-{i}" for i in range(n)],
        "transactionTime": ["2026-11-20T09:15:00Z"] * n,
        "amount": ["10"] * n,
    }
    base.update(overrides)
    return frame(base)


def run(slug: str, data: pd.DataFrame, **kw: object) -> ValidationResult:
    return validate(get(slug), data, now=NOW, **kw)  # type: ignore[arg-type]


def issue(result: ValidationResult, row: int, field: str) -> pd.Series:
    hits = result.issues[(result.issues["row"] == row) & (result.issues["field"] == field)]
    assert len(hits) == 1, result.issues.to_string()
    return hits.iloc[0]


def codes(result: ValidationResult) -> list[tuple[int, str, str]]:
    return [(int(r), f, c) for r, f, c in result.issues[["row", "field", "code"]].itertuples(
        index=False)]


# --- numbers ---------------------------------------------------------------------------------


def test_a_decimal_comma_is_reported_with_a_hint_and_never_misread() -> None:
    result = run("cashback", cashback(amount=["12,5"]), columns={"amount": "Amount"})
    found = issue(result, 2, "amount")
    assert found["code"] == "decimal_comma"
    assert found["column"] == "Amount"
    assert found["value"] == "12,5"
    assert found["message"] == ("Amount must be a number, got '12,5' (use a dot for decimals, "
                                "or read the file with decimal commas)")
    assert result.clean.empty


def test_thousands_separators_are_reported_not_stripped() -> None:
    result = run("cashback", cashback(amount=["1,234.50", "1.234,50"]))
    assert [c for _, _, c in codes(result)] == ["thousands_separator", "thousands_separator"]


def test_plain_decimals_become_floats_with_their_exact_value() -> None:
    result = run("cashback", cashback(amount=[" 150.75 ", "+3", "0.10", ".5"]))
    assert result.invalid_count == 0
    assert result.clean["amount"].tolist() == [150.75, 3.0, 0.1, 0.5]


@pytest.mark.parametrize(("value", "code"), [
    ("0", "must_be_positive"), ("-4", "must_be_positive"), ("$12", "not_a_number"),
    ("1e3", "not_a_number"), ("abc", "not_a_number"),
])
def test_cashback_amount_must_be_a_positive_plain_number(value: str, code: str) -> None:
    assert codes(run("cashback", cashback(amount=[value]))) == [(2, "amount", code)]


def test_points_must_be_whole_and_adjustments_nonzero() -> None:
    red = run("redemptions", frame({
        "customerId": ["c1", "c2", "c3"], "transactionId": ["t1", "t2", "t3"],
        "transactionTime": ["2026-01-01T00:00:00Z"] * 3, "points": ["12.5", "300", "40.0"],
    }))
    assert codes(red) == [(2, "points", "not_whole")]
    assert red.clean["points"].tolist() == [300, 40]
    adj = run("adjustments", frame({"customerId": ["c1", "c2"], "amount": ["0", "-20"]}))
    assert codes(adj) == [(2, "amount", "must_not_be_zero")]


def test_return_window_has_a_maximum() -> None:
    data = cashback(**{"configurations.returnWindow": ["7301"]})
    assert codes(run("cashback", data)) == [(2, "configurations.returnWindow", "too_large")]


# --- ids and text ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["customerId", "transactionId"])
def test_an_excel_mangled_id_is_reported_as_scientific_notation(field: str) -> None:
    result = run("cashback", cashback(**{field: ["1.2E+11"]}))
    found = issue(result, 2, field)
    assert found["code"] == "scientific_notation"
    assert "Excel" in found["message"]


def test_ids_keep_leading_zeros_and_lose_surrounding_spaces() -> None:
    result = run("cashback", cashback(customerId=["  00123 "]))
    assert result.clean["customerId"].tolist() == ["00123"]


def test_an_adjustment_reason_longer_than_255_is_a_warning_and_is_sent() -> None:
    data = frame({"customerId": ["c1"], "amount": ["5"], "reason": ["x" * 256]})
    result = run("adjustments", data)
    assert codes(result) == []
    assert result.warnings[["row", "field", "code"]].values.tolist() == [[2, "reason", "too_long"]]
    assert result.clean["reason"].tolist() == ["x" * 256]


def test_a_redemption_reason_longer_than_255_is_still_an_error() -> None:
    data = frame({"customerId": ["c1"], "transactionId": ["T1"],
                  "transactionTime": ["2026-11-20T09:15:00Z"], "points": ["5"],
                  "reason": ["x" * 256]})
    assert codes(run("redemptions", data)) == [(2, "reason", "too_long")]


def test_email_and_phone_formats() -> None:
    data = cashback(email=["amira@example.com", "not-an-email", ""],
                    mobile=["+20 (100) 000-0001", "01000000001", "+12"])
    result = run("cashback", data)
    assert codes(result) == [(3, "email", "invalid_email"), (3, "mobile", "invalid_phone"),
                             (4, "mobile", "invalid_phone")]
    assert "must start with +" in issue(result, 3, "mobile")["message"]
    assert result.clean["mobile"].tolist() == ["+201000000001"]


# --- enums, booleans, lists --------------------------------------------------------------------


def test_enums_are_case_insensitive_and_normalised() -> None:
    data = frame({"customerId": ["a", "b", "c"],
                  "customerAttributes.channel": ["WEB", "pos", "fax"]})
    result = run("customers", data)
    assert codes(result) == [(4, "customerAttributes.channel", "not_allowed")]
    assert result.clean["customerAttributes.channel"].tolist() == ["web", "pos"]


def test_gender_is_free_text_as_documented() -> None:
    data = frame({"customerId": ["a", "b", "c"],
                  "customerAttributes.gender": ["F", "M", "non-binary"]})
    result = run("customers", data)
    assert codes(result) == []
    assert result.clean["customerAttributes.gender"].tolist() == ["F", "M", "non-binary"]


def test_booleans_and_lists() -> None:
    data = frame({"customerId": ["a", "b", "c", "d"], "guest": ["Yes", "0", "TRUE", "maybe"],
                  "customerAttributes.paymentMethods": ["card, cash", "", " wallet ,", "x"]})
    result = run("customers", data)
    assert codes(result) == [(5, "guest", "not_a_boolean")]
    assert result.clean["guest"].tolist() == [True, False, True]
    lists = result.clean["customerAttributes.paymentMethods"].tolist()
    assert lists[0] == ["card", "cash"]
    assert lists[2] == ["wallet"]
    assert pd.isna(lists[1])


# --- timestamps ------------------------------------------------------------------------------


def test_times_become_utc_text_with_milliseconds() -> None:
    result = run("cashback", cashback(transactionTime=[
        "2026-11-20T09:15:00Z", "2026-11-20T11:15:00+02:00", "2026-11-20T09:15:00.123456Z",
        "2026-11-20 09:15", "2026-11-20T09:15:00",
    ]))
    assert result.invalid_count == 0
    assert result.clean["transactionTime"].tolist() == [
        "2026-11-20T09:15:00.000Z", "2026-11-20T09:15:00.000Z", "2026-11-20T09:15:00.123Z",
        "2026-11-20T09:15:00.000Z", "2026-11-20T09:15:00.000Z",
    ]
    assert any("without a time zone were read as UTC" in n for n in result.notes)


def test_day_month_order_is_decided_by_an_unambiguous_value() -> None:
    result = run("cashback", cashback(transactionTime=["03/04/2026 09:15", "20/11/2025"]))
    assert result.clean["transactionTime"].tolist() == [
        "2026-04-03T09:15:00.000Z", "2025-11-20T00:00:00.000Z"]
    assert any("day/month/year" in n and "row 3" in n for n in result.notes)


def test_month_first_spreadsheet_dates() -> None:
    result = run("cashback", cashback(transactionTime=["11/20/2025", "03/04/2026"]))
    assert result.clean["transactionTime"].tolist() == [
        "2025-11-20T00:00:00.000Z", "2026-03-04T00:00:00.000Z"]


def test_only_ambiguous_dates_are_reported_not_guessed() -> None:
    result = run("cashback", cashback(transactionTime=["03/04/2026", "05/06/2026"]))
    assert [c for _, _, c in codes(result)] == ["ambiguous_date", "ambiguous_date"]
    forced = run("cashback", cashback(transactionTime=["03/04/2026", "05/06/2026"]),
                 date_order="MDY")
    assert forced.clean["transactionTime"].tolist() == [
        "2026-03-04T00:00:00.000Z", "2026-05-06T00:00:00.000Z"]
    assert any("month/day/year, as chosen" in n for n in forced.notes)


def test_future_times_are_refused_but_clock_skew_is_allowed() -> None:
    result = run("cashback", cashback(transactionTime=[
        "2026-11-25T12:04:00Z", "2026-11-25T12:06:00Z", "yesterday"]))
    assert codes(result) == [(3, "transactionTime", "future_time"),
                             (4, "transactionTime", "not_a_date")]


def test_dates_come_out_as_plain_days() -> None:
    data = frame({"customerId": ["a", "b"],
                  "customerAttributes.dateOfBirth": ["1993-04-02", "1990-01-01T00:00:00"]})
    assert run("customers", data).clean["customerAttributes.dateOfBirth"].tolist() == [
        "1993-04-02", "1990-01-01"]


# --- rows and files --------------------------------------------------------------------------


def test_one_bad_cell_never_hides_another() -> None:
    data = cashback(customerId=["", "c2", "c3"], amount=["12,5", "x", "5"],
                    transactionTime=["soon", "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"])
    assert codes(run("cashback", data)) == [
        (2, "customerId", "required"), (2, "transactionTime", "not_a_date"),
        (2, "amount", "decimal_comma"), (3, "amount", "not_a_number"),
        (4, "transactionTime", "future_time"),
    ]


def test_issue_table_has_the_contract_columns_even_when_empty() -> None:
    result = run("cashback", cashback(amount=["5"]))
    assert tuple(result.issues.columns) == ISSUE_COLUMNS
    assert result.issues.empty
    assert result.valid_count == 1


def test_redemptions_need_exactly_one_of_amount_points_or_hold() -> None:
    data = frame({"customerId": ["a", "b", "c"], "transactionId": ["1", "2", "3"],
                  "transactionTime": ["2026-01-01T00:00:00Z"] * 3,
                  "amount": ["5", "", ""], "points": ["10", "", "20"]})
    result = run("redemptions", data)
    assert [m for m in result.issues["message"]] == [
        "give exactly one of amount, points or hold reference; row has amount and points",
        "give exactly one of amount, points or hold reference; row has none of them",
    ]
    assert sorted(result.invalid_rows) == [2, 3]


def test_every_repeated_transaction_names_the_row_it_repeats() -> None:
    result = run("cashback", cashback(transactionId=["T1", "T2", "T1", "T1"]))
    assert result.issues["message"].tolist() == [
        "transactionId 'T1' repeats row 2; each one may appear only once in this batch"] * 2
    assert result.issues["row"].tolist() == [4, 5]


def test_repeated_customers_follow_the_type_policy() -> None:
    customers = run("customers", frame({"customerId": ["a", "b", "a"]}))
    assert codes(customers) == [(4, "customerId", "duplicate_key")]
    balances = run("balance-inquiries", frame({"customerId": ["a", "a"]}))
    assert balances.invalid_count == 0
    assert balances.warnings["row"].tolist() == [3]


def test_order_rows_must_agree_on_order_fields_and_fail_together() -> None:
    data = frame({
        "customerId": ["c1", "c1", "c2", "c3", "c3"],
        "orderId": ["SO-1", "SO-1", "SO-2", "SO-3", "SO-3"],
        "orderDate": ["2026-01-01T00:00:00Z"] * 5,
        "totalPaid": ["100", "100.0", "5", "7", "8"],
        "lineItems.productId": ["P1", "P2", "P3", "P4", "P5"],
        "lineItems.quantity": ["1", "2", "1", "1", "x"],
    })
    result = run("orders", data)
    assert codes(result) == [(5, "orderId", "order_incomplete"),
                             (6, "totalPaid", "inconsistent_order"),
                             (6, "lineItems.quantity", "not_a_number")]
    assert sorted(result.invalid_rows) == [5, 6]
    assert "differs from row 5" in issue(result, 6, "totalPaid")["message"]
    assert issue(result, 5, "orderId")["code"] == "order_incomplete"
    assert list(result.clean.index) == [2, 3, 4]


def test_missing_transaction_ids_are_generated_deterministically() -> None:
    data = frame({"customerId": ["a", "b"], "transactionTime": ["2026-01-01T00:00:00Z"] * 2,
                  "amount": ["1", "2"]})
    first = run("cashback", data, id_seed="abc")
    again = run("cashback", data, id_seed="abc")
    digest = hashlib.sha256(b"abc").hexdigest()[:10]
    assert first.clean["transactionId"].tolist() == [f"cashback-{digest}-2",
                                                     f"cashback-{digest}-3"]
    assert again.clean["transactionId"].tolist() == first.clean["transactionId"].tolist()
    assert any("generated" in n for n in first.notes)


def test_a_required_column_missing_from_the_file_fails_every_row() -> None:
    result = run("adjustments", frame({"customerId": ["a", "b"]}))
    assert codes(result) == [(2, "amount", "required"), (3, "amount", "required")]
    assert "has no column in the file" in result.issues["message"].iloc[0]


def test_every_type_validates_an_empty_file() -> None:
    for bt in BATCH_TYPES.values():
        empty = pd.DataFrame({"customerId": pd.Series([], dtype="str")},
                             index=pd.Index([], dtype="int64", name="row"))
        result = validate(bt, empty, now=NOW)
        assert result.total_rows == 0


def test_times_that_name_no_real_calendar_moment_are_reported_not_sent() -> None:
    times = [
        "2026-02-30T00:00:00Z",  # no 30 February
        "2025-02-29T00:00:00Z",  # not a leap year
        "2026-11-20T09:15:60Z",  # no 60th second
        "2026-11-20T24:00:00+02:00",  # no hour 24
        "2026-13-01T00:00:00Z",  # no month 13
        "2026-11-00T00:00:00Z",  # no day 0
        "2024-02-29T10:00:00Z",  # a real leap day
        "2026-09-30T23:59:59Z",  # the last second of a 30-day month
    ]
    result = run("cashback", cashback(transactionTime=times))
    assert codes(result) == [(r, "transactionTime", "not_a_date") for r in range(2, 8)]
    assert result.clean["transactionTime"].tolist() == [
        "2024-02-29T10:00:00.000Z",
        "2026-09-30T23:59:59.000Z",
    ]
