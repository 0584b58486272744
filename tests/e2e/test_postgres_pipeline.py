"""The whole pipeline on PostgreSQL: `ECOIN_DATABASE_URL` is the only change.

The same Dagster jobs the demo runs (prices with their checks, the SQL analyses, forecasting,
sentiment, X ingestion, correlation, reports), then what reads the data: the CLI, the dashboard's
snapshot and the forecast service. Nothing here touches a DuckDB file of the pipeline.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from ecoin_cli import run_ecoin

from ecoin_assets.config import load_settings
from ecoin_assets.dashboard.snapshot import read_snapshot
from ecoin_assets.definitions import build_defs
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.prices.backfill import (
    QUIET,
    backfill_prices,
    materialize_analyses,
    materialize_forecasts,
)
from ecoin_assets.reports.assets import materialize_reports
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.serving.forecasts import ForecastServer
from ecoin_assets.sources.coingecko import utc_today
from ecoin_assets.storage import Database

COIN = "bitcoin"


def _meta(result: dg.ExecuteInProcessResult, node: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


@pytest.fixture
def pg_pipeline(monkeypatch, postgres_database_url, sandbox, x_sandbox_factory, ecoin_home):
    """Settings for one coin and topic: CoinGecko and X sandboxes, the data in PostgreSQL."""
    x = x_sandbox_factory(clock=time.time, history_days=1, history_rate_per_minute=2)
    monkeypatch.setenv("ECOIN_DATABASE_URL", postgres_database_url)
    monkeypatch.setenv("COINGECKO_API_URL", sandbox.api_url)
    monkeypatch.setenv("X_API_URL", x.url)
    monkeypatch.setenv("ECOIN_COINS", COIN)
    monkeypatch.setenv("DAGSTER_HOME", str(ecoin_home / "dagster"))
    (ecoin_home / "dagster").mkdir()
    return Database.from_settings(load_settings())


def test_the_demo_pipeline_runs_on_postgresql(pg_pipeline):
    defs = build_defs()  # on the fixture's environment
    db = pg_pipeline
    assert db.dialect == "postgres"
    today = utc_today()
    start = today - timedelta(days=3 * 365)  # a backtest needs 941 days

    # prices (CLI path for the history), then Dagster's partitions with their checks
    fetched = run_ecoin(
        "prices", "fetch", "--coin", COIN, "--start", str(start), "--end", str(today)
    )
    assert fetched.returncode == 0, fetched.stderr
    with dg.DagsterInstance.ephemeral() as instance:
        (prices,) = backfill_prices(defs, instance, [COIN], today - timedelta(days=30), today)
        assert prices.success
        checks = {c.check_name: c for c in prices.get_asset_check_evaluations()}
        assert {n for n, c in checks.items() if c.passed} >= {
            "prices_no_gaps",
            "prices_no_duplicates",
            "prices_positive",
        }
        assert materialize_analyses(defs, instance).success
        (forecast,) = materialize_forecasts(defs, instance, [COIN])
        assert forecast.success
        assert _meta(forecast, "forecast_backtest")["mase_7d"] > 0

        sentiment = defs.resolve_job_def("sentiment_job").execute_in_process(
            instance=instance, run_config=QUIET
        )
        assert sentiment.success
        ingest = defs.resolve_job_def("x_ingest_job").execute_in_process(
            instance=instance, run_config=QUIET
        )
        posts = _meta(ingest, "x_posts")
        assert posts["stored"] > 1000 and posts["scored"] > 500
        correlation = defs.resolve_job_def("correlation_job").execute_in_process(
            instance=instance, run_config=QUIET
        )
        best = _meta(correlation, "sentiment_price_correlation")["best_lag_vs_returns_hourly"]
        assert "lag" in best[COIN], best
        reports = materialize_reports(defs, instance, [COIN], [COIN], QUIET)
        assert all(result.success for _, _, result in reports)

    # every table the pipeline writes has its rows in PostgreSQL
    counts = {
        table: db.query(f"SELECT count(*) FROM {table}")[0][0]
        for table in (
            "prices",
            "prices_hourly",
            "analysis_monthly_avg_price",
            "analysis_losing_streak_rebound",
            "finance_features",
            "price_risk_classes",
            "model_comparison",
            "price_features",
            "forecasts",
            "forecast_backtests",
            "posts",
            "post_sentiment",
            "topic_minute_stats",
            "topic_minute_sentiment",
            "sentiment_price_correlation",
        )
    }
    assert all(counts.values()), counts
    assert counts["prices"] == 3 * 365 + 1
    assert not (load_settings().db_path).exists()  # no DuckDB file was made on the side

    # the readers: CLI, dashboard snapshot, forecast service
    status = run_ecoin("status", "--json")
    assert status.returncode == 0, status.stderr
    stored = json.loads(status.stdout)
    assert "***" in stored["database"] or stored["database"].startswith("postgresql://")
    assert stored["coins"][0]["missing_days"] == 0
    exported = run_ecoin("tweets", "export", "--topic", COIN, "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    first = json.loads(exported.stdout.splitlines()[0])
    assert first["topics"] == [COIN]
    analysed = run_ecoin(
        "analysis", "correlation", "--coin", COIN, "--topic", COIN, "--freq", "hour"
    )
    assert analysed.returncode == 0, analysed.stderr

    home = load_settings().home
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.read() as con:
        snapshot = read_snapshot(con, active_version(home), "24 hours", COIN, now, [COIN], [COIN])
    series = snapshot.series.dropna(subset=["mean_sentiment"])
    assert not series.empty
    shares = series[["share_negative", "share_neutral", "share_positive"]].sum(axis=1)
    assert shares.round(6).eq(1).all()  # float shares, not PostgreSQL's integer division
    assert not snapshot.forecast.empty and not snapshot.daily.empty
    assert snapshot.headlines["share_positive"].between(0, 1).all()

    server = ForecastServer({COIN: price_model.load(home, COIN)}, db, refresh_seconds=0)
    answer = server.forecast(COIN, 7)
    assert len(answer["points"]) == 7
    assert answer["last_price_date"] == str(today)
    assert server.coins()[0]["backtest"]


# SQL that DuckDB accepts and PostgreSQL does not (deploy/STORAGE.md has the portable forms)
DUCKDB_ONLY = re.compile(
    r"GROUP BY ALL|\barg_(?:max|min)\(|\bQUALIFY\b|\bEXCLUDE\s*\(|CREATE OR REPLACE"
    r"|\blist_sort\(|\bdatediff\(|\bisnan\(|\bisinf\(|\bany_value\(|\bto_minutes\("
    r"|\btime_bucket\((?!con,)|INTERVAL \d"
)
# the storage layer itself, and the published snapshot (a DuckDB file whatever the backend)
DUCKDB_FILES = {"analysis/publish.py", "serving/analysis.py", "storage/sql.py", "storage/db.py"}


def test_no_duckdb_only_sql_outside_the_storage_layer():
    package = Path(__file__).resolve().parents[2] / "ecoin_assets"
    found = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        if path.relative_to(package).as_posix() not in DUCKDB_FILES
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if DUCKDB_ONLY.search(line) and "np.isnan" not in line
    ]
    assert not found, "\n".join(found)
