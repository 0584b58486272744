"""Trending terms of a topic: the words, #hashtags, $cashtags and emoji whose share of the
topic's kept posts rose in the trailing window against the windows before it.

Reads `topic_term_counts` (10-minute buckets that ingestion adds to as posts arrive, kept posts
only: spam, retweets and repeated posts do not count) and the kept-post counts of
`topic_minute_stats`; never the posts themselves. A term's expected count in the window is its
share of the baseline's kept posts times the window's kept posts, so a burst of volume alone
does not make every term trend; `z` is (count - expected) / sqrt(expected + 1), and terms in
fewer than `min_posts` posts of the window are left out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from ecoin_assets.errors import InvalidInputError
from ecoin_assets.storage import Connection
from ecoin_assets.tweets.terms import BUCKET_MINUTES, bucket_of

COLUMNS = ["term", "kind", "posts", "share", "baseline_share", "expected", "lift", "z"]


def trending_terms(
    con: Connection,
    topic: str,
    end: datetime,
    window_minutes: int = 60,
    baseline_windows: int = 24,
    limit: int = 20,
    min_posts: int = 3,
) -> pd.DataFrame:
    if window_minutes % BUCKET_MINUTES or not BUCKET_MINUTES <= window_minutes <= 1440:
        raise InvalidInputError(
            f"the trending window is counted in {BUCKET_MINUTES}-minute buckets: give "
            f"{BUCKET_MINUTES}-1440 minutes in steps of {BUCKET_MINUTES}, not {window_minutes}"
        )
    last = bucket_of(end) + timedelta(minutes=BUCKET_MINUTES)  # the bucket holding `end`
    start = last - timedelta(minutes=window_minutes)
    since = start - timedelta(minutes=window_minutes * baseline_windows)
    counts = con.execute(
        """
        SELECT term, kind,
               sum(CASE WHEN bucket >= ? THEN posts ELSE 0 END) AS posts,
               sum(CASE WHEN bucket < ? THEN posts ELSE 0 END) AS before
        FROM topic_term_counts WHERE topic = ? AND bucket >= ? AND bucket < ?
        GROUP BY term, kind
        """,
        [start, start, topic, since, last],
    ).df()
    kept = con.execute(
        "SELECT sum(CASE WHEN minute >= ? THEN kept ELSE 0 END), "
        "sum(CASE WHEN minute < ? THEN kept ELSE 0 END) "
        "FROM topic_minute_stats WHERE topic = ? AND minute >= ? AND minute < ?",
        [start, start, topic, since, last],
    ).fetchone()
    now_kept, before_kept = (float(kept[0] or 0), float(kept[1] or 0)) if kept else (0.0, 0.0)
    counts = counts[counts["posts"] >= min_posts]
    if counts.empty or not now_kept:
        return pd.DataFrame(columns=COLUMNS)
    out = counts.copy()
    out["share"] = out["posts"] / now_kept
    out["baseline_share"] = out["before"] / before_kept if before_kept else 0.0
    out["expected"] = out["baseline_share"] * now_kept
    out["lift"] = (out["posts"] + 1) / (out["expected"] + 1)
    out["z"] = (out["posts"] - out["expected"]) / np.sqrt(out["expected"] + 1)
    out = out.sort_values(["z", "posts", "term"], ascending=[False, False, True]).head(limit)
    for column, digits in (("share", 4), ("baseline_share", 4), ("expected", 2), ("lift", 2)):
        out[column] = out[column].astype(float).round(digits)
    out["z"] = out["z"].astype(float).round(2)
    out["posts"] = out["posts"].astype(int)
    return out[COLUMNS].reset_index(drop=True)
