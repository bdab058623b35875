"""The sandbox's Gameball: a pure state machine for customers, balances and batch jobs.

It holds customers (with attributes and points balances), transactions keyed by
``transactionId`` (one namespace per kind: cashback, redeem, manual), orders keyed by
``orderId``, events, holds, and batch jobs that move queued → running → completed / failed /
stopped with one outcome per item. The rules follow ``shared/reference/gameball-api.md``
§2–§4 and the emulator choices of §10; ``docs/sandbox.md`` lists every choice.

Hot path: a million cashback items pass through :meth:`SandboxCore.process` in the runner
benchmark, so an item costs a few dict look-ups and one small object; nothing here logs,
scans or copies per item.

This module must not do I/O: no sockets, threads, files or logging. Time comes from the
injected ``clock``; randomness (fault injection) from a seeded ``random.Random``. HTTP lives
in ``app.py``; the thread that serves it in ``server.py``.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from gameball_batch.batch_types import BATCH_TYPES, MAX_ITEMS_PER_REQUEST, BatchType

Clock = Callable[[], datetime]
Monotonic = Callable[[], float]

DEMO_API_KEY = "sandbox-api-key"  # fixed demo strings, not secrets (sandbox only)
DEMO_SECRET_KEY = "sandbox-secret-key"  # noqa: S105 - a public demo string
DEMO_CUSTOMER_BASE = 1000  # demo customers are cus-1001, cus-1002, …
DEMO_POINTS = 1000
FIRST_JOB_ID = 50001
FIRST_GAMEBALL_TX_ID = 900001
HOLD_MINUTES = 10  # reference §3.6: a hold lasts 10 minutes by default

# Spreadsheet-only paths of batch_types.py and the API field they become (its docstring).
_SHEET_ONLY = {"event": "events"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """Timestamps as in the status examples of reference §4.1: ``2026-11-25T10:00:00Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- errors --------------------------------------------------------------------------------

# reference §7.3: code -> (name, HTTP status)
ERROR_CODES: dict[int, tuple[str, int]] = {
    1000: ("Unauthorized", 401),
    1001: ("Secret Key Required", 401),
    3000: ("Missing Arguments", 400),
    3003: ("Invalid Value", 422),
    3011: ("Limit Exceed", 422),
    3016: ("Invalid Payload", 400),
    4000: ("Failed", 400),
    4004: ("Not Found", 404),
    5000: ("Internal Server Error", 500),
    7000: ("Customer Not Found", 404),
    9003: ("Transaction Time Already Exists", 422),
    9004: ("Transaction ID Already Exists", 422),
    9006: ("Transaction Hold Reference Not Found", 404),
    9007: ("Transaction Time Not Valid", 422),
    9008: ("Insufficient Balance Points", 422),
}

# reference §7.2, written the way §7.1's example writes a type ("Payload Error")
_CATEGORIES = {
    1: "Authentication Error",
    2: "Request Error",
    3: "Payload Error",
    4: "General Error",
    5: "Server Error",
    6: "Configurations Error",
    7: "Customer Error",
    8: "Subscription Error",
    9: "Transactions Error",
}
DOCUMENTATION_URL = "https://docs.gameball.co/api-reference/overview/status-error-codes"


_DETAILED = frozenset({3000, 3003, 3016})


class ItemFailure(Exception):
    """One item cannot be applied; it lands in ``response.failed`` and nothing else fails."""

    def __init__(self, code: int, detail: str = "") -> None:
        name = ERROR_CODES[code][0]
        self.code = code
        # Known refusals keep the single API's exact text (reference §10.6), which clients
        # match on; only schema problems add which field is wrong.
        self.message = f"{name}: {detail}" if detail and code in _DETAILED else name
        super().__init__(self.message)


class JobNotFound(LookupError):
    """No job has this id (answered 404 with 4004, reference §10.14)."""


