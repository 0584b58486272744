"""Dagster assets of the forecasting domain, one partition per coin."""

import base64
import io

import dagster as dg
import pandas as pd

from ecoin_assets.automation import AFTER_NEW_INPUTS, stale_after
from ecoin_assets.dagster_shared import DUCKDB_POOL, coin_partitions, md_table, per_coin_prices
from ecoin_assets.errors import NoDataError
from ecoin_assets.forecasting import gate, realized, service
from ecoin_assets.forecasting.backtest import Backtest
from ecoin_assets.forecasting.model import served_version
from ecoin_assets.forecasting.registry import register_bentoml
from ecoin_assets.resources import EcoinSettings, EcoinStore


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[per_coin_prices],
    pool=DUCKDB_POOL,
    group_name="forecasting",
    kinds={"duckdb", "pandas"},
    description=(
        "Daily features per coin (`price_features`): log price and returns, 7/30-day "
        "volatility, volume and market cap, weekday, and the previous day's sentiment."
    ),
)
def price_features(
    context: dg.AssetExecutionContext, store: EcoinStore, settings: EcoinSettings
) -> dg.MaterializeResult:
    frame = service.refresh_features(
        store.database(), settings.resolve().home, context.partition_key
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "first_date": str(frame["date"].iloc[0]),
            "last_date": str(frame["date"].iloc[-1]),
            "preview": md_table(frame.tail(5)),
        }
    )


GATE_CHECK = "backtest_gate"


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[price_features, dg.AssetKey("forecast_backtest")],
    group_name="forecasting",
    kinds={"pytorch"},
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="price_model",
            blocking=True,
            description=(
                f"The new model is served only if its {gate.GATE_HORIZON}-day backtest MASE "
                f"is at most {gate.MAX_MASE} and its 80% interval covers "
                f"{gate.COVERAGE_RANGE[0]:.0%}-{gate.COVERAGE_RANGE[1]:.0%}; a refused model "
                "stays stored, the served one is unchanged, and forecasts wait."
            ),
        )
    ],
    description=(
        "The coin's NeuralProphet model (daily log returns, AR-Net over 14 lags, 30-day "
        "direct forecasts) with conformal 80% intervals, saved under $ECOIN_HOME/models; "
        "served (and bundled with the other coins' served models as ecoin-forecast in the "
        "BentoML store) only if it passes the backtest gate."
    ),
)
def price_model(
    context: dg.AssetExecutionContext, store: EcoinStore, settings: EcoinSettings
) -> dg.MaterializeResult:
    home = settings.resolve().home
    model, verdict = service.train_model(store.database(), home, context.partition_key)
    bento_tag = register_bentoml(home)
    steps = [1, 7, 14, 30]
    gate_figures = {
        "mase_7d": round(verdict.mase, 4),
        "coverage_7d": round(verdict.coverage, 4),
        "backtest": verdict.backtest_version,
    }
    return dg.MaterializeResult(
        metadata={
            "model_version": model.version,
            "served": verdict.serve,
            "gate": verdict.summary(),
            "served_version": served_version(home, model.coin_id) or "none",
            "trained_from": str(model.trained_from),
            "trained_to": str(model.trained_to),
            "calibrated_to": str(model.calibrated_to),
            "train_seconds": round(model.train_seconds, 2),
            "interval": model.config.interval,
            "path": str(home / "models" / model.coin_id / model.version),
            "bentoml_tag": bento_tag,
            "calibration": md_table(
                pd.DataFrame(
                    {
                        "horizon": steps,
                        "shrink_to_network": [model.shrink[h - 1] for h in steps],
                        "interval_half_width_in_vols": [model.scale[h - 1] for h in steps],
                    }
                )
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=GATE_CHECK,
                passed=verdict.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=verdict.summary(),
                metadata=gate_figures | {"forced": verdict.forced},
            )
        ],
    )


