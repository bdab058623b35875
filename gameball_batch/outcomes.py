"""What a reply or an error means for a chunk and its rows: every such decision, in one place.

Pure functions over the client's typed results (:class:`JobStatus`, the client's errors) and
a chunk's history; the runner only carries out what they say. The rules (DESIGN.md,
"Submission, exactly once"):

- **A send's error** → the chunk goes back to ``pending`` only when the POST provably never
  left or was refused before processing (connect error, 429); ``failed`` when Gameball refused
  the request as a whole (any other 4xx: nothing in it was applied); the job pauses on 401,
  403 or 404 (configuration, not data); everything else (5xx, a lost answer, anything we
  cannot explain) is ``unknown``: it may have been applied.
- **Mapping results to rows.** Gameball documents per-item results as
  ``{customerId, message|error}``; the type's own key (``transactionId``, ``orderId``) is not
  promised. Chunks hold each customer at most once (payloads.py), so an item naming only its
  customer names exactly one item of the chunk. When an item carries the type's key, the key
  is used.
- **A reply that names every item leaves no row in doubt; items it omits are in doubt.**
  That includes a stopped job: the docs promise nothing about which items ran before a stop
  (the tutorial's stopped status is all zeros and ``response: null``), so rows the reply
  does not name are ``unknown``, never "not applied".
- **"Already exists" means only what it says**: only 9004 "Transaction ID Already Exists"
  (and the order equivalent). 9003 "Transaction Time Already Exists" and every other failure
  keep Gameball's message. On a resent chunk a 9004 counts as applied by this job's earlier
  attempt only when no other job used that id; otherwise the row stays in doubt, naming the
  other job.
- **Doubt is sticky**: on a resent chunk any other failure leaves the row in doubt (the
  earlier send may have applied it), except for idempotent types, where a resend's answer
  is the answer.

This module must not do I/O, touch the ledger or import streamlit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gameball_batch import jsonio
from gameball_batch.batch_types import BatchType
from gameball_batch.client import ItemResult, JobStatus
from gameball_batch.client.errors import (
    ApiError,
    AuthError,
    InvalidRequest,
    NotFound,
    NotSent,
    RateLimited,
)
from gameball_batch.ledger import states as st
from gameball_batch.ledger.records import ItemOutcome

ALREADY_EXISTS_CODE = 9004
# The message of 9004 for transaction ids, and the same words for order ids (reference §3.10:
# no order code is documented; 9004 is the natural candidate). Not 9003's "Transaction Time".
_ALREADY_EXISTS = re.compile(r"\b(transaction|order)\s*id\s+already\s+exists\b", re.I)

# --- sending -----------------------------------------------------------------------------------

RETRY_LATER = "retry_later"  # provably not applied: pending again, after a back-off
REFUSED = "refused"  # Gameball refused the whole request: rows failed, nothing applied
PAUSE = "pause"  # the connection settings are wrong: pending again, the job pauses
IN_DOUBT = "in_doubt"  # may have been applied


@dataclass(frozen=True)
class SendVerdict:
    """What a failed POST means: ``action`` (one of the four above) and the operator's line."""

    action: str
    message: str
    retry_after: float | None = None


