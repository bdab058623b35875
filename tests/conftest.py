"""Fixtures shared by every test layer."""

from __future__ import annotations

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
