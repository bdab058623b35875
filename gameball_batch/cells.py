"""The toolkit validation is built from: issue collection and arrow column helpers.

:class:`Issues` gathers issue fragments column by column and knows which rows are invalid;
:class:`Column` is one field's column while it is checked; :class:`Context` is what every
check may consult (the type, the rows, the clock, the reading choices). The helpers work on
pyarrow string arrays without copying where they can (offsets and bytes straight from the
buffers). Split out of ``validate.py`` so that the time parsers (``times.py``) and the
other checks share one toolkit.

This module must not decide what is valid (validate.py and times.py do), read files or
import streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch.batch_types import BatchType, FieldSpec, Kind

ISSUE_COLUMNS = ("row", "column", "field", "value", "code", "message")


# --- issue collection ----------------------------------------------------------------------


class Issues:
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

    def absorb(self, other: Issues) -> None:
        """Take ``other``'s issues (one column's, found apart) as if they had been added here."""
        self._errors += other._errors
        self._warnings += other._warnings
        self.bad |= other.bad

    def frames(self, order: Mapping[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(errors, warnings), sorted by row, then by the field's place in the type."""
        return issue_frame(self._errors, order), issue_frame(self._warnings, order)


def issue_frame(parts: list[pd.DataFrame], order: Mapping[str, int]) -> pd.DataFrame:
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


def column_text(series: pd.Series) -> tuple[pa.Array, pa.Array]:
    """(original text, stripped text) as arrow string arrays; NA becomes ""."""
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("str")
    original = pa.array(series.array)
    if isinstance(original, pa.ChunkedArray):
        original = original.combine_chunks()
    if original.null_count:
        original = pc.fill_null(original, "")
    if not edges_may_be_space(original):  # the usual case: nothing to trim, no copy
        return original, original
    return original, pc.utf8_trim_whitespace(original)


def spans(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data bytes) of a string array without copying; offsets index ``data``."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(
        0, dtype=np.uint8)


def any_first_byte(arr: pa.Array, allowed: bytes) -> bool:
    """Whether any non-empty cell starts with one of ``allowed`` (a cheap regex pre-check)."""
    if not len(arr):
        return False
    offsets, data = spans(arr)
    if not len(data):
        return False
    # Read at every start (clipped: an empty last cell starts at the end) and mask the
    # empty cells afterwards: cheaper than copying the offsets of the filled ones.
    firsts = data.take(offsets[:-1], mode="clip")
    hit = np.isin(firsts, np.frombuffer(allowed, dtype=np.uint8))
    return bool((hit & (offsets[1:] > offsets[:-1])).any())


def edges_may_be_space(arr: pa.Array) -> bool:
    """Whether any cell starts or ends with a byte that could be (part of) whitespace.

    Checks only the edge bytes of each cell: ASCII controls and space, and the characters
    whose UTF-8 lead byte is C2 (U+0085, U+00A0) or E1–E3 (U+1680, U+2000…U+205F, U+3000)
    count as "could be". Arabic letters and digits (leads D8–DB) do not, so a column of
    Arabic-Indic amounts is not copied by a trim it does not need.
    """
    if not len(arr):
        return False
    offsets, data = spans(arr)
    # A window of cells at a time: the scratch arrays (the end positions, the edge bytes,
    # the masks) of a whole column would be fresh pages the kernel must clear, costing more
    # than the checks; a window's are reused by the next.
    return any(_edges_may_be_space(offsets[at : at + _WINDOW + 1], data)
               for at in range(0, len(arr), _WINDOW))


_WINDOW = 1 << 16  # cells whose edges are checked at once (scratch arrays of ~0.5 MB)


def _edges_may_be_space(offsets: np.ndarray, data: np.ndarray) -> bool:
    """:func:`edges_may_be_space` for the cells between ``offsets`` (into ``data``)."""
    filled = offsets[1:] > offsets[:-1]
    if not filled.any():
        return False
    # Edge bytes read at every cell (clipped for empty cells at either end of the buffer)
    # and the empty cells masked afterwards: no copy of the filled cells' offsets.
    starts, ends = offsets[:-1], offsets[1:]
    first, last = data.take(starts, mode="clip"), data.take(ends - 1, mode="clip")
    if (filled & ((first <= 0x20) | (first == 0xC2) | ((first >= 0xE1) & (first <= 0xE3)))).any():
        return True
    if (filled & (last <= 0x20)).any():
        return True
    high = filled & (last >= 0x80)
    if not high.any():
        return False
    ends = ends[high]
    two, three = data[np.maximum(ends - 2, 0)], data[np.maximum(ends - 3, 0)]
    return bool(((two == 0xC2) | ((three >= 0xE1) & (three <= 0xE3))).any())


def as_mask(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    values = mask.to_numpy(zero_copy_only=False)
    out: np.ndarray = np.asarray(values, dtype=bool)
    return out


def matches(arr: pa.Array, pattern: str) -> np.ndarray:
    return as_mask(pc.match_substring_regex(arr, pattern))


def cell_texts(arr: pa.Array, mask: np.ndarray) -> list[str]:
    if not mask.any():
        return []
    return [str(v) for v in arr.filter(pa.array(mask)).to_pylist()]


def to_str_series(arr: pa.Array, missing: np.ndarray, index: pd.Index) -> pd.Series:
    values = with_nulls(arr, missing) if missing.any() else arr
    return pd.Series(values.to_pandas().array, index=index).astype("str")


def with_nulls(arr: pa.Array, missing: np.ndarray) -> pa.Array:
    """``arr`` with the ``missing`` cells null: a new validity bitmap, the text not copied."""
    if arr.offset or arr.null_count:
        return pc.if_else(pa.array(missing), pa.scalar(None, arr.type), arr)
    bitmap = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    _, offsets, data = arr.buffers()
    return pa.Array.from_buffers(arr.type, len(arr), [bitmap, offsets, data],
                                 null_count=int(missing.sum()))


@dataclass
class Column:
    """One field's column while it is checked."""

    spec: FieldSpec
    subject: str  # how messages name the field: the operator's header, else the label
    original: pa.Array
    text: pa.Array
    blank: np.ndarray
    reported: np.ndarray | None = None  # cells already reported (decimal-comma reading)


@dataclass
class Context:
    """What every check may consult: the type, the rows, the clock, the reading choices,
    and the notes for the operator that checks add as they go."""

    bt: BatchType
    index: pd.Index
    rows: np.ndarray
    now_ms: int
    date_order: str
    notes: list[str]
    decimal: str = "dot"

    def is_id(self, spec: FieldSpec) -> bool:
        """Whether a field holds identifiers (sent exactly as written, never converted)."""
        return spec.kind is Kind.TEXT and (spec.name.endswith("Id")
                                           or spec.path in self.bt.key_fields)


class ColumnIssues(Issues):
    """Issues of one column, kept apart until the column is done (then
    :meth:`Issues.absorb` takes them): ``bad`` means "bad in this column", and two columns
    can be checked side by side without sharing anything they write."""

    def __init__(self, parent: Issues, path: str) -> None:
        super().__init__(parent.rows, parent.columns)
        self.path = path