def describe(exc: BaseException) -> str:
    """An operator-facing line for a client error (never a key: the client never puts one)."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ApiError) and exc.code is not None and str(exc.code) not in text:
        text = f"{text} (code {exc.code})"
    return text


def after_send_error(exc: BaseException) -> SendVerdict:
    """What an error from ``create_batch`` means for the chunk (see the module docstring)."""
    if isinstance(exc, NotSent | RateLimited):
        return SendVerdict(RETRY_LATER, describe(exc), getattr(exc, "retry_after", None))
    if isinstance(exc, AuthError | NotFound):
        return SendVerdict(PAUSE, f"Paused: Gameball refused the connection settings: "
                                  f"{describe(exc)}")
    if isinstance(exc, InvalidRequest):
        return SendVerdict(REFUSED, f"Gameball refused this chunk: {describe(exc)}")
    return SendVerdict(IN_DOUBT, describe(exc))


# --- reading a finished remote job ------------------------------------------------------------


@dataclass(frozen=True)
class ChunkItems:
    """Which item of a chunk a result item names: the customer → key map of its payload.

    Empty for types whose result key is the customer (every item already names its key).
    """

    by_customer: Mapping[str, str] = field(default_factory=dict)

    ambiguous: frozenset[str] = frozenset()  # customers with several items in the chunk

    @classmethod
    def of(cls, bt: BatchType, payload: bytes) -> ChunkItems:
        if bt.result_key == "customerId":
            return cls()
        body = jsonio.loads(payload).get("body") or []
        key = bt.result_key
        # _text inlined for the common case, text: a thousand items per chunk.
        pairs = [(c.strip() if type(c := i.get("customerId")) is str else _text(c),
                  k.strip() if type(k := i.get(key)) is str else _text(k))
                 for i in body if type(i) is dict]
        by_customer = dict(pairs)
        if len(by_customer) == len(pairs):  # each customer once: every chunk planned now
            return cls(by_customer)
        twice = {c for c, n in Counter(c for c, _ in pairs).items() if n > 1}
        return cls({c: k for c, k in pairs if c not in twice}, frozenset(twice))

    def key(self, named: str | None) -> str | None:
        """The chunk key an item names, by its own key or by its customer.

        A customer with several items in the chunk (a chunk planned before chunks held each
        customer once) names none of them: those rows stay in doubt rather than be guessed.
        """
        if named is None or not (self.by_customer or self.ambiguous):
            return named
        if named in self.ambiguous:
            return None
        return self.by_customer.get(named, named)

    def keys(self, names: Iterable[str | None]) -> list[str]:
        """:meth:`key` of each name, those that name none left out (a thousand at a time)."""
        if not (self.by_customer or self.ambiguous):
            return [n for n in names if n is not None]
        by_customer, ambiguous = self.by_customer, self.ambiguous
        return [by_customer.get(n, n) for n in names if n is not None and n not in ambiguous]


@dataclass(frozen=True)
class Reading:
    """What one finished remote job means for its chunk's rows."""

    chunk_state: str
    applied: list[str]
    outcomes: list[ItemOutcome]
    unlisted: tuple[str, str]
    cause: str  # how the ledger may move rows that were in doubt (transitions.py)
    failed: int  # rows reported failed
    in_doubt: int  # rows named but still in doubt (a 9004 shared with another job …)


# Whose rows a resend may settle, by the reply alone: everything for idempotent types.
REPLY, IDEMPOTENT = "reply", "idempotent"

UNLISTED_FINISHED = "Gameball finished the job without reporting this row."
UNLISTED_STOPPED = ("The job was stopped at Gameball, and its reply does not say whether "
                    "this row was applied.")
UNLISTED_FAILED = "Gameball reported the job failed without a result for this row."


def read_status(
    bt: BatchType, status: JobStatus, items: ChunkItems, *, resent: bool,
    other_jobs: Callable[[Collection[str]], Mapping[str, str]] = lambda keys: {},
) -> Reading:
    """Map a final status to rows: applied keys, per-key outcomes and the unlisted verdict.

    ``resent``: an earlier send of this chunk may have been applied. ``other_jobs(keys)``
    names, for ids also used by another job of the same target, that job (for a 9004 on a
    resend); it is asked only when such a 9004 occurs.
    """
    applied = items.keys(status.successful.item_keys())
    failures = [(items.key(i.key), i) for i in status.failed]
    exists = [k for k, i in failures if k is not None and resent and is_already_exists(i)]
    others = other_jobs(exists) if exists else {}
    outcomes = [_failure(bt, k, i, resent, others) for k, i in failures if k is not None]
    unlisted = (st.ROW_UNKNOWN, {"stopped": UNLISTED_STOPPED, "failed": UNLISTED_FAILED}
                .get(status.state, UNLISTED_FINISHED))
    # "failed" only for a job-level failure with no per-item results: a job whose items all
    # failed (or all turned out applied earlier) is still a processed chunk.
    state = st.CHUNK_FAILED if status.state == "failed" and not (applied or outcomes) \
        else st.CHUNK_DONE
    return Reading(
        chunk_state=state, applied=applied, outcomes=outcomes, unlisted=unlisted,
        cause=IDEMPOTENT if bt.idempotent else REPLY,
        failed=sum(o.status == st.ROW_FAILED for o in outcomes),
        in_doubt=sum(o.status == st.ROW_UNKNOWN for o in outcomes),
    )


