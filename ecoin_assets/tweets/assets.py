"""Dagster assets of the tweets domain."""

import dagster as dg

from ecoin_assets.dagster_shared import DUCKDB_POOL
from ecoin_assets.resources import EcoinSettings, EcoinStore, XResource
from ecoin_assets.sentiment.registry import Classifier
from ecoin_assets.tweets.ingest import ingest_once
from ecoin_assets.tweets.topics import active_topics, seeds


@dg.asset(
    pool=DUCKDB_POOL,
    group_name="tweets",
    kinds={"duckdb", "python"},
    description=(
        "X posts on the tracked topics (`topics`; `ecoin topics`), stored exactly once by id "
        "with raw and "
        "clean text (`posts`), linked to every topic they match (`post_topics`), with "
        "per-topic, per-minute counts (`topic_minute_stats`), the newest id per topic "
        "(`topic_cursors`) and the sentiment of every new kept post by the active model "
        "(`post_sentiment`, `topic_minute_sentiment`), all written in one transaction per run."
    ),
)
def x_posts(store: EcoinStore, x: XResource, settings: EcoinSettings) -> dg.MaterializeResult:
    settings = settings.resolve()
    db = store.database()
    topics = active_topics(db, seeds(settings))
    classifier = Classifier.load(settings.home)
    result = ingest_once(db, x.source(), topics, classifier=classifier)
    return dg.MaterializeResult(
        metadata={
            "topics": ", ".join(topics),
            "fetched": result.fetched,
            "stored": result.stored,
            "kept_for_sentiment": result.kept,
            "scored": result.scored,
            "model_version": classifier.version,
            "new_topic_links": result.linked,
            "api_calls": result.calls,
            "retries": result.retries,
            "new_per_topic": dg.MetadataValue.json(result.per_topic),
        }
    )


topic_partitions = dg.DynamicPartitionsDefinition(name="topics")
