"""The sentiment report (`notebooks/sentiment_report.ipynb`): what each section reads and shows.

Scores are the active sentiment model's (`score = p_positive - p_negative`, in [-1, 1]);
volume counts every stored post on the topic, sentiment only the posts kept for it (retweets,
spam, other languages and near duplicates are dropped at ingestion). Time series use the
per-minute aggregates the dashboard reads, in points sized to the data's span (one minute to
one day). Frequent terms and emoji are counted over the most recent MAX_TEXTS kept posts, as
the number of posts that contain them. Everything is read-only; a window without posts shows
a note instead of each plot and table.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cached_property

import emoji
import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.alerts.watch import alert_history
from ecoin_assets.cleaning import WORD_RE, clean_text, tokenize
from ecoin_assets.config import Settings, load_settings
from ecoin_assets.reports import display
from ecoin_assets.reports.params import SentimentParams, report_database, sentiment_params
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.sentiment.scoring import window_totals
from ecoin_assets.signals.periods import INTERVALS
from ecoin_assets.signals.series import minute_series, topic_signals

STEPS = (1, 5, 15, 60, 360, 1440)  # minutes per point of the time series
MAX_POINTS = 240
TOP_POSTS = 10
TOP_TERMS = 20
TOP_EMOJI = 15
MAX_TEXTS = 20_000
LABELS = ("negative", "neutral", "positive")


def _step_name(minutes: int) -> str:
    if minutes % 1440 == 0:
        return "day" if minutes == 1440 else f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


def pick_step(first: datetime, last: datetime) -> int:
    """The shortest step (minutes) that shows first..last in at most MAX_POINTS points."""
    span = (last - first).total_seconds() / 60 + 1
    return next((s for s in STEPS if span / s <= MAX_POINTS), STEPS[-1])


def stop_words(topic: str) -> frozenset[str]:
    """Words too common to tell anything: English stop words, the text placeholders and the
    topic's own keywords."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    own = {word.strip("#$\"'()").lower() for word in topic.split()}
    return frozenset(ENGLISH_STOP_WORDS | {"@user", "http", "rt", "amp", "or"} | own)


def post_terms(text: str, ignore: frozenset[str]) -> set[str]:
    """The distinct words of a post, as ingestion tokenizes them, without emoji and `ignore`."""
    plain = clean_text(emoji.replace_emoji(text, " "))
    return {t for t in tokenize(plain) if len(t) > 1 and WORD_RE.search(t) and t not in ignore}


DAY = INTERVALS["day"]


