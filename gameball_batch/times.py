"""Timestamps and dates: spreadsheet text → UTC text exactly as Gameball wants it.

Reads, in order: whole columns of Excel serial day numbers (only when every cell is one),
``2026-11-20T09:15:00Z`` (read from the bytes by utc_grid.py when every cell has that
width), offsets (arrow's strptime, then a byte-wise calendar check), other ISO-8601 shapes,
and slashed dates ``20/11/2026 09:15`` with an optional 12-hour clock (AM/PM, ص/م),
day/month order decided per column. Output is
``YYYY-MM-DDTHH:MM:SS.mmmZ`` (or ``YYYY-MM-DD`` for dates), built byte-wise. Arabic-Indic
digits and direction marks are made ASCII before these parsers run (parsing.py).

Split out of ``validate.py``; :func:`parse_time` is its parser for TIMESTAMP and DATE
fields. This module must not read files or import streamlit.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch import utc_grid
from gameball_batch.batch_types import Kind
from gameball_batch.cells import (
    Column,
    Context,
    Issues,
    as_mask,
    cell_texts,
    matches,
    spans,
    to_str_series,
)

CLOCK_SKEW_MS = 5 * 60 * 1000  # a time up to 5 minutes ahead of our clock is not "future"
# Excel serial day numbers of 1950-01-01 … 2100-12-31, and Excel's day 0 (1899-12-30).
_SERIAL_MIN, _SERIAL_MAX = 18264, 73415
_EXCEL_EPOCH_MS = -2209161600000
_SERIAL = r"^\d{5}(?:\.\d+)?$"
_SERIAL_RE = re.compile(_SERIAL, re.ASCII)
_ISO = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?:\s*(?:Z|z|[+-]\d{2}(?::?\d{2})?))?)?$"
)
_CANONICAL_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # our output minus ".000"
_ZONED = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
_SLASHED = (
    r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{4})"
    r"(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?"
    r"(?:\s*(?P<ap>[AaPp]\.?[Mm]\.?|\x{0635}|\x{0645}))?)?$"  # 9:15 PM, ٩:١٥ م (ص = AM, م = PM)
)
_PM = ("p", "\u0645")  # first letter of PM / p.m., and Arabic م


# --- timestamps and dates ------------------------------------------------------------------


def parse_time(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    is_date = col.spec.kind is Kind.DATE
    text = pc.replace_substring_regex(col.text, r"[T ].*$", "") if is_date else col.text
    # Epoch milliseconds of the cells the general parsers read; cells of the fixed-width
    # grid are judged from their digits instead (utc_grid.py) and keep the sentinel.
    millis = np.full(len(text), np.iinfo("int64").min, dtype="int64")
    parsed = np.zeros(len(text), dtype=bool)
    naive = _parse_serial(col, text, millis, parsed, ctx)
    grid = None if is_date or parsed.any() else utc_grid.read(text)
    todo = ~col.blank & ~parsed
    if grid is not None:  # the usual export: 2026-11-20T09:15:00Z in every cell
        parsed |= grid.real
        todo &= ~grid.shaped  # a shaped cell that is no real moment is no zoned time either
    _parse_zoned(text, todo, millis, parsed)
    naive += _parse_iso(text, ~col.blank & ~parsed, millis, parsed)
    naive += _parse_slashed(col, text, millis, parsed, issues, ctx)
    if naive and not is_date:
        ctx.notes.append(f"{col.subject}: {naive:,} time(s) without a time zone were read as "
                         "UTC.")
    unparsed = ~col.blank & ~parsed & ~issues.bad  # ambiguous dates were reported already
    example = "2026-11-20" if is_date else "2026-11-20T09:15:00Z"
    issues.add(col.spec.path, unparsed, cell_texts(col.original, unparsed), "not_a_date",
               lambda _r, v: f"{col.subject} must be a date{'' if is_date else ' and time'} "
               f"like {example}, got '{v}'")
    ok = parsed.copy()
    if col.spec.past_only:
        limit = ctx.now_ms + CLOCK_SKEW_MS
        later = millis > limit
        if grid is not None:
            later |= grid.later_than(limit)
        future = ok & later
        issues.add(col.spec.path, future, cell_texts(col.original, future), "future_time",
                   lambda _r, v: f"{col.subject} is in the future, got '{v}'; Gameball "
                   "refuses future times")
        ok &= ~future
    out = _utc_text(text, millis, ok, date_only=is_date, grid=grid)
    return to_str_series(out, ~ok, ctx.index)


def _utc_text(
    text: pa.Array, millis: np.ndarray, ok: np.ndarray, *, date_only: bool,
    grid: utc_grid.SecondsGrid | None,
) -> pa.Array:
    """The output text of each parsed time; cells already in the output form are reused."""
    if date_only:
        return _format_millis(np.where(ok, millis, 0), date_only=True)
    if grid is not None:  # every cell is 20 bytes: shaped ones get ".000" byte-wise
        whole, out = grid.shaped & ok, utc_grid.canonical_text(grid)
    else:
        whole = ok & matches(text, _CANONICAL_SECONDS)
        out = _concat_text(pc.utf8_slice_codeunits(text, 0, 19), ".000Z")
    redo = ok & ~whole
    if redo.any():
        fresh = _format_millis(millis[redo], date_only=False)
        out = pc.replace_with_mask(out, pa.array(redo), fresh.cast(out.type))
    return out


def _concat_text(arr: pa.Array, tail: str) -> pa.Array:
    return pc.binary_join_element_wise(arr, pa.scalar(tail, arr.type), pa.scalar("", arr.type))


def _parse_serial(
    col: Column, text: pa.Array, millis: np.ndarray, done: np.ndarray, ctx: Context,
) -> int:
    """Excel serial day numbers (46346.5 = 2026-11-20 12:00), only when every given cell of
    the column is one in 1950–2100: then the column clearly holds dates that lost their
    format. Anything less is reported cell by cell as not a date. Returns how many."""
    given = ~col.blank
    if not given.any() or not _SERIAL_RE.match(str(text[int(np.argmax(given))].as_py())):
        return 0  # the usual case, decided by one cell: every given cell must be a serial
    if not matches(text, _SERIAL)[given].all():
        return 0
    days = np.asarray(pc.cast(pc.if_else(pa.array(given), text, "0"), pa.float64()),
                      dtype="float64")
    if not ((days[given] >= _SERIAL_MIN) & (days[given] <= _SERIAL_MAX)).all():
        return 0
    millis[given] = _EXCEL_EPOCH_MS + np.round(days[given] * 86_400_000).astype("int64")
    done |= given
    first = int(np.argmax(given))
    shown = _format_millis(millis[first : first + 1], date_only=col.spec.kind is Kind.DATE)
    ctx.notes.append(f"{col.subject}: the cells are Excel date numbers (e.g. "
                     f"{text[first].as_py()} = {shown[0].as_py()}); they were read as "
                     "dates. Format the column as dates in Excel to see them as such.")
    return int(given.sum()) if col.spec.kind is Kind.TIMESTAMP else 0


def _parse_zoned(text: pa.Array, todo: np.ndarray, millis: np.ndarray, done: np.ndarray) -> None:
    """2026-11-20T09:15:00Z or with an offset (converted to UTC), for the ``todo`` cells."""
    if not todo.any():
        return
    where = np.flatnonzero(todo)
    subset = text if len(where) == len(text) else text.filter(pa.array(todo))
    stamps = pc.strptime(subset, format="%Y-%m-%dT%H:%M:%S%z", unit="ms", error_is_null=True)
    hit = _real_calendar(subset, as_mask(pc.is_valid(stamps)))
    values = pc.cast(pc.cast(stamps, pa.timestamp("ms")), pa.int64())
    millis[where[hit]] = np.asarray(pc.fill_null(values, 0).to_numpy(), dtype="int64")[hit]
    done[where[hit]] = True


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _real_calendar(text: pa.Array, hit: np.ndarray) -> np.ndarray:
    """``hit`` without the cells that name no real time.

    Arrow's strptime accepts 2026-02-30 and a 60th second; those cells must fall through
    to the stricter parsers and be reported, never be sent as they are. Every hit cell
    starts with the ASCII digits of YYYY-MM-DDTHH:MM:SS, so each part is read straight
    from the bytes at fixed places (a string slice and cast per part cost 10x more).
    """
    where = np.flatnonzero(hit)
    if not where.size or text.null_count:
        return hit if not where.size else _real_calendar(pc.fill_null(text, ""), hit)
    offsets, data = spans(text)
    widths = np.diff(offsets)
    if (widths == widths[0]).all():  # the usual column of one shape: a zero-copy grid
        grid = data[int(offsets[0]) : int(offsets[-1])].reshape(len(text), int(widths[0]))
        if where.size < len(text):
            grid = grid[where]

        def byte(at: int) -> np.ndarray:
            return grid[:, at]
    else:
        starts = offsets[:-1][where].astype(np.int64)

        def byte(at: int) -> np.ndarray:
            return data[starts + at]

    # Most cells cannot be wrong: only a day of 29 or more (or 00), a month over 12 (or 00),
    # an hour from 24, or minutes/seconds from 60 need the arithmetic below.
    b = {at: byte(at) for at in (5, 6, 8, 9, 11, 12, 14, 17)}
    zero, one, two, three, six = (np.uint8(ord(c)) for c in "01236")
    doubtful = (b[8] >= three) | ((b[8] == two) & (b[9] == np.uint8(ord("9"))))
    doubtful |= (b[8] == zero) & (b[9] == zero)
    doubtful |= (b[5] > one) | ((b[5] == one) & (b[6] > two)) | ((b[5] == zero) & (b[6] == zero))
    doubtful |= (b[11] > two) | ((b[11] == two) & (b[12] > three))
    doubtful |= (b[14] >= six) | (b[17] >= six)
    pick = np.flatnonzero(doubtful)
    if not pick.size:
        return hit

    def part(first: int, stop: int) -> np.ndarray:
        value = np.zeros(pick.size, dtype=np.int32)
        for at in range(first, stop):
            value = value * 10 + (byte(at)[pick].astype(np.int32) - 0x30)
        return value

    year, month, day = part(0, 4), part(5, 7), part(8, 10)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _DAYS_IN_MONTH[np.clip(month - 1, 0, 11)] + ((month == 2) & leap)
    real = (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
    real &= (part(11, 13) <= 23) & (part(14, 16) <= 59) & (part(17, 19) <= 59)
    out = hit.copy()
    out[where[pick[~real]]] = False
    return out


def _parse_iso(text: pa.Array, todo: np.ndarray, millis: np.ndarray, done: np.ndarray) -> int:
    """Other ISO-8601 shapes (fractions, naive, space, date only); the count of naive ones."""
    if not todo.any():
        return 0
    shaped = todo & matches(text, _ISO)
    if not shaped.any():
        return 0
    subset = text.filter(pa.array(shaped))
    stamps = pd.to_datetime(pd.Series(subset.to_pandas()), format="ISO8601", utc=True,
                            errors="coerce")
    good = stamps.notna().to_numpy()
    where = np.flatnonzero(shaped)[good]
    millis[where] = _epoch_millis(stamps[good])
    done[where] = True
    zoned = as_mask(pc.match_substring_regex(subset, r"\d{2}:\d{2}.*" + _ZONED))
    return int((good & ~zoned & as_mask(pc.match_substring_regex(subset, r"[T ]\d"))).sum())


def _parse_slashed(
    col: Column, text: pa.Array, millis: np.ndarray, done: np.ndarray,
    issues: Issues, ctx: Context,
) -> int:
    """Spreadsheet forms like 20/11/2026 09:15 (day/month order decided per column).

    Returns how many were read (all of them have no time zone).
    """
    todo = ~col.blank & ~done
    if not todo.any():
        return 0
    todo &= matches(text, _SLASHED)
    if not todo.any():
        return 0
    where = np.flatnonzero(todo)
    parts = pc.extract_regex(text.filter(pa.array(todo)), _SLASHED)
    num = {k: _ints(parts.field(k)) for k in ("a", "b", "y", "h", "mi", "s")}
    num["h"] = _twelve_hour(num["h"], parts.field("ap"))
    first, second = num["a"], num["b"]
    month_first = second > 12
    order = _date_order(col, first, second, where, issues, ctx)
    if order == "DMY":
        day, month = first, second
    elif order == "MDY":
        day, month = second, first
    else:  # mixed column: each row by its own evidence; ambiguous rows were reported
        day = np.where(month_first, second, first)
        month = np.where(month_first, first, second)
    # pandas adds hours, minutes and seconds as durations (25:00 would be the next day):
    # a time off the clock makes the month impossible, so the cell is reported instead.
    off_clock = (num["h"] > 23) | (num["mi"] > 59) | (num["s"] > 59)
    month = np.where(off_clock, 13, month)
    stamps = pd.to_datetime(
        pd.DataFrame({"year": num["y"], "month": month, "day": day, "hour": num["h"],
                      "minute": num["mi"], "second": num["s"]}),
        errors="coerce", utc=True,
    )
    good = stamps.notna().to_numpy() & ~issues.bad[where]
    millis[where[good]] = _epoch_millis(stamps[good])
    done[where[good]] = True
    return int(good.sum())


def _twelve_hour(hours: np.ndarray, marker: pa.Array) -> np.ndarray:
    """Hours of 12-hour times (AM/PM, ص/م) on the 24-hour clock; an hour outside 1–12 with
    a marker becomes 99, which no calendar accepts, so the cell is reported."""
    marked = as_mask(pc.not_equal(marker, ""))
    if not marked.any():
        return hours
    pm = as_mask(pc.is_in(pc.utf8_slice_codeunits(pc.utf8_lower(marker), 0, 1),
                      value_set=pa.array(_PM)))
    out = hours.copy()
    out[marked] = hours[marked] % 12 + np.where(pm[marked], 12, 0)
    out[marked & ((hours < 1) | (hours > 12))] = 99
    return out


def _epoch_millis(stamps: pd.Series) -> np.ndarray:
    naive = stamps.dt.tz_localize(None).to_numpy()
    out: np.ndarray = naive.astype("datetime64[ms]").astype("int64")
    return out


def _ints(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(pc.if_else(pc.equal(arr, ""), "0", arr), pa.int64()).to_numpy(),
                      dtype="int64")


def _date_order(
    col: Column, first: np.ndarray, second: np.ndarray, where: np.ndarray,
    issues: Issues, ctx: Context,
) -> str | None:
    """"DMY", "MDY" or None (mixed); reports ambiguous rows when the column cannot decide."""
    if ctx.date_order in ("DMY", "MDY"):
        word = "day/month/year" if ctx.date_order == "DMY" else "month/day/year"
        ctx.notes.append(f"{col.subject}: dates with slashes read as {word}, as chosen.")
        return ctx.date_order
    proves_dmy, proves_mdy = bool((first > 12).any()), bool((second > 12).any())
    if proves_dmy != proves_mdy:
        order = "DMY" if proves_dmy else "MDY"
        witness = int(np.argmax(first > 12 if proves_dmy else second > 12))
        word = "day/month/year" if proves_dmy else "month/day/year"
        row = int(ctx.rows[where[witness]])
        ctx.notes.append(f"{col.subject}: dates read as {word} (row {row} can only be read "
                         "that way).")
        return order
    ambiguous = np.zeros(len(ctx.rows), dtype=bool)
    ambiguous[where[(first <= 12) & (second <= 12) & (first != second)]] = True
    why = ("this column mixes day/month and month/day dates" if proves_dmy
           else "no date in this column shows whether the day or the month comes first")
    issues.add(col.spec.path, ambiguous, cell_texts(col.original, ambiguous), "ambiguous_date",
               lambda _r, v: f"{col.subject} '{v}' could be day/month or month/day ({why}); "
               "choose the date order, or write dates as 2026-11-20")
    if not proves_dmy:
        return "DMY"  # only unambiguous dates (day == month) remain; either order reads them
    return None


_PAIRS = np.array([[ord(a), ord(b)] for a in "0123456789" for b in "0123456789"],
                  dtype=np.uint8)  # "00" … "99" as byte pairs, indexed by value


def _format_millis(millis: np.ndarray, *, date_only: bool) -> pa.Array:
    """Epoch milliseconds → fixed-width ASCII text, built as bytes (strftime is far slower)."""
    stamp = millis.astype("datetime64[ms]")
    days = stamp.astype("datetime64[D]")
    months = stamp.astype("datetime64[M]")
    year = stamp.astype("datetime64[Y]").astype("int64") + 1970
    pairs: list[tuple[int, np.ndarray]] = [
        (0, year // 100), (2, year % 100), (5, months.astype("int64") % 12 + 1),
        (8, (days - months.astype("datetime64[D]")).astype("int64") + 1),
    ]
    template = "0000-00-00" if date_only else "0000-00-00T00:00:00.000Z"
    out = np.empty((len(millis), len(template)), dtype=np.uint8)
    out[:] = np.frombuffer(template.encode(), dtype=np.uint8)
    if not date_only:
        in_day = millis - days.astype("datetime64[ms]").astype("int64")
        pairs += [(11, in_day // 3_600_000), (14, in_day // 60_000 % 60),
                  (17, in_day // 1000 % 60), (21, in_day % 100)]
        out[:, 20] += (in_day % 1000 // 100).astype(np.uint8)
    for at, values in pairs:
        out[:, at : at + 2] = _PAIRS[values]
    width = len(template)
    offsets = np.arange(0, width * (len(millis) + 1), width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(millis),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())])
