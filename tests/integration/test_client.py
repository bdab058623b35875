"""GameballClient against the real sandbox over HTTP on 127.0.0.1.

Faults come from the sandbox's own fault injection; "applied or not" is proven with the
sandbox's per-key counts. Sleeps are recorded, never slept; where a rate limiter is
involved, client and sandbox share one fake clock that only moves when the client sleeps.
"""

from __future__ import annotations

import json
import logging
import random
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fake_clock import FakeClock
from submission_helpers import SAMPLES

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import (
    AuthError,
    GameballClient,
    JobStatus,
    MaybeSent,
    NotFound,
    NotSent,
    Paths,
    RateLimit,
    ServerError,
)
from gameball_batch.client.errors import GameballError
from gameball_batch.sandbox import SandboxServer


def payload(*items: dict[str, Any]) -> bytes:
    return json.dumps({"body": list(items)}).encode()


def cashback(tx: str, customer: str = "cus-1001") -> dict[str, Any]:
    return {**SAMPLES["cashback"], "transactionId": tx, "customerId": customer}


def applied(sandbox: SandboxServer, slug: str, *, submitted: bool = False) -> dict[str, int]:
    with sandbox.state.lock:
        return dict(sandbox.core.counts(slug, submitted=submitted))


def set_faults(sandbox: SandboxServer, **faults: Any) -> None:
    sandbox.state.faults = sandbox.state.faults.updated(faults)


def pause_processing(sandbox: SandboxServer) -> None:
    sandbox.state.instant = False
    sandbox.state.item_rate = 0.0


def step(sandbox: SandboxServer, items: int) -> None:
    with sandbox.state.lock:
        sandbox.core.process(items)


@pytest.fixture
def sandbox(rich_sandbox: SandboxServer) -> SandboxServer:
    """This module reads the client's handling of every extra a reply may carry (the type's
    key, a numeric code, counts after a stop), so its sandbox answers richly. What the
    documented replies give is covered by test_client_documented.py and the runner tests."""
    return rich_sandbox


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def make_client(sandbox: SandboxServer, slept: list[float]) -> Iterator[
        Callable[..., GameballClient]]:
    made: list[GameballClient] = []

    def make(**options: Any) -> GameballClient:
        settings: dict[str, Any] = {"rate_limit": None, "sleep": slept.append,
                                    "rng": random.Random(0), "timeout": 10.0}
        settings.update(options)
        url = settings.pop("url", sandbox.url)
        client = GameballClient(url, settings.pop("api_key", sandbox.api_key),
                                settings.pop("secret_key", sandbox.secret_key), **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., GameballClient]) -> GameballClient:
    return make_client()


# --- the happy path ------------------------------------------------------------------------


def test_a_job_is_polled_from_queued_through_running_to_completed(
    sandbox: SandboxServer, client: GameballClient
) -> None:
    pause_processing(sandbox)
    job_id = client.create_batch("cashback", payload(cashback("INV-1"), cashback("INV-2")))
    assert client.get_status(job_id, "cashback").state == "queued"
    step(sandbox, 1)
    running = client.get_status(job_id, "cashback")
    assert running.state == "running"
    assert [i.key for i in running.successful] == ["INV-1"]
    step(sandbox, 1)
    done = client.get_status(job_id, "cashback")
    assert (done.state, done.finished_count, done.error_count) == ("completed", 2, 0)
    assert [i.key for i in done.successful] == ["INV-1", "INV-2"]


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_every_type_is_created_and_its_results_keyed_by_the_types_result_key(
    slug: str, client: GameballClient
) -> None:
    item = SAMPLES[slug]
    job_id = client.create_batch(slug, payload(item))
    status = client.get_status(job_id, slug)
    assert status.state == "completed"
    assert [i.key for i in status.successful] == [str(item[BATCH_TYPES[slug].result_key])]


def test_failed_items_carry_key_message_and_code(client: GameballClient) -> None:
    job_id = client.create_batch("cashback", payload(cashback("INV-7", "cus-9999")))
    failed = client.get_status(job_id).failed  # no type given: the operation name decides
    assert [(f.key, f.message, f.code) for f in failed] == [("INV-7", "Customer Not Found", 7000)]


@pytest.mark.parametrize("paths", [Paths.gitbook(), Paths.openapi()], ids=["gitbook", "openapi"])
def test_both_path_presets_read_status_and_stop_a_job(
    sandbox: SandboxServer, make_client: Callable[..., GameballClient], paths: Paths
) -> None:
    client = make_client(paths=paths)
    pause_processing(sandbox)
    job_id = client.create_batch("cashback", payload(cashback("INV-1"), cashback("INV-2")))
    step(sandbox, 1)
    status = client.get_status(job_id, "cashback")
    assert status.state == "running"
    assert [i.key for i in status.successful] == ["INV-1"]
    client.stop(job_id)
    assert client.get_status(job_id, "cashback").state == "stopped"
    assert applied(sandbox, "cashback") == {"INV-1": 1}


