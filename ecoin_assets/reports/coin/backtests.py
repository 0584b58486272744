"""The one-day-ahead backtest of the naive, linear and NeuralProphet models
(`model_comparison`), and NeuralProphet's latest backtest at the report's horizon."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.storage import Database

MODELS = ("naive", "linear regression", "neuralprophet")


def comparison(db: Database, coin: str) -> pd.DataFrame:
    """The stored one-day-ahead scores of the three models (`model_comparison`)."""
    frame = db.query_df(
        "SELECT model, n_origins, mae, mape, naive_mae, mase, test_start, test_end "
        "FROM model_comparison WHERE coin_id = ? AND horizon = 1",
        [coin],
    )
    order = {name: i for i, name in enumerate(MODELS)}
    return frame.sort_values("model", key=lambda s: s.map(order)).reset_index(drop=True)


def backtest_table(frame: pd.DataFrame, coin: str) -> Styler | Markdown:
    if frame.empty:
        return display.note(
            f"no backtest of {coin} is stored yet: materialize model_comparison "
            "(forecast_job) in Dagster."
        )
    window = f"{frame['test_start'].iloc[0]:%Y-%m-%d} to {frame['test_end'].iloc[0]:%Y-%m-%d}"
    shown = frame.drop(columns=["test_start", "test_end"]).rename(
        columns={
            "n_origins": "origins",
            "mae": "MAE (USD)",
            "mape": "MAPE (%)",
            "naive_mae": "naive MAE (USD)",
            "mase": "MASE",
        }
    )
    money = "{:,.6g}"
    return display.table(
        shown,
        {"MAE (USD)": money, "MAPE (%)": "{:.3f}", "naive MAE (USD)": money, "MASE": "{:.3f}"},
    ).set_caption(f"One day ahead, test window {window}; MASE below 1 beats the naive forecast.")


def latest_backtest(db: Database, coin: str, horizon: int) -> pd.Series | None:
    """NeuralProphet's latest rolling-origin backtest at `horizon` days (None: none stored)."""
    frame = db.query_df(
        "SELECT model_version, n_origins, mae, mape, naive_mae, mase, interval, coverage, "
        "test_start, test_end FROM forecast_backtests WHERE coin_id = ? AND horizon = ? "
        "ORDER BY created_at DESC LIMIT 1",
        [coin, horizon],
    )
    return None if frame.empty else frame.iloc[0]


def horizon_backtest(row: pd.Series | None, coin: str, horizon: int) -> Styler | Markdown:
    if row is None:
        return display.note(
            f"no {horizon}-day backtest of {coin} is stored: run 'ecoin forecast "
            f"backtest --coin {coin} --horizon {horizon}' or materialize "
            "forecast_backtest."
        )
    coverage = f"{row['interval']:.0%} interval coverage (%)"
    shown = pd.DataFrame(
        {
            "model version": [row["model_version"]],
            "origins": [row["n_origins"]],
            "MAE (USD)": [row["mae"]],
            "naive MAE (USD)": [row["naive_mae"]],
            "MASE": [row["mase"]],
            "MAPE (%)": [row["mape"]],
            coverage: [row["coverage"] * 100],
        }
    )
    return display.table(
        shown,
        {
            "MAE (USD)": "{:,.6g}",
            "naive MAE (USD)": "{:,.6g}",
            "MASE": "{:.3f}",
            "MAPE (%)": "{:.3f}",
            coverage: "{:.1f}",
        },
    ).set_caption(
        f"NeuralProphet, {horizon} days ahead, test window "
        f"{row['test_start']:%Y-%m-%d} to {row['test_end']:%Y-%m-%d}."
    )
