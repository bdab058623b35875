"""A client-side rate limiter: stay under Gameball's limits instead of collecting 429s.

Gameball limits "Others" (which batch endpoints presumably fall under) to 30 requests per
second and 360 per 30 seconds (reference §6). :class:`RateLimit` is that configuration (an
immutable value, safe as a default argument); :class:`RateLimiter` enforces it for every
thread that shares it. Pass one ``RateLimiter`` to several clients to give them one budget.

The limiter hands out send times ("reservations") in order: the n-th request of a window
may go no sooner than the window's length after the request n places before it. So in any
window of ``seconds`` there are never more than ``requests`` sends, however the server
aligns its windows, and waiting threads are served first come, first served.

This module must not do HTTP or read the real clock directly: clock and sleep are injected,
so tests decide with a fake clock what the limiter does, without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """``per_second`` requests per second and ``per_30s`` per 30 seconds, both at once."""

    per_second: float = 30.0
    per_30s: int = 360

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_second) and self.per_second > 0):
            raise ValueError(f"per_second must be more than 0, got {self.per_second}")
        if isinstance(self.per_30s, bool) or int(self.per_30s) != self.per_30s \
                or self.per_30s < 1:
            raise ValueError(f"per_30s must be a whole number of at least 1, got {self.per_30s}")

    def windows(self) -> tuple[tuple[int, float], ...]:
        """(requests, seconds) pairs. A fractional rate such as 2.5/s becomes 2 per 0.8 s."""
        burst = max(1, math.floor(self.per_second))
        return ((burst, burst / self.per_second), (int(self.per_30s), 30.0))


class RateLimiter:
    """Thread-safe enforcement of a :class:`RateLimit`; ``acquire()`` before every request."""

    def __init__(self, limit: RateLimit | None = None, *, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.limit = limit or RateLimit()
        self._windows = self.limit.windows()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=max(n for n, _ in self._windows))
        self._not_before = -math.inf

    def reserve(self) -> float:
        """Book the next free send time; seconds to wait until it (0.0 = send now)."""
        with self._lock:
            now = self._clock()
            at = max(now, self._not_before, self._sent[-1] if self._sent else now)
            for requests, seconds in self._windows:
                if len(self._sent) >= requests:
                    at = max(at, self._sent[-requests] + seconds)
            self._sent.append(at)
            return at - now

    def acquire(self) -> float:
        """Wait (with the injected sleep) until this request may go; the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def defer(self, seconds: float) -> None:
        """Gameball said 429: nobody sharing this limiter sends for ``seconds`` from now."""
        if seconds > 0:
            with self._lock:
                self._not_before = max(self._not_before, self._clock() + seconds)

    def __repr__(self) -> str:
        return (f"RateLimiter(per_second={self.limit.per_second}, "
                f"per_30s={self.limit.per_30s})")
