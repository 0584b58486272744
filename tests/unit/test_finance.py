"""Finance features, risk classes and the linear model's backtest, on made-up prices."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from factories import insert_mood

from ecoin_assets.analysis.finance import finance_features, risk_classes
from ecoin_assets.analysis.linear import backtest_linear, scores
from ecoin_assets.analysis.service import compare_models, refresh_finance
from ecoin_assets.storage import Database


def _prices(values, start=date(2026, 1, 1), coin="syn", volume=None) -> pd.DataFrame:
    days = [start + timedelta(days=i) for i in range(len(values))]
    return pd.DataFrame(
        {
            "coin_id": coin,
            "date": days,
            "price_usd": np.asarray(values, dtype=float),
            "volume_usd": volume if volume is not None else np.full(len(values), 1e6),
        }
    )


def _insert_prices(con, prices: pd.DataFrame) -> None:
    rows = prices.assign(market_cap_usd=None, source="test", ingested_at=pd.Timestamp.now())
    columns = ["coin_id", "date", "price_usd", "market_cap_usd", "volume_usd", "source"]
    con.register("p", rows[[*columns, "ingested_at"]])
    con.execute("INSERT INTO prices SELECT * FROM p")
    con.unregister("p")


def test_risk_class_of_each_month_by_its_worst_day_to_day_fall():
    values = np.full(120, 100.0)
    values[40:] = 45.0  # Feb 10: -55% -> high
    values[80:] = 35.0  # Mar 22: -22% -> medium
    values[100:] = 28.0  # Apr 11: exactly -20% -> not more than 20%: low
    risk = risk_classes(_prices(values)).set_index("month")["risk_class"]
    assert risk.to_dict() == {
        date(2026, 1, 1): "low",
        date(2026, 2, 1): "high",
        date(2026, 3, 1): "medium",
        date(2026, 4, 1): "low",
    }


def test_a_fall_across_a_missing_day_is_not_a_day_to_day_fall():
    prices = _prices([100.0, 100.0, 100.0, 40.0]).drop(index=2)
    assert risk_classes(prices)["risk_class"].tolist() == ["low"]


def test_lags_target_trend_and_variance():
    values = np.arange(1, 21, dtype=float) * 10  # 10, 20, ..., 200
    f = finance_features(_prices(values)).set_index("date")
    row = f.loc[date(2026, 1, 10)]  # price 100
    assert [row[f"lag_{k}"] for k in range(1, 8)] == [90, 80, 70, 60, 50, 40, 30]
    assert row["target"] == 110
    relative = np.array([100 / v - 1 for v in (90, 80, 70, 60, 50, 40, 30)])
    assert row["trend_7d"] == pytest.approx(relative.mean())
    assert row["var_7d"] == pytest.approx(relative.var(ddof=1))
    assert np.isnan(f.loc[date(2026, 1, 3), "lag_7"])  # not enough history yet
    assert np.isnan(f.loc[date(2026, 1, 20), "target"])  # the future is unknown


def test_calendar_holidays_and_volume():
    volume = np.arange(1, 301, dtype=float) * 1e6
    f = finance_features(_prices(np.full(300, 50.0), volume=volume)).set_index("date")
    new_year, national_day, independence = (
        f.loc[date(2026, 1, 1)],
        f.loc[date(2026, 10, 1)],
        f.loc[date(2026, 7, 3)],  # July 4th 2026 is a Saturday, observed on Friday
    )
    assert new_year["is_us_holiday"] and new_year["is_cn_holiday"]
    assert national_day["is_cn_holiday"] and not national_day["is_us_holiday"]
    assert independence["is_us_holiday"]
    saturday = f.loc[date(2026, 1, 3)]
    assert saturday["weekday"] == 5 and saturday["is_weekend"]
    assert (new_year["week_of_year"], new_year["month"]) == (1, 1)
    day = f.loc[date(2026, 1, 11)]  # volume 11e6, previous 10e6, mean of days 3..9 = 7e6
    assert day["volume_change"] == pytest.approx(np.log(11 / 10))
    assert day["volume_ratio_7d"] == pytest.approx(11 / 7)


def _ar_prices(days: int = 700, seed: int = 0) -> pd.DataFrame:
    """Log returns with strong momentum: a linear model can beat the naive forecast."""
    rng = np.random.default_rng(seed)
    r = np.zeros(days)
    for t in range(1, days):
        r[t] = 0.6 * r[t - 1] + rng.normal(0, 0.02)
    return _prices(100 * np.exp(np.cumsum(r)), start=date(2024, 1, 1))


def test_the_linear_model_learns_momentum_and_never_sees_past_its_origin():
    features = finance_features(_ar_prices())
    cutoff = pd.Timestamp("2025-06-30")
    paths = backtest_linear(features, cutoff)
    assert pd.Timestamp(paths["origin"].min()) == cutoff
    s = scores(paths["actual"].to_numpy(), paths["yhat"].to_numpy(), paths["naive"].to_numpy())
    assert s["mase"] < 0.95  # it uses the momentum the naive forecast ignores
    # changing prices after an origin does not change that origin's forecast
    later = _ar_prices()
    later.loc[later["date"] > date(2025, 9, 1), "price_usd"] *= 3
    changed = backtest_linear(finance_features(later), cutoff).set_index("origin")["yhat"]
    before = paths.set_index("origin")["yhat"]
    early = [d for d in before.index if d < date(2025, 9, 1)]
    assert changed.loc[early].to_numpy() == pytest.approx(before.loc[early].to_numpy())


def test_scores_known_answers():
    s = scores(np.array([100.0, 110.0]), np.array([101.0, 108.0]), np.array([90.0, 100.0]))
    assert s == {
        "n_origins": 2,
        "mae": 1.5,
        "mape": pytest.approx((1 / 100 + 2 / 110) / 2 * 100),
        "naive_mae": 10.0,
        "mase": 0.15,
    }


def test_comparison_stores_three_models_on_the_same_window(tmp_path):
    db = Database(tmp_path / "ecoin.duckdb")
    prices = _ar_prices()
    with db.write() as con:
        _insert_prices(con, prices)
        con.execute(
            "INSERT INTO forecast_backtests VALUES ('syn', 'np-1', 1, 200, 2.0, 1.5, 2.5, 0.8, "
            "0.8, 0.8, DATE '2025-06-01', DATE '2025-12-17', now())"
        )
    table = compare_models(db, "syn").set_index("model")
    assert set(table.index) == {"naive", "linear regression", "neuralprophet"}
    assert table.loc["naive", "mase"] == pytest.approx(1.0)
    assert table.loc["neuralprophet", "mae"] == 2.0
    assert (table["test_start"] == date(2025, 6, 1)).all()
    assert table.loc["linear regression", "n_origins"] == 183  # targets Jun 1 .. Nov 30 (last)
    stored = db.query("SELECT count(*), count(DISTINCT test_start) FROM model_comparison")
    assert stored == [(3, 1)]
    refresh_finance(db, "syn")  # what the finance_features asset stores
    assert db.query("SELECT count(*) FROM finance_features")[0][0] == 700
    compare_models(db, "syn")  # idempotent
    assert db.query("SELECT count(*) FROM model_comparison")[0][0] == 3


def _store_daily_sentiment(db: Database, topic: str, version: str, days, sentiment) -> None:
    with db.write() as con:
        for day, value in zip(days, sentiment, strict=True):
            insert_mood(con, topic, pd.Timestamp(day) + pd.Timedelta(hours=12), version, value)


def test_correlate_finds_sentiment_that_moves_with_returns_and_stores_it(tmp_path):
    from ecoin_assets.analysis.service import correlate

    db = Database(tmp_path / "ecoin.duckdb")
    rng = np.random.default_rng(2)
    days = pd.date_range("2026-01-01", periods=120).date
    mood = np.tanh(rng.normal(0, 0.7, 120))  # a new mood every day
    # the price moves during day t with day t's mood: p[t+1] / p[t] = exp(0.03 mood[t] + noise)
    moves = np.cumsum(0.03 * mood + rng.normal(0, 0.01, 120))
    log_price = np.log(100) + np.concatenate([[0.0], moves])
    prices = _prices(np.exp(log_price[:120]), start=days[0])
    with db.write() as con:
        _insert_prices(con, prices)
    _store_daily_sentiment(db, "syn", "v1", days, mood)
    _, stats = correlate(db, "syn", "syn", "v1")
    best = stats[(stats["against"] == "return") & (stats["method"] == "pearson")].set_index("lag")
    assert best.loc[0, "r"] > 0.7 and best.loc[0, "p_value"] < 1e-10  # same-day move
    assert best.drop(index=0)["r"].abs().max() < 0.3  # no other lag
    stored = db.query("SELECT count(*), min(model_version) FROM sentiment_price_correlation")
    assert stored == [(28, "v1")]  # 7 lags x (price, return) x (pearson, spearman)

    shuffled = Database(tmp_path / "shuffled.duckdb")
    with shuffled.write() as con:
        _insert_prices(con, prices)
    _store_daily_sentiment(shuffled, "syn", "v1", days, rng.permutation(mood))
    _, none = correlate(shuffled, "syn", "syn", "v1")
    same_day = none[(none["against"] == "return") & (none["lag"] == 0)]
    assert (same_day["p_value"] > 0.01).all()


def test_correlate_rejects_an_empty_window_and_a_topic_without_posts(tmp_path):
    from ecoin_assets.analysis.service import correlate
    from ecoin_assets.errors import UserError

    db = Database(tmp_path / "ecoin.duckdb")
    with db.write():
        pass
    with pytest.raises(UserError, match="no scored posts on topic 'x'"):
        correlate(db, "bitcoin", "x", "v1")
    with pytest.raises(UserError, match="is empty"):
        correlate(
            db, "bitcoin", "x", "v1", "day", pd.Timestamp("2026-02-01"), pd.Timestamp("2026-01-01")
        )


def test_the_correlation_asset_reports_each_coin(monkeypatch):
    import dagster as dg

    from ecoin_assets.analysis.assets import sentiment_price_correlation
    from ecoin_assets.resources import build_resources

    monkeypatch.setenv("ECOIN_COINS", "bitcoin,ethereum")
    result = dg.materialize([sentiment_price_correlation], resources=build_resources())
    assert result.success
    meta = result.asset_materializations_for_node("sentiment_price_correlation")[0].metadata
    for freq in ("hourly", "daily"):
        best = meta[f"best_lag_vs_returns_{freq}"].value
        assert set(best) == {"bitcoin", "ethereum"}
        assert "no scored posts on topic 'bitcoin'" in best["bitcoin"]
