"""Shared by the submission tests: jobs built from API items, sandbox counts, waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.ledger import Ledger, NewChunk, NewJob, NewRow
from gameball_batch.sandbox import SandboxServer

PAST = "2026-01-02T03:04:05Z"
SAFE = [s for s, bt in BATCH_TYPES.items() if bt.resend_safe]
UNSAFE = [s for s, bt in BATCH_TYPES.items() if not bt.resend_safe]
DEDUPED = [s for s, bt in BATCH_TYPES.items() if not bt.idempotent]  # applied counts must stay 1


SEEDED = 300  # customers cus-1001 … cus-1300, so every item below has its own customer


# One valid item per batch type for the demo customers of a freshly seeded sandbox.
SAMPLES: dict[str, dict[str, Any]] = {
    "customers": {"customerId": "cus-2001", "customerAttributes": {"firstName": "Amira"}},
    "orders": {"customerId": "cus-1001", "orderId": "SO-1", "orderDate": PAST, "totalPaid": 99},
    "balance-inquiries": {"customerId": "cus-1002"},
    "adjustments": {"customerId": "cus-1003", "amount": 25, "reason": "Service recovery"},
    "cashback": {"customerId": "cus-1001", "transactionId": "INV-1", "transactionTime": PAST,
                 "amount": 150.75},
    "redemptions": {"customerId": "cus-1002", "transactionId": "RED-1", "transactionTime": PAST,
                    "points": 30},
    "events": {"customerId": "cus-1004", "events": {"write_review": {"stars": 5}}},
}


def item_for(slug: str, i: int, customer: str | None = None) -> dict[str, Any]:
    """A valid item of each type for the seeded sandbox; every item its own customer."""
    cid = customer or f"cus-{1001 + i}"
    return {
        "customers": {"customerId": f"new-{i}", "customerAttributes": {"displayName": f"C{i}"}},
        "orders": {"customerId": cid, "orderId": f"SO-{i}", "orderDate": PAST, "totalPaid": 10},
        "balance-inquiries": {"customerId": cid},
        "adjustments": {"customerId": cid, "amount": 1},
        "cashback": {"customerId": cid, "transactionId": f"CB-{i}", "transactionTime": PAST,
                     "amount": 10},
        "redemptions": {"customerId": cid, "transactionId": f"RD-{i}", "transactionTime": PAST,
                        "points": 1},
        "events": {"customerId": cid, "events": {"write_review": {}}},
    }[slug]


def add_job(ledger: Ledger, slug: str, items: list[dict[str, Any]], per_chunk: int = 5) -> str:
    """A queued job with one source row per item (rows 2, 3, …), keys unique per chunk."""
    bt = BATCH_TYPES[slug]
    job_id = f"job-{slug}-{time.monotonic_ns()}"
    chunks, rows = [], []
    for start in range(0, len(items), per_chunk):
        body = items[start:start + per_chunk]
        index = start // per_chunk
        chunks.append(NewChunk(index, json.dumps({"body": body}).encode(), len(body)))
        rows += [NewRow(start + k + 2, index, str(item[bt.result_key]), (json.dumps(item),))
                 for k, item in enumerate(body)]
    ledger.create_job(
        NewJob(id=job_id, batch_type=slug, file_name=f"{slug}.csv", fingerprint=job_id,
               sheet=None, mapping={}, columns=("item",), row_count=len(rows),
               item_count=len(items), totals={}, actor="test"),
        chunks, rows,
    )
    return job_id


def applied_counts(sandbox: SandboxServer, slug: str) -> dict[str, int]:
    with sandbox.state.lock:
        return dict(sandbox.core.counts(slug))


def inject(sandbox: SandboxServer, **faults: Any) -> None:
    sandbox.state.faults = sandbox.state.faults.updated(faults)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)