def error_envelope(code: int, message: str | None = None) -> dict[str, Any]:
    """The v4 error body of reference §7.1."""
    name = ERROR_CODES.get(code, ("Error", 400))[0]
    return {
        "code": code,
        "type": _CATEGORIES.get(code // 1000, "General Error"),
        "message": message or name,
        "documentationUrl": DOCUMENTATION_URL,
        "requestId": uuid.uuid4().hex,
    }


def http_status(code: int) -> int:
    return ERROR_CODES.get(code, ("", 400))[1]


# --- configuration and faults --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CoreConfig:
    """The account settings the docs leave to the merchant (reference §8.3, §10)."""

    cashback_points_per_unit: float = 1.0  # points earned per currency unit of cashback/orders
    redemption_factor: float = 0.1  # currency value of one point: 10 at 0.1 = 100 points
    adjustment_points_per_unit: float = 1.0  # adjustment ``amount`` → points (§10.11)
    cashback_creates_customers: bool = False  # §10.13: unverified, so configurable
    check_time_clash: bool = False  # §10.10: 9003 for an exact transactionTime clash
    total_count: Literal["submitted", "processed"] = "submitted"  # §10.4
    stop_keeps_results: bool = True  # §10.16: False = doc-faithful zeros and null
    currency: str = "EGP"
    points_name: str = "Points"


STATUS_SPELLINGS: dict[str, dict[str, str]] = {
    "lower": {},  # reference §10.3 default
    "capitalised": {
        "queued": "Queued",
        "running": "Running",
        "completed": "Completed",
        "failed": "Failed",
        "stopped": "Stopped",
    },
    "openapi": {"queued": "pending", "running": "processing"},
    "v3": {"queued": "pending", "running": "inProgress", "completed": "finished"},
}
MESSAGE_KEYS = ("message", "error", "mixed")  # §9 C7; "mixed" alternates as the tutorial does


@dataclass(kw_only=True)
class Faults:
    """Fault injection for tests and training; every field is settable at runtime.

    Counters (``*_next``) make a fault happen on the next N matching requests, for
    deterministic tests; probabilities draw from a seeded RNG. Creation faults apply to
    creation requests only; ``status_errors_next`` to status requests; ``rate_limit_next``
    and ``latency`` to every API request.
    """

    error_before: float = 0.0  # probability of a 500 before anything is applied
    error_after: float = 0.0  # probability of a 500 after the job was applied (in doubt)
    drop_after: float = 0.0  # probability of closing the socket after applying
    error_before_next: int = 0
    error_after_next: int = 0
    drop_after_next: int = 0
    status_errors_next: int = 0
    rate_limit_next: int = 0  # a 429 burst: the next N API requests are refused
    latency: float = 0.0  # seconds added before every API answer
    status_spelling: str = "lower"
    message_key: str = "message"
    seed: int = 0

    def __post_init__(self) -> None:
        self.check()
        self._rng = random.Random(self.seed)

    def check(self) -> None:
        """Raise ValueError with an operator message for an impossible setting."""
        for name in ("error_before", "error_after", "drop_after"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} is a probability from 0 to 1, got {value}")
        for name in ("error_before_next", "error_after_next", "drop_after_next",
                     "status_errors_next", "rate_limit_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name} counts requests and cannot be negative")
        if self.latency < 0:
            raise ValueError("fault latency is seconds and cannot be negative")
        if self.status_spelling not in STATUS_SPELLINGS:
            choices = ", ".join(STATUS_SPELLINGS)
            raise ValueError(f"fault status_spelling must be one of {choices}")
        if self.message_key not in MESSAGE_KEYS:
            raise ValueError(f"fault message_key must be one of {', '.join(MESSAGE_KEYS)}")

    def take(self, name: str) -> bool:
        """Whether fault ``name`` fires now; a counter is used up before a probability."""
        counter = f"{name}_next"
        if getattr(self, counter, 0) > 0:
            setattr(self, counter, getattr(self, counter) - 1)
            return True
        probability = getattr(self, name, 0.0)
        return bool(probability) and self._rng.random() < probability

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with ``changes`` applied (values parsed from text when needed)."""
        known = {f.name: f for f in fields(self)}
        parsed: dict[str, Any] = {}
        for name, raw in changes.items():
            key = name.replace("-", "_")
            if key not in known:
                raise ValueError(f"unknown fault '{name}'; known: {', '.join(known)}")
            parsed[key] = _parse_fault_value(key, raw, getattr(self, key))
        return replace(self, **parsed)


def _parse_fault_value(name: str, raw: Any, current: Any) -> Any:
    """A fault value from JSON or CLI text, as the type of its current value."""
    if isinstance(current, str):
        return str(raw)
    if isinstance(raw, bool):
        raise ValueError(f"fault {name} needs a number, got '{raw}'")
    try:
        return int(str(raw)) if isinstance(current, int) else float(str(raw))
    except ValueError:
        raise ValueError(f"fault {name} needs a number, got '{raw}'") from None


def parse_fault_options(items: Iterable[str]) -> dict[str, str]:
    """``["error_after=0.5", "latency=0.2"]`` → a dict, for the CLI's ``--fault``."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--fault needs NAME=VALUE, got '{item}'")
        parsed[name.strip()] = value.strip()
    return parsed


# --- rate limiting -------------------------------------------------------------------------


class RateLimiter:
    """Gameball's "Others" limits (reference §6): 30 per second and 360 per 30 s, per key
    and HTTP method (the table gives a resource's GET and POST their own rows), or per key
    alone when ``shared``."""

    def __init__(
        self, *, per_second: int = 30, per_30s: int = 360, shared: bool = False,
        monotonic: Monotonic,
    ) -> None:
        self.per_second = per_second
        self.per_30s = per_30s
        self.shared = shared
        self._monotonic = monotonic
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def admit(self, key: str, method: str = "") -> float:
        """0.0 when the request may pass (and is counted), else seconds until it could."""
        now = self._monotonic()
        hits = self._hits.setdefault((key, "" if self.shared else method.upper()), deque())
        while hits and hits[0] <= now - 30.0:
            hits.popleft()
        if len(hits) >= self.per_30s:
            return hits[-self.per_30s] + 30.0 - now
        recent = len(hits) - _first_after(hits, now - 1.0)
        if recent >= self.per_second:
            return hits[-self.per_second] + 1.0 - now
        hits.append(now)
        return 0.0


def _first_after(hits: deque[float], moment: float) -> int:
    """Index of the first hit after ``moment``; scans from the newest (at most 30 steps)."""
    index = len(hits)
    while index > 0 and hits[index - 1] > moment:
        index -= 1
    return index


# --- state ---------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Customer:
    customer_id: str
    created_at: datetime
    points: int = 0  # total balance, holds included
    held: int = 0  # points reserved by live holds
    earned: int = 0
    email: str | None = None
    mobile: str | None = None
    guest: bool = False
    gameball_id: int = 0
    profile: dict[str, Any] = field(default_factory=dict)  # top-level extras (deviceToken…)
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> int:
        return self.points - self.held

    def view(self, factor: float) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            "gameballId": self.gameball_id,
            "email": self.email,
            "mobile": self.mobile,
            "guest": self.guest,
            "points": self.points,
            "held": self.held,
            "availablePoints": self.available,
            "pointsValue": round(self.points * factor, 2),
            "totalEarnedPoints": self.earned,
            "createdAt": iso(self.created_at),
            "customerAttributes": self.attributes,
            **self.profile,
        }


