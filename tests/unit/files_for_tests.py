"""Builders of the files operators upload, made in memory (no binary fixtures in git)."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from datetime import date, datetime

import xlsxwriter

Cell = str | int | float | bool | date | datetime | None


def xlsx(sheets: dict[str, Sequence[Sequence[Cell]]]) -> bytes:
    """A workbook with one sheet per entry; None leaves a cell empty, dates get a date format."""
    sink = io.BytesIO()
    with xlsxwriter.Workbook(sink, {"in_memory": True}) as book:
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, str):
                        sheet.write_string(r, c, value)
                    elif isinstance(value, bool):
                        sheet.write_boolean(r, c, value)
                    elif isinstance(value, datetime):
                        sheet.write_datetime(r, c, value, moment)
                    elif isinstance(value, date):
                        sheet.write_datetime(r, c, value, day)
                    else:
                        sheet.write_number(r, c, value)
    return sink.getvalue()


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def ods(sheet: str, rows: Sequence[Sequence[str | float]]) -> bytes:
    """A minimal OpenDocument spreadsheet (LibreOffice's format) with one sheet."""
    body = "".join(
        "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
        for row in rows
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} '
        'office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="{sheet}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return sink.getvalue()


def _ods_cell(value: str | float) -> str:
    if isinstance(value, str):
        cell = f"<text:p>{value}</text:p>"
        return f'<table:table-cell office:value-type="string">{cell}</table:table-cell>'
    return (
        f'<table:table-cell office:value-type="float" office:value="{value}">'
        f"<text:p>{value}</text:p></table:table-cell>"
    )


def zip_bomb() -> bytes:
    """An .xlsx-shaped archive whose one sheet would expand ~1000x (60 MB of spaces)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (60 << 20))
    return sink.getvalue()


def encrypted_workbook() -> bytes:
    """What Excel writes for a password-protected .xlsx: an OLE2 file with EncryptedPackage."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    directory = "EncryptionInfo".encode("utf-16-le") + b"\x00" * 50
    directory += "EncryptedPackage".encode("utf-16-le") + b"\x00" * 50
    return header + directory + b"\x17" * 2048


# --- Excel 97-2003 (.xls): a BIFF8 "Workbook" stream inside a minimal OLE2 container -------

_END, _FREE, _FAT_SECTOR, _NO_ENTRY = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF


def _record(kind: int, payload: bytes) -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def _bof(kind: int) -> bytes:
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))


def _biff8(sheet: str, rows: Sequence[Sequence[str | float | None]], encrypted: bool) -> bytes:
    def workbook_globals(offset: int) -> bytes:
        # FILEPASS right after BOF is how Excel marks a password-protected .xls.
        filepass = _record(0x002F, struct.pack("<H", 1) + bytes(52)) if encrypted else b""
        name = struct.pack("<IBBBB", offset, 0, 0, len(sheet), 1) + sheet.encode("utf-16-le")
        return (_bof(0x0005) + filepass + _record(0x0042, struct.pack("<H", 1200))
                + _record(0x0085, name) + _record(0x000A, b""))

    cells = b""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                text = struct.pack("<HHHHB", r, c, 0, len(value), 1) + value.encode("utf-16-le")
                cells += _record(0x0204, text)  # LABEL
            elif value is not None:
                cells += _record(0x0203, struct.pack("<HHHd", r, c, 0, float(value)))  # NUMBER
    width = max(len(row) for row in rows)
    dimensions = _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
    body = _bof(0x0010) + dimensions + cells + _record(0x000A, b"")
    return workbook_globals(len(workbook_globals(0))) + body


def xls(sheet: str, rows: Sequence[Sequence[str | float | None]], *, encrypted: bool = False
        ) -> bytes:
    """An Excel 97-2003 workbook with one sheet of text and number cells."""
    stream = _biff8(sheet, rows, encrypted)
    size = max(len(stream), 4096)  # at the mini-stream cutoff or above: plain sectors only
    stream = stream.ljust(-(-size // 512) * 512, b"\x00")
    count = len(stream) // 512
    fat = [_FAT_SECTOR, _END, *range(3, 2 + count), _END]
    fat += [_FREE] * (128 - len(fat))
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 0x1000, _END, 0, _END, 0)
        + struct.pack("<I", 0) + struct.pack("<I", _FREE) * 108
    )

    def entry(name: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        return (raw.ljust(64, b"\x00") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", _NO_ENTRY, _NO_ENTRY, child) + bytes(36)
                + struct.pack("<IQ", start, length))

    directory = (entry("Root Entry", 5, 1, _END, 0) + entry("Workbook", 2, _NO_ENTRY, 2, size)
                 + entry("", 0, _NO_ENTRY, 0, 0) * 2)
    return header + struct.pack("<128I", *fat) + directory + stream
