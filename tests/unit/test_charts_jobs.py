"""The jobs page's figures say what an operator needs at a glance, without Streamlit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gameball_batch.charts.jobs import (
    STATE_COLOURS,
    chunk_grid_figure,
    failures_figure,
    progress_figure,
)

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_progress_draws_applied_and_failed_up_to_the_total() -> None:
    times = [T0 + timedelta(seconds=s) for s in (0, 5, 10)]
    fig = progress_figure(
        times, {"applied": [1000, 1990, 2980], "failed": [0, 10, 20]}, total=5000
    )
    names = [t.name for t in fig.data]
    assert names == ["applied", "failed"]
    assert list(fig.data[0].y) == [1000, 1990, 2980]
    assert list(fig.data[1].y) == [0, 10, 20]
    ceiling = [s for s in fig.layout.shapes if s.type == "line"]
    assert ceiling
    assert ceiling[0].y0 == 5000
    assert "5,000 rows" in fig.layout.annotations[0].text


def test_progress_with_nothing_finished_says_so() -> None:
    fig = progress_figure([], {"applied": []}, total=10)
    assert not fig.data
    assert "No rows have finished yet" in fig.layout.annotations[0].text


def test_progress_counts_in_the_unit_it_is_given() -> None:
    fig = progress_figure([T0], {"finished": [1000]}, total=3000, unit="items")
    assert fig.layout.yaxis.title.text == "items"
    assert "3,000 items" in fig.layout.annotations[0].text


def test_chunk_grid_has_one_square_per_chunk_coloured_by_state() -> None:
    states = ["done"] * 5 + ["failed"] * 2 + ["unknown"] + ["pending"] * 3
    fig = chunk_grid_figure(states, columns=4)
    by_colour = {t.marker.color: len(t.x) for t in fig.data}
    assert by_colour == {
        STATE_COLOURS["done"]: 5,
        STATE_COLOURS["failed"]: 2,
        STATE_COLOURS["unknown"]: 1,
        STATE_COLOURS["pending"]: 3,
    }
    assert sum(len(t.x) for t in fig.data) == len(states)
    legend = {t.name for t in fig.data}
    assert "in doubt (1)" in legend
    assert "done (5)" in legend


def test_chunk_grid_places_chunks_in_reading_order() -> None:
    fig = chunk_grid_figure(["done", "done", "done", "failed", "done"], columns=2)
    failed = next(t for t in fig.data if t.marker.color == STATE_COLOURS["failed"])
    # chunk 4 (0-based 3) sits in the second column of the second row
    assert (failed.x[0], failed.y[0]) == (1, 1)
    assert list(failed.customdata) == [4]


def test_chunk_grid_survives_a_state_it_does_not_know() -> None:
    fig = chunk_grid_figure(["done", "paused"])
    assert {t.name for t in fig.data} == {"done (1)", "paused (1)"}


def test_chunk_grid_of_a_million_row_job_stays_small() -> None:
    fig = chunk_grid_figure(["done"] * 600 + ["pending"] * 400)
    assert sum(len(t.x) for t in fig.data) == 1000
    assert fig.layout.height <= 520


def test_failures_are_ranked_most_frequent_first_on_top() -> None:
    fig = failures_figure({"customer not found": 3, "amount too large": 12, "ok": 0})
    bar = fig.data[0]
    # horizontal bars draw bottom-up, so the biggest is last
    assert list(bar.y) == ["customer not found", "amount too large"]
    assert list(bar.x) == [3, 12]


def test_failures_beyond_the_top_fold_into_other() -> None:
    counts = {f"message {i}": 100 - i for i in range(15)}
    fig = failures_figure(counts, top=5)
    labels = list(fig.data[0].y)
    assert labels[0] == "10 other messages"
    assert fig.data[0].x[0] == sum(100 - i for i in range(5, 15))


def test_long_failure_messages_are_shortened_for_the_axis() -> None:
    fig = failures_figure({"x" * 300: 1})
    assert len(fig.data[0].y[0]) <= 70
    assert fig.data[0].y[0].endswith("…")


def test_no_failures_draws_a_reassuring_empty_figure() -> None:
    fig = failures_figure({})
    assert "No failed rows" in fig.layout.annotations[0].text
