"""Benchmark of the console's responsiveness (issue 5 acceptance).

fragment: the server time of one rerun of the jobs page's live fragment while a
  1,000,000-row job runs. A ledger holds one cashback job of N rows (default 1,000,000) in
  chunks of 1000, 40 % of them closed with 1 % failed rows; a writer thread then closes one
  more chunk every ``--chunk-every`` seconds, as the runner would, while this process times
  ``jobs_view.live_view`` (exactly the data the fragment reads: snapshot, failures by
  message, one page of the error table) every 0.25 s, with one session cache, like a
  browser tab does. Reported: median, p90 and max of the reruns, split by whether the job
  had changed since the previous rerun, plus one AppTest run of the whole page (server
  time of a full script run, figures included) as an upper bound.

upload: the time from choosing a 100,000-row cashback CSV in the browser (Playwright,
  Debian's Chromium) to the validated view (the page shows the valid/invalid counts), on
  the real console under ``streamlit run``.

Run:  python bench/console.py [fragment|upload|all] [--rows N] [--runs K]
This is a benchmark, not a test: it prints timings and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameball_batch import ledger as lg  # noqa: E402
from gameball_batch.ledger import ItemOutcome, Ledger, NewChunk, NewJob, NewRow  # noqa: E402

OUT = ROOT / "bench" / "out"
JOB_ID = "bench-1m"
OWNER = "bench-writer"
PER_CHUNK = 1000
PAST = "2026-01-02T03:04:05Z"
UPLOAD_ROWS = 100_000
MAIN = "[data-testid='stMain'] "
REVIEW_DRAWN = (
    f"{MAIN}.js-plotly-plot .main-svg, {MAIN}[data-testid='stHtml'] figure div[title]",
    f"{MAIN}[data-testid='stDataFrame'] canvas, {MAIN}[data-testid='stMarkdown'] table",
    f"{MAIN}[data-testid='stCode'], {MAIN}[data-testid='stHtml'] pre",
)


def machine() -> str:
    return (f"{platform.machine()} · {os.cpu_count()} cores · Python "
            f"{platform.python_version()} · {platform.system()} {platform.release()}")


def summary(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label}: no samples"
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (f"{label}: n={len(ordered)} median {statistics.median(ordered) * 1000:.1f} ms · "
            f"p90 {p90 * 1000:.1f} ms · max {ordered[-1] * 1000:.1f} ms")


# --- fragment ------------------------------------------------------------------------------


def build_ledger(path: Path, rows: int) -> None:
    """One running cashback job: 40 % of its chunks closed, 1 % of those rows failed."""
    book = Ledger(path)
    chunk_count = (rows + PER_CHUNK - 1) // PER_CHUNK
    started = time.perf_counter()
    book.create_job(
        NewJob(id=JOB_ID, batch_type="cashback", file_name="campaign-1m.csv",
               fingerprint="bench", sheet=None, mapping={},
               columns=("Customer ID", "Transaction ID", "Transaction Time", "Amount"),
               row_count=rows, item_count=rows, totals={}, actor="bench@example.com"),
        (NewChunk(i, b'{"body":[]}', min(PER_CHUNK, rows - i * PER_CHUNK))
         for i in range(chunk_count)),
        (NewRow(r + 2, r // PER_CHUNK, f"TX-{r}", (f"cus-{1001 + r % 1000}", f"TX-{r}", PAST,
                                                   str(10 + r % 90)))
         for r in range(rows)),
    )
    book.acquire_lease(JOB_ID, OWNER, 3600)
    book.set_job_state(JOB_ID, lg.JOB_RUNNING, actor=OWNER)
    for index in range(int(chunk_count * 0.4)):
        close_chunk(book, index)
    print(f"built a {rows:,}-row ledger in {time.perf_counter() - started:.1f} s: {path}")
    book.close()


def close_chunk(book: Ledger, index: int) -> None:
    """What the runner does for one chunk: send, accept, record each item's outcome."""
    book.acquire_lease(JOB_ID, OWNER, 3600)
    if not book.mark_sending(JOB_ID, index, OWNER):
        return
    book.mark_accepted(JOB_ID, index, f"remote-{index}")
    first = index * PER_CHUNK
    outcomes = [
        ItemOutcome(f"TX-{r}", lg.ROW_FAILED if r % 100 == 7 else lg.ROW_APPLIED,
                    random.choice(("Customer not found", "Amount must be more than 0"))
                    if r % 100 == 7 else None)
        for r in range(first, first + PER_CHUNK)
    ]
    book.finish_chunk(JOB_ID, index, state=lg.CHUNK_DONE, outcomes=outcomes, unlisted=None)


