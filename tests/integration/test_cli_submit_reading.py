"""``submit`` reads a file exactly as ``validate`` does: every reading option, the same items.

A European-locale payout list (title block, ``;``, decimal commas, day/month dates with
12-hour times, a metadata kind) goes to the sandbox over HTTP; the job records how its file
was read.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from ledgers import env_ledger

from gameball_batch.cli import main
from gameball_batch.sandbox import SandboxServer

EUROPEAN = (
    "Ramadan cashback campaign: payout list;;;\n"
    "Prepared 01/03/2026;;;\n"
    ";;;\n"
    "Client;Invoice;When;Sum\n"
    "cus-1001;T-1;20/01/2026 9:15 PM;12,25\n"
    "cus-1002;T-2;21/01/2026 12:05 AM;1.234,50\n"
)
MAPS = ("--map", "customerId=Client", "--map", "transactionId=Invoice",
        "--map", "transactionTime=When", "--map", "amount=Sum")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def first_body(job_id: str) -> list[dict[str, object]]:
    with env_ledger() as ledger:
        body: list[dict[str, object]] = json.loads(ledger.payload(job_id, 0))["body"]
    return body


def test_submit_takes_every_reading_option_validate_has(
    connected: SandboxServer, tmp_path: Path,
) -> None:
    path = tmp_path / "payouts.csv"
    path.write_text(EUROPEAN, encoding="utf-8")
    options = [*MAPS, "--header-row", "4", "--decimal", "comma", "--date-order", "DMY"]
    checked = run("validate", str(path), "--type", "cashback", *options, "--json")
    assert checked.exit_code == 0, checked.output
    result = run("submit", str(path), "--type", "cashback", *options, "--yes", "--wait",
                 "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["rows"]["applied"] == 2
    assert "decimal commas" in outcome["totals"]["reading"]
    assert "header in row 4" in outcome["totals"]["reading"]
    with env_ledger() as ledger:
        history = [e.detail for e in ledger.audit_entries(outcome["id"])
                   if e.action == "file.read"]
    assert history == [{"file": "payouts.csv", "reading": outcome["totals"]["reading"]}]
    body = first_body(outcome["id"])
    assert [(i["amount"], i["transactionTime"]) for i in body] == [
        (12.25, "2026-01-20T21:15:00.000Z"), (1234.5, "2026-01-21T00:05:00.000Z")]


def test_submit_without_the_comma_reading_refuses_and_sends_nothing(
    connected: SandboxServer, tmp_path: Path,
) -> None:
    path = tmp_path / "payouts.csv"
    path.write_text(EUROPEAN, encoding="utf-8")
    result = run("submit", str(path), "--type", "cashback", *MAPS, "--header-row", "4",
                 "--yes", "--wait")
    assert result.exit_code == 1
    assert "read the file with decimal commas" in result.stderr


def test_submit_sends_a_metadata_kind_as_chosen(connected: SandboxServer, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customerId,event,metadata.stars,metadata.sku\n"
                    "cus-1001,write_review,5,00123\n", encoding="utf-8")
    result = run("submit", str(path), "--type", "events", "--kind", "metadata.stars=text",
                 "--yes", "--wait", "--json")
    assert result.exit_code == 0, result.output
    body = first_body(json.loads(result.stdout)["id"])
    assert body[0]["events"] == {"write_review": {"stars": "5", "sku": "00123"}}
