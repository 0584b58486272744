"""The chosen coin's prices with the latest forecast and its interval, and the coin topic's
daily sentiment on a second axis."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models import HoverTool, NumeralTickFormatter

from ecoin_assets.dashboard.sections.common import (
    FORECAST,
    PRICE,
    SENTIMENT,
    legend,
    second_axis,
    source,
    time_figure,
)
from ecoin_assets.dashboard.snapshot import Snapshot

PRICE_COLUMNS = ["date", "price_usd"]
FORECAST_COLUMNS = ["date", "yhat", "yhat_lower", "yhat_upper"]
DAILY_COLUMNS = ["date", "sentiment", "posts"]


def chart_columns(data: pd.DataFrame, columns: list[str], date: str = "date") -> dict:
    """`columns` of `data` for a chart, its `date` column as datetimes named "date"."""
    if data.empty:
        return {c: [] for c in columns}
    out = {c: data[c].to_numpy() for c in columns if c != "date"}
    out["date"] = pd.to_datetime(data[date]).to_numpy()
    return out


def price_data(snapshot: Snapshot) -> dict[str, dict]:
    """The chart's sources: prices, the forecast and the daily sentiment from the first price
    shown on."""
    daily = snapshot.daily
    if not snapshot.prices.empty and not daily.empty:
        daily = daily[
            pd.to_datetime(daily["date"]) >= pd.to_datetime(snapshot.prices["date"].iloc[0])
        ]
    return {
        "prices": chart_columns(snapshot.prices, PRICE_COLUMNS),
        "forecast": chart_columns(snapshot.forecast, FORECAST_COLUMNS, "target_date"),
        "daily_sentiment": chart_columns(daily, DAILY_COLUMNS),
    }


class PricesView:
    """Price, forecast and daily sentiment in one chart."""

    def __init__(self) -> None:
        self.price_src = source(PRICE_COLUMNS, "prices")
        self.forecast_src = source(FORECAST_COLUMNS, "forecast")
        self.daily_src = source(DAILY_COLUMNS, "daily_sentiment")
        self.price = time_figure("Price, forecast and daily sentiment", "price (USD)", height=300)
        self.price.xaxis.axis_label = "date (UTC)"
        self.price.line(
            "date", "price_usd", source=self.price_src, color=PRICE, width=2, legend_label="price"
        )
        self.price.varea(
            "date",
            "yhat_lower",
            "yhat_upper",
            source=self.forecast_src,
            color=FORECAST,
            alpha=0.35,
            legend_label="forecast interval",
        )
        self.price.line(
            "date",
            "yhat",
            source=self.forecast_src,
            color="#e76f51",
            width=2,
            line_dash="dashed",
            legend_label="forecast",
        )
        second_axis(self.price, "sentiment", -1.05, 1.05, "daily sentiment")
        self.price.scatter(
            "date",
            "sentiment",
            source=self.daily_src,
            y_range_name="sentiment",
            color=SENTIMENT,
            size=5,
            alpha=0.7,
            legend_label="daily sentiment",
        )
        self.price.yaxis[0].formatter = NumeralTickFormatter(format="$0,0.[00]")
        legend(self.price, location="top_left")
        self.price.add_tools(
            HoverTool(
                tooltips=[("date", "@date{%F}"), ("price", "@price_usd{$0,0.00}")],
                formatters={"@date": "datetime"},
            )
        )

    def components(self) -> list:
        return [pn.pane.Bokeh(self.price, sizing_mode="stretch_width")]

    def update(self, snapshot: Snapshot) -> None:
        data = price_data(snapshot)
        self.price_src.data = data["prices"]
        self.forecast_src.data = data["forecast"]
        self.daily_src.data = data["daily_sentiment"]
