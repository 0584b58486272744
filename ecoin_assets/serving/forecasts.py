"""Forecasts for the forecast service: the bundled models over the latest stored prices.

A model's forecast depends only on the model and the coin's latest prices, and the forecast
for `h` days is the first `h` days of the 30-day one. So each coin's full forecast is computed
once per new price (and on start), and requests only slice it. Whether a new price arrived is
checked at most every `refresh_seconds`; while the database is busy (the pipeline writing),
the last forecast is served, and a coin never forecast yet gets a "busy, retry" error.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from ecoin_assets.errors import UserError
from ecoin_assets.forecasting import model as price_model
from ecoin_assets.forecasting.model import PriceModel
from ecoin_assets.forecasting.service import BACKTEST_SCORES
from ecoin_assets.storage import Database


class UnknownCoinError(LookupError):
    pass


class NotReadyError(RuntimeError):
    """The data a forecast needs cannot be read right now (busy or missing database)."""


@dataclass
class _Cached:
    checked: float  # monotonic time of the last check for new prices
    stamp: tuple  # (last date, last price, rows) the forecast was made from
    generated_at: str
    points: pd.DataFrame  # the model's full horizon


class ForecastServer:
    def __init__(self, models: dict[str, PriceModel], db: Database, refresh_seconds: float = 30):
        self.models = models
        self.db = db
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()  # one forecast computation at a time
        self._backtests: tuple[float, dict[str, list[dict]]] | None = None

    def forecast(self, coin: str, horizon: int) -> dict:
        model = self._model(coin)
        price_model.check_horizon(horizon)
        if horizon > len(model.scale):
            raise UserError(f"the {coin} model forecasts up to {len(model.scale)} days")
        cached = self._current(coin, model)
        points = cached.points.head(horizon)
        return {
            "coin": coin,
            "model_version": model.version,
            "generated_at": cached.generated_at,
            "interval": model.config.interval,
            "last_price_date": cached.stamp[0].isoformat(),
            "points": [
                {
                    "date": r.date.isoformat(),
                    "yhat": float(r.yhat),
                    "yhat_lower": float(r.yhat_lower),
                    "yhat_upper": float(r.yhat_upper),
                }
                for r in points.itertuples()
            ],
        }

    def coins(self) -> list[dict]:
        backtests = self._latest_backtests()
        return [
            {
                "coin": coin,
                "model_version": m.version,
                "trained_to": m.trained_to.isoformat(),
                "calibrated_to": m.calibrated_to.isoformat(),
                "max_horizon": len(m.scale),
                "interval": m.config.interval,
                "backtest": backtests.get(coin, []),
            }
            for coin, m in sorted(self.models.items())
        ]

    def warm(self) -> None:
        """Compute every coin's forecast now, so that first requests are fast."""
        for coin, model in self.models.items():
            with contextlib.suppress(NotReadyError):
                self._current(coin, model)

    # -- internals ---------------------------------------------------------------------------
    def _model(self, coin: str) -> PriceModel:
        try:
            return self.models[coin]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise UnknownCoinError(f"no forecast model for coin {coin!r}; coins: {known}") from None

    def _current(self, coin: str, model: PriceModel) -> _Cached:
        cached = self._cache.get(coin)
        if cached and time.monotonic() - cached.checked < self.refresh_seconds:
            return cached
        with self._lock:
            cached = self._cache.get(coin)
            if cached and time.monotonic() - cached.checked < self.refresh_seconds:
                return cached
            try:
                stamp = self._price_stamp(coin)
                if cached is None or cached.stamp != stamp:
                    cached = self._compute(coin, model, stamp)
            except NotReadyError:
                if cached is None:
                    raise
            cached.checked = time.monotonic()
            self._cache[coin] = cached
            return cached

    def _read(self, sql: str, params: list):
        if not self.db.exists():
            raise NotReadyError(f"the database {self.db.label} does not exist yet")
        try:
            return self.db.query_df(sql, params)
        except UserError as exc:  # busy beyond the bound
            raise NotReadyError(str(exc)) from None

    def _price_stamp(self, coin: str) -> tuple:
        row = self._read(
            "SELECT max(date) AS last, "
            "(SELECT price_usd FROM prices WHERE coin_id = ? ORDER BY date DESC LIMIT 1) AS price, "
            "count(*) AS n FROM prices WHERE coin_id = ?",
            [coin, coin],
        ).iloc[0]
        if not row["n"]:
            raise NotReadyError(f"no prices of {coin} are stored yet")
        return (pd.Timestamp(row["last"]).date(), float(row["price"]), int(row["n"]))

    def _compute(self, coin: str, model: PriceModel, stamp: tuple) -> _Cached:
        prices = self._read(
            "SELECT date, price_usd FROM prices WHERE coin_id = ? ORDER BY date", [coin]
        )
        points = price_model.forecast(model, prices, len(model.scale))
        return _Cached(
            checked=time.monotonic(),
            stamp=stamp,
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            points=points,
        )

    def _latest_backtests(self) -> dict[str, list[dict]]:
        """Each coin's most recent backtest scores (refreshed like the prices)."""
        if self._backtests and time.monotonic() - self._backtests[0] < self.refresh_seconds:
            return self._backtests[1]
        try:
            frame = self._read(
                "SELECT coin_id, " + ", ".join(BACKTEST_SCORES) + " FROM ("
                "SELECT *, max(created_at) OVER (PARTITION BY coin_id) AS newest "
                "FROM forecast_backtests) ranked WHERE created_at = newest "
                "ORDER BY coin_id, horizon",
                [],
            )
        except NotReadyError:
            return self._backtests[1] if self._backtests else {}
        found: dict[str, list[dict]] = {}
        for row in frame.to_dict("records"):
            coin = row.pop("coin_id")
            for day in ("test_start", "test_end"):
                row[day] = pd.Timestamp(row[day]).date().isoformat()
            row["mase"] = None if pd.isna(row["mase"]) else float(row["mase"])
            found.setdefault(coin, []).append(row)
        self._backtests = (time.monotonic(), found)
        return found
