"""The report's header: coin, window, the prices stored in it, horizon and sentiment model."""

from __future__ import annotations

from datetime import UTC, date, datetime

from IPython.display import Markdown

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database


def stored_prices(db: Database, coin: str, window: Window) -> tuple[date | None, date | None, int]:
    """The first and last day with a price in the window, and how many days have one."""
    first, last, days = db.query(
        "SELECT min(date), max(date), count(*) FROM prices "
        "WHERE coin_id = ? AND date BETWEEN ? AND ?",
        [coin, window.start, window.end],
    )[0]
    return first, last, days


def summary(
    coin: str,
    window: Window,
    horizon: int,
    sentiment_version: str,
    stored: tuple[date | None, date | None, int],
    now: datetime | None = None,
) -> Markdown:
    first, last, days = stored
    prices = f"{days} daily prices ({first} to {last})" if days else "no prices"
    generated = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    return display.text(
        f"**Coin:** {coin} &nbsp;·&nbsp; **window:** {window} "
        f"({window.days} days, {prices}) &nbsp;·&nbsp; **forecast horizon:** "
        f"{horizon} days &nbsp;·&nbsp; **sentiment model:** {sentiment_version}"
        f" &nbsp;·&nbsp; generated {generated}"
    )
