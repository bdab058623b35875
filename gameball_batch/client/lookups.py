"""Read-only look-ups through Gameball's batch API: Order Transactions and Balance Inquiries.

Both are batch jobs like any other (create, then poll the status until it ends), so they use
the client's own ``create_batch``/``get_status`` and nothing else. Only the documented shapes
are read (reference §2.3, §2.8, §4.2):

- Order Transactions (``POST /batch/orders/transactions``, body: up to 1,000 id strings):
  ``successful`` items ``{orderId, transactions[], count}``, ``failed`` items
  ``{customerId: <the id>, message}``, e.g. "Order Not Found";
- Balance Inquiries (``POST /batch/balance-inquiry``): a successful item per customer
  (keyed by ``customerId``), failed items ``{customerId, message}``.

Up to 1,000 ids or customers per job; longer lists become several jobs. Nothing here is
ever resent on doubt: a look-up that fails raises, and the caller says "no evidence".

This module must not know about the ledger, the runner or verdicts (``verify.py`` decides).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameball_batch import batch_types
from gameball_batch.batch_types import MAX_ITEMS_PER_REQUEST, BatchType
from gameball_batch.client.errors import GameballError
from gameball_batch.client.models import JobStatus

# The eighth batch (reference §2.8): its items are id strings and no job ever sends it.
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


class LookupUnfinished(GameballError):
    """A look-up job did not finish in time: no evidence from it."""


class Client(Protocol):
    def create_batch(self, slug_or_type: Any, payload: bytes) -> str: ...
    def get_status(self, job_id: str, batch_type: Any = None) -> JobStatus: ...


@dataclass
class Lookup:
    """Every result item of one look-up, as Gameball sent them, and the jobs it took."""

    successful: list[Mapping[str, Any]] = field(default_factory=list)
    failed: list[Mapping[str, Any]] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Polling:
    """How to wait for a look-up job: first wait, growth, ceiling, and the overall limit."""

    initial: float = 0.05
    factor: float = 1.5
    ceiling: float = 2.0
    timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def _chunks(values: Sequence[Any], size: int = MAX_ITEMS_PER_REQUEST) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def run(client: Client, bt: BatchType, body: Sequence[Any], polling: Polling) -> Lookup:
    """Create one look-up job per 1,000 items, wait for each, and gather their items."""
    found = Lookup()
    for part in _chunks(list(body)):
        payload = json.dumps({"body": list(part)}, ensure_ascii=False).encode()
        job_id = client.create_batch(bt, payload)
        found.job_ids.append(job_id)
        status = _wait(client, bt, job_id, polling)
        found.successful += [i for i in status.successful.raw() if isinstance(i, Mapping)]
        found.failed += [i for i in status.failed.raw() if isinstance(i, Mapping)]
    return found


def _wait(client: Client, bt: BatchType, job_id: str, polling: Polling) -> JobStatus:
    deadline = polling.clock() + polling.timeout
    delay = polling.initial
    while True:
        status = client.get_status(job_id, bt)
        if status.is_final:
            return status
        if polling.clock() > deadline:
            raise LookupUnfinished(f"Gameball's {bt.title} job {job_id} did not finish within "
                                   f"{polling.timeout:g} s")
        polling.sleep(delay)
        delay = min(delay * polling.factor, polling.ceiling)


def order_transactions(client: Client, ids: Iterable[str],
                       polling: Polling | None = None) -> Lookup:
    """Order Transactions for ``ids`` (duplicates asked once)."""
    unique = list(dict.fromkeys(str(i) for i in ids))
    return run(client, ORDER_TRANSACTIONS, unique, polling or Polling())


@dataclass
class Balances:
    """Balance-inquiry items by customer, and Gameball's message for customers it failed."""

    items: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)


def balances(client: Client, customers: Iterable[str],
             polling: Polling | None = None) -> Balances:
    """Balance Inquiries for ``customers``; items and failures mapped by ``customerId``."""
    unique = list(dict.fromkeys(str(c) for c in customers))
    found = run(client, batch_types.get("balance-inquiries"),
                [{"customerId": c} for c in unique], polling or Polling())
    out = Balances(job_ids=found.job_ids)
    for item in found.successful:
        customer = item.get("customerId")
        if isinstance(customer, str):
            out.items[customer] = item
    for item in found.failed:
        customer = item.get("customerId")
        message = item.get("message", item.get("error"))
        if isinstance(customer, str):
            out.failed[customer] = message if isinstance(message, str) else "failed"
    return out
