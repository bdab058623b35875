"""The sandbox's memory: its whole state as JSON in one file, written atomically.

``snapshot(core)`` turns customers, balances, transactions, orders, events, holds, jobs
(with their results and, for unfinished jobs, the items still to apply), the per-key counts
and the next ids into plain JSON data; ``restore(core, data)`` puts them back. ``save`` writes
a temp file beside the target and renames it over, so a reader or a crash never sees half a
file; ``load`` reads one back, or says clearly why it cannot.

The serving side (app.py) snapshots when the state changed, at most about once a second, and
at shutdown: a crash loses at most the last second of a training sandbox, never a ledger.
core.py stays free of I/O; this module reads its records but holds no rules.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from gameball_batch.sandbox.core import TYPES, SandboxCore
from gameball_batch.sandbox.model import Customer, Hold, Job, Transaction

FORMAT = 1  # bump when the layout changes; an unknown format is refused, not guessed
STATE_FILE_NAME = "sandbox-state.json"


class StateFileError(RuntimeError):
    """The state file cannot be read as a sandbox state; ``str(e)`` says which and why."""


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def snapshot(core: SandboxCore) -> dict[str, Any]:
    """The whole state as JSON data, with the app's lock held. Containers are copied, so
    the result can be encoded outside the lock while processing goes on; the dicts inside
    (results, events, item bodies) are never changed once stored."""
    return {
        "format": FORMAT,
        "customers": [_customer(c) for c in core.customers.values()],
        "transactions": [_transaction(tx) for tx in core.all_transactions()],
        "events": list(core.events),
        "holds": [{"reference": h.reference, "customer_id": h.customer_id, "points": h.points,
                   "expires_at": _time(h.expires_at)} for h in core.holds.values()],
        "jobs": [_job(job) for job in core.jobs.values()],
        "applied": {slug: dict(counter) for slug, counter in core.applied.items() if counter},
        "submitted": {slug: dict(c) for slug, c in core.submitted.items() if c},
        "next": {"job": core.next_job, "tx": core.next_tx, "customer": core.next_customer},
    }


def _customer(c: Customer) -> dict[str, Any]:
    # By hand, not dataclasses.asdict: that deep-copies and costs ten times as much.
    return {
        "customer_id": c.customer_id, "created_at": _time(c.created_at), "points": c.points,
        "held": c.held, "earned": c.earned, "email": c.email, "mobile": c.mobile,
        "guest": c.guest, "gameball_id": c.gameball_id, "profile": dict(c.profile),
        "attributes": dict(c.attributes),
    }


def _transaction(tx: Transaction) -> dict[str, Any]:
    return {
        "kind": tx.kind, "transaction_id": tx.transaction_id, "customer_id": tx.customer_id,
        "gameball_id": tx.gameball_id, "points": tx.points, "amount": tx.amount,
        "time": _time(tx.time), "job_id": tx.job_id, "reason": tx.reason,
        "redeemed": tx.redeemed,
    }


def _job(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "type": job.batch_type.slug, "total": job.total,
        "state": job.state, "created_at": _time(job.created_at),
        "started_at": _time(job.started_at), "finished_at": _time(job.finished_at),
        "next_index": job.next_index,
        # Only the items still to apply are kept; applied ones live on as results.
        "pending": job.items[job.next_index:] if not job.done else [],
        "successful": list(job.successful), "failed": list(job.failed),
    }


def restore(core: SandboxCore, data: dict[str, Any]) -> None:
    """Replace the core's state with ``data`` from :func:`snapshot`."""
    if data.get("format") != FORMAT:
        raise StateFileError(f"unknown state format {data.get('format')!r}")
    core.reset()
    for raw in data["customers"]:
        customer = Customer(**{**raw, "created_at": _moment(raw["created_at"])})
        core.customers[customer.customer_id] = customer
    for raw in data["transactions"]:
        tx = Transaction(**{**raw, "time": _moment(raw["time"])})
        table = core.orders if tx.kind == "order" else core.transactions[tx.kind]
        table[tx.transaction_id] = tx
    core.events.extend(data["events"])
    for raw in data["holds"]:
        hold = Hold(**{**raw, "expires_at": _moment(raw["expires_at"])})
        core.holds[hold.reference] = hold
    for raw in data["jobs"]:
        start = raw["next_index"]
        job = Job(
            job_id=raw["job_id"], batch_type=TYPES[raw["type"]],
            # Applied positions are never read again; keep the indexes of the rest intact.
            items=[None] * start + list(raw["pending"]) if raw["pending"] else [],
            created_at=_moment(raw["created_at"]), total=raw["total"],
            state=raw["state"], started_at=_parse(raw["started_at"]),
            finished_at=_parse(raw["finished_at"]), next_index=start,
            successful=raw["successful"], failed=raw["failed"],
        )
        core.jobs[job.job_id] = job
    for name, target in (("applied", core.applied), ("submitted", core.submitted)):
        for slug, counts in data[name].items():
            target.setdefault(slug, Counter()).update(counts)
    core.next_job = data["next"]["job"]
    core.next_tx = data["next"]["tx"]
    core.next_customer = data["next"]["customer"]
    core.reindex()


def save(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        # dumps, not dump: dump writes thousands of small chunks and is several times slower.
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any] | None:
    """The saved state, or ``None`` when there is no file yet."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise StateFileError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise StateFileError(f"{path} does not hold a sandbox state")
    return data


def load_into(core: SandboxCore, path: Path) -> str | None:
    """Restore ``core`` from ``path`` if it exists. A file that cannot be restored is moved
    aside to ``<name>.broken`` (kept for a look) and the core starts fresh, because a
    training sandbox that refuses to start helps nobody; the returned notice says so."""
    try:
        data = load(path)
        if data is not None:
            restore(core, data)
        return None
    except (StateFileError, KeyError, TypeError, ValueError, AttributeError) as exc:
        core.reset()
        aside = path.with_name(path.name + ".broken")
        if path.exists():
            os.replace(path, aside)
        return (f"The sandbox state in {path} could not be restored ({exc}); it was moved "
                f"to {aside} and the sandbox started empty.")
