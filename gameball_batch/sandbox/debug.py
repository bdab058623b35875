"""The sandbox-only debug endpoints under ``/_sandbox/`` (no such thing exists at Gameball).

Health (which names our sandbox and its state file), reset, seed, listings of customers,
balances, transactions, events and jobs, per-key counts, faults, processing speed, stepping
and holds. No keys are needed: the sandbox binds 127.0.0.1. Nothing here holds rules (they
are in core.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gameball_batch.sandbox.core import TYPES
from gameball_batch.sandbox.errors import ItemFailure
from gameball_batch.sandbox.faults import Faults
from gameball_batch.sandbox.model import DEMO_POINTS, iso
from gameball_batch.sandbox.serving import (
    SERVICE,
    error_response,
    int_param,
    json_body,
    json_response,
    sandbox_state,
)


async def debug_health(request: Request) -> Response:
    """Says this is our sandbox and which state file it keeps, so a console or CLI attaches
    to it only when it is the one they would have started (shared.py)."""
    state = sandbox_state(request)
    return json_response({"ok": True, "service": SERVICE,
                          "stateFile": str(state.state_file) if state.state_file else None,
                          "replies": state.core.config.replies, "routes": state.routes,
                          "notice": state.notice})


async def debug_reset(request: Request) -> Response:
    """Forget all data, restore start faults and speed; optionally seed N customers."""
    body = await json_body(request)
    state = sandbox_state(request)
    state.restore()
    if "seedCustomers" in body:
        with state.lock:
            state.core.reset()
            state.core.seed(int_param(body, "seedCustomers", 0))
    return json_response({"ok": True, "customers": len(state.core.customers)})


async def debug_seed(request: Request) -> Response:
    body = await json_body(request)
    state = sandbox_state(request)
    try:
        with state.lock:
            ids = state.core.seed(int_param(body, "count", 5),
                                  points=int_param(body, "points", DEMO_POINTS))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return json_response({"customerIds": ids})


async def debug_customers(request: Request) -> Response:
    state = sandbox_state(request)
    factor = state.core.config.redemption_factor
    with state.lock:
        wanted = request.path_params.get("customer_id")
        if wanted is not None:
            customer = state.core.customers.get(wanted)
            if customer is None:
                return error_response(7000, f"Customer Not Found: {wanted}")
            return json_response(customer.view(factor))
        return json_response([c.view(factor) for c in state.core.customers.values()])


async def debug_balances(request: Request) -> Response:
    state = sandbox_state(request)
    with state.lock:
        return json_response({cid: c.points for cid, c in state.core.customers.items()})


async def debug_transactions(request: Request) -> Response:
    state = sandbox_state(request)
    kind = request.query_params.get("type")
    customer_id = request.query_params.get("customerId")
    with state.lock:
        rows = [
            tx.view() for tx in state.core.all_transactions()
            if (kind is None or tx.kind == kind)
            and (customer_id is None or tx.customer_id == customer_id)
        ]
    return json_response(rows)


async def debug_events(request: Request) -> Response:
    state = sandbox_state(request)
    with state.lock:
        return json_response(list(state.core.events))


async def debug_jobs(request: Request) -> Response:
    state = sandbox_state(request)
    with state.lock:
        return json_response([job.summary() for job in state.core.jobs.values()])


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
    least = int_param(request.query_params, "min", 1)
    state = sandbox_state(request)
    with state.lock:
        if by == "customer":
            kind = _RECORD_KIND[slug]
            counts: Mapping[str, int] = Counter(
                tx.customer_id for tx in state.core.all_transactions() if tx.kind == kind)
        else:
            counts = state.core.counts(slug, submitted=submitted)
        body = {key: n for key, n in counts.items() if n >= least}
    return json_response(body)


async def debug_faults(request: Request) -> Response:
    """GET shows, POST changes some (JSON object of name → value), DELETE clears all."""
    state = sandbox_state(request)
    if request.method == "POST":
        changes = await json_body(request)
        try:
            state.faults = state.faults.updated(changes)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    elif request.method == "DELETE":
        state.faults = Faults()
    return json_response(state.faults.as_dict())


async def debug_processing(request: Request) -> Response:
    """GET/POST ``{"instant": bool, "itemRate": n}``; itemRate 0 pauses processing."""
    state = sandbox_state(request)
    if request.method == "POST":
        body = await json_body(request)
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
    return json_response({"instant": state.instant, "itemRate": state.item_rate,
                          "pendingItems": pending})


async def debug_step(request: Request) -> Response:
    """Apply the next N queued items now (deterministic progress for paused tests)."""
    body = await json_body(request)
    state = sandbox_state(request)
    with state.lock:
        applied = state.core.process(int_param(body, "items", 1))
    return json_response({"applied": applied})


async def debug_holds(request: Request) -> Response:
    """Create a points hold (the Hold API of reference §3.6) to redeem by holdReference."""
    body = await json_body(request)
    state = sandbox_state(request)
    try:
        with state.lock:
            hold = state.core.create_hold(str(body.get("customerId", "")),
                                          int_param(body, "points", 0))
    except ItemFailure as failure:
        return error_response(failure.code, failure.message)
    return json_response({"customerId": hold.customer_id, "holdReference": hold.reference,
                          "holdEquivalentPoints": hold.points,
                          "expiresAt": iso(hold.expires_at)})


def debug_routes() -> list[Route]:
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
