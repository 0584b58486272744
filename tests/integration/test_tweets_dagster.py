"""The X sensor (with `build_sensor_context`) and the `x_posts` asset over the X sandbox."""

import json

import dagster as dg
import pytest

from ecoin_assets.config import load_settings
from ecoin_assets.resources import XResource, build_resources
from ecoin_assets.storage import Database
from ecoin_assets.tweets.assets import x_posts
from ecoin_assets.tweets.sensors import x_posts_sensor


@pytest.fixture
def x_sandbox(x_sandbox_factory, monkeypatch):
    server = x_sandbox_factory(rate_per_minute=60, backlog_minutes=5)
    monkeypatch.setenv("X_API_URL", server.url)
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin,ethereum")
    return server


def resources() -> dict:
    """The definitions' resources on the test's environment, with quick retries."""
    built = build_resources()
    built["x"] = XResource(settings=built["settings"], backoff_seconds=0.01)
    return built


def tick(instance, cursor=None):
    # nested resources (the settings in the store and the client) need the context's scope
    with dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources()) as ctx:
        return x_posts_sensor(ctx), ctx.cursor


def test_sensor_requests_one_run_and_advances_its_cursor(x_sandbox):
    with dg.DagsterInstance.ephemeral() as instance:
        result, cursor = tick(instance)
        assert isinstance(result, dg.RunRequest)
        seen = json.loads(cursor)
        assert set(seen) == {"bitcoin", "ethereum"}
        assert result.run_key == "x-posts-" + "|".join(f"{t}:{i}" for t, i in sorted(seen.items()))
        # nothing new: skip, cursor unchanged
        again, same = tick(instance, cursor)
        assert isinstance(again, dg.SkipReason) and same == cursor
        # new posts arrive: a new run with a new key
        x_sandbox.clock.now += 30
        later, newer = tick(instance, cursor)
        assert isinstance(later, dg.RunRequest) and later.run_key != result.run_key
        assert all(json.loads(newer)[t] >= seen[t] for t in seen)


def test_sensor_waits_while_a_run_is_active(x_sandbox):
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(
            dg.DagsterRun(job_name="x_ingest_job", run_id="r1", status=dg.DagsterRunStatus.STARTED)
        )
        result, cursor = tick(instance)
        assert isinstance(result, dg.SkipReason) and "in progress" in result.skip_message
        assert cursor is None


def test_asset_materializes_posts_exactly_once(x_sandbox):
    first = dg.materialize([x_posts], resources=resources())
    assert first.success
    meta = first.get_asset_materialization_events()[0].materialization.metadata
    assert meta["stored"].value > 0 and meta["topics"].value == "bitcoin, ethereum"
    db = Database(load_settings().db_path)
    count = db.query("SELECT count(*) FROM posts")[0][0]
    assert count == meta["stored"].value
    # every new kept post was scored in the same run, by the recorded model version
    kept, scored = db.query(
        "SELECT count(*) FILTER (WHERE keep), (SELECT count(*) FROM post_sentiment) FROM posts"
    )[0]
    assert scored == kept == meta["scored"].value > 0
    versions = db.query("SELECT DISTINCT model_version FROM post_sentiment")
    assert versions == [(meta["model_version"].value,)]
    # a re-run (or a restarted daemon replaying the tick) stores nothing twice
    rerun = dg.materialize([x_posts], resources=resources())
    assert rerun.get_asset_materialization_events()[0].materialization.metadata["stored"].value == 0
    assert db.query("SELECT count(*) FROM posts")[0][0] == count
