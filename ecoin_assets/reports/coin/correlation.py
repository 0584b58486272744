"""The correlation of the sentiment of the topic named like the coin, by the active sentiment
model, with the coin's price and returns at lags -3..+3, per day and, where hourly prices are
stored (`prices_hourly`), per hour."""

from __future__ import annotations

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.analysis.correlation import LAGS, MIN_PAIRS, align_asof
from ecoin_assets.analysis.service import price_points, sentiment_periods
from ecoin_assets.errors import UserError
from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database

FREQS = ("day", "hour")


def aligned(db: Database, coin: str, version: str, window: Window, freq: str) -> pd.DataFrame:
    """Per day (or hour) of the window from the first to the last with posts: `ts,
    sentiment, posts, price_usd, return` (the price known at the period's end and the
    period's log return), as `ecoin analysis correlation` pairs them. Hourly pairs need
    hourly prices (`prices_hourly`) in the window; without them the frame is empty."""
    empty = pd.DataFrame(columns=["ts", "sentiment", "posts", "price_usd", "return"])
    since, until = window.since, window.until
    if freq == "hour":
        hourly = db.query(
            "SELECT count(*) FROM prices_hourly WHERE coin_id = ? AND ts >= ? AND ts < ?",
            [coin, since, until],
        )[0][0]
        if not hourly:
            return empty
    periods = sentiment_periods(db, coin, version, freq, since, until)
    if periods.empty:
        return empty
    try:
        points = price_points(db, coin, freq)
    except UserError:  # no prices at all
        return empty
    return align_asof(periods, points[points["ts"] < until], freq)


def pairs_note(stats: pd.DataFrame, aligned: pd.DataFrame, coin: str, freq: str) -> str | None:
    """Why the correlation at `freq` (its `stats` of the `aligned` series) cannot be shown,
    or None when it can."""
    if not stats.empty and stats["r"].notna().any():
        return None
    if freq == "hour" and aligned.empty:
        return (
            f"no hourly prices of {coin} stored in the window ('ecoin prices "
            f"fetch-hourly --coin {coin}')"
        )
    most = int(stats["n"].max()) if not stats.empty else 0
    return f"too few {freq}s with both posts and prices ({most}; it takes {MIN_PAIRS})"


def no_sentiment(coin: str, window: Window, version: str) -> Markdown:
    return display.note(
        f"no scored posts on the topic '{coin}' in {window} (sentiment model "
        f"{version}), or no prices to pair them with."
    )


def sentiment_chart(daily: pd.DataFrame, coin: str) -> Image:
    """The daily mean sentiment beside the price known at each day's end."""
    fig, (ax,) = display.figure()
    days = pd.to_datetime(daily["ts"])
    ax.bar(days, daily["sentiment"], color=display.SENTIMENT, alpha=0.6, label="mean sentiment")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("mean sentiment (-1 to 1)")
    ax.set_xlabel("day (UTC)")
    price = ax.twinx()
    price.plot(days, daily["price_usd"], color=display.PRICE, label="price at day end")
    price.set_ylabel("price (USD)")
    ax.set_title(f"'{coin}' posts: daily sentiment and {coin}'s price")
    handles = ax.get_legend_handles_labels()[0] + price.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="best", fontsize=8)
    display.date_axis(ax)
    return display.image(fig)


def correlation_chart(
    stats: dict[str, pd.DataFrame], notes: dict[str, str | None], coin: str
) -> Image | Markdown:
    """Pearson r by lag against returns and price, daily and hourly (`stats` and `notes` by
    frequency)."""
    if all(notes.values()):
        return display.note(f"no correlation yet: {notes['day']}; {notes['hour']}.")
    fig, axes = display.figure(width=10, height=3.4, cols=2)
    for ax, freq in zip(axes, FREQS, strict=True):
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylim(-1, 1)
        ax.set_xticks(list(LAGS))
        ax.set_xlim(min(LAGS) - 0.6, max(LAGS) + 0.6)
        ax.set_xlabel(f"lag ({freq}s; positive: sentiment leads)")
        ax.set_title(f"{'daily' if freq == 'day' else 'hourly'}", fontsize=10)
        if notes[freq]:
            ax.text(0, 0, notes[freq], ha="center", va="center", wrap=True, fontsize=9)
            continue
        pearson = stats[freq][stats[freq]["method"] == "pearson"]
        for offset, against, color in (
            (-0.2, "return", display.SENTIMENT),
            (0.2, "price", display.PRICE),
        ):
            rows = pearson[pearson["against"] == against]
            ax.bar(
                rows["lag"] + offset,
                rows["r"].fillna(0),
                width=0.38,
                color=color,
                label=f"vs {against}",
            )
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("Pearson r")
    fig.suptitle(f"'{coin}' sentiment against {coin}'s price and returns, by lag")
    return display.image(fig)


def wide(stats: pd.DataFrame, freq: str) -> pd.DataFrame:
    """One row per lag: r and p of both methods against returns and price, and pairs."""
    table = stats.pivot(index="lag", columns=["against", "method"], values=["r", "p_value"])
    columns = {}
    for against in ("return", "price"):
        for method in ("pearson", "spearman"):
            columns[f"{method} r vs {against}"] = table[("r", against, method)]
            columns[f"p ({method}, {against})"] = table[("p_value", against, method)]
    pairs = stats[stats["against"] == "return"].groupby("lag")["n"].first()
    return pd.DataFrame(
        {"periods": f"{freq}s", "lag": table.index, **columns, "pairs": pairs.to_numpy()}
    )


def correlation_table(frames: list[pd.DataFrame]) -> Styler | Markdown:
    """The `wide` tables of the frequencies that can be shown."""
    if not frames:
        return display.SHOWN_ABOVE
    formats = {c: "{:+.3f}" for c in frames[0].columns if " r " in c}
    formats |= {c: "{:.3g}" for c in frames[0].columns if c.startswith("p (")}
    return display.table(pd.concat(frames, ignore_index=True), {"lag": "{:+d}", **formats})
