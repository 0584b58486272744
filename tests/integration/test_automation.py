"""The pipeline runs itself: sources on a clock, everything else when its inputs are new and
their blocking checks passed (Dagster's automation conditions, evaluated tick by tick)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import dagster as dg
import pytest

from ecoin_assets.automation import automation_sensor
from ecoin_assets.definitions import build_defs, defs
from ecoin_assets.sources.coingecko import utc_today
from ecoin_assets.storage import Database

GRAPH = defs.resolve_asset_graph()
PER_COIN_AFTER_PRICES = {
    "price_features",
    "forecast_backtest",
    "price_model",
    "forecast_scores",
    "finance_features",
    "model_comparison",
}
AFTER_PRICES = {
    "monthly_avg_price",
    "monthly_price_range",
    "losing_streak_rebound",
    "sentiment_price_correlation",
}


class Ticks:
    """The automation sensor's evaluations, one call per tick, on a clock we move."""

    def __init__(self, instance: dg.DagsterInstance, start: datetime):
        self.instance, self.now, self.cursor = instance, start, None

    def __call__(self, minutes: float = 1) -> dict[str, set]:
        self.now += timedelta(minutes=minutes)
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, cursor=self.cursor, evaluation_time=self.now
        )
        self.cursor = result.cursor
        return {
            key.to_user_string(): result.get_requested_partitions(key)
            for key in GRAPH.get_all_asset_keys()
            if result.get_num_requested(key)
        }


def _report(instance, asset: str, partition=None, checks: dict[str, bool] | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition))
    for name, passed in (checks or {}).items():
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=name, passed=passed)
        )


def test_only_sources_run_on_a_clock_and_the_sensor_runs_by_default():
    assert not list(defs.schedules or [])
    assert automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    labels = {
        k.to_user_string(): GRAPH.get(k).automation_condition.get_label()
        for k in GRAPH.get_all_asset_keys()
        if GRAPH.get(k).automation_condition is not None
    }
    assert labels["prices"] == "on_cron(15 0 * * *, UTC)"
    assert labels["prices_hourly"] == "on_cron(5 * * * *, UTC)"
    assert labels["coin_report"] == "after new price_forecasts"
    assert labels["sentiment_report"] == "on new posts (30 1 * * * UTC)"
    assert labels["sentiment_drift"] == "on new posts (20 * * * * UTC)"
    for name in PER_COIN_AFTER_PRICES | AFTER_PRICES | {"price_forecasts"}:
        assert labels[name] == "after new inputs whose blocking checks passed", name
    # a person trains sentiment models; the stream service stores and scores posts
    assert {"sentiment_model", "post_sentiment", "x_posts"}.isdisjoint(labels)
    blocking = {
        (c.asset_key.to_user_string(), c.name)
        for c in GRAPH.asset_check_keys
        if GRAPH.get(c).blocking
    }
    assert blocking == {
        ("prices", "prices_positive"),
        ("prices", "prices_no_duplicates"),
        ("price_model", "backtest_gate"),
        ("sentiment_model", "evaluation_gate"),
    }
    fresh = {
        k.to_user_string()
        for k in GRAPH.get_all_asset_keys()
        if GRAPH.get(k).freshness_policy is not None
    }
    assert fresh == {"prices", "price_forecasts", "sentiment_price_correlation"}


@pytest.mark.slow  # trains a model for many seconds
def test_a_new_day_of_prices_leads_to_forecasts_and_reports_and_a_failed_check_to_nothing():
    today = utc_today()
    coins = sorted(GRAPH.get(dg.AssetKey("coin_report")).partitions_def.get_partition_keys())
    with dg.DagsterInstance.ephemeral() as instance:
        tick = Ticks(instance, datetime.combine(today, time(0, 9), UTC))
        assert tick() == {}  # 00:10, before the day's cron tick
        asked = tick(10)  # 00:20: the day's prices, and the hourly drift (at :20)
        assert asked == {
            "prices": {f"{coin}|{today}" for coin in coins},
            "sentiment_drift": {None},
        }
        assert tick() == {}  # once per tick

        day = dg.MultiPartitionKey({"coin": "bitcoin", "date": today.isoformat()})
        passed = {"prices_positive": True, "prices_no_duplicates": True}
        _report(instance, "prices", day, passed)
        asked = tick()
        assert asked == {
            **{name: {"bitcoin"} for name in PER_COIN_AFTER_PRICES},
            **{name: {None} for name in AFTER_PRICES},
        }  # no forecasts before the new model has passed its gate
        assert tick() == {}

        _report(instance, "price_model", "bitcoin", {"backtest_gate": True})
        assert tick() == {
            "price_forecasts": {"bitcoin"},
            "forecast_scores": {"bitcoin"},
            "coin_report": {"bitcoin"},
        }

        # a refused model: forecasts and the report wait
        _report(instance, "price_model", "bitcoin", {"backtest_gate": False})
        assert tick() == {}

        # a day whose prices fail a blocking check: nothing downstream runs
        day = dg.MultiPartitionKey({"coin": "ethereum", "date": today.isoformat()})
        _report(instance, "prices", day, {**passed, "prices_positive": False})
        assert tick() == {}
        _report(instance, "prices", day, passed)  # fixed and fetched again
        assert tick()["price_features"] == {"ethereum"}

        # the hourly prices refresh the correlation; the topic reports are daily
        assert tick(60)["prices_hourly"] == {None}
        _report(instance, "prices_hourly")
        assert tick() == {"sentiment_price_correlation": {None}}


@pytest.mark.slow
def test_the_prices_run_carries_its_blocking_checks(sandbox, ecoin_home, monkeypatch):
    """The run the sensor launches for a day's prices executes the checks with them, so a bad
    row leaves everything downstream unrequested."""
    monkeypatch.setenv("COINGECKO_API_URL", sandbox.api_url)
    today = utc_today()
    day = dg.MultiPartitionKey({"coin": "bitcoin", "date": today.isoformat()})
    job = build_defs().resolve_job_def("daily_prices_job")  # on the patched environment
    with dg.DagsterInstance.ephemeral() as instance:
        tick = Ticks(instance, datetime.combine(today, time(0, 20), UTC))
        tick()
        result = job.execute_in_process(partition_key=day, instance=instance)
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["prices_positive"] and checks["prices_no_duplicates"]
        assert tick()["price_features"] == {"bitcoin"}

        db = Database(ecoin_home / "ecoin.duckdb")
        with db.write() as con:
            con.execute(
                "INSERT INTO prices VALUES ('bitcoin', ?, -1.0, NULL, NULL, 'test', now())",
                [today - timedelta(days=400)],
            )
        result = job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["prices_positive"] is False
        assert tick() == {}
