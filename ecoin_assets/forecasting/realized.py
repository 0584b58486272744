"""How the published forecasts actually did: each stored forecast point is scored once its
target day's price arrives, then summarized per coin and horizon over trailing windows.

A point's naive counterpart is the forecast a naive forecaster issued the same day: the price
at `forecast_date`. Realized MASE is the ratio of the two mean absolute errors over the same
points (below 1: the model beat naive), as in the backtests; realized coverage is the share
of actual prices inside the interval. When several forecasts share an origin and target (a
retrained model forecast the same day again, or `ecoin forecast history` filled a day), the
first issued counts: it is the one people saw.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd

from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import NoDataError, NotFoundError, Remedy
from ecoin_assets.storage import Connection, Database

WINDOWS = (30, 90)  # trailing days of target dates
SUMMARY_COLUMNS = [
    "coin_id",
    "window_days",
    "horizon",
    "n",
    "mae",
    "naive_mae",
    "mase",
    "mape",
    "interval",
    "coverage",
    "first_target",
    "last_target",
]


def score_new_forecasts(db: Database, coin_id: str | None = None) -> int:
    """Score every stored forecast point of `coin_id` (all coins when None) whose target and
    origin prices are stored and that is not scored yet; returns how many were scored."""
    where = "" if coin_id is None else "AND f.coin_id = ?"
    params: list = [datetime.now(UTC).replace(tzinfo=None)]
    if coin_id is not None:
        params.append(validate_coin_id(coin_id))
    with db.write() as con:
        before = con.execute("SELECT count(*) FROM forecast_scores").fetchone()[0]
        con.execute(
            f"""
            INSERT INTO forecast_scores
            SELECT f.coin_id, f.forecast_date, f.target_date, f.model_version, f.horizon,
                   f.yhat, f.yhat_lower, f.yhat_upper, f.interval, f.created_at,
                   t.price_usd, o.price_usd, ?
            FROM forecasts f
            JOIN prices t ON t.coin_id = f.coin_id AND t.date = f.target_date
            JOIN prices o ON o.coin_id = f.coin_id AND o.date = f.forecast_date
            WHERE NOT EXISTS (
                SELECT 1 FROM forecast_scores s
                WHERE s.coin_id = f.coin_id AND s.forecast_date = f.forecast_date
                  AND s.target_date = f.target_date AND s.model_version = f.model_version
            ) {where}""",
            params,
        )
        after = con.execute("SELECT count(*) FROM forecast_scores").fetchone()[0]
    return int(after - before)


def scored_points(con: Connection, coin_id: str, since: date) -> pd.DataFrame:
    """The scored points of a coin with a target date on or after `since`, one per origin
    and target: the first issued."""
    frame = con.execute(
        "SELECT * FROM forecast_scores WHERE coin_id = ? AND target_date >= ? "
        "ORDER BY forecast_date, target_date, issued_at, model_version",
        [coin_id, since],
    ).df()
    if frame.empty:
        return frame
    frame["forecast_date"] = pd.to_datetime(frame["forecast_date"]).dt.date
    frame["target_date"] = pd.to_datetime(frame["target_date"]).dt.date
    return frame.drop_duplicates(["forecast_date", "target_date"], keep="first").reset_index(
        drop=True
    )


def summarize(
    points: pd.DataFrame, as_of: date, windows: tuple[int, ...] = WINDOWS
) -> pd.DataFrame:
    """Realized MAE, naive MAE, MASE, MAPE and coverage per trailing window and horizon, over
    the points whose target date lies in the `window` days ending at `as_of`."""
    rows = []
    for window in windows:
        first = as_of - timedelta(days=window - 1)
        part = points[(points["target_date"] >= first) & (points["target_date"] <= as_of)]
        for horizon, group in part.groupby("horizon"):
            error = (group["actual"] - group["yhat"]).abs()
            naive_error = (group["actual"] - group["naive"]).abs()
            inside = (group["yhat_lower"] <= group["actual"]) & (
                group["actual"] <= group["yhat_upper"]
            )
            naive_mae = float(naive_error.mean())
            rows.append(
                {
                    "coin_id": group["coin_id"].iloc[0],
                    "window_days": window,
                    "horizon": int(horizon),
                    "n": len(group),
                    "mae": float(error.mean()),
                    "naive_mae": naive_mae,
                    "mase": float(error.mean()) / naive_mae if naive_mae else None,
                    "mape": float((error / group["actual"]).mean() * 100),
                    "interval": float(group["interval"].iloc[0]),
                    "coverage": float(inside.mean()),
                    "first_target": min(group["target_date"]),
                    "last_target": max(group["target_date"]),
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def stored_scores(
    con: Connection, coin_id: str, windows: tuple[int, ...] = WINDOWS, as_of: date | None = None
) -> pd.DataFrame:
    """The summary of what is scored (reads only), windows ending at `as_of` (default: the
    coin's latest stored price). NoDataError when nothing is scored yet."""
    coin_id = validate_coin_id(coin_id)
    if as_of is None:
        latest = con.execute("SELECT max(date) FROM prices WHERE coin_id = ?", [coin_id]).fetchone()
        if not latest or latest[0] is None:
            raise NotFoundError(f"no prices stored for coin {coin_id!r}: nothing to score")
        as_of = pd.Timestamp(latest[0]).date()
    points = scored_points(con, coin_id, as_of - timedelta(days=max(windows) - 1))
    if points.empty:
        raise NoDataError(
            f"no forecast of {coin_id} has reached its target day yet",
            remedy=Remedy.ISSUE_PAST_FORECASTS,
            coin=coin_id,
        )
    return summarize(points, as_of, windows)


def realized_scores(
    db: Database, coin_id: str, windows: tuple[int, ...] = WINDOWS, as_of: date | None = None
) -> pd.DataFrame:
    """Score what has become scorable, then summarize (`stored_scores`)."""
    score_new_forecasts(db, coin_id)
    with db.read() as con:
        return stored_scores(con, coin_id, windows, as_of)
