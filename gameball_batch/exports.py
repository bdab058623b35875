"""Write tables as CSV or XLSX bytes that open safely in Excel and re-import unchanged.

Every value is written as text (IDs keep their leading zeros, Arabic stays Arabic: CSV is
UTF-8 with a BOM, which is what Excel needs to recognise it). Spreadsheet formula injection
is neutralised: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
leading single quote, unless the cell is a plain number such as ``-20`` or ``+201000000001``.

This module is generic: callers choose the columns and their order (put the source ``row``
in a column if it should be exported; the index is not written). It must not know about
batch types, the ledger or streamlit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import xlsxwriter

from gameball_batch.ingest import cell_text

EXCEL_MAX_ROWS = 1_048_576  # including the header row
EXCEL_MAX_CELL_CHARS = 32_767

_DANGEROUS_START = r"[=+\-@\t\r]"
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DANGEROUS_RE = re.compile(_DANGEROUS_START)
_PLAIN_NUMBER_RE = re.compile(_PLAIN_NUMBER)
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


class ExportError(ValueError):
    """A table that cannot be written in the requested format; the message says what to do."""


def neutralise(value: str) -> str:
    """The cell text with a leading quote if a spreadsheet could run it as a formula."""
    if _DANGEROUS_RE.match(value) and not _PLAIN_NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM, comma-separated, every cell text and neutralised."""
    text = _text_frame(frame)
    table = pa.table(
        {
            f"c{i}": pa.array(text.iloc[:, i].tolist(), type=pa.string())
            for i in range(text.shape[1])
        }
    )
    table = table.rename_columns([neutralise(str(c)) for c in text.columns])
    sink = io.BytesIO()
    sink.write(b"\xef\xbb\xbf")
    pcsv.write_csv(table, sink, write_options=pcsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def to_xlsx_bytes(frame: pd.DataFrame, *, sheet: str = "rows") -> bytes:
    """One-sheet XLSX where every cell is a text cell (so "00123" stays "00123")."""
    return to_xlsx_book_bytes({sheet: frame})


def to_xlsx_book_bytes(
    sheets: dict[str, pd.DataFrame], *, right_to_left: Collection[str] = (),
) -> bytes:
    """An XLSX of several sheets, in the given order, every cell text; the sheets named in
    ``right_to_left`` read right to left, as an Arabic-locale sheet does."""
    texts = {name: _text_frame(frame) for name, frame in sheets.items()}
    for text in texts.values():
        if len(text) + 1 > EXCEL_MAX_ROWS:
            raise ExportError(
                f"{len(text):,} rows do not fit in one Excel sheet (limit "
                f"{EXCEL_MAX_ROWS - 1:,}). Download CSV instead."
            )
        _check_cell_lengths(text)
    sink = io.BytesIO()
    options = {
        "in_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    with xlsxwriter.Workbook(sink, options) as book:
        as_text = book.add_format({"num_format": "@"})  # typing into the cell keeps it text
        for sheet, text in texts.items():
            worksheet = book.add_worksheet(_sheet_name(sheet))
            for col, name in enumerate(text.columns):
                worksheet.write_string(0, col, neutralise(str(name)), as_text)
            for col in range(text.shape[1]):
                for row, value in enumerate(text.iloc[:, col].tolist(), start=1):
                    if value:
                        worksheet.write_string(row, col, value, as_text)
            worksheet.freeze_panes(1, 0)
            if sheet in right_to_left:
                worksheet.right_to_left()
    return sink.getvalue()


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as neutralised text; None/NaN become "", lists comma-separated text."""
    columns = {i: _text_column(frame.iloc[:, i]) for i in range(frame.shape[1])}
    text = pd.DataFrame(columns, index=frame.index)
    text.columns = pd.Index([str(c) for c in frame.columns], dtype=object)
    return text


def _text_column(series: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        text = series.fillna("")
    else:
        text = series.map(_value_text).astype(str)
    dangerous = text.str.match(_DANGEROUS_START) & ~text.str.fullmatch(_PLAIN_NUMBER)
    if bool(dangerous.any()):
        text = text.where(~dangerous, "'" + text)
    return text


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_value_text(v) for v in value)
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return cell_text(value)


def _check_cell_lengths(text: pd.DataFrame) -> None:
    for i, name in enumerate(text.columns):
        if bool((text.iloc[:, i].str.len() > EXCEL_MAX_CELL_CHARS).any()):
            raise ExportError(
                f"Column '{name}' has a cell longer than Excel's {EXCEL_MAX_CELL_CHARS:,} "
                "characters. Download CSV instead."
            )


def _sheet_name(name: str) -> str:
    cleaned = _SHEET_NAME_BAD.sub(" ", name).strip("' ")[:31]
    return cleaned or "rows"
