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
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

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
