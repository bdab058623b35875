"""Benchmark of submission: the runner against a minimal plain-httpx loop, same payloads.

Part 1 (overhead): N cashback rows (default 1,000,000) in chunks of 1000 against the embedded
sandbox in instant mode with rate limits off. Both contenders send the same pre-built payload
bytes with the same concurrency and poll each remote job until it is done; the runner also
records every chunk and every per-item result in its SQLite ledger. Reported: seconds until
every chunk accepted and every result recorded, and the ratio runner / plain loop.

Part 2 (rate limit): 1000 one-item chunks through the client's rate limiter against the
sandbox with its own limits off, compared with the floor of 1000 / 30 s: the defaults (30/s
and 360 per 30 s, for creation and status reads each), the per-second limit alone, and the
per-second limit with creation and status reads sharing one budget (``rate_shared``).

``--db postgresql://…`` keeps the runner's ledger in PostgreSQL instead (a fresh schema per
run, dropped after it): the overhead of the PostgreSQL ledger (issue "PostgreSQL ledger").

Run:  PYTHONPATH=. python bench/submit.py [--rows N] [--runs K] [--skip-rate] [--skip-overhead]
                                          [--db URL]
This is a benchmark, not a test: it prints timings and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gameball_batch import jobs
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import GameballClient, RateLimit
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow, open_ledger
from gameball_batch.runner import Runner
from gameball_batch.sandbox.core import DEMO_API_KEY, DEMO_SECRET_KEY

CUSTOMERS = 1000
PAST = "2026-01-02T03:04:05Z"
CONCURRENCY = 4
POLL_INITIAL = 0.0
POLL_MAX = 0.05


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Sandbox:
    """A sandbox in its own process, as Gameball would be: its work never takes our GIL."""

    url: str
    pid: int = 0
    api_key: str = DEMO_API_KEY
    secret_key: str = DEMO_SECRET_KEY

    def reset(self, *, instant: bool = True) -> None:
        httpx.post(self.url + "/_sandbox/reset", json={}, timeout=60).raise_for_status()
        httpx.post(self.url + "/_sandbox/processing", json={"instant": instant},
                   timeout=60).raise_for_status()


@contextmanager
def sandbox_process(*, rate_limit: bool) -> Iterator[Sandbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "gameball_batch", "sandbox", "--port", str(port),
           "--seed-customers", str(CUSTOMERS),
           "--no-state"]  # Gameball keeps no snapshot file: snapshots would cost the sandbox CPU
    if not rate_limit:
        cmd.append("--no-rate-limit")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the sandbox process did not start")
            time.sleep(0.1)
        yield Sandbox(url, pid=proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def build_chunks(rows: int, per_chunk: int, tag: str) -> list[tuple[list[str], bytes]]:
    """(keys, payload) per chunk: cashback items with unique transaction ids."""
    out = []
    for start in range(0, rows, per_chunk):
        items = [
            {"customerId": f"cus-{1001 + i % CUSTOMERS}", "transactionId": f"{tag}-{i}",
             "transactionTime": PAST, "amount": 10 + i % 7}
            for i in range(start, min(rows, start + per_chunk))
        ]
        payload = json.dumps({"body": items}, separators=(",", ":")).encode()
        out.append(([str(it["transactionId"]) for it in items], payload))
    return out


DB_URL: str | None = None  # --db: a PostgreSQL server for the runner's ledger


@contextmanager
def bench_ledger(tmp: str) -> Iterator[Ledger]:
    """A fresh ledger: a SQLite file in ``tmp``, or a new schema on ``--db``'s server."""
    if DB_URL is None:
        ledger = Ledger(Path(tmp) / "ledger.db")
        try:
            yield ledger
        finally:
            ledger.close()
        return
    import psycopg

    schema = f"bench_{time.monotonic_ns()}"
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in DB_URL else "?"
    ledger = open_ledger(f"{DB_URL}{sep}options=-csearch_path%3D{schema}")
    try:
        yield ledger
    finally:
        ledger.close()
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def make_job(ledger: Ledger, chunks: list[tuple[list[str], bytes]]) -> str:
    job_id = f"bench-{time.monotonic_ns()}"
    total = sum(len(k) for k, _ in chunks)
    keyed = ((idx, key) for idx, (keys, _) in enumerate(chunks) for key in keys)
    rows = (NewRow(n + 2, idx, key, ("",)) for n, (idx, key) in enumerate(keyed))
    ledger.create_job(
        NewJob(id=job_id, batch_type="cashback", file_name="bench.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("cell",), row_count=total, item_count=total,
               totals={}, actor="bench"),
        [NewChunk(i, payload, len(keys)) for i, (keys, payload) in enumerate(chunks)], rows,
    )
    return job_id


