"""What replies and errors mean for chunks and rows (outcomes.py), as tables.

Every batch type × status shape (documented shape 1, shape 1 with the undocumented extras,
shape 2 of the OpenAPI file) × the chunk's history (never in doubt, resent after a doubt)
× the reply's verdict on an item (applied, failed, 9004, 9003, not named, stopped).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gameball_batch import outcomes as oc
from gameball_batch.batch_types import BATCH_TYPES
from gameball_batch.client import ItemResult, JobStatus
from gameball_batch.client.errors import (
    AuthError,
    InvalidRequest,
    MaybeSent,
    NotFound,
    NotSent,
    RateLimited,
    ServerError,
    UnexpectedResponse,
)
from gameball_batch.client.sansio import parse_status

TYPES = list(BATCH_TYPES)
SHAPES = ("documented", "rich", "shape2")
CUSTOMERS = ("cus-1", "cus-2", "cus-3")


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "action"), [
    (NotSent("connection refused"), oc.RETRY_LATER),
    (RateLimited("slow down", status=429), oc.RETRY_LATER),
    (AuthError("bad key", status=401), oc.PAUSE),
    (AuthError("forbidden", status=403), oc.PAUSE),
    (NotFound("no such path", status=404), oc.PAUSE),
    (InvalidRequest("too many items", status=422, code=3011), oc.REFUSED),
    (ServerError("boom", status=500), oc.IN_DOUBT),
    (ServerError("unavailable", status=503), oc.IN_DOUBT),
    (MaybeSent("read timeout"), oc.IN_DOUBT),
    (UnexpectedResponse("no jobId", status=200), oc.IN_DOUBT),
    (RuntimeError("a bug of ours"), oc.IN_DOUBT),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_a_send_error_decides_the_chunk(error: Exception, action: str) -> None:
    verdict = oc.after_send_error(error)
    assert verdict.action == action
    assert verdict.message  # the operator always gets a line


def test_a_429_keeps_gameballs_retry_after() -> None:
    verdict = oc.after_send_error(RateLimited("slow down", status=429, retry_after=7.0))
    assert verdict.retry_after == 7.0


# --- replies ---------------------------------------------------------------------------------


def _items(slug: str) -> list[dict[str, Any]]:
    """Three items of the type, one per customer (as the planner packs a chunk)."""
    key = BATCH_TYPES[slug].result_key
    out = []
    for i, customer in enumerate(CUSTOMERS):
        item: dict[str, Any] = {"customerId": customer}
        if key != "customerId":
            item[key] = f"K-{i}"
        out.append(item)
    return out


def _row_key(slug: str, item: dict[str, Any]) -> str:
    return str(item[BATCH_TYPES[slug].result_key])


def _reply_item(slug: str, item: dict[str, Any], shape: str, message: str | None = None,
                code: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"customerId": item["customerId"]}
    key = BATCH_TYPES[slug].result_key
    if shape != "documented" and key != "customerId":
        out[key] = item[key]
    if message is not None:
        out["message"] = message
    if code is not None and shape != "documented":
        out["code"] = code
    return out


def _status(slug: str, shape: str, state: str, successful: list[dict[str, Any]],
            failed: list[dict[str, Any]]) -> JobStatus:
    if shape == "shape2":
        document: dict[str, Any] = {"batchId": "9", "status": state, "results": successful,
                                    "errors": failed}
    else:
        response = None if state == "stopped" and not (successful or failed) else {
            "successful": successful, "failed": failed}
        document = {"status": state, "finishedCount": len(successful),
                    "errorCount": len(failed), "totalCount": len(successful) + len(failed),
                    "response": response}
    body = json.dumps(document).encode()
    return parse_status(document, batch_type=slug, body=body)


def _read(slug: str, status: JobStatus, *, resent: bool = False,
          others: dict[str, str] | None = None) -> oc.Reading:
    payload = json.dumps({"body": _items(slug)}).encode()
    items = oc.ChunkItems.of(BATCH_TYPES[slug], payload)
    return oc.read_status(BATCH_TYPES[slug], status, items, resent=resent,
                          other_jobs=lambda keys: {k: v for k, v in (others or {}).items()
                                                   if k in keys})


def _verdicts(slug: str, reading: oc.Reading) -> dict[str, str]:
    """Row key → status, with the unlisted verdict for the keys the reply did not name."""
    out = {k: "applied" for k in reading.applied}
    out.update({o.key: o.status for o in reading.outcomes})
    for item in _items(slug):
        out.setdefault(_row_key(slug, item), reading.unlisted[0])
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slug", TYPES)
def test_a_reply_naming_every_item_leaves_no_row_in_doubt(slug: str, shape: str) -> None:
    a, b, c = _items(slug)
    status = _status(slug, shape, "completed",
                     [_reply_item(slug, a, shape), _reply_item(slug, b, shape)],
                     [_reply_item(slug, c, shape, "Customer Not Found", 7000)])
    reading = _read(slug, status)
    assert _verdicts(slug, reading) == {_row_key(slug, a): "applied",
                                        _row_key(slug, b): "applied",
                                        _row_key(slug, c): "failed"}
    failure = next(o for o in reading.outcomes)
    assert failure.message == "Customer Not Found"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("slug", TYPES)
def test_items_the_reply_omits_are_in_doubt_and_only_those(slug: str, shape: str) -> None:
    a, b, c = _items(slug)
    status = _status(slug, shape, "completed", [_reply_item(slug, a, shape)],
                     [_reply_item(slug, b, shape, "Insufficient Balance Points", 9008)])
    assert _verdicts(slug, _read(slug, status)) == {_row_key(slug, a): "applied",
                                                    _row_key(slug, b): "failed",
                                                    _row_key(slug, c): "unknown"}


@pytest.mark.parametrize("slug", TYPES)
def test_the_failure_text_may_come_under_error(slug: str) -> None:
    a, *_ = _items(slug)
    item = {"customerId": a["customerId"], "error": "Failed to create customer"}
    reading = _read(slug, _status(slug, "documented", "completed", [], [item]))
    assert [(o.status, o.message) for o in reading.outcomes] == [
        ("failed", "Failed to create customer")]


@pytest.mark.parametrize("shape", ["documented", "rich"])
@pytest.mark.parametrize("slug", TYPES)
@pytest.mark.parametrize("resent", [False, True], ids=["first send", "resent"])
def test_a_stopped_job_that_reports_nothing_leaves_every_row_in_doubt(
    slug: str, shape: str, resent: bool
) -> None:
    """The tutorial's stopped status is all zeros and null: not evidence that nothing ran."""
    reading = _read(slug, _status(slug, shape, "stopped", [], []), resent=resent)
    assert set(_verdicts(slug, reading).values()) == {"unknown"}
    assert "stopped" in reading.unlisted[1]


