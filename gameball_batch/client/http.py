"""GameballClient: the thin edge that moves bytes with httpx (the project's only httpx user).

Everything that can be decided without a socket lives in :mod:`.sansio` (requests, decoding,
errors) and :mod:`.retry` (whether and when to retry); this module sends, maps httpx's
exceptions onto :mod:`.errors`, consults the rate limiter before every attempt and sleeps
between retries. One client is safe to share between threads (httpx.Client is).

This module must not decide API semantics, and must never log or show a key, a header or a
request body: log lines carry the method, path, status and attempt only.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import httpx

from gameball_batch.batch_types import BatchType
from gameball_batch.client import retry as rt
from gameball_batch.client import sansio
from gameball_batch.client.errors import (
    GameballError,
    MaybeSent,
    NotFound,
    NotSent,
    TransportError,
)
from gameball_batch.client.models import JobStatus
from gameball_batch.client.ratelimit import Clock, RateLimit, RateLimiter, Sleep
from gameball_batch.client.sansio import Paths, Reply, Request, RouteChoice
from gameball_batch.settings import Secret

log = logging.getLogger(__name__)
T = TypeVar("T")
# The route pair each base URL proved to serve, for every client of this process.
_PROVEN_ROUTES: dict[str, str] = {}
_PROVEN_LOCK = threading.Lock()

DEFAULT_TIMEOUT = 30.0
# Exceptions raised before a single byte of the request can have left this machine.
_NOT_SENT: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectTimeout, "connecting timed out"),
    (httpx.PoolTimeout, "no free connection in time"),
    (httpx.ConnectError, "could not connect"),
    (httpx.ProxyError, "the proxy refused the connection"),
    (httpx.UnsupportedProtocol, "the base URL's scheme is not http or https"),
    (httpx.LocalProtocolError, "the request could not be formed"),
)
_MAYBE_SENT: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ReadTimeout, "no answer in time"),
    (httpx.WriteTimeout, "sending the request timed out"),
    (httpx.RemoteProtocolError, "the connection closed without a complete answer"),
)


def forget_proven_routes(base_url: str | None = None) -> None:
    """Forget which route pair a base URL (or every one) proved to serve in this process,
    so the next client finds it again (after a setting or deployment changed)."""
    with _PROVEN_LOCK:
        if base_url is None:
            _PROVEN_ROUTES.clear()
        else:
            _PROVEN_ROUTES.pop(_check_base_url(base_url), None)


def _secret(value: Secret | str, label: str) -> Secret:
    secret = value if isinstance(value, Secret) else Secret(str(value).strip())
    sansio.check_key(label, secret.reveal())
    return secret


def _check_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url.strip().rstrip("/")) if base_url.strip() else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"The Gameball base URL must look like https://api.gameball.co, got '{base_url}'"
        )
    return str(url)


def transport_error(exc: httpx.TransportError, request: Request) -> TransportError:
    """httpx's exception as NotSent (provably never left) or MaybeSent (fate unknown)."""
    detail = str(exc).strip()
    for kinds, cls in ((_NOT_SENT, NotSent), (_MAYBE_SENT, MaybeSent)):
        for kind, what in kinds:
            if isinstance(exc, kind):
                text = f"{what} ({detail})" if detail else what
                return cls(_lead(cls) + text, method=request.method, path=request.path)
    text = f"the connection broke ({detail})" if detail else "the connection broke"
    return MaybeSent(_lead(MaybeSent) + text, method=request.method, path=request.path)


def _lead(cls: type[TransportError]) -> str:
    if cls is NotSent:
        return "Could not reach Gameball, nothing was sent: "
    return "No answer from Gameball, which may have received the request: "