def is_already_exists(item: ItemResult) -> bool:
    """9004 (or its words), and nothing else: 9003's "Transaction Time Already Exists" is
    a failure like any other."""
    if item.code is not None:
        return item.code == ALREADY_EXISTS_CODE
    return bool(_ALREADY_EXISTS.search(item.message or ""))


def _failure(bt: BatchType, key: str, item: ItemResult, resent: bool,
             others: Mapping[str, str]) -> ItemOutcome:
    message = item.message or "failed (no message)"
    if not resent or bt.idempotent:
        return ItemOutcome(key, st.ROW_FAILED, message, item.data)
    if is_already_exists(item):
        other = others.get(key)
        if other is None:
            # This job sent the id before, in an attempt whose fate was unknown, and no other
            # job used it: that attempt is what Gameball remembers. Applied, exactly once.
            return ItemOutcome(key, st.ROW_APPLIED,
                               f"Applied by an earlier attempt of this job (Gameball: "
                               f"{message})", item.data)
        return ItemOutcome(key, st.ROW_UNKNOWN,
                           f"In doubt: Gameball already holds {bt.result_key} {key} "
                           f"({message}), and {other} used it too, so this job's earlier "
                           "attempt may or may not be the one Gameball holds.", item.data)
    return ItemOutcome(key, st.ROW_UNKNOWN,
                       f"In doubt: the resend failed ({message}), but the earlier attempt "
                       "may have applied this row.", item.data)


# --- waiting for a remote job ------------------------------------------------------------------


@dataclass
class Watch:
    """How long a remote job has gone without progress, for "everything ends" (DESIGN.md).

    ``observe`` each status read; ``expired`` says when to give up and put the chunk in
    doubt: no progress for ``max_age`` seconds (a status word we do not know counts as no
    progress), or more than ``max_refusals`` status reads refused with a 4xx in a row.
    """

    started: float
    max_age: float
    max_refusals: int
    last_progress: float = 0.0
    last_seen: tuple[Any, ...] = ()
    refusals: int = 0
    last_raw: str | None = None
    last_error: str = ""

    def __post_init__(self) -> None:
        self.last_progress = self.started

    def observe(self, status: JobStatus, now: float) -> None:
        self.refusals = 0
        self.last_raw = status.raw_status
        seen = (status.state, status.finished_count, status.error_count, status.total_count,
                len(status.successful), len(status.failed))
        if status.state != "unknown" and seen != self.last_seen:
            self.last_progress = now
        self.last_seen = seen

    def refused(self, exc: BaseException) -> None:
        self.refusals += 1
        self.last_error = describe(exc)

    def expired(self, now: float) -> str | None:
        """Why to give up on this remote job now, or None to keep following it."""
        if self.refusals > self.max_refusals:
            return (f"Gameball refused {self.refusals} status reads in a row "
                    f"({self.last_error}); this chunk may or may not have been applied.")
        if now - self.last_progress > self.max_age:
            word = f"'{self.last_raw}'" if self.last_raw is not None else "none"
            return (f"Gameball's job made no progress for {self.max_age / 60:g} minutes "
                    f"(last status: {word}); this chunk may or may not have been applied.")
        return None


def _text(value: Any) -> str:
    if type(value) is str:  # the common case, a million times per million rows
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
