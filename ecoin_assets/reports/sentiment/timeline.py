"""Volume, mean sentiment and label shares over the window, from the per-minute aggregates the
dashboard reads, in points sized to the data's span (one minute to one day)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.reports.sentiment.notes import none
from ecoin_assets.signals.series import minute_series
from ecoin_assets.storage import Database

STEPS = (1, 5, 15, 60, 360, 1440)  # minutes per point of the time series
MAX_POINTS = 240
LABELS = ("negative", "neutral", "positive")


def step_name(minutes: int) -> str:
    if minutes % 1440 == 0:
        return "day" if minutes == 1440 else f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


def pick_step(first: datetime, last: datetime) -> int:
    """The shortest step (minutes) that shows first..last in at most MAX_POINTS points."""
    span = (last - first).total_seconds() / 60 + 1
    return next((s for s in STEPS if span / s <= MAX_POINTS), STEPS[-1])


def step(db: Database, topic: str, window: Window) -> int:
    """The step that shows the window's stored minutes of the topic."""
    first, last = db.query(
        "SELECT min(minute), max(minute) FROM topic_minute_stats "
        "WHERE topic = ? AND minute >= ? AND minute < ?",
        [topic, window.since, window.until],
    )[0]
    return STEPS[0] if first is None else pick_step(first, last)


def series(db: Database, topic: str, version: str, window: Window, minutes: int) -> pd.DataFrame:
    """Per point: `ts, posts_per_min, scored, mean_sentiment, share_negative, share_neutral,
    share_positive, weighted_sentiment` (as the dashboard computes them)."""
    with db.read() as con:
        frame = minute_series(con, version, window.since, window.until, minutes)
    frame = frame[frame["topic"] == topic].drop(columns="topic")
    return frame.assign(ts=pd.to_datetime(frame["ts"])).reset_index(drop=True)


def volume_chart(
    points: pd.DataFrame, topic: str, window: Window, minutes: int
) -> Image | Markdown:
    if points.empty:
        return none(topic, window)
    fig, (volume, mood) = display.figure(height=5.2, rows=2)
    width = pd.Timedelta(minutes=minutes * 0.8)
    volume.bar(points["ts"], points["posts_per_min"], width=width, color=display.VOLUME)
    volume.set_ylabel("posts per minute")
    volume.set_title(f"'{topic}': volume and mean sentiment per {step_name(minutes)}")
    mood.plot(points["ts"], points["mean_sentiment"], color=display.SENTIMENT, marker=".")
    mood.axhline(0, color="grey", lw=0.8)
    mood.set_ylim(-1, 1)
    mood.set_ylabel("mean sentiment (-1 to 1)")
    mood.set_xlabel("time (UTC)")
    display.date_axis(mood)
    return display.image(fig)


def shares_chart(
    points: pd.DataFrame, topic: str, window: Window, minutes: int
) -> Image | Markdown:
    points = points.dropna(subset=["share_negative"])
    if points.empty:
        return none(topic, window, "scored posts")
    fig, (ax,) = display.figure(height=3.2)
    ax.stackplot(
        points["ts"],
        *(points[f"share_{label}"] * 100 for label in LABELS),
        labels=LABELS,
        colors=[display.COLORS[label] for label in LABELS],
        step="mid" if len(points) > 1 else None,
    )
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of scored posts (%)")
    ax.set_xlabel("time (UTC)")
    ax.set_title(f"'{topic}': label shares per {step_name(minutes)}")
    ax.legend(loc="upper left", fontsize=8)
    display.date_axis(ax)
    return display.image(fig)


def shares_table(total: pd.Series) -> Styler | Markdown:
    if total.empty:
        return display.SHOWN_ABOVE
    t = total
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
