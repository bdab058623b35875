"""What only the PostgreSQL ledger does: many processes start at once, time is the server's,
and pages hear of writes instead of polling. (Everything else it does is the same as the
SQLite ledger, and the whole suite's second pass checks that.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from ledgers import ON_POSTGRES, ledger_target, open_test_ledger

from gameball_batch import ledger as lg
from gameball_batch.ledger import NewChunk, NewJob, NewRow, open_ledger
from gameball_batch.ui import jobs_model

pytestmark = pytest.mark.skipif(not ON_POSTGRES,
                                reason="PostgreSQL only: runs in the suite's second pass")


def _job(led: lg.Ledger, job_id: str = "j1") -> None:
    led.create_job(NewJob(id=job_id, batch_type="cashback", file_name="f.csv", fingerprint=job_id,
                          sheet=None, mapping={}, columns=("c",), row_count=1, item_count=1,
                          totals={}, actor="amira"),
                   [NewChunk(0, b'{"body":[]}', 1)], [NewRow(2, 0, "T0", ("x",))])


def test_processes_starting_at_once_migrate_once(tmp_path: Path) -> None:
    target = str(ledger_target(tmp_path, "fresh.db"))
    opened: list[lg.Ledger] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(open_ledger(target))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert {led.schema_version() for led in opened} == {lg.SCHEMA_VERSION}
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT COUNT(*) FROM ledger_schema").fetchone() == (1,)
    finally:
        for led in opened:
            led.close()


def test_leases_run_on_the_servers_clock(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as led:
        with psycopg.connect(str(ledger_target(tmp_path))) as conn:
            server = float(conn.execute("SELECT EXTRACT(EPOCH FROM now())").fetchone()[0])
        assert abs(led.now() - server) < 5
        _job(led)
        assert led.acquire_lease("j1", "A", 30)
        job = led.job("j1")
        assert job is not None
        assert job.lease_expires is not None
        assert abs(job.lease_expires - (server + 30)) < 5


def test_a_page_hears_of_another_process_writing(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as page, open_test_ledger(tmp_path) as worker:
        _job(worker)
        page.changes()  # starts listening
        deadline = time.monotonic() + 10
        while page.changes() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        cache = jobs_model.ViewCache()
        first = jobs_model.load_snapshot(page, "j1", cache=cache)
        assert first is not None
        assert first.job.state == lg.JOB_QUEUED
        # Nothing written since: the same snapshot, nothing read again.
        assert jobs_model.load_snapshot(page, "j1", cache=cache) is first
        heard = page.changes()
        assert worker.set_job_state("j1", lg.JOB_PAUSED, actor="lead")
        while page.changes() == heard and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.changes() != heard
        later = jobs_model.load_snapshot(page, "j1", cache=cache)
        assert later is not None
        assert later.job.state == lg.JOB_PAUSED
