"""When a failed call may be tried again, and how long to wait first.

Reads (status) and stops are harmless to repeat, so they retry on every transport error,
429 and 5xx. A creation POST is not: Gameball has no idempotency key, so it is retried only
when the request provably never left (:class:`NotSent`) or was refused before processing
(429). A 5xx or :class:`MaybeSent` on creation goes straight back to the caller, which marks
the chunk in doubt (DESIGN.md, "Submission, exactly once").

Waits grow exponentially with "equal jitter" (half fixed, half random) up to a cap; a
``Retry-After`` hint is honoured as given, unless it is longer than ``max_retry_after``, in
which case the error is raised so the caller can schedule the work instead of holding a
thread.

This module must not sleep or do I/O: it only decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from gameball_batch.client.errors import (
    ApiError,
    GameballError,
    NotSent,
    RateLimited,
    ServerError,
    TransportError,
)

Operation = Literal["create", "status", "stop"]


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Exponential backoff: ``initial`` × ``factor``ⁿ seconds, at most ``maximum``."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    max_retry_after: float = 60.0  # a longer Retry-After is the caller's to schedule

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1:
            raise ValueError("backoff needs initial >= 0, maximum >= 0 and factor >= 1")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds before retry number ``retry`` (0 = the first retry), jittered."""
        ceiling = min(self.maximum, self.initial * self.factor ** retry)
        return ceiling / 2 + rng.random() * ceiling / 2


def retryable(operation: Operation, error: GameballError) -> bool:
    """Whether ``error`` on ``operation`` may be retried at all."""
    if operation == "create":
        return isinstance(error, NotSent | RateLimited)
    return isinstance(error, TransportError | RateLimited | ServerError)


def retry_delay(operation: Operation, error: GameballError, retry: int, *, max_retries: int,
                backoff: Backoff, rng: random.Random) -> float | None:
    """Seconds to wait before retry number ``retry``, or None to raise ``error`` now."""
    if retry >= max_retries or not retryable(operation, error):
        return None
    hint = error.retry_after if isinstance(error, ApiError) else None
    if hint is not None:
        return hint if hint <= backoff.max_retry_after else None
    return backoff.delay(retry, rng)