@contextmanager
def writer(path: Path, every: float) -> Iterator[threading.Event]:
    """A thread closing the next pending chunk every ``every`` seconds (the running job)."""
    stop = threading.Event()

    def run() -> None:
        book = Ledger(path)
        while not stop.wait(every):
            pending = book.ready_chunks(JOB_ID, limit=1)
            if not pending:
                return
            close_chunk(book, pending[0])
        book.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join()


def time_fragment(path: Path, reruns: int, every: float) -> None:
    from gameball_batch.ui import jobs_view as jv

    book = Ledger(path)
    cache = jv.ViewCache()
    cold = timed(lambda: jv.live_view(book, JOB_ID, cache=cache,
                                      statuses=jv.ERROR_STATUSES, page=1))
    print(f"first rerun (nothing cached yet): {cold * 1000:.1f} ms")
    changed: list[float] = []
    unchanged: list[float] = []
    last_change = [max(c.updated_at for c in book.chunks(JOB_ID))]
    with writer(path, every):
        for _ in range(reruns):
            before = book.chunks(JOB_ID)  # outside the timing: did the job change?
            took = timed(lambda: jv.live_view(book, JOB_ID, cache=cache,
                                              statuses=jv.ERROR_STATUSES, page=1))
            moved = max(c.updated_at for c in before) != last_change[0]
            last_change[0] = max(c.updated_at for c in before)
            (changed if moved else unchanged).append(took)
            time.sleep(0.25)  # the pace of reruns in a bench, not a test
    cache.wait_idle()
    print(summary("fragment rerun, all", changed + unchanged))
    print(summary("  … job changed since last rerun", changed))
    print(summary("  … nothing changed", unchanged))
    book.close()


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def time_apptest(path: Path, runs: int) -> None:
    """A full script run of the Jobs page on the job (figures and widgets included)."""
    from streamlit.testing.v1 import AppTest

    os.environ["GAMEBALL_BATCH_DB"] = str(path)
    seconds = []
    if str(ROOT) not in sys.path:  # ``from pages import jobs`` in the one-page script
        sys.path.insert(0, str(ROOT))
    at = AppTest.from_string("from pages import jobs\n\njobs.render()\n", default_timeout=120)
    at.query_params["job"] = JOB_ID
    for _ in range(runs):
        seconds.append(timed(at.run))
        if at.exception:
            print("page raised:", [e.value for e in at.exception])
            return
    print(summary("AppTest full page run (first run included)", seconds))


def fragment(args: argparse.Namespace) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"ledger-{args.rows}.db"
    if path.exists():
        path.unlink()
        for extra in ("-wal", "-shm"):
            Path(str(path) + extra).unlink(missing_ok=True)
    build_ledger(path, args.rows)
    time_fragment(path, args.reruns, args.chunk_every)
    time_apptest(path, args.runs)


# --- upload --------------------------------------------------------------------------------


