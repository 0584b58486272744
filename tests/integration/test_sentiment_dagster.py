"""The sentiment assets, materialized in process over a small database."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from factories import insert_post

from ecoin_assets.config import load_settings
from ecoin_assets.resources import build_resources
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.assets import post_sentiment, sentiment_model
from ecoin_assets.storage import Database


def _posts(db: Database) -> None:
    now = datetime(2026, 11, 23, 12, 0)
    texts = ["so happy with my gains today", "this crash is a disaster", "btc at 64k"]
    with db.write() as con:
        for i, text in enumerate(texts, start=1):
            insert_post(con, i, now, "bitcoin", text=text, source="t")


def test_model_and_scores_materialize_with_metrics_and_versions():
    settings = load_settings()
    db = Database(settings.db_path)
    _posts(db)
    result = dg.materialize([sentiment_model, post_sentiment], resources=build_resources())
    assert result.success
    events = {
        m.asset_key.path[-1]: m.metadata
        for m in (e.materialization for e in result.get_asset_materialization_events())
    }
    model_meta = events["sentiment_model"]
    assert model_meta["model_version"].value == registry.bundled_version()
    assert model_meta["evaluated_on"].value == "seed:test"
    assert 0.6 < model_meta["macro_recall"].value <= 1
    assert "TweetEval" in model_meta["model_card"].value
    assert events["post_sentiment"]["newly_scored"].value == 3
    labels = db.query("SELECT post_id, label, model_version FROM post_sentiment ORDER BY 1")
    assert [(i, label) for i, label, _ in labels][:2] == [(1, "positive"), (2, "negative")]
    assert {v for *_, v in labels} == {registry.bundled_version()}
    minute = db.query("SELECT scored, share_positive FROM topic_minute_sentiment")
    assert minute == [(3, 1 / 3)]
    # a second run scores nothing again
    again = dg.materialize([post_sentiment], resources=build_resources())
    meta = again.get_asset_materialization_events()[0].materialization.metadata
    assert meta["newly_scored"].value == 0
