"""The tweets domain's Dagster definitions."""

import dagster as dg

from ecoin_assets.tweets.assets import x_posts
from ecoin_assets.tweets.checks import x_posts_freshness_checks, x_posts_freshness_sensor
from ecoin_assets.tweets.sensors import topic_partitions_sensor, x_ingest_job, x_posts_sensor

defs = dg.Definitions(
    assets=[x_posts],
    asset_checks=x_posts_freshness_checks,
    jobs=[x_ingest_job],
    sensors=[x_posts_sensor, x_posts_freshness_sensor, topic_partitions_sensor],
)
