"""What the sections share: the page's colours and CSS, and Bokeh figure helpers."""

from __future__ import annotations

from bokeh.models import ColumnDataSource, LinearAxis, Range1d
from bokeh.plotting import figure

COLORS = {"negative": "#d1495b", "neutral": "#8d99ae", "positive": "#2a9d8f"}
PRICE, FORECAST, SENTIMENT = "#264653", "#e9c46a", "#6a4c93"
CSS = """
.ecoin-card {border: 1px solid #e3e6ea; border-radius: 8px; padding: 8px 14px; min-width: 150px;
  background: #fff;}
.ecoin-card .topic {font-size: 13px; color: #5c6770; text-transform: uppercase;}
.ecoin-card .value {font-size: 26px; font-weight: 600;}
.ecoin-card .change {font-size: 13px;}
.ecoin-muted {color: #6c757d; font-size: 13px;}
"""


def heading(text: str) -> str:
    """A section's heading, as the page writes them."""
    return f"<h3 style='margin:4px 0'>{text}</h3>"


def source(columns: list[str], name: str) -> ColumnDataSource:
    return ColumnDataSource({c: [] for c in columns}, name=name)


def time_figure(title: str, y_label: str, height: int = 230, **kwargs) -> figure:
    plot = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="right",
        **kwargs,
    )
    plot.yaxis.axis_label = y_label
    plot.xaxis.axis_label = "time (UTC)"
    plot.title.text_font_size = "13px"
    return plot


def legend(plot: figure, **kwargs) -> None:
    plot.legend.background_fill_alpha = 0.6
    plot.legend.label_text_font_size = "11px"
    for key, value in kwargs.items():
        setattr(plot.legend, key, value)


def second_axis(plot: figure, name: str, start: float, end: float, label: str) -> None:
    plot.extra_y_ranges = {name: Range1d(start, end)}
    plot.add_layout(LinearAxis(y_range_name=name, axis_label=label), "right")
