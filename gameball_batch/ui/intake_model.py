"""The new-batch flow's working state, without Streamlit: held file, cache, fixes, editor pages.

The page keeps one :class:`IntakeCache` in session state so a rerun never re-reads or
re-validates the file: tables are cached by (fingerprint, sheet), validations by everything
they depend on (type, mapping, inline fixes, date order). Inline fixes are edits to the
*original text* of failing rows, keyed by source row and column header, applied to the
table before mapping — so a fixed row is validated by exactly the same code as every other
row. Failing rows are shown a page at a time; a 100,000-row file never reaches the editor
whole.

This module must not import streamlit or talk to the ledger or the network.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import pandas as pd

from gameball_batch.batch_types import BatchType

PAGE_SIZE = 200  # failing rows per editor page: small enough to stay instant in the browser
PROBLEMS_COLUMN = "⚠ problems"  # read-only column in the editor: what is wrong with the row
CACHE_ENTRIES = 4  # per kind: enough for "undo a mapping change" without holding many files

Fixes = dict[int, dict[str, str]]  # source row -> column header -> corrected text

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class HeldFile:
    """An uploaded file's name and bytes, held in session state across reruns."""

    name: str
    data: bytes

    @cached_property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size_text(self) -> str:
        size = float(len(self.data))
        for unit in ("bytes", "KB", "MB", "GB"):
            if size < 1024 or unit == "GB":
                return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
            size /= 1024
        return f"{size:,.1f} GB"  # pragma: no cover - the loop always returns


@dataclass
class IntakeCache:
    """Bounded memo of the expensive steps, keyed by what each result depends on."""

    entries: int = CACHE_ENTRIES
    _store: dict[str, OrderedDict[Hashable, Any]] = field(default_factory=dict)

    def get(
        self, kind: str, key: Hashable, compute: Callable[[], T], *, keep: int | None = None,
    ) -> T:
        """The cached value of ``kind`` for ``key``, computing (and keeping) it when missing.

        An exception from ``compute`` is not cached: the operator may fix the cause and retry.
        ``keep`` bounds this kind below :attr:`entries` (big values, like a chunk plan).
        """
        store = self._store.setdefault(kind, OrderedDict())
        if key in store:
            store.move_to_end(key)
            value: T = store[key]
            return value
        value = compute()
        store[key] = value
        while len(store) > min(self.entries, keep or self.entries):
            store.popitem(last=False)
        return value

    def clear(self) -> None:
        self._store.clear()


def fixes_key(fixes: Mapping[int, Mapping[str, str]]) -> str:
    """A short, order-independent digest of the inline fixes (part of a cache key)."""
    if not fixes:
        return ""
    canonical = json.dumps(
        {str(r): dict(sorted(c.items())) for r, c in sorted(fixes.items())},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def mapping_key(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))


def apply_fixes(frame: pd.DataFrame, fixes: Mapping[int, Mapping[str, str]]) -> pd.DataFrame:
    """A copy of ``frame`` with the corrected cells; rows or columns no longer present are
    ignored (the operator may have changed the sheet)."""
    if not fixes:
        return frame
    fixed = frame.copy()
    for row, cells in fixes.items():
        if row not in fixed.index:
            continue
        for column, text in cells.items():
            if column in fixed.columns:
                fixed.at[row, column] = "" if text is None else str(text)
    return fixed


def ordered_fields(bt: BatchType) -> list[str]:
    """Field paths for the mapping step: required first, then the rest, in spec order."""
    required = [f.path for f in bt.fields if f.required]
    return required + [f.path for f in bt.fields if not f.required]


def open_prefix_mapping(bt: BatchType, mapping: Mapping[str, str]) -> dict[str, str]:
    """The suggested entries for free-form paths (custom attributes, event metadata)."""
    return {
        path: column for path, column in mapping.items()
        if bt.spec_for(path) is not None and path not in {f.path for f in bt.fields}
    }


def problems_by_row(issues: pd.DataFrame) -> pd.Series:
    """One text per failing row: its issue messages joined, for the editor's read-only column."""
    if issues.empty:
        return pd.Series(dtype=str)
    return issues.groupby("row", sort=True)["message"].agg(lambda s: "; ".join(map(str, s)))


def failing_rows(
    frame: pd.DataFrame, invalid_rows: Sequence[int] | frozenset[int], columns: Sequence[str],
) -> pd.DataFrame:
    """The failing rows' original text in ``columns`` (the mapped headers), by source row."""
    rows = sorted(r for r in invalid_rows if r in frame.index)
    wanted = [c for c in columns if c in frame.columns]
    return frame.loc[rows, wanted]


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, (total + size - 1) // size)


def editor_page(
    failing: pd.DataFrame, problems: pd.Series, page: int, size: int = PAGE_SIZE,
) -> pd.DataFrame:
    """One page (1-based) of failing rows with a leading read-only problems column."""
    page = min(max(1, page), page_count(len(failing), size))
    part = failing.iloc[(page - 1) * size : page * size].copy()
    part.insert(0, PROBLEMS_COLUMN, problems.reindex(part.index).fillna("").astype(str))
    return part


def edits_to_fixes(
    page: pd.DataFrame, edited_rows: Mapping[Any, Mapping[str, Any]], base: Fixes,
) -> Fixes:
    """Merge a data_editor's ``edited_rows`` (position -> column -> value) into ``base``.

    Positions are those of ``page``; the problems column is read-only and never a fix.
    """
    merged: Fixes = {row: dict(cells) for row, cells in base.items()}
    for position, cells in edited_rows.items():
        index = int(position)
        if not 0 <= index < len(page):
            continue
        row = int(page.index[index])
        for column, value in cells.items():
            if column == PROBLEMS_COLUMN or column not in page.columns:
                continue
            merged.setdefault(row, {})[column] = "" if value is None else str(value)
    return {row: cells for row, cells in merged.items() if cells}


def filter_issues(
    issues: pd.DataFrame, *, fields: Sequence[str] = (), codes: Sequence[str] = (),
) -> pd.DataFrame:
    """Issues of the chosen fields and rules (an empty choice means all)."""
    mask = pd.Series(True, index=issues.index)
    if fields:
        mask &= issues["field"].isin(list(fields))
    if codes:
        mask &= issues["code"].isin(list(codes))
    return issues[mask]


def confirmation_word(row_count: int) -> str:
    """What a production operator types to confirm: the number of rows to send."""
    return str(row_count)


def confirmation_matches(typed: str, row_count: int) -> bool:
    """Typed confirmation, tolerant of thousands separators and spaces ("12,000")."""
    cleaned = typed.replace(",", "").replace(" ", "").replace("_", "").strip()
    return cleaned == confirmation_word(row_count)
