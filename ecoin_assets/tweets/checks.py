"""Freshness of `x_posts`: a check that fails when no posts have been stored (by the stream
service's reports or a run) for `STALE_AFTER`, run by its own sensor every minute."""

from datetime import timedelta

import dagster as dg

from ecoin_assets.tweets.assets import x_posts

STALE_AFTER = timedelta(minutes=3)

x_posts_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[x_posts], lower_bound_delta=STALE_AFTER
)
x_posts_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=x_posts_freshness_checks,
    minimum_interval_seconds=60,
    name="x_posts_freshness_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
