"""Finance features, risk classes and the model comparison on stored data (CLI and assets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.analysis.correlation import FREQUENCIES, align_asof, correlation_stats
from ecoin_assets.analysis.finance import FINANCE_COLUMNS, finance_features, risk_classes
from ecoin_assets.analysis.linear import backtest_linear, scores
from ecoin_assets.errors import NoDataError, NotFoundError, Remedy, UserError
from ecoin_assets.forecasting.backtest import TEST_DAYS
from ecoin_assets.prices.hourly import load_hourly
from ecoin_assets.prices.store import load_prices
from ecoin_assets.storage import Database
from ecoin_assets.storage.rows import replace_rows
from ecoin_assets.storage.sql import time_bucket

COMPARISON_COLUMNS = [
    "coin_id",
    "model",
    "horizon",
    "n_origins",
    "mae",
    "mape",
    "naive_mae",
    "mase",
    "test_start",
    "test_end",
    "created_at",
]


def _replace(db: Database, table: str, key: dict, frame: pd.DataFrame, columns: list[str]):
    """Delete `table`'s rows matching `key` and insert `frame`'s, in one transaction."""
    with db.write() as con:
        replace_rows(con, table, frame, columns, key)


def refresh_finance(db: Database, coin: str) -> pd.DataFrame:
    """Rebuild the coin's `finance_features` and `price_risk_classes` from its prices."""
    prices = load_prices(db, coin)
    features = finance_features(prices)
    _replace(db, "finance_features", {"coin_id": coin}, features, FINANCE_COLUMNS)
    risks = risk_classes(prices)
    _replace(db, "price_risk_classes", {"coin_id": coin}, risks, list(risks.columns))
    return features


