"""The sandbox's HTTP face: a Starlette app speaking Gameball's documented batch API.

Serves every documented path variant (reference §10.1), checks keys and request shape,
applies rate limits and injected faults, and hands items to :mod:`.core`. A background task
(started by the app's lifespan) works through queued jobs at ``item_rate`` items per second;
in instant mode a job is applied before its creation request is answered, so tests never wait.

Debug endpoints live under ``/_sandbox/`` and are sandbox-only (no such thing exists at
Gameball): reset, seed, listings, per-key counts, faults, holds and processing speed.

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
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
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
from gameball_batch.sandbox.errors import ItemFailure, JobNotFound, error_envelope, http_status
from gameball_batch.sandbox.faults import Faults
from gameball_batch.sandbox.model import (
    DEMO_API_KEY,
    DEMO_POINTS,
    DEMO_SECRET_KEY,
    REPLY_STYLES,
    Clock,
    CoreConfig,
    iso,
    utc_now,
)
from gameball_batch.sandbox.ratelimit import Monotonic, RateLimiter

API_VERSIONS = ("v4.0", "v4", "v4.1")  # reference §1.1, §9 C1
DEFAULT_ITEM_RATE = 200.0
ROUTE_PAIRS = ("both", "gitbook", "openapi")  # reference §9 C2/C3
SERVICE = "gameball-batch-sandbox"  # how /_sandbox/health says "this is our sandbox"
SNAPSHOT_EVERY = 1.0  # seconds between snapshots of a changing state, at least
_SLUG_BY_ENDPOINT = {bt.endpoint.removeprefix("/batch/"): slug for slug, bt in TYPES.items()}

DropHook = Callable[[Scope], Awaitable[None]]


class ConnectionDropped(Exception):
    """Raised when no server hook can close the socket: the caller must see no answer."""


async def _raise_dropped(scope: Scope) -> None:
    raise ConnectionDropped("sandbox fault: connection dropped after applying")


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
        routes=_api_routes(routes) + _debug_routes(),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


# --- responses -----------------------------------------------------------------------------


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(data, status_code=status, media_type="application/json", headers=headers)


def _error(code: int, message: str | None = None, *, status: int | None = None,
           headers: Mapping[str, str] | None = None) -> Response:
    return _json(error_envelope(code, message), status or http_status(code), headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return _error(4004, f"No such endpoint: {request.method} {request.url.path}")
    if status == 405:
        return _error(4000, f"{request.method} is not allowed on {request.url.path}", status=405)
    return _error(4000, str(getattr(exc, "detail", "")) or None, status=status)


async def _server_error(request: Request, exc: Exception) -> Response:
    return _error(5000)


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


# --- the guard every API request passes ----------------------------------------------------


async def _guard(request: Request) -> Response | None:
    """Latency, 429 bursts, keys and rate limits; a response means: answer with it now."""
    state = _state(request)
    if request.path_params.get("version") not in API_VERSIONS:
        return _error(4004, f"Unknown API version in {request.url.path}")
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
            return _too_many(wait, "Too many requests: 30 per second and 360 per 30 seconds")
    return None


def _too_many(wait: float, message: str) -> Response:
    # 429 has no Gameball code (reference §6, §10.17): 4000 "Failed" is our choice.
    headers = {"Retry-After": str(max(1, math.ceil(wait)))}
    return _error(4000, message, status=429, headers=headers)


def _check_keys(request: Request, state: SandboxState) -> Response | None:
    """401 1000 for a missing or wrong key, 1001 for a missing secret (reference §5)."""
    api_key = request.headers.get("apikey")
    secret = request.headers.get("secretkey") or request.headers.get("transactionkey")
    if not api_key or not _same(api_key, state.api_key):
        return _error(1000, "Unauthorized: missing or unknown APIKey header")
    if not secret:
        return _error(1001, "Secret Key Required: send the SecretKey header")
    if not _same(secret, state.secret_key):
        return _error(1000, "Unauthorized: the SecretKey does not match the APIKey")
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
        return _error(4004, f"No batch endpoint {request.url.path}")
    items = _parse_body(await request.body())
    if isinstance(items, Response):
        return items
    state = _state(request)
    if state.faults.take("error_before"):
        return _error(5000, "Internal Server Error (sandbox fault: before applying)")
    with state.lock:
        job = state.core.create_job(slug, items)
        if state.instant:
            state.core.run(job)
    if state.faults.take("error_after"):
        return _error(5000, "Internal Server Error (sandbox fault: after applying)")
    if state.faults.take("drop_after"):
        await state.drop(request.scope)
        return Response(status_code=500)  # only reached if the hook could not drop
    return _json({"jobId": job.job_id})


def _parse_body(raw: bytes) -> list[Any] | Response:
    """Whole-request checks of reference §10.9: 3016 shape, 3000 empty, 3011 over 1000."""
    try:
        document = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return _error(3016, "Invalid Payload: the body is not valid JSON")
    if not isinstance(document, dict) or "body" not in document:
        return _error(3016, 'Invalid Payload: expected a JSON object {"body": [...]}')
    items = document["body"]
    if not isinstance(items, list):
        return _error(3016, "Invalid Payload: body must be an array")
    if not items:
        return _error(3000, "Missing Arguments: body is an empty array")
    if len(items) > MAX_ITEMS_PER_REQUEST:
        return _error(3011, f"Limit Exceed: at most {MAX_ITEMS_PER_REQUEST} items per batch, "
                            f"got {len(items)}")
    return items


async def get_status(request: Request) -> Response:
    """Shape 1 at ``/batch/{jobId}`` (GitBook, tutorial); shape 2 at ``/batches/{id}/status``."""
    refused = await _guard(request)
    if refused is not None:
        return refused
    state = _state(request)
    if state.faults.take("status_errors"):
        return _error(5000, "Internal Server Error (sandbox fault: status)")
    shape_two = request.url.path.endswith("/status")
    with state.lock:
        try:
            job = state.core.job(request.path_params["job_id"])
        except JobNotFound as exc:
            return _error(4004, str(exc))
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
    state = _state(request)
    with state.lock:
        try:
            job = state.core.job(request.path_params["job_id"])
        except JobNotFound as exc:
            return _error(4004, str(exc))
        was_done = job.done
        state.core.stop(job.job_id)
    message = "Job stopped successfully"
    if was_done:
        message = f"Job already {job.state}; nothing to stop"
    if request.method == "DELETE":
        return _json({"message": message})
    return _json({"batchId": str(job.job_id), "status": job.state, "message": message})


async def unknown_route(request: Request) -> Response:
    """The path pair that is switched off answers like a path that never existed."""
    return _error(4004, f"No such endpoint: {request.method} {request.url.path}")


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


# --- debug endpoints (sandbox-only) --------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
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


def _int_param(source: Mapping[str, Any], name: str, default: int) -> int:
    value = source.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HTTPException(400, f"{name} must be a whole number, got '{value}'") from None


async def debug_health(request: Request) -> Response:
    """Says this is our sandbox and which state file it keeps, so a console or CLI attaches
    to it only when it is the one they would have started (shared.py)."""
    state = _state(request)
    return _json({"ok": True, "service": SERVICE,
                  "stateFile": str(state.state_file) if state.state_file else None,
                  "replies": state.core.config.replies, "routes": state.routes,
                  "notice": state.notice})


async def debug_reset(request: Request) -> Response:
    """Forget all data, restore start faults and speed; optionally seed N customers."""
    body = await _json_body(request)
    state = _state(request)
    state.restore()
    if "seedCustomers" in body:
        with state.lock:
            state.core.reset()
            state.core.seed(_int_param(body, "seedCustomers", 0))
    return _json({"ok": True, "customers": len(state.core.customers)})


async def debug_seed(request: Request) -> Response:
    body = await _json_body(request)
    state = _state(request)
    try:
        with state.lock:
            ids = state.core.seed(_int_param(body, "count", 5),
                                  points=_int_param(body, "points", DEMO_POINTS))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _json({"customerIds": ids})


async def debug_customers(request: Request) -> Response:
    state = _state(request)
    factor = state.core.config.redemption_factor
    with state.lock:
        wanted = request.path_params.get("customer_id")
        if wanted is not None:
            customer = state.core.customers.get(wanted)
            if customer is None:
                return _error(7000, f"Customer Not Found: {wanted}")
            return _json(customer.view(factor))
        return _json([c.view(factor) for c in state.core.customers.values()])


async def debug_balances(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        return _json({cid: c.points for cid, c in state.core.customers.items()})


async def debug_transactions(request: Request) -> Response:
    state = _state(request)
    kind = request.query_params.get("type")
    customer_id = request.query_params.get("customerId")
    with state.lock:
        rows = [
            tx.view() for tx in state.core.all_transactions()
            if (kind is None or tx.kind == kind)
            and (customer_id is None or tx.customer_id == customer_id)
        ]
    return _json(rows)


async def debug_events(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        return _json(list(state.core.events))


async def debug_jobs(request: Request) -> Response:
    state = _state(request)
    with state.lock:
        return _json([job.summary() for job in state.core.jobs.values()])


_RECORD_KIND = {"adjustments": "manual", "cashback": "cashback", "redemptions": "redeem",
                "orders": "order"}


async def debug_counts(request: Request) -> Response:
    """``?type=slug`` → {key: times applied}; ``&submitted=1`` counts submissions instead;
    ``&min=N`` keeps keys seen at least N times (``min=2`` proves nothing was applied twice).
    ``&by=customer`` counts the stored transactions per customer instead (adjustments,
    cashback, redemptions, orders): two for a customer sent one adjustment is "applied
    twice", whatever the result items said."""
    slug = request.query_params.get("type", "")
    if slug not in TYPES:
        raise HTTPException(400, f"type must be one of {', '.join(TYPES)}")
    by = request.query_params.get("by", "key")
    if by not in ("key", "customer") or (by == "customer" and slug not in _RECORD_KIND):
        raise HTTPException(400, "by=customer works for " + ", ".join(_RECORD_KIND))
    submitted = request.query_params.get("submitted", "") in ("1", "true", "yes")
    least = _int_param(request.query_params, "min", 1)
    state = _state(request)
    with state.lock:
        if by == "customer":
            kind = _RECORD_KIND[slug]
            counts: Mapping[str, int] = Counter(
                tx.customer_id for tx in state.core.all_transactions() if tx.kind == kind)
        else:
            counts = state.core.counts(slug, submitted=submitted)
        body = {key: n for key, n in counts.items() if n >= least}
    return _json(body)


