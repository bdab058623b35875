"""How a job's rows are kept: one record per chunk, not one per row (schema 9).

A 1M-row job used to be a million row records plus four index entries each: ~23 s to store
on a 2-core machine, 607 MB on disk. Rows are only ever read, moved and counted a chunk at
a time (the runner closes a chunk with one reply; a stop settles whole chunks; the Jobs page
reads the tallies), so each chunk's rows are one record here:

- :class:`RowSet` — a chunk's source rows with their item key, status, message, Gameball's
  result and the "was in doubt" mark, column-wise, encoded as one compressed JSON document.
  The rows an operator left out at validation are the row set of chunk ``-1``.
- :func:`encode_cells` / :func:`decode_cells` — the cells of every row of a job, as the
  operator sent them, in parts of :data:`PART_ROWS` source rows (compressed Arrow IPC,
  written once, read when a page of rows or an export needs them).
- :func:`encode_keys` / :func:`decode_keys` — a job's keys for the duplicate guards (the
  business keys, the transaction or order ids) with their row and chunk, one record per job
  and kind, matched column-wise against a new file's keys.

Pure encoding: no SQL here (:mod:`.transitions` writes row sets, :mod:`.store` reads them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from gameball_batch import jsonio
from gameball_batch.ledger.records import NewRow, NewRows
from gameball_batch.ledger.sqlite import pack, unpack
from gameball_batch.ledger.states import ROW_NOT_APPLIED, ROW_PENDING, ROW_UNKNOWN

PART_ROWS = 65_536  # source rows per stored part of cells: a page of rows decodes one part
_IPC = pa.ipc.IpcWriteOptions(compression="zstd")  # Arrow's lz4 frames were twice as slow
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class RowSet:
    """The rows of one chunk, column-wise; positions align across the columns."""

    __slots__ = ("doubted", "key", "message", "result", "row", "status")

    def __init__(self, row: list[int], key: list[str], status: list[str] | None = None,
                 message: list[str | None] | None = None, result: list[Any] | None = None,
                 doubted: list[int] | None = None) -> None:
        n = len(row)
        self.row = row
        self.key = key
        self.status = status if status is not None else [ROW_PENDING] * n
        self.message: list[str | None] = message if message is not None else [None] * n
        self.result: list[Any] = result if result is not None else [None] * n
        self.doubted = doubted if doubted is not None else [0] * n

    def __len__(self) -> int:
        return len(self.row)

    def set(self, i: int, status: str, message: str | None, *, result: Any = ...) -> None:
        """Row ``i`` moves to ``status`` with ``message`` (and ``result`` when given).

        A row that goes ``unknown`` keeps the mark that it was in doubt, for good.
        """
        self.status[i] = status
        self.message[i] = message
        if result is not ...:
            self.result[i] = result
        if status == ROW_UNKNOWN:
            self.doubted[i] = 1

    def tally(self) -> Counter[str]:
        return Counter(self.status)

    def bounds(self) -> tuple[int, int]:
        """Smallest and largest source row (0, -1 when empty)."""
        return (min(self.row), max(self.row)) if self.row else (0, -1)

    def encode(self) -> bytes:
        """One compressed JSON document; a column whose every value is the same is stored
        once (a fresh chunk: every row pending, no message, no result)."""
        doc: dict[str, Any] = {"row": self.row, "key": self.key}
        for name in ("status", "message", "result", "doubted"):
            values = getattr(self, name)
            first = values[0] if values else None
            doc[name] = {"all": first} if values.count(first) == len(values) else values
        return pack(_DUMPS(doc).encode())

    @classmethod
    def decode(cls, blob: bytes) -> RowSet:
        doc = jsonio.loads(unpack(blob))
        n = len(doc["row"])

        def column(name: str) -> list[Any]:
            value = doc[name]
            return [value["all"]] * n if isinstance(value, dict) else list(value)

        return cls(doc["row"], doc["key"], column("status"), column("message"),
                   column("result"), column("doubted"))


class Born(NamedTuple):
    """A new row set, encoded (before the write lock is taken) with its tallies."""

    chunk: int
    lo: int
    hi: int
    blob: bytes
    tally: list[tuple[str, int]]


def born(rows: NewRows) -> list[Born]:
    """A new job's row sets, encoded: every planned row pending in its chunk, the rows left
    out at validation ``not_applied`` (with their reason) in chunk -1."""
    numbers = rows.rows.tolist()
    keys = rows.keys.to_pylist() if hasattr(rows.keys, "to_pylist") else list(rows.keys)
    runs = segments(rows.chunk)
    starts = np.asarray([a for _, a, _ in runs], dtype=np.int64)
    lows = np.minimum.reduceat(rows.rows, starts).tolist() if runs else []
    highs = np.maximum.reduceat(rows.rows, starts).tolist() if runs else []
    # Every row pending, nothing else said: the document a RowSet would encode, without
    # building its columns first. One thread: the JSON holds the GIL, and compressing is a
    # sixth of the time (threads made it slower, handing the GIL back and forth).
    out = [Born(index, low, high,
                pack(_DUMPS({"row": numbers[a:b], "key": keys[a:b], **_FRESH}).encode()),
                [(ROW_PENDING, b - a)])
           for (index, a, b), low, high in zip(runs, lows, highs, strict=True)]
    if rows.left_out:
        left = RowSet([r for r, _ in rows.left_out], [""] * len(rows.left_out))
        for i, (_, why) in enumerate(rows.left_out):
            left.set(i, ROW_NOT_APPLIED, why)
        out.append(Born(-1, *left.bounds(), left.encode(), sorted(left.tally().items())))
    return out


_FRESH = {"status": {"all": ROW_PENDING}, "message": {"all": None}, "result": {"all": None},
          "doubted": {"all": 0}}


# --- cells ---------------------------------------------------------------------------------


def cells_table(rows: np.ndarray, columns: Sequence[pa.Array]) -> pa.Table:
    """The stored form of cells: ``row`` (sorted) and one text column per file column."""
    return pa.table([pa.array(rows, type=pa.int64()), *columns],
                    names=["row", *(str(i) for i in range(len(columns)))])


def encode_cells(table: pa.Table) -> list[tuple[int, int, int, bytes]]:
    """(part, lo, hi, bytes) for each run of :data:`PART_ROWS` rows of a cells table
    (rows sorted ascending)."""
    out: list[tuple[int, int, int, bytes]] = []
    for part, start in enumerate(range(0, table.num_rows, PART_ROWS)):
        piece = table.slice(start, PART_ROWS)
        rows = piece.column("row")
        out.append((part, int(rows[0].as_py()), int(rows[-1].as_py()), _write_ipc(piece)))
    return out


def decode_cells(blob: bytes) -> pa.Table:
    return _read_ipc(blob)


def cells_of(parts: Sequence[pa.Table], rows: Sequence[int],
             width: int) -> dict[int, tuple[str, ...]]:
    """Row → its cells, for the wanted ``rows`` found in the decoded ``parts`` (a row in no
    part has every cell empty)."""
    out: dict[int, tuple[str, ...]] = {}
    wanted = np.asarray(sorted(set(rows)), dtype=np.int64)
    for table in parts:
        stored = table.column("row").to_numpy()
        where = np.searchsorted(stored, wanted)
        inside = where < len(stored)
        found = np.zeros(len(wanted), dtype=bool)
        found[inside] = stored[where[inside]] == wanted[inside]
        if not found.any():
            continue
        taken = table.take(pa.array(where[found]))
        texts = [taken.column(str(i)).to_pylist() for i in range(width)]
        for position, row in enumerate(wanted[found].tolist()):
            out[row] = tuple(column[position] for column in texts)
    empty = ("",) * width
    return {row: out.get(row, empty) for row in wanted.tolist()}


# --- keys for the duplicate guards ----------------------------------------------------------

BKEY, ID = "bkey", "id"  # the business key of a row (guards.py); its transaction or order id


def encode_keys(keys: Sequence[str] | pa.Array, rows: Sequence[int] | np.ndarray,
                chunks: Sequence[int] | np.ndarray | None = None) -> bytes:
    """A job's keys of one kind, with each one's source row (and chunk, -1 when unknown)."""
    row_arr = pa.array(np.asarray(rows, dtype=np.int64))
    chunk_arr = pa.array(np.full(len(row_arr), -1, dtype=np.int32) if chunks is None
                         else np.asarray(chunks, dtype=np.int32))
    table = pa.table([pa.array(keys, type=pa.string()) if not isinstance(keys, pa.Array)
                      else keys, row_arr, chunk_arr], names=["key", "row", "chunk"])
    return _write_ipc(table)


def decode_keys(blob: bytes) -> pa.Table:
    return _read_ipc(blob)


def _write_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC) as writer:
        writer.write_table(table)
    blob: bytes = sink.getvalue().to_pybytes()
    return blob


def _read_ipc(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


def segments(chunk: np.ndarray) -> list[tuple[int, int, int]]:
    """(chunk index, start, stop) of each run of equal chunk indices."""
    if not len(chunk):
        return []
    starts = np.flatnonzero(np.diff(chunk)) + 1
    bounds = [0, *starts.tolist(), len(chunk)]
    return [(int(chunk[a]), a, b) for a, b in pairwise(bounds)]


def chunks_of(rows: np.ndarray, placed: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The chunk of each of ``rows``, given every planned row and its chunk (-1: in none)."""
    order = np.argsort(placed[0], kind="stable")
    sorted_rows = placed[0][order]
    at = np.searchsorted(sorted_rows, rows)
    inside = at < len(sorted_rows)
    out = np.full(len(rows), -1, dtype=np.int32)
    hit = inside.copy()
    hit[inside] = sorted_rows[at[inside]] == rows[inside]
    out[hit] = placed[1][order[at[hit]]]
    return out


