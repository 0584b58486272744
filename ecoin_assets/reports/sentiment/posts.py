"""The most positive and the most negative kept posts of the window."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.reports.sentiment.notes import none
from ecoin_assets.storage import Database

TOP_POSTS = 10


def extreme_posts(
    db: Database, topic: str, version: str, window: Window, label: str
) -> pd.DataFrame:
    """The TOP_POSTS kept posts with the highest (`positive`) or lowest score."""
    order = "DESC" if label == "positive" else "ASC"
    return db.query_df(
        f"""
        SELECT p.created_at, p.text_raw AS text, s.label, s.score,
               greatest(s.p_negative, s.p_neutral, s.p_positive) AS confidence
        FROM posts p JOIN post_topics t USING (post_id)
        JOIN post_sentiment s ON s.post_id = p.post_id AND s.model_version = ?
        WHERE t.topic = ? AND p.keep AND p.created_at >= ? AND p.created_at < ?
        ORDER BY s.score {order}, p.post_id DESC LIMIT ?
        """,
        [version, topic, window.since, window.until, TOP_POSTS],
    )


def posts_table(frame: pd.DataFrame, topic: str, window: Window) -> Styler | Markdown:
    if frame.empty:
        return none(topic, window, "scored posts")
    shown = frame.assign(
        created_at=pd.to_datetime(frame["created_at"]).dt.strftime("%Y-%m-%d %H:%M")
    ).rename(columns={"created_at": "posted (UTC)", "score": "score (-1 to 1)"})
    return display.table(shown, {"score (-1 to 1)": "{:+.3f}", "confidence": "{:.2f}"})
