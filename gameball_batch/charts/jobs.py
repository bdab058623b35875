"""Plotly figures for the jobs page: progress over time, the chunk grid, failures by message.

Pure functions from small, already-aggregated inputs (a few thousand points at most, even
for a million-row job) to ``plotly.graph_objects.Figure``. They are tested without
Streamlit. This module must not import streamlit, read the ledger or touch the network:
the page fetches aggregates through ``gameball_batch.jobs`` and hands them here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import plotly.graph_objects as go

from gameball_batch.charts import empty, layout

# One colour per chunk state, chosen so the two states that need an operator (failed,
# unknown) stand out against the calm ones, and colour-blind readers still get the legend.
STATE_COLOURS: dict[str, str] = {
    "pending": "#C9CED6",
    "sending": "#8DB8E8",
    "accepted": "#3C78C4",
    "done": "#2E9E5B",
    "failed": "#D64545",
    "unknown": "#E8A33C",
}
STATE_LABELS: dict[str, str] = {
    "pending": "waiting",
    "sending": "sending",
    "accepted": "processing at Gameball",
    "done": "done",
    "failed": "failed",
    "unknown": "in doubt",
}
OTHER_COLOUR = "#7F7F7F"
GRID_COLUMNS = 40
TOP_MESSAGES = 12
MESSAGE_WIDTH = 70


def _layout(fig: go.Figure, title: str, *, height: int = 320) -> go.Figure:
    legend = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 1, "xanchor": "right"}
    return layout(fig, title, height=height, legend=legend)


def _empty(title: str, message: str) -> go.Figure:
    return empty(title, message, height=200)


SERIES_COLOURS: dict[str, str] = {
    "applied": STATE_COLOURS["done"],
    "finished": STATE_COLOURS["done"],
    "failed": STATE_COLOURS["failed"],
    "in doubt": STATE_COLOURS["unknown"],
    "in refused chunks": STATE_COLOURS["failed"],
}


def progress_figure(
    times: Sequence[datetime],
    series: Mapping[str, Sequence[int]],
    *,
    total: int,
    unit: str = "rows",
) -> go.Figure:
    """Cumulative counts over time (one line per series), with the job's total as a ceiling.

    ``times`` and each series are parallel: cumulative counts at each moment (one point per
    finished chunk is plenty). An empty ``times`` draws a "nothing yet" figure.
    """
    title = "Progress over time"
    if not times:
        return _empty(title, f"No {unit} have finished yet.")
    fig = go.Figure()
    for name, values in series.items():
        colour = SERIES_COLOURS.get(name, OTHER_COLOUR)
        fig.add_trace(
            go.Scatter(
                x=list(times),
                y=list(values),
                name=name,
                mode="lines",
                line={"color": colour, "width": 2, "shape": "hv"},
                hovertemplate=f"%{{x|%H:%M:%S}}<br>{name}: %{{y:,}} {unit}<extra></extra>",
            )
        )
    fig.add_hline(
        y=total,
        line={"dash": "dot", "color": "#888888"},
        annotation_text=f"{total:,} {unit}",
        annotation_position="top left",
    )
    fig.update_yaxes(title=unit, rangemode="tozero", tickformat=",d")
    fig.update_xaxes(title=None)
    return _layout(fig, title)


def chunk_grid_figure(states: Sequence[str], *, columns: int = GRID_COLUMNS) -> go.Figure:
    """One square per chunk, left to right and top to bottom, coloured by its state.

    Hovering a square names the chunk (1-based, as the operator counts) and its state.
    """
    title = "Chunks"
    if not states:
        return _empty(title, "This job has no chunks.")
    columns = max(1, min(columns, len(states)))
    rows = (len(states) + columns - 1) // columns
    fig = go.Figure()
    order = [s for s in STATE_COLOURS if s in set(states)]
    order += sorted(set(states) - set(STATE_COLOURS))
    for state in order:
        idx = [i for i, s in enumerate(states) if s == state]
        fig.add_trace(
            go.Scatter(
                x=[i % columns for i in idx],
                y=[i // columns for i in idx],
                mode="markers",
                name=f"{STATE_LABELS.get(state, state)} ({len(idx):,})",
                showlegend=True,  # plotly hides a lone trace's legend; the key still helps
                marker={
                    "symbol": "square",
                    "size": _square_size(columns),
                    "color": STATE_COLOURS.get(state, OTHER_COLOUR),
                },
                customdata=[i + 1 for i in idx],
                hovertemplate=f"chunk %{{customdata}}: {STATE_LABELS.get(state, state)}"
                "<extra></extra>",
            )
        )
    fig.update_xaxes(visible=False, range=[-1, columns])
    fig.update_yaxes(visible=False, range=[rows, -1])  # reversed: chunk 1 on top
    height = min(520, 120 + rows * (_square_size(columns) + 4))
    fig = _layout(fig, title, height=max(180, height))
    # The legend goes under the grid: beside the title it would cover the first rows.
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0,
                              "xanchor": "left"})
    return fig


def _square_size(columns: int) -> int:
    # Wide grids get smaller squares so the figure keeps to the page's width.
    return 14 if columns <= 40 else 9


def _shorten(message: str, width: int = MESSAGE_WIDTH) -> str:
    message = " ".join(message.split())
    return message if len(message) <= width else message[: width - 1] + "…"


def failures_figure(counts: Mapping[str, int], *, top: int = TOP_MESSAGES) -> go.Figure:
    """Failed rows by message, the most frequent on top; the rest folded into "other"."""
    title = "Failures by message"
    ranked = sorted(((n, m) for m, n in counts.items() if n > 0), key=lambda t: (-t[0], t[1]))
    if not ranked:
        return _empty(title, "No failed rows.")
    shown = ranked[:top]
    rest = sum(n for n, _ in ranked[top:])
    labels = [plain(_shorten(m or "(no message)")) for _, m in shown]
    values = [n for n, _ in shown]
    if rest:
        labels.append(f"{len(ranked) - top} other messages")
        values.append(rest)
    fig = go.Figure(
        go.Bar(
            x=values[::-1],
            y=labels[::-1],
            orientation="h",
            marker={"color": STATE_COLOURS["failed"]},
            text=[f"{v:,}" for v in values[::-1]],
            textposition="outside",
            textangle=0,
            cliponaxis=False,
            hovertemplate="%{y}<br>%{x:,} rows<extra></extra>",
        )
    )
    most = max(values)
    fig.update_xaxes(title="rows", tickformat=",d", range=[0, most * 1.15 + 0.5],
                     **({"tick0": 0, "dtick": 1} if most <= 10 else {}))
    return _layout(fig, title, height=max(200, 60 + 32 * len(labels)))


def plain(text: str) -> str:
    """Gameball's message as plain text in a figure: plotly reads ``<a href>``, ``<b>`` and
    entities in labels, so the characters that start them are written as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
