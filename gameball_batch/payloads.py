"""Payloads: clean rows → Gameball batch items → a chunk plan of exact request bodies.

Items follow the type's field paths: a dotted path becomes nested objects
(``customerAttributes.custom.tier`` → ``{"customerAttributes": {"custom": {"tier": …}}}``).
Blank optional values are omitted, never sent as ``""`` or ``null``. Two types group rows:

- orders: rows sharing an ``orderId`` are one order. Its order-level fields come from its
  first row (validation made sure they agree); the ``lineItems.*`` fields of each row become
  one entry of ``lineItems``. With no line-item columns there is no ``lineItems`` key.
- events: the spreadsheet columns ``event`` and ``metadata.<key>`` become
  ``{"customerId": c, "events": {event: {key: value, …}}}``, one item per customer. A
  customer's second row with the *same* event name cannot share that ``events`` object, so
  it becomes a separate item (the planner keeps the two in different chunks).

The plan: at most ``size`` items per chunk, never two items with the same result key or the
same customer in one chunk (Gameball's documented results name only the customer), in as
few chunks as the file allows. Items keep their source order where they can: a customer's
repeat moves to the next chunk with room that lacks it, and only a file that cannot be cut
that way in the fewest chunks is dealt round-robin. The order is deterministic: the same
clean frame always gives the same bytes.

Speed: item JSON is built column-wise with pyarrow compute (string escaping included;
``json.dumps`` runs only for cells with control characters and for list cells): the
file's columns are rendered once, and each chunk's body is one arrow ``take`` of its items'
literal texts and values, so a million rows take well under a second.

This module must not validate (it trusts ``ValidationResult.clean``), send anything, or
touch the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gameball_batch.batch_types import MAX_ITEMS_PER_REQUEST, BatchType
from gameball_batch.validate import ValidationResult

_TEXT = pa.large_string()
_CONTROL = r"[\x00-\x1f]"
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
_EVENT, _METADATA, _LINE = "event", "metadata.", "lineItems."
_SCAN = 1 << 20  # bytes of text scanned at once for characters JSON must escape
_BLOCK_ITEMS = 32 * 1024  # items whose values are joined at once (a few MB: memory is reused)


class Chunk:
    """One request: its items' result keys and source rows, and the exact body bytes.

    ``keys`` (``tuple[str, ...]``) and ``rows`` (``tuple[tuple[int, ...], ...]``) are built
    on first access from the plan's compact arrays and then kept: a million Python strings
    and tuples cost more than the payload bytes, and the review screen never needs them.
    Read-only, compared by value, like the frozen dataclass it replaces.
    """

    __slots__ = ("_keys", "_rows", "index", "payload")

    index: int
    payload: bytes
    _keys: tuple[str, ...] | _Slice
    _rows: tuple[tuple[int, ...], ...] | _Slice

    def __init__(
        self, index: int, keys: tuple[str, ...] | _Slice, rows: tuple[tuple[int, ...], ...]
        | _Slice, payload: bytes,
    ) -> None:
        for name, value in (("index", index), ("payload", payload), ("_keys", keys),
                            ("_rows", rows)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Chunk is read-only (cannot set {name})")

    @property
    def keys(self) -> tuple[str, ...]:
        keys = self._keys
        if isinstance(keys, _Slice):
            keys = keys.items.key_tuple(keys.start, keys.stop)
            object.__setattr__(self, "_keys", keys)
        return keys

    @property
    def size(self) -> int:
        """How many items the chunk holds, without building its keys."""
        keys = self._keys
        return keys.stop - keys.start if isinstance(keys, _Slice) else len(keys)

    @property
    def rows(self) -> tuple[tuple[int, ...], ...]:
        rows = self._rows
        if isinstance(rows, _Slice):
            rows = rows.items.row_tuples(rows.start, rows.stop)
            object.__setattr__(self, "_rows", rows)
        return rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chunk):
            return NotImplemented
        return (self.index, self.payload, self.keys, self.rows) == (
            other.index, other.payload, other.keys, other.rows)

    def __hash__(self) -> int:
        return hash((self.index, self.payload))

    def __repr__(self) -> str:
        return (f"Chunk(index={self.index}, keys={self.keys!r}, rows={self.rows!r}, "
                f"payload={self.payload!r})")


@dataclass
class ChunkPlan:
    """Every chunk of one job, in sending order."""

    batch_type: BatchType
    chunks: list[Chunk]
    item_count: int
    row_count: int
    # The customer with the most items, and how many: each of its items needs a request of
    # its own (a chunk holds a customer once), so the file needs at least that many.
    busiest_customer: tuple[str, int] | None = None

    @property
    def minimum_requests(self) -> int:
        """The fewest requests this file can go in: by size, or by its busiest customer."""
        by_size = -(-self.item_count // MAX_ITEMS_PER_REQUEST)
        return max(by_size, self.busiest_customer[1] if self.busiest_customer else 0)

    def repeated_customer_note(self) -> str | None:
        """"customer cus-1200 has 40 rows, so this file needs at least 40 requests", when
        repeated customers cost requests beyond what the file's size needs."""
        if self.busiest_customer is None:
            return None
        customer, count = self.busiest_customer
        by_size = -(-self.item_count // MAX_ITEMS_PER_REQUEST)
        if count <= max(by_size, 1):
            return None
        return (f"customer {customer} has {count:,} items, so this file needs at least "
                f"{count:,} requests (Gameball's results name only the customer, so a request "
                "holds each customer once).")

    def row_columns(self) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """Every planned source row, its chunk's index and its item's key, column-wise, in
        sending order (what the ledger stores of a job's rows; no per-row Python work)."""
        slices = [c._keys for c in self.chunks]
        first = slices[0] if slices else None
        if isinstance(first, _Slice) and all(
                isinstance(s, _Slice) and s.items is first.items for s in slices) and all(
                a.stop == b.start for a, b in pairwise(slices)):  # type: ignore[union-attr]
            return _row_columns(first.items, first.start, [c.index for c in self.chunks],
                                [s.stop - s.start for s in slices])  # type: ignore[union-attr]
        rows = [row for c in self.chunks for item in c.rows for row in item]
        chunk = [c.index for c in self.chunks for item in c.rows for _ in item]
        keys = [key for c in self.chunks for key, item in zip(c.keys, c.rows, strict=True)
                for _ in item]
        return (np.asarray(rows, dtype=np.int64), np.asarray(chunk, dtype=np.int32),
                pa.array(keys, type=pa.string()))

    def first_item(self) -> dict[str, Any]:
        """The first item as the API will receive it (for the review screen)."""
        if not self.chunks:
            return {}
        item: dict[str, Any] = json.loads(self.chunks[0].payload)["body"][0]
        return item


@dataclass
class _Items:
    """Items before planning: JSON pieces, result key and source rows of each.

    Item ``i``'s source rows are ``row_values[row_starts[i]:row_starts[i + 1]]``; with
    ``row_starts`` None every item is the one row ``row_values[i]``.
    """

    # (start, stop) -> the pieces whose row-wise concatenation is each item's JSON, for
    # items start:stop in file order (no separators: the body builder adds them). The
    # planner asks once, for every item of the file.
    render: Callable[[int, int], list[Piece]]
    keys: pa.Array  # large_string
    row_values: np.ndarray  # int64 source rows, grouped by item
    row_starts: np.ndarray | None = None
    customers: pa.Array | None = None  # each item's customerId; None: the key is the customer
    order: np.ndarray | None = None  # item i in sending order is item order[i] of the file
    key_order: np.ndarray | None = None  # keys[key_order[i]] is item i's key (reordered)

    def __len__(self) -> int:
        return len(self.keys) if self.key_order is None else len(self.key_order)

    def key_tuple(self, start: int, stop: int) -> tuple[str, ...]:
        if self.key_order is not None:  # taken lazily: a chunk's keys only when asked for
            picked = pc.take(self.keys, pa.array(self.key_order[start:stop]))
            return tuple(str(k) for k in picked.to_pylist())
        return tuple(str(k) for k in self.keys.slice(start, stop - start).to_pylist())

    def row_tuples(self, start: int, stop: int) -> tuple[tuple[int, ...], ...]:
        if self.row_starts is None:
            return tuple((r,) for r in self.row_values[start:stop].tolist())
        bounds = self.row_starts[start : stop + 1].tolist()
        values = self.row_values[bounds[0] : bounds[-1]].tolist()
        first = bounds[0]
        return tuple(tuple(values[a - first : b - first])
                     for a, b in pairwise(bounds))

    def reordered(self, order: np.ndarray) -> _Items:
        """The same items in another order (only when repeated customers moved some)."""
        # Keys are taken per chunk when asked for (the review never asks); customers are
        # no longer needed once items are placed.
        keys, key_order = self.keys, order if self.key_order is None else self.key_order[order]
        moved = order if self.order is None else self.order[order]
        if self.row_starts is None:
            return _Items(self.render, keys, self.row_values[order], order=moved,
                          key_order=key_order)
        lengths = np.diff(self.row_starts)[order]
        starts = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        first = self.row_starts[order]
        within = np.arange(int(starts[-1]), dtype=np.int64) - np.repeat(starts[:-1], lengths)
        values = self.row_values[np.repeat(first, lengths) + within]
        return _Items(self.render, keys, values, starts, order=moved, key_order=key_order)


def _row_columns(items: _Items, start: int, indices: list[int],
                 sizes: list[int]) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """:meth:`ChunkPlan.row_columns` for chunks cut one after another from ``items``,
    the first at item ``start``."""
    stop = start + sum(sizes)
    chunk_of_item = np.repeat(np.asarray(indices, dtype=np.int32), sizes)
    if items.row_starts is None:
        rows = items.row_values[start:stop]
        item_of_row = np.arange(stop - start, dtype=np.int64)
    else:
        bounds = items.row_starts[start : stop + 1]
        rows = items.row_values[int(bounds[0]) : int(bounds[-1])]
        item_of_row = np.repeat(np.arange(stop - start, dtype=np.int64), np.diff(bounds))
    key_of_item = (np.arange(start, stop, dtype=np.int64) if items.key_order is None
                   else items.key_order[start:stop])
    keys = pc.take(items.keys, pa.array(key_of_item[item_of_row]))
    return np.asarray(rows, dtype=np.int64), chunk_of_item[item_of_row], keys


@dataclass(frozen=True)
class _Slice:
    """Items ``start:stop`` of a plan, for a chunk's keys or rows not yet built."""

    items: _Items
    start: int
    stop: int


def plan_chunks(result: ValidationResult, *, size: int = MAX_ITEMS_PER_REQUEST) -> ChunkPlan:
    """Build every item of ``result.clean`` and pack them into request bodies."""
    if not 1 <= size <= MAX_ITEMS_PER_REQUEST:
        raise ValueError(f"chunk size must be 1 to {MAX_ITEMS_PER_REQUEST}, got {size}")
    bt, clean = result.batch_type, result.clean
    spelled: dict[str, pa.Array] = {}
    if bt.group_by == "orderId":
        items = _order_items(bt, clean)
    elif any(str(c) == _EVENT for c in clean.columns):
        items = _event_items(clean)
    else:
        items = _flat_items(bt, clean, spelled)  # spelled is filled below, before rendering
    items.keys = items.keys.cast(_TEXT)
    unique = result.unique_keys and bt.group_by is None  # validate refused every repeat
    if result.number_texts is None:
        placement, busiest = _placement(items, size, unique=unique)
        pieces = _pieces(items)
    else:
        # Placing items needs only their keys and customers; which float texts can be
        # sent as written needs only the texts, and rendering the columns needs only
        # those: numpy and arrow passes that mostly run without the GIL, so the two cores
        # place the items and render the columns side by side.
        with ThreadPoolExecutor(max_workers=1) as pool:
            placed = pool.submit(_placement, items, size, unique=unique)
            spelled.update(_spelled(result))
            pieces = _pieces(items)
            placement, busiest = placed.result()
    chunks = list(_chunks(items, placement, pieces))
    return ChunkPlan(bt, chunks, item_count=len(items), row_count=len(clean),
                     busiest_customer=busiest)


def chunk_count(result: ValidationResult, *, size: int = MAX_ITEMS_PER_REQUEST) -> int:
    """How many requests :func:`plan_chunks` would make of ``result``, without building a
    body: items of one row each are placed from their keys and customers alone (what
    ``validate`` on the command line reports). Grouped types build their plan."""
    bt, clean = result.batch_type, result.clean
    if bt.group_by == "orderId" or any(str(c) == _EVENT for c in clean.columns):
        return len(plan_chunks(result, size=size).chunks)
    if not 1 <= size <= MAX_ITEMS_PER_REQUEST:
        raise ValueError(f"chunk size must be 1 to {MAX_ITEMS_PER_REQUEST}, got {size}")
    items = _flat_items(bt, clean)  # renders lazily: nothing is built here
    if result.unique_keys:
        # Both plans of place_items() reach the fewest chunks the file allows: its size, or
        # its busiest customer's item count. Only repeated keys may need the greedy plan.
        _, busiest = _by_customer(items.keys if items.customers is None else items.customers)
        return max(-(-len(items) // size), busiest[1] if busiest else 0)
    placement, _ = _placement(items, size, unique=False)
    return sum(1 for chunk in placement if len(chunk))


# --- JSON text of values, column-wise ------------------------------------------------------


def _concat(*parts: Piece) -> pa.Array:
    """Element-wise concatenation; null where any array part is null (an optional part
    is "" where absent, never null)."""
    merged: list[str | pa.Array] = []
    for part in parts:
        if isinstance(part, _Optional):
            part = pc.fill_null(_concat(*part.pieces), pa.scalar("", _TEXT))
        elif isinstance(part, _Either):
            part = pc.replace_with_mask(part.first, pa.array(part.second_at >= 0), part.second)
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif not (isinstance(part, str) and not part):
            merged.append(part)
    if len(merged) == 1 and not isinstance(merged[0], str):
        return merged[0]
    args = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in merged]
    return pc.binary_join_element_wise(*args, pa.scalar("", _TEXT))


@dataclass(frozen=True)
class _Optional:
    """Pieces written only on the rows where every array directly among them has a value,
    and nothing elsewhere (a sparse child: its leading comma, key and value). Kept apart,
    not joined, so the body builder can leave them out by index instead of joining them
    on their own first."""

    pieces: list[Piece]


@dataclass(frozen=True)
class _Either:
    """Row ``i`` is ``first[i]``, or ``second[second_at[i]]`` where ``second_at[i] >= 0``
    (a float column: its text as written where that is already its JSON spelling, the
    printed float for the rest, only those printed)."""

    first: pa.Array
    second: pa.Array
    second_at: np.ndarray


# An array of JSON text, literal text repeated on every row, an optional group of pieces,
# or a choice per row between two arrays.
Piece: TypeAlias = "pa.Array | str | _Optional | _Either"


def _json_pieces(series: pd.Series, spelled: pa.Array | None = None) -> list[Piece]:
    """Each cell's JSON text as pieces to concatenate (null where the value is missing).

    ``spelled``: for a float column, each cell's JSON text where the file already spelled
    it so (null elsewhere, see :func:`_spelled`); only the other cells are printed.
    """
    dtype = series.dtype
    if dtype is np.dtype(object):
        return [_json_objects(series)]
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_string_dtype(dtype):
        return _json_strings(_arrow(series).cast(_TEXT))
    if pd.api.types.is_bool_dtype(dtype):
        values = pa.array(series.array, type=pa.bool_())
        return [pc.if_else(values, pa.scalar("true", _TEXT), pa.scalar("false", _TEXT))]
    if spelled is not None and pd.api.types.is_float_dtype(dtype) and series.notna().all():
        if not spelled.null_count:
            return [spelled]
        missing = spelled.is_null().to_numpy(zero_copy_only=False)
        printed = pc.cast(_arrow(series).filter(pa.array(missing)), _TEXT)
        second_at = np.full(len(missing), -1, dtype=np.int64)
        second_at[missing] = np.arange(len(printed), dtype=np.int64)
        return [_Either(spelled, printed, second_at)]
    if pd.api.types.is_numeric_dtype(dtype):
        return [pc.cast(_arrow(series), _TEXT)]
    return [_json_objects(series)]


def _arrow(series: pd.Series) -> pa.Array:
    if pd.api.types.is_float_dtype(series.dtype):
        return pa.array(series.to_numpy(), from_pandas=True)
    arr = pa.array(series.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _json_strings(arr: pa.Array) -> list[Piece]:
    """Quote and escape text as JSON, vectorised; json.dumps only for the cells needing it."""
    if not _any_byte_needs_escape(arr):  # the usual case: one pass over the bytes, no regex
        return ['"', arr, '"']
    special = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_ESCAPE), False)
    count = pc.sum(special).as_py() or 0
    if not count:
        return ['"', arr, '"']
    if count * 4 > len(arr):  # escaping is common here: do it column-wise
        escaped = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
        quoted = _concat('"', escaped, '"')
        special = pc.fill_null(pc.match_substring_regex(arr, _CONTROL), False)
        count = pc.sum(special).as_py() or 0
    else:
        quoted = _concat('"', arr, '"')
    if not count:
        return [quoted]
    fixed = [json.dumps(v, ensure_ascii=False) for v in arr.filter(special).to_pylist()]
    return [pc.replace_with_mask(quoted, special, pa.array(fixed, type=_TEXT))]


def _any_byte_needs_escape(arr: pa.Array) -> bool:
    """Whether any cell of a large_string array has a byte JSON must escape (", \\, < 0x20).

    UTF-8 continuation bytes are all ≥ 0x80, so a byte scan of the cells' span is exact.
    """
    arr = arr.cast(_TEXT)
    data = arr.buffers()[2]
    if data is None or not len(arr):
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    span = np.frombuffer(data, dtype=np.uint8)[
        int(offsets[arr.offset]) : int(offsets[arr.offset + len(arr)])]
    # A window at a time: the comparisons' scratch arrays stay small and are reused,
    # where a whole column's would be fresh memory (tens of MB) for each of them. The
    # minimum needs no scratch at all.
    return any(window.min() < 0x20 or (window == 0x22).any() or (window == 0x5C).any()
               for window in (span[at : at + _SCAN] for at in range(0, len(span), _SCAN)))


def _json_objects(series: pd.Series) -> pa.Array:
    """Lists and anything unusual: json.dumps per present cell (few columns, rarely big)."""
    out = [None if _missing(v) else json.dumps(_plain(v), ensure_ascii=False)
           for v in series.tolist()]
    return pa.array(out, type=_TEXT)


def _missing(value: object) -> bool:
    if isinstance(value, list | tuple | dict):
        return False
    return bool(value is None or pd.isna(value))  # type: ignore[call-overload]


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


# --- objects from fragments ----------------------------------------------------------------


def _nullable(pieces: Sequence[Piece]) -> bool:
    return any(isinstance(p, pa.Array) and p.null_count for p in pieces)


def _object(
    children: Sequence[tuple[str, list[Piece]]], length: int, *, keep_empty: bool,
    suffix: str = "",
) -> pa.Array:
    return _concat(*_object_pieces(children, length, keep_empty=keep_empty, suffix=suffix))


def _object_pieces(
    children: Sequence[tuple[str, list[Piece]]], length: int, *, keep_empty: bool,
    suffix: str = "",
) -> list[Piece]:
    """``{…}`` + suffix per row from (name, value pieces); absent values are left out.

    Where no child is present: ``{}`` if ``keep_empty``, else null. Everything is one
    concatenation: children without gaps come first; a child with gaps carries its own
    leading comma and is "" where absent (Arrow's null-skipping join is far slower).
    """
    if len(children) == 1 and not keep_empty and _nullable(children[0][1]):
        name, pieces = children[0]  # one optional child: one concatenation
        return ["{" + json.dumps(name, ensure_ascii=False) + ":", *pieces, "}" + suffix]
    dense: list[Piece] = []
    sparse: list[Piece] = []
    for name, pieces in children:
        key = json.dumps(name, ensure_ascii=False) + ":"
        if _nullable(pieces):
            sparse.append(_Optional(["," + key, *pieces]))
        else:
            dense += [",", key, *pieces] if dense else [key, *pieces]
    if dense:
        return ["{", *dense, *sparse, "}" + suffix]
    if not sparse:
        return [pa.array(["{}" + suffix] * length, type=_TEXT) if keep_empty else pa.nulls(
            length, _TEXT)]
    body = _concat(*sparse)
    text = _concat("{", pc.utf8_slice_codeunits(body, 1), "}" + suffix)  # cut the 1st comma
    if keep_empty:
        return [text]
    return [pc.if_else(pc.not_equal(body, pa.scalar("", _TEXT)), text, pa.scalar(None, _TEXT))]


def _tree_object(
    frame: pd.DataFrame, paths: Sequence[str], *, strip: str = "", keep_empty: bool,
    suffix: str = "",
) -> pa.Array:
    """Render the columns ``paths`` (dotted, ``strip`` removed first) as one object per row."""
    return _concat(*_tree_pieces(frame, paths, strip=strip, keep_empty=keep_empty,
                                 suffix=suffix))


def _tree_pieces(
    frame: pd.DataFrame, paths: Sequence[str], *, strip: str = "", keep_empty: bool,
    suffix: str = "", spelled: Mapping[str, pa.Array] | None = None,
) -> list[Piece]:
    """:func:`_tree_object` as pieces still to concatenate row-wise."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        parts = path[len(strip):].split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = path
    return _render(frame, tree, keep_empty=keep_empty, suffix=suffix, spelled=spelled or {})


def _render(
    frame: pd.DataFrame, tree: dict[str, Any], *, keep_empty: bool, suffix: str = "",
    spelled: Mapping[str, pa.Array],
) -> list[Piece]:
    children: list[tuple[str, list[Piece]]] = []
    for name, node in tree.items():
        if isinstance(node, dict):
            # The nested object's pieces, not yet joined: its parent joins them with its
            # own key in one concatenation (an optional merchant id: one pass, not two).
            children.append((name, _render(frame, node, keep_empty=False, spelled=spelled)))
        else:
            children.append((name, _json_pieces(frame[node], spelled.get(node))))
    return _object_pieces(children, len(frame), keep_empty=keep_empty, suffix=suffix)


# --- the three item shapes -----------------------------------------------------------------


def _flat_items(bt: BatchType, clean: pd.DataFrame,
                spelled: dict[str, pa.Array] | None = None) -> _Items:
    """One item per row. ``spelled`` (see :func:`_spelled`) is read when a block is
    rendered, not now: the planner fills it while the items are being placed."""
    paths = [str(c) for c in clean.columns]
    spelled = {} if spelled is None else spelled

    def render(start: int, stop: int) -> list[Piece]:  # one row block; pieces stay small
        return _tree_pieces(clean.iloc[start:stop], paths, keep_empty=True,
                            spelled={p: t.slice(start, stop - start)
                                     for p, t in spelled.items()})

    keys = _key_text(clean, bt.result_key)
    customers = None if bt.result_key == "customerId" else _key_text(clean, "customerId")
    return _Items(render, keys, np.asarray(clean.index, dtype="int64"), customers=customers)


def _spelled(result: ValidationResult) -> dict[str, pa.Array]:
    """Each float column's JSON text where the file's own text already is it (null
    elsewhere), aligned with ``result.clean``; empty when the texts are not for this frame."""
    numbers = result.number_texts
    if numbers is None or numbers.frame is not result.clean:
        return {}
    out: dict[str, pa.Array] = {}
    for path, text in numbers.texts.items():
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        text = text.cast(_TEXT)
        values = result.clean[path].to_numpy(dtype="float64", na_value=np.nan)
        if len(text) != len(values):
            return {}
        fits = _as_printed(text, values)
        out[path] = pc.if_else(pa.array(fits), text, pa.scalar(None, _TEXT))
    return out


_MAX_SPELLING = 16  # 15 digits and the point
_WINDOW = 1 << 16  # cells checked at once (scratch arrays of ~0.5 MB)


def _as_printed(text: pa.Array, values: np.ndarray) -> np.ndarray:
    """Which cells of ``text`` (large_string, each the text ``values`` was read from) are
    exactly how arrow prints their float, so they may be sent as they are.

    That is: digits with at most one point, no sign, no leading zero, no trailing zero or
    point after the point, at least 0.1 and under 1e9 (arrow prints 1e10 and 1e-7 in
    exponent form; this stays well inside its plain range), and at most 15 significant
    digits, which a double keeps exactly, so the shortest text that reads back as the same
    double, which arrow prints, is this one. ``5.``, ``00042``, ``42.10``, ``+3`` and
    ``0.30000000000000004`` are printed as before. Byte checks on the cells' edges and
    one sum per cell over their bytes: cheaper than a regex, and than printing.

    A window of cells at a time: a dozen scratch arrays of a million cells (or of every
    byte) would be ~100 MB of fresh pages for the kernel to clear, costing more than the
    checks; a window's scratch is reused by the next.
    """
    n = len(text)
    ok = np.zeros(n, dtype=bool)
    for at in range(0, n, _WINDOW):
        stop = min(at + _WINDOW, n)
        ok[at:stop] = _printed_window(text.slice(at, stop - at), values[at:stop])
    return ok


def _printed_window(text: pa.Array, values: np.ndarray) -> np.ndarray:
    """:func:`_as_printed` for a few cells."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + n + 1]
    data = text.buffers()[2]
    if data is None or not n or offsets[-1] == offsets[0]:
        return np.zeros(n, dtype=bool)
    # Positions relative to the window's first byte.
    raw = np.frombuffer(data, dtype=np.uint8)[int(offsets[0]) : int(offsets[-1])]
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    length = ends - starts
    ok: np.ndarray = (length >= 1) & (length <= _MAX_SPELLING) & text.is_valid().to_numpy(
        zero_copy_only=False)
    ok &= np.isfinite(values) & (values < 1e9)
    first = raw[np.minimum(starts, len(raw) - 1)]
    last = raw[np.maximum(ends - 1, 0)]
    second = raw[np.minimum(starts + 1, len(raw) - 1)]
    third = raw[np.minimum(starts + 2, len(raw) - 1)]
    # Per byte: 32 for anything but a digit or point, 1 for a point; summed per cell. In
    # uint8 (byte - "." wraps around): "." is 0, "/" 1, the digits 2 to 11.
    shifted = raw - np.uint8(0x2E)
    code = ((shifted > 11) | (shifted == 1)).view(np.uint8) * np.uint8(32)
    code += shifted == 0
    # Summed per cell in place (no running sum over every byte: fresh memory costs more
    # than the adding). An empty cell gets its neighbour's byte, but fails on length.
    counts = np.add.reduceat(code, np.minimum(starts, len(code) - 1), dtype=np.int32)
    points = counts % 32
    ok &= (counts < 32) & (points <= 1)
    nonzero = (first >= 0x31) & (first <= 0x39)
    small = (first == 0x30) & (length >= 3) & (second == 0x2E) & (third >= 0x31) & (
        third <= 0x39)
    ok &= nonzero | small
    ok &= (points == 0) | ((last >= 0x31) & (last <= 0x39))
    ok &= (points == 1) | (length <= 9)
    return ok


def _whole(text: pa.Array) -> Callable[[int, int], list[Piece]]:
    """A render function for item texts already built."""
    return lambda start, stop: [text.slice(start, stop - start)]


def _key_text(frame: pd.DataFrame, path: str) -> pa.Array:
    if path not in frame.columns:
        return pa.array([""] * len(frame), type=_TEXT)
    return pc.cast(_arrow(frame[path].astype("str")), _TEXT)


def _order_items(bt: BatchType, clean: pd.DataFrame) -> _Items:
    paths = [str(c) for c in clean.columns]
    line = [p for p in paths if p.startswith(_LINE)]
    order_level = [p for p in paths if not p.startswith(_LINE)]
    group = pd.factorize(clean["orderId"])[0] if len(clean) else np.zeros(0, dtype=np.int64)
    firsts = np.flatnonzero(_first_occurrence(group))
    head = clean.iloc[firsts]
    frags = [_tree_object(head, order_level, keep_empty=True)]
    if line:
        per_row = _tree_object(clean, line, strip=_LINE, keep_empty=False)
        frags.append(_grouped_lines(per_row, group, len(firsts)))
    text = _append_to_object(frags[0], frags[1] if len(frags) > 1 else None)
    return _Items(_whole(text), _key_text(head, bt.result_key),
                  *_rows_per_group(clean.index, group),
                  customers=_key_text(head, "customerId"))


def _grouped_lines(per_row: pa.Array, group: np.ndarray, groups: int) -> pa.Array:
    """``"lineItems":[…]`` per order; null for an order none of whose rows has line data."""
    texts = pd.Series(per_row.to_pandas().array, dtype=object)
    present = texts.notna().to_numpy()
    joined = texts[present].groupby(group[present], sort=True).agg(",".join)
    out: list[str | None] = [None] * groups
    for g, body in zip(joined.index.tolist(), joined.tolist(), strict=True):
        out[g] = '"lineItems":[' + body + "]"
    return pa.array(out, type=_TEXT)


def _append_to_object(obj: pa.Array, extra: pa.Array | None) -> pa.Array:
    """Add one more fragment inside each ``{…}`` (skipped where ``extra`` is null)."""
    if extra is None:
        return obj
    tail = pc.fill_null(_concat(",", extra), pa.scalar("", _TEXT))
    return _concat(pc.utf8_slice_codeunits(obj, 0, -1), tail, "}")


def _event_items(clean: pd.DataFrame) -> _Items:
    """One item per customer; a repeated event name of a customer starts another item."""
    customer = clean["customerId"].astype("str")
    event = clean[_EVENT].astype("str")
    meta = [str(c) for c in clean.columns if str(c).startswith(_METADATA)]
    metadata = _tree_object(clean, meta, strip=_METADATA, keep_empty=True)
    pair = pd.Series(list(zip(customer.tolist(), event.tolist(), strict=True)))
    repeat = pair.groupby(pair, sort=False).cumcount().to_numpy()
    item_key = pd.Series(list(zip(customer.tolist(), repeat.tolist(), strict=True)))
    group = pd.factorize(item_key)[0]
    names = _json_strings(_arrow(event).cast(_TEXT))
    per_row = _concat(*names, ":", metadata)
    joined = pd.Series(per_row.to_pandas().array, dtype=object).groupby(group, sort=True).agg(
        ",".join)
    firsts = np.flatnonzero(_first_occurrence(group))
    head_ids = _json_strings(_arrow(customer.iloc[firsts]).cast(_TEXT))
    events = pa.array(joined.tolist(), type=_TEXT)
    text = _concat('{"customerId":', *head_ids, ',"events":{', events, "}}")
    keys = pc.cast(_arrow(customer.iloc[firsts]), _TEXT)
    return _Items(_whole(text), keys, *_rows_per_group(clean.index, group))


def _first_occurrence(group: np.ndarray) -> np.ndarray:
    """Mask of each group's first row, for group ids numbered by first appearance."""
    if not len(group):
        return np.zeros(0, dtype=bool)
    seen = np.maximum.accumulate(np.concatenate(([-1], group[:-1])))
    mask: np.ndarray = group > seen
    return mask


def _rows_per_group(index: pd.Index, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows grouped by item, start of each item's rows); groups keep source order inside."""
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=int(group.max()) + 1 if len(group) else 0)
    starts = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return np.asarray(index, dtype="int64")[order], starts


# --- planning ------------------------------------------------------------------------------


Placement = Sequence[Sequence[int]]  # item positions per chunk (ranges, lists or arrays)


def _placement(items: _Items, size: int, *, unique: bool,
               ) -> tuple[Placement, tuple[str, int] | None]:
    return place_items(items.keys, items.customers, size, unique=unique)


def place_items(keys: pa.Array, customers: pa.Array | None, size: int, *,
                unique: bool = False,
                ) -> tuple[Placement, tuple[str, int] | None]:
    """Item positions per chunk, and the busiest customer (id, items) if any repeats.

    Every chunk holds at most ``size`` items, each result key at most once and each customer
    at most once (DESIGN.md: Gameball's documented results name only the customer, so a
    result must name one item of its chunk), in the fewest chunks possible: the file's
    size, or its busiest customer's item count.

    Items whose customers are all different go in source order. Otherwise the file is cut in
    source order and each repeat of a customer within its chunk moves forward to the next
    chunk with room that lacks the customer (:func:`_in_file_order`): most items stay where
    they are, so building the bodies moves little. When that cannot reach the fewest chunks
    (a file sorted by customer, or one customer with more items than the file has chunks),
    items are grouped by customer and dealt round-robin, which always can.

    ``keys``/``customers``: each item's result key and customer (None: the key is the
    customer). ``unique``: the keys are known to differ (validation refused repeats).
    """
    n = len(keys)
    by_customer = keys if customers is None else customers
    keys_unique = unique or (not keys.null_count and len(pc.unique(keys)) == n)
    if customers is None and keys_unique:
        return [range(start, min(start + size, n)) for start in range(0, n, size)], None
    codes, busiest = _by_customer(by_customer)
    if busiest is None and keys_unique:
        return [range(start, min(start + size, n)) for start in range(0, n, size)], None
    chunk_count = max(-(-n // size), busiest[1] if busiest else 1)
    placement = _in_file_order(codes, size, chunk_count)
    if placement is None:
        placement = _round_robin(codes, chunk_count)
    if not keys_unique and not _keys_unique_per_chunk(keys, placement):
        placement = _greedy(keys, by_customer, size)
    return placement, busiest


def _by_customer(customers: pa.Array) -> tuple[np.ndarray, tuple[str, int] | None]:
    """Each item's customer as a number (in order of first appearance), and the busiest
    customer (id, items) when one has more than one item."""
    encoded = pc.dictionary_encode(customers.cast(_TEXT))  # one arrow hash pass
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    if not len(codes):
        return codes, None
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    top = int(counts.argmax())
    return codes, ((str(encoded.dictionary[top]), int(counts[top])) if counts[top] > 1
                   else None)


_MAX_ROUNDS = 64  # rounds of repeats asking for chunks before the last few are swapped in
_MAX_SWAPS = 256  # repeats left after the rounds that may be swapped in one by one
_FEW = 16  # so few left that swapping them in is quicker than another round


def _in_file_order(codes: np.ndarray, size: int, chunk_count: int) -> Placement | None:
    """Source order cut every ``size`` items, each customer's repeat in a chunk moved to the
    next chunk with room that lacks that customer (after the last chunk comes the first);
    None when that needs more than ``chunk_count`` chunks.

    Vectorised in rounds: every waiting repeat asks the next chunk that still has room; per
    chunk the first ones in file order get the room, one per customer; the rest ask the
    chunk after. The few a full file leaves over (the last free place holds their customer
    already) are swapped in by :func:`_swap_in`.
    """
    n = len(codes)
    natural = -(-n // size)
    if natural != chunk_count:  # a customer has more items than the file has chunks
        return None
    home = np.arange(n, dtype=np.int64)
    home //= size  # each item's chunk (in place: one fresh array, not two)
    width = int(codes.max()) + 1
    moved, present = _repeats_in_chunks(codes, size, natural, width)
    # A chunk's room is what its repeats leave (and the last chunk's unfilled places):
    # counted over the repeats only, not over a copy of every item's chunk.
    room = np.bincount(home[moved], minlength=natural)
    room[-1] += natural * size - n
    waiting = movable = np.flatnonzero(moved)  # in file order, and kept so
    target = home[waiting] + 1
    home[waiting] = -1  # in no chunk until placed
    joined = np.zeros(0, dtype=np.int64)  # pairs of the repeats placed so far
    for _ in range(_MAX_ROUNDS):
        open_chunks = np.flatnonzero(room > 0)
        if len(waiting) <= _FEW or not len(open_chunks):
            break
        # Full chunks are skipped: each repeat asks the next chunk that still has room.
        target = open_chunks[np.searchsorted(open_chunks, target) % len(open_chunks)]
        asked = target * width + codes[waiting]
        free = ~_members(present, asked) & ~np.isin(asked, joined)
        free &= ~pd.Series(asked).duplicated().to_numpy()  # one per customer per round
        candidates = np.flatnonzero(free)
        by_chunk = candidates[np.argsort(target[candidates], kind="stable")]
        wanted = target[by_chunk]
        rank = np.arange(len(wanted)) - np.searchsorted(wanted, wanted, side="left")
        chosen = by_chunk[rank < room[wanted]]
        room -= np.bincount(target[chosen], minlength=natural)
        home[waiting[chosen]] = target[chosen]
        joined = np.concatenate([joined, asked[chosen]])
        left = np.ones(len(waiting), dtype=bool)
        left[chosen] = False
        waiting, target = waiting[left], target[left] + 1
    if len(waiting) and (len(waiting) > _MAX_SWAPS
                         or not _swap_in(home, codes, waiting, room, size, movable)):
        return None
    order = np.argsort(home, kind="stable")  # nearly sorted already: a quick pass
    bounds = np.zeros(natural + 1, dtype=np.int64)  # every item is placed: 0 <= home < natural
    np.cumsum(np.bincount(home, minlength=natural), out=bounds[1:])
    return [cast(Sequence[int], order[bounds[c] : bounds[c + 1]]) for c in range(natural)]


def _repeats_in_chunks(codes: np.ndarray, size: int, natural: int, width: int,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(mask of items whose customer came earlier in the same chunk, the sorted
    ``chunk * width + customer`` of every item) for the file cut every ``size`` items.

    Each chunk's ``customer * size + place`` numbers are sorted on their own (a vectorised
    sort of ``size`` numbers, in cache): equal customers end up together with the first
    in file order first, so an item is a repeat when its customer equals its neighbour's
    before it. The chunks' sorted customers, offset by chunk, are one sorted array for
    membership tests. Two hash tables of a million (chunk, customer) pairs cost several
    times more. A few dozen chunks at a time: the scratch arrays of the whole file (five
    of 8 MB) would be fresh pages for the kernel to clear, costing more than the sorting.
    """
    n = len(codes)
    moved = np.zeros(natural * size, dtype=bool)
    present = np.empty(natural * size, dtype=np.int64)
    places = np.arange(size, dtype=np.int64)
    step = max(1, _WINDOW // size)
    for first in range(0, natural, step):
        last = min(first + step, natural)
        flat = np.empty((last - first) * size, dtype=np.int64)
        real = codes[first * size : last * size]
        flat[: len(real)] = real
        # Fill the last chunk with customers above every real one, each its own.
        flat[len(real) :] = width + np.arange(first * size + len(real) - n,
                                              len(flat) + first * size - n, dtype=np.int64)
        keyed = flat.reshape(last - first, size)
        keyed *= size
        keyed += places
        keyed.sort(axis=1)
        customer, place = np.divmod(keyed, size)
        again = np.zeros(keyed.shape, dtype=bool)
        again[:, 1:] = customer[:, 1:] == customer[:, :-1]
        repeats = np.flatnonzero(again)
        moved[first * size + repeats // size * size + place.reshape(-1)[repeats]] = True
        customer += (np.arange(first, last, dtype=np.int64) * width)[:, None]
        present[first * size : last * size] = customer.reshape(-1)
    return moved[:n], present


def _members(present: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Which of ``asked`` occur in the sorted array ``present``."""
    at = np.searchsorted(present, asked)
    found: np.ndarray = present[np.minimum(at, len(present) - 1)] == asked
    return found


def _swap_in(home: np.ndarray, codes: np.ndarray, waiting: np.ndarray,
             room: np.ndarray, size: int, movable: np.ndarray) -> bool:
    """Place each waiting repeat where a chunk has room but already holds its customer:
    another chunk that lacks the customer gives up an item the full one can take.
    Whether every repeat found a place (``home`` and ``room`` are updated).

    ``movable``: the items the rounds may have moved (the repeats); every other item is
    still in the chunk the file's order cut it into. A chunk's members are read when it
    is first looked at, from its own stretch of the file and the movable items: sorting a
    million items by chunk for a handful of repeats cost ~40 ms.
    """
    n = len(home)
    natural = len(room)
    members: dict[int, list[int]] = {}
    customers: dict[int, set[int]] = {}

    def of(chunk: int) -> tuple[list[int], set[int]]:
        if chunk not in members:
            # Items only move between chunks already looked at, so a chunk not yet looked
            # at holds the items of its stretch still at home and movable ones moved in.
            low, high = chunk * size, min((chunk + 1) * size, n)
            here = low + np.flatnonzero(home[low:high] == chunk)
            away = movable[(home[movable] == chunk) & ((movable < low) | (movable >= high))]
            members[chunk] = np.union1d(here, away).tolist()  # in file order
            customers[chunk] = set(codes[members[chunk]].tolist())
        return members[chunk], customers[chunk]

    def put(item: int, chunk: int) -> None:
        of(chunk)[0].append(item)
        customers[chunk].add(int(codes[item]))
        home[item] = chunk

    def take(item: int, chunk: int) -> None:
        of(chunk)[0].remove(item)
        customers[chunk].discard(int(codes[item]))

    for item in waiting.tolist():
        customer = int(codes[item])
        placed = False
        for spare in np.flatnonzero(room > 0).tolist():
            if customer not in of(spare)[1]:
                put(item, spare)
            else:
                giver = next(((chunk, other) for step in range(1, natural)
                              for chunk in [(spare + step) % natural]
                              if customer not in of(chunk)[1]
                              for other in of(chunk)[0]
                              if int(codes[other]) not in customers[spare]), None)
                if giver is None:
                    continue
                take(giver[1], giver[0])
                put(giver[1], spare)
                put(item, giver[0])
            room[spare] -= 1
            placed = True
            break
        if not placed:
            return False
    return True


def _round_robin(codes: np.ndarray, chunk_count: int) -> Placement:
    """Items grouped by customer (in order of first appearance), dealt over the chunks: a
    customer's items are consecutive in that order, so they land in different chunks."""
    n = len(codes)
    grouped = np.argsort(codes, kind="stable")  # a customer's items together, in order
    chunk_of = np.empty(n, dtype=np.int64)
    chunk_of[grouped] = np.arange(n) % chunk_count  # dealt round-robin
    order = np.argsort(chunk_of, kind="stable")  # by chunk, source order inside
    bounds = np.cumsum(np.bincount(chunk_of, minlength=chunk_count))
    # Arrays, not lists: the chunks' order is joined again without a Python pass per item.
    return [cast(Sequence[int], part) for part in np.split(order, bounds[:-1]) if len(part)]


def _keys_unique_per_chunk(keys: pa.Array, placement: Sequence[Sequence[int]]) -> bool:
    values = keys.to_pylist()
    return all(len({values[i] for i in chunk}) == len(chunk) for chunk in placement)


def _greedy(key_array: pa.Array, customer_array: pa.Array, size: int) -> list[list[int]]:
    """First fit with both rules (a key repeated across customers: rare, so slow is fine)."""
    keys = [str(k) for k in key_array.to_pylist()]
    customers = [str(c) for c in customer_array.to_pylist()]
    chunks: list[list[int]] = []
    members: list[set[tuple[int, str]]] = []
    for position, (key, customer) in enumerate(zip(keys, customers, strict=True)):
        marks = {(0, key), (1, customer)}
        target = next((i for i, used in enumerate(members)
                       if len(chunks[i]) < size and not used & marks), None)
        if target is None:
            chunks.append([])
            members.append(set())
            target = len(chunks) - 1
        chunks[target].append(position)
        members[target] |= marks
    return chunks


def _pieces(items: _Items) -> Sequence[Piece]:
    """The pieces of every item of the file, in file order (see :class:`_Layout`)."""
    if not len(items):
        return []
    pieces = items.render(0, len(items.keys))
    if any(isinstance(p, pa.Array) and p.null_count for p in pieces):
        return [_concat(*pieces)]  # not made for items; keeps the joined semantics
    return pieces


def _chunks(items: _Items, placement: Sequence[Sequence[int]],
            pieces: Sequence[Piece]) -> Iterator[Chunk]:
    """Each chunk's body, built a block of chunks at a time from ``pieces`` (see
    :func:`_pieces`); no per-item Python work."""
    if not all(isinstance(chunk, range) for chunk in placement):  # repeated keys moved some
        order = np.concatenate([np.asarray(chunk, dtype=np.int64) for chunk in placement]) \
            if placement else np.zeros(0, dtype=np.int64)
        if (order != np.arange(len(order))).any():
            items = items.reordered(order)
    sizes = [len(chunk) for chunk in placement]
    layout = _Layout.of(items, sizes, pieces)
    blocks = list(_blocks(placement))

    def bodies(block: tuple[int, list[Sequence[int]]]) -> list[bytes]:
        start, chunks = block
        return layout.bodies(start, [len(chunk) for chunk in chunks])

    # Building a block is mostly arrow and numpy kernels that run without the GIL: two
    # threads build blocks side by side on the two cores; map() keeps their order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        index = 0
        for (start, block), payloads in zip(blocks, pool.map(bodies, blocks), strict=True):
            at = start
            for members, payload in zip(block, payloads, strict=True):
                where = _Slice(items, at, at + len(members))
                yield Chunk(index, where, where, payload)
                index += 1
                at += len(members)


_OPEN, _SEPARATOR, _CLOSE = '{"body":[', ",", "]}"


@dataclass
class _Text:
    """Literal text of one element of every item: ``texts[choice[i]]`` for item ``i``
    (``texts[0]`` for all when ``choice`` is None)."""

    texts: list[str]
    # The smallest unsigned type that holds the choices (uint8 nearly always): a choice
    # is made for every item of the file, and int64 arrays of a million items made and
    # combined one after another cost more in fresh memory than in arithmetic.
    choice: np.ndarray | None = None

    def then(self, other: _Text) -> _Text:
        """This text followed by ``other``, as one element (fewer elements to copy)."""
        texts = [a + b for a in self.texts for b in other.texts]
        if self.choice is None and other.choice is None:
            return _Text(texts)
        kind = _choice_type(len(texts))
        mine = (kind.type(0) if self.choice is None
                else self.choice.astype(kind) * kind.type(len(other.texts)))
        theirs = kind.type(0) if other.choice is None else other.choice.astype(kind)
        return _Text(texts, np.asarray(mine + theirs, dtype=kind))


def _choice_type(count: int) -> np.dtype[Any]:
    """The smallest unsigned integer type that numbers ``count`` choices."""
    return np.min_scalar_type(max(count - 1, 0))


@dataclass
class _Values:
    """An array element of every item: ``array[pick[i]]``, nothing where ``present`` is
    False."""

    array: pa.Array
    present: np.ndarray | None
    other: pa.Array | None = None  # for the picked items with ``other_at >= 0``
    other_at: np.ndarray | None = None


def _elements(pieces: Sequence[Piece], pick: np.ndarray, present: np.ndarray | None,
              out: list[_Text | _Values]) -> None:
    """Flatten pieces into the elements every picked item is written from, merging
    neighbouring literal text (optional text is a choice between itself and "")."""
    for piece in pieces:
        if isinstance(piece, _Optional):
            here = np.ones(len(pick), dtype=bool) if present is None else present.copy()
            for part in piece.pieces:
                if isinstance(part, pa.Array) and part.null_count:
                    here &= np.asarray(part.is_valid(), dtype=bool)[pick]
            _elements(piece.pieces, pick, here, out)
            continue
        if isinstance(piece, _Either):
            out.append(_Values(piece.first.cast(_TEXT), present, piece.second.cast(_TEXT),
                               piece.second_at[pick]))
            continue
        if isinstance(piece, str):
            text = _Text([piece]) if present is None else _Text(["", piece],
                                                                present.astype(np.uint8))
            if out and isinstance(out[-1], _Text):
                out[-1] = out[-1].then(text)
            else:
                out.append(text)
            continue
        out.append(_Values(piece.cast(_TEXT), present))


@dataclass(frozen=True)
class _Literal:
    """Literal text of one element of every item: text ``ids[choice[i]]`` of the
    layout's literals for the item at place ``i`` of the sending order (``ids[0]`` for
    all when ``choice`` is None)."""

    ids: np.ndarray
    choice: np.ndarray | None


@dataclass(frozen=True)
class _Value:
    """A value element of every item: ``array[pick[i]]`` for the item at place ``i`` of
    the sending order, ``other[other_at[i]]`` where that is ≥ 0, and nothing where
    ``present`` is False."""

    array: pa.Array
    present: np.ndarray | None
    other: pa.Array | None
    other_at: np.ndarray | None


@dataclass
class _Layout:
    """Every item of a plan as a row of elements: literal texts and column values, with
    the item separator, ``{"body":[`` and ``]}`` folded into the literal text next to
    them. A block of chunks joins the literal texts and its items' values into one
    array and writes each item's row of indices into it, so a chunk's body is one
    ``take`` of its items' rows.

    Made once for the whole plan, not per block: the file's columns are rendered once
    (no per-block slicing of the frame, casting or escape scan), and an item is found
    wherever the plan moved it by its row number alone, so items moved far from home
    cost no rendering of their own.
    """

    literals: pa.Array  # large_string, "" first
    columns: list[_Literal | _Value]
    pick: np.ndarray  # each item's row in the rendered columns, in sending order

    @classmethod
    def of(cls, items: _Items, sizes: Sequence[int], pieces: Sequence[Piece]) -> _Layout:
        """The layout of ``items`` cut into chunks of ``sizes``, written from ``pieces``
        (every item's, in file order: :func:`_pieces`)."""
        count = sum(sizes)
        pick = np.arange(count, dtype=np.int64) if items.order is None else items.order
        if not count:
            return cls(pa.array([""], type=_TEXT), [], pick)
        ends = np.cumsum(np.asarray(sizes, dtype=np.int64))
        starts = ends - np.asarray(sizes, dtype=np.int64)
        first = np.ones(count, dtype=np.uint8)  # 0: a chunk's first item, 1: any other
        first[starts[starts < count]] = 0
        last = np.zeros(count, dtype=np.uint8)  # 1: a chunk's last item
        last[ends[ends > 0] - 1] = 1
        elements: list[_Text | _Values] = [_Text([_OPEN, _SEPARATOR], first)]
        _elements(pieces, pick, None, elements)
        tail = _Text(["", _CLOSE], last)
        if isinstance(elements[-1], _Text):
            elements[-1] = elements[-1].then(tail)
        else:
            elements.append(tail)
        literals: dict[str, int] = {"": 0}
        columns: list[_Literal | _Value] = []
        for element in elements:
            if isinstance(element, _Text):
                ids = [literals.setdefault(text, len(literals)) for text in element.texts]
                columns.append(_Literal(np.array(ids, dtype=np.int64), element.choice))
            else:
                columns.append(_Value(element.array, element.present, element.other,
                                      element.other_at))
        return cls(pa.array(list(literals), type=_TEXT), columns, pick)

    def bodies(self, start: int, sizes: Sequence[int]) -> list[bytes]:
        """The request bodies of consecutive chunks of ``sizes`` items, the first chunk's
        first item at ``start`` of the sending order."""
        cuts = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        stop = start + int(cuts[-1])
        empty = (_OPEN + _CLOSE).encode()
        if stop == start:
            return [empty for _ in sizes]
        rows = self.pick[start:stop]
        # The block's values: the stretch of rows its items come from, when they lie
        # close together; else the block's own stretch and the few items the plan moved
        # in from far away (after the last chunk comes the first); else (items dealt
        # round-robin) just its items' rows. Always a block-sized array: memory reused
        # from block to block, where one array of the whole file would be fresh pages.
        low, high = int(rows.min()), int(rows.max()) + 1
        parts: list[tuple[int, int] | pa.Array]  # stretches of rows, or rows to take
        if high - low <= 2 * len(rows):
            local, parts = rows - low, [(low, high)]
        else:
            far = np.flatnonzero((rows < start) | (rows >= stop))
            if 2 * len(far) < len(rows):
                local = rows - start
                local[far] = stop - start + np.arange(len(far), dtype=np.int64)
                parts = [(start, stop), pa.array(rows[far])]
            else:
                local, parts = np.arange(len(rows), dtype=np.int64), [pa.array(rows)]
        arrays: list[pa.Array] = [self.literals]
        base = len(self.literals)
        grid = np.empty((len(rows), len(self.columns)), dtype=np.int64)
        for at, column in enumerate(self.columns):
            if isinstance(column, _Literal):
                grid[:, at] = column.ids[0] if column.choice is None else column.ids[
                    column.choice[start:stop]]
                continue
            taken_parts = [column.array.slice(part[0], part[1] - part[0]) if isinstance(part, tuple)
                           else column.array.take(part) for part in parts]
            arrays += taken_parts
            spot = local + base
            base += sum(len(v) for v in taken_parts)
            if column.other is not None and column.other_at is not None:
                other_at = column.other_at[start:stop]
                taken = other_at >= 0
                arrays.append(column.other.take(pa.array(other_at[taken])))
                spot[taken] = base + np.arange(int(taken.sum()), dtype=np.int64)
                base += len(arrays[-1])
            grid[:, at] = spot if column.present is None else np.where(
                column.present[start:stop], spot, 0)
        values = pa.concat_arrays(arrays)
        width = len(self.columns)
        index = pa.array(grid.reshape(-1))
        out: list[bytes] = []
        for a, b in pairwise(cuts.tolist()):
            if b <= a:
                out.append(empty)
                continue
            # One take a chunk: its data buffer is the body. Taking a chunk at a time
            # (not a block) keeps the take's output small enough for the allocator to
            # hand the same memory back for the next chunk, instead of fresh pages the
            # kernel must clear for every block: only the bodies' own bytes are new.
            text = pc.take(values, index.slice(a * width, (b - a) * width))
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
            begin, end = int(offsets[text.offset]), int(offsets[text.offset + len(text)])
            out.append(bytes(memoryview(text.buffers()[2])[begin:end]))
        return out


def _blocks(
    placement: Sequence[Sequence[int]],
) -> Iterator[tuple[int, list[Sequence[int]]]]:
    """Consecutive chunks grouped into blocks of about _BLOCK_ITEMS items: (start, chunks)."""
    start = filled = 0
    block: list[Sequence[int]] = []
    for chunk in placement:
        block.append(chunk)
        filled += len(chunk)
        if filled >= _BLOCK_ITEMS:
            yield start, block
            start, block, filled = start + filled, [], 0
    if block:
        yield start, block
