"""Step 5 (review) and the warnings of step 4, as an operator meets them in the console.

A rerun that changes nothing draws the review from the cache (the counter of review
computations stays put); every section of the review is drawn with elements a fresh tab
shows at once; an outlier is a warning in step 4 with its row, editable there; an
adjustments file shows added, deducted and net.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import console_pages
import pytest
from console_pages import first_item_json, metric, open_console
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import review_model, services
from gameball_batch.ui import state as keys

PAST = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def cashback_csv(amounts: list[str]) -> bytes:
    lines = ["Customer ID,Transaction ID,Transaction Time,Amount"]
    lines += [f"cus-{1001 + n},INV-{n},{PAST},{a}" for n, a in enumerate(amounts)]
    return ("\n".join(lines) + "\n").encode()


def upload(name: str, data: bytes, *, slug: str) -> AppTest:
    """The whole console, one file uploaded to New batch as ``slug``."""
    return console_pages.upload(open_console(), name, data, slug=slug)


def test_a_rerun_that_changes_nothing_does_not_recompute_the_review() -> None:
    before = review_model.computations
    at = upload("ok.csv", cashback_csv(["10.50", "11.50", "12.50"]), slug="cashback")
    assert metric(at, "Total amount") == "34.50"
    built = review_model.computations
    assert built == before + 2  # the impact and the plan, each once for this file
    at.run()
    at.checkbox(key=keys.NB_CONFIRM).check().run()  # a widget that the review does not read
    assert not at.exception
    assert metric(at, "Total amount") == "34.50"
    assert review_model.computations == built


def test_the_review_shows_its_spread_largest_rows_and_first_item_without_heavy_scripts() -> None:
    at = upload("ok.csv", cashback_csv(["10.50", "11.50", "12.50", "99.00"]), slug="cashback")
    (chart,) = [h.proto.body for h in at.get("html") if "Distribution of amount" in h.proto.body]
    tips = re.findall(r'title="([^"]*)"', chart)  # what hovering each bar says
    assert tips[0] == "10.50 to 12.71: 3 rows"
    assert tips[-1] == "96.79 to 99.00: 1 row"
    assert sum(int(t.rsplit(": ", 1)[1].split()[0]) for t in tips) == 4
    table = next(m.value for m in at.markdown if m.value.startswith("| row |"))
    first_line = table.splitlines()[2]  # under the header and its rule: the largest row
    assert first_line.startswith("| 5 |")  # Excel row 5
    assert "99.00" in first_line
    assert json.loads(first_item_json(at))["transactionId"] == "INV-0"
    # Plotly, the data grid and the code highlighter each load megabytes of script in a
    # fresh tab before they draw (bench/README.md, Console, "Session 5"): none of them here.
    assert not at.get("plotly_chart")
    assert not at.dataframe
    assert not at.code


def test_an_outlier_is_a_warning_in_step_4_with_its_row_and_can_be_fixed_there() -> None:
    amounts = ["10"] * 20 + ["5000"]  # the last row is Excel row 22
    at = upload("outlier.csv", cashback_csv(amounts), slug="cashback")
    assert metric(at, "Invalid") == "0"
    assert metric(at, "Warnings") == "1"
    table = next(d.value for d in at.dataframe if "severity" in d.value.columns)
    outlier = table[table["code"] == "outlier"]
    assert outlier["row"].tolist() == [22]
    assert outlier["severity"].tolist() == ["warning"]
    editor = at.data_editor[0]
    assert [int(r) for r in editor.value.index] == [22]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"Amount": "50"}}, "added_rows": [], "deleted_rows": [],
    }
    at.button(key=keys.NB_APPLY_FIXES).click().run()
    assert not at.exception
    assert metric(at, "Warnings") == "0"
    assert metric(at, "Total amount") == "250.00"


def test_any_row_can_be_found_and_edited() -> None:
    at = upload("ok.csv", cashback_csv(["10.50", "11.50", "12.50"]), slug="cashback")
    assert not at.data_editor  # nothing failing or warned: no editor yet
    at = upload("warn.csv", cashback_csv(["10"] * 20 + ["5000"]), slug="cashback")
    at.number_input(key=keys.NB_FIND_ROW).set_value(3).run()
    assert [int(r) for r in at.data_editor[0].value.index] == [3, 22]


def test_adjustments_show_added_deducted_and_net() -> None:
    data = (b"Customer ID,Amount,Reason\ncus-1,500,bonus\ncus-2,500,bonus\n"
            b"cus-3,-100,correction\n")
    at = upload("adjust.csv", data, slug="adjustments")
    assert metric(at, "Added amount") == "1,000.00"
    assert metric(at, "Deducted amount") == "100.00"
    assert metric(at, "Net amount") == "900.00"


def test_the_whole_file_is_drawn_only_when_the_operator_asks_for_it() -> None:
    # The whole file is the one table with the file's own headers.
    def whole_file(at: AppTest) -> list[object]:
        return [d.value for d in at.dataframe if "Transaction ID" in d.value.columns]

    at = upload("ok.csv", cashback_csv(["10.50", "11.50", "12.50"]), slug="cashback")
    assert whole_file(at) == []  # not registered (and sent) on every run of the page
    at.toggle(key=keys.NB_SHOW_WHOLE_FILE).set_value(True).run()
    assert not at.exception
    (shown,) = whole_file(at)
    assert list(shown["Transaction ID"]) == ["INV-0", "INV-1", "INV-2"]  # type: ignore[index]
