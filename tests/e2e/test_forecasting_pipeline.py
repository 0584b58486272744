"""Forecasting end to end: Dagster assets over sandbox prices, then the CLI in new processes."""

import json
from datetime import date, timedelta

import dagster as dg
import pytest
from ecoin_cli import run_ecoin

from ecoin_assets.config import load_settings
from ecoin_assets.definitions import build_defs
from ecoin_assets.prices.fetch import fetch_and_store
from ecoin_assets.prices.store import points_frame, upsert_prices
from ecoin_assets.sources.coingecko import CoinGeckoClient, DailyPoint
from ecoin_assets.storage import Database

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture
def db(sandbox) -> Database:
    """Four years of solana from the sandbox in $ECOIN_HOME/ecoin.duckdb."""
    database = Database(load_settings().db_path)
    client = CoinGeckoClient(sandbox.api_url, calls_per_minute=1000)
    end = date.today() - timedelta(days=1)
    fetch_and_store(database, client, ["solana"], end - timedelta(days=4 * 365), end)
    return database


def test_assets_then_cli_predict_gives_the_same_numbers(db):
    with dg.DagsterInstance.ephemeral() as instance:
        result = (
            build_defs()
            .resolve_job_def("forecast_job")
            .execute_in_process(partition_key="solana", instance=instance, run_config=QUIET)
        )
    assert result.success
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(meta) == {
        "price_features",
        "price_model",
        "forecast_backtest",
        "price_forecasts",
        "finance_features",
        "model_comparison",
        "forecast_scores",
    }
    [gate] = result.get_asset_check_evaluations()
    assert gate.check_name == "backtest_gate" and gate.passed, gate.description
    assert meta["price_model"]["served"].value is True
    assert meta["price_model"]["gate"].value.startswith("passed the gate: 7-day backtest MASE")
    assert meta["price_model"]["served_version"].value == meta["price_model"]["model_version"].value
    assert meta["forecast_backtest"]["forecast_vs_actual_7d"].value.startswith(
        "![backtest](data:image/png;base64,"
    )
    assert 0 < meta["forecast_backtest"]["mase_7d"].value < 2
    version = meta["price_model"]["model_version"].value

    stored = db.query(
        """
        SELECT target_date, yhat, yhat_lower, yhat_upper FROM forecasts
        WHERE coin_id = 'solana' AND model_version = ? ORDER BY target_date""",
        [version],
    )
    assert len(stored) == 14
    # one backtest: the gate judged the one forecast_backtest stored, it did not make its own
    backtests = db.query("SELECT horizon, mase, coverage FROM forecast_backtests")
    assert [h for h, *_ in backtests] == list(range(1, 31))
    assert db.query("SELECT count(*) FROM price_features WHERE coin_id = 'solana'")[0][0] > 1000
    compared = db.query(
        "SELECT model, n_origins, test_start, test_end FROM model_comparison ORDER BY model"
    )
    assert [m for m, *_ in compared] == ["linear regression", "naive", "neuralprophet"]
    assert len({tuple(row[1:]) for row in compared}) == 1  # the same origins for all three

    proc = run_ecoin("forecast", "predict", "--coin", "solana", "--horizon", "14", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no training, no warnings, no progress bars
    predicted = json.loads(proc.stdout)
    assert [p["date"] for p in predicted] == [str(d) for d, *_ in stored]
    for p, (_, yhat, lower, upper) in zip(predicted, stored, strict=True):
        assert (p["yhat"], p["yhat_lower"], p["yhat_upper"]) == pytest.approx(
            (yhat, lower, upper), rel=1e-9
        )
        assert p["yhat_lower"] < p["yhat"] < p["yhat_upper"]


def test_cli_train_and_backtest(db):
    proc = run_ecoin("forecast", "train", "--coin", "solana", "--horizon", "7")
    assert proc.returncode == 0, proc.stderr
    assert "forecasts up to 7 days" in proc.stdout
    too_far = run_ecoin("forecast", "predict", "--coin", "solana", "--horizon", "8")
    assert too_far.returncode == 1 and "ecoin forecast train --coin" in too_far.stderr
    table = run_ecoin("forecast", "predict", "--coin", "solana", "--horizon", "3")
    assert table.returncode == 0 and "80% interval" in table.stdout

    proc = run_ecoin("forecast", "backtest", "--coin", "solana", "--horizon", "7", "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert {"mae", "mape", "mase", "naive_mae", "interval", "coverage", "n_origins"} <= set(scores)
    assert scores["interval"] == 0.8 and scores["n_origins"] > 300
    assert scores["mase"] == pytest.approx(scores["mae"] / scores["naive_mae"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "predict", "--coin", "solana", "--horizon", "0"], "outside 1-30"),
        (["forecast", "predict", "--coin", "solana", "--horizon", "31"], "outside 1-30"),
        (["forecast", "backtest", "--coin", "solana", "--horizon", "45"], "outside 1-30"),
        (["forecast", "train", "--coin", "solana", "--horizon", "0"], "outside 1-30"),
        (["forecast", "predict", "--coin", "solana", "--horizon", "3"], "no trained model"),
        (["forecast", "train", "--coin", "nosuchcoin"], "no prices stored for nosuchcoin"),
        (["forecast", "train", "--coin", "tiny"], "needs at least"),
        (["forecast", "backtest", "--coin", "tiny", "--horizon", "7"], "needs at least"),
    ],
)
def test_cli_errors_are_one_clear_line(args, message):
    start = date(2024, 1, 1)
    with Database(load_settings().db_path).write() as con:
        upsert_prices(
            con,
            points_frame(
                DailyPoint("tiny", start + timedelta(days=i), 1.0 + i / 100, None, None)
                for i in range(100)
            ),
            source="test",
        )
    proc = run_ecoin(*args)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, proc.stderr
