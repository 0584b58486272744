"""Dagster assets of the sentiment domain: the model, and the scores of every kept post."""

import dagster as dg
from pydantic import Field

from ecoin_assets.automation import on_new_posts
from ecoin_assets.dagster_shared import DUCKDB_POOL
from ecoin_assets.resources import EcoinSettings, EcoinStore
from ecoin_assets.sentiment import drift, registry
from ecoin_assets.sentiment.data import load_seed
from ecoin_assets.sentiment.gate import SentimentVerdict
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


GATE_CHECK = "evaluation_gate"
HOURLY_DRIFT_CRON = "20 * * * *"


@dg.asset(
    group_name="sentiment",
    kinds={"onnx", "scikitlearn", "bentoml"},
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="sentiment_model",
            blocking=True,
            description=(
                "A newly trained model becomes active only if it is no worse than the active "
                "one on the evaluation data it was given; a refused one stays stored, the "
                "active one keeps scoring."
            ),
        )
    ],
    description=(
        "The active sentiment model (negative / neutral / positive): the crypto-aware bundled "
        "model, or one trained on `data` that passed the evaluation gate. Stored under "
        "$ECOIN_HOME/models/sentiment and registered in the BentoML store as ecoin-sentiment."
    ),
)
def sentiment_model(config: SentimentModelConfig, settings: EcoinSettings) -> dg.MaterializeResult:
    home = settings.resolve().home
    if config.data == "bundled":
        classifier = Classifier.load(home, registry.BUNDLED)
        model = classifier.model
        tag = registry.register_bentoml(model, home, model.meta.get("evaluation"))
        metrics = evaluate_classifier(classifier, load_seed("test"))
        version, card = model.version, (BUNDLED_DIR / "MODEL_CARD.md").read_text()
        registry.activate(home, registry.BUNDLED)
        gate = dg.AssetCheckResult(
            check_name=GATE_CHECK,
            passed=True,
            description="the bundled model, chosen by configuration (data='bundled')",
        )
        active = True
    else:
        result = train_and_register(home, config.data)
        metrics = result.get("metrics") or evaluate_model(home, "seed", "test")
        verdict = SentimentVerdict(**result["gate"])
        version, tag, active = result["version"], result["bentoml_tag"], verdict.activate
        card = f"Trained on {result['trained_on']} ({result['n_train']} posts)."
        gate = dg.AssetCheckResult(
            check_name=GATE_CHECK,
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict.summary(),
            metadata={"active_version": registry.active_version(home)},
        )
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "active": active,
            "bentoml_tag": tag or "not registered (not active)",
            "evaluated_on": metrics["data"],
            **_metric_metadata(metrics),
            "model_card": dg.MetadataValue.md(card),
        },
        check_results=[gate],
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
def post_sentiment(store: EcoinStore, settings: EcoinSettings) -> dg.MaterializeResult:
    classifier = Classifier.load(settings.resolve().home)
    db = store.database()
    new = score_pending(db, classifier)
    return dg.MaterializeResult(
        metadata={
            "model_version": classifier.version,
            "newly_scored": new,
            "scored_per_version": dg.MetadataValue.json(scored_versions(db)),
        }
    )


DRIFT_CHECK = "not_drifting"


@dg.asset(
    deps=[post_sentiment, dg.AssetKey("x_posts")],
    automation_condition=on_new_posts(HOURLY_DRIFT_CRON),
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset="sentiment_drift",
            description=(
                "Warns when a topic's day of posts drifts from the active model's reference: "
                f"label drift score above {drift.DRIFT_THRESHOLD} or low-confidence share "
                f"{drift.LOW_CONFIDENCE_MARGIN:.0%} above the reference's (at least "
                f"{drift.MIN_POSTS} posts)."
            ),
        )
    ],
    pool=DUCKDB_POOL,
    group_name="sentiment",
    kinds={"duckdb"},
    description=(
        "Per day and topic, over the last 7 days (`sentiment_drift`): the active model's label "
        "shares, mean confidence and low-confidence share on the posts, against the same "
        "figures on its reference data (the seed test split), with a drift score (the labels' "
        "Jensen-Shannon distance)."
    ),
)
def sentiment_drift(store: EcoinStore, settings: EcoinSettings) -> dg.MaterializeResult:
    ref = drift.reference(settings.resolve().home)
    frame = drift.refresh_drift(store.database(), ref)
    drifting = frame[frame["drifting"]]
    shown = frame.drop(columns=["model_version", "computed_at"]).round(3)
    said = "; ".join(f"{r.topic} on {r.day} ({r.drift_score:.2f})" for r in drifting.itertuples())
    return dg.MaterializeResult(
        metadata={
            "model_version": ref.version,
            "reference": dg.MetadataValue.json(
                {"data": ref.data, "shares": ref.shares, "low_confidence": ref.low_confidence_share}
            ),
            "days": dg.MetadataValue.md(shown.to_markdown(index=False) if len(shown) else "none"),
            "drifting": len(drifting),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                passed=drifting.empty,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"drifting: {said}" if said else "no topic-day drifts",
            )
        ],
    )


sentiment_assets = [sentiment_model, post_sentiment, sentiment_drift]
sentiment_job = dg.define_asset_job("sentiment_job", selection=[sentiment_model, post_sentiment])
