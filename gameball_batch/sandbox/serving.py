"""What every sandbox HTTP handler shares: the serving state and the JSON responses.

``SandboxState`` holds the core, the keys, faults, limits, processing speed and the state
file (with the lock that serialises every touch of the core); ``json_response`` and
``error_response`` write bodies as Gameball does (the v4 envelope of reference §7.1 for
errors). Used by :mod:`.app` (the API) and :mod:`.debug` (the ``/_sandbox/`` endpoints).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gameball_batch.sandbox import persist
from gameball_batch.sandbox.core import SandboxCore
from gameball_batch.sandbox.errors import error_envelope, http_status
from gameball_batch.sandbox.faults import Faults
from gameball_batch.sandbox.ratelimit import RateLimiter

DEFAULT_ITEM_RATE = 200.0
SERVICE = "gameball-batch-sandbox"  # how /_sandbox/health says "this is our sandbox"

DropHook = Callable[[Scope], Awaitable[None]]


@dataclass(kw_only=True)
class SandboxState:
    """Everything the handlers share; ``lock`` serialises every touch of ``core``."""

    core: SandboxCore
    api_key: str
    secret_key: str
    faults: Faults
    initial_faults: Faults
    limiter: RateLimiter | None
    instant: bool
    item_rate: float
    seed_customers: int
    drop: DropHook
    tick: float = 0.05
    lock: threading.Lock = field(default_factory=threading.Lock)
    initial: tuple[bool, float] = (False, DEFAULT_ITEM_RATE)
    routes: str = "both"
    state_file: Path | None = None
    notice: str | None = None  # e.g. a state file that could not be restored
    saved_revision: int = -1
    next_snapshot: float = 0.0  # monotonic time before which no snapshot is taken
    # Requests its rate limit refused with a 429 (bursts injected as faults not counted):
    # how a test sees that clients together stayed under Gameball's limits.
    too_many: int = 0

    def snapshot_due(self, now: float) -> bool:
        return (self.state_file is not None and now >= self.next_snapshot
                and self.core.revision != self.saved_revision)

    def save(self) -> float:
        """Snapshot and write the state now; returns the seconds it took."""
        if self.state_file is None:
            return 0.0
        began = time.monotonic()
        with self.lock:
            data, revision = persist.snapshot(self.core), self.core.revision
        persist.save(self.state_file, data)
        self.saved_revision = revision
        return time.monotonic() - began

    def restore(self) -> None:
        """Back to the state at start: no data but the seed, start faults, no rate history."""
        with self.lock:
            self.core.reset()
            if self.seed_customers:
                self.core.seed(self.seed_customers)
            self.faults = Faults(**self.initial_faults.as_dict())
            self.instant, self.item_rate = self.initial
            if self.limiter is not None:
                self.limiter.reset()
            self.too_many = 0


def json_response(body: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def error_response(code: int, message: str | None = None, *, status: int | None = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    return json_response(error_envelope(code, message), status or http_status(code), headers)


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return document


def int_param(source: Mapping[str, Any], name: str, default: int) -> int:
    value = source.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{name} must be a whole number, got '{value}'") from None
