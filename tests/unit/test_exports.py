"""Exports open safely in Excel and come back through ingest with the same text."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from gameball_batch.exports import ExportError, neutralise, to_csv_bytes, to_xlsx_bytes
from gameball_batch.ingest import read_table

SAFE = pd.DataFrame(
    {
        "row": [2, 3, 5],
        "customerId": ["00123", "cus-2", "007"],
        "name": ["سارة علي", 'Amira "the boss", Saleh', "line one\nline two"],
        "mobile": ["+201000000001", "", "+966500000000"],
        "amount": ["-20", "+5", "-3.5"],
    }
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tTAB", "'\tTAB"),
        ("\r=1", "'\r=1"),
        ("-20", "-20"),
        ("+5", "+5"),
        ("-3.5", "-3.5"),
        ("+201000000001", "+201000000001"),
        ("1e5", "1e5"),
        ("cus-1", "cus-1"),
        ("", ""),
        ("سارة", "سارة"),
    ],
)
def test_formula_like_cells_get_a_leading_quote_but_plain_numbers_do_not(
    value: str, expected: str
) -> None:
    assert neutralise(value) == expected


def test_csv_export_is_utf8_with_bom_for_excel() -> None:
    data = to_csv_bytes(SAFE)
    assert data.startswith(b"\xef\xbb\xbf")
    assert "سارة علي".encode() in data


@pytest.mark.parametrize("writer", [to_csv_bytes, to_xlsx_bytes], ids=["csv", "xlsx"])
def test_export_round_trips_through_ingest_with_the_same_text(writer: object) -> None:
    data = writer(SAFE)  # type: ignore[operator]
    table = read_table(data, "export.csv" if writer is to_csv_bytes else "export.xlsx")
    assert list(table.frame.columns) == list(SAFE.columns)
    expected = SAFE.astype(str).to_dict("records")
    assert table.frame.reset_index(drop=True).to_dict("records") == expected


@pytest.mark.parametrize("writer", [to_csv_bytes, to_xlsx_bytes], ids=["csv", "xlsx"])
def test_formula_injection_is_neutralised_in_cells_and_headers(writer: object) -> None:
    frame = pd.DataFrame({"=HYPERLINK(\"x\")": ["=1+2", "@x", "-20"]})
    data = writer(frame)  # type: ignore[operator]
    table = read_table(data, "e.csv" if writer is to_csv_bytes else "e.xlsx")
    assert list(table.frame.columns) == ["'=HYPERLINK(\"x\")"]
    assert table.frame.iloc[:, 0].tolist() == ["'=1+2", "'@x", "-20"]


def test_xlsx_cells_are_text_cells_so_ids_keep_leading_zeros() -> None:
    data = to_xlsx_bytes(SAFE, sheet="failed rows")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        workbook = archive.read("xl/workbook.xml").decode()
    assert "<f>" not in sheet  # no formulas anywhere
    assert 't="n"' not in sheet
    assert "<v>123</v>" not in sheet
    assert 'name="failed rows"' in workbook
    assert read_table(data, "x.xlsx").frame["customerId"].tolist() == ["00123", "cus-2", "007"]


def test_typed_values_are_written_as_operator_text() -> None:
    frame = pd.DataFrame(
        {
            "points": [300, -50],
            "amount": [12.5, 3.0],
            "tags": [["vip", "new"], None],
            "guest": [True, False],
            "note": [None, float("nan")],
        }
    )
    table = read_table(to_csv_bytes(frame), "typed.csv")
    assert table.frame.to_dict("records") == [
        {"points": "300", "amount": "12.5", "tags": "vip,new", "guest": "true", "note": ""},
        {"points": "-50", "amount": "3", "tags": "", "guest": "false", "note": ""},
    ]


def test_a_cell_too_long_for_excel_is_refused_with_a_way_out() -> None:
    with pytest.raises(ExportError, match="Download CSV instead"):
        to_xlsx_bytes(pd.DataFrame({"note": ["x" * 40_000]}))
