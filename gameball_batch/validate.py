"""Validation: mapped text cells → a clean typed frame plus one long table of issues.

Every check is vectorised over whole columns (pyarrow compute and numpy); Python loops run
only over the failing cells, to write their messages. One bad cell never hides another:
each column is checked on its own and every failing cell gets its own issue row.

What comes out (see :class:`ValidationResult`):

- ``clean``: the valid rows only, typed. Text as ``str``; money and other decimals as
  float; points and whole numbers as ``Int64``; booleans as ``boolean``; lists as
  ``list[str]``; timestamps as UTC text in exactly the form ``YYYY-MM-DDTHH:MM:SS.mmmZ``
  (``2026-11-20T09:15:00.000Z``, milliseconds, always ``Z``); dates as ``YYYY-MM-DD``.
  A blank optional cell is missing (NA), never ``""``.
- ``issues`` (blocking) and ``warnings`` (not blocking): columns :data:`ISSUE_COLUMNS`,
  sorted by source row, ``value`` holding the original cell text.

Generated ids: when the type has a ``generated_key`` (transactionId for cashback and
redemptions) and the file does not provide it (column not mapped, or mapped but entirely
blank), each row gets ``f"{slug}-{sha256(id_seed)[:10]}-{row}"``, e.g.
``cashback-3f1a9c0b2e-17``. ``id_seed`` is the file fingerprint, so sending the same file
again reuses the same ids and the server's duplicate check protects the customer.

This module must not read files, talk to the network or the ledger, or import streamlit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch import parsing
from gameball_batch.batch_types import BatchType, FieldSpec, Kind

ISSUE_COLUMNS = ("row", "column", "field", "value", "code", "message")
DATE_ORDERS = ("auto", "DMY", "MDY")
DECIMALS = ("dot", "comma")
# Kinds whose cells are numbers or times: their digits may be Arabic-Indic (parsing.py).
_NUMERIC = (Kind.MONEY, Kind.NUMBER, Kind.POINTS, Kind.INTEGER)
_TIMES = (Kind.TIMESTAMP, Kind.DATE)
_FREE_KINDS = {"number": Kind.NUMBER, "yes-no": Kind.BOOLEAN, "text": Kind.TEXT}
# Excel serial day numbers of 1950-01-01 … 2100-12-31, and Excel's day 0 (1899-12-30).
_SERIAL_MIN, _SERIAL_MAX = 18264, 73415
_EXCEL_EPOCH_MS = -2209161600000
_SERIAL = r"^\d{5}(?:\.\d+)?$"
_SERIAL_RE = re.compile(_SERIAL, re.ASCII)
CLOCK_SKEW_MS = 5 * 60 * 1000  # a time up to 5 minutes ahead of our clock is not "future"
MAX_WHOLE_DIGITS = 15  # beyond this a float cannot hold the integer exactly

_PLAIN_DECIMAL = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"
_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$|^[+-]?\d{1,3}(?:\.\d{3})+,\d+$"
_DECIMAL_COMMA = r"^[+-]?\d*,\d+$"
_WHOLE = r"^[+-]?\d+(?:\.0*)?$"
_SCIENTIFIC = r"^[+-]?\d(?:[.,]\d+)?[eE][+-]?\d{1,3}$"
_EMAIL = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_PHONE_NOISE = r"[\s\-().\[\]]"
_E164 = r"^\+\d{8,15}$"
_NO_PLUS = r"^(?:00)?\d{8,15}$"
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
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")


@dataclass
class ValidationResult:
    """The outcome of validating one mapped file (see the module docstring for the shapes)."""

    batch_type: BatchType
    clean: pd.DataFrame
    issues: pd.DataFrame
    warnings: pd.DataFrame
    notes: tuple[str, ...]
    total_rows: int
    invalid_rows: frozenset[int] = field(default_factory=frozenset)
    # How the file was read: {"decimal": "dot"|"comma", "date_order": …, "kinds": {path:
    # kind} for free-form columns}; stored with the job so its review can say so.
    reading: dict[str, Any] = field(default_factory=dict)
    # Set when the file reads as decimal commas but was read with dots: "12,25 → 12.25".
    decimal_comma_example: str | None = None
    # True when validation refused every repeat of the type's result key, so the keys of
    # ``clean`` are known to differ (the planner then skips its own hash pass over them).
    unique_keys: bool = False

    @property
    def valid_count(self) -> int:
        return self.total_rows - len(self.invalid_rows)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid_rows)


# --- issue collection ----------------------------------------------------------------------


class _Issues:
    """Accumulates issue fragments column by column; knows which rows are invalid."""

    def __init__(self, rows: np.ndarray, columns: Mapping[str, str]) -> None:
        self.rows = rows
        self.columns = columns
        self.bad = np.zeros(len(rows), dtype=bool)
        self._errors: list[pd.DataFrame] = []
        self._warnings: list[pd.DataFrame] = []

    def header(self, path: str) -> str:
        return self.columns.get(path, "")

    def add(
        self,
        path: str,
        mask: np.ndarray,
        values: list[str],
        code: str,
        message: Callable[[int, str], str],
        *,
        warning: bool = False,
    ) -> None:
        """Record one issue per True in ``mask``; ``values`` are those cells' original text."""
        where = np.flatnonzero(mask)
        if not len(where):
            return
        rows = self.rows[where]
        part = pd.DataFrame(
            {
                "row": rows.astype("int64"),
                "column": self.header(path),
                "field": path,
                "value": pd.Series(values, dtype=object).to_numpy(),
                "code": code,
                "message": [message(int(r), v) for r, v in zip(rows, values, strict=True)],
            }
        )
        if warning:
            self._warnings.append(part)
        else:
            self._errors.append(part)
            self.bad[where] = True

    def frames(self, order: Mapping[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(errors, warnings), sorted by row, then by the field's place in the type."""
        return _issue_frame(self._errors, order), _issue_frame(self._warnings, order)


def _issue_frame(parts: list[pd.DataFrame], order: Mapping[str, int]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str")
                             for c in ISSUE_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    rank = frame["field"].map(lambda f: order.get(f, len(order))).astype("int64")
    frame = frame.assign(_rank=rank).sort_values(["row", "_rank"], kind="stable")
    frame = frame.drop(columns="_rank").reset_index(drop=True)
    for column in ISSUE_COLUMNS[1:]:
        frame[column] = frame[column].astype("str")
    return frame


# --- small arrow helpers -------------------------------------------------------------------


def _text(series: pd.Series) -> tuple[pa.Array, pa.Array]:
    """(original text, stripped text) as arrow string arrays; NA becomes ""."""
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("str")
    original = pa.array(series.array)
    if isinstance(original, pa.ChunkedArray):
        original = original.combine_chunks()
    if original.null_count:
        original = pc.fill_null(original, "")
    if not _edges_may_be_space(original):  # the usual case: nothing to trim, no copy
        return original, original
    return original, pc.utf8_trim_whitespace(original)


def _spans(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data bytes) of a string array without copying; offsets index ``data``."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(
        0, dtype=np.uint8)


def _any_first_byte(arr: pa.Array, allowed: bytes) -> bool:
    """Whether any non-empty cell starts with one of ``allowed`` (a cheap regex pre-check)."""
    if not len(arr):
        return False
    offsets, data = _spans(arr)
    filled = offsets[1:] > offsets[:-1]
    firsts = data[offsets[:-1][filled]]
    return bool(np.isin(firsts, np.frombuffer(allowed, dtype=np.uint8)).any())


def _edges_may_be_space(arr: pa.Array) -> bool:
    """Whether any cell starts or ends with a byte that could be (part of) whitespace.

    Checks only the first and last byte of each cell: ASCII controls and space, and any
    non-ASCII byte (Unicode spaces such as U+00A0 are multi-byte) count as "could be".
    """
    if not len(arr):
        return False
    offsets, data = _spans(arr)
    filled = offsets[1:] > offsets[:-1]
    if not filled.any():
        return False
    first = data[offsets[:-1][filled]]
    last = data[offsets[1:][filled] - 1]
    return bool(((first <= 0x20) | (first >= 0x80) | (last <= 0x20) | (last >= 0x80)).any())


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    values = mask.to_numpy(zero_copy_only=False)
    out: np.ndarray = np.asarray(values, dtype=bool)
    return out


def _match(arr: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(arr, pattern))


def _cells(arr: pa.Array, mask: np.ndarray) -> list[str]:
    if not mask.any():
        return []
    return [str(v) for v in arr.filter(pa.array(mask)).to_pylist()]


def _to_str_series(arr: pa.Array, missing: np.ndarray, index: pd.Index) -> pd.Series:
    values = _with_nulls(arr, missing) if missing.any() else arr
    return pd.Series(values.to_pandas().array, index=index).astype("str")


def _with_nulls(arr: pa.Array, missing: np.ndarray) -> pa.Array:
    """``arr`` with the ``missing`` cells null: a new validity bitmap, the text not copied."""
    if arr.offset or arr.null_count:
        return pc.if_else(pa.array(missing), pa.scalar(None, arr.type), arr)
    bitmap = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    _, offsets, data = arr.buffers()
    return pa.Array.from_buffers(arr.type, len(arr), [bitmap, offsets, data],
                                 null_count=int(missing.sum()))


@dataclass
class _Column:
    """One field's column while it is checked."""

    spec: FieldSpec
    subject: str  # how messages name the field: the operator's header, else the label
    original: pa.Array
    text: pa.Array
    blank: np.ndarray
    reported: np.ndarray | None = None  # cells already reported (decimal-comma reading)


# --- per-kind parsers: each returns the typed series (NA where blank or bad) -------------


def _parse_text(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    spec, given = col.spec, ~col.blank
    if ctx.is_id(spec) and _any_first_byte(col.text, b"0123456789+-"):
        sci = given & _match(col.text, _SCIENTIFIC)
        issues.add(spec.path, sci, _cells(col.original, sci), "scientific_notation",
                   lambda _r, v: f"{col.subject} looks like a number Excel shortened to "
                   f"scientific notation, got '{v}'; format the column as Text in Excel and "
                   "export again")
        given &= ~sci
    if spec.max_length is not None:
        long = given & _np(pc.greater(pc.utf8_length(col.text), spec.max_length))
        tail = ("; it is sent as written, but some Gameball APIs accept at most "
                f"{spec.max_length}") if spec.length_warns else ""
        issues.add(spec.path, long, _cells(col.original, long), "too_long",
                   lambda _r, v: f"{col.subject} is longer than {spec.max_length} characters "
                   f"({len(v.strip())}){tail}", warning=spec.length_warns)
    return _to_str_series(col.text, col.blank | issues.bad, ctx.index)


def _parse_email(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    wrong = ~col.blank & ~_match(col.text, _EMAIL)
    issues.add(col.spec.path, wrong, _cells(col.original, wrong), "invalid_email",
               lambda _r, v: f"{col.subject} must be an email address like "
               f"name@example.com, got '{v}'")
    return _to_str_series(col.text, col.blank | wrong, ctx.index)


def _parse_phone(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    digits = pc.replace_substring_regex(col.text, _PHONE_NOISE, "")
    ok = _match(digits, _E164)
    no_plus = ~col.blank & ~ok & _match(digits, _NO_PLUS)
    other = ~col.blank & ~ok & ~no_plus
    issues.add(col.spec.path, no_plus, _cells(col.original, no_plus), "invalid_phone",
               lambda _r, v: f"{col.subject} must start with + and the country code "
               f"(e.g. +201000000001), got '{v}'")
    issues.add(col.spec.path, other, _cells(col.original, other), "invalid_phone",
               lambda _r, v: f"{col.subject} must be an international number: + then 8 to 15 "
               f"digits, got '{v}'")
    return _to_str_series(digits, ~ok, ctx.index)


def _number_text_issues(col: _Column, issues: _Issues) -> np.ndarray:
    """Report cells that are not plain decimals; the mask of plain-decimal cells."""
    path, given = col.spec.path, ~col.blank
    if col.reported is not None:
        given = given & ~col.reported
    plain: np.ndarray = given & _match(col.text, _PLAIN_DECIMAL)
    if not (given & ~plain).any():  # the usual case: skip the diagnosis passes
        return plain
    thousands = given & ~plain & _match(col.text, _THOUSANDS)
    comma = given & ~plain & ~thousands & _match(col.text, _DECIMAL_COMMA)
    other = given & ~plain & ~thousands & ~comma
    issues.add(path, thousands, _cells(col.original, thousands), "thousands_separator",
               lambda _r, v: f"{col.subject} must be a plain number, got '{v}' (remove the "
               "thousands separators; use a dot for decimals)")
    issues.add(path, comma, _cells(col.original, comma), "decimal_comma",
               lambda _r, v: f"{col.subject} must be a number, got '{v}' (use a dot for "
               "decimals, or read the file with decimal commas)")
    issues.add(path, other, _cells(col.original, other), "not_a_number",
               lambda _r, v: f"{col.subject} must be a number, got '{v}'")
    result: np.ndarray = plain
    return result


def _parse_decimal(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    plain = _number_text_issues(col, issues)
    safe = col.text
    if _any_first_byte(safe, b"+"):
        safe = pc.replace_substring_regex(safe, r"^\+", "")
    if not plain.all():
        safe = pc.if_else(pa.array(plain), safe, "0")
    values = np.asarray(pc.cast(safe, pa.float64()).to_numpy(), dtype="float64").copy()
    infinite = plain & ~np.isfinite(values)
    issues.add(col.spec.path, infinite, _cells(col.original, infinite), "not_a_number",
               lambda _r, v: f"{col.subject} is too large a number, got '{v}'")
    ok = _range_checks(col, issues, values, plain & ~infinite)
    values[~ok] = np.nan
    return pd.Series(values, index=ctx.index, dtype="float64")


def _parse_whole(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    plain = _number_text_issues(col, issues)
    whole = plain & _match(col.text, _WHOLE)
    fraction = plain & ~whole
    issues.add(col.spec.path, fraction, _cells(col.original, fraction), "not_whole",
               lambda _r, v: f"{col.subject} must be a whole number, got '{v}'")
    bare = pc.replace_substring_regex(col.text, r"^\+|\.0*$", "")
    huge = whole & _np(pc.greater(pc.utf8_length(pc.replace_substring_regex(bare, r"^-", "")),
                                  MAX_WHOLE_DIGITS))
    issues.add(col.spec.path, huge, _cells(col.original, huge), "too_large",
               lambda _r, v: f"{col.subject} is too large, got '{v}'")
    whole &= ~huge
    safe = pc.if_else(pa.array(whole), bare, "0")
    numbers = np.asarray(pc.cast(safe, pa.int64()).to_numpy(), dtype="int64")
    ok = _range_checks(col, issues, numbers.astype("float64"), whole)
    out = pd.Series(numbers, index=ctx.index, dtype="Int64")
    return out.mask(pd.Series(~ok, index=ctx.index))


def _range_checks(col: _Column, issues: _Issues, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Sign and maximum rules on parsed numbers; the mask of cells that pass everything."""
    spec, path = col.spec, col.spec.path
    rules: list[tuple[np.ndarray, str, str]] = []
    if spec.sign == "positive":
        rules.append((values <= 0, "must_be_positive", "must be more than 0"))
    elif spec.sign == "nonnegative":
        rules.append((values < 0, "must_not_be_negative", "must not be negative"))
    elif spec.sign == "nonzero":
        rules.append((values == 0, "must_not_be_zero", "must not be 0"))
    if spec.maximum is not None:
        rules.append((values > spec.maximum, "too_large", f"must be at most {spec.maximum:g}"))
    for failing, code, text in rules:
        mask = ok & failing
        issues.add(path, mask, _cells(col.original, mask), code, _got(col.subject, text))
        ok = ok & ~failing
    return ok


def _got(subject: str, text: str) -> Callable[[int, str], str]:
    def message(_row: int, value: str) -> str:
        return f"{subject} {text}, got '{value}'"

    return message


def _fixed(text: str) -> Callable[[int, str], str]:
    def message(_row: int, _value: str) -> str:
        return text

    return message


def _parse_boolean(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    lowered = pc.utf8_lower(col.text)
    yes = _np(pc.is_in(lowered, value_set=pa.array(_TRUE)))
    no = _np(pc.is_in(lowered, value_set=pa.array(_FALSE)))
    wrong = ~col.blank & ~yes & ~no
    issues.add(col.spec.path, wrong, _cells(col.original, wrong), "not_a_boolean",
               lambda _r, v: f"{col.subject} must be true or false (yes/no, 1/0), got '{v}'")
    out = pd.Series(yes, index=ctx.index, dtype="boolean")
    return out.mask(pd.Series(~(yes | no), index=ctx.index))


def _parse_enum(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    choices = col.spec.choices
    positions = pc.index_in(pc.utf8_lower(col.text),
                            value_set=pa.array([c.lower() for c in choices]))
    wrong = ~col.blank & ~_np(pc.is_valid(positions))
    allowed = ", ".join(choices)
    issues.add(col.spec.path, wrong, _cells(col.original, wrong), "not_allowed",
               lambda _r, v: f"{col.subject} must be one of {allowed}, got '{v}'")
    canonical = pc.take(pa.array(choices), pc.fill_null(positions, 0))
    return _to_str_series(canonical, col.blank | wrong, ctx.index)


def _parse_list(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    del issues  # every text is a valid list
    out = pd.Series(pd.NA, index=ctx.index, dtype=object)
    given = np.flatnonzero(~col.blank)
    if len(given):
        cells = col.text.filter(pa.array(~col.blank)).to_pylist()
        parts = [[p.strip() for p in str(c).split(",") if p.strip()] for c in cells]
        out.iloc[given] = pd.Series(parts, dtype=object).to_numpy()
    return out


# --- timestamps and dates ------------------------------------------------------------------


def _parse_time(col: _Column, issues: _Issues, ctx: _Context) -> pd.Series:
    is_date = col.spec.kind is Kind.DATE
    text = pc.replace_substring_regex(col.text, r"[T ].*$", "") if is_date else col.text
    millis = np.full(len(text), np.iinfo("int64").min, dtype="int64")
    parsed = np.zeros(len(text), dtype=bool)
    naive = _parse_serial(col, text, millis, parsed, ctx)
    _parse_zoned(text, ~col.blank & ~parsed, millis, parsed)
    naive += _parse_iso(text, ~col.blank & ~parsed, millis, parsed)
    naive += _parse_slashed(col, text, millis, parsed, issues, ctx)
    if naive and not is_date:
        ctx.notes.append(f"{col.subject}: {naive:,} time(s) without a time zone were read as "
                         "UTC.")
    unparsed = ~col.blank & ~parsed & ~issues.bad  # ambiguous dates were reported already
    example = "2026-11-20" if is_date else "2026-11-20T09:15:00Z"
    issues.add(col.spec.path, unparsed, _cells(col.original, unparsed), "not_a_date",
               lambda _r, v: f"{col.subject} must be a date{'' if is_date else ' and time'} "
               f"like {example}, got '{v}'")
    ok = parsed.copy()
    if col.spec.past_only:
        future = ok & (millis > ctx.now_ms + CLOCK_SKEW_MS)
        issues.add(col.spec.path, future, _cells(col.original, future), "future_time",
                   lambda _r, v: f"{col.subject} is in the future, got '{v}'; Gameball "
                   "refuses future times")
        ok &= ~future
    return _to_str_series(_utc_text(text, millis, ok, date_only=is_date), ~ok, ctx.index)


def _utc_text(text: pa.Array, millis: np.ndarray, ok: np.ndarray, *, date_only: bool) -> pa.Array:
    """The output text of each parsed time; cells already in the output form are reused."""
    if date_only:
        return _format_millis(np.where(ok, millis, 0), date_only=True)
    fixed = _canonical_seconds(text)
    if fixed is not None:  # every cell is 2026-11-20T09:15:00Z: add ".000" byte-wise
        whole, out = fixed
    else:
        whole = ok & _match(text, _CANONICAL_SECONDS)
        out = _concat_text(pc.utf8_slice_codeunits(text, 0, 19), ".000Z")
    whole &= ok
    redo = ok & ~whole
    if redo.any():
        fresh = _format_millis(millis[redo], date_only=False)
        out = pc.replace_with_mask(out, pa.array(redo), fresh.cast(out.type))
    return out


_SECONDS_SHAPE = b"0000-00-00T00:00:00Z"  # "0" = any digit


def _canonical_seconds(text: pa.Array) -> tuple[np.ndarray, pa.Array] | None:
    """When every cell is 20 bytes: (mask of cells shaped like _CANONICAL_SECONDS, each
    cell's first 19 bytes + ".000Z"), as fixed-width byte rows; else None (use regex)."""
    offsets, data = _spans(text)
    n = len(text)
    if not n or int(offsets[-1]) - int(offsets[0]) != 20 * n:
        return None
    if (np.diff(offsets) != 20).any():
        return None
    cells = data[int(offsets[0]) : int(offsets[-1])].reshape(n, 20)
    if (cells >= 0x80).any():  # a byte cut could split a character: leave it to the regex
        return None
    shaped = np.ones(n, dtype=bool)
    for at, expected in enumerate(_SECONDS_SHAPE):  # column by column: fastest in numpy
        byte = cells[:, at]
        shaped &= (byte - np.uint8(0x30) <= 9) if expected == 0x30 else (byte == expected)
    out = np.empty((n, 24), dtype=np.uint8)
    out[:, :19] = cells[:, :19]
    out[:, 19:] = np.frombuffer(b".000Z", dtype=np.uint8)
    wide = np.arange(0, 24 * (n + 1), 24, dtype=np.int32)
    return shaped, pa.Array.from_buffers(pa.string(), n,
                                         [None, pa.py_buffer(wide), pa.py_buffer(out)])


def _concat_text(arr: pa.Array, tail: str) -> pa.Array:
    return pc.binary_join_element_wise(arr, pa.scalar(tail, arr.type), pa.scalar("", arr.type))


def _parse_serial(
    col: _Column, text: pa.Array, millis: np.ndarray, done: np.ndarray, ctx: _Context,
) -> int:
    """Excel serial day numbers (46346.5 = 2026-11-20 12:00), only when every given cell of
    the column is one in 1950–2100: then the column clearly holds dates that lost their
    format. Anything less is reported cell by cell as not a date. Returns how many."""
    given = ~col.blank
    if not given.any() or not _SERIAL_RE.match(str(text[int(np.argmax(given))].as_py())):
        return 0  # the usual case, decided by one cell: every given cell must be a serial
    if not _match(text, _SERIAL)[given].all():
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
    """The common case, fast: 2026-11-20T09:15:00Z or with an offset (converted to UTC)."""
    if not todo.any():
        return
    stamps = pc.strptime(text, format="%Y-%m-%dT%H:%M:%S%z", unit="ms", error_is_null=True)
    hit = _real_calendar(text, todo & _np(pc.is_valid(stamps)))
    values = pc.cast(pc.cast(stamps, pa.timestamp("ms")), pa.int64())
    millis[hit] = np.asarray(pc.fill_null(values, 0).to_numpy(), dtype="int64")[hit]
    done |= hit


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
    offsets, data = _spans(text)
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
    shaped = todo & _match(text, _ISO)
    if not shaped.any():
        return 0
    subset = text.filter(pa.array(shaped))
    stamps = pd.to_datetime(pd.Series(subset.to_pandas()), format="ISO8601", utc=True,
                            errors="coerce")
    good = stamps.notna().to_numpy()
    where = np.flatnonzero(shaped)[good]
    millis[where] = _epoch_millis(stamps[good])
    done[where] = True
    zoned = _np(pc.match_substring_regex(subset, r"\d{2}:\d{2}.*" + _ZONED))
    return int((good & ~zoned & _np(pc.match_substring_regex(subset, r"[T ]\d"))).sum())


def _parse_slashed(
    col: _Column, text: pa.Array, millis: np.ndarray, done: np.ndarray,
    issues: _Issues, ctx: _Context,
) -> int:
    """Spreadsheet forms like 20/11/2026 09:15 (day/month order decided per column).

    Returns how many were read (all of them have no time zone).
    """
    todo = ~col.blank & ~done
    if not todo.any():
        return 0
    todo &= _match(text, _SLASHED)
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
    marked = _np(pc.not_equal(marker, ""))
    if not marked.any():
        return hours
    pm = _np(pc.is_in(pc.utf8_slice_codeunits(pc.utf8_lower(marker), 0, 1),
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
    col: _Column, first: np.ndarray, second: np.ndarray, where: np.ndarray,
    issues: _Issues, ctx: _Context,
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
    issues.add(col.spec.path, ambiguous, _cells(col.original, ambiguous), "ambiguous_date",
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


# --- the pass over all columns -------------------------------------------------------------


@dataclass
class _Context:
    bt: BatchType
    index: pd.Index
    rows: np.ndarray
    now_ms: int
    date_order: str
    notes: list[str]
    decimal: str = "dot"

    def is_id(self, spec: FieldSpec) -> bool:
        return spec.kind is Kind.TEXT and (spec.name.endswith("Id")
                                           or spec.path in self.bt.key_fields)


_PARSERS: dict[Kind, Callable[[_Column, _Issues, _Context], pd.Series]] = {
    Kind.TEXT: _parse_text,
    Kind.EMAIL: _parse_email,
    Kind.PHONE: _parse_phone,
    Kind.MONEY: _parse_decimal,
    Kind.NUMBER: _parse_decimal,
    Kind.POINTS: _parse_whole,
    Kind.INTEGER: _parse_whole,
    Kind.TIMESTAMP: _parse_time,
    Kind.DATE: _parse_time,
    Kind.BOOLEAN: _parse_boolean,
    Kind.ENUM: _parse_enum,
    Kind.LIST: _parse_list,
}


class _ColumnIssues(_Issues):
    """Issues restricted to one column: so ``bad`` means "bad in this column"."""

    def __init__(self, parent: _Issues, path: str) -> None:
        super().__init__(parent.rows, parent.columns)
        self.parent, self.path = parent, path

    def add(self, path: str, mask: np.ndarray, values: list[str], code: str,
            message: Callable[[int, str], str], *, warning: bool = False) -> None:
        super().add(path, mask, values, code, message, warning=warning)
        self.parent.add(path, mask, values, code, message, warning=warning)



def validate(
    bt: BatchType,
    mapped: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    now: datetime | None = None,
    id_seed: str = "",
    date_order: str = "auto",
    decimal: str = "dot",
    kinds: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Check every mapped cell of ``mapped`` (columns = field paths, index = source rows).

    ``columns`` maps field path → the operator's header (named in issues and messages);
    ``now`` is the clock for "no future times" (default: the real UTC clock); ``id_seed``
    seeds generated ids (the file fingerprint); ``date_order`` is "auto", "DMY" or "MDY";
    ``decimal`` is "dot" or "comma" (the operator's word: ``1.234,50`` is 1234.50);
    ``kinds`` gives free-form columns (custom attributes, metadata) their kind, "number",
    "yes-no" or "text" (a column not named is inferred from its cells, see parsing.py).
    """
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date order must be one of {', '.join(DATE_ORDERS)}, got {date_order!r}")
    if decimal not in DECIMALS:
        raise ValueError(f"decimal must be one of {', '.join(DECIMALS)}, got {decimal!r}")
    rows = np.asarray(mapped.index, dtype="int64")
    index = pd.Index(rows, name="row")
    clock = now or datetime.now(UTC)
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    ctx = _Context(bt, index, rows, int(clock.timestamp() * 1000), date_order, [], decimal)
    issues = _Issues(rows, dict(columns or {}))
    typed: dict[str, pd.Series] = {}
    given: dict[str, np.ndarray] = {}
    known = [(p, s) for p in mapped.columns if (s := bt.spec_for(str(p))) is not None]
    # Gathering each column's text into one arrow array is memory-bound copying that arrow
    # does without the GIL: two threads do the columns side by side on the two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(lambda item: _text(mapped[item[0]]), known))
    chosen: dict[str, str] = {}
    numeric: list[pa.Array] = []
    fixed_paths = {f.path for f in bt.fields}
    for (_path, spec), text in zip(known, texts, strict=True):
        if spec.path not in fixed_paths:
            spec = _free_form(spec, text[1], kinds or {}, chosen, decimal)
        typed[spec.path], given[spec.path], read = _check_column(spec, text, issues, ctx)
        if spec.kind in _NUMERIC and spec.path not in chosen:
            numeric.append(read)
    example = _comma_example(numeric) if decimal == "dot" else None
    _generate_key(bt, typed, given, ctx, id_seed)
    _required(bt, typed, given, issues, ctx)
    _one_of(bt, given, issues)
    unique = _duplicates(bt, typed, issues, ctx)
    result = _result(bt, typed, issues, ctx, unique_keys=unique)
    result.reading = {"decimal": decimal, "date_order": date_order, "kinds": chosen}
    result.decimal_comma_example = example
    return result


_ORDER_WORDS = {"DMY": "day/month/year", "MDY": "month/day/year"}


def describe_reading(reading: Mapping[str, Any]) -> str:
    """How a file was read, in one line an operator can check later: "decimal commas
    (1.234,50 = 1234.50) · dates day/month/year · header in row 4 · metadata.stars as
    number". Stored with the job (a text, so every screen can show it as it is)."""
    parts = ["decimal commas (1.234,50 = 1234.50)" if reading.get("decimal") == "comma"
             else "decimal dots (1,234.50 is refused)"]
    order = _ORDER_WORDS.get(str(reading.get("date_order")))
    parts.append(f"dates {order}" if order else "date order worked out from the file")
    header = reading.get("header_row")
    if isinstance(header, int) and header > 1:
        parts.append(f"header in row {header}")
    if reading.get("encoding"):
        parts.append(f"read as {reading['encoding']}")
    kinds = reading.get("kinds") or {}
    parts += [f"{path} as {kind}" for path, kind in dict(kinds).items()]
    return " · ".join(parts)


def _free_form(
    spec: FieldSpec, text: pa.Array, kinds: Mapping[str, str], chosen: dict[str, str],
    decimal: str,
) -> FieldSpec:
    """A custom-attribute or metadata column's spec, with the kind chosen or inferred."""
    kind = kinds.get(spec.path)
    if kind not in _FREE_KINDS:
        kind = parsing.infer_kind(text, decimal=decimal)
    chosen[spec.path] = kind
    return dataclasses.replace(spec, kind=_FREE_KINDS[kind])


def _check_column(
    spec: FieldSpec, texts: tuple[pa.Array, pa.Array], issues: _Issues, ctx: _Context,
) -> tuple[pd.Series, np.ndarray, pa.Array]:
    """(typed values, mask of given cells, the text as read) of one column."""
    original, text = texts
    blank = _np(pc.equal(text, ""))
    subject = issues.header(spec.path) or spec.label
    reported = None
    if spec.kind in _NUMERIC or spec.kind in _TIMES:
        # Digits of every script read as numbers; identifiers never come here.
        text = parsing.western_digits(text, decimal="," if ctx.decimal == "comma" else ".")
    if spec.kind in _NUMERIC and ctx.decimal == "comma":
        text, reported = _comma_column(spec, subject, original, text, blank, issues)
    col = _Column(spec, subject, original, text, blank, reported)
    values = _PARSERS[spec.kind](col, _ColumnIssues(issues, spec.path), ctx)
    return values, ~blank, text


def _comma_column(
    spec: FieldSpec, subject: str, original: pa.Array, text: pa.Array, blank: np.ndarray,
    issues: _Issues,
) -> tuple[pa.Array, np.ndarray]:
    """The column read with decimal commas; cells that contradict it are reported here."""
    read, contradicts = parsing.comma_reading(text)
    contradicts &= ~blank

    def message(_row: int, value: str) -> str:
        dot, comma = parsing.readings(parsing.western_text(value))
        return (f"{subject} '{value}' does not fit decimal commas: with dot decimals it is "
                f"{dot}, with comma decimals {comma}. This file is read with decimal commas: "
                "write it like 1.234,50, or read the file with dot decimals")

    issues.add(spec.path, contradicts, _cells(original, contradicts), "decimal_mark", message)
    return read, contradicts


def _comma_example(texts: list[pa.Array]) -> str | None:
    """"12,25 → 12.25" when every number-like cell of the number columns uses a decimal
    comma (and at least one proves it); None otherwise. A byte scan first: most files
    have no comma in any number column and cost nothing more."""
    if not any(_any_byte(text, 0x2C) for text in texts):
        return None
    comma = dot = 0
    example = None
    for text in texts:
        c, d, e = parsing.comma_evidence(text)
        comma, dot, example = comma + c, dot + d, example or e
    if not comma or dot or example is None:
        return None
    return f"{example} → {parsing.readings(example)[1]}"


def _any_byte(arr: pa.Array, byte: int) -> bool:
    if not len(arr):
        return False
    offsets, data = _spans(arr)
    return bool((data[int(offsets[0]) : int(offsets[-1])] == byte).any())


def _generate_key(
    bt: BatchType, typed: dict[str, pd.Series], given: dict[str, np.ndarray],
    ctx: _Context, id_seed: str,
) -> None:
    key = bt.generated_key
    if key is None or (key in given and given[key].any()):
        return
    digest = hashlib.sha256(id_seed.encode()).hexdigest()[:10]
    prefix = f"{bt.slug}-{digest}-"
    ids = pc.binary_join_element_wise(prefix, pc.cast(pa.array(ctx.rows), pa.string()), "")
    typed[key] = pd.Series(ids.to_pandas().array, index=ctx.index).astype("str")
    given[key] = np.ones(len(ctx.rows), dtype=bool)
    example = f"{prefix}{ctx.rows[0] if len(ctx.rows) else 2}"
    ctx.notes.append(f"The file has no {key}: one was generated per row from the file's "
                     f"fingerprint and row number (e.g. {example}); sending the same file "
                     "again reuses the same ids.")


def _required(
    bt: BatchType, typed: dict[str, pd.Series], given: dict[str, np.ndarray],
    issues: _Issues, ctx: _Context,
) -> None:
    n = len(ctx.rows)
    for spec in bt.required:
        blank = ~given.get(spec.path, np.zeros(n, dtype=bool))
        subject = issues.header(spec.path) or spec.label
        what = "is empty" if spec.path in given else "has no column in the file"
        issues.add(spec.path, blank, [""] * int(blank.sum()), "required",
                   _fixed(f"{subject} {what}; it is required"))
        if spec.path not in typed:
            typed[spec.path] = pd.Series(pd.NA, index=ctx.index, dtype="str")


def _one_of(bt: BatchType, given: dict[str, np.ndarray], issues: _Issues) -> None:
    for group in bt.one_of:
        specs = [bt.spec_for(p) for p in group]
        labels = [s.label.lower() if s else p for s, p in zip(specs, group, strict=True)]
        present = np.stack([given.get(p, np.zeros(len(issues.rows), dtype=bool))
                            for p in group], axis=1)
        counts = present.sum(axis=1)
        wrong = counts != 1
        if not wrong.any():
            continue
        choices = ", ".join(labels[:-1]) + " or " + labels[-1]
        for combo in {tuple(r) for r in present[wrong].tolist()}:
            mask = wrong & (present == np.array(combo)).all(axis=1)
            has = [lab for lab, on in zip(labels, combo, strict=True) if on]
            first = next((p for p, on in zip(group, combo, strict=True) if on), group[0])
            detail = "none of them" if not has else " and ".join(has)
            issues.add(first, mask, [""] * int(mask.sum()), "one_of",
                       _fixed(f"give exactly one of {choices}; row has {detail}"))


def _duplicates(
    bt: BatchType, typed: dict[str, pd.Series], issues: _Issues, ctx: _Context,
) -> bool:
    """Report repeated keys; whether every repeat of the result key was refused."""
    customer_policy = bt.repeated_customer
    unique = False
    if bt.group_by is None and bt.result_key != "customerId" and bt.result_key in typed:
        _repeats(bt.result_key, typed[bt.result_key], issues, "duplicate_key", warning=False)
        unique = True
    if "customerId" in typed and customer_policy != "fine" and bt.group_by != "customerId":
        code = "duplicate_key" if bt.result_key == "customerId" else "repeated_customer"
        _repeats("customerId", typed["customerId"], issues, code,
                 warning=customer_policy == "warn")
        unique = unique or (bt.result_key == "customerId" and customer_policy != "warn")
    if bt.group_by == "orderId" and "orderId" in typed:
        _order_consistency(bt, typed, issues, ctx)
    return unique


def _repeats(path: str, values: pd.Series, issues: _Issues, code: str, *, warning: bool) -> None:
    """Rows whose value repeats an earlier row's; each names the first row it repeats."""
    if _strictly_ascending(values) or _surely_distinct(values):  # the usual: no repeats
        return
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    seen_max = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
    repeat = (codes >= 0) & (codes <= seen_max)
    if not repeat.any():
        return
    first_pos = np.flatnonzero((codes >= 0) & (codes > seen_max))
    first_rows = issues.rows[first_pos[codes[repeat]]]
    firsts = dict(zip(np.flatnonzero(repeat).tolist(), first_rows.tolist(), strict=True))
    by_row = {int(issues.rows[i]): f for i, f in firsts.items()}
    subject = issues.header(path) or path
    text = values.to_numpy(dtype=object)[repeat].tolist()
    issues.add(path, repeat, [str(t) for t in text], code,
               lambda r, v: f"{subject} '{v}' repeats row {by_row[r]}"
               + ("" if warning else "; each one may appear only once in this batch"),
               warning=warning)


def _strictly_ascending(values: pd.Series) -> bool:
    """Whether every text value is greater than the one before (so none repeats).

    One byte-wise comparison pass, far cheaper than hashing a million texts.
    """
    if len(values) < 2 or not isinstance(values.dtype, pd.StringDtype):
        return False
    arr = pa.array(values.array)
    if arr.null_count or (not pa.types.is_string(arr.type) and not pa.types.is_large_string(
            arr.type)):
        return False
    return bool(pc.all(pc.less(arr.slice(0, len(arr) - 1), arr.slice(1))).as_py())


_WORD_HASH = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)


def _surely_distinct(values: pd.Series) -> bool:
    """True when the texts, all of one byte length (as generated ids usually are), hash to
    64-bit values that all differ, so none repeats; False means "not proven" (hash them).

    Equal-length cells sit back to back in arrow's buffer: eight bytes at a time is a few
    passes of integer arithmetic, far cheaper than a hash table of a million texts.
    """
    if len(values) < 2 or not isinstance(values.dtype, pd.StringDtype):
        return False
    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    offsets, data = _spans(arr)
    n, width = len(arr), int(offsets[1] - offsets[0])
    if not 0 < width <= 64 or int(offsets[-1] - offsets[0]) != n * width or (
            np.diff(offsets) != width).any():
        return False
    words = -(-width // 8)
    padded = np.zeros((n, words * 8), dtype=np.uint8)
    padded[:, :width] = data[int(offsets[0]) : int(offsets[-1])].reshape(n, width)
    columns = padded.view(np.uint64)
    hashed = columns[:, 0].copy()
    for word in range(1, words):
        hashed *= _WORD_HASH
        hashed ^= columns[:, word]
    return bool(len(pd.unique(hashed)) == n)


def _order_consistency(
    bt: BatchType, typed: dict[str, pd.Series], issues: _Issues, ctx: _Context,
) -> None:
    """Rows sharing an orderId are one order: its order-level fields must agree."""
    order = typed["orderId"]
    multi = order.notna() & order.duplicated(keep=False)
    if not multi.any():
        return
    level = [p for p in typed if p != "orderId" and not _is_line(bt, p)]
    sub_order = order[multi]
    for path in level:
        text = typed[path][multi].astype(object).map(_comparable)
        first = text.groupby(sub_order, sort=False).transform("first")
        first_row = pd.Series(sub_order.index, index=sub_order.index).groupby(
            sub_order, sort=False).transform("first")
        differ = (text != first).to_numpy()
        mask = np.zeros(len(ctx.rows), dtype=bool)
        mask[np.flatnonzero(multi.to_numpy())[differ]] = True
        refs = dict(zip(sub_order.index[differ].tolist(), first_row[differ].tolist(),
                        strict=True))
        originals = typed[path][multi][differ].astype(object).map(_comparable).tolist()
        issues.add(path, mask, originals, "inconsistent_order",
                   _differs(issues.header(path) or path, refs))


def _differs(subject: str, refs: dict[int, int]) -> Callable[[int, str], str]:
    def message(row: int, value: str) -> str:
        return (f"{subject} '{value}' differs from row {refs[row]} of the same order; an "
                "order's fields must be the same on each of its rows")

    return message


def _comparable(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _is_line(bt: BatchType, path: str) -> bool:
    spec = bt.spec_for(path)
    return bool(spec and spec.line_item) or path.startswith("lineItems.")


def _hold_back_orders(bt: BatchType, typed: dict[str, pd.Series], issues: _Issues) -> None:
    """An order with any bad row is held back whole: a partial order must never be sent."""
    if bt.group_by != "orderId" or "orderId" not in typed or not issues.bad.any():
        return
    order = typed["orderId"]
    bad_orders = set(order[issues.bad].dropna().tolist())
    siblings = order.isin(bad_orders).to_numpy() & ~issues.bad
    if not siblings.any():
        return
    first_bad = pd.Series(issues.rows[issues.bad], index=order[issues.bad].to_numpy())
    first_bad = first_bad[~first_bad.index.duplicated()]
    refs = dict(zip(issues.rows[siblings].tolist(),
                    first_bad.loc[order[siblings].to_numpy()].tolist(), strict=True))
    issues.add("orderId", siblings, [str(v) for v in order[siblings].tolist()],
               "order_incomplete",
               lambda r, v: f"order '{v}' is held back: row {refs[r]} of the same order has "
               "problems")


def _result(
    bt: BatchType, typed: dict[str, pd.Series], issues: _Issues, ctx: _Context, *,
    unique_keys: bool,
) -> ValidationResult:
    _hold_back_orders(bt, typed, issues)
    errors, warnings = issues.frames({f.path: i for i, f in enumerate(bt.fields)})
    clean = pd.DataFrame(typed, index=ctx.index)
    clean = clean[~issues.bad] if issues.bad.any() else clean
    return ValidationResult(
        batch_type=bt,
        clean=clean,
        issues=errors,
        warnings=warnings,
        notes=tuple(dict.fromkeys(ctx.notes)),
        total_rows=len(ctx.rows),
        invalid_rows=frozenset(int(r) for r in ctx.rows[issues.bad]),
        unique_keys=unique_keys,
    )
