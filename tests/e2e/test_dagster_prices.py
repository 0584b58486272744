"""The price assets and checks through Dagster's own execution APIs."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from ecoin_assets.definitions import build_defs, defs
from ecoin_assets.prices.assets import analysis_assets, prices
from ecoin_assets.prices.backfill import PARTITION_RANGE_END, PARTITION_RANGE_START, backfill_prices
from ecoin_assets.prices.checks import price_checks
from ecoin_assets.prices.store import points_frame, upsert_prices
from ecoin_assets.resources import CoinGeckoResource, EcoinSettings, EcoinStore
from ecoin_assets.sources.coingecko import DailyPoint
from ecoin_assets.storage import Database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("COINGECKO_API_URL", sandbox.api_url)
    db_path = tmp_path / "ecoin.duckdb"
    settings = EcoinSettings(ecoin_home=str(tmp_path), coingecko_api_url=sandbox.api_url)
    resources = {
        "settings": settings,
        "store": EcoinStore(settings=settings),
        "coingecko": CoinGeckoResource(settings=settings, max_attempts=4, backoff_seconds=0.01),
    }
    return Database(db_path), resources


def _range_tags(coin: str, start: str, end: str) -> dict[str, str]:
    return {PARTITION_RANGE_START: f"{coin}|{start}", PARTITION_RANGE_END: f"{coin}|{end}"}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("daily_prices_job")
    assert not list(defs.schedules or [])  # automation conditions instead (test_automation.py)
    assert defs.resolve_job_def("forecast_job")


def test_dagster_cli_validates_workspace(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "ECOIN_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_range_run_fetches_once_and_stores_exact_points(env, sandbox):
    db, resources = env
    result = dg.materialize(
        [prices, *price_checks],
        resources=resources,
        tags=_range_tags("bitcoin", "2024-01-01", "2024-06-30"),
    )
    assert result.success
    rows = db.query("SELECT date, price_usd FROM prices WHERE coin_id = 'bitcoin' ORDER BY date")
    assert len(rows) == 182
    assert rows[0][0] == date(2024, 1, 1) and rows[-1][0] == date(2024, 6, 30)
    assert all(p == sandbox.market.daily("bitcoin", d).price for d, p in rows)
    assert sandbox.stats["path:coins/{id}/market_chart/range"] == 1
    events = result.get_asset_materialization_events()
    assert len(events) == 182  # one materialization per day partition, from one run
    checks = _checks(result)
    assert checks["prices_no_gaps"] and checks["prices_no_duplicates"]
    assert checks["prices_positive"]
    assert not checks["prices_fresh"]  # 2024 data is not fresh, and other coins have none


def test_rerun_changes_nothing(env):
    db, resources = env
    tags = _range_tags("ethereum", "2024-03-01", "2024-03-10")
    assert dg.materialize([prices], resources=resources, tags=tags).success
    before = db.query("SELECT * FROM prices ORDER BY date")
    result = dg.materialize([prices], resources=resources, tags=tags)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["inserted"].value == 0 and meta["unchanged"].value == 10
    assert db.query("SELECT * FROM prices ORDER BY date") == before


def test_single_partition_and_faults(env, sandbox):
    db, resources = env
    sandbox.faults.configure(type(sandbox.faults.config)(script=["503", "malformed"]))
    key = dg.MultiPartitionKey({"coin": "cardano", "date": "2024-02-29"})
    assert dg.materialize([prices], resources=resources, partition_key=key).success
    assert db.query("SELECT date FROM prices") == [(date(2024, 2, 29),)]
    (answers,) = db.query("SELECT count(*) FROM raw_coingecko_answers")[0]
    assert answers == 3  # the 503, the malformed answer and the good one, kept as received


def test_gap_check_fails_on_a_hole(env):
    db, resources = env
    points = [DailyPoint("bitcoin", date(2024, 1, d), 100.0 + d, None, None) for d in (1, 2, 5)]
    with db.write() as con:
        upsert_prices(con, points_frame(points), source="test")
    result = dg.materialize(
        [prices, *price_checks],
        resources=resources,
        selection=dg.AssetSelection.checks(*price_checks),
    )
    checks = _checks(result)
    assert checks["prices_no_gaps"] is False
    assert checks["prices_positive"] is True


def test_analysis_assets_build_tables(env):
    db, resources = env
    assert dg.materialize(
        [prices], resources=resources, tags=_range_tags("solana", "2024-01-01", "2024-04-30")
    ).success
    result = dg.materialize(
        [prices, *analysis_assets], resources=resources, selection=analysis_assets
    )
    assert result.success
    assert db.query("SELECT count(*) FROM analysis_monthly_avg_price")[0][0] == 4
    assert db.query("SELECT count(*) FROM price_monthly_range")[0][0] == 4
    (coin, mcap) = db.query(
        "SELECT coin_id, current_market_cap_usd FROM analysis_losing_streak_rebound"
    )[0]
    assert coin == "solana" and mcap > 0


def test_backfill_runs_once_per_coin(env, sandbox, monkeypatch, tmp_path):
    db, _ = env
    monkeypatch.setenv("ECOIN_HOME", str(tmp_path))
    with dg.DagsterInstance.ephemeral() as instance:
        results = backfill_prices(
            build_defs(), instance, ["bitcoin", "dogecoin"], date(2023, 12, 1), date(2024, 1, 31)
        )
        assert [r.success for r in results] == [True, True]
        runs = instance.get_runs()
    assert len(runs) == 2
    assert sandbox.stats["path:coins/{id}/market_chart/range"] == 2
    assert db.query("SELECT coin_id, count(*) FROM prices GROUP BY ALL ORDER BY 1") == [
        ("bitcoin", 62),
        ("dogecoin", 62),
    ]
