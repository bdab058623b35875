"""Polling adapts to how fast Gameball finishes: an instant one is not held back by a fixed wait."""

from __future__ import annotations

from pathlib import Path

from ledgers import open_test_ledger
from submission_helpers import SEEDED, add_job, item_for

from gameball_batch import jobs
from gameball_batch.client import GameballClient
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer


def test_against_an_instant_gameball_the_wait_before_the_first_poll_shrinks(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)
    waits: list[float] = []  # the runner's pauses, recorded instead of slept
    ledger = open_test_ledger(tmp_path)
    job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(10)],
                     per_chunk=1)

    def factory() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    runner = Runner(ledger, factory, concurrency=1, poll_initial=2.0, poll_max=5.0,
                    sleep=waits.append)
    try:
        runner.run_until_idle(job_id, timeout=30)
    finally:
        runner.stop()
    assert jobs.summary(ledger, job_id).rows["applied"] == 10
    assert waits[0] == 2.0  # the first chunk waits as configured
    assert waits == sorted(waits, reverse=True)  # every chunk done at its first poll
    assert waits[-1] < 0.01
    ledger.close()
