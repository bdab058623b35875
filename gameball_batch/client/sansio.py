"""Pure request building and response decoding for Gameball's batch API (no I/O).

In the gidgethub style: functions here turn arguments into a :class:`Request` (method, path,
headers, body) and a :class:`Reply` (status, headers, body bytes) into a result model or an
error from :mod:`.errors`. The HTTP edge (:mod:`.http`) only moves bytes. Because the docs
disagree (reference §9), decoding is deliberately forgiving: both status shapes, every
documented status spelling, ``message`` or ``error`` on failed items, three error envelopes,
keys matched case-insensitively, unknown fields kept. Odd answers become
:class:`~.errors.UnexpectedResponse`, never a crash.

This module must not import httpx, sleep, read clocks (except the wall clock for an HTTP-date
``Retry-After`` when no ``now`` is given) or log. It must never put a key into a message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

from gameball_batch import __version__, jsonio
from gameball_batch import batch_types as bts
from gameball_batch.batch_types import API_PREFIX, BatchType
from gameball_batch.client.errors import (
    ApiError,
    AuthError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    UnexpectedResponse,
)
from gameball_batch.client.models import ItemResult, Items, JobStatus, State

USER_AGENT = f"gameball-batch/{__version__}"
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_JOB_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_SNIPPET = 160
# Generic result-key order when the batch type is unknown: the most specific key first, so a
# cashback item {customerId, transactionId} maps to its transaction, a customer item to itself.
_GENERIC_KEYS = ("transactionId", "orderId", "customerId")


# --- paths ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Paths:
    """Path templates; ``{endpoint}`` is a type's creation endpoint, ``{job_id}`` the job.

    The default follows reference §10.1 (GitBook and tutorial); :meth:`openapi` is the
    OpenAPI file's variant. ``{jobId}`` and ``{batchId}`` are accepted as ``{job_id}``.
    """

    create: str = API_PREFIX + "{endpoint}"
    status: str = API_PREFIX + "/batch/{job_id}"
    stop: str = API_PREFIX + "/batch/{job_id}"
    stop_method: str = "DELETE"

    def __post_init__(self) -> None:
        if self.stop_method not in ("DELETE", "POST"):
            raise ValueError(f"stop_method must be DELETE or POST, got '{self.stop_method}'")
        _check_template("create", self.create, endpoint="/batch/x")
        _check_template("status", self.status, job_id="1", jobId="1", batchId="1")
        _check_template("stop", self.stop, job_id="1", jobId="1", batchId="1")

    @classmethod
    def gitbook(cls) -> Paths:
        """``GET``/``DELETE /batch/{jobId}`` (GitBook, tutorial): the default."""
        return cls()

    @classmethod
    def openapi(cls) -> Paths:
        """``GET /batches/{id}/status`` and ``POST /batches/{id}/stop`` (the OpenAPI file)."""
        return cls(status=API_PREFIX + "/batches/{job_id}/status",
                   stop=API_PREFIX + "/batches/{job_id}/stop", stop_method="POST")

    @classmethod
    def preset(cls, name: str) -> Paths:
        """``"gitbook"`` or ``"openapi"``, for settings and the CLI."""
        presets = {"gitbook": cls.gitbook, "openapi": cls.openapi}
        if name not in presets:
            raise ValueError(f"Unknown path preset '{name}'. Choose one of: gitbook, openapi.")
        return presets[name]()


# The two documented pairs of status and stop routes (reference §9 C2/C3), by name.
ROUTE_PAIRS = ("gitbook", "openapi")
ROUTE_SETTINGS = ("auto", *ROUTE_PAIRS)


def pinned_paths(setting: str) -> Paths | None:
    """The ``[gameball] routes`` setting as paths: ``"auto"`` is None (find the pair that
    works), ``"gitbook"`` or ``"openapi"`` pins that pair."""
    value = str(setting).strip().lower()
    if value not in ROUTE_SETTINGS:
        raise ValueError(f"routes must be one of {', '.join(ROUTE_SETTINGS)}, got '{setting}'")
    return None if value == "auto" else Paths.preset(value)


@dataclass
class RouteChoice:
    """Which documented pair of status/stop routes this Gameball serves; pure state.

    Until a pair is proven by a 2xx, a 404 on ``current`` may mean "wrong pair" as well as
    "unknown job", so :meth:`tries` names the other pair too: a caller tries them in
    order and reports the first 2xx with :meth:`answered`. A 404 on both leaves
    ``current`` as it was (still unproven) and means the job is unknown. Once proven,
    only that pair is tried and a 404 is an unknown job.
    """

    current: str = "gitbook"
    proven: bool = False

    def __post_init__(self) -> None:
        if self.current not in ROUTE_PAIRS:
            raise ValueError(f"routes must be one of {', '.join(ROUTE_PAIRS)}, "
                             f"got '{self.current}'")

    def tries(self) -> tuple[str, ...]:
        """The pairs to try, in order."""
        if self.proven:
            return (self.current,)
        return (self.current, *(p for p in ROUTE_PAIRS if p != self.current))

    def answered(self, pair: str) -> bool:
        """``pair`` answered with a 2xx: use it from now on. True when this newly proves it
        (the moment to remember the answer), False when it was proven already."""
        newly = not (self.proven and self.current == pair)
        self.current, self.proven = pair, True
        return newly


def _check_template(name: str, template: str, **values: str) -> None:
    if not template.startswith("/"):
        raise ValueError(f"The {name} path must start with '/', got '{template}'")
    try:
        template.format(**values)
    except (KeyError, IndexError, ValueError):
        allowed = ", ".join("{" + key + "}" for key in values)
        raise ValueError(
            f"The {name} path '{template}' uses a placeholder other than {allowed}"
        ) from None


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What to send. ``headers`` hold the keys, so they are left out of repr and equality."""

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False, compare=False)
    body: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers (names lower-case) and the raw body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False)


