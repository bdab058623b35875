"""The client's pure layer on raw bytes: requests built, replies decoded, errors, retry rules.

Shapes the sandbox never sends (shape 2 oddities, non-JSON 200s, other error envelopes) are
tested here, byte for byte, without sockets.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import retry as rt
from gameball_batch.client import sansio
from gameball_batch.client.errors import (
    ApiError,
    AuthError,
    InvalidRequest,
    MaybeSent,
    NotFound,
    NotSent,
    RateLimited,
    ServerError,
    UnexpectedResponse,
)
from gameball_batch.client.sansio import Paths, Reply, Request

API_KEY = "ak-live-5f2b9c"
SECRET_KEY = "sk-live-a7d41e"
HEADERS = sansio.headers(API_KEY, SECRET_KEY)
STATUS = Request("GET", "/api/v4.0/integrations/batch/77", HEADERS)
CREATE = Request("POST", "/api/v4.0/integrations/batch/cashback", HEADERS, b"{}")


def reply(body: Any, status: int = 200, **headers: str) -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(status, {k.lower().replace("_", "-"): v for k, v in headers.items()}, raw)


def status_of(body: Any, batch_type: str | None = None) -> Any:
    return sansio.decode_status(STATUS, reply(body), job_id="77", batch_type=batch_type)


# --- requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_creation_posts_the_exact_payload_to_the_types_endpoint(slug: str) -> None:
    payload = b'{"body":[{"customerId":"cus-1001"}]}'
    request = sansio.create_request(slug, payload, paths=Paths(), headers=HEADERS)
    assert (request.method, request.path) == ("POST", BATCH_TYPES[slug].path)
    assert request.body == payload


def test_requests_carry_both_keys_json_and_our_user_agent() -> None:
    request = sansio.create_request("customers", b"{}", paths=Paths(), headers=HEADERS)
    assert request.headers["APIKey"] == API_KEY
    assert request.headers["SecretKey"] == SECRET_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("gameball-batch/")


def test_an_empty_secret_key_is_left_out_so_gameball_can_say_it_is_required() -> None:
    assert "SecretKey" not in sansio.headers(API_KEY, "")


def test_a_request_repr_never_shows_the_keys() -> None:
    request = sansio.status_request("77", paths=Paths(), headers=HEADERS)
    assert API_KEY not in repr(request)
    assert SECRET_KEY not in repr(request)


@pytest.mark.parametrize(
    ("paths", "status", "stop"),
    [
        (Paths(), ("GET", "/api/v4.0/integrations/batch/77"),
         ("DELETE", "/api/v4.0/integrations/batch/77")),
        (Paths.openapi(), ("GET", "/api/v4.0/integrations/batches/77/status"),
         ("POST", "/api/v4.0/integrations/batches/77/stop")),
        (Paths(status="/api/v4/integrations/batch/{jobId}",
               stop="/api/v4/integrations/batch/{batchId}"),
         ("GET", "/api/v4/integrations/batch/77"), ("DELETE", "/api/v4/integrations/batch/77")),
    ],
    ids=["gitbook-default", "openapi", "custom-v4"],
)
def test_status_and_stop_follow_the_chosen_path_preset(
    paths: Paths, status: tuple[str, str], stop: tuple[str, str]
) -> None:
    got_status = sansio.status_request("77", paths=paths, headers=HEADERS)
    got_stop = sansio.stop_request("77", paths=paths, headers=HEADERS)
    assert (got_status.method, got_status.path) == status
    assert (got_stop.method, got_stop.path) == stop


def test_a_path_template_with_an_unknown_placeholder_is_refused_with_a_message() -> None:
    with pytest.raises(ValueError, match=r"placeholder other than \{job_id\}"):
        Paths(status="/api/v4.0/integrations/batch/{id}")


def test_an_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="gitbook, openapi"):
        Paths.preset("swagger")


@pytest.mark.parametrize("job_id", ["", "../customers", "12/34", "..", "a b"])
def test_a_job_id_that_could_change_the_path_is_refused(job_id: str) -> None:
    with pytest.raises(ValueError, match="job id"):
        sansio.status_request(job_id, paths=Paths(), headers=HEADERS)


def test_a_key_that_cannot_be_a_header_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="API key contains") as caught:
        sansio.check_key("API key", "ak-live\n5f2b")
    assert "5f2b" not in str(caught.value)


# --- creation replies ----------------------------------------------------------------------


@pytest.mark.parametrize(("job_id", "text"), [(50211, "50211"), ("b-9", "b-9"), (7.0, "7")])
def test_the_job_id_comes_back_as_text(job_id: Any, text: str) -> None:
    assert sansio.decode_create(CREATE, reply({"jobId": job_id})) == text


def test_a_creation_answer_without_job_id_is_unexpected_and_warns_it_may_exist() -> None:
    with pytest.raises(UnexpectedResponse, match="may have been created") as caught:
        sansio.decode_create(CREATE, reply({"id": 5}))
    assert caught.value.status == 200


def test_a_non_json_200_is_an_unexpected_response_quoting_the_body() -> None:
    with pytest.raises(UnexpectedResponse, match="not JSON: 'OK'") as caught:
        sansio.decode_create(CREATE, reply(b"OK"))
    assert isinstance(caught.value, ApiError)
    assert "POST /api/v4.0/integrations/batch/cashback" in str(caught.value)


@pytest.mark.parametrize(("body", "words"), [
    (b"", "empty"), (b"<html><body>gateway</body></html>", "not JSON"),
    (b"[1, 2]", "got a JSON list"), (b'"done"', "got a JSON str"),
])
def test_odd_status_bodies_are_unexpected_responses_not_crashes(body: bytes, words: str) -> None:
    with pytest.raises(UnexpectedResponse, match=words):
        sansio.decode_status(STATUS, reply(body))


def test_stop_accepts_any_2xx_body_including_none() -> None:
    stop = Request("DELETE", "/api/v4.0/integrations/batch/77", HEADERS)
    sansio.decode_stop(stop, reply(b"", 200))
    sansio.decode_stop(stop, reply({"batchId": "77", "status": "stopped"}, 200))


# --- status shape 1 (GitBook, tutorial) ----------------------------------------------------

TUTORIAL_FAILED = {
    "operation": "Customer Creation Batch Job", "errorCount": 2, "totalCount": 2,
    "finishedCount": 0, "startedAt": None, "createdAt": "2026-11-25T10:00:00Z",
    "status": "failed",
    "response": {"successful": [], "failed": [
        {"customerId": "cus-7f3a", "message": "Failed to create customer"},
        {"customerId": "cus-9b21", "error": "Failed to create customer"}]},
}


def test_shape_one_counts_times_and_operation_are_read() -> None:
    status = status_of(TUTORIAL_FAILED)
    assert (status.state, status.finished_count, status.error_count, status.total_count) == \
        ("failed", 0, 2, 2)
    assert status.created_at == "2026-11-25T10:00:00Z"
    assert status.started_at is None
    assert status.operation == "Customer Creation Batch Job"
    assert status.job_id == "77"


def test_failed_items_read_message_or_error_alike() -> None:
    failed = status_of(TUTORIAL_FAILED).failed
    assert [(f.key, f.message) for f in failed] == [
        ("cus-7f3a", "Failed to create customer"), ("cus-9b21", "Failed to create customer")]


def test_a_queued_job_with_null_response_has_no_results() -> None:
    status = status_of({"status": "queued", "response": None, "finishedCount": 0,
                        "errorCount": 0, "totalCount": 0, "startedAt": None})
    assert status.state == "queued"
    assert status.successful == []
    assert status.failed == []
    assert not status.is_final


def test_missing_optional_keys_leave_counts_unknown() -> None:
    status = status_of({"status": "running"})
    assert status.state == "running"
    assert (status.finished_count, status.error_count, status.total_count) == (None, None, None)
    assert status.created_at is None
    assert status.extra == {}


def test_unknown_fields_are_kept_at_both_levels() -> None:
    status = status_of({"status": "completed", "etaSeconds": 4,
                        "response": {"successful": [{"customerId": "c1", "gameballId": 9,
                                                     "tier": "gold"}],
                                     "failed": [], "skipped": ["c2"]}})
    assert status.extra == {"etaSeconds": 4, "response": {"skipped": ["c2"]}}
    assert status.successful[0].data == {"customerId": "c1", "gameballId": 9, "tier": "gold"}


def test_numeric_item_codes_are_read_from_numbers_text_or_a_nested_error() -> None:
    failed = status_of({"status": "completed", "response": {"failed": [
        {"customerId": "c1", "message": "Transaction ID Already Exists", "code": 9004},
        {"customerId": "c2", "message": "Customer Not Found", "code": "7000"},
        {"customerId": "c3", "error": {"code": 9008, "message": "Insufficient Balance Points"}},
        {"customerId": "c4", "message": "odd", "code": "n/a"},
    ]}}).failed
    assert [(f.code, f.message) for f in failed] == [
        (9004, "Transaction ID Already Exists"), (7000, "Customer Not Found"),
        (9008, "Insufficient Balance Points"), (None, "odd")]


# --- every status spelling ----------------------------------------------------------------


@pytest.mark.parametrize(("raw", "state"), [
    ("queued", "queued"), ("Queued", "queued"), ("pending", "queued"), ("PENDING", "queued"),
    ("running", "running"), ("Running", "running"), ("processing", "running"),
    ("inProgress", "running"), ("in progress", "running"), ("In Progress", "running"),
    ("in_progress", "running"),
    ("completed", "completed"), ("Completed", "completed"), ("finished", "completed"),
    ("failed", "failed"), ("Failed", "failed"), ("stopped", "stopped"), ("Stopped", "stopped"),
])
def test_every_documented_status_spelling_is_understood(raw: str, state: str) -> None:
    status = status_of({"status": raw})
    assert status.state == state
    assert status.raw_status == raw


@pytest.mark.parametrize("raw", ["archived", "", 3, None, {"name": "done"}])
def test_an_undocumented_status_is_unknown_and_kept_raw(raw: Any) -> None:
    status = status_of({"status": raw})
    assert status.state == "unknown"
    assert status.raw_status == (None if raw is None else str(raw))


def test_a_status_body_with_capitalised_keys_is_still_read() -> None:
    status = status_of({"Status": "Completed", "FinishedCount": 1, "Response": {
        "Successful": [{"CustomerId": "c1", "Message": "ok"}]}})
    assert status.state == "completed"
    assert status.finished_count == 1
    assert [(s.key, s.message) for s in status.successful] == [("c1", "ok")]


def test_an_item_in_other_casing_inside_a_camel_case_body_is_still_keyed() -> None:
    status = status_of({"status": "completed", "response": {"failed": [
        {"CustomerId": "c1", "Message": "Customer Not Found", "Code": 7000}]}})
    assert [(f.key, f.message, f.code) for f in status.failed] == \
        [("c1", "Customer Not Found", 7000)]


def test_a_response_that_is_not_an_object_is_kept_in_extra() -> None:
    assert status_of({"status": "completed", "response": [1, 2]}).extra == {"response": [1, 2]}


# --- status shape 2 (OpenAPI) --------------------------------------------------------------


def test_shape_two_counts_and_lists_are_read() -> None:
    status = status_of({"batchId": "b-12", "status": "processing", "progress": 40,
                        "totalItems": 5, "processedItems": 2, "failedItems": 1,
                        "results": [{"customerId": "c1"}],
                        "errors": [{"customerId": "c2", "message": "Customer Not Found"}]})
    assert (status.state, status.total_count, status.finished_count, status.error_count) == \
        ("running", 5, 1, 1)
    assert [i.key for i in status.results] == ["c1", "c2"]
    assert status.job_id == "b-12"
    assert status.extra == {"progress": 40, "processedItems": 2}


def test_shape_two_untyped_items_of_any_kind_never_crash() -> None:
    status = status_of({"status": "completed", "results": ["ORDER-1", 12, None],
                        "errors": {"customerId": "ORDER-2", "message": "Order Not Found"}})
    assert [(i.key, i.data) for i in status.successful] == [
        ("ORDER-1", {"value": "ORDER-1"}), ("12", {"value": 12}), (None, {"value": None})]
    assert [(i.key, i.message) for i in status.failed] == [("ORDER-2", "Order Not Found")]


@pytest.mark.parametrize("odd", [
    {"status": "completed", "results": "n/a", "errors": 5},
    {"status": "completed", "response": [1, 2]},
    {"status": "completed", "response": {"successful": None, "failed": "none"}},
    {"status": "running", "processedItems": "x", "failedItems": -1, "totalItems": 2.5},
])
def test_odd_shapes_give_empty_results_rather_than_errors(odd: dict[str, Any]) -> None:
    status = status_of(odd)
    assert status.successful == []
    assert status.failed == []


# --- result keys -----------------------------------------------------------------------------


def test_an_item_is_keyed_by_its_types_result_key() -> None:
    body = {"status": "completed", "response": {"successful": [
        {"customerId": "cus-1001", "transactionId": "INV-1"}]}}
    assert status_of(body, "cashback").successful[0].key == "INV-1"
    assert status_of(body, "adjustments").successful[0].key == "cus-1001"


def test_a_failure_without_the_result_key_falls_back_to_customer_id() -> None:
    body = {"status": "completed", "response": {"failed": [
        {"customerId": "ORDER-9", "message": "Order Not Found"}]}}
    assert status_of(body, "orders").failed[0].key == "ORDER-9"


def test_without_a_type_the_operation_name_picks_the_result_key() -> None:
    body = {"status": "completed", "operation": "Balance Adjustment Batch Job",
            "response": {"successful": [{"customerId": "cus-1", "transactionId": "manual-3"}]}}
    assert status_of(body).successful[0].key == "cus-1"


def test_without_type_or_operation_the_most_specific_identifier_wins() -> None:
    body = {"status": "completed", "response": {"successful": [
        {"customerId": "cus-1", "orderId": "SO-1"}, {"customerId": "cus-2"}]}}
    assert [i.key for i in status_of(body).successful] == ["SO-1", "cus-2"]


def test_numeric_keys_become_text() -> None:
    body = {"status": "completed", "response": {"successful": [{"orderId": 10001}]}}
    assert status_of(body, "orders").successful[0].key == "10001"


def test_reading_only_the_keys_gives_the_same_keys_as_reading_each_item() -> None:
    # The runner reads a finished job's keys without parsing the items; every odd item must
    # still get exactly the key a full read gives it, or a row would be mis-recorded.
    items = [{"transactionId": "INV-1"}, {"transactionId": "  INV-2 "}, {"transactionId": 3},
             {"transactionId": ""}, {"TransactionId": "INV-4"}, {"customerId": "cus-5"},
             {"message": "no key"}, "INV-7", 8, None]
    body = {"status": "completed", "response": {"successful": items, "failed": items}}
    status = status_of(body, "cashback")
    keys = status.successful.item_keys()
    assert keys == [i.key for i in status_of(body, "cashback").successful]
    assert keys == ["INV-1", "INV-2", "3", None, "INV-4", "cus-5", None, "INV-7", "8", None]
    assert status.failed.item_keys() == [i.key for i in status.failed]
    assert len(status.successful) == 10


def test_a_status_keeps_the_reply_exactly_as_received() -> None:
    raw = b'{"status":"completed","response":{"successful":[{"transactionId":"A"}]}}'
    assert status_of(raw, "cashback").body == raw


# --- error replies -------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [
    (400, InvalidRequest), (401, AuthError), (403, AuthError), (404, NotFound),
    (409, InvalidRequest), (422, InvalidRequest), (429, RateLimited), (500, ServerError),
    (502, ServerError), (503, ServerError), (302, UnexpectedResponse),
])
def test_each_status_maps_to_its_error_class(status: int, cls: type[ApiError]) -> None:
    error = sansio.error_for(STATUS, reply({"message": "x"}, status))
    assert type(error) is cls
    assert error is not None
    assert error.status == status


def test_the_v4_envelope_is_read_in_full() -> None:
    body = {"code": 3016, "type": "Payload Error", "message": "Invalid payload",
            "documentationUrl": "https://docs.gameball.co/x", "requestId": "a1b2c3"}
    error = sansio.error_for(CREATE, reply(body, 400))
    assert isinstance(error, InvalidRequest)
    assert (error.code, error.message, error.request_id, error.error_type) == \
        (3016, "Invalid payload", "a1b2c3", "Payload Error")
    assert error.documentation_url == "https://docs.gameball.co/x"
    assert str(error) == ("Gameball refused the request: Invalid payload (HTTP 400, code 3016, "
                          "request id a1b2c3; POST /api/v4.0/integrations/batch/cashback)")


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"error": 400, "message": "points must be positive"}, 400, "points must be positive"),
    ({"code": "5", "message": "Null Arguments"}, 5, "Null Arguments"),
    ({"error": "Unauthorized"}, None, "Unauthorized"),
    ({"error": {"code": 1002, "message": "Forbidden"}}, 1002, "Forbidden"),
    ({"unrelated": True}, None, "Unprocessable Entity"),
])
def test_other_envelopes_give_code_and_message(body: dict[str, Any], code: int | None,
                                               message: str) -> None:
    error = sansio.error_for(STATUS, reply(body, 422))
    assert error is not None
    assert (error.code, error.message) == (code, message)


def test_a_non_json_error_page_names_the_status_not_the_html() -> None:
    error = sansio.error_for(STATUS, reply(b"<html><h1>502 Bad Gateway</h1></html>", 502))
    assert isinstance(error, ServerError)
    assert error.message == "Bad Gateway; the answer was not JSON"


def test_retry_after_seconds_and_http_dates_are_read() -> None:
    now = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    assert sansio.parse_retry_after("3") == 3.0
    assert sansio.parse_retry_after("Wed, 25 Nov 2026 10:00:07 GMT", now=now) == 7.0
    assert sansio.parse_retry_after("soon") is None
    assert sansio.parse_retry_after(None) is None
    error = sansio.error_for(STATUS, reply({"code": 4000}, 429, retry_after="2"))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 2.0


def test_a_key_echoed_by_the_server_is_redacted_from_the_error() -> None:
    body = {"code": 1000, "message": f"Unknown APIKey {API_KEY}", "requestId": SECRET_KEY}
    error = sansio.error_for(STATUS, reply(body, 401), redact=(API_KEY, SECRET_KEY))
    assert error is not None
    for text in (str(error), repr(error)):
        assert API_KEY not in text
        assert SECRET_KEY not in text
    assert "Unknown APIKey ********" in str(error)


# --- retry policy (pure decisions) ---------------------------------------------------------

NOT_SENT = NotSent("refused", method="POST", path="/x")
MAYBE_SENT = MaybeSent("timeout", method="POST", path="/x")
LIMITED = RateLimited("slow down", status=429, retry_after=None)
SERVER = ServerError("boom", status=500)
INVALID = InvalidRequest("bad", status=400)


@pytest.mark.parametrize(("operation", "error", "retried"), [
    ("create", NOT_SENT, True), ("create", LIMITED, True), ("create", SERVER, False),
    ("create", MAYBE_SENT, False), ("create", INVALID, False),
    ("status", NOT_SENT, True), ("status", MAYBE_SENT, True), ("status", LIMITED, True),
    ("status", SERVER, True), ("status", INVALID, False),
    ("stop", MAYBE_SENT, True), ("stop", SERVER, True), ("stop", INVALID, False),
])
def test_creation_retries_only_what_provably_was_not_applied(
    operation: rt.Operation, error: Any, retried: bool
) -> None:
    assert rt.retryable(operation, error) is retried


def test_backoff_grows_is_jittered_and_capped() -> None:
    backoff = rt.Backoff(initial=1.0, factor=2.0, maximum=8.0)
    rng = random.Random(7)
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (9, 8.0)]:
        delay = backoff.delay(retry, rng)
        assert ceiling / 2 <= delay <= ceiling


def test_retry_after_is_honoured_and_a_too_long_one_is_left_to_the_caller() -> None:
    backoff = rt.Backoff(max_retry_after=60.0)
    rng = random.Random(1)
    hinted = RateLimited("slow down", status=429, retry_after=4.0)
    too_long = RateLimited("slow down", status=429, retry_after=3600.0)
    assert rt.retry_delay("status", hinted, 0, max_retries=5, backoff=backoff, rng=rng) == 4.0
    assert rt.retry_delay("status", too_long, 0, max_retries=5, backoff=backoff,
                          rng=rng) is None


def test_retries_stop_after_max_retries() -> None:
    kwargs: dict[str, Any] = {"max_retries": 2, "backoff": rt.Backoff(), "rng": random.Random()}
    assert rt.retry_delay("status", SERVER, 1, **kwargs) is not None
    assert rt.retry_delay("status", SERVER, 2, **kwargs) is None


# --- which documented pair of status/stop routes (reference §9 C2/C3) ----------------------


def test_an_unproven_pair_is_tried_first_then_the_other_once() -> None:
    choice = sansio.RouteChoice()
    assert choice.tries() == ("gitbook", "openapi")
    assert sansio.RouteChoice("openapi").tries() == ("openapi", "gitbook")


def test_a_2xx_proves_a_pair_and_only_it_is_tried_from_then_on() -> None:
    choice = sansio.RouteChoice()
    assert choice.answered("openapi") is True  # newly proven: the moment to remember it
    assert (choice.current, choice.proven, choice.tries()) == ("openapi", True, ("openapi",))
    assert choice.answered("openapi") is False  # already known: nothing new to store


@pytest.mark.parametrize(("setting", "status"), [
    ("auto", None),
    ("gitbook", ("GET", "/api/v4.0/integrations/batch/9")),
    (" OpenAPI ", ("GET", "/api/v4.0/integrations/batches/9/status")),
])
def test_the_routes_setting_pins_a_pair_or_leaves_it_to_be_found(
    setting: str, status: tuple[str, str] | None
) -> None:
    paths = sansio.pinned_paths(setting)
    if status is None:
        assert paths is None
        return
    assert paths is not None
    got = sansio.status_request("9", paths=paths, headers=HEADERS)
    assert (got.method, got.path) == status


def test_an_unknown_routes_setting_or_pair_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, gitbook, openapi"):
        sansio.pinned_paths("swagger")
    with pytest.raises(ValueError, match="gitbook, openapi"):
        sansio.RouteChoice("swagger")


# --- decoding stays the standard library's, however the reply is spelt ---------------------


@pytest.mark.parametrize(("raw", "expected"), [
    # A 20-digit id stays exact (orjson alone would read it as 1e+19-something float).
    (b'{"status":"completed","response":{"successful":[{"customerId":"c1",'
     b'"gameballTransactionId":12345678901234567890123}],"failed":[]}}',
     12345678901234567890123),
    # What orjson refuses and Python accepts: a byte-order mark, NaN, 1e400.
    (b'\xef\xbb\xbf{"status":"completed","response":{"successful":[{"customerId":"c1",'
     b'"gameballTransactionId":7}],"failed":[]}}', 7),
    (b'{"status":"completed","response":{"successful":[{"customerId":"c1",'
     b'"gameballTransactionId":NaN}],"failed":[]}}', "nan"),
    (b'{"status":"completed","response":{"successful":[{"customerId":"c1",'
     b'"gameballTransactionId":1e400}],"failed":[]}}', float("inf")),
])
def test_a_status_reply_decodes_exactly_as_pythons_json_reads_it(raw: bytes,
                                                                   expected: Any) -> None:
    status = sansio.decode_status(STATUS, reply(raw), batch_type="cashback")
    value = status.successful.raw()[0]["gameballTransactionId"]
    assert (str(value) if expected == "nan" else value) == expected
    assert type(value) is type(expected) or expected == "nan"
    assert status.successful.item_keys() == ["c1"]


def test_a_lone_surrogate_in_a_reply_is_read_as_python_reads_it() -> None:
    raw = b'{"status":"failed","response":{"successful":[],"failed":[{"customerId":"c1",' \
          b'"message":"bad \\ud800 text"}]}}'
    status = sansio.decode_status(STATUS, reply(raw), batch_type="cashback")
    assert status.failed[0].message == json.loads(raw)["response"]["failed"][0]["message"]
