"""Browser-test fixtures: the real console under ``streamlit run``, driven by Debian's Chromium.

Modelled on Streamlit's own e2e suite: ``app_server`` starts the console headless on a free
port with its own HOME and ledger, and polls ``/_stcore/health``; tests wait on
``[data-test-script-state='notRunning']`` and on elements, never on fixed sleeps. A failed
test leaves a full-page screenshot under ``test-artifacts/``.

When ``GB_REQUIRE_BROWSER=1`` (as ``scripts/test`` sets), a missing Chromium or Playwright
fails the tests instead of skipping them, so CI can never pass without a browser.
"""

from __future__ import annotations

import contextlib
import os
import re
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

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
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


def _browser_missing_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


def _require_browser() -> None:
    reason = _browser_missing_reason()
    if reason is None:
        return
    if os.environ.get("GB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here but {reason}", pytrace=False)
    pytest.skip(reason)


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
    """A running console: its URL, its private ledger file and where its log goes."""

    url: str
    db_path: Path
    home: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def app_env(home: Path, db_path: Path) -> dict[str, str]:
    """The console's environment: no real credentials, a private HOME and ledger."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEBALL_")}
    env.update(
        HOME=str(home),
        GAMEBALL_BATCH_DB=str(db_path),
        GAMEBALL_SECRETS_PATH=str(home / "no-secrets.toml"),
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
        db_path=workdir / "ledger.db",
        home=home,
        log_path=workdir / "streamlit.log",
    )
    env = app_env(home, server.db_path) | (extra_env or {})
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


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One console per test module, with its own ledger and HOME."""
    _require_browser()
    with run_console(tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Keep each phase's report on the item so fixtures can tell whether the test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser context (own cookies and downloads) per test; screenshot on failure."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True
    )
    context.set_default_timeout(APP_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            target = ARTIFACTS / f"{_safe_name(request.node.nodeid)}.png"
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(target), full_page=True)
        context.close()


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
