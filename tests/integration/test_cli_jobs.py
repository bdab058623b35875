"""The jobs CLI from a spreadsheet to results, against the sandbox over HTTP."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ledgers import ledger_target, stored_text
from submission_helpers import applied_counts, inject

from gameball_batch.cli import main
from gameball_batch.sandbox import SandboxServer

PAST = "2026-01-02T03:04:05Z"

FILES = {
    "customers": "customerId,customerAttributes.displayName\nnew-1,Amira\nnew-2,Omar\n",
    "orders": f"customerId,orderId,orderDate,totalPaid\ncus-1001,SO-1,{PAST},10\n"
              f"cus-1002,SO-2,{PAST},20\n",
    "balance-inquiries": "customerId\ncus-1001\ncus-1002\n",
    "adjustments": "customerId,amount,reason\ncus-1001,5,goodwill\ncus-1002,-5,fix\n",
    "cashback": f"customerId,transactionId,transactionTime,amount\ncus-1001,T-1,{PAST},10\n"
                f"cus-1002,T-2,{PAST},20.5\n",
    "redemptions": f"customerId,transactionId,transactionTime,points\ncus-1001,R-1,{PAST},10\n"
                   f"cus-1002,R-2,{PAST},20\n",
    "events": "customerId,event,metadata.stars\ncus-1001,write_review,5\ncus-1002,write_review,4\n",
}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("slug", list(FILES))
def test_submit_sends_every_type_from_a_spreadsheet(
    slug: str, connected: SandboxServer, tmp_path: Path
) -> None:
    path = write(tmp_path, f"{slug}.csv", FILES[slug])
    result = run("submit", str(path), "--type", slug, "--yes", "--wait", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "finished"
    assert outcome["rows"]["applied"] == 2
    assert set(applied_counts(connected, slug).values()) == {1}


def test_invalid_rows_exit_1_name_the_row_and_send_nothing(
    connected: SandboxServer, tmp_path: Path
) -> None:
    text = f"customerId,transactionId,transactionTime,amount\ncus-1001,T-1,{PAST},12,5\n" \
           f"cus-1002,T-2,{PAST},abc\n"
    path = write(tmp_path, "bad.csv", text.replace("12,5", '"12,5"'))
    result = run("submit", str(path), "--type", "cashback", "--yes", "--wait")
    assert result.exit_code == 1
    assert "row 2" in result.stderr
    assert "row 3" in result.stderr
    assert "Traceback" not in result.output
    assert applied_counts(connected, "cashback") == {}


def test_without_yes_and_without_a_terminal_nothing_is_sent(
    connected: SandboxServer, tmp_path: Path
) -> None:
    path = write(tmp_path, "cb.csv", FILES["cashback"])
    result = run("submit", str(path), "--type", "cashback", "--wait")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert "2 rows" in result.stderr  # the impact was shown first
    assert applied_counts(connected, "cashback") == {}


def test_failed_rows_exit_3_then_export_and_retry(connected: SandboxServer, tmp_path: Path) -> None:
    text = f"customerId,transactionId,transactionTime,amount\ncus-1001,T-1,{PAST},10\n" \
           f"cus-9999,T-2,{PAST},20\n"
    path = write(tmp_path, "cb.csv", text)
    result = run("submit", str(path), "--type", "cashback", "--yes", "--wait", "--json")
    assert result.exit_code == 3
    job_id = json.loads(result.stdout)["id"]

    status = run("status", job_id, "--json")
    assert json.loads(status.stdout)["rows"] == {
        "pending": 0, "applied": 1, "failed": 1, "unknown": 0, "not_applied": 0}

    for name in ("failed.csv", "failed.xlsx"):
        out = tmp_path / name
        assert run("export-failed", job_id, "-o", str(out)).exit_code == 0
        from gameball_batch.ingest import read_table

        table = read_table(out.read_bytes(), out.name)
        assert list(table.frame.columns) == ["source row", "customerId", "transactionId",
                                             "transactionTime", "amount", "error"]
        assert table.frame["source row"].tolist() == ["3"]
        assert "Customer Not Found" in table.frame["error"].iloc[0]

    fix = write(tmp_path, "fix.csv", "customerId\ncus-9999\n")  # the operator creates them
    assert run("submit", str(fix), "--type", "customers", "--yes", "--wait").exit_code == 0
    retry = run("retry-failed", job_id, "--json")
    child = json.loads(retry.stdout)
    assert child["parent_job_id"] == job_id
    assert child["row_count"] == 1
    resumed = run("resume", child["id"], "--wait", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert applied_counts(connected, "cashback") == {"T-1": 1, "T-2": 1}


def test_sending_the_same_file_twice_needs_an_override_with_a_reason(
        connected: SandboxServer, tmp_path: Path) -> None:
    path = write(tmp_path, "adj.csv", FILES["adjustments"])
    assert run("submit", str(path), "--type", "adjustments", "--yes", "--wait").exit_code == 0
    again = run("submit", str(path), "--type", "adjustments", "--yes", "--wait")
    assert again.exit_code == 1
    assert "already sent" in again.stderr
    assert "row 2 (" in again.stderr  # a few matching rows are listed
    assert "--override-duplicates" in again.stderr
    assert set(applied_counts(connected, "adjustments").values()) == {1}
    forced = run("submit", str(path), "--type", "adjustments", "--yes", "--wait",
                 "--override-duplicates", "support asked for a resend")
    assert forced.exit_code == 0, forced.output
    assert set(applied_counts(connected, "adjustments").values()) == {2}


def test_jobs_lists_and_unknown_job_is_a_usage_error(connected: SandboxServer,
                                                     tmp_path: Path) -> None:
    path = write(tmp_path, "cb.csv", FILES["cashback"])
    run("submit", str(path), "--type", "cashback", "--yes")  # queued, not sent
    listed = json.loads(run("jobs", "--json").stdout)
    assert [j["state"] for j in listed] == ["queued"]
    missing = run("status", "no-such-job")
    assert missing.exit_code == 2
    assert "no job no-such-job" in missing.stderr.lower()


def test_stop_of_a_queued_job_marks_its_rows_not_applied(connected: SandboxServer,
                                                         tmp_path: Path) -> None:
    path = write(tmp_path, "cb.csv", FILES["cashback"])
    job_id = json.loads(run("submit", str(path), "--type", "cashback", "--yes",
                            "--json").stdout)["id"]
    assert run("stop", job_id).exit_code == 0
    status = json.loads(run("status", job_id, "--json").stdout)
    assert status["state"] == "stopped"
    assert status["rows"]["not_applied"] == 2


def test_without_credentials_the_embedded_sandbox_is_used_and_named(tmp_path: Path) -> None:
    path = write(tmp_path, "cb.csv", FILES["cashback"])
    result = run("submit", str(path), "--type", "cashback", "--yes", "--json")
    assert "embedded sandbox" in result.stderr
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "finished"  # --wait implied


def test_the_secret_key_never_shows(
    connected: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = connected.secret_key
    caplog.set_level(logging.DEBUG)
    inject(connected, error_after_next=1, drop_after_next=1, rate_limit_next=2,
           status_errors_next=2)
    outputs = []
    for slug in ("cashback", "adjustments"):
        path = write(tmp_path, f"{slug}.csv", FILES[slug])
        result = run("submit", str(path), "--type", slug, "--yes", "--wait", "--json")
        outputs += [result.output, run("status", json.loads(result.stdout)["id"]).output]
    outputs.append(run("jobs").output)
    wrong = "wrong-secret-5b1f0e"
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", wrong)
    path = write(tmp_path, "other.csv", FILES["redemptions"])
    refused = run("submit", str(path), "--type", "redemptions", "--yes", "--wait", "--json")
    outputs.append(refused.output)
    stored = stored_text(ledger_target(tmp_path))
    for text in (*outputs, caplog.text, stored):
        assert secret not in text
        assert wrong not in text
    assert "paused" in refused.output  # the refusal was reported, without the key


def test_resume_wait_with_a_timeout_returns_while_gameball_is_still_busy(
    connected: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote job that never settles must not hang the command: --timeout ends the wait
    and leaves the job resumable."""
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(ledger_target(tmp_path)))
    path = write(tmp_path, "cashback.csv", FILES["cashback"])
    created = run("submit", str(path), "--type", "cashback", "--yes", "--json")
    job_id = json.loads(created.stdout)["id"]
    connected.state.instant = False
    connected.state.item_rate = 0  # Gameball accepts the job and never gets to it
    result = run("resume", job_id, "--wait", "--timeout", "1", "--json")
    assert "Stopped waiting after 1 s" in result.stderr
    assert json.loads(result.stdout)["state"] in ("running", "queued")
    assert applied_counts(connected, "cashback") == {}
