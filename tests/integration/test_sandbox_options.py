"""Sandbox options over real HTTP on 127.0.0.1: route pairs, the Order Transactions batch,
per-customer transaction counts and a state that survives a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from submission_helpers import SAMPLES, wait_until

from gameball_batch.sandbox import SandboxServer

API = "/api/v4.0/integrations"


def client(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"APIKey": server.api_key, "SecretKey": server.secret_key})


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with client(sandbox) as http:
        yield http


def create(http: httpx.Client, endpoint: str, items: list[Any]) -> int:
    response = http.post(f"{API}/batch/{endpoint}", json={"body": items})
    assert response.status_code == 200, response.text
    job_id: int = response.json()["jobId"]
    return job_id


def status(http: httpx.Client, job_id: int) -> dict[str, Any]:
    response = http.get(f"{API}/batch/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cashback(tx: str, customer: str = "cus-1001") -> dict[str, Any]:
    return {**SAMPLES["cashback"], "transactionId": tx, "customerId": customer}


# --- route pairs (ref §9 C2/C3) ---------------------------------------------------------------


@pytest.mark.parametrize(("routes", "served", "refused"), [
    ("gitbook", [("GET", "/batch/{id}"), ("DELETE", "/batch/{id}")],
     [("GET", "/batches/{id}/status"), ("POST", "/batches/{id}/stop")]),
    ("openapi", [("GET", "/batches/{id}/status"), ("POST", "/batches/{id}/stop")],
     [("GET", "/batch/{id}"), ("DELETE", "/batch/{id}")]),
    ("both", [("GET", "/batch/{id}"), ("DELETE", "/batch/{id}"),
              ("GET", "/batches/{id}/status"), ("POST", "/batches/{id}/stop")], []),
])
def test_one_route_pair_is_served_and_the_other_is_an_unknown_route(
        routes: str, served: list[tuple[str, str]], refused: list[tuple[str, str]]) -> None:
    with SandboxServer(instant=True, rate_limit=False, seed_customers=1,
                       routes=routes) as server, client(server) as http:
        job_id = create(http, "cashback", [cashback("INV-1")])
        for method, template in served:
            response = http.request(method, API + template.format(id=job_id))
            assert response.status_code == 200, (method, template, response.text)
        for method, template in refused:
            response = http.request(method, API + template.format(id=job_id))
            assert response.status_code == 404, (method, template)
            assert response.json()["code"] == 4004
            assert "No such endpoint" in response.json()["message"]
        assert http.get("/_sandbox/health").json()["routes"] == routes


def test_an_unknown_route_option_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="both, gitbook, openapi"):
        SandboxServer(routes="swagger")


# --- Order Transactions (ref §2.8, §3.9) -------------------------------------------------------


def test_order_transactions_answer_every_id_once(http: httpx.Client) -> None:
    create(http, "orders", [{"customerId": "cus-1002", "orderId": "SO-9",
                             "orderDate": "2026-01-02T03:04:05Z", "totalPaid": 80}])
    create(http, "cashback", [cashback("INV-1")])
    job_id = create(http, "orders/transactions", ["SO-9", "INV-1", "MISSING"])
    body = status(http, job_id)
    assert (body["status"], body["operation"]) == ("completed", "Order Transactions Batch Job")
    assert (body["finishedCount"], body["errorCount"]) == (2, 1)
    so9, inv1 = body["response"]["successful"]
    assert so9 == {"orderId": "SO-9", "count": 1, "transactions": [{
        "transactionDate": "2026-01-02T03:04:05.000", "gameballTransactionId": 900001,
        "transactionType": "PaymentReward", "amount": 80.0, "transactionId": "SO-9",
        "equivalentPoints": 80}]}
    assert (inv1["orderId"], inv1["count"]) == ("INV-1", 1)
    assert inv1["transactions"][0]["transactionType"] == "PaymentReward"
    assert body["response"]["failed"] == [{"customerId": "MISSING",
                                           "message": "Order Not Found"}]
    counts = http.get("/_sandbox/counts", params={"type": "order-transactions"}).json()
    assert counts == {"SO-9": 1, "INV-1": 1}


@pytest.mark.parametrize(("content", "status_code", "code"), [
    (b'{"body": "SO-1"}', 400, 3016),
    (b'{"body": []}', 400, 3000),
    (json.dumps({"body": [f"SO-{n}" for n in range(1001)]}).encode(), 422, 3011),
])
def test_order_transactions_requests_are_checked_whole(
        http: httpx.Client, content: bytes, status_code: int, code: int) -> None:
    response = http.post(f"{API}/batch/orders/transactions", content=content)
    assert (response.status_code, response.json()["code"]) == (status_code, code)
    assert http.get("/_sandbox/jobs").json() == []


def test_order_transactions_creation_is_rate_limited_like_the_others() -> None:
    with SandboxServer(instant=True, seed_customers=1, rate_per_second=1,
                       monotonic=lambda: 100.0) as server, client(server) as http:
        first = http.post(f"{API}/batch/orders/transactions", json={"body": ["SO-1"]})
        second = http.post(f"{API}/batch/orders/transactions", json={"body": ["SO-1"]})
    assert first.status_code == 200
    assert second.status_code == 429
    assert "Retry-After" in second.headers


# --- counts and balances --------------------------------------------------------------------


def test_balance_inquiries_show_every_adjustment_at_once(http: httpx.Client) -> None:
    create(http, "balance-adjustment", [{"customerId": "cus-1001", "amount": 40},
                                        {"customerId": "cus-1002", "amount": -15}])
    create(http, "balance-adjustment", [{"customerId": "cus-1001", "amount": -5}])
    job_id = create(http, "balance-inquiry", [{"customerId": "cus-1001"},
                                              {"customerId": "cus-1002"}])
    balances = {item["customerId"]: item["totalPointsBalance"]
                for item in status(http, job_id)["response"]["successful"]}
    assert balances == {"cus-1001": 1035, "cus-1002": 985}


def test_counts_by_customer_show_an_adjustment_applied_twice(http: httpx.Client) -> None:
    create(http, "balance-adjustment", [{"customerId": "cus-1001", "amount": 10},
                                        {"customerId": "cus-1002", "amount": 10}])
    create(http, "balance-adjustment", [{"customerId": "cus-1001", "amount": 10}])
    counts = http.get("/_sandbox/counts",
                      params={"type": "adjustments", "by": "customer", "min": 2}).json()
    assert counts == {"cus-1001": 2}
    refused = http.get("/_sandbox/counts", params={"type": "events", "by": "customer"})
    assert refused.status_code == 400


# --- persistence ---------------------------------------------------------------------------


def test_a_restarted_sandbox_keeps_customers_balances_and_jobs(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    with SandboxServer(instant=True, rate_limit=False, seed_customers=2,
                       state_file=state_file) as server, client(server) as http:
        done = create(http, "cashback", [cashback("INV-1"), cashback("INV-2", "ghost")])
        http.post("/_sandbox/processing", json={"instant": False, "itemRate": 0})
        waiting = create(http, "cashback", [cashback("INV-3"), cashback("INV-4")])
        http.post("/_sandbox/step", json={"items": 1})
        before = status(http, done)
    assert state_file.exists()
    with SandboxServer(item_rate=0, rate_limit=False, seed_customers=2,
                       state_file=state_file) as server, client(server) as http:
        assert status(http, done) == before
        assert http.get("/_sandbox/balances").json() == {"cus-1001": 1300, "cus-1002": 1000}
        assert status(http, waiting)["status"] == "running"
        http.post("/_sandbox/processing", json={"instant": True})
        wait_until(lambda: status(http, waiting)["status"] == "completed")
        assert http.get("/_sandbox/balances").json()["cus-1001"] == 1450
        refused = status(http, create(http, "cashback", [cashback("INV-1")]))
        assert refused["response"]["failed"][0]["message"] == "Transaction ID Already Exists"
        assert create(http, "events", [SAMPLES["events"]]) == waiting + 2  # ids go on
        assert http.get("/_sandbox/health").json()["stateFile"] == str(state_file.resolve())


def test_a_changed_state_is_written_while_serving(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    with SandboxServer(instant=True, rate_limit=False, seed_customers=1,
                       state_file=state_file) as server, client(server) as http:
        create(http, "cashback", [cashback("INV-7")])
        wait_until(lambda: state_file.exists() and "INV-7" in state_file.read_text())
    assert not list(tmp_path.glob("*.tmp"))


def test_a_broken_state_file_is_moved_aside_and_the_sandbox_starts_fresh(
        tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox-state.json"
    state_file.write_text("{not json")
    with SandboxServer(instant=True, rate_limit=False, seed_customers=3,
                       state_file=state_file) as server, client(server) as http:
        health = http.get("/_sandbox/health").json()
        assert "could not be restored" in health["notice"]
        assert len(http.get("/_sandbox/customers").json()) == 3
    assert (tmp_path / "sandbox-state.json.broken").read_text() == "{not json"
