"""Turn an uploaded file's bytes into a table of text with the operator's row numbers.

Reads CSV/TSV/TXT (any of , ; tab | as delimiter; UTF-8 with or without BOM, UTF-16 with
BOM as Excel's "Unicode text" writes it, Windows-1256 and Windows-1252), XLSX/XLS/ODS
(through python-calamine) and JSON arrays / JSON Lines. Every cell comes out as the text an
operator sees in Excel: numbers without a spurious ".0", dates as ISO text, blanks as "".
Row numbers are Excel's: the header is row 1 and the first data row is row 2; dropped blank
rows keep the other rows' numbers.

The header row: normally the first non-blank row. When the first rows are a title block (a
title in column A, a date line, blank rows), the caller's ``header_test`` (which knows the
batch type's fields; this module does not) picks the first of the first
:data:`HEADER_SEARCH_ROWS` rows that passes it; ``header_row`` names the row outright. The
table says which row was used (:attr:`Table.header_note`), and data rows keep their own
row numbers.

Bad files raise :class:`IngestError`, whose message tells the operator what to fix; no other
exception escapes :func:`read_table` or :func:`list_sheets` for bad input.

This module must not parse cells into types (that is validation's job), know about batch
types or mappings, or import streamlit.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import re
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import charset_normalizer
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import python_calamine

if TYPE_CHECKING:
    import pandas as pd

MAX_COLUMNS = 2000
MAX_CELL_CHARS = 100_000
# Zip-bomb guard for XLSX/ODS: what the archive *declares* it will expand to.
MAX_UNZIPPED_BYTES = 1 << 30
MAX_ZIP_RATIO = 200  # real workbooks compress 5-30x; bombs 1000x and more
MAX_ZIP_ENTRIES = 10_000
HEADER_SEARCH_ROWS = 20  # a title block longer than this is not a title block

HeaderTest = Callable[[Sequence[str]], bool]

_TEXT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv"}
_WORKBOOK_EXTENSIONS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods"}
_JSON_EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_SUPPORTED = "CSV, TSV, TXT, XLSX, XLS, ODS, JSON or JSONL"
_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_DETECT_BYTES = 256 * 1024
_HASH_ON_THREAD_BYTES = 4 << 20
_LAZY_DECODE_BYTES = 8 << 20  # smaller files decode in a blink: they take the general path
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # below " ", not \t \n \r
# Excel's regional exports: Arabic first (the console's main audience), then Western.
_LEGACY_FIRST = ("cp1256", "cp1252")
_LEGACY_MORE = ("cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1257", "cp1258")
_ENCODING_NAMES = {"cp1256": "windows-1256", "cp1252": "windows-1252"}

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARKER = "EncryptedPackage".encode("utf-16-le")
# BIFF8 workbook-globals BOF record; Excel puts FILEPASS (0x002F) right after it when a .xls
# has a password. calamine's format auto-detection hides that as "unknown format".
_BIFF8_GLOBALS_BOF = b"\x09\x08\x10\x00\x00\x06\x05\x00"
_FILEPASS = b"\x2f\x00"
_BINARY_MAGICS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)


class IngestError(ValueError):
    """A file that cannot be read as a table; ``str(error)`` tells the operator what to fix."""


@dataclass(frozen=True)
class Table:
    """One sheet of text with source row numbers as its index (named ``row``)."""

    frame: pd.DataFrame
    name: str
    format: str  # "csv"|"tsv"|"xlsx"|"xls"|"ods"|"json"|"jsonl"
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    sheets: tuple[str, ...]
    fingerprint: str
    header_row: int | None = None  # the sheet row of the header (None for JSON)
    header_note: str | None = None  # "header found in row 4; rows 1–3 skipped", when moved


@dataclass(frozen=True)
class _Grid:
    """A parsed file before cleaning: header cells, text columns, row number of each row."""

    header: list[str]
    columns: list[pa.Array | pa.ChunkedArray]
    rows: np.ndarray
    header_at: int | None = 1  # the header's own row number; None when there is none (JSON)


# --- public API --------------------------------------------------------------------------


def read_table(
    data: bytes,
    name: str,
    *,
    sheet: str | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    header_row: int | None = None,
    header_test: HeaderTest | None = None,
) -> Table:
    """Read one file into a :class:`Table` of text, or raise :class:`IngestError`.

    ``header_row`` is the sheet row (1-based, as Excel numbers it) that holds the column
    headers; by default it is found (see the module docstring) with ``header_test``.
    """
    if header_row is not None and header_row < 1:
        raise IngestError(f"The header row must be 1 or more, got {header_row}.")
    _check_size(data, max_bytes)
    fmt = _format_for(name, data)
    fingerprint = _fingerprint(data)
    encoding: str | None = None
    delimiter: str | None = None
    chosen: str | None = None
    sheets: tuple[str, ...] = ()
    if fmt in ("csv", "tsv"):
        grid, encoding, delimiter = _read_delimited(data, prefer_tab=fmt == "tsv")
        fmt = "tsv" if delimiter == "\t" else "csv"
    elif fmt in ("json", "jsonl"):
        grid, encoding = _read_json(data, lines=fmt == "jsonl")
    else:
        grid, chosen, sheets, fmt = _read_workbook(data, fmt, sheet)
    note = None
    if grid.header_at is None:
        if header_row is not None:
            raise IngestError("A JSON file has no header row to choose: its keys are the "
                              "columns. Leave the header row unset.")
    else:
        grid, note = _find_header(grid, header_row, header_test)
    frame = _finish(grid, max_rows=max_rows)
    return Table(frame, name, fmt, encoding, delimiter, chosen, sheets, fingerprint(),
                 grid.header_at, note)


def _fingerprint(data: bytes) -> Callable[[], str]:
    """The sha256 hex of ``data``, for big files computed on a thread while the file is
    parsed (hashlib releases the GIL); call the result to get it."""
    if len(data) < _HASH_ON_THREAD_BYTES:
        at_once = hashlib.sha256(data).hexdigest()
        return lambda: at_once
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(hashlib.sha256(data).hexdigest()),
                              name="fingerprint", daemon=True)
    worker.start()

    def result() -> str:
        worker.join()
        return done[0]

    return result


def encoding_label(encoding: str | None) -> str | None:
    """An operator's name for a text file's encoding when it is not UTF-8 ("Windows-1252",
    "UTF-16"); None for UTF-8 and for workbooks (which have no text encoding)."""
    if not encoding or encoding in ("utf-8", "utf-8-sig"):
        return None
    if encoding.startswith("windows-"):
        return "Windows-" + encoding.split("-", 1)[1]
    return {"utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "utf-32": "UTF-32"}.get(
        encoding, encoding.upper())


def list_sheets(data: bytes, name: str) -> list[str]:
    """The worksheet names of a workbook, in workbook order; [] for CSV and JSON."""
    fmt = _format_for(name, data)
    if fmt not in ("xlsx", "xls", "ods"):
        return []
    book, _ = _open_workbook(data, fmt)
    return _worksheet_names(book)


def format_number(value: float) -> str:
    """A float as Excel shows it in a General cell: 123.0 -> "123", 0.1+0.2 -> "0.3"."""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 2**53:  # exact: no exponent, no ".0"
        return str(int(value))
    text = f"{value:.15g}"  # Excel keeps 15 significant digits
    if "e" in text and abs(value) < 1:
        return format(Decimal(text), "f")
    return text


def cell_text(value: object) -> str:
    """Any spreadsheet/JSON cell value as operator-facing text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return str(value)


