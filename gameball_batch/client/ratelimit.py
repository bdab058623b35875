"""A client-side rate limiter: stay under Gameball's limits instead of collecting 429s.

Gameball limits "Others" (which batch endpoints presumably fall under) to 30 requests per
second and 360 per 30 seconds (reference §6). :class:`RateLimit` is that configuration (an
immutable value, safe as a default argument); :class:`RateLimiter` enforces it for every
thread that shares it. Pass one ``RateLimiter`` to several clients to give them one budget.

Budgets are kept per HTTP method by default: Gameball's table gives "each resource its own
bucket" and lists a resource's GET and POST as separate rows with their own numbers
(Transactions GET 30 and POST 30; Customers GET 100 but POST 30), so creating batches (POST)
and reading their status (GET) each get 30/s and 360 per 30 s. ``RateLimit(shared=True)``
puts every request in one budget, for an account where Gameball counts them together
(its 429s would say so; the client waits them out either way).

The limiter hands out send times ("reservations") in order: the n-th request of a window
may go no sooner than the window's length after the request n places before it. So in any
window of ``seconds`` there are never more than ``requests`` sends, however the server
aligns its windows, and waiting threads are served first come, first served.

Several processes sending for one account (console replicas and headless runners on one
PostgreSQL ledger) share one budget through :class:`SharedRateLimiter`, which books each
send in the ledger instead of in memory.

This module must not do HTTP or read the real clock directly: clock and sleep are injected,
so tests decide with a fake clock what the limiter does, without waiting.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """``per_second`` requests per second and ``per_30s`` per 30 seconds, both at once,
    for each HTTP method (or for all requests together when ``shared``)."""

    per_second: float = 30.0
    per_30s: int = 360
    shared: bool = False

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
    """Thread-safe enforcement of a :class:`RateLimit`; ``acquire(bucket)`` before every request.

    ``bucket`` names the budget a request counts against (the client passes its HTTP
    method); a shared limit ignores it.
    """

    def __init__(self, limit: RateLimit | None = None, *, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.limit = limit or RateLimit()
        self._windows = self.limit.windows()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, bucket: str = "") -> float:
        """Book the bucket's next free send time; seconds to wait until it (0.0 = send now)."""
        with self._lock:
            return self._bucket(bucket).reserve(self._clock(), self._windows)

    def acquire(self, bucket: str = "") -> float:
        """Wait (with the injected sleep) until this request may go; the seconds waited."""
        wait = self.reserve(bucket)
        if wait > 0:
            self._sleep(wait)
        return wait

    def defer(self, seconds: float, bucket: str = "") -> None:
        """Gameball said 429: nothing in that bucket is sent for ``seconds`` from now."""
        if seconds > 0:
            with self._lock:
                target = self._bucket(bucket)
                target.not_before = max(target.not_before, self._clock() + seconds)

    def _bucket(self, name: str) -> _Bucket:
        key = "" if self.limit.shared else name.upper()
        found = self._buckets.get(key)
        if found is None:
            found = self._buckets[key] = _Bucket(max(n for n, _ in self._windows))
        return found

    def __repr__(self) -> str:
        return (f"RateLimiter(per_second={self.limit.per_second}, "
                f"per_30s={self.limit.per_30s}, shared={self.limit.shared})")


class _Bucket:
    """One budget's booked send times (call with the limiter's lock held)."""

    __slots__ = ("not_before", "sent")

    def __init__(self, depth: int) -> None:
        self.sent: deque[float] = deque(maxlen=depth)
        self.not_before = -math.inf

    def reserve(self, now: float, windows: tuple[tuple[int, float], ...]) -> float:
        at = max(now, self.not_before, self.sent[-1] if self.sent else now)
        for requests, seconds in windows:
            if len(self.sent) >= requests:
                at = max(at, self.sent[-requests] + seconds)
        self.sent.append(at)
        return at - now


class BookingStore(Protocol):
    """Somewhere several processes keep one budget's bookings (the ledger: see
    :meth:`~gameball_batch.ledger.store.Ledger.update_meta`)."""

    def now(self) -> float: ...

    def update_meta(self, key: str, change: Callable[[str | None], tuple[str, Any]]) -> Any: ...


class SharedRateLimiter(RateLimiter):
    """A :class:`RateLimit` kept for every process that shares ``store``: consoles, CLIs and
    headless runners on one ledger stay under Gameball's limits together.

    Each reservation is booked in one transaction of the store, with the store's clock (the
    database's), by the same rule as :class:`RateLimiter`. ``scope`` names the budget's
    owner (a Gameball account), so two accounts do not share one.
    """

    # Between its booking and Gameball, a request crosses a database round trip, a sleep
    # and a thread switch in one of several processes: it may arrive a little after its
    # booked time while a later one arrives on time, and a strict counter then sees one too
    # many in a window (two 429s in 12 jobs against the sandbox, measured). Each window is
    # booked this much longer: 30 per 1.1 s, 360 per 30.1 s.
    MARGIN = 0.1

    def __init__(self, limit: RateLimit, store: BookingStore, scope: str, *,
                 sleep: Sleep = time.sleep) -> None:
        super().__init__(limit, clock=store.now, sleep=sleep)
        self._windows = tuple((n, s + self.MARGIN) for n, s in self._windows)
        self._store = store
        self._scope = scope

    def _key(self, bucket: str) -> str:
        return f"rate:{self._scope}:{'' if self.limit.shared else bucket.upper()}"

    def reserve(self, bucket: str = "") -> float:
        depth = max(n for n, _ in self._windows)

        def book(state: str | None) -> tuple[str, float]:
            held = _Bucket(depth)
            if state:
                saved = json.loads(state)
                held.sent.extend(saved["sent"][-depth:])
                held.not_before = -math.inf if saved["not_before"] is None \
                    else float(saved["not_before"])
            now = self._store.now()
            wait = held.reserve(now, self._windows)
            # Bookings older than the longest window no longer limit anything.
            horizon = now - max(s for _, s in self._windows)
            kept = [t for t in held.sent if t > horizon]
            not_before = None if held.not_before == -math.inf else held.not_before
            return json.dumps({"sent": kept, "not_before": not_before}), wait

        wait: float = self._store.update_meta(self._key(bucket), book)
        return wait

    def defer(self, seconds: float, bucket: str = "") -> None:
        if seconds <= 0:
            return

        def push(state: str | None) -> tuple[str, None]:
            saved = json.loads(state) if state else {"sent": [], "not_before": None}
            until = self._store.now() + seconds
            saved["not_before"] = max(until, saved["not_before"] or until)
            return json.dumps(saved), None

        self._store.update_meta(self._key(bucket), push)

    def __repr__(self) -> str:
        return (f"SharedRateLimiter(per_second={self.limit.per_second}, "
                f"per_30s={self.limit.per_30s}, shared={self.limit.shared}, "
                f"scope={self._scope!r})")


def limiter_for(limit: RateLimit, ledger: Any, scope: str) -> RateLimit | RateLimiter:
    """The limiter for a client of the account ``scope``: booked in ``ledger`` when several
    machines' processes share it (PostgreSQL), so console replicas and headless runners
    keep one budget; else this process's own.

    Not on SQLite: a booking is a write between the sending claim (fsynced) and the
    request, and the processes that share a SQLite file are one console and a CLI at most.
    """
    if getattr(ledger, "shared_by_processes", False):
        return SharedRateLimiter(limit, ledger, scope)
    return limit