def check_key(label: str, value: str) -> None:
    """Refuse a key that cannot travel in a header, without ever showing the key."""
    if value and not _VISIBLE_ASCII.fullmatch(value):
        raise ValueError(
            f"The {label} contains spaces, line breaks or non-ASCII characters, so it cannot "
            "be sent; check it was copied completely and nothing else came with it."
        )


def headers(api_key: str, secret_key: str, *, user_agent: str = USER_AGENT) -> dict[str, str]:
    """Request headers (reference §1.2). An empty key is left out, so Gameball says which."""
    result = {"Accept": "application/json", "User-Agent": user_agent}
    if api_key:
        result["APIKey"] = api_key
    if secret_key:
        result["SecretKey"] = secret_key
    return result


def check_job_id(job_id: str) -> str:
    """The job id as text safe in a path segment; ValueError for anything else."""
    text = str(job_id).strip()
    if not _JOB_ID.fullmatch(text) or set(text) == {"."}:
        raise ValueError(f"A job id is letters, digits, '-', '_' or '.', got '{job_id}'")
    return text


def batch_type(slug_or_type: str | BatchType) -> BatchType:
    return slug_or_type if isinstance(slug_or_type, BatchType) else bts.get(slug_or_type)


def create_request(slug_or_type: str | BatchType, payload: bytes, *, paths: Paths,
                   headers: Mapping[str, str]) -> Request:
    """POST the exact payload bytes to the type's creation path."""
    if not payload:
        raise ValueError("The batch payload is empty: nothing to send")
    bt = batch_type(slug_or_type)
    return Request("POST", paths.create.format(endpoint=bt.endpoint),
                   {**headers, "Content-Type": "application/json"}, bytes(payload))


def status_request(job_id: str, *, paths: Paths, headers: Mapping[str, str]) -> Request:
    text = check_job_id(job_id)
    return Request("GET", paths.status.format(job_id=text, jobId=text, batchId=text),
                   dict(headers))


def stop_request(job_id: str, *, paths: Paths, headers: Mapping[str, str]) -> Request:
    text = check_job_id(job_id)
    return Request(paths.stop_method, paths.stop.format(job_id=text, jobId=text, batchId=text),
                   dict(headers))


# --- errors --------------------------------------------------------------------------------


