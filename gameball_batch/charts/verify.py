"""The plotly figure of a verification run: how many rows got each verdict.

A pure function from the counts to a figure, tested without Streamlit. This module must not
import streamlit, read the ledger or touch the network.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from gameball_batch.charts import empty, layout

VERDICT_LABELS: dict[str, str] = {
    "applied": "verified applied",
    "absent": "verified absent",
    "unclear": "unclear",
    "not_verifiable": "not verifiable",
}
VERDICT_COLOURS: dict[str, str] = {
    "applied": "#2E9E5B",
    "absent": "#3C78C4",
    "unclear": "#E8A33C",
    "not_verifiable": "#C9CED6",
}


def verdicts_figure(counts: Mapping[str, int], *, height: int = 260) -> go.Figure:
    """One bar per verdict, in a fixed order, each labelled with its count."""
    title = "Verdicts from Gameball's evidence"
    if not sum(counts.values()):
        return empty(title, "No row verified yet.", height=height)
    names = list(VERDICT_LABELS)
    values = [int(counts.get(n, 0)) for n in names]
    fig = go.Figure(go.Bar(
        x=[VERDICT_LABELS[n] for n in names], y=values, text=values, textposition="auto",
        marker_color=[VERDICT_COLOURS[n] for n in names], hovertemplate="%{x}: %{y}<extra></extra>",
    ))
    return layout(fig, title, height=height, yaxis_title="rows", showlegend=False)
