"""The review step's numbers, computed once per validated file, without Streamlit.

:func:`build_review` does the expensive parts of "5. Review the impact" in two halves:
the impact (totals, outliers, largest rows, binned histograms: a few dozen counts, never a
million points sent to the browser), then :func:`build_plan_review`, the chunk plan with
its sizes and the first item's JSON (the slow half, built while the browser draws the
first). The page keeps both in its :class:`~gameball_batch.ui.intake_model.IntakeCache`
under the validation's key (file fingerprint, type, mapping, fixes, date order), so a
rerun that changes none of those draws from them and computes nothing;
:data:`computations` counts the builds so a test can see that.

Also here, because the page and the CLI must read the same words: how a money or points
value is written (:func:`format_value`), added / deducted / net per column
(:func:`value_lines`), and the value warnings (outliers) merged into validation's warnings
(:func:`with_value_warnings`) so step 4 counts and lists them where rows can be edited.

This module must not import streamlit or talk to the ledger or the network.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from gameball_batch import impact as impact_mod
from gameball_batch.batch_types import BatchType
from gameball_batch.charts import intake as charts
from gameball_batch.ui.text import literal

if TYPE_CHECKING:
    from gameball_batch.validate import ValidationResult

# How many reviews this process has built; a rerun that changes nothing leaves it alone.
computations = 0


@dataclass(frozen=True)
class ValueLine:
    """One money or points column as the review shows it: added, deducted and net."""

    field: str
    label: str
    unit: str  # "amount" (money) or "points"
    added: float
    deducted: float  # a positive number: how much is taken away
    net: float

    @property
    def has_deductions(self) -> bool:
        return self.deducted > 0

    def text(self, which: str) -> str:
        """``added``, ``deducted`` or ``net``, written for this column's unit."""
        value: float = getattr(self, which)
        return format_value(value, self.unit)


@dataclass(frozen=True, eq=False)
class Review:
    """The impact half of the review: totals, lines, binned histograms (fast to build)."""

    impact: impact_mod.Impact
    lines: tuple[ValueLine, ...]
    histograms: Mapping[str, pd.DataFrame]  # field -> left | right | count


@dataclass(frozen=True, eq=False)
class PlanReview:
    """The chunk plan half: what a submission stores, its sizes and the first item."""

    plan: Any  # payloads.ChunkPlan
    chunk_count: int
    largest_chunk: int
    first_item_json: str


def format_value(value: float, unit: str) -> str:
    """Money with two decimals and thousands separators; points as whole numbers.

    Points are whole by definition (the validator refuses fractions), so ``1,250`` reads
    right and ``1,250.00`` does not; money keeps its cents even when they are zero.
    """
    if unit == "points":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:,.2f}"


def value_lines(bt: BatchType, impact: impact_mod.Impact) -> tuple[ValueLine, ...]:
    """Added, deducted and net of every money/points column of the file."""
    out = []
    for value in impact.values:
        spec = bt.spec_for(value.field)
        out.append(ValueLine(
            field=value.field, label=spec.label if spec else value.field, unit=value.unit,
            added=value.positive_total, deducted=-value.negative_total, net=value.total,
        ))
    return tuple(out)


def build_review(result: ValidationResult) -> Review:
    """The impact half of the review of ``result`` (the caller caches it by content)."""
    global computations
    computations += 1
    bt, clean = result.batch_type, result.clean
    impact = impact_mod.assess(result)
    histograms = {v.field: charts.histogram_bins(clean[v.field]) for v in impact.values
                  if v.field in clean.columns}
    return Review(impact=impact, lines=value_lines(bt, impact), histograms=histograms)


def build_plan_review(
    result: ValidationResult, plan_chunks: Callable[[ValidationResult], Any],
) -> PlanReview:
    """The chunk plan of ``result`` and what the review shows of it (cached by content).

    Built after the impact half is on the page: the browser draws the totals and charts
    while this, the slowest part of the review, runs.
    """
    global computations
    computations += 1
    plan = plan_chunks(result)
    chunks = list(plan.chunks)
    first = json.dumps(plan.first_item(), indent=2, ensure_ascii=False) if chunks else ""
    return PlanReview(plan=plan, chunk_count=len(chunks),
                      largest_chunk=max(map(_chunk_size, chunks), default=0),
                      first_item_json=first)


