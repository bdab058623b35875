"""Chart builders for the console: pure functions, tested without Streamlit.

``intake`` draws the new-batch figures (issues by rule; the binned spread of amounts or
points), ``html_bars`` draws that spread as plain HTML bars, ``jobs`` the jobs page's
figures. Nothing here imports streamlit, reads the ledger or touches the network.
"""

from typing import Any

import plotly.graph_objects as go


def layout(fig: go.Figure, title: str, *, height: int = 320, **extra: Any) -> go.Figure:
    """The console's common figure frame: left-aligned title, tight margins; ``extra``
    goes to ``update_layout`` as well."""
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        **extra,
    )
    return fig


def empty(title: str, message: str, *, height: int) -> go.Figure:
    """A figure that says, in words, why there is nothing to draw."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, title, height=height)
