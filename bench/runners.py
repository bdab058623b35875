"""Benchmark: one job sent by one headless runner, and by three sharing a PostgreSQL ledger.

``PYTHONPATH=. python bench/runners.py --db postgresql://… [--rows N] [--runs K]``

Each run stores one cashback job of N rows (1000 per chunk) in a fresh schema, starts 1 or
3 ``python -m gameball_batch runner`` processes against a sandbox in its own process
(instant, rate limits off), and times from their start until the job is finished. The
contenders alternate within each run. A job is sent by the one runner holding its lease, so
three runners are expected to send one job no faster than one: what they add is a
takeover when one dies, and room for several jobs at once. This measures what sharing a
ledger costs them. Prints every run and the medians; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import submit  # noqa: E402  (the sandbox process and the job builder)

from gameball_batch import ledger as lg  # noqa: E402


def one_run(server: submit.Sandbox, rows: int, workers: int) -> float:
    server.reset()
    chunks = submit.build_chunks(rows, 1000, f"R{workers}-{time.monotonic_ns()}")
    with tempfile.TemporaryDirectory() as tmp, submit.bench_ledger(tmp) as ledger:
        job_id = submit.make_job(ledger, chunks)
        where = getattr(ledger, "url", ledger.where)  # (the job has no target: any serves)
        env = {**os.environ, "GAMEBALL_API_KEY": server.api_key,
               "GAMEBALL_SECRET_KEY": server.secret_key, "GAMEBALL_BASE_URL": server.url,
               "GAMEBALL_BATCH_DB": where, "GAMEBALL_RATE_PER_SECOND": "100000",
               "GAMEBALL_RATE_PER_30S": "100000000", "PYTHONPATH": str(HERE.parent)}
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "gameball_batch", "runner"],
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
        try:
            while True:
                job = ledger.job(job_id)
                if job is not None and job.state in (lg.JOB_FINISHED, lg.JOB_NEEDS_OPERATOR):
                    break
                time.sleep(0.05)
            took = time.perf_counter() - started
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
        assert ledger.row_counts(job_id)[lg.ROW_APPLIED] == rows
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--db", required=True, metavar="URL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    submit.DB_URL = args.db
    times: dict[int, list[float]] = {1: [], 3: []}
    with submit.sandbox_process(rate_limit=False) as server:
        for run in range(args.runs):
            for workers in (1, 3):
                times[workers].append(one_run(server, args.rows, workers))
            print(f"run {run + 1}: one runner {times[1][-1]:.1f} s, three runners "
                  f"{times[3][-1]:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    one, three = statistics.median(times[1]), statistics.median(times[3])
    print(f"{args.rows:,} rows, median of {args.runs}: one runner {one:.1f} s "
          f"({args.rows / one:,.0f} rows/s), three runners {three:.1f} s "
          f"({args.rows / three:,.0f} rows/s), three / one = {three / one:.2f}")


if __name__ == "__main__":
    main()
