"""The new-batch flow's charts: issues by rule (plotly), and the spread of amounts/points.

Issues by rule is a ``plotly.graph_objects.Figure``. The spread is binned here (numpy) into
a few dozen counts, never a million points, and drawn as plain HTML bars by
:mod:`gameball_batch.charts.html_bars` (the review loads no charting script). This module
must not import streamlit, read the ledger or touch the network.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gameball_batch.charts import empty, layout

ISSUE_COLOUR = "#D64545"
TOP_RULES = 15
HISTOGRAM_BINS = 40


def _layout(fig: go.Figure, title: str, *, height: int = 320) -> go.Figure:
    return layout(fig, title, height=height, showlegend=False, bargap=0.05)


def _empty(title: str, message: str) -> go.Figure:
    return empty(title, message, height=180)


def issue_counts(issues: pd.DataFrame) -> pd.DataFrame:
    """Issues per rule (``code``): ``code | rows | fields | example``, most frequent first.

    ``rows`` counts distinct source rows, so one row with the same problem in two cells
    is one row to fix; ``fields`` lists the fields the rule hit.
    """
    columns = ["code", "rows", "fields", "example"]
    if issues.empty:
        return pd.DataFrame(columns=columns)
    grouped = issues.groupby("code", sort=False)
    out = pd.DataFrame(
        {
            "rows": grouped["row"].nunique(),
            "fields": grouped["field"].agg(lambda s: ", ".join(sorted(set(map(str, s))))),
            "example": grouped["message"].first(),
        }
    )
    out = out.reset_index().sort_values(["rows", "code"], ascending=[False, True])
    return out[columns].reset_index(drop=True)


def issues_by_rule_figure(issues: pd.DataFrame, *, top: int = TOP_RULES) -> go.Figure:
    """Rows failing each rule, the most frequent on top; hover shows fields and an example."""
    title = "Issues by rule"
    counts = issue_counts(issues)
    if counts.empty:
        return _empty(title, "No issues: every row passed validation.")
    shown = counts.head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown["rows"].tolist(),
            y=shown["code"].astype(str).tolist(),
            orientation="h",
            marker={"color": ISSUE_COLOUR},
            text=[f"{n:,}" for n in shown["rows"]],
            textposition="outside",  # "auto" turned labels sideways inside narrow bars
            textangle=0,
            cliponaxis=False,
            customdata=np.stack([shown["fields"], shown["example"]], axis=-1).tolist(),
            hovertemplate="%{y}: %{x:,} rows<br>fields: %{customdata[0]}"
            "<br>e.g. %{customdata[1]}<extra></extra>",
        )
    )
    most = int(shown["rows"].max())
    # Headroom for the labels outside the bars; whole-number ticks (",d" alone rounded
    # 0.2, 0.4 … into "0 0 0 1 1 1").
    fig.update_xaxes(title="rows", tickformat=",d", range=[0, most * 1.15 + 0.5],
                     **integer_ticks(most))
    return _layout(fig, title, height=max(200, 70 + 30 * len(shown)))


def integer_ticks(most: int) -> dict[str, float]:
    """Axis options for counts: one tick per unit while the axis is short, else plotly's."""
    return {"tick0": 0, "dtick": 1} if most <= 10 else {}


def histogram_bins(values: pd.Series, *, bins: int = HISTOGRAM_BINS) -> pd.DataFrame:
    """``left | right | count`` of the numeric values (text and blanks are ignored)."""
    numbers = pd.to_numeric(values, errors="coerce").dropna().astype(float).to_numpy()
    if numbers.size == 0:
        return pd.DataFrame(columns=["left", "right", "count"])
    low, high = float(numbers.min()), float(numbers.max())
    if low == high:  # one value: a single bar around it
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(numbers, bins=max(1, bins), range=(low, high))
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts})