@pytest.mark.parametrize(("spelling", "raw"), [
    ("lower", ("queued", "running", "completed")),
    ("capitalised", ("Queued", "Running", "Completed")),
    ("openapi", ("pending", "processing", "completed")),
    ("v3", ("pending", "inProgress", "finished")),
])
def test_every_status_spelling_the_sandbox_can_send_is_understood(
    sandbox: SandboxServer, client: GameballClient, spelling: str, raw: tuple[str, ...]
) -> None:
    set_faults(sandbox, status_spelling=spelling)
    pause_processing(sandbox)
    job_id = client.create_batch("cashback", payload(cashback("INV-1"), cashback("INV-2")))
    seen: list[JobStatus] = [client.get_status(job_id)]
    step(sandbox, 1)
    seen.append(client.get_status(job_id))
    step(sandbox, 1)
    seen.append(client.get_status(job_id))
    assert [s.state for s in seen] == ["queued", "running", "completed"]
    assert tuple(s.raw_status for s in seen) == raw


@pytest.mark.parametrize("message_key", ["error", "mixed"])
def test_failure_messages_are_read_under_error_as_well_as_message(
    sandbox: SandboxServer, client: GameballClient, message_key: str
) -> None:
    set_faults(sandbox, message_key=message_key)
    items = [cashback(f"INV-{n}", "cus-9999") for n in range(3)]
    status = client.get_status(client.create_batch("cashback", payload(*items)), "cashback")
    assert [f.message for f in status.failed] == ["Customer Not Found"] * 3
    assert [f.key for f in status.failed] == ["INV-0", "INV-1", "INV-2"]


# --- refusals ------------------------------------------------------------------------------


def test_a_wrong_secret_key_is_an_auth_error_that_does_not_show_the_key(
    make_client: Callable[..., GameballClient]
) -> None:
    client = make_client(secret_key="wrong-secret-6c1f")
    with pytest.raises(AuthError) as caught:
        client.create_batch("cashback", payload(cashback("INV-1")))
    assert (caught.value.status, caught.value.code) == (401, 1000)
    assert "wrong-secret-6c1f" not in str(caught.value)
    assert "POST /api/v4.0/integrations/batch/cashback" in str(caught.value)


def test_a_missing_secret_key_is_named_by_gameballs_code(
    make_client: Callable[..., GameballClient]
) -> None:
    with pytest.raises(AuthError) as caught:
        make_client(secret_key="").get_status("1")
    assert caught.value.code == 1001


def test_an_unknown_job_is_not_found(client: GameballClient) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_status("999999")
    assert caught.value.code == 4004


# --- 429: retried for status and creation --------------------------------------------------


def test_a_429_burst_is_waited_out_for_creation_and_status(
    sandbox: SandboxServer, client: GameballClient, slept: list[float]
) -> None:
    set_faults(sandbox, rate_limit_next=2)
    job_id = client.create_batch("cashback", payload(cashback("INV-1")))
    assert slept == [1.0, 1.0]  # the sandbox's Retry-After, honoured as given
    set_faults(sandbox, rate_limit_next=3)
    assert client.get_status(job_id).state == "completed"
    assert slept == [1.0] * 5
    assert applied(sandbox, "cashback") == {"INV-1": 1}


def test_a_429_burst_holds_back_everyone_sharing_the_client_limiter(
    sandbox: SandboxServer, make_client: Callable[..., GameballClient]
) -> None:
    clock = FakeClock(1000.0)
    client = make_client(rate_limit=RateLimit(), clock=clock, sleep=clock.sleep)
    set_faults(sandbox, rate_limit_next=2)
    job_id = client.create_batch("cashback", payload(cashback("INV-1")))
    assert clock.slept == [1.0, 1.0]  # Retry-After, waited in the shared limiter
    assert client.get_status(job_id).state == "completed"
    assert applied(sandbox, "cashback") == {"INV-1": 1}


def test_the_sandboxs_own_rate_limit_is_retried_after_its_retry_after() -> None:
    clock = FakeClock(1000.0)
    with SandboxServer(instant=True, rate_limit=True, rate_per_second=2, rate_per_30s=100,
                       seed_customers=5, monotonic=clock) as server, \
            GameballClient(server.url, server.api_key, server.secret_key, rate_limit=None,
                           clock=clock, sleep=clock.sleep, rng=random.Random(0)) as client:
        jobs = [client.create_batch("cashback", payload(cashback(f"INV-{n}")))
                for n in range(3)]
        states = [client.get_status(job).state for job in jobs]
        counts = dict(server.core.counts("cashback"))
    assert states == ["completed"] * 3
    assert clock.slept  # some calls met a 429 and waited
    assert counts == {"INV-0": 1, "INV-1": 1, "INV-2": 1}


@contextmanager
def _both_limited(clock: FakeClock) -> Iterator[GameballClient]:
    """A client limited to 2/s and 5 per 30 s against a sandbox enforcing the same; a single
    429 would raise (max_retries=0)."""
    with SandboxServer(instant=True, rate_limit=True, rate_per_second=2, rate_per_30s=5,
                       seed_customers=5, monotonic=clock) as server, \
            GameballClient(server.url, server.api_key, server.secret_key,
                           rate_limit=RateLimit(per_second=2, per_30s=5), max_retries=0,
                           clock=clock, sleep=clock.sleep) as client:
        yield client


