"""Fixtures shared by every test layer."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_real_gameball(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may reach api.gameball.co or read a developer's real secrets or ledger."""
    for name in ("GAMEBALL_API_KEY", "GAMEBALL_SECRET_KEY", "GAMEBALL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GAMEBALL_SECRETS_PATH", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("GAMEBALL_BATCH_DB", str(tmp_path / "ledger.db"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # The shared local sandbox's fixed port (default 8999) must not collide across runs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("GAMEBALL_SANDBOX_PORT", str(sock.getsockname()[1]))
