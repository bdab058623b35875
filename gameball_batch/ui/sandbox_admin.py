"""A tiny client for the sandbox's ``/_sandbox/`` debug endpoints, for the Settings page.

Reset, seed, faults and processing speed, over plain ``urllib`` (httpx belongs to
``gameball_batch.client`` alone). It speaks to any sandbox URL, so it works for the embedded
sandbox and for one started with ``python -m gameball_batch sandbox``. Errors come back as
:class:`SandboxAdminError` with an operator message.

This module must not import streamlit, and must never be pointed at a production URL: it
refuses anything but a loopback host.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from gameball_batch import exports

TIMEOUT = 10.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class SandboxAdminError(RuntimeError):
    """The sandbox refused or did not answer; ``str(e)`` says what to do."""


def _call(base_url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise SandboxAdminError(
            f"Sandbox controls only talk to a local sandbox, not to {base_url}."
        )
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the scheme and host are checked above
        base_url.rstrip("/") + "/_sandbox" + path, data=data, method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise SandboxAdminError(_refusal(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise SandboxAdminError(
            f"The sandbox at {base_url} did not answer ({exc}). Restart the console."
        ) from None


def _refusal(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
        message = payload.get("message") or payload.get("error") or ""
    except (ValueError, AttributeError):
        message = ""
    return f"The sandbox refused: {message or exc.reason} (HTTP {exc.code})."


def health(base_url: str) -> bool:
    return bool(_call(base_url, "GET", "/health"))


def reset(base_url: str) -> int:
    """Forget all data and restore start faults and speed; the number of customers left."""
    answer = _call(base_url, "POST", "/reset", {})
    return int(answer.get("customers", 0))


def seed(base_url: str, count: int) -> int:
    """Create (or top up) demo customers cus-1001 … ; how many were seeded."""
    answer = _call(base_url, "POST", "/seed", {"count": int(count)})
    return len(answer.get("customerIds", []))


def faults(base_url: str) -> dict[str, Any]:
    answer: dict[str, Any] = _call(base_url, "GET", "/faults")
    return answer


def set_faults(base_url: str, changes: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = _call(base_url, "POST", "/faults", changes)
    return answer


def clear_faults(base_url: str) -> dict[str, Any]:
    answer: dict[str, Any] = _call(base_url, "DELETE", "/faults")
    return answer


def processing(base_url: str) -> dict[str, Any]:
    answer: dict[str, Any] = _call(base_url, "GET", "/processing")
    return answer


def set_item_rate(base_url: str, items_per_second: float) -> dict[str, Any]:
    answer: dict[str, Any] = _call(base_url, "POST", "/processing",
                                   {"itemRate": float(items_per_second)})
    return answer


# --- the customers an operator can practise with -------------------------------------------

CUSTOMER_COLUMNS = ("customerId", "points", "availablePoints", "email", "mobile")
_DEMO_ID = re.compile(r"cus-(\d+)")


@dataclass(frozen=True)
class Customers:
    """The sandbox's customers, as the Settings page lists them."""

    rows: list[dict[str, Any]]  # one per customer, CUSTOMER_COLUMNS only

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def demo_range(self) -> tuple[str, str] | None:
        """First and last seeded id (cus-1001 …), or None when there is none."""
        numbers = sorted(int(m.group(1)) for row in self.rows
                         if (m := _DEMO_ID.fullmatch(str(row["customerId"]))))
        return (f"cus-{numbers[0]}", f"cus-{numbers[-1]}") if numbers else None

    def to_csv_bytes(self) -> bytes:
        """The list as a CSV download (exports.py: every value text, never a formula)."""
        frame = pd.DataFrame([{k: row.get(k) for k in CUSTOMER_COLUMNS} for row in self.rows],
                             columns=list(CUSTOMER_COLUMNS))
        return exports.to_csv_bytes(frame)


def customers(base_url: str) -> Customers:
    """Every customer of the sandbox with the balance they hold now."""
    answer = _call(base_url, "GET", "/customers")
    rows = [{k: entry.get(k) for k in CUSTOMER_COLUMNS}
            for entry in answer if isinstance(entry, dict)] if isinstance(answer, list) else []
    return Customers(rows=rows)