def compare_models(db: Database, coin: str) -> pd.DataFrame:
    """One-day-ahead MAE, MAPE and MASE of the naive forecast, the linear regression and the
    NeuralProphet model on the same test window (the coin's latest NeuralProphet backtest's,
    else the last 365 days); stored in `model_comparison`."""
    # the features the finance_features asset stores, computed again rather than read: it is
    # a fraction of a second, and the comparison never runs on a stale table
    features = finance_features(load_prices(db, coin))
    prophet = db.query_df(
        "SELECT * FROM forecast_backtests WHERE coin_id = ? AND horizon = 1 "
        "ORDER BY created_at DESC LIMIT 1",
        [coin],
    )
    if prophet.empty:
        last = pd.Timestamp(features["date"].max())
        window = (last - pd.Timedelta(days=TEST_DAYS - 1), last)
    else:
        window = (pd.Timestamp(prophet["test_start"][0]), pd.Timestamp(prophet["test_end"][0]))
    cutoff = window[0] - pd.Timedelta(days=1)  # the last day the models learn from
    paths = backtest_linear(features, cutoff)
    paths = paths[pd.to_datetime(paths["target"]) <= window[1]]
    actual, naive = paths["actual"].to_numpy(), paths["naive"].to_numpy()
    rows = [
        {"model": "naive", **scores(actual, naive, naive)},
        {"model": "linear regression", **scores(actual, paths["yhat"].to_numpy(), naive)},
    ]
    if not prophet.empty:
        p = prophet.iloc[0]
        rows.append(
            {
                "model": "neuralprophet",
                **{k: p[k] for k in ("n_origins", "mae", "mape", "naive_mae", "mase")},
            }
        )
    table = pd.DataFrame(rows).assign(
        coin_id=coin,
        horizon=1,
        test_start=window[0].date(),
        test_end=window[1].date(),
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    _replace(db, "model_comparison", {"coin_id": coin}, table, COMPARISON_COLUMNS)
    return table[COMPARISON_COLUMNS]


def sentiment_periods(
    db: Database, topic: str, version: str, freq: str, start: datetime, end: datetime
) -> pd.DataFrame:
    """`ts` (period start), `sentiment` (mean over the period's posts, each post once),
    `posts` and the `negative`, `neutral` and `positive` counts of one topic, by the given
    model version, for periods in [start, end)."""
    minutes = {"hour": 60, "day": 1440}[freq]
    with db.read() as con:
        return con.execute(
            f"""
            SELECT ts, sum(mean_sentiment * scored) / sum(scored) AS sentiment,
                   sum(scored) AS posts, sum(negative) AS negative, sum(neutral) AS neutral,
                   sum(positive) AS positive
            FROM (SELECT *, {time_bucket(con, "minute")} AS ts FROM topic_minute_sentiment
                  WHERE topic = ? AND model_version = ? AND minute >= ? AND minute < ?) bucketed
            GROUP BY ts ORDER BY ts
            """,
            [minutes, topic, version, start, end],
        ).df()


def price_points(db: Database, coin: str, freq: str = "day") -> pd.DataFrame:
    """`ts`, `price_usd`: each stored daily price at the instant it stands for (00:00 UTC),
    and for hourly work also the hourly observations (`prices_hourly`), oldest first."""
    if freq != "hour":
        frame = load_prices(db, coin)
        return pd.DataFrame({"ts": pd.to_datetime(frame["date"]), "price_usd": frame["price_usd"]})
    daily = db.query_df(
        "SELECT CAST(date AS TIMESTAMP) AS ts, price_usd FROM prices WHERE coin_id = ?", [coin]
    )
    points = pd.concat([daily, load_hourly(db, coin)]).dropna(subset=["price_usd"])
    if points.empty:
        raise NotFoundError(
            f"no prices stored for {coin}", remedy=Remedy.FETCH_HOURLY_PRICES, coin=coin
        )
    points["ts"] = pd.to_datetime(points["ts"])
    points = points.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    return points.reset_index(drop=True)


def correlate(
    db: Database,
    coin: str,
    topic: str,
    version: str,
    freq: str = "day",
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The aligned series and its correlation table for `topic`'s sentiment against `coin`'s
    price and returns over [start, end) (default: all stored posts), stored in
    `sentiment_price_correlation`."""
    if freq not in FREQUENCIES:
        raise UserError(f"unknown frequency {freq!r}: use one of {', '.join(FREQUENCIES)}")
    window = "" if start is None and end is None else f" between {start} and {end}"
    start = start or datetime(1970, 1, 1)
    end = end or datetime.now(UTC).replace(tzinfo=None)
    if start >= end:
        raise UserError(f"the window {start} .. {end} is empty: --start must come before --end")
    periods = sentiment_periods(db, topic, version, freq, start, end)
    if periods.empty:
        raise NoDataError(
            f"no scored posts on topic {topic!r}{window} yet (model {version})",
            remedy=Remedy.INGEST_POSTS,
        )
    aligned = align_asof(periods, price_points(db, coin, freq), freq)
    stats = correlation_stats(aligned)
    rows = stats.assign(
        coin_id=coin,
        topic=topic,
        freq=freq,
        window_start=start,
        window_end=end,
        model_version=version,
        computed_at=datetime.now(UTC).replace(tzinfo=None),
    )
    key = {"coin_id": coin, "topic": topic, "freq": freq}
    _replace(db, "sentiment_price_correlation", key, rows, CORRELATION_COLUMNS)
    return aligned, stats


def best_lag_text(stats: pd.DataFrame, freq: str) -> str:
    """One line on the strongest Pearson correlation with returns, or why there is none."""
    returns = stats[(stats["against"] == "return") & (stats["method"] == "pearson")]
    known = returns.dropna(subset=["r"])
    if known.empty:
        return f"too few {freq}s with posts ({int(returns['n'].max())} pairs)"
    row = known.loc[known["r"].abs().idxmax()]
    return f"lag {int(row['lag']):+d}: r {row['r']:+.3f}, p {row['p_value']:.3g}, n {row['n']}"


CORRELATION_COLUMNS = [
    "coin_id",
    "topic",
    "freq",
    "window_start",
    "window_end",
    "model_version",
    "lag",
    "against",
    "method",
    "r",
    "p_value",
    "n",
    "computed_at",
]
