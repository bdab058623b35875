"""Process-level resources of the console, each created once per process.

Settings, the embedded sandbox (started only when no credentials are configured), the
factory of API clients, the ledger and the runner all live in ``st.cache_resource``: every
session and every script run shares them, and none is created inside a page. Each cached
resource is keyed by what it depends on (the environment, the ledger path, the base URL),
so a changed configuration gets a fresh resource instead of a stale one, and releasing a
cache entry stops its threads (``on_release``).

Pages only *read* the ledger; submission happens in the runner's thread, never in a script
run. This module must not render anything (no ``st.write``): it is plumbing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from gameball_batch.ledger import Ledger, Target, open_ledger
from gameball_batch.ledger import key_fingerprint as lg_key_fingerprint
from gameball_batch.sandbox.shared import LocalSandbox, local_sandbox
from gameball_batch.settings import Secret, Settings, load_settings

if TYPE_CHECKING:  # imported lazily: the client (and the runner) pull in httpx
    from gameball_batch.client import GameballClient
    from gameball_batch.notify import Notifier
    from gameball_batch.runner import Runner

ClientFactory = Callable[[], "GameballClient"]

# Settings an operator may change for this process from the Settings page (never written
# back to disk): chunks in flight and the client's request rate.
TUNABLE = ("concurrency", "rate_per_second")


@dataclass(frozen=True)
class Connection:
    """Where requests go: the embedded sandbox or Gameball, and the keys to use."""

    environment: str  # "sandbox" | "production"
    base_url: str
    api_key: Secret
    secret_key: Secret | None
    sandbox: LocalSandbox | None = None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def target(self) -> Target:
        """Where jobs sent through this connection are recorded as sent (no key kept)."""
        return Target.of(sandbox=not self.is_production, base_url=self.base_url,
                         api_key=self.api_key.reveal())


def _env_key() -> tuple[tuple[str, str], ...]:
    # Everything load_settings reads from the environment; HOME decides default paths.
    names = [*sorted(k for k in os.environ if k.startswith("GAMEBALL_")), "HOME"]
    return tuple((k, os.environ.get(k, "")) for k in names)


@st.cache_resource(show_spinner=False)
def _settings_for(env_key: tuple[tuple[str, str], ...]) -> Settings:
    del env_key  # only the cache key: load_settings reads the environment itself
    return load_settings()


@st.cache_resource(show_spinner=False)
def _overrides() -> dict[str, Any]:
    """Process-wide overrides made on the Settings page (a shared, mutable dict)."""
    return {}


def get_settings() -> Settings:
    """The settings of this process (raises ValueError with a message for bad secrets)."""
    base = _settings_for(_env_key())
    changes = _overrides()
    return base.with_overrides(**changes) if changes else base


def set_tunable(**changes: Any) -> None:
    """Change concurrency / rate for this process and restart the runner with them.

    Stopping the old runner lets its in-flight requests finish and releases its leases;
    the new one resumes every unfinished job, so nothing is sent twice.
    """
    unknown = set(changes) - set(TUNABLE)
    if unknown:
        raise ValueError(f"Only {', '.join(TUNABLE)} can be changed here.")
    if int(changes.get("concurrency", 1)) < 1 or float(changes.get("rate_per_second", 1)) <= 0:
        raise ValueError("Concurrency must be at least 1 and the rate more than 0.")
    _overrides().update(changes)
    _runner_for.clear()  # on_release stops the old runner
    get_runner()


def _stop_sandbox(sandbox: LocalSandbox) -> None:
    sandbox.close()  # stops it only if this process serves it; its state stays on disk


@st.cache_resource(show_spinner=False, on_release=_stop_sandbox)
def _sandbox_for(item_rate: float, seed_customers: int, state_dir: str,
                 port: int) -> LocalSandbox:
    return local_sandbox(Path(state_dir), port, item_rate=item_rate,
                         seed_customers=seed_customers)


def get_sandbox() -> LocalSandbox | None:
    """The local sandbox shared with the CLI (started or attached to on first use, state
    beside the ledger); ``None`` when credentials are set."""
    settings = get_settings()
    if not settings.use_sandbox:
        return None
    key = (float(settings.sandbox_rate), int(settings.sandbox_seed_customers),
           str(settings.db_path.parent), int(settings.sandbox_port))
    sandbox = _sandbox_for(*key)
    if not sandbox.alive():  # attached to a CLI's sandbox that has ended: serve it here
        _sandbox_for.clear()
        sandbox = _sandbox_for(*key)
    return sandbox


def get_connection() -> Connection:
    """The effective target: the embedded sandbox or the configured Gameball account."""
    settings = get_settings()
    sandbox = get_sandbox()
    if sandbox is not None:
        return Connection(
            environment="sandbox",
            base_url=sandbox.url,
            api_key=Secret(sandbox.api_key),
            secret_key=Secret(sandbox.secret_key),
            sandbox=sandbox,
        )
    assert settings.api_key is not None  # use_sandbox is false only with a key
    return Connection(
        environment="production",
        base_url=settings.base_url,
        api_key=settings.api_key,
        secret_key=settings.secret_key,
    )


def get_client_factory() -> ClientFactory:
    """A callable that opens a new ``GameballClient`` for the effective connection."""
    connection = get_connection()
    settings = get_settings()

    def make_client() -> GameballClient:
        return new_client(connection, settings)

    return make_client


def new_client(connection: Connection, settings: Settings, **options: Any) -> GameballClient:
    """A client for ``connection`` within the configured rate limit (``options`` go to it)."""
    from gameball_batch.client import GameballClient, RateLimit
    from gameball_batch.client.ratelimit import limiter_for
    from gameball_batch.client.sansio import pinned_paths

    limit = limiter_for(
        RateLimit(per_second=settings.rate_per_second, per_30s=settings.rate_per_30s,
                  shared=settings.rate_shared),
        get_ledger(),
        f"{connection.base_url}|{lg_key_fingerprint(connection.api_key.reveal())}")
    options.setdefault("paths", pinned_paths(settings.routes))  # None: find the pair
    if options["paths"] is None:  # the pair found earlier is remembered in the ledger
        ledger = get_ledger()
        options.setdefault("remembered_routes", ledger.remembered_routes(connection.base_url))
        options.setdefault("on_routes", functools.partial(ledger.remember_routes,
                                                          connection.base_url))
    return GameballClient(
        connection.base_url, connection.api_key, connection.secret_key or "",
        rate_limit=limit, **options,
    )


def _close_ledger(ledger: Ledger) -> None:
    ledger.close()


@st.cache_resource(show_spinner=False, on_release=_close_ledger)
def _ledger_for(where: str, allow_network_fs: bool = False) -> Ledger:
    return open_ledger(where, allow_network_fs=allow_network_fs)


def get_ledger() -> Ledger:
    """The ledger of this process (one object: a SQLite file or a PostgreSQL pool)."""
    settings = get_settings()
    return _ledger_for(settings.ledger_location, settings.allow_network_fs)


def _stop_runner(runner: Runner) -> None:
    runner.stop()


@st.cache_resource(show_spinner=False, on_release=_stop_runner)
def _runner_for(db_path: str, base_url: str, concurrency: int, rate: float) -> Runner:
    del base_url, rate  # part of the key: a new target or rate gets a fresh runner
    from gameball_batch.runner import Runner
    from gameball_batch.snapshots import hook_for

    runner = Runner(get_ledger(), get_client_factory(), concurrency=concurrency,
                    target=get_connection().target, before_send=hook_for(get_settings().extra))
    runner.start()
    get_notifier()  # team signals start with the runner
    return runner


def _stop_notifier(notifier: Notifier) -> None:
    notifier.stop()


@st.cache_resource(show_spinner=False, on_release=_stop_notifier)
def _notifier_for(db_path: str, config_key: str) -> Notifier:
    del db_path, config_key  # the cache key: another ledger or [notify] gets a fresh one
    from gameball_batch import notify

    notifier = notify.Notifier(get_ledger(), notify.settings_from(get_settings().extra))
    notifier.start()
    return notifier


def get_notifier() -> Notifier | None:
    """The process's notifier (notify.py), started once; None without usable hooks (the
    Settings page says why)."""
    import hashlib
    import json

    from gameball_batch import notify

    settings = get_settings()
    try:
        if not notify.settings_from(settings.extra).hooks:
            return None
    except notify.NotifyConfigError:
        return None
    # A digest, not the settings: webhook URLs are credentials.
    raw = {k: settings.extra.get(k) for k in ("notify", "console")}
    key = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return _notifier_for(settings.ledger_location, key)


def get_runner() -> Runner:
    """The background runner, started once per process.

    It scans the ledger every fraction of a second, so a job created as ``queued`` is picked
    up without being handed over explicitly; it also resumes jobs left by a restart.
    """
    settings = get_settings()
    connection = get_connection()
    return _runner_for(
        settings.ledger_location, connection.base_url, settings.concurrency,
        settings.rate_per_second,
    )


PROBE_TIMEOUT = 10.0
PROBE_JOB_ID = "0"  # no batch job has this id: a 404 proves the URL and keys both work


def test_connection() -> tuple[bool, str]:
    """Ask the API (or the sandbox) for a job that does not exist; (ok, operator message)."""
    connection = get_connection()
    where = f"{connection.environment} at {connection.base_url}"
    try:
        from gameball_batch.client.errors import AuthError, GameballError, NotFound, TransportError
    except ImportError:
        return False, "The API client is not part of this build, so nothing can be tested."
    try:
        # One attempt, short timeout: an operator is waiting for the answer.
        client = new_client(connection, get_settings(), max_retries=0, timeout=PROBE_TIMEOUT)
    except (GameballError, ValueError) as exc:
        return False, f"The API client could not be set up for {where}: {exc}"
    try:
        client.get_status(PROBE_JOB_ID)
    except NotFound:
        return True, f"Connected to {where}: the API keys were accepted."
    except AuthError:
        return False, (f"{where} refused the API keys. Check GAMEBALL_API_KEY and "
                       "GAMEBALL_SECRET_KEY (or secrets.toml) and restart the console.")
    except TransportError as exc:
        return False, f"Could not reach {where} ({exc}). Check the base URL and the network."
    except GameballError as exc:
        return False, f"{where} answered with an error: {exc}"
    finally:
        client.close()
    return True, f"Connected to {where}."


def shutdown() -> None:
    """Stop the runner and the sandbox and forget every resource (tests, restarts)."""
    _runner_for.clear()
    _notifier_for.clear()
    _sandbox_for.clear()
    _ledger_for.clear()
    _settings_for.clear()
    _overrides().clear()