def test_the_client_limiter_keeps_under_the_sandboxs_limit_so_no_429_is_met() -> None:
    clock = FakeClock(1000.0)
    with _both_limited(clock) as client:
        jobs = [client.create_batch("cashback", payload(cashback(f"INV-{n}")))
                for n in range(6)]
    assert len(jobs) == 6
    assert clock.slept == [1.0, 1.0, 28.0]  # 2 per second, then the 30-second window


def test_creations_and_status_reads_spend_separate_budgets_at_both_ends() -> None:
    clock = FakeClock(1000.0)
    with _both_limited(clock) as client:
        jobs = [client.create_batch("cashback", payload(cashback(f"INV-{n}"))) for n in range(2)]
        states = [client.get_status(job).state for job in jobs]
    assert states == ["completed"] * 2
    assert clock.slept == []  # two creations and two reads within one second's budget


# --- creation failures that must not be retried ----------------------------------------------


def test_a_500_before_applying_is_raised_once_and_nothing_was_applied(
    sandbox: SandboxServer, client: GameballClient, slept: list[float]
) -> None:
    set_faults(sandbox, error_before_next=2)
    with pytest.raises(ServerError) as caught:
        client.create_batch("adjustments", payload(SAMPLES["adjustments"]))
    assert caught.value.status == 500
    assert sandbox.state.faults.error_before_next == 1  # one attempt, not retried
    assert slept == []
    assert applied(sandbox, "adjustments", submitted=True) == {}


def test_a_500_after_applying_is_raised_once_and_applied_exactly_once(
    sandbox: SandboxServer, client: GameballClient
) -> None:
    set_faults(sandbox, error_after_next=2)
    with pytest.raises(ServerError):
        client.create_batch("adjustments", payload(SAMPLES["adjustments"]))
    assert sandbox.state.faults.error_after_next == 1
    assert applied(sandbox, "adjustments") == {"cus-1003": 1}


def test_a_dropped_connection_after_applying_is_maybe_sent_and_not_retried(
    sandbox: SandboxServer, client: GameballClient
) -> None:
    set_faults(sandbox, drop_after_next=2)
    with pytest.raises(MaybeSent, match="may have received"):
        client.create_batch("events", payload(SAMPLES["events"]))
    assert sandbox.state.faults.drop_after_next == 1
    assert applied(sandbox, "events") == {"cus-1004": 1}


def test_status_calls_retry_server_errors(
    sandbox: SandboxServer, client: GameballClient, slept: list[float]
) -> None:
    job_id = client.create_batch("cashback", payload(cashback("INV-1")))
    set_faults(sandbox, status_errors_next=2)
    assert client.get_status(job_id).state == "completed"
    assert len(slept) == 2


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_refused_connection_is_not_sent_after_retrying(
    make_client: Callable[..., GameballClient], slept: list[float]
) -> None:
    client = make_client(url=f"http://127.0.0.1:{closed_port()}", max_retries=2)
    with pytest.raises(NotSent, match="nothing was sent"):
        client.create_batch("cashback", payload(cashback("INV-1")))
    assert len(slept) == 2  # provably never sent, so creation may retry


@pytest.mark.parametrize("url", ["api.gameball.co", "http://", "ftp://api.gameball.co",
                                 "https://[::1"])
def test_a_base_url_that_is_not_http_is_refused_with_an_example(url: str) -> None:
    with pytest.raises(ValueError, match=r"must look like https://api\.gameball\.co"):
        GameballClient(url, "ak", "sk")


def test_a_key_with_a_line_break_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="secret key contains") as caught:
        GameballClient("https://api.gameball.co", "ak", "sk-9f3e\nextra")
    assert "9f3e" not in str(caught.value)


# --- keys never leak -----------------------------------------------------------------------


def test_the_keys_never_appear_in_errors_reprs_or_debug_logs(
    sandbox: SandboxServer, make_client: Callable[..., GameballClient],
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    good = make_client(max_retries=1)
    wrong = make_client(secret_key="wrong-secret-6c1f")
    refused = make_client(url=f"http://127.0.0.1:{closed_port()}", max_retries=1)
    job_id = good.create_batch("cashback", payload(cashback("INV-1")))
    texts += [repr(good.get_status(job_id)), repr(good), str(good)]
    set_faults(sandbox, status_errors_next=5, drop_after_next=1)
    attempts: list[Callable[[], object]] = [
        lambda: good.get_status(job_id),
        lambda: good.create_batch("cashback", payload(cashback("INV-2"))),
        lambda: wrong.get_status(job_id),
        lambda: refused.stop(job_id),
    ]
    for attempt in attempts:
        with pytest.raises(GameballError) as caught:
            attempt()
        texts += [str(caught.value), repr(caught.value)]
    texts += [caplog.text, repr(wrong)]
    secrets = (sandbox.api_key, sandbox.secret_key, "wrong-secret-6c1f")
    leaks = [(secret, text) for secret in secrets for text in texts if secret in text]
    assert leaks == []
    assert "GET /api/v4.0/integrations/batch/" in caplog.text  # the logs did say something
