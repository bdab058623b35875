"""The runner and the schedule, over the real sandbox: a scheduled job is left alone until
its time, then started by the runner's own scan; a restarted runner finds it in the ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fake_clock import FakeClock
from ledgers import open_test_ledger
from submission_helpers import item_for

from gameball_batch import ledger as lg
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer

HOUR = 3600.0


def scheduled_job(ledger: Ledger, at: float) -> str:
    job_id = f"timed-{time.monotonic_ns()}"
    items = [item_for("cashback", i) for i in range(3)]
    ledger.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name="t.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("item",), row_count=3, item_count=3,
               totals={}, actor="ops", state=lg.JOB_SCHEDULED, scheduled_at=at),
        [NewChunk(0, json.dumps({"body": items}).encode(), 3)],
        [NewRow(i + 2, 0, str(it["transactionId"]), (json.dumps(it),))
         for i, it in enumerate(items)])
    return job_id


def runner_for(ledger: Ledger, sandbox: SandboxServer) -> Runner:
    def make() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    return Runner(ledger, make, poll_initial=0.0, poll_max=0.1, tick=0.02)


def test_the_runner_starts_a_scheduled_job_at_its_time_even_after_a_restart(
    sandbox: SandboxServer, tmp_path: Path,
) -> None:
    clock = FakeClock(time.time())
    with open_test_ledger(tmp_path, clock=clock) as first:
        job_id = scheduled_job(first, clock.now + HOUR)
        before = runner_for(first, sandbox)
        try:
            assert before.scan() == []  # not yet: the runner leaves it alone
            assert first.job_state(job_id) == lg.JOB_SCHEDULED
        finally:
            before.stop()
    clock.now += HOUR  # the console was down when the time came
    with open_test_ledger(tmp_path, clock=clock) as second:
        after = runner_for(second, sandbox)
        try:
            assert after.scan() == [job_id]  # its first scan releases and starts it
            done = after.wait(job_id, timeout=30)
        finally:
            after.stop()
        assert done.state == lg.JOB_FINISHED
        assert second.row_counts(job_id)[lg.ROW_APPLIED] == 3
        [released] = second.audit_entries(job_id, action="job.queued")
        assert released.detail["released"] is True
