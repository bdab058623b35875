"""The small shared HTTP client for Gameball's batch API (the project's only httpx user).

::

    with GameballClient(base_url, api_key, secret_key) as client:
        job_id = client.create_batch("cashback", payload)      # exact bytes, {"body": [...]}
        status = client.get_status(job_id, "cashback")        # JobStatus, either doc shape
        client.stop(job_id)

The status and stop routes are documented twice (reference §9 C2/C3); unless ``paths`` pins
them, the client finds the pair that answers on its first status read or stop.

Layout (gidgethub style): :mod:`.sansio` builds requests and decodes replies as pure
functions, :mod:`.retry` decides retries, :mod:`.ratelimit` keeps under Gameball's limits,
:mod:`.http` is the thin httpx edge, :mod:`.errors` the one exception tree, :mod:`.models`
the typed results. Importing this package imports httpx; callers that must stay light import
it lazily.

This package must not know about the ledger, the runner or chunks: it speaks one request at
a time, and never shows a key.
"""

from gameball_batch.client.errors import (
    ApiError,
    AuthError,
    GameballError,
    InvalidRequest,
    MaybeSent,
    NotFound,
    NotSent,
    RateLimited,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from gameball_batch.client.http import GameballClient
from gameball_batch.client.models import FINAL_STATES, ItemResult, Items, JobStatus, State
from gameball_batch.client.ratelimit import RateLimit, RateLimiter
from gameball_batch.client.retry import Backoff
from gameball_batch.client.sansio import Paths

__all__ = [
    "FINAL_STATES",
    "ApiError",
    "AuthError",
    "Backoff",
    "GameballClient",
    "GameballError",
    "InvalidRequest",
    "ItemResult",
    "Items",
    "JobStatus",
    "MaybeSent",
    "NotFound",
    "NotSent",
    "Paths",
    "RateLimit",
    "RateLimited",
    "RateLimiter",
    "ServerError",
    "State",
    "TransportError",
    "UnexpectedResponse",
]
