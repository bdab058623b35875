"""Three headless runner processes share one ledger: each row is applied once, nothing is
lost, and together they stay under Gameball's rate limit.

Twelve queued cashback jobs, six chunks each, against a sandbox that enforces Gameball's
limits (30 requests a second, 360 per 30 s) and answers 429 beyond them. Three
``python -m gameball_batch runner --jobs 2`` processes take the jobs between them (each
drives two at a time, so all three send at once). One of them is killed with SIGKILL
half-way; its jobs are taken over when their leases run out.

On PostgreSQL (the suite's second pass) the three book every request in the ledger, so the
sandbox refuses none. On SQLite each process keeps its own budget (a SQLite file is shared
by one console and a CLI at most), so only exactly-once is asserted there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import ON_POSTGRES, open_test_ledger
from submission_helpers import wait_until

from gameball_batch import ledger as lg
from gameball_batch.ledger import NewChunk, NewJob, NewRow, Target
from gameball_batch.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
JOBS, CHUNKS, ITEMS = 12, 6, 50
PAST = "2026-01-02T03:04:05Z"


@pytest.fixture
def limited() -> Iterator[SandboxServer]:
    """A sandbox of its own that enforces Gameball's rate limits."""
    with SandboxServer(instant=True, rate_limit=True, seed_customers=ITEMS) as server:
        yield server


def _queue(ledger: lg.Ledger, server: SandboxServer) -> list[str]:
    target = Target.of(sandbox=False, base_url=server.url, api_key=server.api_key)
    ids = []
    for j in range(JOBS):
        job_id = f"job-{j:02d}"
        chunks, rows = [], []
        for c in range(CHUNKS):
            items = [{"customerId": f"cus-{1001 + i}", "transactionId": f"J{j}-C{c}-{i}",
                      "transactionTime": PAST, "amount": 10} for i in range(ITEMS)]
            chunks.append(NewChunk(c, json.dumps({"body": items}).encode(), ITEMS))
            rows += [NewRow(2 + c * ITEMS + i, c, item["transactionId"], ("x",))
                     for i, item in enumerate(items)]
        ledger.create_job(NewJob(id=job_id, batch_type="cashback", file_name=f"{job_id}.csv",
                                 fingerprint=job_id, sheet=None, mapping={}, columns=("x",),
                                 row_count=len(rows), item_count=len(rows), totals={},
                                 actor="ops", target=target), chunks, rows)
        ids.append(job_id)
    return ids


def _runner(server: SandboxServer) -> subprocess.Popen[str]:
    env = {**os.environ, "GAMEBALL_API_KEY": server.api_key,
           "GAMEBALL_SECRET_KEY": server.secret_key, "GAMEBALL_BASE_URL": server.url,
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gameball_batch", "runner", "--jobs", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_three_runners_apply_each_row_once_and_share_one_rate_budget(
    limited: SandboxServer, tmp_path: Path
) -> None:
    with open_test_ledger(tmp_path) as ledger:  # the ledger GAMEBALL_BATCH_DB names
        ids = _queue(ledger, limited)
        workers = [_runner(limited) for _ in range(3)]

        def finished() -> int:
            return sum(ledger.job(j).state == lg.JOB_FINISHED for j in ids)  # type: ignore[union-attr]

        try:
            wait_until(lambda: finished() >= JOBS // 3, timeout=120)
            workers[0].send_signal(signal.SIGKILL)  # a worker dies mid-campaign
            workers[0].wait(timeout=30)  # reaped: its pid is gone, its leases free
            wait_until(lambda: finished() == JOBS, timeout=120)
        finally:
            for worker in workers[1:]:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.communicate(timeout=30)
        assert [w.returncode for w in workers[1:]] == [0, 0]
        # No row lost, none applied twice.
        for job_id in ids:
            assert ledger.row_counts(job_id)[lg.ROW_APPLIED] == CHUNKS * ITEMS
        with limited.state.lock:
            applied = dict(limited.core.counts("cashback"))
        assert len(applied) == JOBS * CHUNKS * ITEMS
        assert set(applied.values()) == {1}
        owners = {e.actor for j in ids for e in ledger.audit_entries(j)
                  if e.action == "lease.acquired"}
        assert len(owners) >= 2, owners  # the work was shared
    if ON_POSTGRES:
        assert limited.state.too_many == 0  # the three kept one budget between them
