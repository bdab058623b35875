"""The sandbox's HTTP face: a Starlette app speaking Gameball's documented batch API.

Serves every documented path variant (reference §10.1), checks keys and request shape,
applies rate limits and injected faults, and hands items to :mod:`.core`. A background task
(started by the app's lifespan) works through queued jobs at ``item_rate`` items per second;
in instant mode a job is applied before its creation request is answered, so tests never wait.

Debug endpoints live under ``/_sandbox/`` (:mod:`.debug`); the state every handler shares
and the JSON responses are in :mod:`.serving`.

Options choose the reply style (``replies``: documented or rich, see replies.py) and which
status/stop path pair is served (``routes``). With a ``state_file`` the same background task
snapshots the state to it when it changed, at most about once a second, and at shutdown
(persist.py), so a restart keeps customers, balances and jobs.

This module must not hold business rules (they are in core.py) and must not start a server
(server.py does); it never logs request bodies or keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from gameball_batch.batch_types import MAX_ITEMS_PER_REQUEST
from gameball_batch.sandbox import persist
from gameball_batch.sandbox.core import TYPES, SandboxCore
from gameball_batch.sandbox.debug import debug_routes
from gameball_batch.sandbox.errors import JobNotFound
from gameball_batch.sandbox.faults import Faults
from gameball_batch.sandbox.model import (
    DEMO_API_KEY,
    DEMO_SECRET_KEY,
    REPLY_STYLES,
    Clock,
    CoreConfig,
    utc_now,
)
from gameball_batch.sandbox.ratelimit import Monotonic, RateLimiter
from gameball_batch.sandbox.serving import (
    DEFAULT_ITEM_RATE,
    DropHook,
    SandboxState,
    error_response,
    json_response,
    sandbox_state,
)

API_VERSIONS = ("v4.0", "v4", "v4.1")  # reference §1.1, §9 C1
ROUTE_PAIRS = ("both", "gitbook", "openapi")  # reference §9 C2/C3
SNAPSHOT_EVERY = 1.0  # seconds between snapshots of a changing state, at least
_SLUG_BY_ENDPOINT = {bt.endpoint.removeprefix("/batch/"): slug for slug, bt in TYPES.items()}

class ConnectionDropped(Exception):
    """Raised when no server hook can close the socket: the caller must see no answer."""


async def _raise_dropped(scope: Scope) -> None:
    raise ConnectionDropped("sandbox fault: connection dropped after applying")


def create_app(
    *,
    api_key: str = DEMO_API_KEY,
    secret_key: str = DEMO_SECRET_KEY,
    instant: bool = False,
    item_rate: float = DEFAULT_ITEM_RATE,
    rate_limit: bool = True,
    rate_per_second: int = 30,
    rate_per_30s: int = 360,
    rate_shared: bool = False,
    seed_customers: int = 0,
    faults: Faults | Mapping[str, Any] | None = None,
    config: CoreConfig | None = None,
    replies: str | None = None,
    routes: str = "both",
    state_file: Path | str | None = None,
    clock: Clock = utc_now,
    monotonic: Monotonic = time.monotonic,
    drop_connection: DropHook | None = None,
) -> Starlette:
    """The sandbox app. ``item_rate`` 0 pauses processing (jobs stay queued until stepped).

    ``replies`` ("documented" or "rich") overrides ``config.replies``; ``routes`` serves
    both status/stop path pairs, only the GitBook one or only the OpenAPI one; a
    ``state_file`` is restored at start and kept up to date (see the module docstring).
    """
    if item_rate < 0:
        raise ValueError("item_rate is items per second and cannot be negative")
    if routes not in ROUTE_PAIRS:
        raise ValueError(f"routes must be one of {', '.join(ROUTE_PAIRS)}, got '{routes}'")
    if replies is not None:
        if replies not in REPLY_STYLES:
            raise ValueError(f"replies must be one of {', '.join(REPLY_STYLES)}, "
                             f"got '{replies}'")
        config = replace(config or CoreConfig(), replies=replies)  # type: ignore[arg-type]
    start_faults = faults if isinstance(faults, Faults) else Faults().updated(faults or {})
    state = SandboxState(
        core=SandboxCore(clock=clock, config=config),
        api_key=api_key,
        secret_key=secret_key,
        faults=start_faults,
        initial_faults=Faults(**start_faults.as_dict()),
        limiter=RateLimiter(per_second=rate_per_second, per_30s=rate_per_30s,
                            shared=rate_shared, monotonic=monotonic) if rate_limit else None,
        instant=instant,
        item_rate=item_rate,
        seed_customers=seed_customers,
        drop=drop_connection or _raise_dropped,
        initial=(instant, item_rate),
        routes=routes,
        state_file=Path(state_file).resolve() if state_file is not None else None,
    )
    state.restore()
    if state.state_file is not None:
        existed = state.state_file.exists()
        state.notice = persist.load_into(state.core, state.state_file)
        if state.notice is not None:
            state.restore()  # a fresh start gets its demo customers back
        elif existed:
            state.saved_revision = state.core.revision  # the file holds this very state

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = asyncio.create_task(_work(state))
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            if state.state_file is not None and state.core.revision != state.saved_revision:
                state.save()

    app = Starlette(
        routes=_api_routes(routes) + debug_routes(),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


# --- responses -----------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(4004, f"No such endpoint: {request.method} {request.url.path}")
    if status == 405:
        return error_response(4000, f"{request.method} is not allowed on {request.url.path}",
                              status=405)
    return error_response(4000, str(getattr(exc, "detail", "")) or None, status=status)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(5000)


# --- the guard every API request passes ----------------------------------------------------


async def _guard(request: Request) -> Response | None:
    """Latency, 429 bursts, keys and rate limits; a response means: answer with it now."""
    state = sandbox_state(request)
    if request.path_params.get("version") not in API_VERSIONS:
        return error_response(4004, f"Unknown API version in {request.url.path}")
    if state.faults.latency:
        await asyncio.sleep(state.faults.latency)
    if state.faults.take("rate_limit"):
        return _too_many(1.0, "Too many requests (sandbox fault: 429 burst)")
    refused = _check_keys(request, state)
    if refused is not None:
        return refused
    if state.limiter is not None:
        with state.lock:
            wait = state.limiter.admit(state.api_key, request.method)
            if wait > 0:
                state.too_many += 1
        if wait > 0:
            return _too_many(wait, "Too many requests: 30 per second and 360 per 30 seconds")
    return None


def _too_many(wait: float, message: str) -> Response:
    # 429 has no Gameball code (reference §6, §10.17): 4000 "Failed" is our choice.
    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    return error_response(4000, message, status=429, headers=headers)


def _check_keys(request: Request, state: SandboxState) -> Response | None:
    """401 1000 for a missing or wrong key, 1001 for a missing secret (reference §5)."""
    api_key = request.headers.get("apikey")
    secret = request.headers.get("secretkey") or request.headers.get("transactionkey")
    if not api_key or not _same(api_key, state.api_key):
        return error_response(1000, "Unauthorized: missing or unknown APIKey header")
    if not secret:
        return error_response(1001, "Secret Key Required: send the SecretKey header")
    if not _same(secret, state.secret_key):
        return error_response(1000, "Unauthorized: the SecretKey does not match the APIKey")
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


# --- API handlers --------------------------------------------------------------------------


async def create_batch(request: Request) -> Response:
    refused = await _guard(request)
    if refused is not None:
        return refused
    slug = _SLUG_BY_ENDPOINT.get(request.path_params["endpoint"])
    if slug is None:
        return error_response(4004, f"No batch endpoint {request.url.path}")
    items = _parse_body(await request.body())
    if isinstance(items, Response):
        return items
    state = sandbox_state(request)
    if state.faults.take("error_before"):
        return error_response(5000, "Internal Server Error (sandbox fault: before applying)")
    with state.lock:
        job = state.core.create_job(slug, items)
        if state.instant:
            state.core.run(job)
    if state.faults.take("error_after"):
        return error_response(5000, "Internal Server Error (sandbox fault: after applying)")
    if state.faults.take("drop_after"):
        await state.drop(request.scope)
        return Response(status_code=500)  # only reached if the hook could not drop
    return json_response({"jobId": job.job_id})


def _parse_body(raw: bytes) -> list[Any] | Response:
    """Whole-request checks of reference §10.9: 3016 shape, 3000 empty, 3011 over 1000."""
    try:
        document = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return error_response(3016, "Invalid Payload: the body is not valid JSON")
    if not isinstance(document, dict) or "body" not in document:
        return error_response(3016, 'Invalid Payload: expected a JSON object {"body": [...]}')
    items = document["body"]
    if not isinstance(items, list):
        return error_response(3016, "Invalid Payload: body must be an array")
    if not items:
        return error_response(3000, "Missing Arguments: body is an empty array")
    if len(items) > MAX_ITEMS_PER_REQUEST:
        return error_response(3011, f"Limit Exceed: at most {MAX_ITEMS_PER_REQUEST} items "
                                    f"per batch, got {len(items)}")
    return items


async def get_status(request: Request) -> Response:
    """Shape 1 at ``/batch/{jobId}`` (GitBook, tutorial); shape 2 at ``/batches/{id}/status``."""
    refused = await _guard(request)
    if refused is not None:
        return refused
    state = sandbox_state(request)
    if state.faults.take("status_errors"):
        return error_response(5000, "Internal Server Error (sandbox fault: status)")
    shape_two = request.url.path.endswith("/status")
    with state.lock:
        try:
            job = state.core.job(request.path_params["job_id"])
        except JobNotFound as exc:
            return error_response(4004, str(exc))
        if shape_two:
            body = state.core.status_v2(job)
        else:
            body = state.core.status(job, spelling=state.faults.status_spelling,
                                     message_key=state.faults.message_key)
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, media_type="application/json")


async def stop_job(request: Request) -> Response:
    """DELETE ``/batch/{jobId}`` (GitBook) or POST ``/batches/{id}/stop`` (OpenAPI)."""
    refused = await _guard(request)
    if refused is not None:
        return refused
    state = sandbox_state(request)
    with state.lock:
        try:
            job = state.core.job(request.path_params["job_id"])
        except JobNotFound as exc:
            return error_response(4004, str(exc))
        was_done = job.done
        state.core.stop(job.job_id)
    message = "Job stopped successfully"
    if was_done:
        message = f"Job already {job.state}; nothing to stop"
    if request.method == "DELETE":
        return json_response({"message": message})
    return json_response({"batchId": str(job.job_id), "status": job.state, "message": message})


async def unknown_route(request: Request) -> Response:
    """The path pair that is switched off answers like a path that never existed."""
    return error_response(4004, f"No such endpoint: {request.method} {request.url.path}")


def _api_routes(routes: str = "both") -> list[Route]:
    base = "/api/{version}/integrations"
    gitbook = routes in ("both", "gitbook")
    openapi = routes in ("both", "openapi")
    # Without the GitBook pair, GET/DELETE /batch/{id} would meet the creation route and
    # answer 405; an explicit 404 keeps "unknown route" the same whichever pair is off.
    pair = (get_status, stop_job) if gitbook else (unknown_route, unknown_route)
    listed = [
        Route(base + "/batch/{job_id}", pair[0], methods=["GET"]),
        Route(base + "/batch/{job_id}", pair[1], methods=["DELETE"]),
        Route(base + "/batch/{endpoint:path}", create_batch, methods=["POST"]),
    ]
    if openapi:
        listed += [
            Route(base + "/batches/{job_id}/status", get_status, methods=["GET"]),
            Route(base + "/batches/{job_id}/stop", stop_job, methods=["POST"]),
        ]
    return listed


# --- background processing -----------------------------------------------------------------


async def _work(state: SandboxState) -> None:
    """Apply queued items at ``item_rate`` per second (all at once in instant mode), and
    start a snapshot of the state when one is due."""
    last = time.monotonic()
    credit = 0.0
    saving: asyncio.Task[float] | None = None
    try:
        while True:
            await asyncio.sleep(state.tick)
            now = time.monotonic()
            credit = min(credit + (now - last) * state.item_rate, max(state.item_rate, 1.0))
            last = now
            with state.lock:
                if state.instant:
                    state.core.process(state.core.pending_items())
                    credit = 0.0
                elif credit >= 1.0:
                    applied = state.core.process(int(credit))
                    credit = credit - applied if applied == int(credit) else 0.0
            if saving is not None and saving.done():
                _saved(state, saving)
                saving = None
            if saving is None and state.snapshot_due(now):
                # Encoding and writing run in a thread, outside the lock, while items go on
                # being applied here; only copying the records holds the lock.
                saving = asyncio.create_task(asyncio.to_thread(state.save))
    finally:
        if saving is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(saving)


def _saved(state: SandboxState, saving: asyncio.Task[float]) -> None:
    """Schedule the next snapshot; its gap grows with the cost of this one, so a huge
    state never spends more than about a tenth of the time on snapshots."""
    try:
        took = saving.result()
    except OSError as exc:  # disk full, folder gone: keep serving, say so, try again later
        state.notice = f"The sandbox could not save its state: {exc.strerror or exc}"
        took = SNAPSHOT_EVERY
    state.next_snapshot = time.monotonic() + max(SNAPSHOT_EVERY, 10 * took)
