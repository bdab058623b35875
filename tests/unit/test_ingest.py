"""What an operator sees when a file is read: text cells, Excel row numbers, clear refusals."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date, datetime

import pytest
from files_for_tests import encrypted_workbook, ods, xls, xlsx, zip_bomb

from gameball_batch.ingest import IngestError, Table, list_sheets, read_table

ARABIC_NAMES = ["محمد أحمد", "سارة علي", "عبد الله"]


def rows_of(table: Table) -> dict[int, dict[str, str]]:
    return {int(k): v for k, v in table.frame.to_dict("index").items()}


# --- CSV and TSV ------------------------------------------------------------------------


def test_csv_cells_stay_text_exactly_as_typed() -> None:
    data = b"customerId,amount,mobile,note\n00123,12.50,+201000000001,NA\n007,1E+11,,null\n"
    table = read_table(data, "cashback.csv")
    assert table.frame.loc[2].tolist() == ["00123", "12.50", "+201000000001", "NA"]
    assert table.frame.loc[3].tolist() == ["007", "1E+11", "", "null"]
    assert all(table.frame[c].map(type).eq(str).all() for c in table.frame.columns)
    assert table.frame.index.name == "row"
    assert (table.format, table.delimiter, table.encoding) == ("csv", ",", "utf-8")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(delimiter: str) -> None:
    lines = [["Customer ID", "Amount", "Reason"], ["cus-1", "12,5", "a;b"], ["cus-2", "3", "c"]]
    # A value that contains another candidate delimiter is quoted, as Excel does.
    text = "\n".join(
        delimiter.join(f'"{v}"' if any(d in v for d in ",;|") else v for v in line)
        for line in lines
    )
    table = read_table(text.encode(), "file.csv")
    assert table.delimiter == delimiter
    assert list(table.frame.columns) == ["Customer ID", "Amount", "Reason"]
    assert table.frame.loc[2, "Amount"] == "12,5"


def test_tsv_file_is_read_as_tab_separated() -> None:
    table = read_table(b"id\tname\n1\tAmira, Saleh\n", "customers.tsv")
    assert (table.format, table.delimiter) == ("tsv", "\t")
    assert table.frame.loc[2, "name"] == "Amira, Saleh"


def test_arabic_utf8_round_trips() -> None:
    text = "الاسم,رقم العميل\n" + "\n".join(f"{n},cus-{i}" for i, n in enumerate(ARABIC_NAMES))
    table = read_table(text.encode("utf-8"), "عملاء.csv")
    assert table.frame["الاسم"].tolist() == ARABIC_NAMES
    assert table.encoding == "utf-8"


def test_excel_csv_utf8_with_bom_and_semicolons_keeps_arabic_and_decimal_commas() -> None:
    text = "Customer ID;الاسم;Amount\r\n" + "\r\n".join(
        f"cus-{i};{n};12,5" for i, n in enumerate(ARABIC_NAMES)
    )
    table = read_table(b"\xef\xbb\xbf" + text.encode("utf-8"), "export.csv")
    assert list(table.frame.columns) == ["Customer ID", "الاسم", "Amount"]  # no BOM in header
    assert table.frame["الاسم"].tolist() == ARABIC_NAMES
    assert table.frame["Amount"].tolist() == ["12,5"] * 3
    assert (table.delimiter, table.encoding) == (";", "utf-8-sig")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_export_utf16_is_read(codec: str) -> None:
    lines = [f"cus-{i}\t{n}" for i, n in enumerate(ARABIC_NAMES)]
    text = "Customer ID\tName\r\n" + "\r\n".join(lines)
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    table = read_table(bom + text.encode(codec), "Unicode Text.txt")
    assert table.frame["Name"].tolist() == ARABIC_NAMES
    assert (table.format, table.delimiter, table.encoding) == ("tsv", "\t", codec)


def test_windows_1256_arabic_export_is_decoded() -> None:
    text = "الاسم,المبلغ\r\n" + "\r\n".join(f"{n},{i}" for i, n in enumerate(ARABIC_NAMES))
    table = read_table(text.encode("cp1256"), "legacy.csv")
    assert table.frame["الاسم"].tolist() == ARABIC_NAMES
    assert table.encoding == "windows-1256"


def test_windows_1252_export_keeps_accents() -> None:
    data = "Name,City\nJosé Müller,Zürich\nRenée Zoë,€ café\n".encode("cp1252")
    table = read_table(data, "legacy.csv")
    assert table.frame["Name"].tolist() == ["José Müller", "Renée Zoë"]
    assert table.frame.loc[3, "City"] == "€ café"
    assert table.encoding == "windows-1252"


def test_row_numbers_match_excel_with_blank_rows_and_quoted_newlines() -> None:
    data = (
        b'id,note\n'
        b'a,"first line\nsecond line"\n'  # row 2, one record over two lines
        b",\n"  # row 3: blank, dropped
        b"\n"  # row 4: empty line, dropped
        b'b,"x\r\ny"\n'  # row 5
        b"c,plain\n"  # row 6
        b",,\n\n\n"  # trailing blank rows
    )
    table = read_table(data, "notes.csv")
    assert list(table.frame.index) == [2, 5, 6]
    assert table.frame.loc[2, "note"] == "first line\nsecond line"
    assert table.frame.loc[5, "note"] == "x\r\ny"


def test_blank_lines_above_the_header_keep_excel_numbers() -> None:
    table = read_table(b"\n\nid,amount\n1,2\n", "x.csv")
    assert list(table.frame.columns) == ["id", "amount"]
    assert list(table.frame.index) == [4]


def test_header_names_are_trimmed_but_cells_are_not() -> None:
    table = read_table(b" Customer ID ,Amount\n  cus-1 , 5\n", "x.csv")
    assert list(table.frame.columns) == ["Customer ID", "Amount"]
    assert table.frame.loc[2].tolist() == ["  cus-1 ", " 5"]


def test_trailing_blank_columns_are_dropped_and_short_rows_padded() -> None:
    table = read_table(b"id,amount,,\n1,2,,\n3\n4,5,,\n", "x.csv")
    assert list(table.frame.columns) == ["id", "amount"]
    assert table.frame["amount"].tolist() == ["2", "", "5"]


def test_fingerprint_is_the_sha256_of_the_bytes() -> None:
    data = b"id\n1\n"
    assert read_table(data, "x.csv").fingerprint == hashlib.sha256(data).hexdigest()


# --- workbooks ---------------------------------------------------------------------------


def test_xlsx_cells_read_as_an_operator_sees_them() -> None:
    header = ["id", "count", "price", "big", "day", "when", "vip", "ratio"]
    row = [
        "00123", 123.0, 12.5, 12345678901234.0,
        date(2026, 11, 20), datetime(2026, 11, 20, 9, 15), True, 0.1 + 0.2,
    ]
    table = read_table(xlsx({"Orders": [header, row]}), "orders.xlsx")
    assert table.frame.loc[2].tolist() == [
        "00123", "123", "12.5", "12345678901234",
        "2026-11-20", "2026-11-20T09:15:00", "true", "0.3",
    ]
    assert (table.format, table.sheet, table.encoding, table.delimiter) == (
        "xlsx", "Orders", None, None,
    )


def test_xlsx_blank_rows_are_dropped_keeping_excel_row_numbers() -> None:
    rows = [["id", "amount"], ["a", 1], [None, None], ["b", 2], [], [], ["c", 3], [None, None]]
    table = read_table(xlsx({"S": rows}), "x.xlsx")
    assert list(table.frame.index) == [2, 4, 7]
    assert table.frame["id"].tolist() == ["a", "b", "c"]


def test_first_sheet_with_data_is_chosen_and_others_are_listed() -> None:
    data = xlsx({"Notes": [], "Cashback": [["id"], ["cus-1"]], "Other": [["x"], ["y"]]})
    table = read_table(data, "book.xlsx")
    assert table.sheet == "Cashback"
    assert table.sheets == ("Notes", "Cashback", "Other")
    assert list_sheets(data, "book.xlsx") == ["Notes", "Cashback", "Other"]


def test_a_sheet_can_be_chosen_by_name() -> None:
    data = xlsx({"A": [["id"], ["1"]], "B": [["code"], ["x"]]})
    table = read_table(data, "book.xlsx", sheet="B")
    assert table.sheet == "B"
    assert table.frame["code"].tolist() == ["x"]


def test_unknown_sheet_name_lists_the_sheets() -> None:
    with pytest.raises(IngestError, match=r"no sheet named 'Sheet9'.*'A', 'B'"):
        read_table(xlsx({"A": [["id"], ["1"]], "B": [["id"], ["2"]]}), "b.xlsx", sheet="Sheet9")


def test_ods_spreadsheet_is_read() -> None:
    table = read_table(ods("Feuille1", [["id", "amount"], ["٠٠١ أحمد", 12.5], ["x", 3.0]]), "a.ods")
    assert table.format == "ods"
    assert table.frame.loc[2].tolist() == ["٠٠١ أحمد", "12.5"]
    assert table.frame.loc[3, "amount"] == "3"


def test_xls_97_2003_workbook_is_read() -> None:
    rows = [["id", "name", "amount"], ["00123", "سارة", 12.5], [None, None, None], ["x", None, 3.0]]
    table = read_table(xls("Legacy", rows), "old.xls")
    assert (table.format, table.sheet) == ("xls", "Legacy")
    assert rows_of(table) == {
        2: {"id": "00123", "name": "سارة", "amount": "12.5"},
        4: {"id": "x", "name": "", "amount": "3"},
    }


def test_old_workbook_renamed_xlsx_is_still_read() -> None:
    table = read_table(xls("Legacy", [["id"], ["1"]]), "renamed.xlsx")
    assert table.format == "xls"
    assert table.frame["id"].tolist() == ["1"]


def test_list_sheets_of_a_csv_is_empty() -> None:
    assert list_sheets(b"id\n1\n", "x.csv") == []


# --- JSON --------------------------------------------------------------------------------


def test_json_array_of_objects_becomes_dotted_text_columns() -> None:
    records = [
        {"customerId": "cus-1", "customerAttributes": {"firstName": "سارة"}, "amount": 12.50,
         "tags": ["a", "b"], "guest": True, "big": 12345678901234567890},
        {"customerId": "cus-2", "amount": None},
    ]
    # json.dumps writes 12.5; a hand-written file keeps its own spelling, checked below.
    data = json.dumps(records, ensure_ascii=False).replace("12.5", "12.50").encode()
    table = read_table(data, "customers.json")
    assert table.format == "json"
    assert table.frame.loc[2].to_dict() == {
        "customerId": "cus-1", "customerAttributes.firstName": "سارة", "amount": "12.50",
        "tags": "a,b", "guest": "true", "big": "12345678901234567890",
    }
    assert table.frame.loc[3, "amount"] == ""


def test_json_lines_rows_follow_the_line_numbers() -> None:
    data = b'{"id": "a"}\n\n{"id": "b", "n": 2}\n'
    table = read_table(data, "events.jsonl")
    assert list(table.frame.index) == [2, 4]
    assert table.frame.loc[4].tolist() == ["b", "2"]


# --- refusals ------------------------------------------------------------------------------

BIG_CELL = "x" * 100_001
WIDE = ",".join(f"c{i}" for i in range(2001)) + "\n" + ",".join("1" * 2001) + "\n"

REFUSALS = [
    pytest.param(b"", "x.csv", {}, r"empty.*Export the sheet again", id="empty"),
    pytest.param(b"\xef\xbb\xbf\r\n", "x.csv", {}, r"empty", id="bom-only"),
    pytest.param(b"id,amount\n", "x.csv", {}, r"no data rows.*Add the rows", id="header-only"),
    pytest.param(b"id,amount\n,\n\n", "x.csv", {}, r"no data rows", id="header-and-blanks"),
    pytest.param(
        b"id,Amount,Amount\n1,2,3\n", "x.csv", {}, r"repeats 'Amount'.*Rename", id="duplicates"
    ),
    pytest.param(b"id,,x\n1,2,3\n", "x.csv", {}, r"Column B has no header.*row 2.*Type a header",
                 id="blank-header"),
    pytest.param(b"id,x\n1,2\n3,4,5\n", "x.csv", {}, r"Column C has no header.*row 3",
                 id="ragged-extra-value"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "x.csv", {}, r"PNG image.*Upload a",
                 id="png-renamed"),
    pytest.param(xlsx({"S": [["id"], ["1"]]}), "x.csv", {}, r"Excel workbook.*Rename it to .xlsx",
                 id="xlsx-renamed-csv"),
    pytest.param(b"id\n1\n", "report.pdf", {}, r"\.pdf file.*Upload a CSV", id="unknown-ext"),
    pytest.param(b"\x00\x01\x02\x03" * 50, "x.csv", {}, r"binary data", id="binary"),
    pytest.param(xlsx({"S": [["id"], ["1"]]})[:400], "x.xlsx", {}, r"damaged.*save a new copy",
                 id="corrupt-xlsx"),
    pytest.param(b"id,amount\n1,2\n", "x.xlsx", {}, r"^This file is text \(CSV\), not an "
                 r"Excel workbook \(\.xlsx\), although its name says so\. Rename it to end in "
                 r"\.csv and upload it again\.$",
                 id="csv-named-xlsx"),
    pytest.param(encrypted_workbook(), "x.xlsx", {}, r"password-protected.*remove the password",
                 id="encrypted"),
    pytest.param(xls("S", [["id"], ["1"]], encrypted=True), "x.xls", {},
                 r"password-protected.*remove the password", id="encrypted-xls"),
    pytest.param(b"id\n1\n2\n", "x.csv", {"max_bytes": 5}, r"limit is 5 bytes.*Split",
                 id="too-big"),
    pytest.param(b"id\n1\n2\n3\n", "x.csv", {"max_rows": 2}, r"3 data rows.*limit is 2.*Split",
                 id="too-many-rows"),
    pytest.param(xlsx({"S": [["id"], ["1"]] + [["2"]] * 3}), "x.xlsx", {"max_rows": 2},
                 r"4 data rows.*limit is 2", id="too-many-rows-xlsx"),
    pytest.param(zip_bomb(), "x.xlsx", {}, r"would expand.*Export the data again", id="zip-bomb"),
    pytest.param(WIDE.encode(), "x.csv", {}, r"2,001 columns.*Delete the columns", id="wide"),
    pytest.param(f'id,note\n1,"{BIG_CELL}"\n'.encode(), "x.csv", {},
                 r"longer than 100,000.*'note', row 2.*quote", id="huge-cell"),
    pytest.param(bytes(range(128, 256)) * 8, "x.csv", {}, r"not UTF-8.*save it as 'CSV UTF-8'",
                 id="undetectable-encoding"),
    pytest.param(b'[{"a": 1},', "x.json", {}, r"not valid JSON.*line 1", id="bad-json"),
    pytest.param(b'{"a": 1}', "x.json", {}, r"list of objects", id="json-not-list"),
    pytest.param(b"[]", "x.json", {}, r"no records.*Export", id="json-empty-list"),
    pytest.param(b'[{"a": 1}, 5]', "x.json", {}, r"Item 2.*not an object", id="json-item"),
    pytest.param(b'{"a": 1}\n{oops}\n', "x.jsonl", {}, r"Line 2 is not valid JSON",
                 id="bad-jsonl"),
    pytest.param(xlsx({"A": [], "B": []}), "x.xlsx", {}, r"Every sheet.*empty", id="empty-book"),
]


@pytest.mark.parametrize(("data", "name", "options", "message"), REFUSALS)
def test_bad_files_are_refused_with_a_message_saying_what_to_fix(
    data: bytes, name: str, options: dict[str, int], message: str
) -> None:
    with pytest.raises(IngestError, match=message):
        read_table(data, name, **options)


def test_list_sheets_refuses_a_password_protected_workbook() -> None:
    with pytest.raises(IngestError, match="password-protected"):
        list_sheets(encrypted_workbook(), "secret.xlsx")


@pytest.mark.parametrize("name", ["x.csv", "x.tsv", "x.xlsx", "x.xls", "x.ods", "x.json",
                                  "x.jsonl", "noextension"])
def test_random_bytes_never_escape_as_anything_but_an_ingest_error(name: str) -> None:
    rng = random.Random(name)
    seeds = [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xff\xfe", b"\xef\xbb\xbf",
             b"id,amount\n", b"[", b""]
    messages = []
    for _ in range(40):
        data = rng.choice(seeds) + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        try:
            read_table(data, name)
        except IngestError as err:  # any other exception fails the test
            messages.append(str(err))
    assert all(messages)