@pytest.mark.parametrize("slug", ["orders", "cashback", "redemptions"])
@pytest.mark.parametrize("shape", ["documented", "rich"])
@pytest.mark.parametrize(("resent", "others", "expected"), [
    (False, {}, "failed"),  # a first send: 9004 is a failure, the guard should have said so
    (True, {}, "applied"),  # our earlier attempt is what Gameball holds
    (True, {"K-0": "job abcd1234 (row 7)"}, "unknown"),  # another job used the id too
], ids=["first send", "resent, id ours alone", "resent, id also another job's"])
def test_9004_counts_as_applied_only_on_a_resend_of_an_id_no_other_job_used(
    slug: str, shape: str, resent: bool, others: dict[str, str], expected: str
) -> None:
    a, _, _ = _items(slug)
    status = _status(slug, shape, "failed", [],
                     [_reply_item(slug, a, shape, "Transaction ID Already Exists", 9004)])
    reading = _read(slug, status, resent=resent, others=others)
    (outcome,) = reading.outcomes
    assert outcome.status == expected
    if expected == "unknown":
        assert "job abcd1234" in (outcome.message or "")


@pytest.mark.parametrize("slug", ["orders", "cashback", "redemptions"])
@pytest.mark.parametrize("shape", ["documented", "rich"])
def test_9003_transaction_time_already_exists_is_never_applied(slug: str, shape: str) -> None:
    a, _, _ = _items(slug)
    status = _status(slug, shape, "completed", [],
                     [_reply_item(slug, a, shape, "Transaction Time Already Exists", 9003)])
    first = _read(slug, status)
    assert [o.status for o in first.outcomes] == ["failed"]
    again = _read(slug, status, resent=True)
    assert [o.status for o in again.outcomes] == ["unknown"]  # the earlier send may have


