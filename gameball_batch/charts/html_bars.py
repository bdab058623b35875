"""The review's histogram as a small piece of plain HTML, drawn by the browser's own layout.

Why not a plotly figure: a fresh browser tab has to load and run plotly.js (4.7 MB) before
it can draw one, ~1–1.5 s of a 100k-row review on a 2-core machine (bench/README.md,
"Session 5"), more than the server needs to read, validate and plan the file. The review
draws a few dozen binned counts; ``div`` bars sized in percent show the same thing (bins,
counts, negative bins in another colour, labelled axes, each bar's range and count on
hover) with nothing to load.

Only what a sanitiser keeps for ``st.html`` (DOMPurify's HTML profile): ``div``/``figure``
elements with inline styles and ``title`` tooltips; no SVG, no script, no class names. Text
is ours (labels, formatted numbers) and escaped anyway. Pure string work: no streamlit.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

VALUE_COLOUR = "#3C78C4"
NEGATIVE_COLOUR = "#E8A33C"
AXIS = "rgba(128, 128, 128, 0.55)"
GRID = "rgba(128, 128, 128, 0.18)"
PLOT_HEIGHT_PX = 220
X_TICKS = 6


def nice_step(most: float, *, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 × 10ⁿ, at least 1) giving about ``ticks`` steps up to ``most``."""
    if most <= 0:
        return 1.0
    raw = most / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return max(1.0, step)


def histogram_html(table: pd.DataFrame, *, label: str, unit: str = "amount") -> str:
    """``table`` (``left | right | count``, equal-width bins, from
    :func:`gameball_batch.charts.intake.histogram_bins`) as an HTML bar chart.

    Bars below zero use the negative colour; the x axis is labelled from the first bin's
    lower edge to the last bin's upper edge (the top bin, where outliers sit, is never
    left without a value under it); each bar's tooltip gives its range and row count.
    """
    title = f"Distribution of {label}"
    if table.empty:
        return _figure(title, f'<div style="padding: 1rem 0; opacity: 0.7">No '
                              f"{escape(label)} values to show.</div>")
    number = ",.0f" if unit == "points" else ",.2f"
    counts = [int(c) for c in table["count"].tolist()]
    lefts, rights = table["left"].astype(float).tolist(), table["right"].astype(float).tolist()
    step = nice_step(max(counts))
    top = step * max(1, math.ceil(max(counts) / step))
    bars = "".join(_bar(count, left, right, top, number)
                   for count, left, right in zip(counts, lefts, rights, strict=True))
    grid = "".join(_grid_line(value, top) for value in _y_values(step, top))
    low, high = lefts[0], rights[-1]
    x_labels = "".join(_x_label(i, low + (high - low) * i / (X_TICKS - 1), number)
                       for i in range(X_TICKS))
    y_axis = "".join(_y_label(value, top) for value in _y_values(step, top))
    plot = (
        '<div style="display: flex; gap: 0.4rem; align-items: stretch">'
        # The y axis: its title turned upright along the side, and the tick labels.
        '<div style="writing-mode: vertical-rl; transform: rotate(180deg); '
        f'text-align: center; height: {PLOT_HEIGHT_PX}px">rows</div>'
        f'<div style="position: relative; width: 3.5em; height: {PLOT_HEIGHT_PX}px">'
        f"{y_axis}</div>"
        '<div style="flex: 1; min-width: 0">'
        f'<div style="position: relative; height: {PLOT_HEIGHT_PX}px; '
        f'border-left: 1px solid {AXIS}; border-bottom: 1px solid {AXIS}">{grid}'
        '<div style="position: absolute; inset: 0; display: flex; align-items: flex-end">'
        f"{bars}</div></div>"
        f'<div style="position: relative; height: 1.4em">{x_labels}</div>'
        f'<div style="text-align: center">{escape(label)}</div>'
        "</div></div>"
    )
    return _figure(title, plot)


def _figure(title: str, body: str) -> str:
    return (
        f'<figure role="img" aria-label="{escape(title)}" '
        'style="margin: 0 0 1rem 0; font-size: 0.8rem">'
        f'<figcaption style="font-size: 1rem; font-weight: 600; margin-bottom: 0.5rem">'
        f"{escape(title)}</figcaption>{body}</figure>"
    )


def _bar(count: int, left: float, right: float, top: float, number: str) -> str:
    # A bin with a few rows among a million is still drawn (1 px): an outlier stays visible.
    height = f"max(1px, {100 * count / top:.3f}%)" if count else "0"
    colour = NEGATIVE_COLOUR if (left + right) / 2 < 0 else VALUE_COLOUR
    tip = f"{left:{number}} to {right:{number}}: {count:,} row{'s' if count != 1 else ''}"
    return (f'<div title="{escape(tip)}" style="flex: 1 1 0; height: {height}; '
            f'margin: 0 1px; background: {colour}"></div>')


def _y_values(step: float, top: float) -> list[float]:
    return [step * i for i in range(round(top / step) + 1)]


def _grid_line(value: float, top: float) -> str:
    if value == 0:
        return ""
    return (f'<div style="position: absolute; left: 0; right: 0; '
            f'bottom: {100 * value / top:.3f}%; border-top: 1px solid {GRID}"></div>')


def _y_label(value: float, top: float) -> str:
    return (f'<div style="position: absolute; right: 0; bottom: {100 * value / top:.3f}%; '
            f'transform: translateY(50%)">{value:,.0f}</div>')


def _x_label(i: int, value: float, number: str) -> str:
    # The end labels sit inside the axis (left-aligned, right-aligned), the rest centred.
    shift = "0" if i == 0 else "-100%" if i == X_TICKS - 1 else "-50%"
    return (f'<div style="position: absolute; left: {100 * i / (X_TICKS - 1):.3f}%; '
            f'transform: translateX({shift}); white-space: nowrap">{value:{number}}</div>')
