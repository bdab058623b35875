"""Reading numbers as people in Gameball's markets write them, column-wise and fast.

- :func:`western_digits`: Arabic-Indic (``٠``–``٩``) and Eastern Arabic-Indic (``۰``–``۹``)
  digits become ASCII digits, the Arabic decimal separator ``٫`` becomes the file's decimal
  mark, the Arabic thousands separator ``٬`` is dropped, and the invisible direction marks
  that Arabic-locale Excel puts into dates (U+200E, U+200F, U+061C) are removed. Done on the
  UTF-8 bytes with numpy: a column without any non-ASCII byte is returned untouched.
- :func:`comma_reading`: a column written with decimal commas (``1.234,50``, ``12,25``)
  turned into dot decimals, with the mask of cells that fit neither reading cleanly.
- :func:`infer_kind`: what a free-form column (custom attribute, event metadata) holds:
  ``number``, ``yes-no`` or ``text``. Id-like text (``00123``, long digit strings, phone
  numbers) is text.

Callers apply these only to number, money, points, date and time fields: identifiers are
sent exactly as written. This module must not know about batch types, report issues (it
returns masks; validation words the messages) or import streamlit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("number", "yes-no", "text")  # kinds of a free-form column, as the operator sees them
KIND_ALIASES = {"number": "number", "numeric": "number", "yes-no": "yes-no", "yesno": "yes-no",
                "boolean": "yes-no", "bool": "yes-no", "text": "text", "string": "text"}
YES = ("true", "yes", "y")
NO = ("false", "no", "n")
MAX_INFERRED_WHOLE_DIGITS = 9  # a longer run of digits is an id or a phone number, not a count

_ARABIC_ZERO, _EASTERN_ZERO = 0xA0, 0xB0  # second bytes of U+0660 (D9 A0) and U+06F0 (DB B0)
_COMMA_NUMBER = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$"
_DOT_DECIMAL_CELL = r"^[+-]?\d*\.\d+$"
_COMMA_THOUSANDS_DOT = r"^[+-]?\d{1,3}(?:,\d{3})+\.\d+$"
_DOT_GROUPS_ONLY = r"^[+-]?\d{1,3}(?:\.\d{3})+$"
_COMMA_DECIMAL_EVIDENCE = r"^[+-]?(?:\d{1,3}(?:\.\d{3})+,\d+|\d*,(?:\d{1,2}|\d{4,}))$"
_INFER_NUMBER = r"^-?(?:\d+(?:\.\d+)?|\.\d+)$"
_ID_LIKE = r"^-?0\d|^-?\d{" + str(MAX_INFERRED_WHOLE_DIGITS + 1) + r",}"


def _spans(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, raw


def _flat(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr


def western_digits(arr: pa.Array | pa.ChunkedArray, *, decimal: str = ".") -> pa.Array:
    """``arr`` with Arabic-script digits and separators as ASCII (see the module docstring).

    ``decimal`` is what ``٫`` becomes: "." normally, "," when the file is read with
    decimal commas (so that ``١٢٫٥`` means 12.5 either way). Nulls become "".
    """
    arr = _flat(arr)
    if not len(arr) or pc.all(pc.string_is_ascii(arr)).as_py():
        return arr  # the usual case: plain ASCII, nothing to do (one SIMD pass in arrow)
    offsets, data = _spans(arr)
    start = int(offsets[0])
    relative = offsets - offsets.dtype.type(start)
    body, fresh = _translate(data[start : int(offsets[-1])], relative, ord(decimal))
    return pa.Array.from_buffers(arr.type, len(arr),
                                 [None, pa.py_buffer(fresh), pa.py_buffer(body)])


_BLOCK = 1 << 20  # bytes per pass: the masks stay in cache, and no big array is created


def _translate(span: np.ndarray, relative: np.ndarray, decimal: int,
               ) -> tuple[np.ndarray, np.ndarray]:
    """(the translated bytes, the cells' new offsets) for UTF-8 ``span`` whose cells start
    at ``relative``. Block by block: a digit's lead byte is dropped and its second byte
    becomes ASCII; separators, marks and the bytes they drop may straddle a block edge,
    so each block hands the next what it must still drop."""
    size = len(span)
    work = np.empty(size + 2, dtype=np.uint8)  # our copy, translated in place, 2 bytes pad
    work[:size] = span
    work[size:] = 0
    fresh = np.empty_like(relative)
    pieces: list[np.ndarray] = []
    spill = np.zeros(2, dtype=bool)  # drops that fall on the next block's first two bytes
    dropped = 0
    for first in range(0, size, _BLOCK):
        stop = min(first + _BLOCK, size)
        drop = _translate_block(work, first, stop, decimal)
        drop[:2] |= spill
        spill = drop[-2:].copy()
        drop = drop[:-2]
        # Each cell starting in this block moves left by the bytes dropped before it.
        before = np.cumsum(drop, dtype=np.int64)
        before -= drop
        lo, hi = np.searchsorted(relative, [first, stop])
        starts = relative[lo:hi]
        fresh[lo:hi] = starts - (dropped + before[starts - first]).astype(relative.dtype)
        pieces.append(work[first:stop][~drop])
        dropped += int(np.count_nonzero(drop))
    fresh[relative >= size] = size - dropped
    return np.concatenate(pieces) if pieces else work[:0], fresh


def _translate_block(work: np.ndarray, first: int, stop: int, decimal: int) -> np.ndarray:
    """Translate the sequences that start in ``work[first:stop]``; the drop mask of bytes
    ``first`` … ``stop + 1`` (the last two spill into the next block)."""
    b0, b1, b2 = work[first:stop], work[first + 1 : stop + 1], work[first + 2 : stop + 2]
    d9 = b0 == 0xD9
    arabic = d9 & (b1 - np.uint8(_ARABIC_ZERO) < 10)  # uint8 arithmetic wraps below 0xA0
    eastern = (b0 == 0xDB) & (b1 - np.uint8(_EASTERN_ZERO) < 10)
    separator = d9 & (b1 == 0xAB)
    thousands = d9 & (b1 == 0xAC)
    letter_mark = (b0 == 0xD8) & (b1 == 0x9C)  # U+061C ARABIC LETTER MARK
    # U+200E / U+200F (LRM, RLM): E2 80 8E / E2 80 8F
    mark = (b0 == 0xE2) & (b1 == 0x80) & ((b2 & np.uint8(0xFE)) == 0x8E)
    # Masks as 0/1 bytes times the distance to ASCII: a subtraction per byte, no branches.
    shift = arabic.view(np.uint8) * np.uint8(_ARABIC_ZERO - 0x30)
    shift += eastern.view(np.uint8) * np.uint8(_EASTERN_ZERO - 0x30)
    np.subtract(b1, shift, out=b1)
    b1[separator] = decimal
    drop = np.zeros(stop - first + 2, dtype=bool)
    drop[:-2] = arabic | eastern | separator | thousands | letter_mark | mark
    drop[1:-1] |= thousands | letter_mark | mark
    drop[2:] |= mark
    return drop


def western_text(text: str, *, decimal: str = ".") -> str:
    """:func:`western_digits` for one Python string."""
    return str(western_digits(pa.array([text], type=pa.string()), decimal=decimal)[0].as_py())


def comma_reading(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(text with decimal commas read as dot decimals, mask of cells that contradict it).

    ``1.234,50`` → ``1234.50``, ``12,25`` → ``12.25``, ``1.234`` → ``1234``. A cell with a
    dot decimal (``12.5``) or comma thousands and a dot decimal (``1,234.50``) contradicts
    the reading; other cells (blank, words) are left for the number checks to report.
    """
    fits = _mask(pc.match_substring_regex(text, _COMMA_NUMBER))
    contradicts = ~fits & (_mask(pc.match_substring_regex(text, _DOT_DECIMAL_CELL))
                           | _mask(pc.match_substring_regex(text, _COMMA_THOUSANDS_DOT)))
    if not fits.any():
        return text, contradicts
    read = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
    return pc.if_else(pa.array(fits), read, text), contradicts


def readings(cell: str) -> tuple[str, str]:
    """(dot reading, comma reading) of a number-like cell, for a message naming both."""
    bare = cell.strip()
    return bare.replace(",", ""), bare.replace(".", "").replace(",", ".")


def comma_evidence(text: pa.Array) -> tuple[int, int, str | None]:
    """(cells written with a decimal comma, cells written with a dot decimal, an example).

    ``1,234`` and ``1.234`` prove nothing (either could be thousands) and count for neither.
    """
    comma = _mask(pc.match_substring_regex(text, _COMMA_DECIMAL_EVIDENCE))
    dotted = _mask(pc.match_substring(text, "."))
    if dotted.any():
        dotted &= ~_mask(pc.match_substring_regex(text, _DOT_GROUPS_ONLY)) & ~comma
    example = None
    if comma.any():
        example = str(text[int(np.argmax(comma))].as_py())
    return int(comma.sum()), int(dotted.sum()), example


def infer_kind(arr: pa.Array | pa.ChunkedArray, *, decimal: str = "dot") -> str:
    """"number", "yes-no" or "text" for a free-form column's cells (blanks ignored);
    ``decimal="comma"`` when the file is read with decimal commas."""
    text = pc.utf8_trim_whitespace(western_digits(arr, decimal="," if decimal == "comma"
                                                  else "."))
    if decimal == "comma":
        text = comma_reading(text)[0]
    given = text.filter(pc.not_equal(text, ""))
    if not len(given):
        return "text"
    lowered = pc.utf8_lower(given)
    if pc.all(pc.is_in(lowered, value_set=pa.array(YES + NO))).as_py():
        return "yes-no"
    if not pc.all(pc.match_substring_regex(given, _INFER_NUMBER)).as_py():
        return "text"
    if pc.any(pc.match_substring_regex(given, _ID_LIKE)).as_py():
        return "text"  # 00123, 0100…, a long digit run: an id or a phone, kept as written
    return "number"


def parse_kind(word: str) -> str | None:
    """The kind an operator typed (``number``, ``yes-no``, ``text`` and common aliases)."""
    return KIND_ALIASES.get(word.strip().lower())


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if values.null_count:
        values = pc.fill_null(values, False)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)
