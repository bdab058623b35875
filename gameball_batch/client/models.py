"""The typed results of the client: a job's status and its per-item results.

Both documented status shapes (reference §4.1) decode into the same :class:`JobStatus`, so
the runner and the console never look at raw JSON. Fields the docs do not name are kept in
``extra`` (status) and ``data`` (items), never dropped.

This module must not parse JSON or do I/O: :mod:`.sansio` builds these objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["queued", "running", "completed", "failed", "stopped", "unknown"]
FINAL_STATES: frozenset[str] = frozenset({"completed", "failed", "stopped"})


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome inside a job.

    ``key`` is the value of the batch type's result key (``transactionId`` for cashback),
    falling back to ``customerId``, which failure items carry (reference §2.8, §4.2).
    ``message`` is the item's ``message`` or ``error`` text; ``code`` is Gameball's numeric
    code when the item has one (e.g. 9004 for an already used transaction id).
    """

    key: str | None
    message: str | None = None
    code: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobStatus:
    """A remote job's state as one model, whatever shape or spelling Gameball used.

    ``state`` is normalised (``raw_status`` keeps Gameball's own word); an unrecognised
    status is ``"unknown"``, never an error. Counts are ``None`` when Gameball did not
    report them; ``created_at`` and ``started_at`` are Gameball's text, unparsed, because
    the docs show times both with and without a zone (reference §8.2).
    """

    state: State
    raw_status: str | None
    successful: list[ItemResult] = field(default_factory=list)
    failed: list[ItemResult] = field(default_factory=list)
    finished_count: int | None = None
    error_count: int | None = None
    total_count: int | None = None
    created_at: str | None = None
    started_at: str | None = None
    operation: str | None = None
    job_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        """Completed, failed or stopped: polling again will not change anything."""
        return self.state in FINAL_STATES

    @property
    def results(self) -> list[ItemResult]:
        """Every item result reported so far, successes first."""
        return [*self.successful, *self.failed]
