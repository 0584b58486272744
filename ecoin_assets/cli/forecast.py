"""`ecoin forecast train | predict | backtest`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ecoin_assets.cli.common import database, json_option, print_json, settings
from ecoin_assets.forecasting.model import MAX_HORIZON


@click.group()
def forecast() -> None:
    """Per-coin NeuralProphet forecasts with 80% prediction intervals."""


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option(
    "--horizon",
    type=int,
    default=MAX_HORIZON,
    show_default=True,
    metavar="N",
    help=f"Longest horizon the model will forecast (1-{MAX_HORIZON}).",
)
@json_option
def train(coin: str, horizon: int, as_json: bool) -> None:
    """Train and save the coin's model (under $ECOIN_HOME/models) from the stored prices.

    The latest model of every coin is then bundled as ecoin-forecast in the BentoML store
    ($ECOIN_HOME/bentoml), which the forecast service serves.
    """
    from ecoin_assets.forecasting.registry import register_bentoml
    from ecoin_assets.forecasting.service import train_model

    cfg = settings()
    model = train_model(database(), cfg.home, coin, horizon)
    tag = register_bentoml(cfg.home)
    if as_json:
        print_json(model.meta() | {"bentoml_tag": tag})
        return
    click.echo(
        f"trained {model.coin_id} model {model.version} on {model.trained_from}.."
        f"{model.trained_to} (calibrated to {model.calibrated_to}) in "
        f"{model.train_seconds:.1f} s; forecasts up to {len(model.scale)} days; "
        f"BentoML model {tag}"
    )


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--horizon", type=int, required=True, metavar="N", help="Days ahead (1-30).")
@click.option("--version", metavar="VERSION", help="Model version (default: the latest).")
@json_option
def predict(coin: str, horizon: int, version: str | None, as_json: bool) -> None:
    """Forecast the next N days from the latest stored price, with the saved model."""
    from ecoin_assets.forecasting.service import predict as run_predict

    model, points = run_predict(database(), settings().home, coin, horizon, version)
    if as_json:
        print_json(
            [
                {
                    "date": r.date,
                    "yhat": r.yhat,
                    "yhat_lower": r.yhat_lower,
                    "yhat_upper": r.yhat_upper,
                }
                for r in points.itertuples()
            ]
        )
        return
    table = Table(
        "date",
        "forecast (USD)",
        f"{model.config.interval:.0%} interval (USD)",
        title=f"{model.coin_id}, model {model.version}",
    )
    for r in points.itertuples():
        table.add_row(str(r.date), f"{r.yhat:,.6g}", f"{r.yhat_lower:,.6g} - {r.yhat_upper:,.6g}")
    Console().print(table)


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--horizon", type=int, required=True, metavar="N", help="Days ahead (1-30).")
@json_option
def backtest(coin: str, horizon: int, as_json: bool) -> None:
    """Backtest the model over the last 365 days against the naive last-value forecast.

    The model is trained on the history before the test window and forecasts from every day
    in it; MASE below 1 means it beats naive.
    """
    from ecoin_assets.forecasting.model import check_horizon
    from ecoin_assets.forecasting.service import backtest as run_backtest
    from ecoin_assets.forecasting.service import store_backtest

    check_horizon(horizon)
    db = database()
    result = run_backtest(db, coin, horizon)
    store_backtest(db, result)
    scores = result.at(horizon)
    if as_json:
        print_json(scores)
        return
    click.echo(
        f"{scores['coin']} {horizon}-day forecasts, {scores['n_origins']} origins "
        f"{scores['test_start']}..{scores['test_end']}: MAE {scores['mae']:,.6g} "
        f"(naive {scores['naive_mae']:,.6g}), MAPE {scores['mape']:.2f}%, "
        f"MASE {scores['mase']:.3f}, {scores['interval']:.0%} interval coverage "
        f"{scores['coverage']:.1%}"
    )
