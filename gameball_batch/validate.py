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
from gameball_batch.cells import (
    ISSUE_COLUMNS,
    Column,
    ColumnIssues,
    Context,
    Issues,
    any_first_byte,
    as_mask,
    cell_texts,
    column_text,
    matches,
    spans,
    to_str_series,
)
from gameball_batch.times import parse_time

__all__ = ["DATE_ORDERS", "DECIMALS", "ISSUE_COLUMNS", "ValidationResult", "describe_reading",
           "validate"]

DATE_ORDERS = ("auto", "DMY", "MDY")
DECIMALS = ("dot", "comma")
# Kinds whose cells are numbers or times: their digits may be Arabic-Indic (parsing.py).
_NUMERIC = (Kind.MONEY, Kind.NUMBER, Kind.POINTS, Kind.INTEGER)
_TIMES = (Kind.TIMESTAMP, Kind.DATE)
_FREE_KINDS = {"number": Kind.NUMBER, "yes-no": Kind.BOOLEAN, "text": Kind.TEXT}
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
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")


@dataclass(frozen=True)
class NumberTexts:
    """Float columns' texts as read, aligned with the rows of ``frame``."""

    frame: pd.DataFrame
    texts: dict[str, pa.Array]


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
    # The text each float column of ``clean`` was read from (digits made western, decimal
    # marks made dots), one cell per row of ``clean``: payloads sends a number's own text
    # when it already is the number's JSON spelling, instead of printing the float again.
    # Only for this very ``clean`` frame (payloads checks ``frame is clean``): a result
    # copied with another frame falls back to printing.
    number_texts: NumberTexts | None = field(default=None, compare=False, repr=False)

    @property
    def valid_count(self) -> int:
        return self.total_rows - len(self.invalid_rows)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid_rows)


# --- per-kind parsers: each returns the typed series (NA where blank or bad) -------------


