"""Sentiment drift: per day and topic, the active model's answers against its reference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pytest
from ecoin_cli import run_ecoin
from factories import insert_post

from ecoin_assets.alerts.rules import add_rule
from ecoin_assets.alerts.watch import evaluate
from ecoin_assets.sentiment import drift
from ecoin_assets.sentiment.data import load_seed
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.storage import Database

NOW = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
REF = drift.Reference(
    version="v-test",
    data="seed:test",
    n=300,
    shares={"negative": 0.3, "neutral": 0.4, "positive": 0.3},
    mean_confidence=0.8,
    low_confidence_share=0.1,
)


def _probabilities(label: str, confidence: float) -> tuple[float, float, float]:
    rest = (1 - confidence) / 2
    return tuple(confidence if name == label else rest for name in drift.LABELS)


def _store(db: Database, topic: str, labels: list[str], confidence: float, version: str) -> None:
    """Posts of `topic` created in the last hour, scored by `version` with these labels."""
    with db.write() as con:
        start = con.execute("SELECT coalesce(max(post_id), 0) FROM posts").fetchone()[0] + 1
        for i, label in enumerate(labels):
            post_id, created = start + i, NOW - timedelta(minutes=1 + i % 50)
            insert_post(con, post_id, created, topic, ingested_at=NOW)
            p_neg, p_neu, p_pos = _probabilities(label, confidence)
            con.execute(
                "INSERT INTO post_sentiment VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [post_id, version, label, p_neg, p_neu, p_pos, p_pos - p_neg, NOW],
            )


def _like_reference(n: int) -> list[str]:
    return ["negative"] * (3 * n // 10) + ["neutral"] * (4 * n // 10) + ["positive"] * (3 * n // 10)


def test_the_distance_and_the_thresholds():
    same = {"negative": 0.2, "neutral": 0.5, "positive": 0.3}
    assert drift.js_distance(same, same) == pytest.approx(0.0, abs=1e-9)
    assert drift.js_distance({"negative": 1.0}, {"positive": 1.0}) == pytest.approx(1.0)
    shares, confidence, low = drift.describe(np.array([[0.8, 0.1, 0.1], [0.3, 0.4, 0.3]]))
    assert shares == {"negative": 0.5, "neutral": 0.5, "positive": 0.0}
    assert (confidence, low) == (pytest.approx(0.6), 0.5)
    skewed = {"negative": 1.0, "neutral": 0.0, "positive": 0.0}
    assert drift.score_drift(100, skewed, 0.1, REF)[1] is True
    assert drift.score_drift(drift.MIN_POSTS - 1, skewed, 0.1, REF)[1] is False  # too few
    assert drift.score_drift(100, REF.shares, 0.3, REF)[1] is True  # uncertain, not skewed
    assert drift.score_drift(100, REF.shares, 0.2, REF)[1] is False


def test_days_and_topics_drift_or_not_and_alerts_can_route_it(ecoin_home):
    db = Database(ecoin_home / "ecoin.duckdb")
    _store(db, "steady", _like_reference(100), 0.8, REF.version)
    _store(db, "panic", ["negative"] * 90 + ["neutral"] * 10, 0.9, REF.version)
    _store(db, "slang", _like_reference(100), 0.4, REF.version)  # the model is unsure
    _store(db, "other-model", ["negative"] * 100, 0.9, "v-other")

    frame = drift.refresh_drift(db, REF, days=2)
    by_topic = frame.set_index("topic")
    assert set(by_topic.index) == {"steady", "panic", "slang"}  # the reference's version only
    assert by_topic.loc["steady", "drift_score"] == pytest.approx(0.0, abs=1e-9)
    assert not by_topic.loc["steady", "drifting"]
    assert by_topic.loc["panic", "drift_score"] > drift.DRIFT_THRESHOLD
    assert by_topic.loc["panic", "share_negative"] == pytest.approx(0.9)
    assert by_topic.loc["slang", "drifting"] and by_topic.loc["slang", "low_confidence_share"] == 1
    assert by_topic.loc["slang", "mean_confidence"] == pytest.approx(0.4)
    assert (by_topic["day"] == NOW.date()).all()
    drift.refresh_drift(db, REF, days=2)  # recomputed, not appended
    assert db.query("SELECT count(*) FROM sentiment_drift")[0][0] == 3

    topics = ["steady", "panic", "slang"]
    add_rule(db, "panic-drift", "panic", "drift > 0.3", "1h", "1h", "http://x", topics)
    reference = lambda version: REF  # noqa: E731
    fired = evaluate(db, REF.version, NOW + timedelta(minutes=1), reference=reference)
    assert [f.rule for f in fired] == ["panic-drift"]
    assert fired[0].value == pytest.approx(by_topic.loc["panic", "drift_score"])
    add_rule(db, "steady-drift", "steady", "drift > 0.3", "1h", "1h", "http://x", topics)
    later = NOW + timedelta(minutes=2)
    assert evaluate(db, REF.version, later, reference=reference) == []  # cooldown, steady
    add_rule(db, "slang-unsure", "slang", "low_confidence > 0.5", "1h", "1h", "http://x", topics)
    assert evaluate(db, REF.version, later) == []  # no reference: the signal has no value
    assert [f.rule for f in evaluate(db, REF.version, later, reference=reference)] == [
        "slang-unsure"
    ]


def test_the_cli_and_the_asset_use_the_active_models_reference(ecoin_home):
    from ecoin_assets.resources import build_resources
    from ecoin_assets.sentiment.assets import sentiment_drift

    version = active_version(ecoin_home)
    db = Database(ecoin_home / "ecoin.duckdb")
    _store(db, "panic", ["negative"] * 60, 0.95, version)
    proc = run_ecoin("sentiment", "drift", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["reference"]["version"] == version
    seed = load_seed("test")
    assert (out["reference"]["data"], out["reference"]["n"]) == (seed.source, len(seed))
    assert sum(out["reference"]["shares"].values()) == pytest.approx(1.0)
    [day] = out["days"]
    assert (day["topic"], day["posts"], day["drifting"]) == ("panic", 60, True)
    assert (ecoin_home / "models" / "sentiment" / "reference" / f"{version}.json").exists()
    proc = run_ecoin("sentiment", "drift")
    assert proc.returncode == 0 and "panic: 60 posts" in proc.stdout and "DRIFT" in proc.stdout

    result = dg.materialize([sentiment_drift], resources=build_resources())
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("drifting: panic on ")


def test_a_reference_kept_from_an_older_seed_test_split_is_computed_again(ecoin_home):
    version = active_version(ecoin_home)
    fresh = drift.reference(ecoin_home, version)
    path = ecoin_home / "models" / "sentiment" / "reference" / f"{version}.json"
    old = {**json.loads(path.read_text()), "n": 300, "shares": REF.shares}
    path.write_text(json.dumps(old))
    assert drift.reference(ecoin_home, version) == fresh  # a release added posts since
    relabelled = {**old, "n": fresh.n, "data_sha256": "0" * 16}  # same size, other labels
    path.write_text(json.dumps(relabelled))
    assert drift.reference(ecoin_home, version) == fresh
    del old["data_sha256"]  # kept by a release before the digest
    path.write_text(json.dumps({**old, "n": fresh.n}))
    assert drift.reference(ecoin_home, version) == fresh
    path.write_text(json.dumps({**old, "n": fresh.n, "data_sha256": fresh.data_sha256}))
    assert drift.reference(ecoin_home, version).shares == REF.shares  # kept while it matches
