"""The typed results of the client: a job's status and its per-item results.

Both documented status shapes (reference §4.1) decode into the same :class:`JobStatus`, so
the runner and the console never look at raw JSON. Fields the docs do not name are kept in
``extra`` (status) and ``data`` (items), never dropped.

This module must not parse JSON or do I/O: :mod:`.sansio` builds these objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

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


class Items(Sequence[ItemResult]):
    """A status reply's per-item results, each made into an :class:`ItemResult` on first use.

    A finished 1000-item job is mostly read for its keys (every row applied); building a
    thousand ItemResults for that cost the runner more than the HTTP request itself.
    :meth:`item_keys` reads only each item's key; indexing and iteration give full results.
    """

    __slots__ = ("_key", "_parse", "_parsed", "_raw")

    def __init__(self, raw: Sequence[Any] = (),
                 parse: Callable[[Any], ItemResult] | None = None,
                 key: Callable[[Any], str | None] | None = None) -> None:
        self._raw = raw
        self._parse = parse or (lambda item: ItemResult(key=None, data={"value": item}))
        self._key = key or (lambda item: self._parse(item).key)
        self._parsed: list[ItemResult] | None = None

    def item_keys(self) -> list[str | None]:
        """Each item's key in order (None where an item has none), without parsing the rest."""
        if self._parsed is not None:
            return [item.key for item in self._parsed]
        return [self._key(item) for item in self._raw]

    def raw(self) -> Sequence[Any]:
        """The items as Gameball sent them."""
        return self._raw

    def _all(self) -> list[ItemResult]:
        if self._parsed is None:
            self._parsed = [self._parse(item) for item in self._raw]
        return self._parsed

    @overload
    def __getitem__(self, index: int) -> ItemResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[ItemResult]: ...
    def __getitem__(self, index: int | slice) -> ItemResult | list[ItemResult]:
        return self._all()[index]

    def __iter__(self) -> Iterator[ItemResult]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Items):
            return self._all() == other._all()
        return isinstance(other, list | tuple) and self._all() == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable cache, like a list

    def __repr__(self) -> str:
        return repr(self._all())


@dataclass(frozen=True)
class JobStatus:
    """A remote job's state as one model, whatever shape or spelling Gameball used.

    ``state`` is normalised (``raw_status`` keeps Gameball's own word); an unrecognised
    status is ``"unknown"``, never an error. Counts are ``None`` when Gameball did not
    report them; ``created_at`` and ``started_at`` are Gameball's text, unparsed, because
    the docs show times both with and without a zone (reference §8.2). ``body`` is the
    reply exactly as received (empty when the status was not read from a reply): the
    runner keeps it as the chunk's record of what Gameball said, without encoding it again.
    """

    state: State
    raw_status: str | None
    successful: Items = field(default_factory=Items)
    failed: Items = field(default_factory=Items)
    finished_count: int | None = None
    error_count: int | None = None
    total_count: int | None = None
    created_at: str | None = None
    started_at: str | None = None
    operation: str | None = None
    job_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        """Completed, failed or stopped: polling again will not change anything."""
        return self.state in FINAL_STATES

    @property
    def results(self) -> list[ItemResult]:
        """Every item result reported so far, successes first."""
        return [*self.successful, *self.failed]
