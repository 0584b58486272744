"""Dagster assets of the sentiment domain: the model, and the scores of every kept post."""

import dagster as dg
from pydantic import Field

from ecoin_assets.config import load_settings
from ecoin_assets.prices.assets import DUCKDB_POOL
from ecoin_assets.resources import EcoinStore
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.data import load_seed
from ecoin_assets.sentiment.registry import BUNDLED_DIR, Classifier
from ecoin_assets.sentiment.scoring import score_pending, scored_versions
from ecoin_assets.sentiment.service import (
    evaluate_classifier,
    evaluate_model,
    train_and_register,
)


class SentimentModelConfig(dg.Config):
    data: str = Field(
        default="bundled",
        description=(
            "'bundled' (register the crypto-aware model shipped with ecoin), 'seed' "
            "(train on the seed set) or a folder in TweetEval layout to train on."
        ),
    )


def _metric_metadata(metrics: dict) -> dict:
    keys = ("n", "macro_recall", "macro_f1", "accuracy", "posts_per_second")
    out = {k: metrics[k] for k in keys if k in metrics}
    out |= {f"recall_{k}": metrics[f"recall_{k}"] for k in ("negative", "neutral", "positive")}
    out["confusion_matrix"] = dg.MetadataValue.json(metrics["confusion_matrix"])
    return out


@dg.asset(
    group_name="sentiment",
    kinds={"onnx", "scikitlearn", "bentoml"},
    description=(
        "The active sentiment model (negative / neutral / positive): MiniLM (3 layers) int8 "
        "embeddings, hashed TF-IDF and VADER features under a logistic regression. Stored under "
        "$ECOIN_HOME/models/sentiment and registered in the BentoML store as ecoin-sentiment."
    ),
)
def sentiment_model(config: SentimentModelConfig) -> dg.MaterializeResult:
    home = load_settings().home
    if config.data == "bundled":
        classifier = Classifier.load(home, registry.BUNDLED)
        model = classifier.model
        tag = registry.register_bentoml(model, home, model.meta.get("evaluation"))
        metrics = evaluate_classifier(classifier, load_seed("test"))
        version, card = model.version, (BUNDLED_DIR / "MODEL_CARD.md").read_text()
        registry.activate(home, registry.BUNDLED)
    else:
        result = train_and_register(home, config.data)
        metrics = result.get("metrics") or evaluate_model(home, "seed", "test")
        version, tag = result["version"], result["bentoml_tag"]
        card = f"Trained on {result['trained_on']} ({result['n_train']} posts)."
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "bentoml_tag": tag,
            "evaluated_on": metrics["data"],
            **_metric_metadata(metrics),
            "model_card": dg.MetadataValue.md(card),
        }
    )


@dg.asset(
    deps=[sentiment_model],
    pool=DUCKDB_POOL,
    group_name="sentiment",
    kinds={"duckdb", "onnx"},
    description=(
        "Every kept post scored by the active model (`post_sentiment`: label, probabilities, "
        "model version, time) and the per-topic, per-minute aggregates "
        "(`topic_minute_sentiment`). Scores of other versions are kept, never overwritten."
    ),
)
def post_sentiment(store: EcoinStore) -> dg.MaterializeResult:
    classifier = Classifier.load(load_settings().home)
    db = store.database()
    new = score_pending(db, classifier)
    return dg.MaterializeResult(
        metadata={
            "model_version": classifier.version,
            "newly_scored": new,
            "scored_per_version": dg.MetadataValue.json(scored_versions(db)),
        }
    )


sentiment_assets = [sentiment_model, post_sentiment]
sentiment_job = dg.define_asset_job("sentiment_job", selection=sentiment_assets)