def error_class(status: int) -> type[ApiError]:
    """The exception class for a non-2xx status."""
    if status in (401, 403):
        return AuthError
    special: dict[int, type[ApiError]] = {404: NotFound, 429: RateLimited}
    if status in special:
        return special[status]
    if 500 <= status <= 599:
        return ServerError
    if 400 <= status <= 499:
        return InvalidRequest
    return UnexpectedResponse


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until(text: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for(request: Request, reply: Reply, *, redact: Collection[str] = (),
              now: datetime | None = None) -> ApiError | None:
    """The error a non-2xx reply means, or None for a 2xx.

    The envelope may be ``{code, type, message, documentationUrl, requestId}`` (v4),
    ``{error, message}`` (OpenAPI) or ``{code, message}`` (v3) (reference §7.1, §9 C12).
    ``redact`` lists strings (the keys) that must not survive into the message.
    """
    if 200 <= reply.status <= 299:
        return None
    document = _json_or_none(reply.body)
    fields = _lower(document) if isinstance(document, dict) else {}
    code = _code(fields.get("code"))
    error = fields.get("error")
    if code is None and isinstance(error, int) and not isinstance(error, bool):
        code = error
    elif code is None and isinstance(error, dict):
        code = _code(_lower(error).get("code"))
    message = _envelope_message(fields) or _status_text(reply, document)
    return error_class(reply.status)(
        _redact(message, redact),
        status=reply.status,
        code=code,
        request_id=_redact(_text(fields.get("requestid")), redact) or None,
        error_type=_text(fields.get("type")),
        documentation_url=_text(fields.get("documentationurl")),
        retry_after=parse_retry_after(reply.headers.get("retry-after"), now=now),
        method=request.method,
        path=request.path,
    )


def _envelope_message(fields: Mapping[str, Any]) -> str | None:
    message = _text(fields.get("message"))
    if message:
        return message
    error = fields.get("error")
    if isinstance(error, dict):
        return _text(_lower(error).get("message"))
    return _text(error) if isinstance(error, str) else None


def _status_text(reply: Reply, document: Any) -> str:
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = f"HTTP status {reply.status}"
    if document is not None or not reply.body.strip():
        return phrase
    snippet = _snippet(reply.body)
    return f"{phrase}; the answer was not JSON: {snippet}" if snippet else \
        f"{phrase}; the answer was not JSON"


def _redact(text: str | None, secrets: Collection[str]) -> str:
    result = text or ""
    for secret in secrets:
        if secret:
            result = result.replace(secret, "********")
    return result


# --- decoding successes --------------------------------------------------------------------


def raise_for_error(request: Request, reply: Reply, *, redact: Collection[str] = ()) -> None:
    error = error_for(request, reply, redact=redact)
    if error is not None:
        raise error


def decode_create(request: Request, reply: Reply, *, redact: Collection[str] = ()) -> str:
    """The jobId of a creation reply, as text (the docs give a number, reference §1.5)."""
    raise_for_error(request, reply, redact=redact)
    document = _json_object(request, reply, redact)
    job_id = _id_text(_lower(document).get("jobid"))
    if job_id is None:
        raise _unexpected(
            request, reply,
            "the answer has no jobId, so the batch may have been created; check Gameball "
            "before sending it again", redact)
    return job_id


def decode_stop(request: Request, reply: Reply, *, redact: Collection[str] = ()) -> None:
    """Any 2xx means stopped: GitBook shows no body at all, OpenAPI a small object."""
    raise_for_error(request, reply, redact=redact)


def decode_status(request: Request, reply: Reply, *, job_id: str | None = None,
                  batch_type: str | BatchType | None = None,
                  redact: Collection[str] = ()) -> JobStatus:
    """A status reply as a :class:`JobStatus` (either shape, any spelling)."""
    raise_for_error(request, reply, redact=redact)
    document = _json_object(request, reply, redact)
    return parse_status(document, job_id=job_id, batch_type=batch_type, body=reply.body)


def _json_object(request: Request, reply: Reply, redact: Collection[str]) -> dict[str, Any]:
    if not reply.body.strip():
        raise _unexpected(request, reply, "the answer was empty, expected JSON", redact)
    document = _json_or_none(reply.body)
    if document is None:
        snippet = _snippet(reply.body)
        detail = f": {snippet}" if snippet else ""
        raise _unexpected(request, reply, f"the answer was not JSON{detail}", redact)
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise _unexpected(request, reply, f"expected a JSON object, got a JSON {kind}", redact)
    return document


def _unexpected(request: Request, reply: Reply, message: str,
                redact: Collection[str]) -> UnexpectedResponse:
    return UnexpectedResponse(_redact(message, redact), status=reply.status,
                              method=request.method, path=request.path)


# --- status parsing ------------------------------------------------------------------------

_STATES: dict[str, State] = {
    "queued": "queued",
    "pending": "queued",
    "running": "running",
    "processing": "running",
    "inprogress": "running",
    "completed": "completed",
    "finished": "completed",
    "failed": "failed",
    "stopped": "stopped",
}
# Top-level names read into JobStatus attributes (lower-case); every other key goes to extra.
_CONSUMED = frozenset({
    "status", "response", "results", "errors", "finishedcount", "errorcount", "totalcount",
    "createdat", "startedat", "operation", "batchid", "jobid", "totalitems", "faileditems",
})
_SEPARATORS = re.compile(r"[\s_-]+")


def normalise_state(raw: Any) -> State:
    """queued/Queued/pending → queued; running/processing/inProgress/"in progress" → running;
    completed/finished → completed; failed; stopped; anything else → unknown (§4.3, §10.3)."""
    if not isinstance(raw, str):
        return "unknown"
    return _STATES.get(_SEPARATORS.sub("", raw).lower(), "unknown")


def parse_status(document: Mapping[str, Any], *, job_id: str | None = None,
                 batch_type: str | BatchType | None = None, body: bytes = b"") -> JobStatus:
    """Shape 1 (``response.successful/failed``, ``finishedCount``…) or shape 2
    (``results``/``errors``, ``processedItems``…), reference §4.1 and §10.2."""
    fields = _lower(document)
    raw_status = fields.get("status")
    names = result_keys(batch_type, _text(fields.get("operation")))
    response = fields.get("response")
    response_fields = _lower(response) if isinstance(response, dict) else {}
    exact = _documented_case(document, response)
    successful = response_fields.get("successful", response_fields.get("succeeded"))
    failed = response_fields.get("failed")
    if not response_fields:
        successful, failed = fields.get("results"), fields.get("errors")
    parse, key = _item_readers(names, exact)
    return JobStatus(
        state=normalise_state(raw_status),
        raw_status=None if raw_status is None else str(raw_status),
        successful=Items(_items(successful), parse, key),
        failed=Items(_items(failed), parse, key),
        finished_count=_finished(fields),
        error_count=_first_count(fields, "errorcount", "faileditems"),
        total_count=_first_count(fields, "totalcount", "totalitems"),
        created_at=_text(fields.get("createdat")),
        started_at=_text(fields.get("startedat")),
        operation=_text(fields.get("operation")),
        job_id=_id_text(fields.get("batchid", fields.get("jobid"))) or job_id,
        extra=_extra(document, response),
        body=body,
    )


def _item_readers(names: tuple[str, ...], exact: bool,
                  ) -> tuple[Callable[[Any], ItemResult], Callable[[Any], str | None]]:
    """(parse an item, read only its key) for :class:`Items`; both agree on every key."""
    def parse(raw: Any) -> ItemResult:
        return _parse_item(raw, names, exact=exact)

    def key(raw: Any) -> str | None:
        # The common case (a documented name holds text) without building an ItemResult:
        # the type's key when the item carries it, else customerId, all Gameball promises.
        if exact and type(raw) is dict:
            for name in names:
                value = raw.get(name)
                if type(value) is str:
                    text = value.strip()
                    if text:
                        return text
                elif value is not None:
                    break  # a number or another type: let the full reading decide
        return _parse_item(raw, names, exact=exact).key

    return parse, key


def result_keys(batch_type: str | BatchType | None, operation: str | None) -> tuple[str, ...]:
    """Item fields to try for an item's key: the type's result key, then customerId.

    With no type given, the job's ``operation`` name picks it (reference §10.8); failing
    that, the most specific identifier present wins.
    """
    bt: BatchType | None = None
    if isinstance(batch_type, BatchType):
        bt = batch_type
    elif isinstance(batch_type, str):
        bt = bts.get(batch_type)
    elif operation:
        wanted = operation.strip().lower()
        bt = next((t for t in bts.BATCH_TYPES.values() if t.operation.lower() == wanted), None)
    if bt is None:
        return _GENERIC_KEYS
    return tuple(dict.fromkeys((bt.result_key, "customerId")))


def parse_item(raw: Any, key_fields: Iterable[str] = _GENERIC_KEYS) -> ItemResult:
    """One result item; ``message`` falls back to ``error`` (reference §9 C7)."""
    return _parse_item(raw, tuple(key_fields), exact=False)


def _parse_item(raw: Any, names: tuple[str, ...], *, exact: bool) -> ItemResult:
    """:func:`parse_item`, the hot loop of a 1000-item status.

    ``exact`` reads the documented camelCase names directly (the common case, twice as
    fast); an item whose key is then missing is read again case-insensitively.
    """
    if not isinstance(raw, dict):
        return ItemResult(key=_id_text(raw), data={"value": raw})
    fields = raw if exact else {k.lower(): v for k, v in raw.items()}  # JSON keys are text
    key = None
    for name in names:
        key = _id_text(fields.get(name if exact else name.lower()))
        if key:
            break
    if key is None and exact:
        return _parse_item(raw, names, exact=False)
    message = _text(fields.get("message"))
    code = _code(fields.get("code"))
    error = fields.get("error")
    if isinstance(error, dict):
        inner = _lower(error)
        message = message or _text(inner.get("message"))
        code = code if code is not None else _code(inner.get("code"))
    elif isinstance(error, str):
        message = message or _text(error)
    return ItemResult(key=key, message=message, code=code, data=raw)


def _documented_case(*documents: Any) -> bool:
    """False when a document spells a known name in another case (``Status``, ``Failed``)."""
    known = ("status", "response", "results", "errors", "successful", "failed")
    return not any(isinstance(d, dict) and any(k != k.lower() and k.lower() in known for k in d)
                   for d in documents)


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _finished(fields: Mapping[str, Any]) -> int | None:
    """Shape 1's ``finishedCount`` (successes), or shape 2's processed minus failed."""
    finished = _count(fields.get("finishedcount"))
    if finished is not None or "finishedcount" in fields:
        return finished
    processed, failed = _count(fields.get("processeditems")), _count(fields.get("faileditems"))
    if processed is None:
        return None
    return max(0, processed - (failed or 0))


def _first_count(fields: Mapping[str, Any], *names: str) -> int | None:
    return next((c for c in (_count(fields.get(n)) for n in names) if c is not None), None)


def _extra(document: Mapping[str, Any], response: Any) -> dict[str, Any]:
    extra = {k: v for k, v in document.items() if k.lower() not in _CONSUMED}
    if response is not None and not isinstance(response, dict):
        extra["response"] = response  # not the documented object: kept as it came
    elif isinstance(response, dict):
        rest = {k: v for k, v in response.items()
                if k.lower() not in ("successful", "succeeded", "failed")}
        if rest:
            extra["response"] = rest
    return extra


# --- small readers -------------------------------------------------------------------------


def _lower(document: Mapping[str, Any]) -> dict[str, Any]:
    """Keys lower-cased; an exact lower-case key wins over a differently cased duplicate."""
    result: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(key, str) and (key == key.lower() or key.lower() not in result):
            result[key.lower()] = value
    return result


def _json_or_none(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return jsonio.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _snippet(body: bytes) -> str:
    """A short printable excerpt of a non-JSON body; nothing for HTML pages."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return f"'{text[:_SNIPPET]}…'" if len(text) > _SNIPPET else f"'{text}'"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> int | None:
    """A non-negative whole number from a number or numeric text; None otherwise."""
    if _is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _code(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return _count(value) if not isinstance(value, str) else None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None


def _id_text(value: Any) -> str | None:
    """An identifier as text: strings as they are, whole numbers without a decimal point."""
    if isinstance(value, str):
        return value.strip() or None
    if _is_int(value):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None
