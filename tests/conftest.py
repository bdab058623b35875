"""Fixtures shared by every test layer."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import ON_POSTGRES, SQLITE_ONLY_REASON, ledger_target

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The PostgreSQL pass (``GB_TEST_LEDGER=postgresql``) skips tests about SQLite itself."""
    if not ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason=SQLITE_ONLY_REASON)
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_real_gameball(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach api.gameball.co or read a developer's real secrets or ledger."""
    for name in ("GAMEBALL_API_KEY", "GAMEBALL_SECRET_KEY", "GAMEBALL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAMEBALL_SECRETS_PATH", str(tmp_path / "no-secrets.toml"))
    # The test's own ledger, on this pass's backend: the CLI, the console and any subprocess
    # under test open it through this variable.
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(ledger_target(tmp_path)))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # The shared local sandbox's fixed port (default 8999) must not collide across runs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("GAMEBALL_SANDBOX_PORT", str(sock.getsockname()[1]))


@pytest.fixture(autouse=True)
def _no_ledger_url_taken_for_a_path(tmp_path: Path) -> Iterator[None]:
    """On the PostgreSQL pass, code that took the ledger's URL for a file path would quietly
    make a SQLite ledger in a folder named ``postgresql:`` and pass: that fails the test."""
    yield
    if not ON_POSTGRES:
        return
    strays = sorted({place / name for place in (ROOT, Path.cwd(), tmp_path)
                     for name in ("postgresql:", "postgres:") if (place / name).exists()})
    for stray in strays:
        shutil.rmtree(stray, ignore_errors=True)
    if strays:
        pytest.fail(f"the ledger's URL was taken for a file path: {strays} appeared "
                    "(removed now)")
