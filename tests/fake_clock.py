"""A monotonic clock for tests that moves only when someone sleeps on it (or a test sets it).

Shared by the rate-limiter, client and ledger tests, so waiting is decided, not timed.
"""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
