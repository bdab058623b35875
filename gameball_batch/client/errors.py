"""Every error the Gameball client raises, in one tree. Callers never see httpx exceptions.

::

    GameballError                anything the client raises about a call
     ├── TransportError          no complete HTTP answer arrived
     │    ├── NotSent            provably never left: connect refused/timeout, pool timeout
     │    └── MaybeSent          may have arrived: read/write timeout, dropped connection
     └── ApiError                Gameball answered: status, code, message, request_id
          ├── AuthError          401, 403: the keys were refused
          ├── RateLimited        429; retry_after in seconds, or None
          ├── NotFound           404: unknown job id or wrong path
          ├── ServerError        5xx: on creation the batch may or may not have been applied
          ├── InvalidRequest     any other 4xx: the request itself was refused
          └── UnexpectedResponse a 2xx (or 1xx/3xx) that is not the documented JSON

Each error carries the request's ``method`` and ``path`` (never headers, never the body) so an
operator can tell which call failed. ``str(error)`` is a sentence for operators.

This module must not import httpx and must never hold an API key: messages are built from
the status, Gameball's error envelope and the path only.
"""

from __future__ import annotations


class GameballError(Exception):
    """Base of every client error; ``method`` and ``path`` name the request that failed."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        self.message = message
        self.method = method
        self.path = path
        super().__init__(message)

    @property
    def request(self) -> str:
        """``"GET /api/v4.0/integrations/batch/12"``, or "" when not tied to a request."""
        return f"{self.method} {self.path}".strip()

    def __str__(self) -> str:
        where = self.request
        return f"{self.message} ({where})" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, request={self.request!r})"


class TransportError(GameballError):
    """No complete HTTP answer: the network, DNS, TLS or the server's socket failed."""


class NotSent(TransportError):
    """The request provably never reached Gameball: safe to send again."""


class MaybeSent(TransportError):
    """The request left, but no answer came: Gameball may have applied it."""


class ApiError(GameballError):
    """Gameball answered with an error status (or an answer we cannot read).

    ``code`` is Gameball's own code (e.g. 9004) when the envelope has one; ``message`` is
    Gameball's message, or a description of the status when there is none.
    """

    lead = "Gameball refused the request"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        request_id: str | None = None,
        error_type: str | None = None,
        documentation_url: str | None = None,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.error_type = error_type
        self.documentation_url = documentation_url
        self.retry_after = retry_after

    def __str__(self) -> str:
        facts = [f"HTTP {self.status}"]
        if self.code is not None:
            facts.append(f"code {self.code}")
        if self.request_id:
            facts.append(f"request id {self.request_id}")
        where = self.request
        tail = f"{', '.join(facts)}; {where}" if where else ", ".join(facts)
        return f"{self.lead}: {self.message} ({tail})"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status}, code={self.code}, "
                f"message={self.message!r}, request_id={self.request_id!r}, "
                f"request={self.request!r})")


class AuthError(ApiError):
    """401 or 403: the API key or secret key was refused (or the plan lacks the feature)."""

    lead = "Gameball refused the API keys"


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` is Gameball's hint in seconds, if it gave one."""

    lead = "Gameball is limiting the request rate"


class NotFound(ApiError):
    """404: no such job, or pinned paths this Gameball deployment does not serve.

    A client left to find the status/stop routes itself raises it only after both
    documented pairs answered 404 (reference §9 C2/C3).
    """

    lead = "Gameball does not know this job or path"


class ServerError(ApiError):
    """5xx: Gameball failed; a creation request may or may not have been applied."""

    lead = "Gameball had a server error"


class InvalidRequest(ApiError):
    """Any other 4xx: the request was refused as it stands (payload, limits, state)."""


class UnexpectedResponse(ApiError):
    """A success status whose body is not what the docs describe (not JSON, no jobId)."""

    lead = "Gameball sent an answer the client cannot read"
