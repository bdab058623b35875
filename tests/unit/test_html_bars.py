"""The review's histogram, as the operator reads it: bars, their ranges and counts on hover,
negative bins in another colour, labelled axes; drawn from bins, never from every row."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd

from gameball_batch.charts.html_bars import NEGATIVE_COLOUR, histogram_html, nice_step
from gameball_batch.charts.intake import histogram_bins


class _Read(HTMLParser):
    """The bars (their tooltip and style) and every piece of visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "div" and found.get("title"):
            self.bars.append((str(found["title"]), str(found.get("style"))))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def read(values: list[float], *, label: str = "amount", unit: str = "amount",
         bins: int = 40) -> _Read:
    page = _Read()
    page.feed(histogram_html(histogram_bins(pd.Series(values), bins=bins), label=label,
                             unit=unit))
    return page


def rows_in(title: str) -> int:
    return int(title.rsplit(": ", 1)[1].split()[0].replace(",", ""))


def test_every_row_is_in_one_bar_and_each_bar_says_its_range_and_count() -> None:
    page = read([1.0, 2.0, 2.5, 10.0], bins=4)
    assert len(page.bars) == 4
    assert [rows_in(title) for title, _ in page.bars] == [3, 0, 0, 1]
    assert page.bars[0][0] == "1.00 to 3.25: 3 rows"
    assert page.bars[-1][0] == "7.75 to 10.00: 1 row"
    assert "Distribution of amount" in page.text


def test_a_large_file_is_drawn_from_bins_not_rows() -> None:
    page = read([float(n) for n in range(100_000)], label="points", unit="points")
    assert len(page.bars) == 40
    assert sum(rows_in(title) for title, _ in page.bars) == 100_000
    assert page.bars[0][0].startswith("0 to 2,500")  # points are whole numbers


def test_negative_bins_stand_out() -> None:
    page = read([-40.0, -10.0, 5.0, 20.0, 30.0], bins=5)
    assert NEGATIVE_COLOUR in page.bars[0][1]
    assert NEGATIVE_COLOUR not in page.bars[-1][1]


def test_the_top_bin_is_labelled_on_the_axis() -> None:
    page = read([1.0, 2.0, 5.0, 100.0])
    assert "1.00" in page.text
    assert "100.00" in page.text  # the last label is the top bin's upper edge
    assert page.text[-1] == "amount"  # the x axis' title


def test_a_lone_outlier_bar_stays_visible() -> None:
    page = read([10.0] * 1_000_000 + [5_000.0])
    assert "max(1px" in page.bars[-1][1]


def test_no_values_says_so() -> None:
    page = read([])
    assert not page.bars
    assert "No amount values to show." in page.text


def test_the_rows_axis_steps_are_round_numbers() -> None:
    assert [nice_step(n) for n in (3, 10, 3_336, 25_000, 1_000_000)] == [
        1.0, 5.0, 1_000.0, 10_000.0, 500_000.0]