@pytest.mark.parametrize("slug", ["adjustments", "events", "cashback", "orders",
                                  "redemptions"])
def test_any_other_failure_of_a_resent_chunk_keeps_the_row_in_doubt(slug: str) -> None:
    a, _, _ = _items(slug)
    status = _status(slug, "documented", "completed", [],
                     [_reply_item(slug, a, "documented", "Customer Not Found")])
    (outcome,) = _read(slug, status, resent=True).outcomes
    assert outcome.status == "unknown"
    assert "earlier attempt may have applied" in (outcome.message or "")


@pytest.mark.parametrize("slug", ["customers", "balance-inquiries"])
def test_idempotent_types_take_a_resends_answer_as_the_answer(slug: str) -> None:
    a, _, _ = _items(slug)
    status = _status(slug, "documented", "completed", [],
                     [_reply_item(slug, a, "documented", "Failed to create customer")])
    reading = _read(slug, status, resent=True)
    assert [o.status for o in reading.outcomes] == ["failed"]
    assert reading.cause == oc.IDEMPOTENT


@pytest.mark.parametrize("slug", TYPES)
def test_a_job_level_failure_without_items_fails_the_chunk_but_not_its_rows(slug: str) -> None:
    reading = _read(slug, _status(slug, "documented", "failed", [], []))
    assert reading.chunk_state == "failed"
    assert set(_verdicts(slug, reading).values()) == {"unknown"}


def test_a_message_about_an_order_id_counts_like_9004() -> None:
    item = ItemResult(key="SO-1", message="Order ID Already Exists")
    assert oc.is_already_exists(item)


# --- waiting ---------------------------------------------------------------------------------


def _running(finished: int, raw: str = "running") -> JobStatus:
    return parse_status({"status": raw, "finishedCount": finished, "errorCount": 0,
                         "totalCount": 3, "response": None})


def test_a_remote_job_that_makes_progress_is_followed_for_as_long_as_it_takes() -> None:
    watch = oc.Watch(started=0.0, max_age=60.0, max_refusals=3)
    for minute in range(10):
        watch.observe(_running(minute), now=minute * 50.0)
        assert watch.expired(minute * 50.0 + 1) is None


def test_a_remote_job_without_progress_ends_in_doubt_with_its_last_status() -> None:
    watch = oc.Watch(started=0.0, max_age=60.0, max_refusals=3)
    watch.observe(_running(1), now=10.0)
    watch.observe(_running(1), now=50.0)
    assert watch.expired(69.0) is None
    reason = watch.expired(71.0)
    assert reason is not None
    assert "'running'" in reason


def test_a_status_word_nobody_knows_is_no_progress() -> None:
    watch = oc.Watch(started=0.0, max_age=60.0, max_refusals=3)
    for second in range(0, 70, 10):
        watch.observe(_running(second, raw="Cancelled"), now=float(second))
    reason = watch.expired(70.0)
    assert reason is not None
    assert "'Cancelled'" in reason


def test_status_reads_refused_again_and_again_end_the_wait() -> None:
    watch = oc.Watch(started=0.0, max_age=3600.0, max_refusals=2)
    for _ in range(3):
        watch.refused(AuthError("Unauthorized", status=401))
    reason = watch.expired(1.0)
    assert reason is not None
    assert "3 status reads" in reason


def test_a_customer_with_two_items_in_an_old_chunk_names_neither() -> None:
    """Chunks stored before chunks held each customer once: never guess which item it was."""
    bt = BATCH_TYPES["cashback"]
    payload = json.dumps({"body": [
        {"customerId": "cus-1", "transactionId": "A"},
        {"customerId": "cus-1", "transactionId": "B"},
        {"customerId": "cus-2", "transactionId": "C"},
    ]}).encode()
    status = _status("cashback", "documented", "completed",
                     [{"customerId": "cus-1"}, {"customerId": "cus-2"}],
                     [{"customerId": "cus-1", "message": "Insufficient Balance Points"}])
    reading = oc.read_status(bt, status, oc.ChunkItems.of(bt, payload), resent=False)
    assert reading.applied == ["C"]
    assert reading.outcomes == []  # A and B get the unlisted verdict: in doubt
    assert reading.unlisted[0] == "unknown"