# --- checks on the raw bytes -------------------------------------------------------------


def _check_size(data: bytes, max_bytes: int | None) -> None:
    if max_bytes is not None and len(data) > max_bytes:
        raise IngestError(
            f"The file is {_size(len(data))}; the limit is {_size(max_bytes)}. "
            "Split it into smaller files and upload them one by one."
        )
    if len(data) <= _SNIFF_BYTES and not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise IngestError("The file is empty. Export the sheet again and check it has rows.")


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def _format_for(name: str, data: bytes) -> str:
    """The format from the file name; content decides only when there is no extension."""
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 and "/" not in name[dot:] else ""
    for table in (_TEXT_EXTENSIONS, _WORKBOOK_EXTENSIONS, _JSON_EXTENSIONS):
        if ext in table:
            return table[ext]
    if ext:
        raise IngestError(
            f"'{name}' is a {ext} file, which cannot be read. Upload a {_SUPPORTED} file."
        )
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE2_MAGIC):
        return "xls"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head[:1] in (b"[", b"{") else "csv"


def _refuse_binary(data: bytes, name_hint: str) -> None:
    """Refuse files that are not text at all, naming what they seem to be."""
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE2_MAGIC):
        raise IngestError(
            f"This file is an Excel workbook (or another archive) saved with a {name_hint} name. "
            "Rename it to .xlsx (or .xls), or open it in Excel and save it as CSV."
        )
    for magic, what in _BINARY_MAGICS:
        if data.startswith(magic):
            raise IngestError(
                f"This file is {what}, not a {name_hint} table. Upload a {_SUPPORTED} file."
            )


