"""The topic's social signals per day (as `/signals` serves them) and its alerts of the
window."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.alerts.watch import alert_history
from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.reports.sentiment.notes import none
from ecoin_assets.signals.periods import INTERVALS
from ecoin_assets.signals.series import topic_signals
from ecoin_assets.storage import Database

DAY = INTERVALS["day"]


def daily_signals(db: Database, topic: str, version: str, window: Window) -> pd.DataFrame:
    """Per day with posts: volume, authors, dominance, sentiment, engagement-weighted
    sentiment and the volume z-score against the days before."""
    with db.read() as con:
        frame = topic_signals(con, topic, version, window.since, window.until, DAY)
    return frame[frame["volume"] > 0]


def signals_table(frame: pd.DataFrame, topic: str, window: Window) -> Styler | Markdown:
    if frame.empty:
        return none(topic, window)
    return styled_signals(frame)


def styled_signals(frame: pd.DataFrame) -> Styler:
    """Daily signals as a table, led by their topic when `frame` has a `topic` column."""
    shown = pd.DataFrame(
        {
            "day (UTC)": pd.to_datetime(frame["ts"]).dt.strftime("%Y-%m-%d"),
            "posts": frame["volume"],
            "authors": frame["authors"],
            "dominance (%)": frame["dominance"] * 100,
            "sentiment": frame["sentiment"],
            "engaged sentiment": frame["engaged_sentiment"],
            "volume z": frame["volume_z"],
        }
    )
    if "topic" in frame:
        shown.insert(0, "topic", frame["topic"])
    formats = {
        "posts": "{:,.0f}",
        "authors": "{:,.0f}",
        "dominance (%)": "{:.1f}",
        "sentiment": "{:+.3f}",
        "engaged sentiment": "{:+.3f}",
        "volume z": "{:+.2f}",
    }
    return display.table(shown, formats).set_caption(
        "Dominance: the topic's share of all tracked posts; engaged sentiment weighs each post "
        "by its likes, retweets, replies and quotes; volume z against the days before."
    )


def topic_alerts(db: Database, topic: str, window: Window) -> pd.DataFrame:
    """The topic's alert firings in the window, newest first."""
    with db.read() as con:
        return alert_history(con, window.since, window.until, topic)


def alerts_table(frame: pd.DataFrame) -> Styler | Markdown:
    if frame.empty:
        return Markdown("*No alert on this topic fired in the window.*")
    shown = pd.DataFrame(
        {
            "fired (UTC)": pd.to_datetime(frame["fired_at"]).dt.strftime("%Y-%m-%d %H:%M"),
            "alert": frame["text"],
            "delivered": frame["delivered_at"].notna().map({True: "yes", False: "no"}),
        }
    )
    return display.table(shown)
