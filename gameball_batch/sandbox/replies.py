"""What the sandbox answers about a job: status shapes and per-item result items.

The core keeps every result item *rich* (the item's own key and the error code included),
so counts and look-ups never depend on the reply style; this module renders them:

- ``documented`` (the default): only what Gameball documents. A failed item is
  ``{customerId, message}`` (reference §4.2, §10.6); a successful item is ``customerId`` plus
  at most the fields of the single-object API the batch mirrors (reference §3), never the
  batch's own key (``transactionId``, ``orderId``), so a client is tested against the hardest
  reading of the docs. A stopped job answers the tutorial's zeros and ``null`` (§4.1).
- ``rich``: the stored items as they are (result key and ``code`` added) and a stopped job
  keeps its counts and results (§10.16's suggested default).

No I/O here; ``docs/sandbox.md`` lists every item shape with its reference section.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gameball_batch.sandbox.faults import STATUS_SPELLINGS
from gameball_batch.sandbox.model import CoreConfig, Job, Transaction, iso

# Keys of the stored success items that Gameball does not document, per batch type.
_UNDOCUMENTED: dict[str, frozenset[str]] = {
    "customers": frozenset({"gameballId"}),
    "orders": frozenset({"orderId"}),
    "adjustments": frozenset({"transactionId"}),
    "cashback": frozenset({"transactionId"}),
    "redemptions": frozenset({"transactionId"}),
}
# The one customer reply the tutorial shows (reference §2.1), for creates and updates alike.
CUSTOMER_MESSAGE = "Customer created successfully"
ORDER_NOT_FOUND = "Order Not Found"  # reference §2.8 [D-OT]


def status(job: Job, config: CoreConfig, *, spelling: str = "lower",
           message_key: str = "message") -> dict[str, Any]:
    """Status response shape 1 (reference §4.1, the default of §10.2)."""
    started = iso(job.started_at)
    if job.state == "stopped" and not config.keeps_stopped_results:
        # The tutorial's stopped example, whatever ran before the stop (reference §4.2).
        finished = errors = total = 0
        started = None
        response: dict[str, Any] | None = None
    else:
        finished, errors = len(job.successful), len(job.failed)
        total = job.total if config.total_count == "submitted" else finished + errors
        response = None if job.state == "queued" else {
            "successful": successful_items(job, config),
            "failed": failed_items(job, config, message_key),
        }
    return {
        "operation": job.batch_type.operation,
        "errorCount": errors,
        "totalCount": total,
        "finishedCount": finished,
        "startedAt": started,
        "createdAt": iso(job.created_at),
        "status": STATUS_SPELLINGS[spelling].get(job.state, job.state),
        "response": response,
    }


def status_v2(job: Job, config: CoreConfig) -> dict[str, Any]:
    """Status response shape 2, from the OpenAPI file only (reference §4.1)."""
    processed = len(job.successful) + len(job.failed)
    return {
        "batchId": str(job.job_id),
        "status": STATUS_SPELLINGS["openapi"].get(job.state, job.state),
        "progress": round(100 * processed / job.total) if job.total else 100,
        "totalItems": job.total,
        "processedItems": processed,
        "failedItems": len(job.failed),
        "results": successful_items(job, config),
        "errors": failed_items(job, config, "message"),
    }


def successful_items(job: Job, config: CoreConfig) -> list[dict[str, Any]]:
    if config.replies == "rich":
        return job.successful
    if not job.done:
        return _documented_successes(job)
    cached = job.rendered.get("successful")
    if cached is None:
        cached = job.rendered["successful"] = _documented_successes(job)
    return cached


def _documented_successes(job: Job) -> list[dict[str, Any]]:
    slug = job.batch_type.slug
    if slug == "customers":
        return [{"customerId": item["customerId"], "message": CUSTOMER_MESSAGE}
                for item in job.successful]
    hidden = _UNDOCUMENTED.get(slug)
    if not hidden:
        return job.successful
    rendered = []
    for item in job.successful:
        copy = item.copy()  # copy-and-pop is ten times faster than a filtering comprehension
        for key in hidden:
            copy.pop(key, None)
        rendered.append(copy)
    return rendered


def failed_items(job: Job, config: CoreConfig, message_key: str) -> list[dict[str, Any]]:
    """Failed items; ``error`` in place of ``message`` when that fault is on (§9 C7)."""
    if config.replies == "rich":
        items = job.failed
    elif job.done and "failed" in job.rendered:
        items = job.rendered["failed"]
    else:
        items = [{"customerId": item["customerId"], "message": item["message"]}
                 for item in job.failed]
        if job.done:
            job.rendered["failed"] = items
    if message_key == "message":
        return items
    renamed = []
    for index, entry in enumerate(items):
        if message_key == "mixed" and index % 2 == 0:
            renamed.append(entry)
            continue
        copy = {k: v for k, v in entry.items() if k != "message"}
        copy["error"] = entry["message"]
        renamed.append(copy)
    return renamed


# --- Order Transactions (reference §2.8, §3.9) ----------------------------------------------


def transaction_date(moment: datetime) -> str:
    """§3.9's ``transactionDate``: UTC without a zone suffix, e.g. 2024-10-16T08:13:29.290."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def order_transactions(order_id: str, records: Iterable[Transaction],
                       redemption_factor: float) -> dict[str, Any]:
    """One successful Order Transactions item: ``{orderId, transactions[], count}``."""
    entries: list[dict[str, Any]] = []
    for record in records:
        if record.kind == "order":
            rewarded = record.points + record.redeemed
            entries.append(_entry(record, "PaymentReward", record.amount, rewarded))
            if record.redeemed:
                entries.append(_entry(record, "Redemption",
                                      round(record.redeemed * redemption_factor, 2),
                                      record.redeemed))
        elif record.kind == "cashback":
            entries.append(_entry(record, "PaymentReward", record.amount, record.points))
        elif record.kind == "redeem":
            points = -record.points
            amount = record.amount if record.amount is not None else round(
                points * redemption_factor, 2)
            entries.append(_entry(record, "Redemption", amount, points))
    return {"orderId": order_id, "transactions": entries, "count": len(entries)}


def _entry(record: Transaction, kind: str, amount: float | None, points: int) -> dict[str, Any]:
    return {
        "transactionDate": transaction_date(record.time),
        "gameballTransactionId": record.gameball_id,
        "transactionType": kind,
        "amount": amount,
        "transactionId": record.transaction_id,
        "equivalentPoints": points,
    }
