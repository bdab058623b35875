"""The sandbox over real HTTP on 127.0.0.1: paths, keys, limits, processing and faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from submission_helpers import SAMPLES, wait_until

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.sandbox import SandboxServer

VERSIONS = ("v4.0", "v4", "v4.1")


def keys(sandbox: SandboxServer) -> dict[str, str]:
    return {"APIKey": sandbox.api_key, "SecretKey": sandbox.secret_key}


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, headers=keys(sandbox), timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def rich_server() -> Iterator[SandboxServer]:
    with SandboxServer(instant=True, rate_limit=False, seed_customers=5,
                       replies="rich") as server:
        yield server


@pytest.fixture
def rich(rich_server: SandboxServer) -> Iterator[httpx.Client]:
    """A client of a sandbox answering rich items (result key and code added)."""
    rich_server.state.restore()
    with httpx.Client(base_url=rich_server.url, headers=keys(rich_server),
                      timeout=10) as client:
        yield client


def create(http: httpx.Client, slug: str, items: list[Any], version: str = "v4.0") -> int:
    path = f"/api/{version}/integrations{BATCH_TYPES[slug].endpoint}"
    response = http.post(path, json={"body": items})
    assert response.status_code == 200, response.text
    job_id = response.json()["jobId"]
    assert isinstance(job_id, int)
    return job_id


def status(http: httpx.Client, job_id: int, version: str = "v4.0") -> dict[str, Any]:
    response = http.get(f"/api/{version}/integrations/batch/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cashback(tx: str, customer: str = "cus-1001") -> dict[str, Any]:
    return {**SAMPLES["cashback"], "transactionId": tx, "customerId": customer}


def assert_envelope(response: httpx.Response, status_code: int, code: int) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "type", "message", "documentationUrl", "requestId"}
    assert body["code"] == code
    return body


# --- creation and status on every path variant ---------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_every_type_is_created_and_completes_under_every_version(
    http: httpx.Client, slug: str, version: str
) -> None:
    job_id = create(http, slug, [SAMPLES[slug]], version)
    body = status(http, job_id, version)
    assert body["status"] == "completed"
    assert body["operation"] == BATCH_TYPES[slug].operation
    assert (body["finishedCount"], body["errorCount"], body["totalCount"]) == (1, 0, 1)
    [item] = body["response"]["successful"]
    assert item["customerId"] == SAMPLES[slug]["customerId"]
    assert not {"transactionId", "orderId", "code"} & set(item)  # documented replies


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_rich_items_carry_the_types_result_key(rich: httpx.Client, slug: str) -> None:
    body = status(rich, create(rich, slug, [SAMPLES[slug]]))
    result_key = BATCH_TYPES[slug].result_key
    assert body["response"]["successful"][0][result_key] == SAMPLES[slug][result_key]


@pytest.mark.parametrize("version", VERSIONS)
def test_status_shape_two_is_served_at_batches_status(http: httpx.Client, version: str) -> None:
    job_id = create(http, "cashback", [cashback("INV-1"), cashback("INV-2", "ghost")])
    body = http.get(f"/api/{version}/integrations/batches/{job_id}/status").json()
    assert body["batchId"] == str(job_id)
    assert (body["status"], body["totalItems"], body["failedItems"]) == ("completed", 2, 1)
    assert body["errors"][0]["message"] == "Customer Not Found"


def test_effects_are_visible_in_the_debug_listings(http: httpx.Client) -> None:
    create(http, "cashback", [cashback("INV-1")])
    assert http.get("/_sandbox/balances").json()["cus-1001"] == 1150
    transactions = http.get("/_sandbox/transactions", params={"type": "cashback"}).json()
    assert [t["transactionId"] for t in transactions] == ["INV-1"]
    customer = http.get("/_sandbox/customers/cus-1001").json()
    assert customer["points"] == 1150
    assert len(http.get("/_sandbox/customers").json()) == 5
    assert [j["type"] for j in http.get("/_sandbox/jobs").json()] == ["cashback"]


def test_failed_items_map_back_to_their_item(http: httpx.Client) -> None:
    job_id = create(http, "cashback", [cashback("INV-1"), cashback("INV-1"),
                                       {"customerId": "cus-1001", "amount": 5}])
    failed = status(http, job_id)["response"]["failed"]
    assert failed == [
        {"customerId": "cus-1001", "message": "Transaction ID Already Exists"},
        {"customerId": "cus-1001", "message": "Missing Arguments: transactionId, transactionTime"},
    ]


def test_rich_failed_items_add_the_code_and_the_result_key(rich: httpx.Client) -> None:
    job_id = create(rich, "cashback", [cashback("INV-1"), cashback("INV-1"),
                                       {"customerId": "cus-1001", "amount": 5}])
    failed = status(rich, job_id)["response"]["failed"]
    assert failed == [
        {"customerId": "cus-1001", "message": "Transaction ID Already Exists", "code": 9004,
         "transactionId": "INV-1"},
        {"customerId": "cus-1001", "message": "Missing Arguments: transactionId, transactionTime",
         "code": 3000, "transactionId": None},
    ]


def test_redeem_by_hold_reference_created_through_the_debug_api(http: httpx.Client) -> None:
    hold = http.post("/_sandbox/holds", json={"customerId": "cus-1002", "points": 40}).json()
    item = {**SAMPLES["redemptions"], "holdReference": hold["holdReference"]}
    del item["points"]
    job_id = create(http, "redemptions", [item])
    assert status(http, job_id)["response"]["successful"][0]["redeemEquivalentPoints"] == 40
    assert http.get("/_sandbox/balances").json()["cus-1002"] == 960


# --- stop ----------------------------------------------------------------------------------


def pause(http: httpx.Client) -> None:
    assert http.post("/_sandbox/processing", json={"instant": False, "itemRate": 0}).is_success


@pytest.mark.parametrize("how", ["DELETE /batch/{id}", "POST /batches/{id}/stop"])
def test_stop_keeps_applied_items_and_skips_the_rest(http: httpx.Client, how: str) -> None:
    pause(http)
    job_id = create(http, "cashback", [cashback(f"INV-{n}") for n in range(5)])
    assert status(http, job_id)["status"] == "queued"
    assert http.post("/_sandbox/step", json={"items": 2}).json() == {"applied": 2}
    method, template = how.split()
    response = http.request(method, "/api/v4.0/integrations" + template.format(id=job_id))
    assert response.status_code == 200
    body = status(http, job_id)
    assert {k: body[k] for k in ("status", "totalCount", "finishedCount", "errorCount",
                                 "startedAt", "response")} == {
        "status": "stopped", "totalCount": 0, "finishedCount": 0, "errorCount": 0,
        "startedAt": None, "response": None}  # the tutorial's stopped reply (ref §4.1)
    http.post("/_sandbox/step", json={"items": 10})
    assert http.get("/_sandbox/counts", params={"type": "cashback"}).json() == {
        "INV-0": 1, "INV-1": 1}
    assert http.get("/_sandbox/balances").json()["cus-1001"] == 1000 + 2 * 150


def test_a_rich_stop_keeps_the_counts_of_the_items_applied(rich: httpx.Client) -> None:
    pause(rich)
    job_id = create(rich, "cashback", [cashback(f"INV-{n}") for n in range(5)])
    rich.post("/_sandbox/step", json={"items": 2})
    assert rich.delete(f"/api/v4.0/integrations/batch/{job_id}").status_code == 200
    body = status(rich, job_id)
    assert (body["status"], body["finishedCount"]) == ("stopped", 2)


def test_stopping_a_completed_job_is_a_harmless_no_op(http: httpx.Client) -> None:
    job_id = create(http, "cashback", [cashback("INV-1")])
    response = http.post(f"/api/v4/integrations/batches/{job_id}/stop")
    assert response.json()["status"] == "completed"
    assert status(http, job_id)["status"] == "completed"


# --- asynchronous processing ---------------------------------------------------------------


def test_background_processing_fills_in_counts_while_running(http: httpx.Client) -> None:
    pause(http)
    job_id = create(http, "cashback", [cashback(f"INV-{n}") for n in range(40)])
    queued = status(http, job_id)
    assert (queued["startedAt"], queued["response"]) == (None, None)
    http.post("/_sandbox/step", json={"items": 10})
    running = status(http, job_id)
    assert running["status"] == "running"
    assert running["startedAt"] is not None
    assert (running["finishedCount"], len(running["response"]["successful"])) == (10, 10)
    http.post("/_sandbox/processing", json={"itemRate": 500})
    wait_until(lambda: status(http, job_id)["status"] == "completed")
    assert status(http, job_id)["finishedCount"] == 40


# --- keys ----------------------------------------------------------------------------------


def test_header_names_are_case_insensitive_and_transaction_key_is_accepted(
    sandbox: SandboxServer,
) -> None:
    path = "/api/v4.0/integrations/batch/balance-inquiry"
    body = {"body": [{"customerId": "cus-1001"}]}
    variants = [
        {"apikey": sandbox.api_key, "secretkey": sandbox.secret_key},
        {"APIKEY": sandbox.api_key, "SECRETKEY": sandbox.secret_key},
        {"ApiKey": sandbox.api_key, "TransactionKey": sandbox.secret_key},
    ]
    for headers in variants:
        assert httpx.post(sandbox.url + path, json=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 1000),
        ({"APIKey": "wrong", "SecretKey": "sandbox-secret-key"}, 1000),
        ({"APIKey": "sandbox-api-key"}, 1001),
        ({"APIKey": "sandbox-api-key", "SecretKey": "wrong"}, 1000),
    ],
)
def test_missing_or_wrong_keys_are_401(sandbox: SandboxServer, headers: dict[str, str],
                                       code: int) -> None:
    for method, path in (("POST", "/api/v4.0/integrations/batch/cashback"),
                         ("GET", "/api/v4/integrations/batch/50001"),
                         ("DELETE", "/api/v4/integrations/batch/50001")):
        response = httpx.request(method, sandbox.url + path, headers=headers,
                                 json={"body": [cashback("INV-1")]})
        body = assert_envelope(response, 401, code)
        assert body["type"] == "Authentication Error"
    assert httpx.get(sandbox.url + "/_sandbox/counts?type=cashback").json() == {}


# --- request limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status_code", "code"),
    [
        (b"{not json", 400, 3016),
        (b'{"items": []}', 400, 3016),
        (b'{"body": {"customerId": "cus-1001"}}', 400, 3016),
        (b"[]", 400, 3016),
        (b"", 400, 3016),
        (b'{"body": []}', 400, 3000),
    ],
)
def test_malformed_requests_are_refused_whole(http: httpx.Client, content: bytes,
                                              status_code: int, code: int) -> None:
    response = http.post("/api/v4.0/integrations/batch/cashback", content=content,
                         headers={"Content-Type": "application/json"})
    assert_envelope(response, status_code, code)
    assert http.get("/_sandbox/jobs").json() == []


def test_more_than_1000_items_is_422_and_exactly_1000_is_fine(http: httpx.Client) -> None:
    items = [{"customerId": f"c-{n}"} for n in range(1001)]
    response = http.post("/api/v4.0/integrations/batch/customers", json={"body": items})
    assert_envelope(response, 422, 3011)
    job_id = create(http, "customers", items[:1000])
    assert status(http, job_id)["finishedCount"] == 1000


def test_unknown_jobs_endpoints_and_versions_are_404(http: httpx.Client) -> None:
    for method, path in (("GET", "/api/v4.0/integrations/batch/424242"),
                         ("GET", "/api/v4.0/integrations/batches/424242/status"),
                         ("DELETE", "/api/v4.0/integrations/batch/424242"),
                         ("POST", "/api/v4.0/integrations/batches/424242/stop"),
                         ("GET", "/api/v4.0/integrations/batch/not-a-number"),
                         ("POST", "/api/v4.0/integrations/batch/loyalty"),
                         ("POST", "/api/v9/integrations/batch/cashback")):
        assert_envelope(http.request(method, path, json={"body": [{}]}), 404, 4004)


# --- rate limits ---------------------------------------------------------------------------


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_answers_429_with_the_envelope_and_retry_after() -> None:
    clock = FrozenClock()
    with SandboxServer(instant=True, seed_customers=1, monotonic=clock) as sandbox, \
            httpx.Client(base_url=sandbox.url, headers=keys(sandbox)) as http:
        path = "/api/v4.0/integrations/batch/424242"
        answers = [http.get(path).status_code for _ in range(31)]
        assert answers == [404] * 30 + [429]
        refused = http.get(path)
        assert_envelope(refused, 429, 4000)
        assert int(refused.headers["Retry-After"]) >= 1
        clock.now += 1.5
        assert http.get(path).status_code == 404
        for step in range(11):  # fill the 360-per-30-seconds quota
            clock.now += 1.5
            for _ in range(30 if step < 10 else 29):
                http.get(path)
        clock.now += 1.5
        assert http.get(path).status_code == 429


# --- faults --------------------------------------------------------------------------------


def set_faults(http: httpx.Client, **faults: Any) -> None:
    assert http.post("/_sandbox/faults", json=faults).status_code == 200


def applied(http: httpx.Client) -> dict[str, int]:
    body: dict[str, int] = http.get("/_sandbox/counts", params={"type": "cashback"}).json()
    return body


def post_cashback(http: httpx.Client, tx: str) -> httpx.Response:
    return http.post("/api/v4.0/integrations/batch/cashback", json={"body": [cashback(tx)]})


def test_500_before_applying_leaves_nothing_applied(http: httpx.Client) -> None:
    set_faults(http, error_before_next=1)
    assert_envelope(post_cashback(http, "INV-1"), 500, 5000)
    assert applied(http) == {}
    assert post_cashback(http, "INV-1").status_code == 200
    assert applied(http) == {"INV-1": 1}


def test_500_after_applying_is_in_doubt_and_a_resend_is_refused_as_duplicate(
    http: httpx.Client,
) -> None:
    set_faults(http, error_after_next=1)
    assert_envelope(post_cashback(http, "INV-1"), 500, 5000)
    assert applied(http) == {"INV-1": 1}
    job_id = post_cashback(http, "INV-1").json()["jobId"]
    assert status(http, job_id)["response"]["failed"] == [
        {"customerId": "cus-1001", "message": "Transaction ID Already Exists"}]
    assert applied(http) == {"INV-1": 1}
    assert http.get("/_sandbox/counts", params={"type": "cashback", "submitted": "1"}).json() \
        == {"INV-1": 2}


def test_a_dropped_connection_after_applying_gives_the_client_no_answer(
    http: httpx.Client,
) -> None:
    set_faults(http, drop_after_next=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post_cashback(http, "INV-1")
    assert applied(http) == {"INV-1": 1}
    assert post_cashback(http, "INV-2").status_code == 200


def test_fault_probabilities_apply_to_every_creation(http: httpx.Client) -> None:
    set_faults(http, error_after=1.0)
    assert [post_cashback(http, f"INV-{n}").status_code for n in range(3)] == [500] * 3
    assert len(applied(http)) == 3


def test_a_429_burst_refuses_the_next_requests_then_recovers(http: httpx.Client) -> None:
    set_faults(http, rate_limit_next=2)
    assert [post_cashback(http, "INV-1").status_code for _ in range(3)] == [429, 429, 200]
    assert applied(http) == {"INV-1": 1}


def test_status_errors_and_other_spellings(http: httpx.Client) -> None:
    job_id = create(http, "cashback", [cashback("INV-1"), cashback("INV-2", "ghost")])
    set_faults(http, status_errors_next=1, status_spelling="capitalised", message_key="error")
    assert_envelope(http.get(f"/api/v4.0/integrations/batch/{job_id}"), 500, 5000)
    body = status(http, job_id)
    assert body["status"] == "Completed"
    assert body["response"]["failed"][0]["error"] == "Customer Not Found"
    assert "message" not in body["response"]["failed"][0]


def test_latency_still_answers(http: httpx.Client) -> None:
    set_faults(http, latency=0.05)
    assert post_cashback(http, "INV-1").status_code == 200


def test_faults_can_be_read_cleared_and_refuse_nonsense(http: httpx.Client) -> None:
    set_faults(http, error_before=0.25)
    assert http.get("/_sandbox/faults").json()["error_before"] == 0.25
    assert http.request("DELETE", "/_sandbox/faults").json()["error_before"] == 0.0
    refused = http.post("/_sandbox/faults", json={"error_before": 3})
    assert refused.status_code == 400
    assert "probability" in refused.json()["message"]


def test_faults_set_at_start_apply_from_the_first_request() -> None:
    with SandboxServer(instant=True, rate_limit=False, seed_customers=1,
                       faults={"error_before_next": 1}) as sandbox:
        url = sandbox.url + "/api/v4.0/integrations/batch/cashback"
        body = {"body": [cashback("INV-1")]}
        assert httpx.post(url, json=body, headers=keys(sandbox)).status_code == 500
        assert httpx.post(url, json=body, headers=keys(sandbox)).status_code == 200


# --- debug endpoints and the server itself -------------------------------------------------


def test_reset_and_seed(http: httpx.Client) -> None:
    create(http, "cashback", [cashback("INV-1")])
    http.post("/_sandbox/reset", json={"seedCustomers": 2})
    assert http.get("/_sandbox/balances").json() == {"cus-1001": 1000, "cus-1002": 1000}
    assert http.get("/_sandbox/jobs").json() == []
    seeded = http.post("/_sandbox/seed", json={"count": 3, "points": 50}).json()
    assert seeded["customerIds"] == ["cus-1001", "cus-1002", "cus-1003"]
    assert http.get("/_sandbox/balances").json()["cus-1003"] == 50


def test_counts_can_list_only_keys_applied_more_than_once(http: httpx.Client) -> None:
    create(http, "adjustments", [{"customerId": "cus-1001", "amount": 1},
                                 {"customerId": "cus-1001", "amount": 2},
                                 {"customerId": "cus-1002", "amount": 3}])
    counts = http.get("/_sandbox/counts", params={"type": "adjustments", "min": 2}).json()
    assert counts == {"cus-1001": 2}


def test_a_server_on_port_zero_gets_a_free_port_on_localhost_and_stops_cleanly() -> None:
    server = SandboxServer(port=0, instant=True)
    url = server.start()
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith(":0")
    health = httpx.get(url + "/_sandbox/health").json()
    assert (health["ok"], health["service"], health["stateFile"]) == (
        True, "gameball-batch-sandbox", None)
    server.stop()
    server.stop()  # twice is harmless
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sandbox/health")
