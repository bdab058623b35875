"""The sandbox's records: customers, transactions, holds and batch jobs, plus its settings.

Plain dataclasses with small views for the debug endpoints; the rules that change them live
in :mod:`.core`. ``CoreConfig`` holds the account settings the docs leave open (reference
§8.3, §10) and the reply style. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from gameball_batch.batch_types import BatchType

Clock = Callable[[], datetime]

DEMO_API_KEY = "sandbox-api-key"  # fixed demo strings, not secrets (sandbox only)
DEMO_SECRET_KEY = "sandbox-secret-key"  # noqa: S105 - a public demo string
DEMO_CUSTOMER_BASE = 1000  # demo customers are cus-1001, cus-1002, …
DEMO_POINTS = 1000
FIRST_JOB_ID = 50001
FIRST_GAMEBALL_TX_ID = 900001
HOLD_MINUTES = 10  # reference §3.6: a hold lasts 10 minutes by default
REPLY_STYLES = ("documented", "rich")

# The eighth batch (reference §2.8): its items are order-ID strings, not objects, and the
# runner never sends it, so it is the sandbox's own and not one of batch_types' seven.
ORDER_TRANSACTIONS = BatchType(
    slug="order-transactions",
    title="Order Transactions",
    description="Look up the transactions of many orders (reference §2.8).",
    endpoint="/batch/orders/transactions",
    operation="Order Transactions Batch Job",
    result_key="orderId",
    fields=(),
    idempotent=True,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """Timestamps as in the status examples of reference §4.1: ``2026-11-25T10:00:00Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")



@dataclass(frozen=True, kw_only=True)
class CoreConfig:
    """The account settings the docs leave to the merchant (reference §8.3, §10)."""

    cashback_points_per_unit: float = 1.0  # points earned per currency unit of cashback/orders
    redemption_factor: float = 0.1  # currency value of one point: 10 at 0.1 = 100 points
    adjustment_points_per_unit: float = 1.0  # adjustment ``amount`` → points (§10.11)
    cashback_creates_customers: bool = False  # §10.13: unverified, so configurable
    check_time_clash: bool = False  # §10.10: 9003 for an exact transactionTime clash
    total_count: Literal["submitted", "processed"] = "submitted"  # §10.4
    # "documented": result items carry only what Gameball documents (replies.py);
    # "rich": they add the item's own key (transactionId / orderId) and the error code.
    replies: Literal["documented", "rich"] = "documented"
    # §10.16: whether a stopped job's status keeps its counts and results. None follows
    # ``replies``: documented answers the tutorial's zeros and null, rich keeps them.
    stop_keeps_results: bool | None = None

    def __post_init__(self) -> None:
        if self.replies not in REPLY_STYLES:
            raise ValueError(f"replies must be one of {', '.join(REPLY_STYLES)}, "
                             f"got '{self.replies}'")

    @property
    def keeps_stopped_results(self) -> bool:
        if self.stop_keeps_results is None:
            return self.replies == "rich"
        return self.stop_keeps_results
    currency: str = "EGP"
    points_name: str = "Points"



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
    redeemed: int = 0  # orders: points paid with a hold, shown as a Redemption entry

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
    # Rendered result lists of a finished job, by reply style (replies.py): a finished
    # job's results never change, and a 1000-item job is polled many times.
    rendered: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

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
