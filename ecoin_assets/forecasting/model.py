"""Per-coin NeuralProphet price model with calibrated prediction intervals.

What is modelled: the daily log return `r_t = log p_t - log p_{t-1}` (in percent), with
NeuralProphet's AR-Net over the last `n_lags` returns and a direct multi-step output for the
next `n_forecasts` days. The price path is the last price times the exponential of the
cumulated predicted returns, so a model that learns nothing falls back to the naive
last-value forecast instead of extrapolating a trend.

Intervals and shrinkage: the model is fitted on all but the last `calibration_days` of its
history; on those held-out days it forecasts from every origin, and the errors of the
cumulated log price,
divided by the volatility at the origin, give per-horizon quantiles (split conformal
prediction, scaled by an EWMA volatility so that bands widen in turbulent markets). On the
same held-out origins a per-horizon weight (0..1) shrinks the network's path towards the
naive forecast where it shows no skill. The nominal coverage is `interval` (80% by default).

Known problems of the pinned stack worked around here (ARCHITECTURE.md, "The pinned stack"):
an explicit `learning_rate` (the learning-rate finder dies on `torch.load(weights_only=True)`),
and loading with `torch.load(weights_only=False)` plus `restore_trainer()` (trusted local
files only).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ecoin_assets.errors import InvalidInputError, NoDataError, NotFoundError, Remedy, UserError

MAX_HORIZON = 30
VOL_WINDOW = 30  # days of context kept before each origin
VOL_SPAN = 20
CONTEXT = VOL_WINDOW + 1  # rows kept before the first origin (more than the 14 lags)
RETURN_SCALE = 100.0  # returns in percent: friendlier to the network's optimizer


@dataclass(frozen=True)
class ModelConfig:
    n_lags: int = 14
    n_forecasts: int = MAX_HORIZON
    epochs: int = 60
    batch_size: int = 128
    learning_rate: float = 0.03
    train_days: int = 1095  # fit on the most recent three years
    calibration_days: int = 730  # at most; shorter histories calibrate on less
    min_calibration_days: int = 180
    min_fit_days: int = 365
    interval: float = 0.8
    seed: int = 7

    @property
    def min_history(self) -> int:
        """Fewest daily prices a model can be trained on."""
        return CONTEXT + self.min_fit_days + self.min_calibration_days


@dataclass
class PriceModel:
    """A trained model and what is needed to forecast and to explain it."""

    coin_id: str
    version: str
    config: ModelConfig
    trained_from: date
    trained_to: date  # last day seen by the network
    calibrated_to: date  # last day of the calibration window
    shrink: list[float]  # per-horizon weight of the network's path against naive (0..1)
    scale: list[float]  # per-horizon conformal quantile of |error| / volatility
    train_seconds: float
    network: object = field(repr=False, default=None)

    def meta(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "network"}
        d["config"] = asdict(self.config)
        return json.loads(json.dumps(d, default=str))


@contextlib.contextmanager
def quiet():
    """Silence NeuralProphet, Lightning and their warnings while training or predicting."""
    # we plot with matplotlib; NeuralProphet's optional plotly backend is not installed
    logging.getLogger("NP.plotly").setLevel(logging.CRITICAL)
    loggers = ["NP", "lightning", "pytorch_lightning", "lightning.pytorch", "lightning_fabric"]
    levels = {name: logging.getLogger(name).level for name in loggers}
    import neuralprophet

    neuralprophet.set_log_level("ERROR")
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stderr(sink),
        contextlib.redirect_stdout(sink),
    ):
        warnings.simplefilter("ignore")  # and Lightning's progress bars go to the void
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def returns_frame(prices: pd.DataFrame) -> pd.DataFrame:
    """`ds`, `y` (percent log return) and `log_price` from a frame of `date`, `price_usd`."""
    frame = prices[["date", "price_usd"]].copy()
    frame["ds"] = pd.to_datetime(frame["date"])
    frame = frame.sort_values("ds").set_index("ds").asfreq("D")
    frame["price_usd"] = frame["price_usd"].interpolate(limit_direction="both")
    frame["log_price"] = np.log(frame["price_usd"])
    frame["y"] = frame["log_price"].diff() * RETURN_SCALE
    return frame.iloc[1:].reset_index()[["ds", "y", "log_price"]]


def _volatility(frame: pd.DataFrame) -> np.ndarray:
    """Exponentially weighted volatility of daily log returns, known at each day's close."""
    vol = frame["y"].pow(2).ewm(span=VOL_SPAN, min_periods=5).mean().pow(0.5).bfill()
    return np.maximum(vol.to_numpy() / RETURN_SCALE, 1e-4)