def _parse_text(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    spec, given = col.spec, ~col.blank
    if ctx.is_id(spec) and any_first_byte(col.text, b"0123456789+-"):
        sci = given & matches(col.text, _SCIENTIFIC)
        issues.add(spec.path, sci, cell_texts(col.original, sci), "scientific_notation",
                   lambda _r, v: f"{col.subject} looks like a number Excel shortened to "
                   f"scientific notation, got '{v}'; format the column as Text in Excel and "
                   "export again")
        given &= ~sci
    if spec.max_length is not None:
        long = given & as_mask(pc.greater(pc.utf8_length(col.text), spec.max_length))
        tail = ("; it is sent as written, but some Gameball APIs accept at most "
                f"{spec.max_length}") if spec.length_warns else ""
        issues.add(spec.path, long, cell_texts(col.original, long), "too_long",
                   lambda _r, v: f"{col.subject} is longer than {spec.max_length} characters "
                   f"({len(v.strip())}){tail}", warning=spec.length_warns)
    return to_str_series(col.text, col.blank | issues.bad, ctx.index)


def _parse_email(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    wrong = ~col.blank & ~matches(col.text, _EMAIL)
    issues.add(col.spec.path, wrong, cell_texts(col.original, wrong), "invalid_email",
               lambda _r, v: f"{col.subject} must be an email address like "
               f"name@example.com, got '{v}'")
    return to_str_series(col.text, col.blank | wrong, ctx.index)


def _parse_phone(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    digits = pc.replace_substring_regex(col.text, _PHONE_NOISE, "")
    ok = matches(digits, _E164)
    no_plus = ~col.blank & ~ok & matches(digits, _NO_PLUS)
    other = ~col.blank & ~ok & ~no_plus
    issues.add(col.spec.path, no_plus, cell_texts(col.original, no_plus), "invalid_phone",
               lambda _r, v: f"{col.subject} must start with + and the country code "
               f"(e.g. +201000000001), got '{v}'")
    issues.add(col.spec.path, other, cell_texts(col.original, other), "invalid_phone",
               lambda _r, v: f"{col.subject} must be an international number: + then 8 to 15 "
               f"digits, got '{v}'")
    return to_str_series(digits, ~ok, ctx.index)


def _number_text_issues(col: Column, issues: Issues) -> np.ndarray:
    """Report cells that are not plain decimals; the mask of plain-decimal cells."""
    path, given = col.spec.path, ~col.blank
    if col.reported is not None:
        given = given & ~col.reported
    plain: np.ndarray = given & matches(col.text, _PLAIN_DECIMAL)
    if not (given & ~plain).any():  # the usual case: skip the diagnosis passes
        return plain
    thousands = given & ~plain & matches(col.text, _THOUSANDS)
    comma = given & ~plain & ~thousands & matches(col.text, _DECIMAL_COMMA)
    other = given & ~plain & ~thousands & ~comma
    issues.add(path, thousands, cell_texts(col.original, thousands), "thousands_separator",
               lambda _r, v: f"{col.subject} must be a plain number, got '{v}' (remove the "
               "thousands separators; use a dot for decimals)")
    issues.add(path, comma, cell_texts(col.original, comma), "decimal_comma",
               lambda _r, v: f"{col.subject} must be a number, got '{v}' (use a dot for "
               "decimals, or read the file with decimal commas)")
    issues.add(path, other, cell_texts(col.original, other), "not_a_number",
               lambda _r, v: f"{col.subject} must be a number, got '{v}'")
    result: np.ndarray = plain
    return result


def _parse_decimal(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    plain = _number_text_issues(col, issues)
    safe = col.text
    if any_first_byte(safe, b"+"):
        safe = pc.replace_substring_regex(safe, r"^\+", "")
    if not plain.all():
        safe = pc.if_else(pa.array(plain), safe, "0")
    values = np.asarray(pc.cast(safe, pa.float64()).to_numpy(), dtype="float64").copy()
    infinite = plain & ~np.isfinite(values)
    issues.add(col.spec.path, infinite, cell_texts(col.original, infinite), "not_a_number",
               lambda _r, v: f"{col.subject} is too large a number, got '{v}'")
    ok = _range_checks(col, issues, values, plain & ~infinite)
    values[~ok] = np.nan
    return pd.Series(values, index=ctx.index, dtype="float64")


def _parse_whole(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    plain = _number_text_issues(col, issues)
    whole = plain & matches(col.text, _WHOLE)
    fraction = plain & ~whole
    issues.add(col.spec.path, fraction, cell_texts(col.original, fraction), "not_whole",
               lambda _r, v: f"{col.subject} must be a whole number, got '{v}'")
    bare = pc.replace_substring_regex(col.text, r"^\+|\.0*$", "")
    huge = whole & as_mask(pc.greater(pc.utf8_length(pc.replace_substring_regex(bare, r"^-", "")),
                                  MAX_WHOLE_DIGITS))
    issues.add(col.spec.path, huge, cell_texts(col.original, huge), "too_large",
               lambda _r, v: f"{col.subject} is too large, got '{v}'")
    whole &= ~huge
    safe = pc.if_else(pa.array(whole), bare, "0")
    numbers = np.asarray(pc.cast(safe, pa.int64()).to_numpy(), dtype="int64")
    ok = _range_checks(col, issues, numbers.astype("float64"), whole)
    out = pd.Series(numbers, index=ctx.index, dtype="Int64")
    return out.mask(pd.Series(~ok, index=ctx.index))


def _range_checks(col: Column, issues: Issues, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
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
        issues.add(path, mask, cell_texts(col.original, mask), code, _got(col.subject, text))
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


def _parse_boolean(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    lowered = pc.utf8_lower(col.text)
    yes = as_mask(pc.is_in(lowered, value_set=pa.array(_TRUE)))
    no = as_mask(pc.is_in(lowered, value_set=pa.array(_FALSE)))
    wrong = ~col.blank & ~yes & ~no
    issues.add(col.spec.path, wrong, cell_texts(col.original, wrong), "not_a_boolean",
               lambda _r, v: f"{col.subject} must be true or false (yes/no, 1/0), got '{v}'")
    out = pd.Series(yes, index=ctx.index, dtype="boolean")
    return out.mask(pd.Series(~(yes | no), index=ctx.index))


def _parse_enum(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    choices = col.spec.choices
    positions = pc.index_in(pc.utf8_lower(col.text),
                            value_set=pa.array([c.lower() for c in choices]))
    wrong = ~col.blank & ~as_mask(pc.is_valid(positions))
    allowed = ", ".join(choices)
    issues.add(col.spec.path, wrong, cell_texts(col.original, wrong), "not_allowed",
               lambda _r, v: f"{col.subject} must be one of {allowed}, got '{v}'")
    canonical = pc.take(pa.array(choices), pc.fill_null(positions, 0))
    return to_str_series(canonical, col.blank | wrong, ctx.index)


def _parse_list(col: Column, issues: Issues, ctx: Context) -> pd.Series:
    del issues  # every text is a valid list
    out = pd.Series(pd.NA, index=ctx.index, dtype=object)
    given = np.flatnonzero(~col.blank)
    if len(given):
        cells = col.text.filter(pa.array(~col.blank)).to_pylist()
        parts = [[p.strip() for p in str(c).split(",") if p.strip()] for c in cells]
        out.iloc[given] = pd.Series(parts, dtype=object).to_numpy()
    return out


# --- the pass over all columns -------------------------------------------------------------


_PARSERS: dict[Kind, Callable[[Column, Issues, Context], pd.Series]] = {
    Kind.TEXT: _parse_text,
    Kind.EMAIL: _parse_email,
    Kind.PHONE: _parse_phone,
    Kind.MONEY: _parse_decimal,
    Kind.NUMBER: _parse_decimal,
    Kind.POINTS: _parse_whole,
    Kind.INTEGER: _parse_whole,
    Kind.TIMESTAMP: parse_time,
    Kind.DATE: parse_time,
    Kind.BOOLEAN: _parse_boolean,
    Kind.ENUM: _parse_enum,
    Kind.LIST: _parse_list,
}


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
    ctx = Context(bt, index, rows, int(clock.timestamp() * 1000), date_order, [], decimal)
    issues = Issues(rows, dict(columns or {}))
    typed: dict[str, pd.Series] = {}
    given: dict[str, np.ndarray] = {}
    read: dict[str, pa.Array] = {}
    known = [(p, s) for p in mapped.columns if (s := bt.spec_for(str(p))) is not None]
    chosen: dict[str, str] = {}
    numeric: list[pa.Array] = []
    fixed_paths = {f.path for f in bt.fields}
    # Gathering each column's text into one arrow array is memory-bound copying, and a
    # column's checks are mostly arrow and numpy kernels: both run without the GIL, so two
    # threads do the columns side by side on the two cores. Each column's issues and notes
    # are kept apart and taken in column order afterwards, as if checked one by one.
    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(lambda item: column_text(mapped[item[0]]), known))
        specs = [spec if spec.path in fixed_paths
                 else _free_form(spec, text[1], kinds or {}, chosen, decimal)
                 for (_path, spec), text in zip(known, texts, strict=True)]
        checked = list(pool.map(lambda job: _check_column(job[0], job[1], issues, ctx),
                                zip(specs, texts, strict=True)))
    for spec, done in zip(specs, checked, strict=True):
        typed[spec.path], given[spec.path] = done.values, done.given
        if done.values.dtype == np.float64:
            read[spec.path] = done.read
        for found in done.issues:
            issues.absorb(found)
        ctx.notes.extend(done.notes)
        if spec.kind in _NUMERIC and spec.path not in chosen:
            numeric.append(done.read)
    example = _comma_example(numeric) if decimal == "dot" else None
    _generate_key(bt, typed, given, ctx, id_seed)
    _required(bt, typed, given, issues, ctx)
    _one_of(bt, given, issues)
    unique = _duplicates(bt, typed, issues, ctx)
    result = _result(bt, typed, issues, ctx, unique_keys=unique, read=read)
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


@dataclass
class _Checked:
    """One column checked: its typed values, which cells were given, its text as read,
    and what it found (issues in the order found, notes for the operator)."""

    values: pd.Series
    given: np.ndarray
    read: pa.Array
    issues: list[ColumnIssues]
    notes: list[str]


def _check_column(
    spec: FieldSpec, texts: tuple[pa.Array, pa.Array], issues: Issues, ctx: Context,
) -> _Checked:
    """Check one column; nothing shared is written (``issues`` and ``ctx`` are only read)."""
    original, text = texts
    blank = as_mask(pc.equal(text, ""))
    subject = issues.header(spec.path) or spec.label
    reported = None
    own = dataclasses.replace(ctx, notes=[])
    found = [ColumnIssues(issues, spec.path)]
    if spec.kind in _NUMERIC or spec.kind in _TIMES:
        # Digits of every script read as numbers; identifiers never come here.
        text = parsing.western_digits(text, decimal="," if ctx.decimal == "comma" else ".")
    if spec.kind in _NUMERIC and ctx.decimal == "comma":
        text, reported = _comma_column(spec, subject, original, text, blank, found[0])
        found.append(ColumnIssues(issues, spec.path))  # the parser's own "bad in this column"
    col = Column(spec, subject, original, text, blank, reported)
    values = _PARSERS[spec.kind](col, found[-1], own)
    return _Checked(values, ~blank, text, found, own.notes)


def _comma_column(
    spec: FieldSpec, subject: str, original: pa.Array, text: pa.Array, blank: np.ndarray,
    issues: Issues,
) -> tuple[pa.Array, np.ndarray]:
    """The column read with decimal commas; cells that contradict it are reported here."""
    read, contradicts = parsing.comma_reading(text)
    contradicts &= ~blank

    def message(_row: int, value: str) -> str:
        dot, comma = parsing.readings(parsing.western_text(value))
        return (f"{subject} '{value}' does not fit decimal commas: with dot decimals it is "
                f"{dot}, with comma decimals {comma}. This file is read with decimal commas: "
                "write it like 1.234,50, or read the file with dot decimals")

    issues.add(spec.path, contradicts, cell_texts(original, contradicts), "decimal_mark", message)
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
    offsets, data = spans(arr)
    return bool((data[int(offsets[0]) : int(offsets[-1])] == byte).any())


def _generate_key(
    bt: BatchType, typed: dict[str, pd.Series], given: dict[str, np.ndarray],
    ctx: Context, id_seed: str,
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
    issues: Issues, ctx: Context,
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


def _one_of(bt: BatchType, given: dict[str, np.ndarray], issues: Issues) -> None:
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
    bt: BatchType, typed: dict[str, pd.Series], issues: Issues, ctx: Context,
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


def _repeats(path: str, values: pd.Series, issues: Issues, code: str, *, warning: bool) -> None:
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
    offsets, data = spans(arr)
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
    bt: BatchType, typed: dict[str, pd.Series], issues: Issues, ctx: Context,
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


def _hold_back_orders(bt: BatchType, typed: dict[str, pd.Series], issues: Issues) -> None:
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
    bt: BatchType, typed: dict[str, pd.Series], issues: Issues, ctx: Context, *,
    unique_keys: bool, read: dict[str, pa.Array] | None = None,
) -> ValidationResult:
    _hold_back_orders(bt, typed, issues)
    errors, warnings = issues.frames({f.path: i for i, f in enumerate(bt.fields)})
    clean = pd.DataFrame(typed, index=ctx.index)
    texts = {path: text for path, text in (read or {}).items() if path in clean.columns}
    if issues.bad.any():
        clean = clean[~issues.bad]
        keep = pa.array(~issues.bad)
        texts = {path: text.filter(keep) for path, text in texts.items()}
    return ValidationResult(
        batch_type=bt,
        clean=clean,
        issues=errors,
        warnings=warnings,
        notes=tuple(dict.fromkeys(ctx.notes)),
        total_rows=len(ctx.rows),
        invalid_rows=frozenset(int(r) for r in ctx.rows[issues.bad]),
        unique_keys=unique_keys,
        number_texts=NumberTexts(clean, texts) if texts else None,
    )
