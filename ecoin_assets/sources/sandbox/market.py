"""Deterministic simulated crypto market behind the sandbox APIs.

One seeded simulation covers every day from 2019-01-01 to 2040-12-31, so a given day's values
never depend on when the simulation runs. It has what makes crypto prices hard to forecast:
fat-tailed shocks (Student t), volatility clustering (GARCH(1,1)), a common factor that ties
every coin to bitcoin, multi-year cycles, and a latent market *mood* (an AR(1) process) that
moves returns and that the X sandbox uses for the tone of its posts. Volumes follow absolute
returns and a weekly rhythm (quieter weekends). Between two daily closes, intraday prices follow
a deterministic Brownian bridge, so 5-minutely and hourly series agree with the daily points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np

EPOCH = date(2019, 1, 1)
LAST_DAY = date(2040, 12, 31)
DAY_MS = 86_400_000
_INTRADAY_STEPS = 288  # 5-minute steps per day
# Real CoinGecko intraday points are not aligned on the minute; neither are ours.
_INTRADAY_OFFSET_MS = 37_000
#: daily log-return of the common factor per unit of mood (mood has a standard deviation of ~1)
MOOD_LOADING = 0.004


@dataclass(frozen=True)
class CoinSpec:
    id: str
    symbol: str
    name: str
    price0: float  # price on 2019-01-01
    supply0: float  # circulating supply on 2019-01-01
    supply_growth: float  # per year
    trend: float  # log-price trend per year
    beta: float  # loading on bitcoin's shock
    vol: float  # idiosyncratic daily volatility
    turnover: float  # typical daily volume / market cap
    reversion: float = 0.995  # AR coefficient of the deviation from trend


COINS: tuple[CoinSpec, ...] = (
    CoinSpec("bitcoin", "btc", "Bitcoin", 3850.0, 17.5e6, 0.02, 0.42, 1.0, 0.0, 0.03),
    CoinSpec("ethereum", "eth", "Ethereum", 140.0, 104e6, 0.01, 0.45, 1.1, 0.022, 0.05),
    CoinSpec("cardano", "ada", "Cardano", 0.042, 26e9, 0.06, 0.35, 1.2, 0.034, 0.04),
    CoinSpec("solana", "sol", "Solana", 0.9, 260e6, 0.09, 0.70, 1.3, 0.045, 0.07),
    CoinSpec("dogecoin", "doge", "Dogecoin", 0.0024, 117e9, 0.04, 0.65, 1.1, 0.048, 0.06),
    CoinSpec("ripple", "xrp", "XRP", 0.36, 41e9, 0.05, 0.25, 1.0, 0.030, 0.04),
    CoinSpec("litecoin", "ltc", "Litecoin", 31.0, 60e6, 0.03, 0.15, 1.05, 0.028, 0.08),
    CoinSpec("tether", "usdt", "Tether", 1.0, 2.0e9, 0.55, 0.0, 0.0, 0.0015, 0.9, 0.6),
)
_BY_ID = {c.id: i for i, c in enumerate(COINS)}


def day_index(d: date) -> int:
    return (d - EPOCH).days


def day_of_ms(ts_ms: int) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()


def midnight_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Point:
    ts_ms: int
    price: float
    market_cap: float
    volume: float


class MarketSimulator:
    """Daily prices, market caps, volumes and mood for `COINS`; intraday points on demand."""

    def __init__(self, seed: int = 2019) -> None:
        self.seed = seed
        n = day_index(LAST_DAY) + 1
        k = len(COINS)
        rng = np.random.default_rng(seed)
        mood_shock = rng.standard_normal(n)
        common = rng.standard_t(4, n) / math.sqrt(2.0)
        idio = rng.standard_t(4, (n, k)) / math.sqrt(2.0)
        vol_noise = rng.standard_normal((n, k))

        mood = np.zeros(n)
        for t in range(1, n):
            mood[t] = 0.97 * mood[t - 1] + 0.25 * mood_shock[t]

        # GARCH(1,1) volatility of the common (bitcoin) factor.
        target = 0.032
        a, b = 0.09, 0.89
        w = target**2 * (1 - a - b)
        var = np.full(n, target**2)
        eps = np.zeros(n)
        for t in range(n):
            if t:
                var[t] = w + a * eps[t - 1] ** 2 + b * var[t - 1]
            eps[t] = math.sqrt(var[t]) * common[t] + MOOD_LOADING * mood[t]

        years = np.arange(n) / 365.25
        log_price = np.zeros((n, k))
        returns = np.zeros((n, k))
        for j, c in enumerate(COINS):
            cycle = 0.7 * np.sin(2 * math.pi * years / 4.0 - 0.4) if c.beta else 0.0
            trend = math.log(c.price0) + c.trend * years + cycle
            ivar = np.full(n, c.vol**2)
            ieps = np.zeros(n)
            for t in range(n):
                if t:
                    ivar[t] = c.vol**2 * (1 - a - b) + a * ieps[t - 1] ** 2 + b * ivar[t - 1]
                ieps[t] = math.sqrt(ivar[t]) * idio[t, j]
            shock = c.beta * eps + ieps
            dev = np.zeros(n)
            for t in range(1, n):
                dev[t] = c.reversion * dev[t - 1] + shock[t]
            log_price[:, j] = trend + dev
            returns[1:, j] = np.diff(log_price[:, j])

        self.mood = mood
        self.price = np.exp(log_price)
        supply = np.array([[c.supply0 * (1 + c.supply_growth * y) for c in COINS] for y in years])
        self.market_cap = self.price * supply
        weekday = np.array([(EPOCH + timedelta(days=t)).weekday() for t in range(n)])
        rhythm = np.where(weekday >= 5, 0.65, 1.0)[:, None]
        turnover = np.array([c.turnover for c in COINS])[None, :]
        self.volume = (
            self.market_cap * turnover * rhythm * np.exp(6 * np.abs(returns) + 0.2 * vol_noise)
        )
        self._daily_vol = np.sqrt(
            np.maximum(np.diff(log_price, axis=0, prepend=log_price[:1]) ** 2, 1e-6)
        )

    # -- lookup -----------------------------------------------------------------------------
    @staticmethod
    def coin_index(coin_id: str) -> int | None:
        return _BY_ID.get(coin_id)

    def daily(self, coin_id: str, d: date) -> Point:
        j, t = _BY_ID[coin_id], day_index(d)
        return Point(midnight_ms(d), *self._values(j, t))

    def _values(self, j: int, t: int) -> tuple[float, float, float]:
        return float(self.price[t, j]), float(self.market_cap[t, j]), float(self.volume[t, j])

    def mood_at(self, d: date) -> float:
        """Market mood in [-1, 1] on day `d` (positive: euphoric)."""
        t = min(max(day_index(d), 0), len(self.mood) - 1)
        return float(math.tanh(self.mood[t]))

    def at(self, coin_id: str, ts_ms: int) -> Point:
        """The point at any instant: the daily value at midnight, a bridge in between."""
        j = _BY_ID[coin_id]
        d = day_of_ms(ts_ms)
        t = day_index(d)
        frac = (ts_ms - midnight_ms(d)) / DAY_MS
        if frac == 0:
            return Point(ts_ms, *self._values(j, t))
        bridge = _bridge(self.seed, j, t)
        pos = frac * _INTRADAY_STEPS
        lo = int(pos)
        w = pos - lo
        noise = bridge[lo] * (1 - w) + bridge[min(lo + 1, _INTRADAY_STEPS)] * w
        p0, m0, v0 = self._values(j, t)
        p1, _, _ = self._values(j, t + 1)
        scale = float(self._daily_vol[t + 1, j])
        log_p = (1 - frac) * math.log(p0) + frac * math.log(p1) + scale * noise
        price = math.exp(log_p)
        return Point(ts_ms, price, price * (m0 / p0), v0)

    # -- series with CoinGecko's granularity -----------------------------------------------
    def first_ms(self) -> int:
        return midnight_ms(EPOCH)

    def daily_series(self, coin_id: str, from_ms: int, to_ms: int, now_ms: int) -> list[Point]:
        """Points at 00:00 UTC within [from, to], plus the latest point when `to` reaches now."""
        start = max(from_ms, self.first_ms())
        end = min(to_ms, now_ms)
        if end < start:
            return []
        first = day_of_ms(start)
        if midnight_ms(first) < start:
            first += timedelta(days=1)
        last = day_of_ms(end)
        points = [
            self.daily(coin_id, first + timedelta(days=i)) for i in range((last - first).days + 1)
        ]
        if to_ms >= now_ms and (not points or points[-1].ts_ms < now_ms):
            points.append(self.at(coin_id, now_ms))
        return points

    def intraday_series(
        self, coin_id: str, from_ms: int, to_ms: int, now_ms: int, step_ms: int
    ) -> list[Point]:
        """Points every `step_ms` (5 minutes or 1 hour), off the minute like the real API."""
        start = max(from_ms, self.first_ms())
        end = min(to_ms, now_ms)
        if end < start:
            return []
        first = (
            start - _INTRADAY_OFFSET_MS + step_ms - 1
        ) // step_ms * step_ms + _INTRADAY_OFFSET_MS
        points = [self.at(coin_id, ts) for ts in range(first, end + 1, step_ms)]
        if to_ms >= now_ms and (not points or points[-1].ts_ms < now_ms):
            points.append(self.at(coin_id, now_ms))
        return points


@lru_cache(maxsize=4096)
def _bridge(seed: int, coin: int, day: int) -> np.ndarray:
    """A standard Brownian bridge on the day's 5-minute grid, zero at both ends."""
    steps = np.random.default_rng([seed, coin, day]).standard_normal(_INTRADAY_STEPS)
    walk = np.concatenate([[0.0], np.cumsum(steps)]) / math.sqrt(_INTRADAY_STEPS)
    return walk - np.linspace(0, 1, _INTRADAY_STEPS + 1) * walk[-1]


@lru_cache(maxsize=4)
def simulator(seed: int = 2019) -> MarketSimulator:
    return MarketSimulator(seed)
