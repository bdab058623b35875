"""Fixtures for integration tests: the real sandbox, served over HTTP on 127.0.0.1.

``sandbox`` is a running :class:`SandboxServer` in instant mode (a job is applied before
its creation request is answered) with rate limits off, reset before every test to five
demo customers cus-1001 … cus-1005 holding 1000 points each and no faults. One server
serves the whole session, so a test costs a reset, not a start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import ledger_target, open_test_ledger
from tally_check import tally_drift

from gameball_batch.ledger import Ledger
from gameball_batch.sandbox import SandboxServer

DEMO_CUSTOMERS = 5


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[SandboxServer]:
    with SandboxServer(instant=True, rate_limit=False, seed_customers=DEMO_CUSTOMERS) as server:
        yield server


@pytest.fixture(scope="session")
def _rich_server() -> Iterator[SandboxServer]:
    with SandboxServer(instant=True, rate_limit=False, seed_customers=DEMO_CUSTOMERS,
                       replies="rich") as server:
        yield server


@pytest.fixture
def rich_sandbox(_rich_server: SandboxServer) -> SandboxServer:
    """Like ``sandbox``, but answering with the richer, undocumented replies (result key and
    code on every item, counts kept after a stop): for tests of reading those extras."""
    _rich_server.state.restore()
    return _rich_server


@pytest.fixture
def sandbox(_sandbox_server: SandboxServer) -> SandboxServer:
    """A running sandbox with fresh state: demo customers seeded, no jobs, no faults."""
    _sandbox_server.state.restore()
    return _sandbox_server


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh ledger of the test's own, on this pass's backend."""
    led = open_test_ledger(tmp_path)
    yield led
    led.close()
    assert tally_drift(ledger_target(tmp_path)) == [], "row counts drifted from the rows"


@pytest.fixture
def connected(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """Credentials pointing the CLI at the test sandbox (as if it were Gameball)."""
    from submission_helpers import SEEDED

    with sandbox.state.lock:
        sandbox.core.seed(SEEDED)
    monkeypatch.setenv("GAMEBALL_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", sandbox.secret_key)
    monkeypatch.setenv("GAMEBALL_BASE_URL", sandbox.url)
    return sandbox
