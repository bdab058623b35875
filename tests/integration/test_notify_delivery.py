"""Team signals against real webhook receivers on 127.0.0.1 and real jobs in the sandbox.

Each receiver is a tiny ``http.server`` on a free port: one records what it is sent, one
always answers 500, one hangs until the test ends. Jobs go through the real runner and the
sandbox; approvals through approval_flow; the notifier only reads the audit log.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ledgers import open_test_ledger
from submission_helpers import SEEDED, add_job, inject, item_for, wait_until

from gameball_batch import approval_flow, notify, schedule
from gameball_batch import ledger as lg
from gameball_batch.client import GameballClient
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.runner import Runner
from gameball_batch.sandbox import SandboxServer

CONSOLE = "https://batch.shop.example"


class Receiver:
    """A webhook receiver on a free port of 127.0.0.1: ``mode`` ok, fail (500) or hang."""

    def __init__(self, mode: str = "ok") -> None:
        self.bodies: list[dict[str, Any]] = []
        self.hits = 0
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.hits += 1
                if mode == "hang":
                    receiver.release.wait(30)
                    return
                if mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/s3cr3tpath"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[[str], Receiver]]:
    made: list[Receiver] = []

    def make(mode: str = "ok") -> Receiver:
        made.append(Receiver(mode))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture(autouse=True)
def _customers(sandbox: SandboxServer) -> None:
    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path) as led:
        yield led


@pytest.fixture
def runner(ledger: Ledger, sandbox: SandboxServer) -> Iterator[Runner]:
    def make() -> GameballClient:
        return GameballClient(sandbox.url, sandbox.api_key, sandbox.secret_key,
                              rate_limit=None, sleep=lambda _s: None)

    r = Runner(ledger, make, poll_initial=0.0, poll_max=0.1, retry_initial=0.01,
               retry_max=0.05, tick=0.02)
    yield r
    r.stop()


def notifier(ledger: Ledger, hooks: list[notify.Hook], **options: Any) -> notify.Notifier:
    settings = notify.NotifySettings(hooks=tuple(hooks), console_url=CONSOLE, poll=0.02,
                                     **{"timeout": 2.0, "retries": 2, "backoff": 0.05,
                                        **options})
    n = notify.Notifier(ledger, settings)
    n.start()
    return n


def held_job(ledger: Ledger, *, scheduled_at: float | None = None) -> str:
    """A cashback job awaiting approval, its request on record, as approval_flow makes it."""
    job_id = f"held-{time.monotonic_ns()}"
    items = [item_for("cashback", i) for i in range(3)]
    ledger.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name="campaign.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("item",), row_count=3, item_count=3,
               totals={"rows": 3.0, "amount.total": 30.0}, actor="ops@shop.example",
               state=lg.JOB_AWAITING_APPROVAL, scheduled_at=scheduled_at),
        [NewChunk(0, json.dumps({"body": items}).encode(), 3)],
        [NewRow(i + 2, 0, str(item["transactionId"]), (json.dumps(item),))
         for i, item in enumerate(items)],
    )
    job = ledger.job(job_id)
    assert job is not None
    ledger.audit("ops@shop.example", approval_flow.REQUESTED, job_id,
                 {"reasons": ["total amount over 1"],
                  "digest": approval_flow.stored_digest(ledger, job)})
    return job_id


def test_every_event_is_delivered_once_in_order_without_keys_or_rows(
    ledger: Ledger, runner: Runner, sandbox: SandboxServer,
    receivers: Callable[[str], Receiver],
) -> None:
    inbox = receivers("ok")
    n = notifier(ledger, [notify.Hook("ops", inbox.url)])
    try:
        expected: list[tuple[str, str]] = []

        approved = held_job(ledger)
        expected.append(("awaiting_approval", approved))
        approval_flow.approve(ledger, approved, "boss@shop.example")
        expected.append(("approved", approved))
        runner.run_until_idle(approved, timeout=30)
        expected.append(("finished_ok", approved))

        rejected = held_job(ledger)
        expected.append(("awaiting_approval", rejected))
        approval_flow.reject(ledger, rejected, "boss@shop.example", "wrong campaign")
        expected.append(("rejected", rejected))

        # A scheduled job whose time has come (stored directly: its time is already past).
        timed = f"timed-{time.monotonic_ns()}"
        item = item_for("cashback", 50)
        ledger.create_job(
            NewJob(id=timed, batch_type="cashback", file_name="t.csv", fingerprint=timed,
                   sheet=None, mapping={}, columns=("item",), row_count=1, item_count=1,
                   totals={}, actor="ops@shop.example", state=lg.JOB_SCHEDULED,
                   scheduled_at=ledger.now() - 1),
            [NewChunk(0, json.dumps({"body": [item]}).encode(), 1)],
            [NewRow(2, 0, str(item["transactionId"]), (json.dumps(item),))])
        assert schedule.release_due(ledger) == [timed]
        expected.append(("scheduled_started", timed))
        runner.run_until_idle(timed, timeout=30)
        expected.append(("finished_ok", timed))

        failing = add_job(ledger, "cashback",
                          [item_for("cashback", 60), item_for("cashback", 61,
                                                              customer="cus-9999")])
        runner.run_until_idle(failing, timeout=30)
        expected.append(("finished_problems", failing))

        inject(sandbox, error_after_next=1)
        doubtful = add_job(ledger, "adjustments", [item_for("adjustments", i)
                                                   for i in range(70, 75)])
        runner.run_until_idle(doubtful, timeout=30)
        assert ledger.job_state(doubtful) == lg.JOB_NEEDS_OPERATOR
        expected.append(("needs_operator", doubtful))

        wait_until(lambda: len(inbox.bodies) >= len(expected))
        # The hook reads on to the end of the log: nothing is delivered a second time.
        mark = ledger.last_audit_id()
        wait_until(lambda: int(ledger.meta("notify.cursor.ops") or 0) >= mark)
    finally:
        n.stop()
    got = [(b["event"], b["job"]["id"]) for b in inbox.bodies]
    assert got == expected
    ids = [b["audit_id"] for b in inbox.bodies]
    assert ids == sorted(set(ids))
    for body in inbox.bodies:
        assert body["text"]
        assert f"{CONSOLE}/jobs?job={body['job']['id']}" in body["text"]
        assert body["job"]["submitter"] in ("ops@shop.example", "test")
    first = inbox.bodies[0]
    assert first["job"]["totals"]["amount.total"] == 30.0
    assert "ops@shop.example" in first["text"]
    assert "approved by boss@shop.example" in inbox.bodies[1]["text"]
    sent = json.dumps(inbox.bodies)
    for secret in (sandbox.api_key, sandbox.secret_key):
        assert secret not in sent
    for row_content in ("cus-10", "CB-", "campaign.csv", "wrong campaign"):
        assert row_content not in sent
    attempts = ledger.audit_entries(action=notify.ATTEMPT)
    assert [a.detail["outcome"] for a in attempts] == [notify.DELIVERED] * len(expected)
    assert "s3cr3tpath" not in json.dumps([a.detail for a in ledger.audit_entries()])


def test_a_failing_or_hanging_receiver_delays_nothing_and_is_given_up(
    ledger: Ledger, runner: Runner, receivers: Callable[[str], Receiver],
) -> None:
    down, stuck, inbox = receivers("fail"), receivers("hang"), receivers("ok")
    n = notifier(ledger, [notify.Hook("down", down.url), notify.Hook("stuck", stuck.url),
                          notify.Hook("ok", inbox.url)], timeout=0.5)
    try:
        job_id = add_job(ledger, "cashback", [item_for("cashback", i) for i in range(4)])
        finished = runner.run_until_idle(job_id, timeout=30)
        assert finished.state == lg.JOB_FINISHED  # the receivers did not hold the job up
        wait_until(lambda: len(inbox.bodies) == 1)

        def outcomes(hook: str) -> list[str]:
            return [a.detail["outcome"] for a in ledger.audit_entries(action=notify.ATTEMPT)
                    if a.detail["hook"] == hook]

        wait_until(lambda: notify.GAVE_UP in outcomes("down")
                   and notify.GAVE_UP in outcomes("stuck"))
    finally:
        n.stop()
    retried = [notify.RETRYING, notify.RETRYING, notify.GAVE_UP]
    assert outcomes("down") == retried
    assert outcomes("stuck") == retried
    assert down.hits == 3
    stuck_results = {a.detail["result"] for a in ledger.audit_entries(action=notify.ATTEMPT)
                     if a.detail["hook"] == "stuck"}
    assert stuck_results == {"timed out"}
    assert outcomes("ok") == [notify.DELIVERED]
    last = notify.last_attempts(ledger)
    assert last["down"].detail["result"] == "HTTP 500"
    assert last["ok"].detail["outcome"] == notify.DELIVERED


def test_a_cli_run_delivers_its_jobs_events_before_it_exits(
    sandbox: SandboxServer, receivers: Callable[[str], Receiver], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from gameball_batch.cli import main

    inbox = receivers("ok")
    secrets = Path(os.environ["GAMEBALL_SECRETS_PATH"])
    secrets.write_text(f'[console]\nbase_url = "{CONSOLE}"\n'
                       f'[[notify.hooks]]\nname = "ops"\nurl = "{inbox.url}"\n')
    monkeypatch.setenv("GAMEBALL_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", sandbox.secret_key)
    monkeypatch.setenv("GAMEBALL_BASE_URL", sandbox.url)
    path = tmp_path / "cb.csv"
    path.write_text("customerId,transactionId,transactionTime,amount\n"
                    "cus-1001,CLI-1,2026-01-02T03:04:05Z,10\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["submit", str(path), "--type", "cashback", "--yes",
                                       "--wait", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    job_id = json.loads(result.stdout)["id"]
    assert [(b["event"], b["job"]["id"]) for b in inbox.bodies] == [("finished_ok", job_id)]
