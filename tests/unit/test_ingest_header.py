"""The header row: found below a title block in every format, named, and the operator's to
choose; hostile files end in a clear message."""

from __future__ import annotations

import io

import pytest
import xlsxwriter

from gameball_batch import mapping
from gameball_batch.batch_types import get
from gameball_batch.ingest import IngestError, read_table

CASHBACK = mapping.header_test(get("cashback"))
TITLE = ["Ramadan cashback campaign: payout list", "2026-03-01", ""]
HEADER = ["Customer ID", "Transaction ID", "Transaction time", "Amount"]
ROWS = [["cus-1001", "T-1", "2026-03-01T10:00:00Z", "10"],
        ["cus-1002", "T-2", "2026-03-01T11:00:00Z", "20"]]


def delimited(lines: list[list[str]], delimiter: str = ",") -> bytes:
    return "\n".join(delimiter.join(cells) for cells in lines).encode() + b"\n"


def workbook(sheets: dict[str, list[list[str]]]) -> bytes:
    sink = io.BytesIO()
    with xlsxwriter.Workbook(sink, {"in_memory": True}) as book:
        for name, records in sheets.items():
            sheet = book.add_worksheet(name)
            for r, record in enumerate(records):
                for c, value in enumerate(record):
                    if value:
                        sheet.write_string(r, c, value)
    return sink.getvalue()


TITLE_BLOCK = [[TITLE[0]], [TITLE[1]], [""], HEADER, *ROWS]


@pytest.mark.parametrize(("data", "name", "sheet"), [
    (delimited(TITLE_BLOCK), "payouts.csv", None),
    (delimited(TITLE_BLOCK, ";"), "payouts.csv", None),
    (delimited(TITLE_BLOCK, "\t"), "payouts.tsv", None),
    (delimited([[TITLE[0], "", "", ""], ["", "", "", ""], ["", "", "", ""], HEADER, *ROWS], ";"),
     "padded.csv", None),
    (workbook({"Payouts": TITLE_BLOCK}), "payouts.xlsx", None),
    (workbook({"Notes": [["just notes"]], "Payouts": TITLE_BLOCK}), "payouts.xlsx", "Payouts"),
])
def test_a_title_block_is_skipped_and_rows_keep_their_numbers(
    data: bytes, name: str, sheet: str | None,
) -> None:
    table = read_table(data, name, sheet=sheet, header_test=CASHBACK)
    assert list(table.frame.columns) == HEADER
    assert list(table.frame.index) == [5, 6]
    assert table.header_row == 4
    assert table.header_note == "header found in row 4; rows 1–3 skipped"


def test_a_semicolon_file_with_a_title_line_is_still_read_with_semicolons() -> None:
    table = read_table(delimited(TITLE_BLOCK, ";"), "p.csv", header_test=CASHBACK)
    assert table.delimiter == ";"


def test_an_ordinary_header_is_row_1_and_nothing_is_said() -> None:
    table = read_table(delimited([HEADER, *ROWS]), "p.csv", header_test=CASHBACK)
    assert (table.header_row, table.header_note) == (1, None)


def test_a_header_the_type_does_not_know_stays_the_header_for_the_mapping_step() -> None:
    table = read_table(delimited([["Client", "Sum"], ["cus-1", "5"]]), "p.csv",
                       header_test=CASHBACK)
    assert list(table.frame.columns) == ["Client", "Sum"]


def test_explicit_maps_let_a_row_of_other_names_be_found() -> None:
    test = mapping.header_test(get("adjustments"), {"customerId": "Client", "amount": "Sum"})
    data = delimited([["Adjustments for March"], ["Client", "Sum"], ["cus-1", "5"]])
    table = read_table(data, "p.csv", header_test=test)
    assert table.header_note == "header found in row 2; row 1 skipped"


@pytest.mark.parametrize("test", [CASHBACK, None])
def test_when_no_row_qualifies_the_message_says_so_and_suggests_the_header_row(
    test: object,
) -> None:
    data = delimited([[TITLE[0]], [""], ["Client", "Sum", "When"], ["cus-1", "5", "x"]])
    with pytest.raises(IngestError) as raised:
        read_table(data, "p.csv", header_test=test)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "row 1 has text in column A only" in message
    assert "--header-row N" in message
    assert "has no header but has data" not in message


def test_the_operator_names_the_header_row() -> None:
    data = delimited([[TITLE[0]], [""], ["Client", "Sum", "When"], ["cus-1", "5", "x"]])
    table = read_table(data, "p.csv", header_row=3)
    assert list(table.frame.columns) == ["Client", "Sum", "When"]
    assert list(table.frame.index) == [4]
    assert table.header_note == "header chosen in row 3; rows 1–2 skipped"


@pytest.mark.parametrize(("row", "message"), [
    (9, "no row 9 \\(its last row is 6\\)"),
    (0, "must be 1 or more"),
])
def test_a_header_row_outside_the_file_is_refused_clearly(row: int, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        read_table(delimited(TITLE_BLOCK), "p.csv", header_row=row)


def test_a_blank_leading_line_cannot_be_the_header() -> None:
    with pytest.raises(IngestError, match="Row 1 is blank"):
        read_table(b"\n\n" + delimited([HEADER, *ROWS]), "p.csv", header_row=1)


def test_json_has_no_header_row_to_choose() -> None:
    with pytest.raises(IngestError, match="JSON file has no header row"):
        read_table(b'[{"a": 1}]', "p.json", header_row=2)


# --- hostile files end in one clear message ----------------------------------------------------


@pytest.mark.parametrize(("data", "name"), [
    (b"[" * 100_000 + b"]" * 100_000, "deep.json"),
    (b"{\"a\":" * 100_000 + b"1" + b"}" * 100_000, "deep.json"),
    (b"[" * 100_000 + b"\n", "deep.jsonl"),
])
def test_json_nested_100000_levels_deep_ends_in_a_clear_message(data: bytes, name: str) -> None:
    with pytest.raises(IngestError, match="nests lists or objects too deeply"):
        read_table(data, name)


def test_a_text_file_named_xlsx_gets_one_instruction() -> None:
    with pytest.raises(IngestError) as raised:
        read_table(b"customerId,amount\ncus-1,5\n", "payouts.xlsx")
    assert "Save it again" not in str(raised.value)
    assert "Rename it to end in .csv and upload it again." in str(raised.value)
