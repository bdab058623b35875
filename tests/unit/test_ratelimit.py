"""The client-side rate limiter, decided on a fake clock: no real waiting, no timings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from fake_clock import FakeClock

from gameball_batch.client.ratelimit import RateLimit, RateLimiter


def limiter(clock: FakeClock, **limit: float) -> RateLimiter:
    return RateLimiter(RateLimit(**limit), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def send_times(clock: FakeClock, lim: RateLimiter, count: int) -> list[float]:
    times = []
    for _ in range(count):
        lim.acquire()
        times.append(clock.now)
    return times


def most_in_any_window(times: Sequence[float], seconds: float) -> int:
    """The largest number of sends inside any half-open window [t, t + seconds)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_defaults_are_gameballs_published_limits() -> None:
    assert RateLimit() == RateLimit(per_second=30, per_30s=360, shared=False)


def test_creations_and_status_reads_each_have_their_own_budget() -> None:
    # Gameball lists a resource's GET and POST with their own limits (reference §6): a full
    # second of creations leaves status reads free to go.
    clock = FakeClock()
    lim = limiter(clock)
    assert [lim.reserve("POST") for _ in range(30)] == [0.0] * 30
    assert lim.reserve("GET") == 0.0
    assert lim.reserve("post") == 1.0  # the method's spelling does not open a new budget


def test_a_shared_limit_counts_every_request_together() -> None:
    clock = FakeClock()
    lim = RateLimiter(RateLimit(shared=True), clock=clock, sleep=clock.sleep)
    assert [lim.reserve("POST") for _ in range(30)] == [0.0] * 30
    assert lim.reserve("GET") == 1.0


def test_a_429_on_status_reads_holds_back_only_status_reads() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    lim.defer(5.0, "GET")
    assert lim.reserve("GET") == 5.0
    assert lim.reserve("POST") == 0.0


def test_thirty_requests_go_at_once_and_the_31st_waits_a_second() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    assert [lim.reserve() for _ in range(30)] == [0.0] * 30
    assert lim.reserve() == 1.0


def test_the_361st_request_waits_for_the_30_second_window() -> None:
    clock = FakeClock()
    times = send_times(clock, limiter(clock), 361)
    assert times[359] < 30.0
    assert times[360] == 30.0


def test_a_long_run_never_exceeds_either_limit_in_any_window() -> None:
    clock = FakeClock()
    times = send_times(clock, limiter(clock), 1000)
    assert most_in_any_window(times, 1.0) == 30
    assert most_in_any_window(times, 30.0) == 360


def test_limits_are_configurable() -> None:
    clock = FakeClock()
    times = send_times(clock, limiter(clock, per_second=2, per_30s=5), 6)
    assert times == [0.0, 0.0, 1.0, 1.0, 2.0, 30.0]


def test_a_fractional_rate_spaces_requests_evenly() -> None:
    clock = FakeClock()
    times = send_times(clock, limiter(clock, per_second=0.5, per_30s=100), 3)
    assert times == [0.0, 2.0, 4.0]


def test_an_idle_limiter_lets_requests_through_at_once() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    send_times(clock, lim, 100)
    clock.now += 60.0
    assert lim.reserve() == 0.0


def test_a_429_defers_every_user_of_the_limiter() -> None:
    clock = FakeClock()
    lim = limiter(clock)
    lim.defer(5.0)
    assert lim.reserve() == 5.0
    assert lim.reserve() == 5.0  # the second request of that instant goes at the same time


def test_threads_sharing_a_limiter_get_a_schedule_that_respects_both_limits() -> None:
    clock = FakeClock()  # frozen at 0: every thread asks at the same instant
    lim = limiter(clock, per_second=10, per_30s=50)
    waits: list[float] = []
    guard = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            wait = lim.reserve()
            with guard:
                waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(waits) == 160
    assert most_in_any_window(waits, 1.0) == 10
    assert most_in_any_window(waits, 30.0) == 50


@pytest.mark.parametrize(("options", "words"), [
    ({"per_second": 0}, "per_second must be more than 0"),
    ({"per_second": float("nan")}, "per_second must be more than 0"),
    ({"per_30s": 0}, "per_30s must be a whole number"),
    ({"per_30s": 2.5}, "per_30s must be a whole number"),
])
def test_impossible_limits_are_refused_with_a_message(options: dict[str, float],
                                                      words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RateLimit(**options)  # type: ignore[arg-type]


def test_processes_sharing_a_ledger_share_one_budget(tmp_path: Path) -> None:
    """Three workers on one ledger (PostgreSQL in production) each book their sends in it:
    together they never exceed Gameball's limits, though each alone would allow 30/s."""
    from ledgers import open_test_ledger

    from gameball_batch.client.ratelimit import SharedRateLimiter

    clock = FakeClock()
    with open_test_ledger(tmp_path, clock=lambda: clock.now) as ledger:
        workers = [SharedRateLimiter(RateLimit(), ledger, "acct", sleep=lambda _s: None)
                   for _ in range(3)]
        times = []
        for i in range(450):  # round-robin: each books, then "sleeps" until its time
            wait = workers[i % 3].reserve("POST")
            times.append(clock.now + wait)
            clock.now += 0.001
        # (now + wait) is the booked time up to a rounding error: windows a hair shorter.
        assert most_in_any_window(times, 1.0 - 1e-9) == 30
        assert most_in_any_window(times, 30.0 - 1e-9) == 360
        # Another account, and status reads, have budgets of their own.
        other = SharedRateLimiter(RateLimit(), ledger, "other-acct", sleep=lambda _s: None)
        assert other.reserve("POST") == 0.0
        assert workers[0].reserve("GET") == 0.0
        # A 429 seen by one worker holds back the others.
        workers[1].defer(5.0, "GET")
        assert workers[2].reserve("GET") >= 4.99
