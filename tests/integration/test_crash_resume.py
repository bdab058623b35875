"""A runner process killed with SIGKILL mid-job, started again, applies every row exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ledgers import ledger_target, open_ledger
from submission_helpers import SEEDED, add_job, applied_counts, item_for, wait_until

from gameball_batch import jobs
from gameball_batch.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]


def _resume(job_id: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gameball_batch", "resume", job_id, "--wait"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("slug", ["cashback", "orders"])
def test_a_killed_runner_restarted_applies_every_row_exactly_once(
    slug: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)
    sandbox.state.instant = False
    sandbox.state.item_rate = 40  # slow: about two seconds of work for the job below
    db = ledger_target(tmp_path)
    ledger = open_ledger(db)
    job_id = add_job(ledger, slug, [item_for(slug, i) for i in range(80)], per_chunk=5)
    env = {**os.environ, "GAMEBALL_API_KEY": sandbox.api_key,
           "GAMEBALL_SECRET_KEY": sandbox.secret_key, "GAMEBALL_BASE_URL": sandbox.url,
           "GAMEBALL_BATCH_DB": str(db),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    first = _resume(job_id, env)
    try:
        wait_until(lambda: ledger.chunk_counts(job_id)["done"] >= 2 or first.poll() is not None,
                   timeout=30)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert first.returncode == -9, first.stderr.read() if first.stderr else ""
    assert not jobs.summary(ledger, job_id).settled

    sandbox.state.item_rate = 400
    second = _resume(job_id, env)
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    outcome = jobs.summary(ledger, job_id)
    assert outcome.all_applied
    counts = applied_counts(sandbox, slug)
    assert len(counts) == 80
    assert set(counts.values()) == {1}
    ledger.close()
