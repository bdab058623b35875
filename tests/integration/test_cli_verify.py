"""verify, resolve and undo from the command line, against the sandbox over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ledgers import ledger_target, open_ledger, open_test_ledger
from submission_helpers import SEEDED, add_job, applied_counts, inject, item_for

from gameball_batch import jobs, snapshots
from gameball_batch.batch_types import BatchType
from gameball_batch.cli import main
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer


@pytest.fixture
def connected(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path) -> SandboxServer:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)
    monkeypatch.setenv("GAMEBALL_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", sandbox.secret_key)
    monkeypatch.setenv("GAMEBALL_BASE_URL", sandbox.url)
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(ledger_target(tmp_path)))
    return sandbox


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _in_doubt_job(sandbox: SandboxServer, db: str | Path) -> str:
    """An adjustments job whose first chunk was applied but answered with a 500."""
    with open_ledger(db) as ledger:
        job_id = add_job(ledger, "adjustments", [item_for("adjustments", i) for i in range(10)])

        def before_send(led: Ledger, cli: Any, jid: str, bt: BatchType, index: int,
                        payload: bytes) -> None:
            snapshots.before_send(led, cli, jid, bt, index, payload)
            if index == 0:
                inject(sandbox, error_after_next=1)

        def factory() -> GameballClient:
            return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                                  rate_limit=None)

        with Runner(ledger, factory, concurrency=1, poll_initial=0.0, tick=0.02,
                    before_send=before_send) as runner:
            runner.run_until_idle(job_id, timeout=30)
    return job_id


def test_verify_prints_the_documented_json_and_resolve_accepts_it(
    connected: SandboxServer, tmp_path: Path
) -> None:
    job_id = _in_doubt_job(connected, ledger_target(tmp_path))
    result = run("verify", job_id[:12], "--json", "--rows")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("job", "applied", "absent", "unclear", "not_verifiable")} == \
        {"job": job_id, "applied": 5, "absent": 0, "unclear": 0, "not_verifiable": 0}
    assert {r["verdict"] for r in data["rows"]} == {"applied"}
    assert "rows" not in json.loads(run("verify", job_id, "--json").stdout)

    accepted = run("resolve", job_id, "--accept-evidence", "--reason", "balances agree")
    assert accepted.exit_code == 0, accepted.output
    with open_test_ledger(tmp_path) as ledger:
        assert jobs.summary(ledger, job_id).all_applied
    assert set(applied_counts(connected, "adjustments").values()) == {1}


def test_verify_all_writes_a_report_and_undo_is_made_once(
    connected: SandboxServer, tmp_path: Path
) -> None:
    path = tmp_path / "adj.csv"
    path.write_text("customerId,amount,reason\ncus-1001,5,=HYPERLINK(\"x\")\ncus-1002,-5,fix\n")
    submitted = run("submit", str(path), "--type", "adjustments", "--yes", "--wait", "--json")
    assert submitted.exit_code == 0, submitted.output
    job_id = json.loads(submitted.stdout)["id"]
    report = tmp_path / "report.csv"
    checked = run("verify", job_id, "--all", "-o", str(report))
    assert checked.exit_code == 0, checked.output
    assert "verified applied 2" in checked.stdout
    assert report.read_bytes().startswith(b"\xef\xbb\xbf")

    undone = run("undo", job_id, "--reason", "wrong file", "--yes")
    assert undone.exit_code == 0, undone.output
    child = undone.stdout.split("Created undo job ")[1].split(".")[0]
    assert run("resume", child, "--wait").exit_code == 0
    with connected.state.lock:
        assert connected.core.customers["cus-1001"].points == 1000
        assert connected.core.customers["cus-1002"].points == 1000
    again = run("undo", job_id, "--reason", "again", "--yes")
    assert again.exit_code == 2
    assert "already undone" in again.stderr
