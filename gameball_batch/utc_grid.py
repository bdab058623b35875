"""The usual export shape of a time, ``2026-11-20T09:15:00Z``, read straight from its bytes.

When every cell of a timestamp column is 20 bytes (or blank), the filled cells sit back to
back in arrow's buffer as an m × 20 byte grid. :func:`read` looks at that grid with numpy:
which cells have exactly the shape ``YYYY-MM-DDTHH:MM:SSZ`` (ASCII digits, upper-case ``T``
and ``Z``), which of those name a real moment (no 30 February, no hour 24, no second 60),
and, for the "no future times" rule, which are later than a given instant.
:func:`canonical_text` gives their output text (``…:SS.000Z``). For these cells this
replaces arrow's ``strptime``, a calendar re-check of the same bytes and a regex for the
output form: on a million cells ~0.06 s instead of ~0.25 s. Cells outside the shape are left
to the general parsers in ``times.py``, so what is accepted, refused and sent is unchanged.

This module must not decide what a message says (times.py does) or import streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from gameball_batch.cells import spans

WIDTH = 20  # len("2026-11-20T09:15:00Z")
_LITERALS = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "Z"))
_NOT_DIGITS = 255


def _pair_table() -> np.ndarray:
    """Two ASCII digits read as one little-endian uint16 → their value (0–99); any other
    pair of bytes → 255. One gather per two digits checks and converts them at once."""
    table = np.full(1 << 16, _NOT_DIGITS, dtype=np.uint8)
    for tens in range(10):
        for ones in range(10):
            table[(0x30 + tens) | ((0x30 + ones) << 8)] = 10 * tens + ones
    return table


_PAIRS = _pair_table()
# Days in each month, indexed by the month as read (0 and 13–255 have none).
_MONTH_DAYS = np.zeros(256, dtype=np.uint8)
_MONTH_DAYS[1:13] = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class SecondsGrid:
    """A column of 20-byte (or blank) cells, read as ``YYYY-MM-DDTHH:MM:SSZ`` where it can be.

    ``cells`` and ``parts`` cover the filled cells only (``filled`` says which rows those
    are; None when every row is filled): a blank cell takes no bytes, so the filled cells
    are still back to back. ``parts`` are century, year of century, month, day, hour,
    minute and second (uint8; meaningful where shaped), in the order times compare.
    ``shaped`` and ``real`` are masks over every row.
    """

    cells: np.ndarray  # m × 20 bytes, a view of the column's buffer
    parts: tuple[np.ndarray, ...]
    filled: np.ndarray | None
    shaped: np.ndarray  # exactly the shape: 14 ASCII digits and the six separators
    real: np.ndarray  # shaped, and a moment the calendar has

    def later_than(self, limit_ms: int) -> np.ndarray:
        """Mask of real cells later than ``limit_ms`` (epoch milliseconds).

        A cell names whole seconds, so it is later than the limit exactly when its second
        is later than the limit's whole second; fixed-width fields compare in order.
        """
        bound = datetime.fromtimestamp(limit_ms // 1000, UTC)
        limit = (bound.year // 100, bound.year % 100, bound.month, bound.day, bound.hour,
                 bound.minute, bound.second)
        same = self.real if self.filled is None else self.real[self.filled]
        later = np.zeros(len(same), dtype=bool)
        for part, value in zip(self.parts, limit, strict=True):
            later |= same & (part > value)
            same = same & (part == value)
        return _spread(later, self.filled, len(self.real))


def _spread(mask: np.ndarray, filled: np.ndarray | None, n: int) -> np.ndarray:
    """A mask over the filled cells as a mask over every row (blank rows False)."""
    if filled is None:
        return mask
    out = np.zeros(n, dtype=bool)
    out[filled] = mask
    return out


def read(text: pa.Array) -> SecondsGrid | None:
    """The column as a :class:`SecondsGrid` when every cell is 20 bytes or blank (and one
    at least is not); else None."""
    n = len(text)
    if not n or text.null_count:
        return None
    offsets, data = spans(text)
    start = int(offsets[0])
    widths = np.diff(offsets)
    if int(offsets[-1]) - start == WIDTH * n and not (widths != WIDTH).any():
        filled = None
    elif ((widths == WIDTH) | (widths == 0)).all():
        filled = np.flatnonzero(widths)
    else:
        return None
    m = n if filled is None else len(filled)
    if not m:
        return None
    flat = data[start : start + WIDTH * m]
    cells = flat.reshape(m, WIDTH)
    even = flat.view("<u2").reshape(m, WIDTH // 2)  # bytes (0,1), (2,3), … of each cell
    odd = flat[1:-1].view("<u2")  # bytes (1,2), (3,4), …: cell k's (2j+1, 2j+2) at 10k + j
    parts = (_PAIRS[even[:, 0]], _PAIRS[even[:, 1]], _PAIRS[odd[2::10]], _PAIRS[even[:, 4]],
             _PAIRS[odd[5::10]], _PAIRS[even[:, 7]], _PAIRS[odd[8::10]])
    shaped = parts[0] != _NOT_DIGITS
    for part in parts[1:]:
        shaped &= part != _NOT_DIGITS
    for at, char in _LITERALS:
        shaped &= cells[:, at] == ord(char)
    century, year, month, day, hour, minute, second = parts
    # Leap years: every fourth, but of the century years only every fourth (2000, not 1900).
    leap = (year % 4 == 0) & ((year != 0) | (century % 4 == 0))
    days = _MONTH_DAYS[month] + ((month == 2) & leap)
    real = shaped & (day >= 1) & (day <= days) & (hour <= 23) & (minute <= 59) & (second <= 59)
    return SecondsGrid(cells, parts, filled, _spread(shaped, filled, n),
                       _spread(real, filled, n))


_PLACEHOLDER = np.frombuffer(b"0000-00-00T00:00:00.000Z", dtype=np.uint8)


def canonical_text(grid: SecondsGrid) -> pa.Array:
    """Each cell's first 19 bytes + ``.000Z``: the output text of the shaped cells.

    Other cells (blank or not shaped) get a placeholder of the same width (ASCII, so the
    array stays valid UTF-8): the caller replaces or blanks them.
    """
    n = len(grid.shaped)
    out = np.empty((n, WIDTH + 4), dtype=np.uint8)
    if grid.filled is None:
        out[:, :19] = grid.cells[:, :19]
        out[:, 19:] = _PLACEHOLDER[19:]
    else:
        out[:] = _PLACEHOLDER
        out[grid.filled, :19] = grid.cells[:, :19]
    odd = ~grid.shaped
    if odd.any():
        out[odd] = _PLACEHOLDER
    offsets = np.arange(0, (WIDTH + 4) * (n + 1), WIDTH + 4, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(out)])