# --- text decoding -----------------------------------------------------------------------


def _decode(data: bytes, name_hint: str) -> tuple[str, str]:
    """Decode text: BOMs first, then strict UTF-8, then legacy-encoding detection."""
    _refuse_binary(data, name_hint)
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[3:], "utf-8", "UTF-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return _strict(data, "utf-32", "UTF-32"), "utf-32"
    if data.startswith(codecs.BOM_UTF16_LE):
        return _strict(data[2:], "utf-16-le", "UTF-16"), "utf-16-le"
    if data.startswith(codecs.BOM_UTF16_BE):
        return _strict(data[2:], "utf-16-be", "UTF-16"), "utf-16-be"
    bomless = _bomless_utf16(data)
    if bomless:
        return _strict(data, bomless, "UTF-16"), bomless
    if b"\x00" in data[:_DETECT_BYTES]:
        raise _not_text(name_hint)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_legacy(data, name_hint)


def _strict(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        raise IngestError(
            f"The file says it is {label} text but byte {err.start + 1} is not valid {label}. "
            "Open it in Excel and save it again as 'CSV UTF-8'."
        ) from None


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without BOM: ASCII-heavy text has a zero byte in every other position."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    half = len(sample) // 2
    even = sample[0::2].count(0) / half
    odd = sample[1::2].count(0) / half
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes, name_hint: str) -> tuple[str, str]:
    sample = data[:_DETECT_BYTES]
    for candidates in (_LEGACY_FIRST, _LEGACY_MORE):
        best = charset_normalizer.from_bytes(sample, cp_isolation=list(candidates)).best()
        if best is None:
            continue
        try:
            text = data.decode(best.encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text[:_DETECT_BYTES]):
            return text, _ENCODING_NAMES.get(best.encoding, best.encoding)
    raise IngestError(
        f"This {name_hint} file is not UTF-8 text and its encoding could not be recognised "
        "(it may be damaged or not a text file). Open it in Excel and save it as 'CSV UTF-8'."
    )


