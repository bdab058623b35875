"""The new-batch figures tell an operator what is wrong and how values spread, without Streamlit."""

from __future__ import annotations

import pandas as pd

from gameball_batch.charts.intake import histogram_bins, issue_counts, issues_by_rule_figure

COLUMNS = ["row", "column", "field", "value", "code", "message"]


def _issues(*rows: tuple[int, str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def test_issue_counts_count_rows_not_cells_and_rank_the_commonest_first() -> None:
    issues = _issues(
        (2, "Amount", "amount", "12,5", "not_a_number", "amount must be a number, got '12,5'"),
        (3, "Amount", "amount", "x", "not_a_number", "amount must be a number, got 'x'"),
        (3, "Email", "email", "a@", "bad_email", "email is not an email address"),
        (4, "Customer", "customerId", "", "required", "customerId is required"),
        (4, "Amount", "amount", "", "required", "amount is required"),
    )
    counts = issue_counts(issues)
    assert counts["code"].tolist() == ["not_a_number", "bad_email", "required"]
    assert counts["rows"].tolist() == [2, 1, 1]
    assert counts.loc[2, "fields"] == "amount, customerId"
    assert counts.loc[0, "example"].startswith("amount must be a number")


def test_issues_by_rule_puts_the_commonest_rule_on_top() -> None:
    issues = _issues(
        (2, "A", "amount", "x", "not_a_number", "m"),
        (3, "A", "amount", "y", "not_a_number", "m"),
        (4, "C", "customerId", "", "required", "m"),
    )
    fig = issues_by_rule_figure(issues)
    bar = fig.data[0]
    # Horizontal bars draw bottom-up: the last category is the top bar.
    assert list(bar.y)[-1] == "not_a_number"
    assert list(bar.x) == [1, 2]


def test_issues_by_rule_with_no_issues_says_every_row_passed() -> None:
    fig = issues_by_rule_figure(pd.DataFrame(columns=COLUMNS))
    assert not fig.data
    assert "every row passed" in fig.layout.annotations[0].text


def test_histogram_bins_every_value_once_and_ignores_text() -> None:
    values = pd.Series([1.0, 2.0, 2.5, 10.0, None, "abc"], dtype=object)
    table = histogram_bins(values, bins=4)
    assert table["count"].sum() == 4
    assert table["left"].iloc[0] == 1.0
    assert table["right"].iloc[-1] == 10.0


def test_histogram_of_a_single_repeated_value_draws_one_full_bar() -> None:
    table = histogram_bins(pd.Series([50.0] * 7), bins=1)
    assert table["count"].tolist() == [7]
