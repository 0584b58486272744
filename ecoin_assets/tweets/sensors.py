"""The X sensor: a run of `x_posts` whenever new posts exist on a tracked topic, when no
stream service is ingesting.

The real-time path is the stream service (`ecoin tweets stream`, `stream.py`): seconds from
post to database, where a run takes 10-30 s. The sensor stays for deployments that run
Dagster alone (the Helm chart has no stream role yet; compose runs one): while the service
reports `x_posts` to this instance (`reporting.py`, once a minute), the sensor skips, so only
one of the two ingests at a time.

Its cursor holds the newest post id per topic it has launched a run for; each tick probes
every topic with one call (`since_id` = that id) and launches at most one run, keyed by the
newest ids, so a tick repeated after a daemon restart launches nothing twice. What a run
stores is decided by the ids already in DuckDB (`topic_cursors`), not by this cursor: a run
that failed is caught up by the next one, and nothing is lost or stored twice.
"""

import json
import time

import dagster as dg

from ecoin_assets.resources import EcoinSettings, EcoinStore, XResource
from ecoin_assets.tweets.assets import topic_partitions, x_posts
from ecoin_assets.tweets.reporting import REPORT_SECONDS, REPORTED_BY
from ecoin_assets.tweets.topics import active_topics, seeds

x_ingest_job = dg.define_asset_job("x_ingest_job", selection=[x_posts])
SENSOR_INTERVAL_SECONDS = 20
STREAM_LIVE_SECONDS = 2.5 * REPORT_SECONDS  # a stream service reported this recently: skip
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    job=x_ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingests new X posts on the tracked topics (one run per tick at most).",
)
def x_posts_sensor(
    context: dg.SensorEvaluationContext, x: XResource, store: EcoinStore, settings: EcoinSettings
):
    if stream_service_is_live(context.instance):
        return dg.SkipReason("the stream service (ecoin tweets stream) is ingesting")
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    active = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=x_ingest_job.name, statuses=_ACTIVE), limit=1
    )
    if active:
        return dg.SkipReason("an ingestion run is still in progress")
    source = x.source()
    newest = dict(seen)
    for topic, query in active_topics(store.database(), seeds(settings.resolve())).items():
        found = source.probe(query, seen.get(topic))
        if found is not None and found > seen.get(topic, 0):
            newest[topic] = found
    if newest == seen:
        return dg.SkipReason("no new posts")
    context.update_cursor(json.dumps(newest, sort_keys=True))
    key = "|".join(f"{t}:{i}" for t, i in sorted(newest.items()))
    return dg.RunRequest(run_key=f"x-posts-{key}")


def stream_service_is_live(instance: dg.DagsterInstance, now: float | None = None) -> bool:
    event = instance.get_latest_materialization_event(x_posts.key)
    if event is None or event.asset_materialization is None:
        return False
    reporter = event.asset_materialization.metadata.get("reported_by")
    fresh = (now or time.time()) - event.timestamp < STREAM_LIVE_SECONDS
    return fresh and reporter is not None and reporter.value == REPORTED_BY


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the per-topic partitions (`topics`) equal to the active stored topics.",
)
def topic_partitions_sensor(
    context: dg.SensorEvaluationContext, store: EcoinStore, settings: EcoinSettings
):
    wanted = list(active_topics(store.database(), seeds(settings.resolve())))
    requests = partition_changes(context.instance, wanted)
    if not requests:
        return dg.SkipReason(f"the partitions are the {len(wanted)} active topics")
    return dg.SensorResult(dynamic_partitions_requests=requests)


def partition_changes(instance: dg.DagsterInstance, wanted: list[str]) -> list:
    """The requests that make the `topics` partitions equal `wanted`."""
    current = set(instance.get_dynamic_partitions(topic_partitions.name))
    add = [t for t in wanted if t not in current]
    delete = sorted(current - set(wanted))
    requests = []
    if add:
        requests.append(topic_partitions.build_add_request(add))
    if delete:
        requests.append(topic_partitions.build_delete_request(delete))
    return requests