@dataclass(slots=True, kw_only=True)
class Transaction:
    kind: str  # "cashback" | "redeem" | "manual" | "order"
    transaction_id: str
    customer_id: str
    gameball_id: int
    points: int  # signed: positive adds, negative deducts
    amount: float | None
    time: datetime
    job_id: int
    reason: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "transactionId": self.transaction_id,
            "customerId": self.customer_id,
            "gameballTransactionId": self.gameball_id,
            "points": self.points,
            "amount": self.amount,
            "transactionTime": iso(self.time),
            "jobId": self.job_id,
            "reason": self.reason,
        }


@dataclass(slots=True, kw_only=True)
class Hold:
    reference: str
    customer_id: str
    points: int
    expires_at: datetime


@dataclass(slots=True, kw_only=True)
class Job:
    job_id: int
    batch_type: BatchType
    items: list[Any]
    created_at: datetime
    total: int
    state: str = "queued"  # queued | running | completed | failed | stopped
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_index: int = 0
    successful: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in ("completed", "failed", "stopped")

    def summary(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "type": self.batch_type.slug,
            "status": self.state,
            "items": self.total,
            "successful": len(self.successful),
            "failed": len(self.failed),
            "createdAt": iso(self.created_at),
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
        }


def _api_required(bt: BatchType) -> tuple[str, ...]:
    """Required top-level API fields of a type, read from batch_types (never restated)."""
    names: list[str] = []
    for spec in bt.required:
        top = spec.path.split(".", 1)[0]
        top = _SHEET_ONLY.get(top, top)
        if top not in names:
            names.append(top)
    return tuple(names)


