"""Balance snapshots taken just before an adjustments chunk is sent (the runner's hook).

Adjustments have no id Gameball can look up, so the only evidence of one is a change in the
customer's balance. Just before the runner POSTs an adjustments chunk it calls
:func:`before_send`, which asks Balance Inquiries for that chunk's customers (one small
batch per chunk) and stores the answer in the ledger (``ledger/evidence.py``). ``verify``
later compares those balances with the balances then.

A failed snapshot never blocks the send: it is recorded, per customer, with the reason, and
the verdict for those rows then says "no snapshot". On by default for adjustments; a runner
built with ``before_send=None`` (setting ``[verify] snapshot_balances = false``) skips it.

This module must not decide verdicts (``verify.py``) or change any chunk or row state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from gameball_batch import verify
from gameball_batch.batch_types import BatchType
from gameball_batch.client import lookups
from gameball_batch.ledger import Ledger
from gameball_batch.ledger import evidence as ev

log = logging.getLogger(__name__)

SNAPSHOT_TYPES = verify.BALANCE_TYPES
BeforeSend = Callable[[Ledger, Any, str, BatchType, int, bytes], None]


def customers_of(payload: bytes) -> list[str]:
    """The customers of a chunk's stored payload, in order, each once."""
    body = json.loads(payload).get("body") or []
    return list(dict.fromkeys(str(i.get("customerId", "")) for i in body
                              if isinstance(i, dict) and i.get("customerId") is not None))


def before_send(ledger: Ledger, client: Any, job_id: str, bt: BatchType, index: int,
                payload: bytes, *, polling: lookups.Polling | None = None) -> None:
    """Snapshot the balances of an adjustments chunk's customers; never raises."""
    if bt.slug not in SNAPSHOT_TYPES:
        return
    try:
        customers = customers_of(payload)
        found = lookups.balances(client, customers, polling or lookups.Polling(timeout=30.0))
        points = {c: verify.balance_of(item) for c, item in found.items.items()}
        errors = {c: f"Gameball did not report the balance ({message})"
                  for c, message in found.failed.items()}
        errors.update({c: "Gameball did not report the balance" for c in customers
                       if points.get(c) is None and c not in errors})
        earned = {c: verify.earned_of(item) for c, item in found.items.items()}
        ev.save_snapshot(ledger, job_id, index, points, errors, earned)
    except Exception as exc:  # the send goes on; the verdict will say "no snapshot"
        log.warning("balance snapshot of chunk %s of job %s failed: %s", index, job_id, exc)
        _record_failure(ledger, job_id, index, payload, f"the snapshot failed: {exc}")


def _record_failure(ledger: Ledger, job_id: str, index: int, payload: bytes,
                    why: str) -> None:
    try:
        customers = customers_of(payload)
        ev.save_snapshot(ledger, job_id, index, {}, dict.fromkeys(customers, why))
        ledger.audit("runner", "snapshot.failed", job_id, {"chunk": index, "error": why})
    except Exception:  # recording must not stop the send either
        log.exception("could not record a failed snapshot of chunk %s of job %s", index, job_id)


def hook_for(extra: Mapping[str, Any]) -> BeforeSend | None:
    """The runner's ``before_send`` from settings: on unless ``[verify] snapshot_balances``
    is false."""
    section = extra.get("verify")
    if isinstance(section, Mapping) and section.get("snapshot_balances") is False:
        return None
    return before_send