def cashback_csv(rows: int) -> bytes:
    lines = ["Customer ID,Transaction ID,Transaction Time,Amount"]
    lines += [f"cus-{1001 + r % 200},BENCH-{r},{PAST},{10 + r % 90}.50" for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@contextmanager
def serve(root: Path, work: Path) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` of the checkout at ``root`` on a free port: (url, pid)."""
    import subprocess
    import urllib.request

    from e2e_support import app_env, free_port

    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = app_env(home, str(work / "ledger.db")) | {"PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with (work / "streamlit.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/_stcore/health", timeout=2):  # noqa: S310
                        break
                except OSError:
                    time.sleep(0.2)  # the server is starting
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_upload(page: Any, url: str, data: Path) -> tuple[float, float, float]:
    """(file read, counts shown, whole page done) seconds after choosing ``data``."""
    from e2e_support import _SOCKETS, _full_run_finished, open_page, wait_for_app, watch_runs

    watch_runs(page)
    open_page(page, url + "/")  # New batch is the default page
    choose_type(page, "Cashback Rewards")
    wait_for_app(page)
    uploader = page.locator("[data-testid='stFileUploaderDropzoneInput']")
    socket = _SOCKETS[id(page)]
    with socket.expect_event("framereceived", predicate=_full_run_finished, timeout=600_000):
        started = time.perf_counter()
        uploader.set_input_files(str(data))
        page.get_by_text("Detected:").first.wait_for()
        detected = time.perf_counter() - started
        page.locator("[data-testid='stMain'] [data-testid='stMetric']").filter(
            has_text="Valid").first.wait_for()
        validated = time.perf_counter() - started
    finished = time.perf_counter() - started
    # The run has finished on the server; now every section of the review drawn, in the
    # form of this checkout or of a baseline's: the histogram (plotly's svg or HTML bars),
    # the largest rows (the data grid's canvas or a table) and the first item's JSON.
    for drawn_as in REVIEW_DRAWN:
        page.locator(drawn_as).first.wait_for()
    drawn = time.perf_counter() - started
    wait_for_app(page)
    print(f"  (script finished on the server {finished:.2f} s, "
          f"every review section drawn {drawn:.2f} s)")
    return detected, validated, time.perf_counter() - started


def upload(args: argparse.Namespace) -> None:
    sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "tests")]  # e2e_support, ledgers
    from e2e_support import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="gb-bench-"))
    if args.file:
        data = Path(args.file).resolve()
    else:
        data = work / "cashback-100k.csv"
        data.write_bytes(cashback_csv(args.upload_rows))
    roots = {"this checkout": ROOT}
    if args.baseline:
        roots = {"baseline": Path(args.baseline).resolve(), **roots}
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in roots}
    peaks: dict[str, float] = {}
    with sync_playwright() as pw, contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(serve(root, work / name.replace(" ", "-")))
                   for name, root in roots.items()}
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(args.runs):  # the contenders alternate, so load hits both alike
            for name, (url, _pid) in servers.items():
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(600_000)
                times[name].append(time_upload(page, url, data))
                page.close()
                print(f"run {run + 1} {name}: " + ", ".join(
                    f"{t:.2f} s" for t in times[name][-1]) + f" · load {load()}", flush=True)
        for name, (_url, pid) in servers.items():
            peaks[name] = peak_rss_mb(pid)
        browser.close()
    print(f"file: {data.name} ({data.stat().st_size / 1e6:,.1f} MB)")
    for name, rows in times.items():
        for i, what in enumerate(("file read ('Detected:')", "valid/invalid counts shown",
                                  "whole page done (review, plan, first item)")):
            print(summary(f"{name}: upload → {what}", [r[i] for r in rows]))
        print(f"{name}: server peak RSS (VmHWM, all runs) {peaks[name]:,.0f} MB")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def choose_type(page: Any, title: str) -> None:
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Batch type").first
    box.click()
    page.get_by_role("option", name=title).first.click()
    page.get_by_text("Required fields").first.wait_for()


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=("fragment", "upload", "all"), default="all")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reruns", type=int, default=80, help="timed fragment reruns")
    parser.add_argument("--chunk-every", type=float, default=1.0,
                        help="seconds between chunks the writer closes")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--upload-rows", type=int, default=UPLOAD_ROWS)
    parser.add_argument("--file", help="upload this file instead (e.g. bench/data/cashback-1m.csv)")
    parser.add_argument("--baseline", help="also time the console of this checkout (a plain "
                        "copy of another commit), alternating runs with this one")
    args = parser.parse_args()
    print(machine())
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(json.dumps(vars(args)))
    print("load average:", load())
    if args.what in ("fragment", "all"):
        fragment(args)
    if args.what in ("upload", "all"):
        upload(args)


if __name__ == "__main__":
    main()
