"""Times in the usual export shape (2026-11-20T09:15:00Z in every cell) are read from their
bytes; every such column must read exactly as the general parsers read the same cells.

Each test validates a column whose cells are all 20 bytes (or blank), which takes the
byte-wise reading, and the same cells with one more cell of another width, which sends the
whole column through the general parsers; what the operator sees for the shared rows (the
issues, their messages, the values sent) must be the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from gameball_batch import parsing, utc_grid
from gameball_batch.batch_types import get
from gameball_batch.validate import ValidationResult, validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OTHER_WIDTH = "2026-01-01T00:00:00+02:00"  # an offset: 25 bytes, so no byte-wise reading

EDGE_CASES = [
    "2026-11-20T09:15:00Z",  # the usual
    "2024-02-29T10:00:00Z",  # a real leap day
    "2000-02-29T00:00:00Z",  # a century that is a leap year
    "1900-02-29T00:00:00Z",  # a century that is not
    "2025-02-29T00:00:00Z",  # not a leap year
    "2026-02-30T00:00:00Z",  # no 30 February
    "2026-04-31T00:00:00Z",  # no 31 April
    "2026-01-31T23:59:59Z",  # the last second of a 31-day month
    "2026-09-30T23:59:59Z",  # the last second of a 30-day month
    "2026-11-20T24:00:00Z",  # no hour 24
    "2026-11-20T23:60:00Z",  # no minute 60
    "2026-11-20T09:15:60Z",  # no 60th second (arrow's strptime accepts it)
    "2026-11-20T09:15:61Z",
    "2026-13-01T00:00:00Z",  # no month 13
    "2026-00-10T00:00:00Z",  # no month 0
    "2026-11-00T00:00:00Z",  # no day 0
    "2026-11-32T00:00:00Z",
    "0000-01-01T00:00:00Z",  # the first moment the calendar names
    "0000-02-29T00:00:00Z",  # year 0 is a leap year (proleptic Gregorian)
    "1969-12-31T23:59:59Z",  # before the epoch
    "9999-12-31T23:59:59Z",  # the future
    "2026-11-25T12:05:00Z",  # exactly at the clock skew allowed: not future
    "2026-11-25T12:05:01Z",  # one second past it: future
    "2026-11-20t09:15:00Z",  # lower-case t and z: other ISO forms, read by the ISO parser
    "2026-11-20T09:15:00z",
    "2026-11-20 09:15:00Z",  # a space for the T
    "2026-11-20T09:15 +02",  # an offset without seconds, 20 bytes
    "2026-11-20T09:15:0.5",  # a fraction where the seconds should be
    "2026-1-20T09:15:00ZZ",  # 20 bytes, the wrong shape
    "20.11.2026 09:15 p.m",  # a slashed date with a 12-hour clock, 20 bytes
    "2026/11/20T09:15:00Z",  # slashes in an ISO date
    "2026-11-20T09:15:00Q",  # not a zone
    "abcdefghijklmnopqrst",  # text
    "٢٠٢٤-٠٢-٢٩T١٠:٠٠:٠٠Z",  # Arabic-Indic digits: 20 bytes once read as digits
    "٢٠٢٦-٠٢-٣٠T١٠:٠٠:٠٠Z",  # … and no 30 February in any script
    "2026-11-20T09:15:0Ż",  # a non-ASCII letter (two bytes) in the zone's place
]


def times_frame(times: list[str]) -> pd.DataFrame:
    n = len(times)
    index = pd.RangeIndex(2, n + 2, name="row")
    columns = {
        "customerId": [f"cus-{1000 + i}" for i in range(n)],
        "transactionId": [f"INV-{i}" for i in range(n)],
        "transactionTime": times,
        "amount": ["10"] * n,
    }
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def seen(result: ValidationResult, rows: int) -> tuple[list[tuple[object, ...]], list[object]]:
    """(issues of the first ``rows`` rows, the time sent for each of those rows or None)."""
    issues = result.issues[result.issues["row"] < rows + 2]
    sent = result.clean["transactionTime"].reindex(range(2, rows + 2))
    return ([tuple(r) for r in issues.itertuples(index=False)],
            [None if pd.isna(v) else v for v in sent.tolist()])


def read_both(times: list[str]) -> tuple[object, object]:
    cashback = get("cashback")
    byte_wise = validate(cashback, times_frame(times), now=NOW)
    general = validate(cashback, times_frame([*times, OTHER_WIDTH]), now=NOW)
    return seen(byte_wise, len(times)), seen(general, len(times))


def test_the_edge_cases_take_the_byte_wise_reading_and_the_other_width_does_not() -> None:
    # Else the comparisons below would compare the general parsers with themselves.
    texts = parsing.western_digits(pa.array(EDGE_CASES), decimal=".")
    assert utc_grid.read(texts) is not None
    assert utc_grid.read(pa.array(["", *EDGE_CASES[:3], ""])) is not None
    assert utc_grid.read(pa.concat_arrays([texts, pa.array([OTHER_WIDTH])])) is None


def test_every_edge_case_reads_as_the_general_parsers_read_it() -> None:
    byte_wise, general = read_both(EDGE_CASES)
    assert byte_wise == general


@pytest.mark.parametrize("blank_at", [0, 3, len(EDGE_CASES) - 1])
def test_a_column_with_blank_cells_reads_the_same(blank_at: int) -> None:
    times = list(EDGE_CASES)
    times[blank_at] = ""
    byte_wise, general = read_both(times)
    assert byte_wise == general


def test_what_an_operator_sees_for_the_usual_shape() -> None:
    times = ["2024-02-29T10:00:00Z", "2026-02-30T00:00:00Z", "2026-11-25T12:05:01Z",
             "2026-11-20T09:15:60Z", "2026-09-30T23:59:59Z"]
    result = validate(get("cashback"), times_frame(times), now=NOW)
    assert [(int(r), c) for r, c in result.issues[["row", "code"]].itertuples(index=False)] == [
        (3, "not_a_date"), (4, "future_time"), (5, "not_a_date")]
    assert result.clean["transactionTime"].tolist() == [
        "2024-02-29T10:00:00.000Z", "2026-09-30T23:59:59.000Z"]


def test_every_second_of_a_leap_february_day_boundary_matches() -> None:
    base = datetime(2024, 2, 28, 23, 59, 0, tzinfo=UTC).timestamp()
    times = [datetime.fromtimestamp(base + s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
             for s in range(0, 86_400 + 120, 997)]
    byte_wise, general = read_both(times)
    assert byte_wise == general
    assert all(v is not None for v in byte_wise[1])  # type: ignore[index]