_REQUIRED = {slug: _api_required(bt) for slug, bt in BATCH_TYPES.items()}
_TX_KIND = {"cashback": "cashback", "redemptions": "redeem", "adjustments": "manual"}


# --- the state machine ---------------------------------------------------------------------


class SandboxCore:
    """All sandbox state and every rule; callers serialise access (one lock in app.py)."""

    def __init__(self, *, clock: Clock = utc_now, config: CoreConfig | None = None) -> None:
        self._clock = clock
        self.config = config or CoreConfig()
        self.reset()

    # state -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: customers, transactions, orders, events, holds and jobs."""
        self.customers: dict[str, Customer] = {}
        self.transactions: dict[str, dict[str, Transaction]] = {
            kind: {} for kind in ("cashback", "redeem", "manual")
        }
        self.orders: dict[str, Transaction] = {}
        self.events: list[dict[str, Any]] = []
        self.holds: dict[str, Hold] = {}
        self.jobs: dict[int, Job] = {}
        self._queue: deque[Job] = deque()
        self._times: set[tuple[str, str, datetime]] = set()
        self.applied: dict[str, Counter[str]] = {slug: Counter() for slug in BATCH_TYPES}
        self.submitted: dict[str, Counter[str]] = {slug: Counter() for slug in BATCH_TYPES}
        self._next_job = FIRST_JOB_ID
        self._next_tx = FIRST_GAMEBALL_TX_ID
        self._next_customer = 1

    def seed(self, count: int, *, points: int = DEMO_POINTS) -> list[str]:
        """Create (or top up to ``points``) demo customers cus-1001 … cus-{1000+count}."""
        if count < 0 or points < 0:
            raise ValueError("seed needs a customer count and points of 0 or more")
        ids = [f"cus-{DEMO_CUSTOMER_BASE + n}" for n in range(1, count + 1)]
        for n, customer_id in enumerate(ids, start=1):
            customer = self._customer(customer_id, create=True)
            assert customer is not None
            customer.attributes.setdefault("displayName", f"Demo Customer {n}")
            customer.email = customer.email or f"{customer_id}@example.com"
            if customer.points < points:
                customer.earned += points - customer.points
                customer.points = points
        return ids

    def create_hold(self, customer_id: str, points: int) -> Hold:
        """Reserve points as Gameball's Hold API does (reference §3.6); 7000 / 9008 apply."""
        customer = self._customer(customer_id, create=False)
        if customer is None:
            raise ItemFailure(7000, customer_id)
        if points <= 0:
            raise ItemFailure(3003, "points to hold must be more than 0")
        if customer.available < points:
            raise ItemFailure(9008)
        hold = Hold(
            reference=str(uuid.uuid4()),
            customer_id=customer_id,
            points=points,
            expires_at=self._clock() + timedelta(minutes=HOLD_MINUTES),
        )
        customer.held += points
        self.holds[hold.reference] = hold
        return hold

    # jobs ------------------------------------------------------------------------------

    def create_job(self, slug: str, items: list[Any]) -> Job:
        """Queue a job. Whole-request checks (size, shape) are the app's; items are ours."""
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ValueError(f"a batch holds at most {MAX_ITEMS_PER_REQUEST} items")
        job = Job(
            job_id=self._next_job,
            batch_type=BATCH_TYPES[slug],
            items=items,
            created_at=self._clock(),
            total=len(items),
        )
        self._next_job += 1
        self.jobs[job.job_id] = job
        self._queue.append(job)
        return job

    def job(self, job_id: int | str) -> Job:
        try:
            return self.jobs[int(job_id)]
        except (KeyError, ValueError):
            raise JobNotFound(f"No batch job with id {job_id}") from None

    def pending_items(self) -> int:
        return sum(job.total - job.next_index for job in self._queue)

    def process(self, limit: int) -> int:
        """Apply up to ``limit`` items, oldest job first; returns how many were applied."""
        done = 0
        while done < limit and self._queue:
            job = self._queue[0]
            done += self._advance(job, limit - done)
            if job.done:
                self._queue.popleft()
        return done

    def run(self, job: Job) -> None:
        """Apply every remaining item of one job now (instant mode)."""
        self._advance(job, job.total)
        if job.done and job in self._queue:
            self._queue.remove(job)

    def stop(self, job_id: int | str) -> Job:
        """Stop a queued or running job; applied items stay applied (§10.15). Finished: no-op."""
        job = self.job(job_id)
        if not job.done:
            job.state = "stopped"
            job.finished_at = self._clock()
            job.items = []
            if job in self._queue:
                self._queue.remove(job)
        return job

    def _advance(self, job: Job, limit: int) -> int:
        if job.done:
            return 0
        now = self._clock()
        if job.state == "queued":
            job.state = "running"
            job.started_at = now
        handler = self._handlers[job.batch_type.slug]
        end = min(job.total, job.next_index + limit)
        start = job.next_index
        for index in range(start, end):
            self._apply(job, handler, job.items[index], now)
        job.next_index = end
        if end == job.total:
            job.state = "failed" if job.total and not job.successful else "completed"
            job.finished_at = now
            job.items = []  # results are kept; the request body is no longer needed
        return end - start

    def _apply(self, job: Job, handler: Callable[..., dict[str, Any]], item: Any,
               now: datetime) -> None:
        bt = job.batch_type
        try:
            if not isinstance(item, dict):
                raise ItemFailure(3016, "each item must be a JSON object")
            self.submitted[bt.slug][str(item.get(bt.result_key))] += 1
            missing = [k for k in _REQUIRED[bt.slug] if item.get(k) is None or item[k] == ""]
            if missing:
                raise ItemFailure(3000, ", ".join(missing))
            result = handler(self, item, now, job.job_id)
        except ItemFailure as failure:
            job.failed.append(_failed(bt, item, failure))
            return
        self.applied[bt.slug][str(item[bt.result_key])] += 1
        job.successful.append(result)

    # item handlers (one per batch type) ------------------------------------------------

    def _customers(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        customer_id = _text(item, "customerId")
        attributes = item.get("customerAttributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ItemFailure(3003, "customerAttributes must be an object")
        existed = customer_id in self.customers
        customer = self._customer(customer_id, create=True, item=item)
        assert customer is not None
        if attributes:
            custom = attributes.get("custom")
            merged_custom = {**customer.attributes.get("custom", {}), **(custom or {})}
            customer.attributes.update(attributes)
            if custom is not None:
                customer.attributes["custom"] = merged_custom
        for key, value in item.items():
            if key not in ("customerId", "customerAttributes", "email", "mobile", "guest"):
                customer.profile[key] = value
        verb = "updated" if existed else "created"
        return {
            "customerId": customer_id,
            "gameballId": customer.gameball_id,
            "message": f"Customer {verb} successfully",
        }

    def _orders(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        customer_id = _text(item, "customerId")
        order_id = _text(item, "orderId")
        when = _past_time(item, "orderDate", now)
        paid = _number(item, "totalPaid")
        if paid < 0:
            raise ItemFailure(3003, "totalPaid must not be negative")
        if order_id in self.orders:
            raise ItemFailure(9004, f"orderId {order_id}")
        redemption = item.get("redemption")
        hold_ref = redemption.get("pointsHoldReference") if isinstance(redemption, dict) else None
        hold = self._hold(hold_ref, customer_id, now) if hold_ref else None
        customer = self._customer(customer_id, create=True, item=item)
        assert customer is not None
        redeemed = self._consume_hold(hold, customer) if hold else 0
        rewarded = self._earn(customer, paid)
        self.orders[order_id] = Transaction(
            kind="order", transaction_id=order_id, customer_id=customer_id,
            gameball_id=self._tx_id(), points=rewarded - redeemed, amount=paid, time=when,
            job_id=job_id,
        )
        return {"customerId": customer_id, "orderId": order_id,
                "rewardedPoints": rewarded, "redeemedPoints": redeemed}

    def _balance(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        customer = self._existing(item)
        factor = self.config.redemption_factor
        return {
            "customerId": customer.customer_id,
            "totalPointsBalance": customer.points,
            "totalPointsValue": round(customer.points * factor, 2),
            "availablePointsBalance": customer.available,
            "availablePointsValue": round(customer.available * factor, 2),
            "pendingPoints": 0,
            "pendingPointsValue": 0,
            "currency": self.config.currency,
            "pointsName": self.config.points_name,
            "nextExpiringPointsAmount": 0,
            "nextExpiringPointsValue": 0,
            "nextExpiringPointsDate": None,
            "totalEarnedPoints": customer.earned,
        }

    def _adjustment(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        amount = _number(item, "amount")
        points = item.get("points")
        if points is not None:
            points = _whole(item, "points")
        else:
            points = round(amount * self.config.adjustment_points_per_unit)
        if amount == 0 or points == 0:
            raise ItemFailure(3003, "amount must not be zero")
        reason = item.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
            raise ItemFailure(3003, "reason must be text of at most 255 characters")
        tx_id = item.get("transactionId")
        if tx_id is not None:
            tx_id = _text(item, "transactionId")
            self._unused(_TX_KIND["adjustments"], tx_id)
        customer = self._existing(item)
        if points < 0 and customer.available < -points:
            raise ItemFailure(9008)
        customer.points += points
        if points > 0:
            customer.earned += points
        key = tx_id or f"manual-{self._next_tx}"  # the id _book is about to give it
        gameball_id = self._book("manual", key, customer, points, amount, now, job_id, reason)
        result: dict[str, Any] = {"customerId": customer.customer_id,
                                  "gameballTransactionId": gameball_id,
                                  "points": points, "amount": amount}
        if tx_id is not None:
            result["transactionId"] = tx_id
        return result

    def _cashback(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        tx_id = _text(item, "transactionId")
        when = _past_time(item, "transactionTime", now)
        amount = _number(item, "amount")
        if amount <= 0:
            raise ItemFailure(3003, "amount must be more than 0")
        self._unused("cashback", tx_id)
        self._no_clash("cashback", item, when)
        if self.config.cashback_creates_customers:
            customer = self._customer(_text(item, "customerId"), create=True, item=item)
            assert customer is not None
        else:
            customer = self._existing(item)
        points = self._earn(customer, amount)
        gameball_id = self._book("cashback", tx_id, customer, points, amount, when, job_id)
        return {"customerId": customer.customer_id, "transactionId": tx_id,
                "gameballTransactionId": gameball_id,
                "rewardAmount": round(points * self.config.redemption_factor, 2),
                "rewardEquivalentPoints": points}

    def _redeem(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        tx_id = _text(item, "transactionId")
        when = _past_time(item, "transactionTime", now)
        given = [name for name in _REDEEM_ONE_OF if item.get(name) not in (None, "")]
        if not given:
            raise ItemFailure(3000, "one of " + ", ".join(_REDEEM_ONE_OF))
        if len(given) > 1:
            raise ItemFailure(3003, "give exactly one of " + ", ".join(_REDEEM_ONE_OF))
        self._unused("redeem", tx_id)
        self._no_clash("redeem", item, when)
        customer = self._existing(item)
        hold = None
        if given[0] == "holdReference":
            hold = self._hold(_text(item, "holdReference"), customer.customer_id, now)
            points = hold.points
        elif given[0] == "points":
            points = _whole(item, "points")
        else:
            money = _number(item, "amount")
            points = math.ceil(round(money / self.config.redemption_factor, 6))
        if points <= 0:
            raise ItemFailure(3003, f"{given[0]} must be more than 0")
        if hold is not None:
            self._consume_hold(hold, customer)
        elif customer.available < points:
            raise ItemFailure(9008)
        else:
            customer.points -= points
        gameball_id = self._book("redeem", tx_id, customer, -points, item.get("amount"), when,
                                 job_id, item.get("reason"))
        return {"customerId": customer.customer_id, "transactionId": tx_id,
                "gameballTransactionId": str(gameball_id),
                "redeemAmount": round(points * self.config.redemption_factor, 2),
                "redeemEquivalentPoints": points}

    def _events(self, item: dict[str, Any], now: datetime, job_id: int) -> dict[str, Any]:
        customer_id = _text(item, "customerId")
        events = item["events"]
        if not isinstance(events, dict) or not events:
            raise ItemFailure(3003, "events must be an object of event name → metadata")
        for name, metadata in events.items():
            if metadata is not None and not isinstance(metadata, dict):
                raise ItemFailure(3003, f"metadata of event '{name}' must be an object")
        self._customer(customer_id, create=True, item=item)
        for name, metadata in events.items():
            self.events.append({"customerId": customer_id, "event": name,
                                "metadata": metadata or {}, "jobId": job_id,
                                "receivedAt": iso(now)})
        return {"customerId": customer_id, "message": "Events processed"}

    _handlers: ClassVar[dict[str, Callable[..., dict[str, Any]]]] = {
        "customers": _customers,
        "orders": _orders,
        "balance-inquiries": _balance,
        "adjustments": _adjustment,
        "cashback": _cashback,
        "redemptions": _redeem,
        "events": _events,
    }

    # helpers ---------------------------------------------------------------------------

    def _customer(self, customer_id: str, *, create: bool,
                  item: Mapping[str, Any] | None = None) -> Customer | None:
        customer = self.customers.get(customer_id)
        if customer is None and create:
            customer = Customer(customer_id=customer_id, created_at=self._clock(),
                                gameball_id=self._next_customer)
            self._next_customer += 1
            self.customers[customer_id] = customer
        if customer is not None and item is not None:
            for key in ("email", "mobile"):
                value = item.get(key)
                if isinstance(value, str) and value:
                    setattr(customer, key, value)
            if isinstance(item.get("guest"), bool):
                customer.guest = item["guest"]
        return customer

    def _existing(self, item: Mapping[str, Any]) -> Customer:
        customer_id = _text(item, "customerId")
        customer = self.customers.get(customer_id)
        if customer is None:
            raise ItemFailure(7000, customer_id)
        return customer

    def _unused(self, kind: str, tx_id: str) -> None:
        if tx_id in self.transactions[kind]:
            raise ItemFailure(9004, f"transactionId {tx_id}")

    def _no_clash(self, kind: str, item: Mapping[str, Any], when: datetime) -> None:
        if not self.config.check_time_clash:
            return
        if (kind, str(item["customerId"]), when) in self._times:
            raise ItemFailure(9003)

    def _hold(self, reference: str, customer_id: str, now: datetime) -> Hold:
        hold = self.holds.get(reference)
        if hold is None or hold.customer_id != customer_id or hold.expires_at <= now:
            raise ItemFailure(9006, reference)
        return hold

    def _consume_hold(self, hold: Hold, customer: Customer) -> int:
        del self.holds[hold.reference]
        customer.held -= hold.points
        customer.points -= hold.points
        return hold.points

    def _earn(self, customer: Customer, amount: float) -> int:
        points = math.floor(amount * self.config.cashback_points_per_unit)
        customer.points += points
        customer.earned += points
        return points

    def _tx_id(self) -> int:
        self._next_tx += 1
        return self._next_tx - 1

    def _book(self, kind: str, tx_id: str, customer: Customer, points: int, amount: Any,
              when: datetime, job_id: int, reason: Any = None) -> int:
        """Record an applied transaction (balances were changed by the caller)."""
        gameball_id = self._tx_id()
        self.transactions[kind][tx_id] = Transaction(
            kind=kind, transaction_id=tx_id, customer_id=customer.customer_id,
            gameball_id=gameball_id, points=points,
            amount=amount if isinstance(amount, (int, float)) else None, time=when,
            job_id=job_id, reason=reason if isinstance(reason, str) else None,
        )
        if self.config.check_time_clash:
            self._times.add((kind, customer.customer_id, when))
        return gameball_id

    # views -----------------------------------------------------------------------------

    def status(self, job: Job, *, spelling: str = "lower",
               message_key: str = "message") -> dict[str, Any]:
        """Status response shape 1 (reference §4.1, the default of §10.2)."""
        done_items = len(job.successful) + len(job.failed)
        faithful_stop = job.state == "stopped" and not self.config.stop_keeps_results
        if faithful_stop:
            finished, errors, total, response = 0, 0, 0, None
        else:
            finished, errors = len(job.successful), len(job.failed)
            total = job.total if self.config.total_count == "submitted" else done_items
            response = None if job.state == "queued" else {
                "successful": job.successful,
                "failed": _keyed(job.failed, message_key),
            }
        return {
            "operation": job.batch_type.operation,
            "errorCount": errors,
            "totalCount": total,
            "finishedCount": finished,
            "startedAt": iso(job.started_at),
            "createdAt": iso(job.created_at),
            "status": STATUS_SPELLINGS[spelling].get(job.state, job.state),
            "response": response,
        }

    def status_v2(self, job: Job) -> dict[str, Any]:
        """Status response shape 2, from the OpenAPI file only (reference §4.1)."""
        processed = len(job.successful) + len(job.failed)
        return {
            "batchId": str(job.job_id),
            "status": STATUS_SPELLINGS["openapi"].get(job.state, job.state),
            "progress": round(100 * processed / job.total) if job.total else 100,
            "totalItems": job.total,
            "processedItems": processed,
            "failedItems": len(job.failed),
            "results": job.successful,
            "errors": job.failed,
        }

    def counts(self, slug: str, *, submitted: bool = False) -> Counter[str]:
        """Per-key application counts of a type (or submissions, 9004 refusals included)."""
        return (self.submitted if submitted else self.applied)[slug]

    def all_transactions(self) -> Iterable[Transaction]:
        for table in self.transactions.values():
            yield from table.values()
        yield from self.orders.values()


_REDEEM_ONE_OF: tuple[str, ...] = BATCH_TYPES["redemptions"].one_of[0]


def _failed(bt: BatchType, item: Any, failure: ItemFailure) -> dict[str, Any]:
    """``{customerId, message, code}`` + the result key, so it maps back to one item (§10.6)."""
    source = item if isinstance(item, dict) else {}
    result = {"customerId": source.get("customerId"), "message": failure.message,
              "code": failure.code}
    if bt.result_key != "customerId":
        result[bt.result_key] = source.get(bt.result_key)
    return result


def _keyed(failed: list[dict[str, Any]], message_key: str) -> list[dict[str, Any]]:
    """Failed items with ``error`` in place of ``message`` when that fault is on (§9 C7)."""
    if message_key == "message":
        return failed
    renamed = []
    for index, entry in enumerate(failed):
        if message_key == "mixed" and index % 2 == 0:
            renamed.append(entry)
            continue
        copy = {k: v for k, v in entry.items() if k != "message"}
        copy["error"] = entry["message"]
        renamed.append(copy)
    return renamed


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item[name]
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ItemFailure(3003, f"{name} must be text")


def _number(item: Mapping[str, Any], name: str) -> float:
    value = item.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ItemFailure(3003, f"{name} must be a number")


def _whole(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ItemFailure(3003, f"{name} must be a whole number")


def _past_time(item: Mapping[str, Any], name: str, now: datetime) -> datetime:
    """A UTC ISO-8601 time that is not in the future (9007, reference §8.2)."""
    value = item[name]
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ItemFailure(3003, f"{name} must be a UTC ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise ItemFailure(9007, f"{name} is in the future")
    return moment