def run_runner(server: Sandbox, chunks: list[tuple[list[str], bytes]],
               rate_limit: RateLimit | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, bench_ledger(tmp) as ledger:
        started = time.perf_counter()
        job_id = make_job(ledger, chunks)
        created = time.perf_counter()

        def factory() -> GameballClient:
            return GameballClient(server.url, server.api_key, server.secret_key,
                                  rate_limit=rate_limit)

        runner = Runner(ledger, factory, concurrency=CONCURRENCY, poll_initial=POLL_INITIAL,
                        poll_max=POLL_MAX, tick=0.05)
        cpu = time.process_time(), process_cpu(server.pid)
        runner.run_until_idle(job_id)
        done = time.perf_counter()
        cpu = time.process_time() - cpu[0], process_cpu(server.pid) - cpu[1]
        runner.stop()
        summary = jobs.summary(ledger, job_id)
    assert summary.rows["applied"] == sum(len(k) for k, _ in chunks), summary.rows
    return {"create": created - started, "send": done - created, "cpu": cpu[0],
            "sandbox_cpu": cpu[1]}


def run_plain(server: Sandbox, chunks: list[tuple[list[str], bytes]]) -> float:
    """The minimal loop: POST each payload, poll its job until done, parse the results."""
    path = BATCH_TYPES["cashback"].path
    headers = {"APIKey": server.api_key, "SecretKey": server.secret_key,
               "Content-Type": "application/json"}
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=server.url, headers=headers, timeout=60)
        c: httpx.Client = local.c
        return c

    def one(payload: bytes) -> int:
        job = client().post(path, content=payload).json()["jobId"]
        delay = POLL_INITIAL
        while True:
            time.sleep(delay)
            body = client().get(f"/api/v4.0/integrations/batch/{job}").json()
            if body["status"] in ("completed", "failed", "stopped"):
                response = body.get("response") or {}
                return len(response.get("successful", [])) + len(response.get("failed", []))
            delay = min(max(delay * 1.5, 0.05), POLL_MAX)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = sum(pool.map(one, (p for _, p in chunks)))
    elapsed = time.perf_counter() - started
    assert results == sum(len(k) for k, _ in chunks)
    return elapsed