def _new_network(config: ModelConfig, n_forecasts: int):
    from neuralprophet import NeuralProphet, set_random_seed

    set_random_seed(config.seed)
    return NeuralProphet(
        growth="off",
        yearly_seasonality=False,
        weekly_seasonality=False,
        daily_seasonality=False,
        n_lags=config.n_lags,
        n_forecasts=n_forecasts,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=config.batch_size,
        normalize="off",
        collect_metrics=False,
        trainer_config={
            "enable_checkpointing": False,
            "logger": False,
            "enable_model_summary": False,
        },
    )


def path_forecasts(network, frame: pd.DataFrame, n_forecasts: int) -> np.ndarray:
    """Cumulated log-price change forecast from every origin in `frame`.

    Row i, column h-1 holds the forecast made at the close of `frame` row i for h days later
    (NaN for origins without enough lags). `n_forecasts` empty days are appended so that the
    last origins, the last day included, get forecasts too.
    """
    future = pd.DataFrame(
        {
            "ds": pd.date_range(frame["ds"].iloc[-1] + pd.Timedelta(days=1), periods=n_forecasts),
            "y": np.nan,
        }
    )
    extended = pd.concat([frame[["ds", "y"]], future], ignore_index=True)
    with quiet():
        predicted = network.predict(extended, decompose=False)
    values = predicted[[f"yhat{h}" for h in range(1, n_forecasts + 1)]].to_numpy()
    steps = np.full((len(frame), n_forecasts), np.nan)
    # yhat{h} in row t is the forecast of y_t made at origin t - h
    for h in range(1, n_forecasts + 1):
        steps[:, h - 1] = values[h : h + len(frame), h - 1]
    return np.cumsum(steps, axis=1) / RETURN_SCALE


def realised_paths(frame: pd.DataFrame, n_forecasts: int) -> np.ndarray:
    """Actual cumulated log-price change from every origin, NaN beyond the data."""
    log_price = frame["log_price"].to_numpy()
    out = np.full((len(frame), n_forecasts), np.nan)
    for h in range(1, n_forecasts + 1):
        out[: len(frame) - h, h - 1] = log_price[h:] - log_price[:-h]
    return out


DEFAULT_CONFIG = ModelConfig()


