"""``python -m gameball_batch runner``: a headless worker sends what the CLI queued.

A deployment may keep sending apart from the console (docs/deploy.md): files are submitted
without ``--wait`` (queued), and a runner process elsewhere sends them. Real processes,
real signals, the sandbox over HTTP; the ledger is the test's (SQLite, or PostgreSQL in the
suite's second pass).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from submission_helpers import applied_counts, wait_until

from gameball_batch import ledger as lg
from gameball_batch.cli import main
from gameball_batch.sandbox import SandboxServer

PAST = "2026-01-02T03:04:05Z"
ROOT = Path(__file__).resolve().parents[2]


def _queue(tmp_path: Path, name: str, rows: str) -> str:
    path = tmp_path / name
    path.write_text(f"customerId,transactionId,transactionTime,amount\n{rows}", encoding="utf-8")
    result = CliRunner().invoke(main, ["submit", str(path), "--type", "cashback", "--yes",
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["id"])


def test_a_runner_process_sends_queued_jobs_once_and_stops_on_sigterm(
    connected: SandboxServer, tmp_path: Path
) -> None:
    first = _queue(tmp_path, "a.csv", f"cus-1001,RUN-1,{PAST},10\ncus-1002,RUN-2,{PAST},20\n")
    second = _queue(tmp_path, "b.csv", f"cus-1003,RUN-3,{PAST},30\n")
    ledger = lg.open_ledger(os.environ["GAMEBALL_BATCH_DB"])
    try:
        assert {ledger.job(first).state, ledger.job(second).state} == {  # type: ignore[union-attr]
            lg.JOB_QUEUED}  # nothing sent yet: the CLI only queued them
        worker = subprocess.Popen(
            [sys.executable, "-m", "gameball_batch", "runner"], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_until(lambda: {ledger.job(j).state for j in (first, second)}  # type: ignore[union-attr]
                       == {lg.JOB_FINISHED}, timeout=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        assert "stopped" in err
        assert ledger.row_counts(first)[lg.ROW_APPLIED] == 2
        assert applied_counts(connected, "cashback") == {"RUN-1": 1, "RUN-2": 1, "RUN-3": 1}
    finally:
        ledger.close()
