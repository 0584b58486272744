"""Forecasting: features, the NeuralProphet price model, its calibration and the backtest.

Everything is deterministic and offline: prices are hand-made or a seeded random walk, and the
networks are tiny (`SMALL`: 5 epochs, 300 training days, 60 calibration days, 7-day horizon).
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import geometric_walk, small_model_config

from ecoin_assets.cli.hints import hint
from ecoin_assets.errors import UserError
from ecoin_assets.forecasting import model as pm
from ecoin_assets.forecasting.backtest import Backtest, run_backtest, score
from ecoin_assets.forecasting.features import FEATURE_COLUMNS, build_features

REPO = Path(__file__).resolve().parents[2]
HORIZON = 7
SMALL = small_model_config(HORIZON)


def random_walk(days: int = 600, seed: int = 0, start: str = "2022-01-01") -> pd.DataFrame:
    """Daily prices (`date`, `price_usd`) of a seeded geometric random walk."""
    return pd.DataFrame(
        {"date": pd.date_range(start, periods=days).date, "price_usd": geometric_walk(days, seed)}
    )


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return random_walk()


@pytest.fixture(scope="module")
def trained(prices: pd.DataFrame) -> pm.PriceModel:
    return pm.train("syn", prices, SMALL, version="v1", horizon=HORIZON)


@pytest.fixture(scope="module")
def backtest(prices: pd.DataFrame) -> Backtest:
    return run_backtest("syn", prices, SMALL, version="bt-1", test_days=60, horizon=HORIZON)


# -- features ---------------------------------------------------------------------------------
def _feature_prices() -> pd.DataFrame:
    """btc: 22 consecutive days from Monday 2024-01-01; eth: 5 days with 2024-01-04 missing."""
    btc_days = [date(2024, 1, 1) + timedelta(days=i) for i in range(22)]
    btc = pd.DataFrame(
        {
            "coin_id": "btc",
            "date": btc_days,
            "price_usd": [100.0 * (1.0 + 0.01 * i + 0.02 * (i % 3)) for i in range(22)],
            "market_cap_usd": [1e9 + 1e6 * i for i in range(22)],
            "volume_usd": [1000.0 + 100.0 * i for i in range(22)],
        }
    )
    eth = pd.DataFrame(
        {
            "coin_id": "eth",
            "date": [date(2024, 1, d) for d in (1, 2, 3, 5, 6)],
            "price_usd": [10.0, 11.0, 12.0, 13.0, 12.0],
            "market_cap_usd": [5e8, 0.0, 5e8, np.nan, 5e8],
            "volume_usd": [1000.0, 0.0, np.nan, 2000.0, 3000.0],
        }
    )
    # shuffled, so that the function has to sort by coin and date itself
    return pd.concat([eth, btc], ignore_index=True).sample(frac=1.0, random_state=3)


def _coin(features: pd.DataFrame, coin: str) -> pd.DataFrame:
    return features[features["coin_id"] == coin].reset_index(drop=True)


def test_features_log_price_and_returns_are_exact() -> None:
    raw = _feature_prices()
    features = build_features(raw)

    assert list(features.columns) == FEATURE_COLUMNS
    assert len(features) == len(raw)
    assert list(features["coin_id"]) == ["btc"] * 22 + ["eth"] * 5  # sorted by coin, then date
    btc = _coin(features, "btc")
    expected = raw[raw["coin_id"] == "btc"].sort_values("date")["price_usd"].to_numpy()
    assert list(btc["date"]) == [date(2024, 1, 1) + timedelta(days=i) for i in range(22)]
    np.testing.assert_allclose(btc["log_price"], np.log(expected), rtol=1e-15)
    assert math.isnan(btc["log_return"].iloc[0])
    np.testing.assert_allclose(
        btc["log_return"].iloc[1:], np.log(expected[1:] / expected[:-1]), rtol=1e-12
    )
    np.testing.assert_allclose(btc["log_market_cap"], np.log(1e9 + 1e6 * np.arange(22)))
    assert list(btc["weekday"]) == [i % 7 for i in range(22)]  # 2024-01-01 is a Monday


def test_features_log_return_is_nan_across_a_date_gap_and_per_coin() -> None:
    eth = _coin(build_features(_feature_prices()), "eth")

    assert list(eth["date"]) == [date(2024, 1, d) for d in (1, 2, 3, 5, 6)]
    # the first row of each coin has no previous price (btc's last row is not used for eth)
    assert math.isnan(eth["log_return"].iloc[0])
    assert eth["log_return"].iloc[1] == pytest.approx(math.log(11 / 10), rel=1e-12)
    assert eth["log_return"].iloc[2] == pytest.approx(math.log(12 / 11), rel=1e-12)
    assert math.isnan(eth["log_return"].iloc[3])  # 01-03 -> 01-05 is not a daily return
    assert eth["log_return"].iloc[4] == pytest.approx(math.log(12 / 13), rel=1e-12)
    assert list(eth["weekday"]) == [0, 1, 2, 4, 5]


def test_features_rolling_volatility_and_volume_ratio_after_min_periods() -> None:
    btc = _coin(build_features(_feature_prices()), "btc")
    returns = btc["log_return"].to_numpy()
    volume = 1000.0 + 100.0 * np.arange(22)

    # 7-day volatility needs 5 returns: rows 1..5 hold the first five
    assert btc["volatility_7d"].iloc[:5].isna().all()
    assert btc["volatility_7d"].iloc[5] == pytest.approx(np.std(returns[1:6], ddof=1), rel=1e-9)
    assert btc["volatility_7d"].iloc[12] == pytest.approx(np.std(returns[6:13], ddof=1), rel=1e-9)
    assert btc["volatility_7d"].iloc[5:].notna().all()
    # 30-day volatility needs 20 returns: rows 1..20
    assert btc["volatility_30d"].iloc[:20].isna().all()
    assert btc["volatility_30d"].iloc[20] == pytest.approx(np.std(returns[1:21], ddof=1), rel=1e-9)
    assert btc["volatility_30d"].iloc[21] == pytest.approx(np.std(returns[1:22], ddof=1), rel=1e-9)
    # the volume ratio needs 5 volumes
    assert btc["volume_ratio_7d"].iloc[:4].isna().all()
    assert btc["volume_ratio_7d"].iloc[4] == pytest.approx(volume[4] / volume[:5].mean())
    assert btc["volume_ratio_7d"].iloc[10] == pytest.approx(volume[10] / volume[4:11].mean())
    np.testing.assert_allclose(btc["log_volume"], np.log(volume))


def test_features_zero_or_missing_volume_and_market_cap_give_nan_not_inf() -> None:
    features = build_features(_feature_prices())
    eth = _coin(features, "eth")

    assert eth["log_volume"].iloc[0] == pytest.approx(math.log(1000.0))
    assert math.isnan(eth["log_volume"].iloc[1])  # volume 0
    assert math.isnan(eth["log_volume"].iloc[2])  # volume NaN
    assert math.isnan(eth["log_market_cap"].iloc[1])  # market cap 0
    assert math.isnan(eth["log_market_cap"].iloc[3])  # market cap NaN
    numeric = features.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numeric).any()


def test_features_sentiment_is_lagged_by_one_day_per_coin() -> None:
    sentiment = pd.DataFrame(
        {
            "coin_id": ["btc", "eth", "eth", "btc"],
            "date": [date(2024, 1, 3), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 30)],
            "sentiment_mean": [0.5, -0.2, 0.9, 0.1],
            "posts": [10, 4, 7, 1],
        }
    )
    raw = _feature_prices()
    features = build_features(raw, sentiment)

    assert len(features) == len(raw)
    btc = _coin(features, "btc").set_index("date")
    eth = _coin(features, "eth").set_index("date")
    # btc's row of 01-03 appears on 01-04, and nowhere else (not on 01-03 itself)
    assert btc.loc[date(2024, 1, 4), "sentiment_prev_day"] == 0.5
    assert btc.loc[date(2024, 1, 4), "posts_prev_day"] == 10
    assert btc["sentiment_prev_day"].notna().sum() == 1
    assert math.isnan(btc.loc[date(2024, 1, 3), "sentiment_prev_day"])
    # eth has no price on 01-04: its 01-03 row has nowhere to go, its 01-04 row lands on 01-05
    assert eth.loc[date(2024, 1, 5), "sentiment_prev_day"] == 0.9
    assert eth.loc[date(2024, 1, 5), "posts_prev_day"] == 7
    assert eth["sentiment_prev_day"].notna().sum() == 1
    assert math.isnan(eth.loc[date(2024, 1, 3), "sentiment_prev_day"])


def test_features_without_sentiment_and_empty_input() -> None:
    features = build_features(_feature_prices())
    assert features["sentiment_prev_day"].isna().all()
    assert features["posts_prev_day"].isna().all()

    empty = build_features(_feature_prices().iloc[:0])
    assert empty.empty
    assert list(empty.columns) == FEATURE_COLUMNS


# -- returns and volatility -------------------------------------------------------------------
def test_returns_frame_is_daily_in_percent_and_fills_gaps() -> None:
    raw = pd.DataFrame(
        {
            "date": [date(2024, 1, 4), date(2024, 1, 1), date(2024, 1, 2)],  # 01-03 missing
            "price_usd": [160.0, 100.0, 110.0],
        }
    )
    frame = pm.returns_frame(raw)

    assert list(frame.columns) == ["ds", "y", "log_price"]
    assert list(frame["ds"]) == list(pd.date_range("2024-01-02", "2024-01-04"))
    np.testing.assert_allclose(frame["log_price"], np.log([110.0, 135.0, 160.0]))
    np.testing.assert_allclose(
        frame["y"], 100.0 * np.log([110 / 100, 135 / 110, 160 / 135]), rtol=1e-12
    )


def test_volatility_is_floored_and_known_from_the_start() -> None:
    flat = pm.returns_frame(random_walk(40).assign(price_usd=50.0))
    assert np.all(pm._volatility(flat) == 1e-4)

    frame = pm.returns_frame(random_walk(60))
    vol = pm._volatility(frame)
    returns = frame["y"].to_numpy() / 100.0
    assert len(vol) == len(frame)
    assert np.all(np.isfinite(vol)) and np.all(vol > 0)
    assert np.all(vol[:4] == vol[4])  # back-filled before the 5 observations it needs
    # it only looks backwards: changing a later return leaves earlier values alone
    later = frame.copy()
    later.loc[40, "y"] *= 10
    np.testing.assert_array_equal(pm._volatility(later)[:40], vol[:40])
    assert 0.01 < vol[-1] < 0.06  # about the 3% daily volatility of the walk
    assert returns.std() == pytest.approx(0.03, rel=0.3)


# -- score ------------------------------------------------------------------------------------
def test_score_naive_equivalent_forecast() -> None:
    log_price = np.log([100.0, 100.0])
    actual = np.log([[1.1], [0.9]])
    predicted = np.zeros((2, 1))
    metrics = score(predicted, actual, np.array([0.1, 0.1]), log_price, [1.0], 0.8)

    assert len(metrics) == 1
    row = metrics.iloc[0]
    assert row["horizon"] == 1
    assert row["n_origins"] == 2
    assert row["mae"] == pytest.approx(10.0, rel=1e-12)
    assert row["naive_mae"] == pytest.approx(10.0, rel=1e-12)
    assert row["mase"] == pytest.approx(1.0, rel=1e-12)
    assert row["mape"] == pytest.approx((10 / 110 + 10 / 90) / 2 * 100, rel=1e-12)
    assert row["interval"] == 0.8
    # |log 1.1| = 0.095 is inside 1.0 * 0.1, |log 0.9| = 0.105 is not
    assert row["coverage"] == 0.5


def test_score_perfect_forecast() -> None:
    actual = np.array([[0.1, 0.2], [-0.1, -0.05], [0.3, 0.0]])
    metrics = score(
        actual.copy(), actual, np.full(3, 0.01), np.log([10.0, 20.0, 30.0]), [1, 1], 0.9
    )

    assert list(metrics["horizon"]) == [1, 2]
    assert list(metrics["n_origins"]) == [3, 3]
    assert list(metrics["mae"]) == [0.0, 0.0]
    assert list(metrics["mape"]) == [0.0, 0.0]
    assert list(metrics["mase"]) == [0.0, 0.0]
    assert list(metrics["coverage"]) == [1.0, 1.0]
    assert (metrics["naive_mae"] > 0).all()


def test_score_coverage_boundary_is_inside() -> None:
    actual = np.array([[0.5], [-0.5], [0.5000001], [0.0]])
    predicted = np.zeros((4, 1))
    # scale * vol = 2.0 * 0.25 = 0.5 exactly: +-0.5 are inside, 0.5000001 is not
    metrics = score(predicted, actual, np.full(4, 0.25), np.zeros(4), [2.0], 0.8)
    assert metrics.iloc[0]["coverage"] == 0.75


def test_score_skips_nan_rows_and_empty_horizons() -> None:
    nan = np.nan
    actual = np.array([[0.1, 0.2, nan], [nan, 0.1, nan], [0.2, 0.3, nan]])
    predicted = np.array([[0.1, nan, 0.0], [0.5, 0.1, 0.0], [0.2, 0.3, 0.0]])
    metrics = score(predicted, actual, np.full(3, 0.1), np.log([100.0] * 3), [1, 1, 1], 0.8)

    assert list(metrics["horizon"]) == [1, 2]  # horizon 3 has no valid origin at all
    assert list(metrics["n_origins"]) == [2, 2]
    assert list(metrics["mae"]) == [0.0, 0.0]  # the bad rows (0.5 vs NaN) are not scored
    assert metrics["coverage"].tolist() == [1.0, 1.0]


def test_score_mase_is_nan_when_naive_is_perfect() -> None:
    metrics = score(np.full((2, 1), 0.1), np.zeros((2, 1)), np.ones(2), np.zeros(2), [1.0], 0.8)
    row = metrics.iloc[0]
    assert row["naive_mae"] == 0.0
    assert row["mae"] > 0
    assert math.isnan(row["mase"])


# -- shrinkage and conformal scale -------------------------------------------------------------
def test_shrink_weights_known_answers() -> None:
    rng = np.random.default_rng(0)
    p = rng.normal(size=(200, 1))
    columns = {
        "perfect": (p, p),
        "half-scale": (p, 0.5 * p),
        "too strong": (p, 3 * p),
        "opposite": (p, -p),
        "noise only": (p, rng.normal(size=(200, 1))),
    }
    weights = {k: pm.shrink_weights(*v)[0] for k, v in columns.items()}
    assert weights["perfect"] == pytest.approx(1.0)
    assert weights["half-scale"] == pytest.approx(0.5)
    assert weights["too strong"] == 1.0  # clipped
    assert weights["opposite"] == 0.0
    assert weights["noise only"] == 0.0  # no clear skill: naive


def test_shrink_weights_lowered_by_two_standard_errors() -> None:
    rng = np.random.default_rng(1)
    p = rng.normal(size=(400, 2))
    a = 0.5 * p + rng.normal(scale=0.5, size=(400, 2))
    weights = pm.shrink_weights(p, a)
    for h in range(2):
        alpha = float(p[:, h] @ a[:, h] / (p[:, h] @ p[:, h]))
        assert 0.0 < weights[h] < alpha < 0.6
    # the second horizon counts half as many effective origins: a wider band, a lower weight
    same = np.column_stack([p[:, 0], p[:, 0]]), np.column_stack([a[:, 0], a[:, 0]])
    w0, w1 = pm.shrink_weights(*same)
    assert w1 < w0


def test_shrink_weights_skip_nan_and_tiny_samples() -> None:
    p = np.array([[1.0, np.nan], [2.0, np.nan], [np.nan, 1.0], [4.0, 1.0]])
    a = np.array([[1.0, 1.0], [2.0, 2.0], [100.0, 1.0], [4.0, 1.0]])
    assert pm.shrink_weights(p, a).tolist() == [1.0, 0.0]  # column 1: too few pairs
    assert pm.shrink_weights(np.zeros((5, 1)), np.ones((5, 1))).tolist() == [0.0]


def test_conformal_scale_is_the_finite_sample_corrected_quantile() -> None:
    errors = np.arange(1.0, 11.0)[:, None]
    scale = pm.conformal_scale(errors, np.ones(10), 0.8)

    level = math.ceil((10 + 1) * 0.8) / 10  # ceil(8.8) / 10 = 0.9
    assert level == 0.9
    # numpy's linear quantile at 0.9 of 1..10: 1 + 0.9 * 9
    assert scale == [pytest.approx(9.1, rel=1e-12)]
    assert scale[0] == pytest.approx(float(np.quantile(np.arange(1.0, 11.0), level)))
    # too few scores for the level: the corrected level is capped at 1 (the largest score)
    assert pm.conformal_scale(np.array([[1.0], [-3.0], [2.0]]), np.ones(3), 0.8) == [3.0]


def test_conformal_scale_per_horizon_and_volatility() -> None:
    col0 = np.arange(1.0, 11.0)
    col1 = -np.arange(10.0, 110.0, 10.0)  # signs do not matter
    col1[[0, 9]] = np.nan  # 8 valid scores: ceil(9 * 0.8) / 8 = 1.0 -> the largest
    vol = np.full(10, 2.0)
    scale = pm.conformal_scale(np.column_stack([col0, col1]), vol, 0.8)

    assert scale[0] == pytest.approx(9.1 / 2)
    assert scale[1] == pytest.approx(90.0 / 2)
    changed = np.column_stack([col0, col1 * 7])
    assert pm.conformal_scale(changed, vol, 0.8)[0] == scale[0]
    assert all(isinstance(s, float) for s in scale)


def test_conformal_scale_raises_on_an_empty_horizon() -> None:
    errors = np.column_stack([np.ones(5), np.full(5, np.nan)])
    with pytest.raises(UserError, match="not enough calibration data"):
        pm.conformal_scale(errors, np.ones(5), 0.8)


# -- quiet training (the module's first network: neuralprophet is imported here too) ---------
@pytest.mark.slow  # trains a model for many seconds
def test_training_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    pm.train("syn", random_walk(seed=11), SMALL, version="quiet", horizon=HORIZON)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


# -- path alignment ---------------------------------------------------------------------------
def _log_price_frame(log_price: list[float]) -> pd.DataFrame:
    lp = np.array(log_price)
    return pd.DataFrame(
        {
            "ds": pd.date_range("2024-01-01", periods=len(lp)),
            "y": np.r_[np.nan, np.diff(lp)] * pm.RETURN_SCALE,
            "log_price": lp,
        }
    )


def test_realised_paths_are_exact_cumulative_changes() -> None:
    frame = _log_price_frame([0.0, 1.0, 3.0, 6.0, 10.0])
    paths = pm.realised_paths(frame, 3)
    nan = np.nan
    expected = np.array(
        [
            [1.0, 3.0, 6.0],
            [2.0, 5.0, 9.0],
            [3.0, 7.0, nan],
            [4.0, nan, nan],
            [nan, nan, nan],
        ]
    )
    np.testing.assert_array_equal(paths, expected)


class _OracleNetwork:
    """Stands in for NeuralProphet: its `yhat{h}` on row t is the true `y` of row t (origin
    t - h), defined wherever the origin exists, like a perfect direct multi-step model."""

    def __init__(self, n_forecasts: int) -> None:
        self.n_forecasts = n_forecasts

    def predict(self, df: pd.DataFrame, decompose: bool = False) -> pd.DataFrame:
        out = df[["ds", "y"]].copy()
        for h in range(1, self.n_forecasts + 1):
            out[f"yhat{h}"] = df["y"].where(np.arange(len(df)) >= h)
        return out


def test_path_forecasts_align_with_realised_paths() -> None:
    rng = np.random.default_rng(5)
    frame = _log_price_frame(list(np.cumsum(rng.normal(0, 0.02, 25))))
    predicted = pm.path_forecasts(_OracleNetwork(4), frame, 4)
    actual = pm.realised_paths(frame, 4)

    assert predicted.shape == actual.shape == (25, 4)
    np.testing.assert_array_equal(np.isnan(predicted), np.isnan(actual))
    np.testing.assert_allclose(predicted, actual, rtol=1e-12, atol=1e-15)


# -- training and forecasting ------------------------------------------------------------------
def test_train_returns_a_calibrated_model(trained: pm.PriceModel, prices: pd.DataFrame) -> None:
    assert isinstance(trained, pm.PriceModel)
    assert trained.coin_id == "syn"
    assert trained.version == "v1"
    assert trained.config == SMALL
    assert len(trained.scale) == len(trained.shrink) == HORIZON
    assert all(0.0 <= w <= 1.0 for w in trained.shrink)
    assert all(s > 0 for s in trained.scale)
    assert trained.trained_from < trained.trained_to < trained.calibrated_to
    last = pd.to_datetime(prices["date"]).max().date()
    assert trained.calibrated_to == last
    assert trained.trained_to == last - timedelta(days=SMALL.calibration_days)
    assert (trained.trained_to - trained.trained_from).days + 1 == SMALL.train_days
    assert trained.train_seconds > 0
    meta = trained.meta()
    assert "network" not in meta
    assert meta["config"]["n_forecasts"] == HORIZON
    json.dumps(meta)


def test_forecast_dates_and_bands(trained: pm.PriceModel, prices: pd.DataFrame) -> None:
    points = pm.forecast(trained, prices, HORIZON)

    assert list(points.columns) == ["date", "yhat", "yhat_lower", "yhat_upper"]
    last = pd.to_datetime(prices["date"]).max().date()
    assert list(points["date"]) == [last + timedelta(days=h) for h in range(1, HORIZON + 1)]
    assert (points["yhat_lower"] < points["yhat"]).all()
    assert (points["yhat"] < points["yhat_upper"]).all()
    assert np.isfinite(points[["yhat", "yhat_lower", "yhat_upper"]].to_numpy()).all()
    width = np.log(points["yhat_upper"] / points["yhat_lower"]).to_numpy()  # 2 * scale * vol
    assert np.all(np.diff(width) >= -1e-12)
    assert np.all(np.diff((points["yhat_upper"] - points["yhat_lower"]).to_numpy()) >= 0)
    # a shorter horizon is the head of the longer one
    pd.testing.assert_frame_equal(pm.forecast(trained, prices, 3), points.head(3))


def test_forecast_matches_the_paths_used_for_calibration(
    trained: pm.PriceModel, prices: pd.DataFrame
) -> None:
    # with full trust in the network, forecast() from an origin is the path_forecasts row
    trusting = dataclasses.replace(trained, shrink=[1.0] * HORIZON)
    frame = pm.returns_frame(prices)
    paths = pm.path_forecasts(trained.network, frame, HORIZON)
    for i in (300, 450, 560):
        known = prices[pd.to_datetime(prices["date"]) <= frame["ds"].iloc[i]]
        points = pm.forecast(trusting, known, HORIZON)
        expected = np.exp(frame["log_price"].iloc[i] + paths[i])
        np.testing.assert_allclose(points["yhat"], expected, rtol=1e-8)


def test_path_forecasts_need_n_lags_of_history(trained: pm.PriceModel, prices) -> None:
    frame = pm.returns_frame(prices).head(80)
    paths = pm.path_forecasts(trained.network, frame, HORIZON)
    n_lags = SMALL.n_lags
    assert np.isnan(paths[: n_lags - 1]).all()
    # every origin with enough lags is forecast, the last day included (its future is unknown)
    assert not np.isnan(paths[n_lags - 1 :]).any()


def test_path_forecasts_cover_every_origin_whose_target_is_known(
    trained: pm.PriceModel, prices: pd.DataFrame
) -> None:
    frame = pm.returns_frame(prices).head(80)
    paths = pm.path_forecasts(trained.network, frame, HORIZON)
    actual = pm.realised_paths(frame, HORIZON)
    known = ~np.isnan(actual)
    known[: SMALL.n_lags - 1] = False  # not enough lags there
    assert not np.isnan(paths[known]).any()


@pytest.mark.parametrize("horizon", [0, 31, -1])
def test_forecast_rejects_horizons_outside_1_to_30(
    trained: pm.PriceModel, prices: pd.DataFrame, horizon: int
) -> None:
    with pytest.raises(UserError, match=rf"horizon {horizon} is outside 1-30 days"):
        pm.forecast(trained, prices, horizon)


def test_forecast_rejects_a_horizon_beyond_the_trained_one(
    trained: pm.PriceModel, prices: pd.DataFrame
) -> None:
    with pytest.raises(UserError, match=r"forecasts up to 7 days") as info:
        pm.forecast(trained, prices, 8)
    assert "ecoin forecast train --coin syn --horizon 8" in hint(info.value)


@pytest.mark.parametrize("horizon", [0, 31])
def test_train_rejects_bad_horizons(prices: pd.DataFrame, horizon: int) -> None:
    with pytest.raises(UserError, match="outside 1-30"):
        pm.train("syn", prices, SMALL, version="x", horizon=horizon)


def test_train_with_too_little_history(prices: pd.DataFrame) -> None:
    with pytest.raises(UserError) as info:
        pm.train("syn", prices.head(100), SMALL, version="x", horizon=HORIZON)
    message = str(info.value)
    assert SMALL.min_history == pm.CONTEXT + 200 + 60
    assert f"at least {SMALL.min_history}" in message
    assert "syn has 99 days" in message
    assert "ecoin prices fetch --coin syn" in hint(info.value)


# -- persistence ------------------------------------------------------------------------------
def test_load_in_process_and_versions(
    trained: pm.PriceModel, prices: pd.DataFrame, tmp_path: Path
) -> None:
    pm.save(trained, tmp_path)
    pm.save(dataclasses.replace(trained, version="v2", shrink=[0.0] * HORIZON), tmp_path)
    assert pm.served_version(tmp_path, "syn") == "v2"

    latest = pm.load(tmp_path, "syn")
    first = pm.load(tmp_path, "syn", "v1")
    assert latest.version == "v2"
    assert latest.shrink == [0.0] * HORIZON
    assert first.meta() == trained.meta()
    assert first.config == SMALL
    assert isinstance(first.trained_to, date)
    pd.testing.assert_frame_equal(
        pm.forecast(first, prices, HORIZON), pm.forecast(trained, prices, HORIZON)
    )
    with pytest.raises(UserError, match="already exists"):
        pm.save(trained, tmp_path)
    assert pm.served_version(tmp_path, "syn") == "v2"


def test_load_without_a_model_says_to_train_first(tmp_path: Path) -> None:
    assert pm.served_version(tmp_path, "nocoin") is None
    with pytest.raises(UserError, match="no trained model for nocoin") as info:
        pm.load(tmp_path, "nocoin")
    assert "ecoin forecast train --coin nocoin" in hint(info.value)
    assert "ecoin" not in str(info.value)  # the message says what; the CLI says which command


# -- backtest ---------------------------------------------------------------------------------
def test_backtest_metrics(backtest: Backtest, prices: pd.DataFrame) -> None:
    metrics = backtest.metrics
    assert list(metrics["horizon"]) == list(range(1, HORIZON + 1))
    assert (metrics["n_origins"] <= 60).all()
    assert (metrics["n_origins"] > 0).all()
    assert metrics["coverage"].between(0.0, 1.0).all()
    assert (metrics["interval"] == SMALL.interval).all()
    assert (metrics[["mae", "mape", "naive_mae", "mase"]] > 0).all().all()
    np.testing.assert_allclose(metrics["mase"], metrics["mae"] / metrics["naive_mae"])

    last = pd.to_datetime(prices["date"]).max().date()
    assert backtest.test_end == str(last)
    assert backtest.test_start == str(last - timedelta(days=59))
    # the model never saw the test days, not even for calibration
    assert backtest.model.calibrated_to == last - timedelta(days=60)
    assert backtest.model.version == "bt-1"
    assert len(backtest.model.scale) == HORIZON


def test_backtest_at_returns_plain_python_values(backtest: Backtest) -> None:
    for horizon in (1, HORIZON):
        row = backtest.at(horizon)
        json.dumps(row)
        assert row["coin"] == "syn"
        assert row["horizon"] == horizon
        for key in ("mae", "mape", "mase", "naive_mae", "interval", "coverage"):
            assert type(row[key]) is float
        assert type(row["n_origins"]) is int
        assert row["model_version"] == "bt-1"
        assert row["test_start"] == backtest.test_start


def test_backtest_paths(backtest: Backtest) -> None:
    paths = backtest.paths
    assert set(paths["horizon"]) == set(range(1, HORIZON + 1))
    assert paths["actual"].notna().all()
    assert (paths["target"] - paths["origin"] == pd.to_timedelta(paths["horizon"], "D")).all()
    assert paths["target"].max() == pd.Timestamp(backtest.test_end)
    assert paths["target"].min() == pd.Timestamp(backtest.test_start)
    # every day of the test is the target of a one-day forecast from the day before
    assert (paths["horizon"] == 1).sum() == 60


def test_backtest_scores_every_test_origin(backtest: Backtest) -> None:
    counts = backtest.metrics.set_index("horizon")["n_origins"]
    assert counts.to_dict() == {h: 60 - h + 1 for h in range(1, HORIZON + 1)}
    assert backtest.paths[["yhat", "yhat_lower", "yhat_upper"]].notna().all().all()


def test_backtest_with_too_little_history(prices: pd.DataFrame) -> None:
    with pytest.raises(UserError) as info:
        run_backtest("syn", prices.head(250), SMALL, version="x", test_days=60, horizon=HORIZON)
    message = str(info.value)
    assert f"needs at least {SMALL.min_history + 60} days" in message
    assert "it has 249" in message
