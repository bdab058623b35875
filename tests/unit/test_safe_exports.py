"""Every CSV/XLSX the console or the CLI writes goes through exports.py, which neutralises
spreadsheet formulas without changing numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from ledgers import open_test_ledger
from prepared_files import prepare_frame

from gameball_batch import exports, ingest, jobs

ROOT = Path(__file__).resolve().parents[2]
DANGEROUS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3",
             "@SUM(A1:A9)", "\tTAB=1+1", "\rCR=1+1"]
NUMBERS = ["-20", "+201000000001", "12.50", "-0.5"]


def test_no_csv_or_excel_is_written_outside_exports() -> None:
    """A static check of the code: pandas writers are never used directly."""
    sources = [*ROOT.glob("gameball_batch/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sources if path.name != "exports.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.to_csv\(|\.to_excel\(|csv\.writer\(|xlsxwriter\.Workbook\(", line)
    ]
    assert offenders == []


def test_every_download_button_is_fed_by_exports_or_a_template() -> None:
    offenders = []
    for path in [*ROOT.glob("gameball_batch/ui/*.py"), *ROOT.glob("pages/*.py")]:
        text = path.read_text()
        for match in re.finditer(r"download_button\((.*?)\n\s*\)", text, re.S):
            call = match.group(1)
            if not re.search(r"exports\.|_csv|_xlsx|_bytes|template", call):
                offenders.append(f"{path.name}: {call[:80]}")
    assert offenders == []


def _round_trip(data: bytes, name: str) -> pd.DataFrame:
    return ingest.read_table(data, name).frame


def test_formulas_are_neutralised_and_numbers_kept_in_csv_and_xlsx() -> None:
    frame = pd.DataFrame({"cell": DANGEROUS + NUMBERS})
    for data, name in ((exports.to_csv_bytes(frame), "x.csv"),
                       (exports.to_xlsx_bytes(frame), "x.xlsx")):
        cells = _round_trip(data, name)["cell"].tolist()
        for original, written in zip(DANGEROUS, cells, strict=False):
            assert written == "'" + original or written == "'" + original.strip(), name
        assert cells[len(DANGEROUS):] == NUMBERS, name


def test_a_failed_rows_export_of_a_job_neutralises_the_operators_cells(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "Customer ID": ["=HYPERLINK(\"http://evil.example\",\"x\")", "cus-2"],
        "Transaction ID": ["T-1", "@SUM(A1)"],
        "Transaction Time": ["2026-01-02T10:00:00Z"] * 2,
        "Amount": ["10", "20"],
    })
    prepared = prepare_frame("cashback", frame)
    with open_test_ledger(tmp_path, "l.db") as ledger:
        job_id = prepared.submit(ledger).job_id
        # Gameball refuses every row (through the runner's own ledger calls).
        assert ledger.acquire_lease(job_id, "runner", 60)
        assert ledger.claim(job_id, 0, "runner") is not None
        assert ledger.mark_accepted(job_id, 0, "remote-1")
        assert ledger.finish_chunk(job_id, 0, state="failed", unlisted=("failed", "refused"))
        out = tmp_path / "failed.csv"
        assert jobs.export_failed(ledger, job_id, out) == 2
    text = out.read_bytes().decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "'@SUM(A1)" in text
    assert "\n=" not in text
    assert ",=" not in text
