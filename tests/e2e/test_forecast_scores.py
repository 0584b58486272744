"""Realized forecast scores and the history that makes them exist at once."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest
from ecoin_cli import run_ecoin
from factories import daily_prices, geometric_walk, small_model_config, store_prices
from fastapi.testclient import TestClient

from ecoin_assets.config import load_settings
from ecoin_assets.errors import InvalidInputError, NoDataError, NotFoundError
from ecoin_assets.forecasting.history import issue_history
from ecoin_assets.forecasting.realized import realized_scores, score_new_forecasts
from ecoin_assets.serving.data_api import create_app
from ecoin_assets.storage import Database

COIN = "solana"
FIRST = date(2024, 1, 1)
SMALL = small_model_config()


def _prices(days: int, seed: int = 3) -> pd.DataFrame:
    return daily_prices(COIN, geometric_walk(days, seed, tails=4), first=FIRST)


def _forecast(db: Database, origin: date, version: str, yhat: float, issued: str) -> None:
    """A 2-day forecast from `origin`: yhat on both days, interval yhat ± 5."""
    with db.write() as con:
        for h in (1, 2):
            target = origin + timedelta(days=h)
            con.execute(
                "INSERT INTO forecasts VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0.8, ?)",
                [COIN, origin, target, version, h, yhat, yhat - 5, yhat + 5, issued],
            )


def test_points_are_scored_once_when_their_day_has_a_price_and_the_first_issued_counts(
    ecoin_home,
):
    db = Database(ecoin_home / "ecoin.duckdb")
    prices = pd.DataFrame(
        {
            "coin_id": COIN,
            "date": [FIRST + timedelta(days=i) for i in range(3)],
            "price_usd": [100.0, 104.0, 90.0],
            "market_cap_usd": None,
            "volume_usd": None,
        }
    )
    store_prices(db, prices.iloc[:2])
    _forecast(db, FIRST, "v1", 101.0, "2024-01-01 01:00")
    _forecast(db, FIRST, "v2", 150.0, "2024-01-01 05:00")  # issued later: not the one counted
    _forecast(db, FIRST + timedelta(days=1), "v1", 103.0, "2024-01-02 01:00")
    assert score_new_forecasts(db, COIN) == 2  # day 2 only: v1 and v2 from day 1
    assert score_new_forecasts(db, COIN) == 0  # once
    store_prices(db, prices.iloc[2:])
    assert score_new_forecasts(db) == 3  # day 3: from day 1 (h2, v1 and v2) and day 2 (h1)

    summary = realized_scores(db, COIN, windows=(30,)).set_index("horizon")
    # h1: day 2 from day 1 (|104-101| vs naive |104-100|), day 3 from day 2 (|90-103|, |90-104|)
    assert summary.loc[1, "n"] == 2
    assert summary.loc[1, "mae"] == pytest.approx((3 + 13) / 2)
    assert summary.loc[1, "naive_mae"] == pytest.approx((4 + 14) / 2)
    assert summary.loc[1, "mase"] == pytest.approx(16 / 18)
    assert summary.loc[1, "coverage"] == pytest.approx(0.5)  # 104 in 96..106; 90 not in 98..108
    assert summary.loc[2, "mae"] == pytest.approx(11)  # 90 against v1's 101, not v2's 150
    assert summary.loc[2, "naive_mae"] == pytest.approx(10)

    with pytest.raises(NotFoundError, match="no prices stored for coin 'bitcoin'"):
        realized_scores(db, "bitcoin")
    store_prices(db, prices.assign(coin_id="bitcoin"))
    with pytest.raises(NoDataError, match="has reached its target day yet"):
        realized_scores(db, "bitcoin")


def _by_origin(db: Database, last_origin: date) -> pd.DataFrame:
    return db.query_df(
        "SELECT forecast_date, target_date, horizon, yhat, yhat_lower, yhat_upper "
        "FROM forecasts WHERE forecast_date <= ? ORDER BY forecast_date, horizon",
        [last_origin],
    )


def test_history_uses_only_what_was_known_each_day_resumes_and_scores_as_recomputed(tmp_path):
    prices = _prices(400)
    start = FIRST + timedelta(days=330)
    full, cut = Database(tmp_path / "full.duckdb"), Database(tmp_path / "cut.duckdb")
    store_prices(full, prices)
    store_prices(cut, prices.iloc[:361])  # up to start + 30 days: what was known then

    lines: list[str] = []
    done = issue_history(full, COIN, start, horizon=7, config=SMALL, progress=lines.append)
    assert (done.issued_days, done.skipped_days, len(done.models)) == (70, 0, 3)
    assert len(lines) == 3 and "model 1/3 trained on prices to 2024-11-26" in lines[0]
    assert done.points == 70 * 7
    assert done.scored == sum(min(7, (399 - 330) - i) for i in range(70))
    assert all(v.startswith("history-") for v in done.models)
    issue_history(cut, COIN, start, horizon=7, config=SMALL)
    # forecasts from days up to the cut are the same whatever came later
    pd.testing.assert_frame_equal(
        _by_origin(full, FIRST + timedelta(days=360)), _by_origin(cut, FIRST + timedelta(days=360))
    )

    again = issue_history(full, COIN, start, horizon=7, config=SMALL)
    assert (again.issued_days, again.skipped_days, again.models) == (0, 70, [])

    summary = realized_scores(full, COIN).set_index(["window_days", "horizon"])
    as_of = FIRST + timedelta(days=399)
    for window in (30, 90):
        direct = full.query(
            """
            SELECT f.horizon, count(*),
                   avg(abs(t.price_usd - f.yhat)) / avg(abs(t.price_usd - o.price_usd)),
                   avg(CASE WHEN t.price_usd BETWEEN f.yhat_lower AND f.yhat_upper
                       THEN 1.0 ELSE 0.0 END)
            FROM forecasts f
            JOIN prices t ON t.coin_id = f.coin_id AND t.date = f.target_date
            JOIN prices o ON o.coin_id = f.coin_id AND o.date = f.forecast_date
            WHERE f.target_date > ? GROUP BY f.horizon ORDER BY f.horizon""",
            [as_of - timedelta(days=window)],
        )
        assert len(direct) == 7
        for horizon, n, mase, coverage in direct:
            row = summary.loc[(window, horizon)]
            assert (row["n"], row["mase"], row["coverage"]) == (
                n,
                pytest.approx(mase),
                pytest.approx(coverage),
            )

    with pytest.raises(InvalidInputError, match="start on 2024-10-18 or later"):
        issue_history(full, COIN, FIRST + timedelta(days=100), config=SMALL)
    with pytest.raises(InvalidInputError, match="after solana's latest stored price"):
        issue_history(full, COIN, FIRST + timedelta(days=500), config=SMALL)


def test_cli_api_and_asset_give_the_same_scores(ecoin_home, monkeypatch):
    monkeypatch.setenv("ECOIN_COINS", COIN)
    db = Database(load_settings().db_path)
    prices = _prices(640)
    store_prices(db, prices)
    start = str(FIRST + timedelta(days=600))

    proc = run_ecoin("forecast", "history", "--coin", COIN, "--start", start, "--json")
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout)
    assert (done["issued_days"], len(done["models"])) == (40, 2)
    assert proc.stderr.count("trained on prices to") == 2
    assert not (ecoin_home / "models").exists()  # history models are not saved nor served

    proc = run_ecoin("forecast", "scores", "--coin", COIN, "--json")
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout)
    assert {r["window_days"] for r in cli} == {30, 90} and {r["horizon"] for r in cli} == set(
        range(1, 15)
    )
    proc = run_ecoin("forecast", "scores", "--coin", COIN)
    assert proc.returncode == 0 and "MASE" in proc.stdout and "90 days" in proc.stdout

    with TestClient(create_app(load_settings())) as client:
        answer = client.get("/forecast_scores", params={"coin": COIN, "horizon": 7})
        assert answer.status_code == 200, answer.text
        rows = answer.json()["rows"]
        assert [r["mase"] for r in rows] == pytest.approx(
            [r["mase"] for r in cli if r["horizon"] == 7]
        )
        assert client.get("/forecast_scores", params={"coin": "nocoin"}).status_code == 404
        assert client.get("/forecast_scores", params={"coin": "No Coin"}).status_code == 422

    from ecoin_assets.forecasting.assets import forecast_scores
    from ecoin_assets.resources import build_resources

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [forecast_scores],
            partition_key=COIN,
            instance=instance,
            resources=build_resources(),
        )
    meta = result.asset_materializations_for_node("forecast_scores")[0].metadata
    assert meta["newly_scored"].value == 0  # the CLI scored them all
    seven_90 = next(r for r in cli if r["window_days"] == 90 and r["horizon"] == 7)
    assert meta["mase_7d_90d"].value == round(seven_90["mase"], 4)

    proc = run_ecoin("forecast", "history", "--coin", COIN, "--start", "2024-13-01")
    assert proc.returncode == 1 and proc.stderr.startswith("error: invalid --start '2024-13-01'")
    proc = run_ecoin("forecast", "scores", "--coin", "bitcoin")
    assert proc.returncode == 1
    assert proc.stderr == "error: no prices stored for coin 'bitcoin': nothing to score\n"
