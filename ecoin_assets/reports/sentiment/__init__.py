"""The sentiment report (`notebooks/sentiment_report.ipynb`): what each section reads and shows.

Scores are the active sentiment model's (`score = p_positive - p_negative`, in [-1, 1]);
volume counts every stored post on the topic, sentiment only the posts kept for it (retweets,
spam, other languages and near duplicates are dropped at ingestion). Time series use the
per-minute aggregates the dashboard reads, in points sized to the data's span (one minute to
one day). Frequent terms and emoji are counted over the most recent MAX_TEXTS kept posts, as
the number of posts that contain them. Everything is read-only; a window without posts shows
a note instead of each plot and table.

Each section is a module here (`overview`, `timeline`, `signals`, `posts`, `words`): data
functions that take the database, the topic and the window and return frames, and views that
turn them into something to display. `SentimentReport` is the facade the notebook calls. The
settings come from the caller (the notebook reads the environment), never from here.
"""

from __future__ import annotations

from functools import cached_property

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.config import Settings
from ecoin_assets.reports.params import SentimentParams, report_database, sentiment_params
from ecoin_assets.reports.sentiment import overview, posts, signals, timeline, words
from ecoin_assets.reports.sentiment.timeline import LABELS, MAX_POINTS, STEPS, pick_step
from ecoin_assets.reports.sentiment.words import (
    MAX_TEXTS,
    TOP_EMOJI,
    TOP_TERMS,
    post_terms,
    stop_words,
)
from ecoin_assets.sentiment.registry import active_version

__all__ = [
    "LABELS",
    "MAX_POINTS",
    "MAX_TEXTS",
    "STEPS",
    "TOP_EMOJI",
    "TOP_TERMS",
    "SentimentReport",
    "pick_step",
    "post_terms",
    "stop_words",
]


class SentimentReport:
    """One topic over one window; `SentimentReport.open(topic, start, end, settings=...)`
    checks them."""

    def __init__(self, params: SentimentParams, settings: Settings):
        self.params = params
        self.settings = settings
        self.topic = params.topic
        self.window = params.window
        self.db = report_database(settings)
        self.version = active_version(settings.home)

    @classmethod
    def open(
        cls, topic: str, start: str | None = None, end: str | None = None, *, settings: Settings
    ) -> SentimentReport:
        return cls(sentiment_params(topic, start, end, settings=settings), settings)

    # -- data -----------------------------------------------------------------------------------
    @cached_property
    def counts(self) -> dict[str, int]:
        return overview.counts(self.db, self.topic, self.version, self.window)

    @property
    def empty(self) -> bool:
        return self.counts["posts"] == 0

    @cached_property
    def step(self) -> int:
        return timeline.step(self.db, self.topic, self.window)

    @cached_property
    def series(self) -> pd.DataFrame:
        return timeline.series(self.db, self.topic, self.version, self.window, self.step)

    @cached_property
    def totals(self) -> pd.Series:
        return overview.totals(self.db, self.topic, self.version, self.window)

    def extreme_posts(self, label: str) -> pd.DataFrame:
        return posts.extreme_posts(self.db, self.topic, self.version, self.window, label)

    @cached_property
    def texts(self) -> list[str]:
        return words.texts(self.db, self.topic, self.window)

    @cached_property
    def terms(self) -> pd.DataFrame:
        return words.terms(self.texts, self.topic)

    @cached_property
    def emoji_counts(self) -> pd.DataFrame:
        return words.emoji_counts(self.texts)

    # -- display --------------------------------------------------------------------------------
    def summary(self) -> Markdown:
        return overview.summary(self.topic, self.window, self.version, self.counts, self.totals)

    def volume_chart(self) -> Image | Markdown:
        return timeline.volume_chart(self.series, self.topic, self.window, self.step)

    def shares_chart(self) -> Image | Markdown:
        return timeline.shares_chart(self.series, self.topic, self.window, self.step)

    def shares_table(self) -> Styler | Markdown:
        return timeline.shares_table(self.totals)

    def posts_table(self, label: str) -> Styler | Markdown:
        return posts.posts_table(self.extreme_posts(label), self.topic, self.window)

    def terms_chart(self) -> Image | Markdown:
        return words.terms_chart(self.terms, self.topic, self.window, len(self.texts))

    def signals_table(self) -> Styler | Markdown:
        """Per day: the social signals `/signals` serves."""
        frame = signals.daily_signals(self.db, self.topic, self.version, self.window)
        return signals.signals_table(frame, self.topic, self.window)

    def alerts_table(self) -> Styler | Markdown:
        """The topic's alert firings in the window, newest first."""
        return signals.alerts_table(signals.topic_alerts(self.db, self.topic, self.window))

    def emoji_table(self) -> Styler | Markdown:
        return words.emoji_table(self.emoji_counts, self.topic, self.window, len(self.texts))
