"""What a validated file will do if sent: totals, spread, largest rows, outliers, warnings.

The review step of the console, the CLI's confirmation prompt and the approval rules all
read one :class:`Impact`, so the numbers an operator reviews are the numbers an approver
signs. Pure pandas over ``ValidationResult.clean``; it must not talk to the ledger or the
network (duplicate guards against earlier jobs live in ``guards.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from gameball_batch.batch_types import BatchType

if TYPE_CHECKING:
    from gameball_batch.validate import ValidationResult

# A row this many times the median of its column is called out for a second look.
OUTLIER_FACTOR = 20.0
LARGEST_ROWS = 10
OUTLIER_CODE = "outlier"  # the rule name of an outlier in the issue table


@dataclass(frozen=True)
class ValueImpact:
    """Totals of one money or points column."""

    field: str
    unit: str  # "amount" (money) or "points"
    total: float
    positive_total: float
    negative_total: float  # as a negative number, 0 when none
    largest: float  # the largest absolute value of one row
    median: float
    outlier_rows: tuple[int, ...]


@dataclass(frozen=True)
class Impact:
    """The effect of sending the valid rows of one file."""

    batch_type: BatchType
    rows: int
    customers: int
    values: tuple[ValueImpact, ...] = ()
    warnings: tuple[str, ...] = ()
    largest_rows: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)

    def value(self, path: str) -> ValueImpact | None:
        return next((v for v in self.values if v.field == path), None)

    @property
    def total_amount(self) -> float:
        return sum(v.total for v in self.values if v.unit == "amount")

    @property
    def total_points(self) -> float:
        return sum(v.total for v in self.values if v.unit == "points")

    @property
    def largest_amount(self) -> float:
        return max((v.largest for v in self.values if v.unit == "amount"), default=0.0)

    @property
    def largest_points(self) -> float:
        return max((v.largest for v in self.values if v.unit == "points"), default=0.0)

    @property
    def negative_amount(self) -> float:
        return sum(v.negative_total for v in self.values if v.unit == "amount")

    def totals(self) -> dict[str, float]:
        """Stable, JSON-friendly totals: what an approval is bound to."""
        out: dict[str, float] = {"rows": float(self.rows), "customers": float(self.customers)}
        for v in self.values:
            out[f"{v.field}.total"] = round(v.total, 6)
            out[f"{v.field}.negative"] = round(v.negative_total, 6)
        return out


def _value_impact(column: pd.Series, path: str, unit: str) -> ValueImpact:
    values = pd.to_numeric(column, errors="coerce").dropna().astype(float)
    if values.empty:
        return ValueImpact(path, unit, 0.0, 0.0, 0.0, 0.0, 0.0, ())
    magnitude = values.abs()
    median = float(magnitude.median())
    # A median of 0 would make every non-zero row an outlier; fall back to the mean.
    base = median if median > 0 else float(magnitude.mean())
    outliers = magnitude[magnitude > base * OUTLIER_FACTOR] if base > 0 else magnitude[[]]
    return ValueImpact(
        field=path,
        unit=unit,
        total=float(values.sum()),
        positive_total=float(values[values > 0].sum()),
        negative_total=float(values[values < 0].sum()),
        largest=float(magnitude.max()),
        median=median,
        outlier_rows=tuple(int(r) for r in outliers.index),
    )


def _label(bt: BatchType, path: str) -> str:
    spec = bt.spec_for(path)
    return spec.label.lower() if spec else path


def _warnings(bt: BatchType, values: tuple[ValueImpact, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        label = _label(bt, v.field)
        if v.negative_total < 0:
            count_hint = "deducts" if bt.slug == "adjustments" else "holds negative values"
            out.append(f"{label} {count_hint}: {abs(v.negative_total):,.2f} in total.")
        if v.outlier_rows:
            rows = ", ".join(str(r) for r in v.outlier_rows[:5])
            more = f" and {len(v.outlier_rows) - 5} more" if len(v.outlier_rows) > 5 else ""
            out.append(
                f"{len(v.outlier_rows)} row(s) have a {label} over {OUTLIER_FACTOR:g}× the "
                f"median ({v.median:,.2f}): rows {rows}{more}. Check them before sending."
            )
    return tuple(out)


def _value_columns(bt: BatchType, clean: pd.DataFrame) -> list[tuple[str, str]]:
    cols = [(p, "amount") for p in bt.money_fields if p in clean.columns]
    cols += [(p, "points") for p in bt.points_fields if p in clean.columns]
    return cols


def _largest_rows(clean: pd.DataFrame, cols: list[tuple[str, str]]) -> pd.DataFrame:
    if not cols or clean.empty:
        return clean.head(0)
    size = pd.concat(
        [pd.to_numeric(clean[p], errors="coerce").abs().fillna(0) for p, _ in cols], axis=1
    ).max(axis=1)
    top = size.nlargest(LARGEST_ROWS).index
    return clean.loc[top]


def assess(result: ValidationResult) -> Impact:
    """Summarise what sending the valid rows of ``result`` will do."""
    bt, clean = result.batch_type, result.clean
    cols = _value_columns(bt, clean)
    # Orders repeat their totals on every line-item row: count each order once.
    per_item = clean.drop_duplicates(bt.group_by) if bt.group_by == "orderId" else clean
    values = tuple(_value_impact(per_item[p], p, unit) for p, unit in cols)
    customers = int(clean["customerId"].nunique()) if "customerId" in clean.columns else 0
    return Impact(
        batch_type=bt,
        rows=len(clean),
        customers=customers,
        values=values,
        warnings=_warnings(bt, values),
        largest_rows=_largest_rows(per_item, cols),
    )


def of_items(bt: BatchType, items: list[dict[str, Any]]) -> Impact:
    """The impact of sending API items again (a retry), from their money and points fields."""
    cols = [(p, "amount") for p in bt.money_fields] + [(p, "points") for p in bt.points_fields]
    frame = pd.DataFrame({path: [_dotted(item, path) for item in items] for path, _ in cols},
                         index=pd.RangeIndex(len(items)))
    values = tuple(_value_impact(frame[p], p, unit) for p, unit in cols
                   if frame[p].notna().any())
    customers = len({str(item.get("customerId", "")) for item in items})
    return Impact(batch_type=bt, rows=len(items), customers=customers, values=values,
                  warnings=_warnings(bt, values))


def _dotted(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def value_warnings(result: ValidationResult, columns: Mapping[str, str]) -> pd.DataFrame:
    """Outliers as rows of an issue table (validate's ``ISSUE_COLUMNS``), one per row and
    column, so the operator sees them in step 4 with the row to fix, not only as a note.

    ``columns`` maps field paths to the file's headers (the mapping), for the column name.
    """
    from gameball_batch.validate import ISSUE_COLUMNS

    bt, clean = result.batch_type, result.clean
    per_item = clean.drop_duplicates(bt.group_by) if bt.group_by == "orderId" else clean
    parts: list[dict[str, object]] = []
    for path, unit in _value_columns(bt, clean):
        value = _value_impact(per_item[path], path, unit)
        if not value.outlier_rows:
            continue
        label = _label(bt, path)
        base = value.median if value.median > 0 else 1.0
        number = ",.0f" if unit == "points" else ",.2f"
        rows = list(value.outlier_rows)
        cells = pd.to_numeric(per_item[path], errors="coerce").astype(float).loc[rows]
        for row, cell in zip(rows, cells.tolist(), strict=True):
            parts.append({
                "row": int(row), "column": columns.get(path, ""), "field": path,
                "value": format(cell, ".15g"), "code": OUTLIER_CODE,
                "message": (f"This {label} ({cell:{number}}) is {abs(cell) / base:,.0f}× the "
                            f"median ({value.median:{number}}): check it before sending."),
            })
    frame = pd.DataFrame(parts, columns=list(ISSUE_COLUMNS))
    frame["row"] = frame["row"].astype("int64")
    for column in ISSUE_COLUMNS[1:]:
        frame[column] = frame[column].astype("str")
    return frame.sort_values("row", kind="stable").reset_index(drop=True)
