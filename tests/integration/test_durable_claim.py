"""Durable before the send, seen from the kernel: for every chunk, the ledger's write-ahead
log is fsynced after the claim is written and before the chunk's request leaves.

A real CLI submission runs under ``strace -f``; the sandbox serves from this test process, so
the trace holds only the client's side. Kill -9 tests cannot see this ordering: the OS keeps
an unsynced WAL across a process crash, but not across a power cut.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gameball_batch.sandbox import SandboxServer

# The fsync of SQLite's write-ahead log, seen through strace.
pytestmark = pytest.mark.sqlite_only

ROOT = Path(__file__).resolve().parents[2]
SYSCALLS = "openat,close,fsync,fdatasync,write,pwrite64,sendto,sendmsg"
LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>.*= (-?\d+)")


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing: scripts/test installs Debian's strace")
        pytest.skip("strace is not installed (scripts/test installs it)")
    return found


def _write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["customerId", "transactionId", "transactionTime", "amount"])
        for i in range(rows):
            out.writerow([f"cus-{1001 + i}", f"DUR-{i}", "2026-11-20T10:00:00Z", "10"])


def _events(trace: str) -> list[tuple[str, str, int, str]]:
    """(syscall, what, fd, thread) in order: ("write", "wal", fd, tid), ("fsync", "wal", fd,
    tid), ("post", "", fd, tid). Calls split across threads are read from their first line."""
    wal_fds: set[int] = set()
    pending_open: dict[str, bool] = {}  # pid -> its unfinished openat is of the WAL
    out: list[tuple[str, str, int, str]] = []
    for line in trace.splitlines():
        resumed = RESUMED.match(line)
        if resumed:
            pid, name, ret = resumed.groups()
            if name == "openat" and pending_open.pop(pid, False) and int(ret) >= 0:
                wal_fds.add(int(ret))
            continue
        match = LINE.match(line)
        if not match:
            continue
        pid, name, rest = match.groups()
        if name == "openat":
            is_wal = "-wal\"" in rest
            if "<unfinished" in rest:
                pending_open[pid] = is_wal
            elif is_wal and (ret := re.search(r"= (\d+)\s*$", rest)):
                wal_fds.add(int(ret.group(1)))
            continue
        # "fdatasync(7 <unfinished ...>": a call another thread interrupted in the trace
        # still names its descriptor first (the thread resumes only once it returned).
        fd_match = re.match(r"(\d+)\s*(?:[,)]|<unfinished)", rest)
        if fd_match is None:
            continue
        fd = int(fd_match.group(1))
        if name == "close":  # the number may next name a socket: it is no WAL any more
            wal_fds.discard(fd)
        elif name in ("sendto", "sendmsg", "write") and "POST /api/" in rest:
            out.append(("post", "", fd, pid))
        elif name in ("write", "pwrite64") and fd in wal_fds:
            out.append(("write", "wal", fd, pid))
        elif name in ("fsync", "fdatasync") and fd in wal_fds:
            out.append(("fsync", "wal", fd, pid))
    return out


def test_every_chunk_is_on_disk_before_its_request_leaves(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    strace = _strace()
    data = tmp_path / "cashback.csv"
    _write_file(data, 2_500)  # three chunks of at most 1,000 items
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "GAMEBALL_API_KEY": sandbox.api_key,
           "GAMEBALL_SECRET_KEY": sandbox.secret_key, "GAMEBALL_BASE_URL": sandbox.url,
           "GAMEBALL_BATCH_DB": str(tmp_path / "ledger.db"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [strace, "-f", "-qq", "-s", "48", "-e", f"trace={SYSCALLS}", "-o", str(trace),
         sys.executable, "-m", "gameball_batch", "submit", str(data), "--type", "cashback",
         "--wait", "--yes"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode in (0, 3), done.stderr[-2000:]
    events = _events(trace.read_text())
    posts = [i for i, e in enumerate(events) if e[0] == "post"]
    assert len(posts) >= 3, "every chunk's request should be in the trace"
    for at in posts:
        # The thread that sends a chunk wrote its claim: its own last WAL write before the
        # request must be fsynced before the request. (Another thread recording an earlier
        # chunk's results may write to the WAL meanwhile, unsynced by design.)
        thread = events[at][3]
        mine = [i for i, e in enumerate(events[:at]) if e[0] == "write" and e[3] == thread]
        assert mine, f"request {posts.index(at) + 1}: its thread wrote no claim before it"
        synced = [e for e in events[mine[-1]:at] if e[0] == "fsync"]
        assert synced, (f"request {posts.index(at) + 1} left before the ledger's WAL was "
                        "fsynced after its claim")
