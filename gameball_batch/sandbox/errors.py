"""Gameball's error codes and the v4 error envelope, as the sandbox answers them.

Codes, names and HTTP statuses are reference §7.3; the envelope is §7.1. ``ItemFailure`` is
how an item handler refuses one item (it lands in ``response.failed``); ``JobNotFound`` is an
unknown job id. No I/O here.
"""

from __future__ import annotations

import uuid
from typing import Any

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