def origin_paths(
    network, frame: pd.DataFrame, last_days: int, config: ModelConfig, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forecast and actual log-price paths from each origin among the last `last_days` rows
    (the origin is the close of the day before each of those days).

    Returns (predicted, actual, volatility at origin, log price at origin), one row per origin.
    """
    context = max(CONTEXT, config.n_lags + 1)
    window = frame.iloc[-(last_days + context) :].reset_index(drop=True)
    first = context - 1
    predicted = path_forecasts(network, window, horizon)[first:]
    actual = realised_paths(window, horizon)[first:]
    vol = _volatility(window)[first:]
    log_price = window["log_price"].to_numpy()[first:]
    return predicted, actual, vol, log_price


def shrink_weights(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per-horizon weight (0..1) of the network's predicted path against naive.

    The least-squares weight on held-out origins, lowered by two standard errors and clipped:
    the network is trusted only as far as its skill there is clear. Errors of overlapping
    h-day paths are correlated, so the standard error counts n/h effective origins.
    """
    weights = np.zeros(predicted.shape[1])
    for h in range(predicted.shape[1]):
        ok = ~np.isnan(predicted[:, h]) & ~np.isnan(actual[:, h])
        p, a = predicted[ok, h], actual[ok, h]
        denom = float(p @ p)
        if len(p) < 3 or denom <= 0:
            continue
        alpha = float(p @ a) / denom
        residual = a - alpha * p
        effective_n = max(len(p) / (h + 1), 2.0)
        se = math.sqrt(float(residual @ residual) / (len(p) - 1) / denom * len(p) / effective_n)
        weights[h] = min(max(alpha - 2 * se, 0.0), 1.0)
    return weights


def conformal_scale(errors: np.ndarray, vol: np.ndarray, interval: float) -> list[float]:
    """Per-horizon quantile of |error| / volatility (finite-sample corrected)."""
    scores = np.abs(errors) / vol[:, None]
    scale = []
    for h in range(errors.shape[1]):
        col = scores[:, h][~np.isnan(scores[:, h])]
        if len(col) == 0:
            raise UserError("not enough calibration data for the prediction interval")
        level = min(1.0, math.ceil((len(col) + 1) * interval) / len(col))
        scale.append(float(np.quantile(col, level)))
    return scale


def train(
    coin_id: str,
    prices: pd.DataFrame,
    config: ModelConfig | None = None,
    *,
    version: str,
    horizon: int | None = None,
) -> PriceModel:
    """Fit the network on all but the calibration window, then calibrate the intervals.

    The model forecasts up to `horizon` days (default: `config.n_forecasts`).
    """
    import time

    config = config or DEFAULT_CONFIG
    horizon = check_horizon(config.n_forecasts if horizon is None else horizon)
    frame = returns_frame(prices).tail(config.train_days + config.calibration_days + CONTEXT)
    if len(frame) < config.min_history:
        raise NoDataError(
            f"{coin_id} has {len(frame)} days of prices; a model needs at least "
            f"{config.min_history}",
            remedy=Remedy.FETCH_HISTORY,
            coin=coin_id,
        )
    calibration_days = min(config.calibration_days, len(frame) - CONTEXT - config.min_fit_days)
    fit_part = frame.iloc[CONTEXT:-calibration_days]
    started = time.perf_counter()
    with quiet():
        network = _new_network(config, horizon)
        network.fit(
            fit_part[["ds", "y"]], freq="D", progress=None, checkpointing=False, num_workers=0
        )
    seconds = time.perf_counter() - started
    predicted, actual, vol, _ = origin_paths(network, frame, calibration_days, config, horizon)
    shrink = shrink_weights(predicted, actual)
    scale = conformal_scale(actual - predicted * shrink, vol, config.interval)
    return PriceModel(
        coin_id=coin_id,
        version=version,
        config=config,
        trained_from=fit_part["ds"].iloc[0].date(),
        trained_to=fit_part["ds"].iloc[-1].date(),
        calibrated_to=frame["ds"].iloc[-1].date(),
        shrink=shrink.tolist(),
        scale=scale,
        train_seconds=seconds,
        network=network,
    )


def check_horizon(horizon: int) -> int:
    if not 1 <= horizon <= MAX_HORIZON:
        raise UserError(f"horizon {horizon} is outside 1-{MAX_HORIZON} days")
    return horizon


def forecast(model: PriceModel, prices: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The next `horizon` days after the last price: date, yhat, yhat_lower, yhat_upper."""
    check_horizon(horizon)
    n_forecasts = len(model.scale)
    if horizon > n_forecasts:
        raise InvalidInputError(
            f"the {model.coin_id} model forecasts up to {n_forecasts} days, not {horizon}",
            remedy=Remedy.TRAIN_FORECAST,
            coin=model.coin_id,
            horizon=horizon,
        )
    frame = returns_frame(prices).tail(max(VOL_WINDOW, model.config.n_lags) + 1)
    frame = frame.reset_index(drop=True)
    path = path_forecasts(model.network, frame, n_forecasts)[-1] * np.array(model.shrink)
    return _price_band(model, frame, path, horizon)


def _price_band(
    model: PriceModel, frame: pd.DataFrame, path: np.ndarray, horizon: int
) -> pd.DataFrame:
    vol = float(_volatility(frame)[-1])
    log_last = float(frame["log_price"].iloc[-1])
    center = log_last + path[:horizon]
    width = np.array(model.scale[:horizon]) * vol
    last_day = frame["ds"].iloc[-1]
    return pd.DataFrame(
        {
            "date": [(last_day + pd.Timedelta(days=h)).date() for h in range(1, horizon + 1)],
            "yhat": np.exp(center),
            "yhat_lower": np.exp(center - width),
            "yhat_upper": np.exp(center + width),
        }
    )


# -- persistence ------------------------------------------------------------------------------
def model_dir(home: Path, coin_id: str) -> Path:
    return home / "models" / coin_id


def save(model: PriceModel, home: Path, *, serve: bool = True) -> Path:
    """Write the model under `$ECOIN_HOME/models/<coin>/<version>/`; with `serve`, point
    LATEST (the served model) at it."""
    import torch

    folder = model_dir(home, model.coin_id) / model.version
    if folder.exists():
        raise UserError(f"model version {model.version} already exists")
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    torch.save(model.network, tmp / "model.np")
    (tmp / "meta.json").write_text(json.dumps(model.meta(), indent=2))
    tmp.rename(folder)
    if serve:
        promote(home, model.coin_id, model.version)
    return folder


def promote(home: Path, coin_id: str, version: str) -> None:
    """Serve a saved version: LATEST names it (replaced atomically)."""
    folder = model_dir(home, coin_id)
    if not (folder / version / "meta.json").exists():
        raise NotFoundError(f"no {coin_id} model version {version!r} in {folder}")
    latest_tmp = folder / "LATEST.tmp"
    latest_tmp.write_text(version)
    os.replace(latest_tmp, folder / "LATEST")


def stored_versions(home: Path, coin_id: str) -> list[str]:
    """Every saved version of the coin's model, oldest first (versions sort by time)."""
    folder = model_dir(home, coin_id)
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "meta.json").exists())