def _looks_like_text(text: str) -> bool:
    controls = len(_CONTROL_CHARS.findall(text))
    return controls <= max(2, len(text) // 100)


def _not_text(name_hint: str) -> IngestError:
    return IngestError(
        f"This file is not a {name_hint} text file (it contains binary data). "
        f"Upload a {_SUPPORTED} file, or export the sheet from Excel as 'CSV UTF-8'."
    )


# --- CSV / TSV ---------------------------------------------------------------------------


def _read_delimited(data: bytes, *, prefer_tab: bool) -> tuple[_Grid, str, str]:
    hint = "TSV" if prefer_tab else "CSV"
    fast = _big_plain_utf8(data, hint)
    if fast is not None:
        return fast
    text, encoding = _decode(data, hint)
    if not _looks_like_text(text[:_DETECT_BYTES]):
        raise _not_text(hint)
    if not text or text.isspace():
        raise IngestError("The file is empty. Export the sheet again and check it has rows.")
    body = text.lstrip("\r\n")
    skipped = _count_lines(text[: len(text) - len(body)])
    delimiter, width = _sniff_delimiter(body[:_SNIFF_BYTES], len(body) > _SNIFF_BYTES, prefer_tab)
    try:
        buffer = _utf8_buffer(data, text, encoding).slice(len(text) - len(body))
        grid = _read_with_arrow(buffer, delimiter, width=width, skipped=skipped, quoted='"' in text)
    except pa.ArrowInvalid:
        # Ragged rows, or a row longer than arrow's block: the exact (slower) reader.
        grid = _read_with_csv_module(text, delimiter)
    return grid, encoding, delimiter


def _big_plain_utf8(data: bytes, hint: str) -> tuple[_Grid, str, str] | None:
    """The common big file — UTF-8 without BOM, starting with visible text — read without
    decoding it all into a Python string (arrow checks the UTF-8); None for anything else,
    which takes the general path above. Same result as that path for the files it takes.
    """
    if len(data) < _LAZY_DECODE_BYTES or data.startswith(_BOMS):
        return None
    _refuse_binary(data, hint)
    if _bomless_utf16(data) or b"\x00" in data[:_DETECT_BYTES] or not _valid_utf8(data):
        return None
    head = data[: 4 * _DETECT_BYTES + 4].decode("utf-8", errors="ignore")  # ≥ _DETECT_BYTES chars
    lead = len(head) - len(head.lstrip("\r\n"))  # leading line breaks: one byte each
    if lead + _SNIFF_BYTES >= len(head) or not 0x21 <= data[lead] <= 0x7E:
        return None  # odd start (a blank-looking file?): let the general path judge it
    if not _looks_like_text(head[:_DETECT_BYTES]):
        raise _not_text(hint)
    delimiter, width = _sniff_delimiter(head[lead : lead + _SNIFF_BYTES], True,
                                        hint == "TSV")
    try:
        grid = _read_with_arrow(pa.py_buffer(data).slice(lead), delimiter, width=width,
                                skipped=_count_lines(head[:lead]), quoted=b'"' in data)
    except pa.ArrowInvalid:
        grid = _read_with_csv_module(data.decode("utf-8"), delimiter)
    return grid, "utf-8", delimiter


def _valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by arrow without building a Python string."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(
            full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _utf8_buffer(data: bytes, text: str, encoding: str) -> pa.Buffer:
    """The text as UTF-8 bytes for arrow, without copying when the file already is UTF-8."""
    if encoding == "utf-8":
        return pa.py_buffer(data)
    if encoding == "utf-8-sig":
        return pa.py_buffer(data).slice(3)
    return pa.py_buffer(text.encode("utf-8"))


def _count_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _sniff_delimiter(sample: str, truncated: bool, prefer_tab: bool) -> tuple[str, int]:
    """The candidate giving the widest header that most records agree with, and that width."""
    order = ("\t", ",", ";", "|") if prefer_tab else _DELIMITERS
    best, best_key = order[0], (0.0, 1)
    for delimiter in order:
        records = _sample_records(sample, delimiter, truncated)
        # A title line above the header has one field: judge from the first wider record.
        start = next((i for i, r in enumerate(records[:HEADER_SEARCH_ROWS]) if len(r) >= 2),
                     None)
        if start is None:
            continue
        records = records[start:]
        width = len(records[0])
        agree = sum(len(r) == width for r in records[1:]) / max(len(records) - 1, 1)
        key = (round(agree, 1), width)
        if key > best_key:
            best, best_key = delimiter, key
    return best, best_key[1]


def _sample_records(sample: str, delimiter: str, truncated: bool) -> list[list[str]]:
    try:
        records = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
    except csv.Error:
        return []
    if truncated and len(records) > 1:
        records = records[:-1]  # may be cut in the middle
    return [r for r in records[:200] if any(cell.strip() for cell in r)]


def _read_with_arrow(
    buffer: pa.Buffer, delimiter: str, *, width: int, skipped: int, quoted: bool
) -> _Grid:
    try:
        # Parallel chunking assumes no line break inside quotes. Arrow checks that its parser
        # and chunker agree and raises when a quoted line break crosses a chunk edge, so a
        # file that has them is read again the slower, quote-aware way.
        table = _arrow_csv(buffer, delimiter, width, newlines_in_values=False)
    except pa.ArrowInvalid:
        if not quoted:
            raise
        table = _arrow_csv(buffer, delimiter, width, newlines_in_values=True)
    if table.num_columns > width + 64:
        raise pa.ArrowInvalid("header wider than sniffed")  # let the exact reader handle it
    header = [str(col[0].as_py()) for col in table.columns]
    body = table.slice(1)
    rows = np.arange(skipped + 2, skipped + 2 + body.num_rows, dtype=np.int64)
    return _Grid(header, list(body.columns), rows, skipped + 1)


def _arrow_csv(buffer: pa.Buffer, delimiter: str, width: int, *,
               newlines_in_values: bool) -> pa.Table:
    return pcsv.read_csv(
        pa.BufferReader(buffer),
        read_options=pcsv.ReadOptions(autogenerate_column_names=True),
        parse_options=pcsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=newlines_in_values,
            # Keep blank lines as blank records so the row numbers stay Excel's.
            ignore_empty_lines=False,
        ),
        convert_options=pcsv.ConvertOptions(
            # Every column is text; extra names cover a header wider than the sniffed one.
            column_types={f"f{i}": pa.string() for i in range(width + 64)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _read_with_csv_module(text: str, delimiter: str) -> _Grid:
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as err:
        if "field larger than field limit" in str(err):
            raise _cell_too_long(None, None, None) from None
        raise IngestError(f"The file could not be read as CSV ({err}). Save it again.") from None
    return _grid_from_records(records, first_row=1)


def _grid_from_records(records: Sequence[Sequence[str]], *, first_row: int) -> _Grid:
    """Records (the first one at sheet row `first_row`) -> grid; header = first non-blank."""
    start = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if start is None:
        raise IngestError("The file has no data. Export the sheet again and check it has rows.")
    width = max(len(r) for r in records[start:])
    if width > MAX_COLUMNS:
        width = _used_width(records[start:])
        if width > MAX_COLUMNS:
            raise _too_many_columns(width)
    body = records[start + 1 :]
    padded = [r if len(r) == width else [*r[:width], *[""] * (width - len(r))] for r in body]
    columns = [pa.array(col, type=pa.string()) for col in zip(*padded, strict=True)]
    if not padded:
        columns = [pa.array([], type=pa.string()) for _ in range(width)]
    header = [*records[start][:width], *[""] * (width - len(records[start]))]
    rows = np.arange(first_row + start + 1, first_row + len(records), dtype=np.int64)
    return _Grid(header, columns, rows, first_row + start)


def _used_width(records: Iterable[Sequence[str]]) -> int:
    used = 0
    for record in records:
        for i in range(len(record) - 1, used - 1, -1):
            if record[i].strip():
                used = i + 1
                break
    return used


# --- JSON --------------------------------------------------------------------------------


def _read_json(data: bytes, *, lines: bool) -> tuple[_Grid, str]:
    hint = "JSON Lines" if lines else "JSON"
    try:
        return _read_json_records(data, hint, lines=lines)
    except RecursionError:  # [[[[…]]]] 100,000 deep: Python's parser gives up, so do we
        raise IngestError(
            f"The {hint} file nests lists or objects too deeply to be a table of rows. "
            "Export the rows as a flat list of objects: [{...}, {...}]."
        ) from None


def _read_json_records(data: bytes, hint: str, *, lines: bool) -> tuple[_Grid, str]:
    text, encoding = _decode(data, hint)
    records, rows = _json_lines(text) if lines else _json_array(text)
    if not records:
        raise IngestError(f"The {hint} file holds no records. Export the rows again.")
    keys: dict[str, None] = {}
    flat = []
    for record in records:
        item = _flatten(record)
        keys.update(dict.fromkeys(item))
        flat.append(item)
    header = list(keys)
    columns = [pa.array([item.get(k, "") for item in flat], type=pa.string()) for k in header]
    return _Grid(header, columns, np.asarray(rows, dtype=np.int64), None), encoding


def _json_loads(text: str) -> Any:
    # Numbers stay exactly as written ("12.50", "12345678901234567890").
    return json.loads(text, parse_float=str, parse_int=str)


def _json_array(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    try:
        value = _json_loads(text)
    except json.JSONDecodeError as err:
        raise IngestError(
            f"The file is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
            "Fix it there, or export the data again."
        ) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else value
    if not isinstance(value, list):
        raise IngestError(
            "The JSON file must hold a list of objects, one per row: [{...}, {...}]. "
            "Export it as an array of records."
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise IngestError(
                f"Item {i + 1} of the JSON list is not an object. Every item must be an "
                'object like {"customerId": "cus-1", "amount": 10}.'
            )
    return value, list(range(2, len(value) + 2))


def _json_lines(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = _json_loads(line)
        except json.JSONDecodeError as err:
            raise IngestError(
                f"Line {number} is not valid JSON ({err.msg}, column {err.colno}). "
                "Each line must be one JSON object."
            ) from None
        if not isinstance(value, dict):
            raise IngestError(f"Line {number} is not a JSON object. Each line must be {{...}}.")
        records.append(value)
        rows.append(number + 1)  # line 1 is the first record: row 2, as in a sheet
    return records, rows


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested objects become dotted headers, lists of values become comma-separated text."""
    out: dict[str, str] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, path + "."))
        elif isinstance(value, list):
            scalar = all(not isinstance(v, dict | list) for v in value)
            out[path] = (
                ",".join(cell_text(v) for v in value)
                if scalar
                else json.dumps(value, ensure_ascii=False)
            )
        elif isinstance(value, dict):
            out[path] = ""
        else:
            out[path] = cell_text(value)
    return out


# --- workbooks ---------------------------------------------------------------------------


def _read_workbook(
    data: bytes, fmt: str, sheet: str | None
) -> tuple[_Grid, str, tuple[str, ...], str]:
    book, fmt = _open_workbook(data, fmt)
    names = _worksheet_names(book)
    if sheet is not None:
        if sheet not in names:
            listed = ", ".join(f"'{n}'" for n in names)
            raise IngestError(f"The workbook has no sheet named '{sheet}'. Its sheets: {listed}.")
        records = _sheet_records(book, sheet)
        if not any(any(c.strip() for c in r) for r in records):
            raise IngestError(f"Sheet '{sheet}' is empty. Choose the sheet that holds the rows.")
        return _grid_from_records(records, first_row=1), sheet, tuple(names), fmt
    for candidate in _visible_first(book, names):
        records = _sheet_records(book, candidate)
        if any(any(c.strip() for c in r) for r in records):
            return _grid_from_records(records, first_row=1), candidate, tuple(names), fmt
    raise IngestError("Every sheet of the workbook is empty. Check you exported the right file.")


def _open_workbook(data: bytes, fmt: str) -> tuple[Any, str]:
    """Open with calamine after the checks calamine cannot do safely itself."""
    label = {"xlsx": "Excel workbook (.xlsx)", "xls": "Excel 97-2003 workbook (.xls)"}
    what = label.get(fmt, "OpenDocument spreadsheet (.ods)")
    if data.startswith(_OLE2_MAGIC):
        if _ENCRYPTED_MARKER in data or _xls_has_filepass(data):
            raise _password_protected()
        fmt = "xls"  # an old-format workbook, whatever its name says
    elif data.startswith(_ZIP_MAGIC):
        _check_zip(data, what)
        fmt = "ods" if b"opendocument.spreadsheet" in data[:256] else fmt
        fmt = "xlsx" if fmt == "xls" else fmt
    elif _is_probably_text(data):
        raise IngestError(
            f"This file is text (CSV), not an {what}, although its name says so. Rename it "
            "to end in .csv and upload it again."
        )
    else:
        raise IngestError(f"This file is not a valid {what}. Open it in Excel, save it again "
                          "as a workbook and upload that.")
    try:
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)), fmt
    except python_calamine.PasswordError:
        raise _password_protected() from None
    except Exception:  # calamine's many parser errors all mean one thing to an operator
        raise IngestError(
            f"This {what} is damaged and cannot be opened. Open it in Excel, save a new copy "
            "and upload that."
        ) from None


def _xls_has_filepass(data: bytes) -> bool:
    start = data.find(_BIFF8_GLOBALS_BOF)
    return start >= 0 and data[start + 20 : start + 22] == _FILEPASS


def _is_probably_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data[:4096]


def _password_protected() -> IngestError:
    return IngestError(
        "This workbook is password-protected. Open it in Excel, remove the password "
        "(File > Info > Protect Workbook > Encrypt with Password, clear it), save and upload again."
    )


def _check_zip(data: bytes, what: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise IngestError(
            f"This {what} is damaged (its ZIP structure is broken). Open it in Excel, save a "
            "new copy and upload that."
        ) from None
    declared = sum(info.file_size for info in infos)
    packed = max(sum(info.compress_size for info in infos), 1)
    ratio_bomb = declared > 50 * (1 << 20) and declared > MAX_ZIP_RATIO * packed
    if len(infos) > MAX_ZIP_ENTRIES or declared > MAX_UNZIPPED_BYTES or ratio_bomb:
        raise IngestError(
            f"This {what} would expand to {_size(declared)} when opened, far more than its "
            "contents justify, so it was not opened. Export the data again from the original "
            "spreadsheet (or as CSV)."
        )


def _worksheet_names(book: Any) -> list[str]:
    sheets = [
        meta.name
        for meta in book.sheets_metadata
        if meta.typ == python_calamine.SheetTypeEnum.WorkSheet
    ]
    return sheets or list(book.sheet_names)


def _visible_first(book: Any, names: list[str]) -> list[str]:
    hidden = {
        meta.name
        for meta in book.sheets_metadata
        if meta.visible != python_calamine.SheetVisibleEnum.Visible
    }
    return [n for n in names if n not in hidden] + [n for n in names if n in hidden]


def _sheet_records(book: Any, name: str) -> list[list[str]]:
    try:
        sheet = book.get_sheet_by_name(name)
        # Keep leading empty rows and columns so positions are Excel's row numbers.
        values = sheet.to_python(skip_empty_area=False)
    except Exception:  # a damaged sheet inside an otherwise readable workbook
        raise IngestError(
            f"Sheet '{name}' is damaged and cannot be read. Save a new copy of the workbook."
        ) from None
    return [[cell_text(v) for v in row] for row in values]


# --- the header row ----------------------------------------------------------------------


def _find_header(
    grid: _Grid, header_row: int | None, header_test: HeaderTest | None,
) -> tuple[_Grid, str | None]:
    """The grid re-headed at the chosen or found header row, and what to tell the operator."""
    at = grid.header_at or 1
    if header_row is not None:
        if header_row == at:
            return grid, None
        return _rehead(grid, header_row), _skipped_note(header_row, "chosen")
    if header_test is not None and header_test([h.strip() for h in grid.header]):
        return grid, None
    head = _head_records(grid, HEADER_SEARCH_ROWS)
    title = _title_block(head)
    if title is None:
        return grid, None  # an ordinary header that the mapping step will discuss
    if header_test is not None:
        for number, cells in head[1:]:
            if any(c.strip() for c in cells) and header_test([c.strip() for c in cells]):
                return _rehead(grid, number), _skipped_note(number, "found")
    searched = "" if header_test is None else (
        f", and no row among the first {HEADER_SEARCH_ROWS} has headers for this batch "
        "type's required fields")
    raise IngestError(
        f"The first rows look like a title, not column headers ({title}){searched}. "
        "Say which row holds the column headers: choose the header row (in the command "
        "line: --header-row N), or delete the title rows and upload the file again."
    )


def _skipped_note(row: int, how: str) -> str:
    skipped = "row 1 skipped" if row == 2 else f"rows 1–{row - 1} skipped"
    return f"header {how} in row {row}; {skipped}"


def _head_records(grid: _Grid, limit: int) -> list[tuple[int, list[str]]]:
    """The header and the next rows, as (row number, cells), for a look at the top."""
    count = min(limit - 1, len(grid.rows))
    columns = [col.slice(0, count).to_pylist() for col in grid.columns]
    records = [(grid.header_at or 1, list(grid.header))]
    for i in range(count):
        records.append((int(grid.rows[i]), [str(col[i] or "") for col in columns]))
    return records


def _title_block(head: list[tuple[int, list[str]]]) -> str | None:
    """Why the first row looks like a title rather than headers, or None if it does not:
    it fills at most half the columns that rows below fill (a title in column A, perhaps
    a date beside it). A header with one gap is a header, and ingest says so later."""
    number, header = head[0]
    filled = [i for i, cell in enumerate(header) if cell.strip()]
    below = {i for _, cells in head[1:] for i, cell in enumerate(cells) if cell.strip()}
    unnamed = sorted(below - set(filled))
    if not unnamed or 2 * len(filled) > len(below | set(filled)):
        return None
    if len(filled) == 1:
        return f"row {number} has text in column {column_letter(filled[0])} only"
    return (f"row {number} has no text in column {column_letter(unnamed[0])}, which has "
            "data below")


def _rehead(grid: _Grid, row: int) -> _Grid:
    """The grid with ``row`` as its header and only the rows below it as data."""
    at = grid.header_at or 1
    position = int(np.searchsorted(grid.rows, row))
    if row < at:
        raise IngestError(f"Row {row} is blank, so it cannot be the header row. Choose the "
                          "row that holds the column headers.")
    if position >= len(grid.rows) or int(grid.rows[position]) != row:
        last = int(grid.rows[-1]) if len(grid.rows) else at
        raise IngestError(f"The file has no row {row} (its last row is {last}). Choose the "
                          "row that holds the column headers.")
    header = [str(col[position].as_py() or "") for col in grid.columns]
    columns = [col.slice(position + 1) for col in grid.columns]
    return _Grid(header, columns, grid.rows[position + 1 :], row)


# --- cleaning shared by every format -----------------------------------------------------


def _finish(grid: _Grid, *, max_rows: int | None) -> pd.DataFrame:
    # pandas is imported here, not with the module: the CLI imports it on a thread while
    # arrow parses the file (cli/intake.py), and waits here if that has not finished.
    import pandas as pd

    header = [h.lstrip("\ufeff").strip() for h in grid.header]
    keep = _keep_columns(header, grid.columns, grid.rows)
    if len(keep) > MAX_COLUMNS:
        raise _too_many_columns(len(keep))
    _check_duplicates([header[i] for i in keep])
    columns = [grid.columns[i] for i in keep]
    rows = grid.rows
    # Blank rows are dropped; when one column is filled on every row there are none.
    if columns and not any(_surely_filled(col) for col in columns):
        mask = _any(_nonblank(col) for col in columns)
        columns = [col.filter(mask) for col in columns]
        rows = rows[mask.to_numpy(zero_copy_only=False)]
    if not columns or len(rows) == 0:
        raise IngestError(
            "The file has a header row but no data rows. Add the rows below the header "
            f"(row {grid.header_at or 1}) and upload it again."
        )
    if max_rows is not None and len(rows) > max_rows:
        raise IngestError(
            f"The file has {len(rows):,} data rows; the limit is {max_rows:,}. "
            "Split it into smaller files."
        )
    names = [header[i] for i in keep]
    _check_cell_lengths(names, columns, rows)
    frame: pd.DataFrame = pa.table(columns, names=[f"c{i}" for i in range(len(names))]).to_pandas()
    frame.columns = pd.Index(names, dtype=object)
    frame.index = pd.Index(rows, name="row")
    return frame


def _nonblank(col: pa.Array | pa.ChunkedArray) -> Any:
    return pc.not_equal(pc.utf8_trim_whitespace(col), "")


def _surely_filled(col: pa.Array | pa.ChunkedArray) -> bool:
    """True when no cell can be blank: none is empty and none starts with a byte that could
    begin whitespace (ASCII space/controls, any non-ASCII byte). A cheap byte check."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    for chunk in chunks:
        if not len(chunk):
            continue
        if chunk.null_count:
            return False
        width = "int64" if pa.types.is_large_string(chunk.type) else "int32"
        offsets: np.ndarray = np.frombuffer(chunk.buffers()[1], dtype=width)[
            chunk.offset : chunk.offset + len(chunk) + 1]
        if (np.diff(offsets) <= 0).any():
            return False
        first = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[:-1]]
        if ((first <= 0x20) | (first >= 0x80)).any():
            return False
    return True


def _keep_columns(
    header: list[str], columns: Sequence[pa.Array | pa.ChunkedArray], rows: np.ndarray,
) -> list[int]:
    """Columns to keep: named ones; unnamed ones without data are dropped, with data refused."""
    keep = []
    for i, name in enumerate(header):
        if name:
            keep.append(i)
            continue
        nonblank = _nonblank(columns[i])
        if pc.any(nonblank).as_py():
            first = int(rows[pc.index(nonblank, True).as_py()])
            raise IngestError(
                f"Column {column_letter(i)} has no header but has data (first in row {first}). "
                "Type a header for it in the header row, or delete the column."
            )
    return keep


def _check_duplicates(names: list[str]) -> None:
    counts = Counter(names)
    repeated = [n for n, c in counts.items() if c > 1]
    if repeated:
        listed = ", ".join(f"'{n}' ({counts[n]} times)" for n in repeated)
        raise IngestError(
            f"Column names must be unique, but the header row repeats {listed}. "
            "Rename the repeated columns so each has its own name."
        )


def _any(masks: Iterable[Any]) -> Any:
    result = None
    for mask in masks:
        result = mask if result is None else pc.or_(result, mask)
    return result


def _check_cell_lengths(names: list[str], columns: list[Any], rows: np.ndarray) -> None:
    for name, col in zip(names, columns, strict=True):
        if (pc.max(pc.binary_length(col)).as_py() or 0) <= MAX_CELL_CHARS:
            continue  # no cell has more bytes, so none has more characters
        lengths = pc.utf8_length(col)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_CELL_CHARS:
            position = pc.index(pc.greater(lengths, MAX_CELL_CHARS), True).as_py()
            raise _cell_too_long(name, int(rows[position]), longest)


def _cell_too_long(column: str | None, row: int | None, length: int | None) -> IngestError:
    where = f" (column '{column}', row {row}, {length:,} characters)" if column else ""
    return IngestError(
        f"A cell is longer than {MAX_CELL_CHARS:,} characters{where}. This usually means a "
        'quote (") was never closed; fix that cell or shorten it.'
    )


def _too_many_columns(width: int) -> IngestError:
    return IngestError(
        f"The file has {width:,} columns; at most {MAX_COLUMNS:,} can be read. Delete the "
        "columns you do not need (or check the delimiter) and upload it again."
    )


def column_letter(index: int) -> str:
    """0 -> "A", 26 -> "AA", as Excel names columns."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
