"""The social signals of the topics linked to the coin over the window's last days, as
`/signals` serves them: volume, authors, dominance, mean and engagement-weighted sentiment and
the volume z-score, one row per topic and day."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.reports.sentiment.signals import daily_signals, styled_signals
from ecoin_assets.storage import Database
from ecoin_assets.tweets.topics import Topic, list_topics

RECENT_DAYS = 14


def linked_topics(db: Database, coin: str, seeded: list[Topic]) -> list[str]:
    """The topics linked to the coin (`ecoin topics add --coin`, or a seed named like it),
    removed ones included: their history is kept."""
    return [t.name for t in list_topics(db, seeded, removed=True) if t.coin == coin]


def recent_signals(db: Database, topics: list[str], version: str, window: Window) -> pd.DataFrame:
    """Each linked topic's daily signals over the window's last `RECENT_DAYS` days."""
    recent = replace(window, start=max(window.start, window.end - timedelta(RECENT_DAYS - 1)))
    frames = [daily_signals(db, t, version, recent).assign(topic=t) for t in topics]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def signals_table(frame: pd.DataFrame, coin: str, topics: list[str]) -> Styler | Markdown:
    if not topics:
        return display.note(
            f"no topic is linked to {coin}: link one with 'ecoin topics add NAME --query Q "
            f"--coin {coin}' to see its social signals here."
        )
    if frame.empty:
        return display.note(
            f"no posts on {', '.join(topics)} in the last {RECENT_DAYS} days of the window."
        )
    return styled_signals(frame)
