"""Prices of the last RECENT_DAYS days of the window, with the day-to-day change and volume."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.reports.coin.notes import no_prices
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database

RECENT_DAYS = 30


def recent_prices(db: Database, coin: str, window: Window) -> pd.DataFrame:
    """`date, price_usd, change_pct, volume_usd, market_cap_usd` of the window's last 30
    days (the change is against the previous calendar day's price)."""
    first = max(window.start, window.end - timedelta(days=RECENT_DAYS - 1))
    frame = db.query_df(
        "SELECT date, price_usd, volume_usd, market_cap_usd FROM prices "
        "WHERE coin_id = ? AND date BETWEEN ? AND ? ORDER BY date",
        [coin, first - timedelta(days=1), window.end],
    )
    frame["date"] = pd.to_datetime(frame["date"])
    daily = frame.set_index("date").asfreq("D") if not frame.empty else frame
    change = daily["price_usd"].pct_change(fill_method=None) * 100
    frame["change_pct"] = frame["date"].map(change)
    frame = frame[frame["date"] >= pd.Timestamp(first)]
    return frame[["date", "price_usd", "change_pct", "volume_usd", "market_cap_usd"]]


def price_chart(prices: pd.DataFrame, coin: str, window: Window) -> Image | Markdown:
    if prices.empty:
        return no_prices(coin, f"in the last {RECENT_DAYS} days of {window}")
    fig, (ax,) = display.figure()
    ax.plot(prices["date"], prices["price_usd"], color=display.PRICE, marker="o", ms=3)
    ax.set_ylabel("price (USD)")
    ax.set_title(f"{coin}: daily price (00:00 UTC) and volume")
    volume = ax.twinx()
    volume.bar(prices["date"], prices["volume_usd"] / 1e6, color=display.VOLUME, alpha=0.25)
    volume.set_ylabel("volume (million USD)")
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)
    display.date_axis(ax)
    ax.set_xlabel("date (UTC)")
    return display.image(fig)


def price_table(prices: pd.DataFrame) -> Styler | Markdown:
    if prices.empty:
        return display.SHOWN_ABOVE
    shown = prices.assign(date=prices["date"].dt.date).rename(
        columns={
            "price_usd": "price (USD)",
            "change_pct": "change (%)",
            "volume_usd": "volume (USD)",
            "market_cap_usd": "market cap (USD)",
        }
    )
    return display.table(
        shown.iloc[::-1],
        {
            "price (USD)": "{:,.6g}",
            "change (%)": "{:+.2f}",
            "volume (USD)": "{:,.0f}",
            "market cap (USD)": "{:,.0f}",
        },
    )