class GameballClient:
    """Create batches, read their status and stop them; see the package docstring.

    Status and stop routes (reference §9 C2/C3): ``paths`` pins them. With ``paths`` None
    (the default) the client finds the documented pair this Gameball serves: the first
    status read (or stop) tries one pair and, on a 404, the other once; the pair that
    answers is used from then on by every client of this process for that base URL. A 404
    on both means the job is unknown (:class:`NotFound`) and proves nothing.
    ``remembered_routes`` ("gitbook" or "openapi", e.g. from the ledger) is the pair to try
    first; ``on_routes(pair)`` is called when a pair is proven that differs from the one
    remembered (so the caller can store it), at most once per new answer.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Secret | str,
        secret_key: Secret | str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        rate_limit: RateLimit | RateLimiter | None = RateLimit(),  # noqa: B008 (immutable)
        paths: Paths | None = None,
        remembered_routes: str | None = None,
        on_routes: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        max_retries: int = 5,
        backoff: rt.Backoff | None = None,
        rng: random.Random | None = None,
        user_agent: str = sansio.USER_AGENT,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self._api_key = _secret(api_key, "API key")
        self._secret_key = _secret(secret_key, "secret key")
        self._pinned = paths
        with _PROVEN_LOCK:
            self._known = remembered_routes or _PROVEN_ROUTES.get(self.base_url)
        self._routes = RouteChoice(self._known or "gitbook")
        self._routes_lock = threading.Lock()
        self._on_routes = on_routes
        self.max_retries = max(0, max_retries)
        self.backoff = backoff or rt.Backoff()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._user_agent = user_agent
        self.limiter = (rate_limit if isinstance(rate_limit, RateLimiter) or rate_limit is None
                        else RateLimiter(rate_limit, clock=clock, sleep=sleep))
        # Proxy settings from the environment apply to a real Gameball, never to a sandbox on
        # this machine (a corporate HTTP_PROXY would otherwise swallow 127.0.0.1).
        local = httpx.URL(self.base_url).host in ("127.0.0.1", "localhost", "::1")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  follow_redirects=False, trust_env=not local)

    @property
    def paths(self) -> Paths:
        """The paths in use now: the pinned ones, or the current documented pair."""
        if self._pinned is not None:
            return self._pinned
        return Paths.preset(self._routes.current)

    @property
    def routes(self) -> str:
        """``"gitbook"`` or ``"openapi"`` (the pair in use), or ``"pinned"`` for ``paths``."""
        return "pinned" if self._pinned is not None else self._routes.current

    @property
    def routes_proven(self) -> bool:
        """Whether the pair in use has answered with a 2xx (pinned paths count as proven)."""
        return self._pinned is not None or self._routes.proven

    # --- the API ------------------------------------------------------------------------

    def create_batch(self, slug_or_type: str | BatchType, payload: bytes) -> str:
        """POST ``payload`` (exact bytes) as a batch of that type; Gameball's jobId as text.

        Retried only when provably not delivered or refused with 429: a 5xx raises
        :class:`ServerError` and a lost answer :class:`MaybeSent`, both "in doubt".
        """
        request = sansio.create_request(slug_or_type, payload, paths=self.paths,
                                        headers=self._headers())
        reply = self._call("create", request)
        return sansio.decode_create(request, reply, redact=self._redact())

    def get_status(self, job_id: str, batch_type: str | BatchType | None = None) -> JobStatus:
        """The job's status; ``batch_type`` says which item field is each result's key."""
        def build(paths: Paths) -> Request:
            return sansio.status_request(job_id, paths=paths, headers=self._headers())

        def decode(request: Request, reply: Reply) -> JobStatus:
            return sansio.decode_status(request, reply, job_id=str(job_id),
                                        batch_type=batch_type, redact=self._redact())

        return self._on_a_route("status", build, decode)

    def stop(self, job_id: str) -> None:
        """Ask Gameball to stop the job; items already processed stay applied."""
        def build(paths: Paths) -> Request:
            return sansio.stop_request(job_id, paths=paths, headers=self._headers())

        def decode(request: Request, reply: Reply) -> None:
            sansio.decode_stop(request, reply, redact=self._redact())

        self._on_a_route("stop", build, decode)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GameballClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GameballClient({self.base_url!r}, api_key={self._api_key!r})"

    # --- the edge -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return sansio.headers(self._api_key.reveal(), self._secret_key.reveal(),
                              user_agent=self._user_agent)

    def _redact(self) -> tuple[str, str]:
        return self._api_key.reveal(), self._secret_key.reveal()

    def _on_a_route(self, operation: rt.Operation, build: Callable[[Paths], Request],
                    decode: Callable[[Request, Reply], T]) -> T:
        """Call the status or stop route of the pinned paths, or of the documented pair
        that works (trying the other pair once on a 404 while none is proven)."""
        if self._pinned is not None:
            request = build(self._pinned)
            return decode(request, self._call(operation, request))
        with self._routes_lock:
            tries = self._routes.tries()
        missing: NotFound | None = None
        for pair in tries:
            request = build(Paths.preset(pair))
            try:
                reply = self._call(operation, request)
            except NotFound as exc:  # wrong pair, or an unknown job: the other pair says
                missing = missing or exc
                continue
            result = decode(request, reply)
            self._proven(pair)
            return result
        assert missing is not None
        raise missing

    def _proven(self, pair: str) -> None:
        with self._routes_lock:
            self._routes.answered(pair)
            news = pair != self._known
            self._known = pair
        if not news:
            return
        with _PROVEN_LOCK:
            _PROVEN_ROUTES[self.base_url] = pair
        log.info("Gameball serves the %s status and stop routes at %s", pair, self.base_url)
        if self._on_routes is not None:
            self._on_routes(pair)

    def _call(self, operation: rt.Operation, request: Request) -> Reply:
        """Send with limiter and retries; the 2xx reply, or the last error raised."""
        retry = 0
        while True:
            try:
                return self._attempt(request)
            except GameballError as error:
                wait = rt.retry_delay(operation, error, retry, max_retries=self.max_retries,
                                      backoff=self.backoff, rng=self._rng)
                if wait is None:
                    raise
                self._wait(request, error, retry, wait)
                retry += 1

    def _attempt(self, request: Request) -> Reply:
        if self.limiter is not None:
            self.limiter.acquire(request.method)
        reply = self._send(request)
        log.debug("%s %s -> %s", request.method, request.path, reply.status)
        sansio.raise_for_error(request, reply, redact=self._redact())
        return reply

    def _send(self, request: Request) -> Reply:
        try:
            response = self._http.request(request.method, request.path,
                                          headers=dict(request.headers), content=request.body)
        except httpx.TransportError as exc:
            raise transport_error(exc, request) from None
        except httpx.HTTPError as exc:  # decoding and other httpx failures after sending
            raise MaybeSent(_lead(MaybeSent) + type(exc).__name__, method=request.method,
                            path=request.path) from None
        return Reply(response.status_code,
                     {k.lower(): v for k, v in response.headers.items()}, response.content)

    def _wait(self, request: Request, error: GameballError, retry: int, wait: float) -> None:
        log.info("%s %s failed (%s); retry %d of %d in %.2f s", request.method, request.path,
                 type(error).__name__, retry + 1, self.max_retries, wait)
        if getattr(error, "retry_after", None) is not None and self.limiter is not None:
            # Gameball named a time: everyone sharing the budget holds off, not just this
            # thread; the limiter does the waiting in the next attempt's acquire().
            self.limiter.defer(wait, request.method)
            return
        self._sleep(wait)
