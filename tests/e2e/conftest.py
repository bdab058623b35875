"""Browser-test fixtures: the real console under ``streamlit run``, driven by Debian's Chromium.

Modelled on Streamlit's own e2e suite: ``app_server`` starts the console headless on a free
port with its own HOME and ledger, and polls ``/_stcore/health``; tests wait on
``[data-test-script-state='notRunning']`` and on elements, never on fixed sleeps. A failed
test leaves a full-page screenshot under ``tests/e2e/artifacts/``.

When ``GB_REQUIRE_BROWSER=1`` (as ``scripts/test`` sets), a missing Chromium or Playwright
fails the tests instead of skipping them, so CI can never pass without a browser.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    APP_TIMEOUT_MS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    AppServer,
    require_browser,
    run_console,
    watch_runs,
)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One console per test module, with its own ledger and HOME."""
    require_browser()
    with run_console(tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_browser()
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
    watch_runs(pg)
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


