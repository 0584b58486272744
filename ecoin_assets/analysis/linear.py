"""A linear regression of the next day's price on the finance features, backtested on the
same origins as the NeuralProphet model and the naive forecast.

The regression predicts the next day's log return, `log(target / price)`, from scale-free
features (each lag as the log of its ratio to the day's price, the 7-day trend and variance,
calendar, holidays, volume, and the *previous* month's risk class: the current month's is
only known at its end), and the price is `price * exp(prediction)`. It is fitted on the days
whose next-day price is known at the backtest's cutoff, and then forecasts one day ahead from
every origin of the test window, each with what was known at that origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecoin_assets.analysis.finance import LAG_COLUMNS

RISK_LEVEL = {"low": 0, "medium": 1, "high": 2}
MODEL_INPUTS = [
    *(f"log_{c}" for c in LAG_COLUMNS),
    "trend_7d",
    "var_7d",
    "is_weekend",
    "is_us_holiday",
    "is_cn_holiday",
    "volume_change",
    "volume_ratio_7d",
    "risk_prev_month",
    *(f"weekday_{d}" for d in range(6)),
]


def model_inputs(features: pd.DataFrame) -> pd.DataFrame:
    """The regression's inputs from one coin's finance features (date order)."""
    x = pd.DataFrame(index=features.index)
    for column in LAG_COLUMNS:
        x[f"log_{column}"] = np.log(features[column] / features["price_usd"])
    for column in ("trend_7d", "var_7d", "volume_change", "volume_ratio_7d"):
        x[column] = features[column].astype(float)
    for column in ("is_weekend", "is_us_holiday", "is_cn_holiday"):
        x[column] = features[column].astype(float)
    month = pd.to_datetime(features["date"]).dt.to_period("M")
    risk = features.assign(month=month).groupby("month")["risk_class"].first().map(RISK_LEVEL)
    x["risk_prev_month"] = (month - 1).map(risk).astype(float).to_numpy()
    for day in range(6):
        x[f"weekday_{day}"] = (features["weekday"] == day).astype(float)
    return x[MODEL_INPUTS]


def backtest_linear(features: pd.DataFrame, cutoff) -> pd.DataFrame:
    """One coin's one-day-ahead forecasts from every origin on or after `cutoff` (the last
    day the model may learn from): `origin, target, actual, yhat, naive`."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = features.sort_values("date").reset_index(drop=True)
    dates = pd.to_datetime(frame["date"])
    cutoff = pd.Timestamp(cutoff)
    x = model_inputs(frame)
    y = np.log(frame["target"] / frame["price_usd"])
    # a row's target is the next day's price: known at the cutoff for rows before it
    learn = (dates < cutoff) & y.notna() & x[[f"log_{c}" for c in LAG_COLUMNS]].notna().all(1)
    if learn.sum() < 2 * len(MODEL_INPUTS):
        raise ValueError(f"too little history before {cutoff.date()} to fit the regression")
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LinearRegression())
    model.fit(x[learn], y[learn])
    test = (dates >= cutoff) & frame["target"].notna()
    predicted = frame.loc[test, "price_usd"] * np.exp(model.predict(x[test]))
    return pd.DataFrame(
        {
            "origin": frame.loc[test, "date"].to_numpy(),
            "target": (dates[test] + pd.Timedelta(days=1)).dt.date.to_numpy(),
            "actual": frame.loc[test, "target"].to_numpy(),
            "yhat": predicted.to_numpy(),
            "naive": frame.loc[test, "price_usd"].to_numpy(),
        }
    )


def scores(actual: np.ndarray, predicted: np.ndarray, naive: np.ndarray) -> dict:
    """MAE, MAPE (%), the naive forecast's MAE on the same days, and MASE (MAE / naive MAE)."""
    error = np.abs(predicted - actual)
    naive_mae = float(np.mean(np.abs(naive - actual)))
    mae = float(np.mean(error))
    return {
        "n_origins": len(actual),
        "mae": mae,
        "mape": float(np.mean(error / actual) * 100),
        "naive_mae": naive_mae,
        "mase": mae / naive_mae if naive_mae > 0 else float("nan"),
    }
