"""Sentiment drift: do today's posts still look like the data the active model was judged on?

The model's reference is how it labels its own evaluation data, the shipped seed test split
(420 posts written and labelled for ecoin, most of them about crypto): the share of each label,
the mean confidence (the probability of the label it picks) and the share of low-confidence
posts (below 0.5). Per day and topic, the posts it scored are described the same way. The
drift score is the Jensen-Shannon distance between the two label distributions (base 2: 0 the
same, 1 disjoint); a day drifts when that score passes DRIFT_THRESHOLD or its low-confidence
share passes the reference's by more than LOW_CONFIDENCE_MARGIN, on at least MIN_POSTS posts.
Either means the model's answers deserve a look (new slang, a spam wave, a topic unlike its
training data).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ecoin_assets.sentiment import data as datasets
from ecoin_assets.sentiment import registry
from ecoin_assets.storage import Connection, Database
from ecoin_assets.storage.rows import insert_frame

LABELS = ("negative", "neutral", "positive")
DRIFT_SIGNALS = ("drift", "low_confidence")  # what alert rules can compare
LOW_CONFIDENCE = 0.5  # a post whose chosen label has a lower probability is uncertain
DRIFT_THRESHOLD = 0.2
LOW_CONFIDENCE_MARGIN = 0.15
MIN_POSTS = 30
DRIFT_COLUMNS = [
    "day",
    "topic",
    "model_version",
    "posts",
    "share_negative",
    "share_neutral",
    "share_positive",
    "mean_confidence",
    "low_confidence_share",
    "drift_score",
    "drifting",
    "computed_at",
]


@dataclass
class Reference:
    version: str
    data: str
    n: int
    shares: dict[str, float]
    mean_confidence: float
    low_confidence_share: float
    data_sha256: str = ""  # of the texts and labels it was computed on ("": before 2026-12-05)


def describe(probabilities: np.ndarray) -> tuple[dict[str, float], float, float]:
    """Label shares, mean confidence and low-confidence share of a (posts x 3) array."""
    chosen = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    shares = {label: float(np.mean(chosen == i)) for i, label in enumerate(LABELS)}
    return shares, float(confidence.mean()), float(np.mean(confidence < LOW_CONFIDENCE))


@functools.cache
def _seed_test() -> tuple[datasets.LabelledSet, str]:
    """The shipped seed test split, read once per process, with a digest of its content."""
    seed = datasets.load_seed("test")
    pairs = zip(seed.labels, seed.texts, strict=True)
    rows = "\n".join(f"{label}\t{text}" for label, text in pairs)
    return seed, hashlib.sha256(rows.encode()).hexdigest()[:16]


def reference(home: Path, version: str | None = None) -> Reference:
    """The version's reference, computed once and kept beside the models (again when the shipped
    seed test split is no longer the one it was computed on, as when a release adds posts)."""
    version = version or registry.active_version(home)
    path = registry.models_dir(home) / "reference" / f"{version}.json"
    seed, digest = _seed_test()
    if path.exists():
        kept = Reference(**json.loads(path.read_text()))
        if (kept.data, kept.n, kept.data_sha256) == (seed.source, len(seed), digest):
            return kept
    classifier = registry.Classifier.load(home, version)
    shares, confidence, low = describe(np.asarray(classifier.probabilities(seed.texts)))
    found = Reference(version, seed.source, len(seed), shares, confidence, low, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(found), indent=2))
    tmp.replace(path)
    return found


def js_distance(p: dict[str, float], q: dict[str, float]) -> float:
    """Jensen-Shannon distance (base 2) between two label distributions."""
    a = np.array([p.get(label, 0.0) for label in LABELS])
    b = np.array([q.get(label, 0.0) for label in LABELS])
    mid = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        ok = x > 0
        return float(np.sum(x[ok] * np.log2(x[ok] / mid[ok])))

    return math.sqrt(max((kl(a) + kl(b)) / 2, 0.0))


def score_drift(posts: int, shares: dict[str, float], low: float, ref: Reference) -> tuple:
    """(drift score, drifting) of a group of posts against the reference."""
    drift = js_distance(shares, ref.shares)
    drifting = posts >= MIN_POSTS and (
        drift > DRIFT_THRESHOLD or low > ref.low_confidence_share + LOW_CONFIDENCE_MARGIN
    )
    return drift, drifting


_GROUP_SQL = """
    SELECT {select}, count(*) AS posts,
           avg(CASE WHEN s.label = 'negative' THEN 1.0 ELSE 0.0 END) AS share_negative,
           avg(CASE WHEN s.label = 'neutral' THEN 1.0 ELSE 0.0 END) AS share_neutral,
           avg(CASE WHEN s.label = 'positive' THEN 1.0 ELSE 0.0 END) AS share_positive,
           avg(greatest(s.p_negative, s.p_neutral, s.p_positive)) AS mean_confidence,
           avg(CASE WHEN greatest(s.p_negative, s.p_neutral, s.p_positive) < {low}
               THEN 1.0 ELSE 0.0 END) AS low_confidence_share
    FROM post_sentiment s
    JOIN posts p ON p.post_id = s.post_id
    JOIN post_topics t ON t.post_id = s.post_id
    WHERE s.model_version = ? AND p.created_at >= ? AND p.created_at < ? {where}
    GROUP BY {group}"""


def _with_scores(frame: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    scored = [
        score_drift(
            int(r.posts),
            {label: getattr(r, f"share_{label}") for label in LABELS},
            float(r.low_confidence_share),
            ref,
        )
        for r in frame.itertuples()
    ]
    frame["drift_score"] = [s[0] for s in scored]
    frame["drifting"] = [bool(s[1]) for s in scored]
    return frame


def daily_drift(con: Connection, ref: Reference, first: date, last: date) -> pd.DataFrame:
    """Per day (of `created_at`, first..last) and topic: the posts' description, drift score
    and whether it drifts, by the reference's model version."""
    frame = con.execute(
        _GROUP_SQL.format(
            select="CAST(p.created_at AS DATE) AS day, t.topic AS topic",
            group="CAST(p.created_at AS DATE), t.topic",
            low=LOW_CONFIDENCE,
            where="",
        ),
        [
            ref.version,
            datetime.combine(first, time()),
            datetime.combine(last + timedelta(days=1), time()),
        ],
    ).df()
    if frame.empty:
        return pd.DataFrame(columns=DRIFT_COLUMNS)
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame = _with_scores(frame, ref)
    frame["model_version"] = ref.version
    frame["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return frame.sort_values(["day", "topic"]).reset_index(drop=True)[DRIFT_COLUMNS]


def refresh_drift(
    db: Database, ref: Reference, days: int = 7, today: date | None = None
) -> pd.DataFrame:
    """Recompute the last `days` days (today included) into `sentiment_drift`."""
    last = today or datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    with db.write() as con:  # one transaction: readers see the old days or the new ones
        frame = daily_drift(con, ref, first, last)
        con.execute(
            "DELETE FROM sentiment_drift WHERE model_version = ? AND day >= ? AND day <= ?",
            [ref.version, first, last],
        )
        insert_frame(con, "sentiment_drift", frame, DRIFT_COLUMNS)
    return frame


def window_drift(
    con: Connection, topic: str, ref: Reference, start: datetime, end: datetime
) -> dict[str, float | None]:
    """The drift score and low-confidence share of a topic's posts in [start, end) (what
    alerts compare: signals `drift` and `low_confidence`); None without posts."""
    row = con.execute(
        _GROUP_SQL.format(
            select="t.topic", group="t.topic", low=LOW_CONFIDENCE, where="AND t.topic = ?"
        ),
        [ref.version, start, end, topic],
    ).fetchone()
    if not row:
        return {"drift": None, "low_confidence": None}
    _, posts, neg, neu, pos, _, low = row
    drift, _ = score_drift(int(posts), dict(zip(LABELS, (neg, neu, pos), strict=True)), low, ref)
    return {"drift": drift, "low_confidence": float(low)}
