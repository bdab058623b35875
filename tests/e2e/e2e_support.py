"""Helpers for the browser tests: start the console, find Chromium, wait on the app.

Shared by ``conftest.py`` (fixtures) and the test modules; nothing here is a test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgers import ledger_target

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"  # screenshots for reviewers (git-ignored)
CHROMIUM = os.environ.get("GB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 60.0
# Generous: the first script run starts the embedded sandbox and the runner.
APP_TIMEOUT_MS = 30_000


def browser_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass(frozen=True)
class AppServer:
    """A running console: its URL, its private ledger (a file, or a PostgreSQL schema in the
    suite's second pass: tests/ledgers.py) and where its log goes."""

    url: str
    ledger: str
    home: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def require_browser() -> None:
    """Skip without Chromium, or fail where browser tests must run (GB_REQUIRE_BROWSER=1)."""
    import pytest

    reason = browser_missing_reason()
    if reason is None:
        return
    if os.environ.get("GB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here but {reason}", pytrace=False)
    pytest.skip(reason)


def app_env(home: Path, ledger: str) -> dict[str, str]:
    """The console's environment: no real credentials, a private HOME and ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEBALL_")}
    env.update(
        HOME=str(home),
        GAMEBALL_BATCH_DB=ledger,
        GAMEBALL_SECRETS_PATH=str(home / "no-secrets.toml"),
        # A local sandbox of its own: the shared default port (8999) may still be served by
        # an earlier test's console, or by another run on this machine.
        GAMEBALL_SANDBOX_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def run_console(workdir: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[AppServer]:
    """Start ``streamlit run app.py`` headless on a free port; stop it afterwards."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        ledger=str(ledger_target(workdir)),
        home=home,
        log_path=workdir / "streamlit.log",
    )
    env = app_env(home, server.ledger) | (extra_env or {})
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    with server.log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(proc, server)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_healthy(proc: subprocess.Popen[bytes], server: AppServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log()}")
        if _healthy(server.url):
            return
        # Polling a local health endpoint: a short pause between attempts, not a test sleep.
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy in {STARTUP_SECONDS}s:\n{server.log()}")


def wait_for_app(pg: Any, *, timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Wait until the app is connected and no script run is in progress."""
    pg.wait_for_selector(
        "[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms
    )
    pg.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms
    )


def open_page(pg: Any, url: str) -> None:
    pg.goto(url)
    wait_for_app(pg)



def open_expander(pg: Any, label: str, *, timeout_ms: int = APP_TIMEOUT_MS) -> Any:
    """Open the expander headed ``label`` and wait until its content takes clicks; the
    expander's locator.

    Its content is ``inert`` while closed and grows into place as it opens: a click sent
    the moment the header was clicked can land while the button is still moving, and is
    lost (seen on CI with the schedule panel). Waits until the content is no longer inert
    and its size held over three looks 100 ms apart.
    """
    expander = pg.locator("[data-testid='stExpander']").filter(has_text=label).first
    expander.get_by_text(label, exact=True).first.click()
    pg.wait_for_function(
        """(box) => {
            const body = box.querySelector("[data-testid='stExpanderDetails']");
            if (!body || body.inert) { box.__gbSeen = []; return false; }
            const seen = (box.__gbSeen || []).concat([body.getBoundingClientRect().height]);
            box.__gbSeen = seen.slice(-3);
            return seen.length >= 3 && box.__gbSeen.every(h => h === seen[seen.length - 1]);
        }""",
        arg=expander.element_handle(), polling=100, timeout=timeout_ms,
    )
    return expander


# --- waiting for the script run an action causes ---------------------------------------------
#
# The DOM cannot tell reliably: a quick run may start and finish between two React renders,
# so ``data-test-script-state`` never visibly leaves "notRunning". The server's own message
# can: every full script run ends with a ``script_finished`` ForwardMsg on the page's
# websocket. ``watch_runs`` keeps the page's current socket; ``rerun_after`` waits for that
# message (fragment reruns of the live pages end differently and are ignored).

_SOCKETS: dict[int, Any] = {}


def watch_runs(pg: Any) -> None:
    """Remember the page's Streamlit websocket (call before the first ``goto``)."""

    def on_socket(socket: Any) -> None:
        if "/_stcore/stream" in socket.url:
            _SOCKETS[id(pg)] = socket

    pg.on("websocket", on_socket)


def _full_run_finished(payload: Any) -> bool:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if not isinstance(payload, bytes | bytearray):
        return False
    msg = ForwardMsg()
    try:
        msg.ParseFromString(bytes(payload))
    except Exception:  # not one of ours; keep waiting
        return False
    return (
        msg.WhichOneof("type") == "script_finished"
        and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
    )


def rerun_after(pg: Any, action: Any, *, timeout_ms: int = APP_TIMEOUT_MS) -> None:
    """Do ``action`` (a click, a key) and wait until the script run it causes has finished."""
    socket = _SOCKETS.get(id(pg))
    if socket is None:
        raise RuntimeError("call watch_runs(page) before opening the app")
    with socket.expect_event("framereceived", predicate=_full_run_finished, timeout=timeout_ms):
        action()
    wait_for_app(pg)
