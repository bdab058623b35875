"""One place that turns the environment and ``.streamlit/secrets.toml`` into a frozen Settings.

Precedence: explicit overrides > environment variables > secrets.toml > defaults. With no
API key anywhere, ``use_sandbox`` is true and the console and CLI talk to the embedded
sandbox. Keys are wrapped in :class:`Secret` so that no repr, log line, f-string or
exception text can show them by accident.

This module must not import streamlit: the CLI and the runner read settings too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "https://api.gameball.co"
DEFAULT_SECRETS_PATH = Path(".streamlit/secrets.toml")


class Secret:
    """A credential that never shows itself. Call :meth:`reveal` only where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """What the console may show: that a key is set, never any of its characters."""
        return f"set ({len(self._value)} characters)"

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:  # pickling would be a way to leak it
        raise TypeError("Secret values are not picklable")


def _default_db_path() -> Path:
    return Path.home() / ".gameball-batch" / "ledger.db"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once."""

    base_url: str = DEFAULT_BASE_URL
    api_key: Secret | None = None
    secret_key: Secret | None = None
    db_path: Path = field(default_factory=_default_db_path)
    # [ledger] url, or GAMEBALL_BATCH_DB given a postgresql:// URL: the ledger lives in
    # that PostgreSQL database instead of the SQLite file at db_path (docs/deploy.md).
    db_url: str | None = None
    concurrency: int = 4  # chunks in flight per job
    rate_per_second: float = 30.0  # Gameball "Others": 30 requests/s (reference §6)
    rate_per_30s: int = 360  # and 360 per 30 s
    rate_shared: bool = False  # one budget for every request, not one per HTTP method
    max_upload_mb: int = 200
    max_rows: int = 2_000_000
    sandbox_rate: float = 200.0  # items per second the embedded sandbox processes
    sandbox_seed_customers: int = 200
    sandbox_port: int = 8999  # the one local sandbox the console and the CLI share
    allow_anonymous: bool = False
    allow_network_fs: bool = False  # [ledger] allow_network_fs: a ledger on NFS/SMB anyway
    # [gameball] routes: which documented status/stop route pair to use (reference §9
    # C2/C3); "auto" lets the client find the pair that answers.
    routes: str = "auto"
    extra: Mapping[str, Any] = field(default_factory=dict)  # other secrets.toml sections

    @property
    def use_sandbox(self) -> bool:
        """No credentials configured: talk to the embedded sandbox."""
        return self.api_key is None

    @property
    def environment(self) -> str:
        return "sandbox" if self.use_sandbox else "production"

    @property
    def ledger_location(self) -> str:
        """Where the ledger lives: the PostgreSQL URL, or the SQLite file's path."""
        return self.db_url if self.db_url else str(self.db_path)

    @property
    def ledger_label(self) -> str:
        """:attr:`ledger_location` fit to show (a URL's password hidden)."""
        if not self.db_url:
            return str(self.db_path)
        from gameball_batch.ledger.postgres import redact

        return redact(self.db_url)

    def open_ledger(self) -> Any:
        """The ledger these settings name (refused on a network filesystem unless allowed)."""
        from gameball_batch.ledger import open_ledger

        return open_ledger(self.ledger_location, allow_network_fs=self.allow_network_fs)

    def with_ledger(self, where: str) -> Settings:
        """These settings with the ledger at ``where`` (a path or a postgresql:// URL)."""
        if where.startswith(("postgresql://", "postgres://")):
            return replace(self, db_url=where)
        return replace(self, db_path=Path(where).expanduser(), db_url=None)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None


def _secret(value: object) -> Secret | None:
    text = str(value).strip() if value is not None else ""
    return Secret(text) if text else None


def _flag(value: Any) -> bool:
    """A yes/no setting from TOML (a bool) or the environment (text)."""
    return str(value).lower() in {"1", "true", "yes"}


def load_settings(
    env: Mapping[str, str] | None = None,
    secrets_path: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve settings from the environment and secrets.toml; ``overrides`` win."""
    env = os.environ if env is None else env
    secrets = _read_secrets(
        secrets_path or Path(env.get("GAMEBALL_SECRETS_PATH", DEFAULT_SECRETS_PATH))
    )
    gb = secrets.get("gameball", {}) if isinstance(secrets.get("gameball"), dict) else {}
    limits = secrets.get("limits", {}) if isinstance(secrets.get("limits"), dict) else {}

    def pick(env_name: str, key: str, section: Mapping[str, Any] = gb) -> Any:
        return env.get(env_name) or section.get(key)

    values: dict[str, Any] = {
        "api_key": _secret(pick("GAMEBALL_API_KEY", "api_key")),
        "secret_key": _secret(pick("GAMEBALL_SECRET_KEY", "secret_key")),
        "base_url": (pick("GAMEBALL_BASE_URL", "base_url") or DEFAULT_BASE_URL).rstrip("/"),
        "extra": {k: v for k, v in secrets.items() if k != "gameball"},
    }
    ledger_section = (secrets.get("ledger", {}) if isinstance(secrets.get("ledger"), dict)
                      else {})
    db = env.get("GAMEBALL_BATCH_DB") or ledger_section.get("url") or gb.get("db_path")
    if db and str(db).startswith(("postgresql://", "postgres://")):
        values["db_url"] = str(db)
    elif db:
        values["db_path"] = Path(db).expanduser()
    numeric = {
        "concurrency": int,
        "rate_per_second": float,
        "rate_per_30s": int,
        "max_upload_mb": int,
        "max_rows": int,
    }
    for key, cast in numeric.items():
        raw = env.get(f"GAMEBALL_{key.upper()}") or limits.get(key)
        if raw is not None:
            values[key] = cast(raw)
    anon = env.get("GAMEBALL_ALLOW_ANONYMOUS") or secrets.get("auth_policy", {}).get(
        "allow_anonymous"
    )
    values["allow_anonymous"] = _flag(anon)
    values["rate_shared"] = _flag(env.get("GAMEBALL_RATE_SHARED") or limits.get("rate_shared"))
    ledger = secrets.get("ledger", {}) if isinstance(secrets.get("ledger"), dict) else {}
    values["allow_network_fs"] = _flag(env.get("GAMEBALL_LEDGER_ALLOW_NETWORK_FS")
                                       or ledger.get("allow_network_fs"))
    routes = env.get("GAMEBALL_ROUTES") or gb.get("routes")
    if routes is not None:
        values["routes"] = _routes(routes)
    port = env.get("GAMEBALL_SANDBOX_PORT") or gb.get("sandbox_port")
    if port is not None:
        values["sandbox_port"] = _port(port)
    values.update(overrides)
    return Settings(**values)


ROUTE_SETTINGS = ("auto", "gitbook", "openapi")


def _routes(raw: Any) -> str:
    value = str(raw).strip().lower()
    if value not in ROUTE_SETTINGS:
        raise ValueError(f"GAMEBALL_ROUTES (routes) must be one of {', '.join(ROUTE_SETTINGS)}"
                         f", got '{raw}'")
    return value


def _port(raw: Any) -> int:
    try:
        port = int(str(raw).strip())
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ValueError(f"GAMEBALL_SANDBOX_PORT (sandbox_port) must be a port number from 1 "
                         f"to 65535, got '{raw}'")
    return port
