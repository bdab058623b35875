"""The client finds the status/stop routes Gameball serves (reference §9 C2/C3).

Each test runs its own sandbox over HTTP on 127.0.0.1 serving one documented pair
(GitBook ``GET/DELETE /batch/{jobId}`` or OpenAPI ``GET /batches/{id}/status`` +
``POST /batches/{id}/stop``), or both. Which requests the client sent is read from its
own debug log lines ("METHOD path -> status").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from ledgers import open_test_ledger
from submission_helpers import SAMPLES

from gameball_batch.client import GameballClient, NotFound, Paths
from gameball_batch.client.http import forget_proven_routes
from gameball_batch.sandbox import SandboxServer

STATUS = {"gitbook": ("GET", "/batch/{id}"), "openapi": ("GET", "/batches/{id}/status")}
STOP = {"gitbook": ("DELETE", "/batch/{id}"), "openapi": ("POST", "/batches/{id}/stop")}
API = "/api/v4.0/integrations"


def payload(tx: str) -> bytes:
    return json.dumps({"body": [{**SAMPLES["cashback"], "transactionId": tx,
                                 "customerId": "cus-1001"}]}).encode()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[SandboxServer] = []

    def start(routes: str) -> SandboxServer:
        server = SandboxServer(instant=True, rate_limit=False, seed_customers=2, routes=routes)
        server.__enter__()
        servers.append(server)
        forget_proven_routes(server.url)  # a port may be reused by a later test's server
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)
        forget_proven_routes(server.url)


@pytest.fixture
def sent(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG, logger="gameball_batch.client.http")

    def requests() -> list[tuple[str, str, str]]:
        out = []
        for record in caplog.records:
            if record.name == "gameball_batch.client.http" and " -> " in record.getMessage():
                method, path, _, status = record.getMessage().split(" ")
                out.append((method, path.removeprefix(API), status))
        caplog.clear()
        return out

    return requests


def client(server: SandboxServer, **options: Any) -> GameballClient:
    return GameballClient(server.url, server.api_key, server.secret_key, rate_limit=None,
                          timeout=10.0, **options)


def route(table: dict[str, tuple[str, str]], pair: str, job_id: str) -> tuple[str, str]:
    method, template = table[pair]
    return method, template.format(id=job_id)


@pytest.mark.parametrize("pair", ["gitbook", "openapi"])
def test_either_pair_works_with_no_setting_and_is_remembered(
        serve: Any, sent: Any, pair: str) -> None:
    server = serve(pair)
    proven: list[str] = []
    with client(server, on_routes=proven.append) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        sent()
        assert gb.get_status(job_id, "cashback").state == "completed"
        first = sent()
        assert first[-1] == (*route(STATUS, pair, job_id), "200")
        assert len(first) == (1 if pair == "gitbook" else 2)  # gitbook is tried first
        assert (gb.routes, gb.routes_proven, proven) == (pair, True, [pair])
        gb.get_status(job_id, "cashback")
        gb.stop(job_id)
        assert sent() == [(*route(STATUS, pair, job_id), "200"),
                          (*route(STOP, pair, job_id), "200")]
    with client(server, on_routes=proven.append) as again:  # the same process: known
        again.get_status(job_id, "cashback")
        assert sent() == [(*route(STATUS, pair, job_id), "200")]
    assert proven == [pair]  # called once, when the answer was new


def test_an_unknown_job_before_any_proof_is_not_found_on_both_and_proves_nothing(
        serve: Any, sent: Any) -> None:
    server = serve("openapi")
    proven: list[str] = []
    with client(server, on_routes=proven.append) as gb:
        with pytest.raises(NotFound):
            gb.get_status("424242", "cashback")
        assert [(m, p) for m, p, _ in sent()] == [route(STATUS, "gitbook", "424242"),
                                                  route(STATUS, "openapi", "424242")]
        assert (gb.routes, gb.routes_proven, proven) == ("gitbook", False, [])
        job_id = gb.create_batch("cashback", payload("INV-1"))
        assert gb.get_status(job_id, "cashback").state == "completed"
        assert (gb.routes, gb.routes_proven, proven) == ("openapi", True, ["openapi"])
        sent()
        with pytest.raises(NotFound):  # proven: a 404 is an unknown job, asked once
            gb.get_status("424242", "cashback")
        assert sent() == [(*route(STATUS, "openapi", "424242"), "404")]


def test_a_stop_before_any_status_read_finds_the_pair_itself(serve: Any, sent: Any) -> None:
    server = serve("openapi")
    proven: list[str] = []
    with client(server, on_routes=proven.append) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        sent()
        gb.stop(job_id)
        assert sent() == [(*route(STOP, "gitbook", job_id), "404"),
                          (*route(STOP, "openapi", job_id), "200")]
        assert proven == ["openapi"]


def test_a_remembered_pair_is_tried_first_and_not_reported_again(
        serve: Any, sent: Any) -> None:
    server = serve("openapi")
    proven: list[str] = []
    with client(server, remembered_routes="openapi", on_routes=proven.append) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        sent()
        gb.get_status(job_id, "cashback")
        assert sent() == [(*route(STATUS, "openapi", job_id), "200")]
        assert (gb.routes_proven, proven) == (True, [])


def test_a_stale_remembered_pair_falls_back_and_reports_the_new_one(
        serve: Any, sent: Any) -> None:
    server = serve("gitbook")
    proven: list[str] = []
    with client(server, remembered_routes="openapi", on_routes=proven.append) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        assert gb.get_status(job_id, "cashback").state == "completed"
        assert (gb.routes, proven) == ("gitbook", ["gitbook"])


def test_pinned_paths_are_never_switched(serve: Any, sent: Any) -> None:
    server = serve("gitbook")
    with client(server, paths=Paths.openapi()) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        sent()
        with pytest.raises(NotFound):
            gb.get_status(job_id, "cashback")
        assert sent() == [(*route(STATUS, "openapi", job_id), "404")]
        assert gb.routes == "pinned"


def test_a_sandbox_serving_both_pairs_settles_on_the_first(serve: Any, sent: Any) -> None:
    server = serve("both")
    with client(server) as gb:
        job_id = gb.create_batch("cashback", payload("INV-1"))
        sent()
        gb.get_status(job_id, "cashback")
        assert sent() == [(*route(STATUS, "gitbook", job_id), "200")]
        assert gb.routes == "gitbook"


def test_the_pair_found_is_kept_in_the_ledger_and_used_first_by_the_next_process(
        serve: Any, sent: Any, tmp_path: Any) -> None:
    """What the console and the CLI wire: a later client (another process, so no memory of
    its own) starts from the pair the ledger remembers and never tries the other."""
    import functools

    from gameball_batch.client.http import forget_proven_routes

    server = serve("openapi")
    with open_test_ledger(tmp_path) as ledger:
        remember = functools.partial(ledger.remember_routes, server.url)
        with client(server, remembered_routes=ledger.remembered_routes(server.url),
                    on_routes=remember) as gb:
            job_id = gb.create_batch("cashback", payload("INV-1"))
            gb.get_status(job_id, "cashback")
        assert ledger.remembered_routes(server.url) == "openapi"
        forget_proven_routes()  # as if this were a new process
        sent()
        with client(server, remembered_routes=ledger.remembered_routes(server.url),
                    on_routes=remember) as later:
            later.get_status(job_id, "cashback")
        assert sent() == [(*route(STATUS, "openapi", job_id), "200")]
