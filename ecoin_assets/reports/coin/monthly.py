"""The monthly SQL analyses of `prices.analysis`: average, minimum and maximum price per month
(whole calendar months), and the average rise after more than 3 falling days in a row."""

from __future__ import annotations

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.prices.analysis import losing_streak_rebound, monthly_average, monthly_range
from ecoin_assets.reports import display
from ecoin_assets.reports.coin.notes import no_prices
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database


def monthly(db: Database, coin: str, window: Window) -> pd.DataFrame:
    """Per month the window touches: `month, avg_price_usd, days, min_price_usd, min_date,
    max_price_usd, max_date` over the whole calendar month's stored prices."""
    with db.read() as con:
        average = monthly_average(con)
        ranges = monthly_range(con)
    first = pd.Timestamp(window.start.replace(day=1))
    last = pd.Timestamp(window.end)
    frames = []
    for frame in (average, ranges):
        frame = frame[frame["coin_id"] == coin].drop(columns="coin_id")
        frame = frame.assign(month=pd.to_datetime(frame["month"]))
        frames.append(frame[(frame["month"] >= first) & (frame["month"] <= last)])
    merged = frames[0].merge(frames[1].drop(columns="days"), on="month", how="left")
    return merged.sort_values("month").reset_index(drop=True)


def monthly_chart(monthly: pd.DataFrame, coin: str, window: Window) -> Image | Markdown:
    if monthly.empty:
        return no_prices(coin, f"in the months of {window}")
    fig, (ax,) = display.figure(height=3.4)
    ax.bar(
        monthly["month"],
        monthly["max_price_usd"] - monthly["min_price_usd"],
        bottom=monthly["min_price_usd"],
        width=20,
        color=display.PRICE,
        alpha=0.2,
        label="monthly min to max",
    )
    ax.plot(
        monthly["month"],
        monthly["avg_price_usd"],
        color=display.PRICE,
        marker="o",
        label="monthly average",
    )
    ax.set_ylabel("price (USD)")
    ax.set_xlabel("month")
    ax.set_title(f"{coin}: average, minimum and maximum price per month")
    ax.legend(loc="upper left", fontsize=8)
    display.date_axis(ax)
    return display.image(fig)


def monthly_table(monthly: pd.DataFrame) -> Styler | Markdown:
    if monthly.empty:
        return display.SHOWN_ABOVE
    shown = monthly.assign(
        month=monthly["month"].dt.strftime("%Y-%m"),
        min_date=pd.to_datetime(monthly["min_date"]).dt.date,
        max_date=pd.to_datetime(monthly["max_date"]).dt.date,
    ).rename(
        columns={
            "avg_price_usd": "average (USD)",
            "days": "days",
            "min_price_usd": "min (USD)",
            "min_date": "min on",
            "max_price_usd": "max (USD)",
            "max_date": "max on",
        }
    )
    money = "{:,.6g}"
    return display.table(shown, {"average (USD)": money, "min (USD)": money, "max (USD)": money})


def rebound_stats(db: Database, coin: str) -> pd.Series | None:
    """The losing-streak analysis of the coin's whole stored history (None: no prices)."""
    with db.read() as con:
        frame = losing_streak_rebound(con)
    row = frame[frame["coin_id"] == coin]
    return None if row.empty else row.iloc[0]


def rebound(row: pd.Series | None, coin: str) -> Styler | Markdown:
    if row is None:
        return no_prices(coin, "at all")
    if not row["events"]:
        return display.note(f"{coin} never fell more than 3 days in a row.")
    shown = pd.DataFrame(
        {
            "measure": [
                "days ending a fall of more than 3 days in a row",
                "average next-day rise (USD)",
                "average next-day rise (%)",
                "average 3-day rise (%)",
                "average 7-day rise (%)",
                "share of next days up (%)",
                f"market cap on {pd.Timestamp(row['market_cap_date']):%Y-%m-%d} (USD)",
            ],
            "value": [
                f"{row['events']:,}",
                f"{row['avg_next_day_rise_usd']:+,.6g}",
                f"{row['avg_next_day_rise_pct']:+.2f}",
                _pct(row["avg_3_day_rise_pct"]),
                _pct(row["avg_7_day_rise_pct"]),
                _pct(row["share_next_day_up"] * 100, sign=False),
                "-"
                if pd.isna(row["current_market_cap_usd"])
                else f"{row['current_market_cap_usd']:,.0f}",
            ],
        }
    )
    return display.table(shown)


def _pct(value: float, sign: bool = True) -> str:
    if pd.isna(value):
        return "-"
    return f"{value:+.2f}" if sign else f"{value:.1f}"