def client_decode_seconds(rows: int) -> float:
    """CPU the client spends turning status replies into models, for ``rows`` items."""
    from gameball_batch.client import sansio

    items = [{"customerId": f"cus-{1001 + i % CUSTOMERS}", "transactionId": f"D-{i}",
              "gameballTransactionId": 100 + i, "rewardAmount": 1.5,
              "rewardEquivalentPoints": 15} for i in range(1000)]
    body = json.dumps({"status": "completed", "finishedCount": 1000, "errorCount": 0,
                       "totalCount": 1000, "response": {"successful": items, "failed": []}})
    request = sansio.Request("GET", "/api/v4.0/integrations/batch/1", {})
    reply = sansio.Reply(200, {"content-type": "application/json"}, body.encode())
    started = time.perf_counter()
    for _ in range(max(1, rows // 1000)):
        sansio.decode_status(request, reply, job_id="1", batch_type="cashback")
    return time.perf_counter() - started


def overhead(rows: int, runs: int) -> None:
    runner_times: list[float] = []
    plain_times: list[float] = []
    create_times: list[float] = []
    with sandbox_process(rate_limit=False) as server:
        for run in range(runs):
            chunks = build_chunks(rows, 1000, f"R{run}")
            server.reset()
            cpu = time.process_time(), process_cpu(server.pid)
            plain_times.append(run_plain(server, chunks))
            plain_cpu = time.process_time() - cpu[0], process_cpu(server.pid) - cpu[1]
            server.reset()
            timing = run_runner(server, chunks, None)
            runner_times.append(timing["send"])
            create_times.append(timing["create"])
            print(f"run {run + 1}: plain {plain_times[-1]:.1f} s, runner {runner_times[-1]:.1f} s"
                  f" (+ {create_times[-1]:.1f} s storing the job); CPU s client/sandbox: plain "
                  f"{plain_cpu[0]:.1f}/{plain_cpu[1]:.1f}, runner {timing['cpu']:.1f}/"
                  f"{timing['sandbox_cpu']:.1f}; load {os.getloadavg()[0]:.1f}", flush=True)
    plain, runner = statistics.median(plain_times), statistics.median(runner_times)
    print(f"overhead, {rows:,} rows, median of {runs}: plain {plain:.1f} s, runner {runner:.1f} s,"
          f" ratio {runner / plain:.2f}; storing the job {statistics.median(create_times):.1f} s")
    print(f"of which the client's decoding of {rows:,} item results (measured alone): "
          f"{client_decode_seconds(rows):.1f} s", flush=True)


def rate_limited(chunks_count: int, per_30s: int = 360, shared: bool = False) -> None:
    with sandbox_process(rate_limit=False) as server:
        server.reset()
        chunks = build_chunks(chunks_count, 1, "RL")
        with tempfile.TemporaryDirectory() as tmp, bench_ledger(tmp) as ledger:
            job_id = make_job(ledger, chunks)
            limit = RateLimit(per_30s=per_30s, shared=shared)
            factory: Callable[[], Any] = lambda: GameballClient(  # noqa: E731
                server.url, server.api_key, server.secret_key, rate_limit=limit)
            runner = Runner(ledger, factory, concurrency=CONCURRENCY, poll_initial=0.0,
                            poll_max=1.0, tick=0.05)
            started = time.time()
            runner.run_until_idle(job_id)
            done = time.time()
            runner.stop()
            last_sent = max(c.sent_at or 0.0 for c in ledger.chunks(job_id))
    floor = chunks_count / 30
    sent = last_sent - started
    budgets = "one budget for POST and GET" if shared else "POST and GET each"
    total = done - started
    print(f"rate limit: {chunks_count} one-item chunks, RateLimit({limit.per_second:g}/s and "
          f"{limit.per_30s} per 30 s, {budgets}): last chunk sent after {sent:.1f} s, every "
          f"result recorded after {total:.1f} s = {total / floor:.2f}x the {floor:.1f} s floor "
          f"of {chunks_count}/30 s ({chunks_count * 2} requests)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--rate-chunks", type=int, default=1000)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="a postgresql:// server for the runner's ledger")
    args = parser.parse_args()
    global DB_URL
    DB_URL = args.db
    print(f"python {sys.version.split()[0]}, {platform.platform()}, "
          f"{platform.processor() or platform.machine()}", flush=True)
    if not args.skip_overhead:
        overhead(args.rows, args.runs)
    if not args.skip_rate:
        rate_limited(args.rate_chunks, per_30s=1_000_000)  # the per-second limit alone
        rate_limited(args.rate_chunks)  # the defaults: 30/s and 360 per 30 s
        rate_limited(args.rate_chunks, per_30s=1_000_000, shared=True)  # one budget


if __name__ == "__main__":
    main()
