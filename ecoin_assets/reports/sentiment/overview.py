"""The report's header: posts stored, kept and scored in the window, and the mean sentiment."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from IPython.display import Markdown

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.sentiment.scoring import window_totals
from ecoin_assets.storage import Database


def counts(db: Database, topic: str, version: str, window: Window) -> dict[str, int]:
    """Posts stored on the topic in the window, those kept for sentiment, those scored."""
    posts, kept, scored = db.query(
        """
        SELECT count(*), count(*) FILTER (WHERE p.keep), count(s.post_id)
        FROM posts p JOIN post_topics t USING (post_id)
        LEFT JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
        WHERE t.topic = ? AND p.created_at >= ? AND p.created_at < ?
        """,
        [version, topic, window.since, window.until],
    )[0]
    return {"posts": posts, "kept": kept, "scored": scored}


def totals(db: Database, topic: str, version: str, window: Window) -> pd.Series:
    """Over the window: `scored, mean_sentiment, share_*, weighted_sentiment`."""
    with db.read() as con:
        frame = window_totals(con, version, window.since, window.until, topic)
    return frame.iloc[0] if not frame.empty else pd.Series(dtype=float)


def summary(
    topic: str, window: Window, version: str, counted: dict[str, int], total: pd.Series
) -> Markdown:
    c = counted
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mood = ""
    if not total.empty:
        mood = f" &nbsp;·&nbsp; **mean sentiment:** {total['mean_sentiment']:+.3f}"
    return display.text(
        f"**Topic:** {topic} &nbsp;·&nbsp; **window:** {window} "
        f"({window.days} days) &nbsp;·&nbsp; **posts:** {c['posts']:,} stored, "
        f"{c['kept']:,} kept for sentiment, {c['scored']:,} scored{mood} &nbsp;·&nbsp; "
        f"**sentiment model:** {version} &nbsp;·&nbsp; generated {now}"
    )
