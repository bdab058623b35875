"""One local sandbox that the console and the CLI share, on a fixed port, with a memory.

:func:`local_sandbox` is the one call both make when no credentials are configured.
Whichever starts first serves the sandbox on ``127.0.0.1:<port>`` (default 8999, settable
with ``GAMEBALL_SANDBOX_PORT``) and keeps its state in ``sandbox-state.json`` in the ledger's
folder; the other *attaches* to it. It attaches only after ``/_sandbox/health`` says this is
our sandbox keeping that same state file: a different program on the port, or a sandbox of
another ledger folder, is reported as such, never silently used.

The owner's sandbox ends when the owner closes it (the CLI command ends, the console
stops); its state stays in the file, and the next start picks it up. An attached handle
then goes stale: :meth:`LocalSandbox.alive` says so, and calling :func:`local_sandbox`
again starts the sandbox in this process, on the same port, from the same state. Demo keys
are the fixed public sandbox strings, not secrets.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameball_batch.sandbox.model import DEMO_API_KEY, DEMO_SECRET_KEY
from gameball_batch.sandbox.persist import STATE_FILE_NAME
from gameball_batch.sandbox.server import SandboxServer, SandboxServerError
from gameball_batch.sandbox.serving import SERVICE

DEFAULT_PORT = 8999
HOST = "127.0.0.1"
PROBE_TIMEOUT = 3.0


class LocalSandboxError(RuntimeError):
    """The shared sandbox can neither be started nor attached to; ``str(e)`` says why."""


@dataclass
class LocalSandbox:
    """A handle on the shared sandbox; ``owned`` when this process serves it."""

    base_url: str
    state_file: Path
    server: SandboxServer | None = None
    api_key: str = DEMO_API_KEY
    secret_key: str = DEMO_SECRET_KEY

    @property
    def owned(self) -> bool:
        return self.server is not None

    @property
    def url(self) -> str:  # the name SandboxServer uses, so callers can take either
        return self.base_url

    def alive(self) -> bool:
        """Whether the sandbox still answers as ours; an attached handle goes stale when
        the process that served it ends (then call :func:`local_sandbox` again)."""
        if self.server is not None:
            return True
        port = int(self.base_url.rsplit(":", 1)[-1])
        try:
            health = _health(port)
        except _NotOurs:
            return False
        return health is not None and health.get("stateFile") == str(self.state_file)

    def close(self) -> None:
        """Stop serving if this process owns the sandbox (its state is saved); else nothing."""
        if self.server is not None:
            self.server.stop()
            self.server = None


class _NotOurs(Exception):
    """Something answered on the port, but not as our sandbox."""


def _health(port: int) -> dict[str, Any] | None:
    """Our sandbox's health answer, ``None`` when nothing listens; _NotOurs otherwise."""
    url = f"http://{HOST}:{port}/_sandbox/health"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError:
        raise _NotOurs from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            return None
        raise _NotOurs from None
    except ConnectionRefusedError:
        return None
    except (OSError, ValueError):
        raise _NotOurs from None
    if not isinstance(body, dict) or body.get("service") != SERVICE:
        raise _NotOurs
    return body


def local_sandbox(state_dir: Path, port: int = DEFAULT_PORT, **options: Any) -> LocalSandbox:
    """Attach to the shared sandbox on ``port``, or start it if nothing serves there.

    ``state_dir`` is the ledger's folder; the state lives in ``sandbox-state.json`` there.
    ``options`` (``item_rate``, ``seed_customers``, …) go to :class:`SandboxServer` and only
    matter when this call starts the sandbox. Raises :class:`LocalSandboxError` with an
    operator message when the port is taken by something else.
    """
    state_file = (Path(state_dir) / STATE_FILE_NAME).resolve()
    base_url = f"http://{HOST}:{port}"
    for _ in range(3):  # a start can lose a race with another process starting it
        try:
            health = _health(port)
        except _NotOurs:
            raise LocalSandboxError(
                f"Port {port} on {HOST} is taken by another program (it does not answer as "
                "the gameball-batch sandbox). Stop that program, or set "
                "GAMEBALL_SANDBOX_PORT to a free port."
            ) from None
        if health is not None:
            theirs = health.get("stateFile")
            if theirs != str(state_file):
                raise LocalSandboxError(
                    f"Port {port} serves a gameball-batch sandbox that keeps its state in "
                    f"{theirs}, not in {state_file} (another ledger folder). Stop it, or "
                    "set GAMEBALL_SANDBOX_PORT to another port for this ledger."
                )
            return LocalSandbox(base_url=base_url, state_file=state_file)
        server = SandboxServer(host=HOST, port=port, state_file=state_file, **options)
        try:
            server.start()
        except SandboxServerError:
            continue  # taken between the probe and the bind: look again at who has it
        return LocalSandbox(base_url=server.url, state_file=state_file, server=server)
    raise LocalSandboxError(
        f"The sandbox could not start on {HOST}:{port}, and nothing there answers as one. "
        "Set GAMEBALL_SANDBOX_PORT to a free port."
    )
