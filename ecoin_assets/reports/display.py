"""What report cells display: notes, tables and figures as embedded PNG images.

Figures are drawn with matplotlib's object API (no pyplot state) and handed to the notebook
as PNG images, so every plot is in the executed notebook and in the HTML, with nothing
loaded from the network.
"""

from __future__ import annotations

import io

import pandas as pd
from IPython.display import Image, Markdown
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

COLORS = {"negative": "#d1495b", "neutral": "#8d99ae", "positive": "#2a9d8f"}  # as the dashboard
PRICE, FORECAST, SENTIMENT, VOLUME = "#264653", "#e76f51", "#6a4c93", "#457b9d"
RISK_COLORS = {"low": "#2a9d8f", "medium": "#e9c46a", "high": "#d1495b"}
DPI = 100
# what a table shows when the plot above it already said there is no data
SHOWN_ABOVE = Markdown("")


def note(text: str) -> Markdown:
    """A highlighted line, e.g. why a section is empty."""
    return Markdown(f"> **Note:** {text}")


def text(markdown: str) -> Markdown:
    return Markdown(markdown)


def table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Styler:
    """`frame` without its index, with the given column formats (`"{:,.2f}"`, ...); text
    columns aligned left."""
    text_columns = [c for c in frame.columns if frame[c].dtype == object]
    styler = frame.style.format(formats or {}, na_rep="-").hide(axis="index")
    return styler.set_properties(subset=text_columns, **{"text-align": "left"})


def figure(
    width: float = 9.0, height: float = 3.6, rows: int = 1, cols: int = 1
) -> tuple[Figure, list[Axes]]:
    """A new figure and its axes, row by row (rows share the x axis, columns the y axis)."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, sharex="col", sharey="row", squeeze=False).ravel().tolist()
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def date_axis(ax: Axes) -> None:
    """Concise date ticks on the x axis."""
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def image(fig: Figure) -> Image:
    """The figure as a PNG image (embedded in the notebook and in its HTML), described by
    its title."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    alt = "; ".join(t for ax in fig.axes if (t := ax.get_title())) or "plot"
    return Image(data=buffer.getvalue(), format="png", metadata={"alt": alt})