async def debug_faults(request: Request) -> Response:
    """GET shows, POST changes some (JSON object of name → value), DELETE clears all."""
    state = _state(request)
    if request.method == "POST":
        changes = await _json_body(request)
        try:
            state.faults = state.faults.updated(changes)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    elif request.method == "DELETE":
        state.faults = Faults()
    return _json(state.faults.as_dict())


async def debug_processing(request: Request) -> Response:
    """GET/POST ``{"instant": bool, "itemRate": n}``; itemRate 0 pauses processing."""
    state = _state(request)
    if request.method == "POST":
        body = await _json_body(request)
        if "instant" in body:
            state.instant = bool(body["instant"])
        if "itemRate" in body:
            try:
                rate = float(body["itemRate"])
            except (TypeError, ValueError):
                raise HTTPException(400, "itemRate must be a number") from None
            if rate < 0:
                raise HTTPException(400, "itemRate cannot be negative")
            state.item_rate = rate
    with state.lock:
        pending = state.core.pending_items()
    return _json({"instant": state.instant, "itemRate": state.item_rate,
                  "pendingItems": pending})


async def debug_step(request: Request) -> Response:
    """Apply the next N queued items now (deterministic progress for paused tests)."""
    body = await _json_body(request)
    state = _state(request)
    with state.lock:
        applied = state.core.process(_int_param(body, "items", 1))
    return _json({"applied": applied})


