"""The new-batch working state: fixes land on the right source rows, pages stay small."""

from __future__ import annotations

import pandas as pd

from gameball_batch.batch_types import get
from gameball_batch.ui import intake_model as model


def _frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {"Customer": ["cus-1", "", "cus-3", "cus-4"], "Amount": ["10", "12,5", "x", "7"]},
        index=pd.Index([2, 3, 4, 5], name="row"),
    )
    return frame.astype(str)


def test_fixes_change_only_the_named_cells_and_keep_row_numbers() -> None:
    fixed = model.apply_fixes(_frame(), {3: {"Amount": "12.5", "Customer": "cus-2"}})
    assert fixed.loc[3, "Amount"] == "12.5"
    assert fixed.loc[3, "Customer"] == "cus-2"
    assert fixed.loc[4, "Amount"] == "x"
    assert list(fixed.index) == [2, 3, 4, 5]


def test_fixes_for_rows_or_columns_that_are_gone_are_ignored() -> None:
    original = _frame()
    fixed = model.apply_fixes(original, {99: {"Amount": "1"}, 2: {"Nope": "1"}})
    assert fixed.equals(original)


def test_editor_edits_map_from_page_positions_to_source_rows() -> None:
    failing = model.failing_rows(_frame(), frozenset({3, 4}), ["Customer", "Amount"])
    problems = pd.Series({3: "customerId is required", 4: "amount must be a number"})
    page = model.editor_page(failing, problems, 1)
    assert page.columns[0] == model.PROBLEMS_COLUMN
    assert page.loc[4, model.PROBLEMS_COLUMN] == "amount must be a number"
    fixes = model.edits_to_fixes(
        page, {1: {"Amount": "8", model.PROBLEMS_COLUMN: "ignored"}}, {3: {"Customer": "c"}}
    )
    assert fixes == {3: {"Customer": "c"}, 4: {"Amount": "8"}}


def test_a_hundred_thousand_failing_rows_reach_the_editor_one_page_at_a_time() -> None:
    rows = pd.Index(range(2, 100_002), name="row")
    frame = pd.DataFrame({"Amount": ["x"] * len(rows)}, index=rows).astype(str)
    failing = model.failing_rows(frame, frozenset(rows), ["Amount"])
    assert model.page_count(len(failing)) == 500
    last = model.editor_page(failing, pd.Series(dtype=str), 500)
    assert len(last) == model.PAGE_SIZE
    assert last.index[-1] == 100_001
    beyond = model.editor_page(failing, pd.Series(dtype=str), 9999)
    assert beyond.index[0] == last.index[0]


def test_cache_keeps_results_and_forgets_the_oldest() -> None:
    cache = model.IntakeCache(entries=2)
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name.upper()

    assert cache.get("table", "a", lambda: compute("a")) == "A"
    assert cache.get("table", "a", lambda: compute("a")) == "A"
    cache.get("table", "b", lambda: compute("b"))
    cache.get("table", "c", lambda: compute("c"))
    cache.get("table", "a", lambda: compute("a"))
    assert calls == ["a", "b", "c", "a"]


def test_fixes_key_ignores_order_and_changes_with_content() -> None:
    assert model.fixes_key({}) == ""
    one = model.fixes_key({3: {"A": "1", "B": "2"}, 4: {"A": "x"}})
    same = model.fixes_key({4: {"A": "x"}, 3: {"B": "2", "A": "1"}})
    assert one == same
    assert one != model.fixes_key({3: {"A": "1", "B": "3"}, 4: {"A": "x"}})


def test_required_fields_come_first_in_the_mapping_step() -> None:
    bt = get("cashback")
    fields = model.ordered_fields(bt)
    required = [f.path for f in bt.required]
    assert fields[: len(required)] == required
    assert set(fields) == {f.path for f in bt.fields}


def test_issue_filters_narrow_by_field_and_rule() -> None:
    issues = pd.DataFrame(
        [(2, "A", "amount", "x", "not_a_number", "m"), (3, "C", "customerId", "", "required", "m"),
         (4, "A", "amount", "", "required", "m")],
        columns=["row", "column", "field", "value", "code", "message"],
    )
    assert len(model.filter_issues(issues)) == 3
    assert model.filter_issues(issues, fields=["amount"])["row"].tolist() == [2, 4]
    only = model.filter_issues(issues, fields=["amount"], codes=["required"])
    assert only["row"].tolist() == [4]


def test_typed_confirmation_accepts_separators_but_not_another_number() -> None:
    assert model.confirmation_matches("12,000", 12000)
    assert model.confirmation_matches(" 12000 ", 12000)
    assert not model.confirmation_matches("1200", 12000)
    assert not model.confirmation_matches("yes", 12000)


def test_held_file_fingerprint_is_the_sha256_of_its_bytes() -> None:
    held = model.HeldFile("a.csv", b"customerId\ncus-1\n")
    assert len(held.fingerprint) == 64
    assert held.size_text == "17 bytes"
