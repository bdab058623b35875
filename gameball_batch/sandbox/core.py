"""The sandbox's Gameball: a pure state machine for customers, balances and batch jobs.

It holds customers (with attributes and points balances), transactions keyed by
``transactionId`` (one namespace per kind: cashback, redeem, manual), orders keyed by
``orderId``, events, holds, and batch jobs that move queued → running → completed / failed /
stopped with one outcome per item. The rules follow ``shared/reference/gameball-api.md``
§2–§4 and the emulator choices of §10; ``docs/sandbox.md`` lists every choice. Result items
are stored rich (with the item's key and the error code); :mod:`.replies` renders them in
the configured reply style. Records live in :mod:`.model`, errors in :mod:`.errors`.

Hot path: a million cashback items pass through :meth:`SandboxCore.process` in the runner
benchmark, so an item costs a few dict look-ups and one small object; nothing here logs,
scans or copies per item. ``revision`` is bumped per call, not per item, and tells the
serving side when a snapshot (persist.py) is due.

This module must not do I/O: no sockets, threads, files or logging. Time comes from the
injected ``clock``. HTTP lives in ``app.py``; the thread that serves it in ``server.py``.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gameball_batch.batch_types import BATCH_TYPES, MAX_ITEMS_PER_REQUEST, BatchType
from gameball_batch.sandbox import replies
from gameball_batch.sandbox.errors import (
    ERROR_CODES,
    ItemFailure,
    JobNotFound,
    error_envelope,
    http_status,
)
from gameball_batch.sandbox.faults import (
    MESSAGE_KEYS,
    STATUS_SPELLINGS,
    Faults,
    parse_fault_options,
)
from gameball_batch.sandbox.model import (
    DEMO_API_KEY,
    DEMO_CUSTOMER_BASE,
    DEMO_POINTS,
    DEMO_SECRET_KEY,
    FIRST_GAMEBALL_TX_ID,
    FIRST_JOB_ID,
    HOLD_MINUTES,
    ORDER_TRANSACTIONS,
    Clock,
    CoreConfig,
    Customer,
    Hold,
    Job,
    Transaction,
    iso,
    utc_now,
)
from gameball_batch.sandbox.ratelimit import Monotonic, RateLimiter

# Names other modules and the tests import from here (the module was split along seams).
__all__ = [
    "DEMO_API_KEY", "DEMO_CUSTOMER_BASE", "DEMO_POINTS", "DEMO_SECRET_KEY", "ERROR_CODES",
    "MESSAGE_KEYS", "STATUS_SPELLINGS", "Clock", "CoreConfig", "Customer", "Faults", "Hold",
    "ItemFailure", "Job", "JobNotFound", "Monotonic", "RateLimiter", "SandboxCore",
    "Transaction", "error_envelope", "http_status", "iso", "parse_fault_options", "utc_now",
]

# Spreadsheet-only paths of batch_types.py and the API field they become (its docstring).
_SHEET_ONLY = {"event": "events"}


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
_REQUIRED[ORDER_TRANSACTIONS.slug] = ()
# The seven batch types of batch_types.py and the sandbox's own eighth (reference §2.8).
TYPES: dict[str, BatchType] = {**BATCH_TYPES, ORDER_TRANSACTIONS.slug: ORDER_TRANSACTIONS}
_TX_KIND = {"cashback": "cashback", "redemptions": "redeem", "adjustments": "manual"}


# --- the state machine ---------------------------------------------------------------------


class SandboxCore:
    """All sandbox state and every rule; callers serialise access (one lock in app.py)."""

    def __init__(self, *, clock: Clock = utc_now, config: CoreConfig | None = None) -> None:
        self._clock = clock
        self.config = config or CoreConfig()
        self.revision = 0  # bumped by every change; the serving side snapshots on it
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
        self.applied: dict[str, Counter[str]] = {slug: Counter() for slug in TYPES}
        self.submitted: dict[str, Counter[str]] = {slug: Counter() for slug in TYPES}
        self.next_job = FIRST_JOB_ID
        self.next_tx = FIRST_GAMEBALL_TX_ID
        self.next_customer = 1
        self.touch()

    def reindex(self) -> None:
        """Rebuild what is derived from the records (the job queue, the time-clash index)
        after they were loaded from a snapshot (persist.py)."""
        self._queue = deque(job for _, job in sorted(self.jobs.items()) if not job.done)
        self._times = {(tx.kind, tx.customer_id, tx.time) for tx in self.all_transactions()
                       if tx.kind != "order"} if self.config.check_time_clash else set()

    def touch(self) -> None:
        """Note a change, so the serving side knows a snapshot is due (see persist.py)."""
        self.revision += 1

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
        self.touch()
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
        self.touch()
        return hold

    # jobs ------------------------------------------------------------------------------

    def create_job(self, slug: str, items: list[Any]) -> Job:
        """Queue a job. Whole-request checks (size, shape) are the app's; items are ours."""
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ValueError(f"a batch holds at most {MAX_ITEMS_PER_REQUEST} items")
        job = Job(
            job_id=self.next_job,
            batch_type=TYPES[slug],
            items=items,
            created_at=self._clock(),
            total=len(items),
        )
        self.next_job += 1
        self.jobs[job.job_id] = job
        self._queue.append(job)
        self.touch()
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
        if done:
            self.touch()
        return done

    def run(self, job: Job) -> None:
        """Apply every remaining item of one job now (instant mode)."""
        self._advance(job, job.total)
        if job.done and job in self._queue:
            self._queue.remove(job)
        self.touch()

    def stop(self, job_id: int | str) -> Job:
        """Stop a queued or running job; applied items stay applied (§10.15). Finished: no-op."""
        job = self.job(job_id)
        if not job.done:
            job.state = "stopped"
            job.finished_at = self._clock()
            job.items = []
            if job in self._queue:
                self._queue.remove(job)
            self.touch()
        return job

    def _advance(self, job: Job, limit: int) -> int:
        if job.done:
            return 0
        now = self._clock()
        if job.state == "queued":
            job.state = "running"
            job.started_at = now
        handler = self._handlers.get(job.batch_type.slug)
        end = min(job.total, job.next_index + limit)
        start = job.next_index
        for index in range(start, end):
            if handler is None:  # the Order Transactions batch: items are order IDs
                self._order_transactions(job, job.items[index])
            else:
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
            job_id=job_id, redeemed=redeemed,
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
        key = tx_id or f"manual-{self.next_tx}"  # the id _book is about to give it
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

    def _order_transactions(self, job: Job, item: Any) -> None:
        """One order ID of the Order Transactions batch (reference §2.8): its orders,
        cashback and redemptions, or "Order Not Found" with the ID as ``customerId``."""
        order_id = str(item) if isinstance(item, (str, int)) and not isinstance(
            item, bool) else None
        self.submitted[ORDER_TRANSACTIONS.slug][str(item)] += 1
        records = [] if order_id is None else [
            record for record in (self.orders.get(order_id),
                                  self.transactions["cashback"].get(order_id),
                                  self.transactions["redeem"].get(order_id))
            if record is not None
        ]
        if not records:
            message = replies.ORDER_NOT_FOUND if order_id is not None else \
                "Invalid Value: an order ID must be text"
            job.failed.append({"customerId": item, "message": message,
                               "code": 4004 if order_id is not None else 3003})
            return
        assert order_id is not None
        self.applied[ORDER_TRANSACTIONS.slug][order_id] += 1
        job.successful.append(replies.order_transactions(
            order_id, records, self.config.redemption_factor))

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
                                gameball_id=self.next_customer)
            self.next_customer += 1
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
        self.next_tx += 1
        return self.next_tx - 1

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
        """Status response shape 1 in the configured reply style (see replies.py)."""
        return replies.status(job, self.config, spelling=spelling, message_key=message_key)

    def status_v2(self, job: Job) -> dict[str, Any]:
        """Status response shape 2, from the OpenAPI file only (reference §4.1)."""
        return replies.status_v2(job, self.config)

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
