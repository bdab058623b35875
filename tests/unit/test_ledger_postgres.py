"""What only the PostgreSQL ledger does: many processes start at once, time is the server's,
and pages hear of writes instead of polling. (Everything else it does is the same as the
SQLite ledger, and the whole suite's second pass checks that.)"""

from __future__ import annotations

import sqlite3
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


def test_only_the_claim_waits_for_the_disk(tmp_path: Path) -> None:
    """As on SQLite: the claim before a POST is on disk when it commits; other writes
    commit without waiting for the disk (a crash can cost them, never the claim)."""
    with open_test_ledger(tmp_path) as led:
        with led._tx(sending=True, sync=True) as tx:
            claim = tx.execute("SHOW synchronous_commit").fetchone()[0]
        with led._tx() as tx:
            other = tx.execute("SHOW synchronous_commit").fetchone()[0]
    assert (claim, other) == ("on", "off")


def test_a_write_that_fails_part_way_leaves_nothing_and_the_ledger_usable(
    tmp_path: Path,
) -> None:
    """Writes are pipelined (sent at once, waited for when read): a failure among them
    still undoes the whole transaction and reaches the caller as the DB-API error."""
    with open_test_ledger(tmp_path) as led:
        _job(led)
        before = [e.action for e in led.audit_entries("j1")]

        def duplicate_after_a_note() -> None:
            with led._tx() as tx:
                led._audit(tx, "amira", "note", "j1", {"why": "undone"})
                tx.execute("INSERT INTO jobs (id, batch_type) VALUES (?, ?)", ("j1", "x"))

        with pytest.raises(sqlite3.IntegrityError):
            duplicate_after_a_note()
        assert [e.action for e in led.audit_entries("j1")] == before
        for _ in range(12):  # more writes than the pool has connections: none left broken
            led.audit("amira", "note", "j1", {"why": "kept"})
        assert [e.action for e in led.audit_entries("j1")] == [*before, *["note"] * 12]
