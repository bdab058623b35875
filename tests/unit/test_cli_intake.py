"""The intake commands as an operator runs them: exit codes, reports, templates, types."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import xlsxwriter
from click.testing import CliRunner

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.cli import main

REPO = Path(__file__).resolve().parents[2]
MIXED = (
    "Customer ID,Transaction ID,Transaction time,Amount\n"
    "cus-1001,T1,2026-01-01T00:00:00Z,12\n"
    'cus-1002,T2,2026-01-01T00:00:00Z,"12,5"\n'
    "1.2E+11,T3,2026-01-02T00:00:00Z,5\n"
    "cus-1004,T1,2026-01-03T00:00:00Z,7\n"
    "cus-1005,T5,2026-01-03T00:00:00Z,8\n"
)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED, encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_report_names_each_bad_cell_by_spreadsheet_row(mixed: Path) -> None:
    code, out, _ = invoke("validate", str(mixed), "--type", "cashback", "--json")
    assert code == 1
    report = json.loads(out)
    assert {k: report[k] for k in ("type", "rows", "valid", "invalid", "chunks")} == {
        "type": "cashback", "rows": 5, "valid": 2, "invalid": 3, "chunks": 1}
    cells = [(i["row"], i["column"], i["value"], i["code"]) for i in report["issues"]]
    assert cells == [(3, "Amount", "12,5", "decimal_comma"),
                     (4, "Customer ID", "1.2E+11", "scientific_notation"),
                     (5, "Transaction ID", "T1", "duplicate_key")]
    assert set(report["issues"][0]) == {"row", "column", "field", "value", "code", "message"}


def test_a_valid_file_exits_zero_with_a_short_summary(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("customer id,amount,reason\ncus-1001,50,Gift\ncus-1002,-5,Fix\n")
    code, out, _ = invoke("validate", str(path), "--type", "adjustments")
    assert code == 0
    assert "2 rows, 2 valid, 0 invalid" in out


def test_the_human_report_shows_the_first_issues_as_a_table(mixed: Path) -> None:
    code, out, _ = invoke("validate", str(mixed), "--type", "cashback")
    assert code == 1
    assert "row  column" in out
    assert "Amount must be a number, got '12,5' (use a dot for decimals" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--type", "nope"], "Unknown batch type 'nope'"),
    (["--type", "cashback", "--map", "amount"], "FIELD=COLUMN"),
    (["--type", "cashback", "--map", "amount=Missing column"], "Missing column"),
])
def test_bad_usage_exits_two_with_a_message(mixed: Path, args: list[str], message: str) -> None:
    code, out, err = invoke("validate", str(mixed), *args)
    assert code == 2
    assert message.lower() in (err + out).lower()
    assert "Traceback" not in err + out


def test_an_unreadable_file_exits_two(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    code, _, err = invoke("validate", str(missing), "--type", "cashback")
    assert (code, "Could not read" in err) == (2, True)
    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not really a workbook")
    code, _, err = invoke("validate", str(garbage), "--type", "cashback")
    assert code == 2
    assert err.strip()
    assert "Traceback" not in err


def test_a_required_column_nobody_can_find_exits_two(tmp_path: Path) -> None:
    path = tmp_path / "nocust.csv"
    path.write_text("amount\n5\n")
    code, _, err = invoke("validate", str(path), "--type", "adjustments")
    assert code == 2
    assert "--map" in err


def test_date_order_option_reads_ambiguous_dates(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("customer id,transaction id,date,amount\n"
                    "cus-1001,A,03/04/2026,5\ncus-1002,B,05/06/2026,6\n")
    code, out, _ = invoke("validate", str(path), "--type", "cashback", "--json")
    assert code == 1
    assert {i["code"] for i in json.loads(out)["issues"]} == {"ambiguous_date"}
    code, out, _ = invoke("validate", str(path), "--type", "cashback", "--json",
                          "--date-order", "DMY")
    assert (code, json.loads(out)["valid"]) == (0, 2)


def test_a_workbook_sheet_can_be_chosen(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    book.add_worksheet("Notes").write_string(0, 0, "nothing here")
    sheet = book.add_worksheet("Balances")
    sheet.write_string(0, 0, "Customer ID")
    sheet.write_string(1, 0, "cus-1001")
    book.close()
    path = tmp_path / "book.xlsx"
    path.write_bytes(buffer.getvalue())
    code, out, _ = invoke("validate", str(path), "--type", "balance-inquiries", "--sheet",
                          "Balances", "--json")
    assert (code, json.loads(out)["valid"]) == (0, 1)


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_a_written_template_validates(tmp_path: Path, slug: str) -> None:
    path = tmp_path / f"{slug}.xlsx"
    code, _, _ = invoke("template", slug, "--format", "xlsx", "-o", str(path))
    assert code == 0
    code, out, _ = invoke("validate", str(path), "--type", slug, "--json")
    assert code == 0, out
    assert json.loads(out)["invalid"] == 0


def test_a_csv_template_goes_to_stdout_without_output_path() -> None:
    code, out, _ = invoke("template", "cashback")
    assert code == 0
    assert out.lstrip("\ufeff").splitlines()[0].replace('"', "").startswith("Customer ID,")


def test_types_lists_every_type_with_required_fields() -> None:
    code, out, _ = invoke("types", "--json")
    assert code == 0
    records = {r["slug"]: r for r in json.loads(out)}
    assert set(records) == set(BATCH_TYPES)
    assert records["cashback"]["endpoint"] == "/api/v4.0/integrations/batch/cashback"
    required = {f["path"] for f in records["orders"]["fields"] if f["required"]}
    assert required == {"customerId", "orderId", "orderDate", "totalPaid"}
    code, out, _ = invoke("types")
    assert "transactionTime*" in out


def test_the_real_command_reports_the_exact_bad_cells(mixed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "gameball_batch", "validate", str(mixed), "--type", "cashback",
         "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )
    assert done.returncode == 1, done.stderr
    issues = json.loads(done.stdout)["issues"]
    assert [(i["row"], i["field"], i["value"]) for i in issues] == [
        (3, "amount", "12,5"), (4, "customerId", "1.2E+11"), (5, "transactionId", "T1")]
    assert done.stderr == ""


def test_the_real_command_flushes_everything_and_keeps_its_exit_code(tmp_path: Path) -> None:
    """validate ends its process without tearing down (cli.run): every byte it printed must
    still arrive, through a pipe, with the command's own exit code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bad = tmp_path / "many.csv"
    bad.write_text("Customer ID,Transaction ID,Transaction time,Amount\n" + "".join(
        f"cus-{i},T{i},2026-01-01T00:00:00Z,x{i}\n" for i in range(3000)), encoding="utf-8")
    ok = tmp_path / "ok.csv"
    ok.write_text("customer id,amount,reason\ncus-1001,50,Gift\n", encoding="utf-8")
    cases = [(bad, "cashback", ["--json"], 1), (bad, "cashback", [], 1),
             (ok, "adjustments", [], 0), (tmp_path / "missing.csv", "cashback", [], 2)]
    for path, slug, extra, expected in cases:
        done = subprocess.run(
            [sys.executable, "-m", "gameball_batch", "validate", str(path), "--type", slug,
             *extra], capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
            check=False)
        assert done.returncode == expected, (path.name, extra, done.stderr)
        in_process = invoke("validate", str(path), "--type", slug, *extra)
        assert (done.stdout, done.stderr) == in_process[1:], (path.name, extra)
    assert len(json.loads(subprocess.run(
        [sys.executable, "-m", "gameball_batch", "validate", str(bad), "--type", "cashback",
         "--json"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
        check=False).stdout)["issues"]) == 3000  # ~600 KB of JSON, well past a pipe buffer


def test_validate_in_process_leaves_the_callers_process_as_it_was(
        mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a process started as the command line is tuned for a one-shot run (garbage
    collector off, allocator settings, no tear-down): a caller of the command keeps its own."""
    from gameball_batch import cli

    for name in ("MIMALLOC_PURGE_DELAY", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    huge_pages = _huge_pages_setting()
    assert invoke("validate", str(mixed), "--type", "cashback")[0] == 1
    assert _huge_pages_setting() == huge_pages
    assert gc.isenabled()
    assert not cli.own_process()
    assert "MIMALLOC_PURGE_DELAY" not in os.environ
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def _huge_pages_setting() -> str:
    status = Path("/proc/self/status")
    if not status.exists():
        return ""
    return "".join(line for line in status.read_text().splitlines() if "THP" in line)


# --- reading options: header row, encoding, decimal mark, custom-column kinds ------------------

TITLED = (
    "Ramadan cashback campaign: payout list\n"
    "2026-03-01\n"
    "\n"
    "Customer ID;Transaction ID;Transaction time;Amount\n"
    "cus-1001;T1;2026-01-01T00:00:00Z;12,25\n"
    "cus-1002;T2;2026-01-01T00:00:00Z;1.234,50\n"
)


def titled(tmp_path: Path, text: str = TITLED, encoding: str = "utf-8") -> Path:
    path = tmp_path / "payouts.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_validate_says_which_header_row_it_used_in_text_and_json(tmp_path: Path) -> None:
    path = titled(tmp_path)
    _, out, _ = invoke("validate", str(path), "--type", "cashback", "--decimal", "comma")
    assert "note: header found in row 4; rows 1–3 skipped" in out
    code, out, _ = invoke("validate", str(path), "--type", "cashback", "--decimal", "comma",
                          "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["header_row"], report["header_note"]) == (
        4, "header found in row 4; rows 1–3 skipped")
    assert report["reading"]["decimal"] == "comma"


def test_without_a_decimal_choice_the_report_suggests_decimal_comma(tmp_path: Path) -> None:
    code, out, _ = invoke("validate", str(titled(tmp_path)), "--type", "cashback")
    assert code == 1
    assert ("note: this file writes decimals with commas, e.g. 12,25 → 12.25: pass --decimal "
            "comma to read it that way") in out
    _, out, _ = invoke("validate", str(titled(tmp_path)), "--type", "cashback", "--json")
    assert json.loads(out)["decimal_comma_example"] == "12,25 → 12.25"


def test_with_decimal_comma_a_dot_decimal_cell_names_both_readings(tmp_path: Path) -> None:
    path = titled(tmp_path, TITLED.replace("1.234,50", "1,234.50"))
    code, out, _ = invoke("validate", str(path), "--type", "cashback", "--decimal", "comma",
                          "--json")
    assert code == 1
    message = json.loads(out)["issues"][0]["message"]
    assert "with dot decimals it is 1234.50, with comma decimals 1.23450" in message


def test_the_header_row_option_overrides_and_a_missing_header_suggests_it(tmp_path: Path) -> None:
    path = titled(tmp_path, TITLED.replace("Customer ID", "Client"))
    code, _, err = invoke("validate", str(path), "--type", "cashback")
    assert code == 2
    assert "--header-row N" in err
    assert "no header but has data" not in err
    code, out, _ = invoke("validate", str(path), "--type", "cashback", "--header-row", "4",
                          "--map", "customerId=Client", "--decimal", "comma")
    assert code == 0, out
    assert "note: header chosen in row 4; rows 1–3 skipped" in out


def test_validate_names_the_encoding_it_assumed(tmp_path: Path) -> None:
    text = "customer id,amount,reason\ncus-1001,50,Café crème\ncus-1002,5,Geschäft\n"
    path = titled(tmp_path, text, "cp1252")
    _, out, _ = invoke("validate", str(path), "--type", "adjustments")
    assert "note: read as Windows-1252 (the file is not UTF-8)" in out
    _, out, _ = invoke("validate", str(path), "--type", "adjustments", "--json")
    assert json.loads(out)["read_as"] == "Windows-1252"
    _, out, _ = invoke("validate", str(titled(tmp_path, text)), "--type", "adjustments",
                       "--json")
    assert json.loads(out)["read_as"] is None


def test_kinds_of_metadata_columns_are_shown_and_can_be_changed(tmp_path: Path) -> None:
    path = titled(tmp_path, "customerId,event,metadata.stars,metadata.sku\n"
                            "cus-1001,write_review,5,00123\n")
    _, out, _ = invoke("validate", str(path), "--type", "events")
    assert "custom columns sent as: metadata.stars → number, metadata.sku → text" in out
    _, out, _ = invoke("validate", str(path), "--type", "events", "--kind",
                       "metadata.stars=text", "--json")
    assert json.loads(out)["reading"]["kinds"] == {"metadata.stars": "text",
                                                   "metadata.sku": "text"}


@pytest.mark.parametrize(("kind", "message"), [
    ("metadata.stars=integer", "number, yes-no, text"),
    ("event=number", "not a custom-attribute or metadata column"),
])
def test_a_bad_kind_is_a_usage_error(tmp_path: Path, kind: str, message: str) -> None:
    path = titled(tmp_path, "customerId,event,metadata.stars\ncus-1001,write_review,5\n")
    code, _, err = invoke("validate", str(path), "--type", "events", "--kind", kind)
    assert code == 2
    assert message in err


def test_submit_accepts_every_reading_option_validate_has() -> None:
    def options(name: str) -> set[str]:
        command = main.get_command(click.Context(main), name)
        assert command is not None
        return {o for p in command.params for o in p.opts if o.startswith("--")}

    reading = options("validate") - {"--json", "--type"}
    assert reading == {"--sheet", "--map", "--date-order", "--header-row", "--decimal", "--kind"}
    assert reading <= options("submit")


@pytest.mark.parametrize(("name", "data", "message"), [
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nests lists or objects too deeply"),
    ("text.xlsx", b"customerId,amount\ncus-1,5\n", "Rename it to end in .csv"),
])
def test_hostile_files_end_in_one_clear_message(
    tmp_path: Path, name: str, data: bytes, message: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = invoke("validate", str(path), "--type", "adjustments")
    assert code == 2
    assert message in err
    assert "Traceback" not in out + err
