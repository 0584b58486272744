"""`ecoin forecast train | models | promote | predict | backtest | scores | history`."""

from __future__ import annotations

from dataclasses import asdict

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from ecoin_assets.cli.common import database, json_option, print_json, settings
from ecoin_assets.forecasting.history import RETRAIN_DAYS
from ecoin_assets.forecasting.model import MAX_HORIZON
from ecoin_assets.forecasting.service import FORECAST_DAYS


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
@click.option(
    "--force", is_flag=True, help="Serve the new model even if its backtest gate refuses it."
)
@json_option
def train(coin: str, horizon: int, force: bool, as_json: bool) -> None:
    """Train and save the coin's model (under $ECOIN_HOME/models) from the stored prices.

    The model is served only if it passes the quality gate: its configuration's 365-day
    backtest (stored, or made now) must be no worse than naive by more than 1% at 7 days
    (MASE at most 1.01) with 80% interval coverage of 70-90%. A refused model stays stored
    with its verdict ('ecoin forecast models'); --force serves it anyway. The served model of
    every coin is bundled as ecoin-forecast in the BentoML store ($ECOIN_HOME/bentoml), which
    the forecast service serves.
    """
    from ecoin_assets.forecasting.registry import register_bentoml
    from ecoin_assets.forecasting.service import train_model

    cfg = settings()
    model, verdict = train_model(database(), cfg.home, coin, horizon, force=force)
    tag = register_bentoml(cfg.home)
    if as_json:
        print_json(
            model.meta() | {"served": verdict.serve, "gate": verdict.as_json(), "bentoml_tag": tag}
        )
        return
    click.echo(
        f"trained {model.coin_id} model {model.version} on {model.trained_from}.."
        f"{model.trained_to} (calibrated to {model.calibrated_to}) in "
        f"{model.train_seconds:.1f} s; forecasts up to {len(model.scale)} days"
    )
    if verdict.passed:
        click.echo(f"{verdict.summary()}; now served (BentoML model {tag})")
    elif verdict.forced:
        click.echo(f"{verdict.summary()}; served anyway (--force; BentoML model {tag})")
    else:
        click.echo(
            f"{verdict.summary()}; it stays stored, the served model is unchanged "
            "(--force, or 'ecoin forecast promote --force', serves it)"
        )


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@json_option
def models(coin: str, as_json: bool) -> None:
    """The coin's stored models, newest first: which one is served and each one's gate."""
    from ecoin_assets.forecasting.service import model_versions

    rows = model_versions(settings().home, coin)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no {coin} model is stored: run 'ecoin forecast train --coin {coin}'")
        return
    table = Table("version", "served", "gate", title=f"{coin} forecast models")
    for row in rows:
        verdict = row["verdict"]
        why = "saved before gates existed" if verdict is None else _verdict_text(verdict)
        table.add_row(row["version"], "yes" if row["served"] else "", why)
    Console().print(table)


def _verdict_text(verdict: dict) -> str:
    from ecoin_assets.forecasting.gate import Verdict

    parsed = Verdict(**verdict)
    return parsed.summary() + ("; served with --force" if parsed.forced else "")


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--version", required=True, metavar="VERSION", help="A stored model version.")
@click.option("--force", is_flag=True, help="Serve it even though its gate refused it.")
def promote(coin: str, version: str, force: bool) -> None:
    """Serve a stored model version (e.g. to roll back); a refused one needs --force."""
    from ecoin_assets.forecasting.registry import register_bentoml
    from ecoin_assets.forecasting.service import promote as serve_version

    cfg = settings()
    serve_version(cfg.home, coin, version, force=force)
    tag = register_bentoml(cfg.home)
    click.echo(f"{coin} model {version} is now served (BentoML model {tag})")


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--horizon", type=int, required=True, metavar="N", help="Days ahead (1-30).")
@click.option("--version", metavar="VERSION", help="Model version (default: the served one).")
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


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option(
    "--horizon",
    "horizons",
    type=int,
    multiple=True,
    metavar="N",
    help="Horizons to show, repeatable (default: 1, 7, 14 and 30 where scored; --json: all).",
)
@json_option
def scores(coin: str, horizons: tuple[int, ...], as_json: bool) -> None:
    """How the stored forecasts did: realized scores over the trailing 30 and 90 days.

    Every stored forecast is scored once its target day's price is stored: MAE against the
    naive forecast issued the same day (the price on the forecast's day), MASE (below 1 beats
    naive) and the share of prices inside the interval. Days end at the latest stored price.
    """
    from ecoin_assets.forecasting.realized import realized_scores

    summary = realized_scores(database(), coin)
    if horizons:
        summary = summary[summary["horizon"].isin(horizons)]
    elif not as_json:
        summary = summary[summary["horizon"].isin([1, 7, 14, 30])]
    if as_json:
        print_json(
            [
                {k: (None if pd.isna(v) else v) for k, v in row.items()}
                for row in summary.to_dict("records")
            ]
        )
        return
    table = Table(
        "window",
        "horizon",
        "n",
        "MAE (USD)",
        "naive MAE",
        "MASE",
        "MAPE",
        f"coverage ({summary['interval'].iloc[0]:.0%})" if len(summary) else "coverage",
        title=f"{coin}: realized forecast scores, target days up to {summary['last_target'].max()}",
    )
    for r in summary.itertuples():
        table.add_row(
            f"{r.window_days} days",
            f"{r.horizon} d",
            str(r.n),
            f"{r.mae:,.6g}",
            f"{r.naive_mae:,.6g}",
            "-" if pd.isna(r.mase) else f"{r.mase:.3f}",
            f"{r.mape:.2f}%",
            f"{r.coverage:.1%}",
        )
    Console().print(table)


@forecast.command()
@click.option("--coin", required=True, metavar="ID", help="CoinGecko coin id.")
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day to forecast from.")
@click.option(
    "--horizon",
    type=int,
    default=FORECAST_DAYS,
    show_default=True,
    metavar="N",
    help="Days ahead of each forecast (1-30).",
)
@click.option(
    "--retrain-days",
    type=int,
    default=RETRAIN_DAYS,
    show_default=True,
    metavar="N",
    help="Days each model serves before the next is trained.",
)
@json_option
def history(coin: str, start: str, horizon: int, retrain_days: int, as_json: bool) -> None:
    """Issue the forecasts that would have been made each day since START, then score them.

    One model per retraining period, trained on the prices known on its first day; each day's
    forecast uses only the prices up to that day. Days with a stored forecast are skipped, so
    a rerun resumes. The models are not saved: the served model is unchanged.
    """
    from ecoin_assets.forecasting.history import issue_history
    from ecoin_assets.prices.fetch import parse_date

    result = issue_history(
        database(),
        coin,
        parse_date(start, "--start"),
        horizon=horizon,
        retrain_days=retrain_days,
        progress=lambda line: click.echo(line, err=True),
    )
    if as_json:
        print_json(asdict(result))
        return
    click.echo(
        f"{result.coin_id}: forecasts from {result.issued_days} days {result.start}.."
        f"{result.end} by {len(result.models)} model(s) ({result.points} points, "
        f"{result.scored} already scored; {result.skipped_days} days already had one); "
        f"see 'ecoin forecast scores --coin {result.coin_id}'"
    )