class SentimentReport:
    """One topic over one window; `SentimentReport.open(topic, start, end)` checks them."""

    def __init__(self, params: SentimentParams, settings: Settings):
        self.params = params
        self.settings = settings
        self.topic = params.topic
        self.window = params.window
        self.db = report_database(settings)
        self.version = active_version(settings.home)

    @classmethod
    def open(cls, topic: str, start: str | None = None, end: str | None = None) -> SentimentReport:
        settings = load_settings()
        return cls(sentiment_params(topic, start, end, settings), settings)

    # -- data -----------------------------------------------------------------------------------
    @cached_property
    def counts(self) -> dict[str, int]:
        """Posts stored on the topic in the window, those kept for sentiment, those scored."""
        posts, kept, scored = self.db.query(
            """
            SELECT count(*), count(*) FILTER (WHERE p.keep), count(s.post_id)
            FROM posts p JOIN post_topics t USING (post_id)
            LEFT JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
            WHERE t.topic = ? AND p.created_at >= ? AND p.created_at < ?
            """,
            [self.version, self.topic, self.window.since, self.window.until],
        )[0]
        return {"posts": posts, "kept": kept, "scored": scored}

    @property
    def empty(self) -> bool:
        return self.counts["posts"] == 0

    @cached_property
    def step(self) -> int:
        first, last = self.db.query(
            "SELECT min(minute), max(minute) FROM topic_minute_stats "
            "WHERE topic = ? AND minute >= ? AND minute < ?",
            [self.topic, self.window.since, self.window.until],
        )[0]
        return STEPS[0] if first is None else pick_step(first, last)

    @cached_property
    def series(self) -> pd.DataFrame:
        """Per point: `ts, posts_per_min, scored, mean_sentiment, share_negative,
        share_neutral, share_positive, weighted_sentiment` (as the dashboard computes them)."""
        with self.db.read() as con:
            frame = minute_series(
                con, self.version, self.window.since, self.window.until, self.step
            )
        frame = frame[frame["topic"] == self.topic].drop(columns="topic")
        return frame.assign(ts=pd.to_datetime(frame["ts"])).reset_index(drop=True)

    @cached_property
    def totals(self) -> pd.Series:
        """Over the window: `scored, mean_sentiment, share_*, weighted_sentiment`."""
        with self.db.read() as con:
            frame = window_totals(
                con, self.version, self.window.since, self.window.until, self.topic
            )
        return frame.iloc[0] if not frame.empty else pd.Series(dtype=float)

    def extreme_posts(self, label: str) -> pd.DataFrame:
        """The TOP_POSTS kept posts with the highest (`positive`) or lowest score."""
        order = "DESC" if label == "positive" else "ASC"
        return self.db.query_df(
            f"""
            SELECT p.created_at, p.text_raw AS text, s.label, s.score,
                   greatest(s.p_negative, s.p_neutral, s.p_positive) AS confidence
            FROM posts p JOIN post_topics t USING (post_id)
            JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
            WHERE t.topic = ? AND p.keep AND p.created_at >= ? AND p.created_at < ?
            ORDER BY s.score {order}, p.post_id DESC LIMIT ?
            """,
            [self.version, self.topic, self.window.since, self.window.until, TOP_POSTS],
        )

    @cached_property
    def texts(self) -> list[str]:
        """The raw text of the newest MAX_TEXTS kept posts of the window."""
        rows = self.db.query(
            """
            SELECT p.text_raw FROM posts p JOIN post_topics t USING (post_id)
            WHERE t.topic = ? AND p.keep AND p.created_at >= ? AND p.created_at < ?
            ORDER BY p.created_at DESC, p.post_id DESC LIMIT ?
            """,
            [self.topic, self.window.since, self.window.until, MAX_TEXTS],
        )
        return [text for (text,) in rows]

    @cached_property
    def terms(self) -> pd.DataFrame:
        """`term, posts, share (%)`: the TOP_TERMS words in the most posts."""
        ignore = stop_words(self.topic)
        counts = Counter(term for text in self.texts for term in post_terms(text, ignore))
        return self._top(counts, "term", TOP_TERMS)

    @cached_property
    def emoji_counts(self) -> pd.DataFrame:
        """`emoji, name, posts, share (%)`: the TOP_EMOJI emoji in the most posts."""
        counts = Counter(e for t in self.texts for e in {m["emoji"] for m in emoji.emoji_list(t)})
        top = self._top(counts, "emoji", TOP_EMOJI)
        names = top["emoji"].map(lambda e: emoji.demojize(e).strip(":").replace("_", " "))
        top.insert(1, "name", names)
        return top

    def _top(self, counts: Counter, column: str, n: int) -> pd.DataFrame:
        rows = counts.most_common(n)
        frame = pd.DataFrame(rows, columns=[column, "posts"])
        frame["share (%)"] = frame["posts"] / max(len(self.texts), 1) * 100
        return frame

    # -- display --------------------------------------------------------------------------------
    def _none(self, what: str = "posts") -> Markdown:
        return display.note(f"no {what} on the topic '{self.topic}' in {self.window}.")

    def summary(self) -> Markdown:
        c = self.counts
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        mood = ""
        if not self.totals.empty:
            mood = f" &nbsp;·&nbsp; **mean sentiment:** {self.totals['mean_sentiment']:+.3f}"
        return display.text(
            f"**Topic:** {self.topic} &nbsp;·&nbsp; **window:** {self.window} "
            f"({self.window.days} days) &nbsp;·&nbsp; **posts:** {c['posts']:,} stored, "
            f"{c['kept']:,} kept for sentiment, {c['scored']:,} scored{mood} &nbsp;·&nbsp; "
            f"**sentiment model:** {self.version} &nbsp;·&nbsp; generated {now}"
        )

    def volume_chart(self) -> Image | Markdown:
        series = self.series
        if series.empty:
            return self._none()
        fig, (volume, mood) = display.figure(height=5.2, rows=2)
        width = pd.Timedelta(minutes=self.step * 0.8)
        volume.bar(series["ts"], series["posts_per_min"], width=width, color=display.VOLUME)
        volume.set_ylabel("posts per minute")
        volume.set_title(f"'{self.topic}': volume and mean sentiment per {_step_name(self.step)}")
        mood.plot(series["ts"], series["mean_sentiment"], color=display.SENTIMENT, marker=".")
        mood.axhline(0, color="grey", lw=0.8)
        mood.set_ylim(-1, 1)
        mood.set_ylabel("mean sentiment (-1 to 1)")
        mood.set_xlabel("time (UTC)")
        display.date_axis(mood)
        return display.image(fig)

    def shares_chart(self) -> Image | Markdown:
        series = self.series.dropna(subset=["share_negative"])
        if series.empty:
            return self._none("scored posts")
        fig, (ax,) = display.figure(height=3.2)
        ax.stackplot(
            series["ts"],
            *(series[f"share_{label}"] * 100 for label in LABELS),
            labels=LABELS,
            colors=[display.COLORS[label] for label in LABELS],
            step="mid" if len(series) > 1 else None,
        )
        ax.set_ylim(0, 100)
        ax.set_ylabel("share of scored posts (%)")
        ax.set_xlabel("time (UTC)")
        ax.set_title(f"'{self.topic}': label shares per {_step_name(self.step)}")
        ax.legend(loc="upper left", fontsize=8)
        display.date_axis(ax)
        return display.image(fig)

    def shares_table(self) -> Styler | Markdown:
        if self.totals.empty:
            return display.SHOWN_ABOVE
        t = self.totals
        shown = pd.DataFrame(
            {
                "label": list(LABELS),
                "posts": [round(t["scored"] * t[f"share_{label}"]) for label in LABELS],
                "share (%)": [t[f"share_{label}"] * 100 for label in LABELS],
            }
        )
        return display.table(shown, {"posts": "{:,}", "share (%)": "{:.1f}"}).set_caption(
            f"{int(t['scored']):,} scored posts; mean sentiment {t['mean_sentiment']:+.3f}"
        )

    def posts_table(self, label: str) -> Styler | Markdown:
        frame = self.extreme_posts(label)
        if frame.empty:
            return self._none("scored posts")
        shown = frame.assign(
            created_at=pd.to_datetime(frame["created_at"]).dt.strftime("%Y-%m-%d %H:%M")
        ).rename(columns={"created_at": "posted (UTC)", "score": "score (-1 to 1)"})
        return display.table(shown, {"score (-1 to 1)": "{:+.3f}", "confidence": "{:.2f}"})

    def terms_chart(self) -> Image | Markdown:
        terms = self.terms
        if terms.empty:
            return self._none("words (besides stop words and the topic's own)")
        fig, (ax,) = display.figure(height=0.25 * len(terms) + 1.2)
        ax.barh(terms["term"][::-1], terms["posts"][::-1], color=display.VOLUME)
        ax.set_xlabel(f"kept posts containing the word (of {len(self.texts):,})")
        ax.set_ylabel("word")
        ax.set_title(f"'{self.topic}': most frequent words")
        return display.image(fig)

    def signals_table(self) -> Styler | Markdown:
        """Per day: the social signals `/signals` serves (volume, authors, dominance,
        sentiment, engagement-weighted sentiment, volume z-score against the days before)."""
        with self.db.read() as con:
            frame = topic_signals(
                con, self.topic, self.version, self.window.since, self.window.until, DAY
            )
        frame = frame[frame["volume"] > 0]
        if frame.empty:
            return self._none()
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

    def alerts_table(self) -> Styler | Markdown:
        """The topic's alert firings in the window, newest first."""
        with self.db.read() as con:
            frame = alert_history(con, self.window.since, self.window.until, self.topic)
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

    def emoji_table(self) -> Styler | Markdown:
        if self.emoji_counts.empty:
            return self._none("emoji in kept posts")
        formats = {"posts": "{:,}", "share (%)": "{:.1f}"}
        return display.table(self.emoji_counts, formats).set_caption(
            f"Posts: how many of the {len(self.texts):,} kept posts counted contain it."
        )