async def debug_holds(request: Request) -> Response:
    """Create a points hold (the Hold API of reference §3.6) to redeem by holdReference."""
    body = await _json_body(request)
    state = _state(request)
    try:
        with state.lock:
            hold = state.core.create_hold(str(body.get("customerId", "")),
                                          _int_param(body, "points", 0))
    except ItemFailure as failure:
        return _error(failure.code, failure.message)
    return _json({"customerId": hold.customer_id, "holdReference": hold.reference,
                  "holdEquivalentPoints": hold.points, "expiresAt": iso(hold.expires_at)})


def _debug_routes() -> list[Route]:
    base = "/_sandbox"
    return [
        Route(base + "/health", debug_health, methods=["GET"]),
        Route(base + "/reset", debug_reset, methods=["POST"]),
        Route(base + "/seed", debug_seed, methods=["POST"]),
        Route(base + "/customers", debug_customers, methods=["GET"]),
        Route(base + "/customers/{customer_id}", debug_customers, methods=["GET"]),
        Route(base + "/balances", debug_balances, methods=["GET"]),
        Route(base + "/transactions", debug_transactions, methods=["GET"]),
        Route(base + "/events", debug_events, methods=["GET"]),
        Route(base + "/jobs", debug_jobs, methods=["GET"]),
        Route(base + "/counts", debug_counts, methods=["GET"]),
        Route(base + "/faults", debug_faults, methods=["GET", "POST", "DELETE"]),
        Route(base + "/processing", debug_processing, methods=["GET", "POST"]),
        Route(base + "/step", debug_step, methods=["POST"]),
        Route(base + "/holds", debug_holds, methods=["POST"]),
    ]