def served_version(home: Path, coin_id: str) -> str | None:
    pointer = model_dir(home, coin_id) / "LATEST"
    return pointer.read_text().strip() if pointer.exists() else None


def load(home: Path, coin_id: str, version: str | None = None) -> PriceModel:
    """Load a saved model (the served one by default) without retraining."""
    version = version or served_version(home, coin_id)
    if version is None:
        raise NoDataError(
            f"no trained model for {coin_id}", remedy=Remedy.TRAIN_FORECAST, coin=coin_id
        )
    folder = model_dir(home, coin_id) / version
    if not (folder / "meta.json").exists():
        raise UserError(f"no {coin_id} model version {version!r} in {folder.parent}")
    return load_dir(folder)


def load_dir(folder: Path) -> PriceModel:
    """Load the model saved in `folder` (its `model.np` and `meta.json`)."""
    import torch

    meta = json.loads((folder / "meta.json").read_text())
    with quiet():
        network = torch.load(folder / "model.np", weights_only=False)  # our own files only
        network.restore_trainer(accelerator="cpu")
    return PriceModel(
        coin_id=meta["coin_id"],
        version=meta["version"],
        config=ModelConfig(**meta["config"]),
        trained_from=date.fromisoformat(meta["trained_from"]),
        trained_to=date.fromisoformat(meta["trained_to"]),
        calibrated_to=date.fromisoformat(meta["calibrated_to"]),
        shrink=meta["shrink"],
        scale=meta["scale"],
        train_seconds=meta["train_seconds"],
        network=network,
    )