def _plot(result: Backtest, horizon: int) -> dg.MetadataValue:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = result.paths[result.paths["horizon"] == horizon]
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.fill_between(
        paths["target"],
        paths["yhat_lower"],
        paths["yhat_upper"],
        alpha=0.25,
        color="tab:blue",
        label=f"{result.model.config.interval:.0%} interval",
    )
    ax.plot(paths["target"], paths["actual"], color="black", lw=1, label="actual")
    ax.plot(paths["target"], paths["yhat"], color="tab:blue", lw=1, label="forecast")
    ax.plot(paths["target"], paths["naive"], color="tab:orange", lw=0.8, ls="--", label="naive")
    ax.set_title(f"{result.coin_id}: {horizon}-day-ahead forecasts vs actual (backtest)")
    ax.set_ylabel("price (USD)")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buf.getvalue()).decode()
    return dg.MetadataValue.md(f"![backtest](data:image/png;base64,{encoded})")


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[price_features],
    group_name="forecasting",
    kinds={"pytorch", "duckdb"},
    description=(
        "Rolling-origin backtest over the last 365 days against the naive last-value forecast: "
        "MAE, MAPE, MASE and interval coverage per horizon (`forecast_backtests`)."
    ),
)
def forecast_backtest(context: dg.AssetExecutionContext, store: EcoinStore) -> dg.MaterializeResult:
    db = store.database()
    result = service.backtest(db, context.partition_key)
    service.store_backtest(db, result)
    table = result.metrics[result.metrics["horizon"].isin([1, 7, 14, 30])]
    seven = result.at(7)
    return dg.MaterializeResult(
        metadata={
            "model_version": result.model.version,
            "test_window": f"{result.test_start}..{result.test_end}",
            "mase_7d": round(seven["mase"], 4),
            "coverage_7d": round(seven["coverage"], 4),
            "beats_naive_7d": bool(seven["mase"] < 1),
            "metrics": md_table(table),
            "forecast_vs_actual_7d": _plot(result, 7),
        }
    )


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[price_model],
    freshness_policy=stale_after(27, warn_hours=26),
    pool=DUCKDB_POOL,
    group_name="forecasting",
    kinds={"duckdb"},
    description=(
        f"The next {service.FORECAST_DAYS} days per coin with 80% intervals from the latest "
        "model (`forecasts`, keyed by coin, forecast date, target date and model version)."
    ),
)
def price_forecasts(
    context: dg.AssetExecutionContext, store: EcoinStore, settings: EcoinSettings
) -> dg.MaterializeResult:
    db = store.database()
    model, points = service.predict(
        db, settings.resolve().home, context.partition_key, service.FORECAST_DAYS
    )
    service.store_forecast(db, model, points)
    return dg.MaterializeResult(
        metadata={
            "model_version": model.version,
            "forecast_date": str(points["date"].iloc[0] - pd.Timedelta(days=1)),
            "forecast": md_table(points),
        }
    )


@dg.asset(
    partitions_def=coin_partitions,
    automation_condition=AFTER_NEW_INPUTS,
    deps=[price_forecasts, per_coin_prices],
    pool=DUCKDB_POOL,
    group_name="forecasting",
    kinds={"duckdb"},
    description=(
        "Every stored forecast scored once its target day's price arrives "
        "(`forecast_scores`): realized MAE and MASE against the naive forecast issued the "
        "same day, and interval coverage, per horizon over the trailing 30 and 90 days."
    ),
)
def forecast_scores(context: dg.AssetExecutionContext, store: EcoinStore) -> dg.MaterializeResult:
    db = store.database()
    coin = context.partition_key
    scored = realized.score_new_forecasts(db, coin)
    try:
        summary = realized.realized_scores(db, coin)
    except NoDataError as exc:
        return dg.MaterializeResult(metadata={"newly_scored": scored, "note": str(exc)})
    metadata: dict = {"newly_scored": scored, "as_of": str(summary["last_target"].max())}
    for window in realized.WINDOWS:
        seven = summary[(summary["window_days"] == window) & (summary["horizon"] == 7)]
        if len(seven):
            metadata[f"mase_7d_{window}d"] = round(float(seven["mase"].iloc[0]), 4)
            metadata[f"coverage_7d_{window}d"] = round(float(seven["coverage"].iloc[0]), 4)
    shown = summary[summary["horizon"].isin([1, 7, 14, 30])].drop(columns="coin_id")
    metadata["scores"] = md_table(shown)
    return dg.MaterializeResult(metadata=metadata)


forecasting_assets = [
    price_features,
    price_model,
    forecast_backtest,
    price_forecasts,
    forecast_scores,
]
