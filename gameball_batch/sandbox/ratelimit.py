"""The sandbox's rate limiter: Gameball's "Others" limits of reference §6.

Time comes from an injected monotonic clock, so tests can step it. No I/O here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Monotonic = Callable[[], float]


class RateLimiter:
    """Gameball's "Others" limits (reference §6): 30 per second and 360 per 30 s, per key
    and HTTP method (the table gives a resource's GET and POST their own rows), or per key
    alone when ``shared``."""

    def __init__(
        self, *, per_second: int = 30, per_30s: int = 360, shared: bool = False,
        monotonic: Monotonic,
    ) -> None:
        self.per_second = per_second
        self.per_30s = per_30s
        self.shared = shared
        self._monotonic = monotonic
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def admit(self, key: str, method: str = "") -> float:
        """0.0 when the request may pass (and is counted), else seconds until it could."""
        now = self._monotonic()
        hits = self._hits.setdefault((key, "" if self.shared else method.upper()), deque())
        while hits and hits[0] <= now - 30.0:
            hits.popleft()
        if len(hits) >= self.per_30s:
            return hits[-self.per_30s] + 30.0 - now
        recent = len(hits) - _first_after(hits, now - 1.0)
        if recent >= self.per_second:
            return hits[-self.per_second] + 1.0 - now
        hits.append(now)
        return 0.0


def _first_after(hits: deque[float], moment: float) -> int:
    """Index of the first hit after ``moment``; scans from the newest (at most 30 steps)."""
    index = len(hits)
    while index > 0 and hits[index - 1] > moment:
        index -= 1
    return index