def _chunk_size(chunk: Any) -> int:
    """Items in a chunk, without building its million-string key tuple when avoidable.

    ``Chunk.keys`` is built on first access (payloads.py); the review only needs a count,
    which the chunk's pending slice already knows. Any other shape falls back to ``keys``.
    """
    pending = getattr(chunk, "_keys", None)
    start, stop = getattr(pending, "start", None), getattr(pending, "stop", None)
    if isinstance(start, int) and isinstance(stop, int):
        return stop - start
    return len(chunk.keys)


def largest_rows_markdown(review: Review) -> str:
    """The largest rows as a markdown table: the Excel row, then each field of the row.

    A markdown table, not ``st.dataframe``: ten rows do not need a data grid, whose
    scripts (~1.2 MB) a fresh tab loads before drawing it. Money has two decimals and
    points are whole, as in the totals; every cell is the file's text, shown literally.
    """
    rows = review.impact.largest_rows
    units = {line.field: line for line in review.lines}
    headers = ["row", *(units[c].label if c in units else str(c) for c in rows.columns)]
    # Numbers (the row, money, points) right-aligned, so their digits line up.
    align = ["---:", *("---:" if str(c) in units else "---" for c in rows.columns)]
    lines = ["| " + " | ".join(literal(h) for h in headers) + " |",
             "| " + " | ".join(align) + " |"]
    for number, record in zip(rows.index.tolist(), rows.itertuples(index=False), strict=True):
        cells = [_cell(value, units.get(str(column)))
                 for column, value in zip(rows.columns, record, strict=True)]
        lines.append("| " + " | ".join([f"{int(number)}", *cells]) + " |")
    return "\n".join(lines)


def _cell(value: object, line: ValueLine | None) -> str:
    if isinstance(value, str):
        return literal(value)
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and value != value):  # a blank optional cell (NaN)
        return ""
    if line is not None and isinstance(value, int | float):
        return format_value(float(value), line.unit)
    return literal(value)


def with_value_warnings(result: ValidationResult, columns: Mapping[str, str]) -> ValidationResult:
    """``result`` with the value warnings (outliers) added to its warnings, by row.

    Validation's own warnings come from one cell at a time; an outlier needs the whole
    column (its median), so it is found in :mod:`gameball_batch.impact` and merged here.
    Step 4 then counts it in "Warnings" and lists it with its row, where it can be edited.
    """
    extra = impact_mod.value_warnings(result, columns)
    if extra.empty:
        return result
    merged = pd.concat([result.warnings, extra], ignore_index=True)
    merged = merged.sort_values("row", kind="stable").reset_index(drop=True)
    return dataclasses.replace(result, warnings=merged)


def warned_rows(result: ValidationResult) -> frozenset[int]:
    """Source rows with at least one warning (and no error): editable, not blocking."""
    if result.warnings.empty:
        return frozenset()
    rows = {int(r) for r in result.warnings["row"].tolist()}
    return frozenset(rows - set(result.invalid_rows))


SEVERITY_COLUMN = "severity"


def issue_table(result: ValidationResult) -> pd.DataFrame:
    """Errors and warnings in one table (``severity`` first: "error" or "warning"), by row.

    Step 4 lists this, so a warned row (an outlier) is found, with its row number, in the
    same place as a failing one.
    """
    parts = [frame.assign(**{SEVERITY_COLUMN: name})
             for frame, name in ((result.issues, "error"), (result.warnings, "warning"))
             if not frame.empty]
    if not parts:
        return result.issues.assign(**{SEVERITY_COLUMN: pd.Series(dtype="str")})[
            [SEVERITY_COLUMN, *result.issues.columns]]
    table = pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")
    return table[[SEVERITY_COLUMN, *result.issues.columns]].reset_index(drop=True)


def editable_rows(result: ValidationResult, find: int | None = None) -> list[int]:
    """Rows the editor offers: the row asked for (``find``) first, then failing and warned
    rows in file order."""
    rows = sorted(set(result.invalid_rows) | warned_rows(result))
    if find is not None:
        rows = [find, *(r for r in rows if r != find)]
    return rows


def rows_frame(frame: pd.DataFrame, rows: list[int], columns: list[str]) -> pd.DataFrame:
    """The original text of ``rows`` (in that order) in ``columns``; rows no longer in the
    file are skipped."""
    wanted = [c for c in columns if c in frame.columns]
    return frame.loc[[r for r in rows if r in frame.index], wanted]