def new_rows(rows: Sequence[NewRow], left_out: Sequence[tuple[NewRow, str]],
             width: int) -> NewRows:
    """A small job's row records (a retry, a test) in the form the ledger stores."""
    placed = sorted(rows, key=lambda r: r.chunk_idx)  # stable: each chunk's rows in order
    table = cells_of_rows([*((r.row, r.cells) for r in rows),
                           *((r.row, r.cells) for r, _ in left_out)], width)
    return NewRows(np.asarray([r.row for r in placed], dtype=np.int64),
                   np.asarray([r.chunk_idx for r in placed], dtype=np.int32),
                   pa.array([r.key for r in placed], type=pa.string()), table,
                   [(r.row, why) for r, why in left_out])


def cells_of_rows(rows: Sequence[tuple[int, Sequence[Any]]], width: int) -> pa.Table:
    """(source row, its cells) pairs as a cells table (:func:`cells_table`): every cell as
    text, a missing one empty, ``width`` cells a row."""
    every = sorted(rows, key=lambda pair: pair[0])
    columns = [pa.array(["" if i >= len(cells) or cells[i] is None else str(cells[i])
                         for _, cells in every], type=pa.string()) for i in range(width)]
    return cells_table(np.asarray([row for row, _ in every], dtype=np.int64), columns)
