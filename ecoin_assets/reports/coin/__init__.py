"""The coin report (`notebooks/coin_report.ipynb`): what each section reads and shows.

Every section reads the database read-only (`Database.read`), never writes, and shows a note
instead of a plot or a table when the window holds no data for it. Each section is a module
here: data functions that take the database, the coin and the window and return frames, and
views that turn those frames into something to display. `CoinReport` is the facade the
notebook calls: it keeps each section's data once read and hands it to the views.

- Prices of the last 30 days of the window, with the day-to-day change and volume (`prices`).
- Risk classes of the window's months (`risk`; `analysis.finance.risk_classes`: high after a
  50% day-to-day fall, medium after more than 20%).
- The monthly SQL analyses of `prices.analysis`: average, minimum and maximum price per month
  (whole calendar months), and the average rise after more than 3 falling days in a row
  (`monthly`).
- The forecast of the next `horizon` days from the window's last price, with its interval: the
  stored forecast (`price_forecasts`) when it starts there and is long enough, else the
  coin's latest saved model (`forecast`).
- The one-day-ahead backtest of the naive, linear and NeuralProphet models
  (`model_comparison`), and NeuralProphet's backtest at `horizon` days (`backtests`).
- The correlation of the sentiment of the topic named like the coin, by the active sentiment
  model, with the coin's price and returns at lags -3..+3, per day and, where hourly prices
  are stored (`prices_hourly`), per hour (`correlation`).
- The social signals of the topics linked to the coin over the window's last 14 days, as
  `/signals` serves them (`signals`).

The settings come from the caller (the notebook reads the environment), never from here.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.analysis.correlation import correlation_stats
from ecoin_assets.config import Settings
from ecoin_assets.reports.coin import (
    backtests,
    correlation,
    forecast,
    monthly,
    prices,
    risk,
    signals,
    summary,
)
from ecoin_assets.reports.coin.backtests import MODELS
from ecoin_assets.reports.coin.forecast import HISTORY_SHOWN, Forecast
from ecoin_assets.reports.coin.prices import RECENT_DAYS
from ecoin_assets.reports.params import CoinParams, coin_params, report_database
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.tweets.topics import seeds

__all__ = ["HISTORY_SHOWN", "MODELS", "RECENT_DAYS", "CoinReport", "Forecast"]


class CoinReport:
    """One coin over one window; `CoinReport.open(coin, start, end, horizon, settings=...)`
    checks them."""

    def __init__(self, params: CoinParams, settings: Settings):
        self.params = params
        self.settings = settings
        self.coin = params.coin
        self.window = params.window
        self.horizon = params.horizon
        self.db = report_database(settings)
        self.sentiment_version = active_version(settings.home)

    @classmethod
    def open(
        cls,
        coin: str,
        start: str | None = None,
        end: str | None = None,
        horizon: int = 7,
        *,
        settings: Settings,
    ) -> CoinReport:
        return cls(coin_params(coin, start, end, horizon, settings=settings), settings)

    # -- header ---------------------------------------------------------------------------------
    def summary(self) -> Markdown:
        stored = summary.stored_prices(self.db, self.coin, self.window)
        return summary.summary(self.coin, self.window, self.horizon, self.sentiment_version, stored)

    # -- prices ---------------------------------------------------------------------------------
    @cached_property
    def recent_prices(self) -> pd.DataFrame:
        return prices.recent_prices(self.db, self.coin, self.window)

    def price_chart(self) -> Image | Markdown:
        return prices.price_chart(self.recent_prices, self.coin, self.window)

    def price_table(self) -> Styler | Markdown:
        return prices.price_table(self.recent_prices)

    # -- risk classes ---------------------------------------------------------------------------
    @cached_property
    def risks(self) -> pd.DataFrame:
        return risk.risks(self.db, self.coin, self.window)

    def risk_chart(self) -> Image | Markdown:
        return risk.risk_chart(self.risks, self.coin, self.window)

    def risk_table(self) -> Styler | Markdown:
        return risk.risk_table(self.risks)

    # -- monthly SQL analyses -------------------------------------------------------------------
    @cached_property
    def monthly(self) -> pd.DataFrame:
        return monthly.monthly(self.db, self.coin, self.window)

    def monthly_chart(self) -> Image | Markdown:
        return monthly.monthly_chart(self.monthly, self.coin, self.window)

    def monthly_table(self) -> Styler | Markdown:
        return monthly.monthly_table(self.monthly)

    def rebound(self) -> Styler | Markdown:
        """The losing-streak analysis of the coin's whole stored history."""
        return monthly.rebound(monthly.rebound_stats(self.db, self.coin), self.coin)

    # -- forecast -------------------------------------------------------------------------------
    @cached_property
    def last_price_date(self) -> date | None:
        return forecast.last_price_date(self.db, self.coin, self.window)

    @cached_property
    def forecast(self) -> Forecast | None:
        """The next `horizon` days from the window's last price, or None without a model."""
        return forecast.coin_forecast(
            self.db, self.settings.home, self.coin, self.last_price_date, self.horizon
        )

    def forecast_chart(self) -> Image | Markdown:
        shown = self.forecast
        if shown is None:
            return forecast.no_forecast(self.coin, self.window, self.last_price_date)
        history = forecast.history(self.db, self.coin, shown.origin)
        return forecast.forecast_chart(shown, history, self.coin, self.horizon)

    def forecast_table(self) -> Styler | Markdown:
        return forecast.forecast_table(self.forecast)

    # -- backtests ------------------------------------------------------------------------------
    @cached_property
    def comparison(self) -> pd.DataFrame:
        """The stored one-day-ahead scores of the three models (`model_comparison`)."""
        return backtests.comparison(self.db, self.coin)

    def backtest_table(self) -> Styler | Markdown:
        return backtests.backtest_table(self.comparison, self.coin)

    def horizon_backtest(self) -> Styler | Markdown:
        """NeuralProphet's latest rolling-origin backtest at `horizon` days."""
        row = backtests.latest_backtest(self.db, self.coin, self.horizon)
        return backtests.horizon_backtest(row, self.coin, self.horizon)

    # -- sentiment and price ------------------------------------------------------------------
    def aligned(self, freq: str = "day") -> pd.DataFrame:
        """Per day (or hour): `ts, sentiment, posts, price_usd, return` (`correlation.aligned`)."""
        if freq not in self._cache:
            self._cache[freq] = correlation.aligned(
                self.db, self.coin, self.sentiment_version, self.window, freq
            )
        return self._cache[freq]

    def correlation(self, freq: str = "day") -> pd.DataFrame:
        """Pearson and Spearman r, p-value and pairs per lag, against price and returns."""
        key = f"stats-{freq}"
        if key not in self._cache:
            self._cache[key] = correlation_stats(self.aligned(freq))
        return self._cache[key]

    @cached_property
    def _cache(self) -> dict[str, pd.DataFrame]:
        """Aligned series and correlation tables computed so far, by frequency."""
        return {}

    def _pairs_note(self, freq: str) -> str | None:
        return correlation.pairs_note(self.correlation(freq), self.aligned(freq), self.coin, freq)

    def sentiment_chart(self) -> Image | Markdown:
        daily = self.aligned("day")
        if daily.empty:
            return correlation.no_sentiment(self.coin, self.window, self.sentiment_version)
        return correlation.sentiment_chart(daily, self.coin)

    def correlation_chart(self) -> Image | Markdown:
        if self.aligned("day").empty:
            return correlation.no_sentiment(self.coin, self.window, self.sentiment_version)
        notes = {freq: self._pairs_note(freq) for freq in correlation.FREQS}
        stats = {freq: self.correlation(freq) for freq in correlation.FREQS if not notes[freq]}
        return correlation.correlation_chart(stats, notes, self.coin)

    def correlation_table(self) -> Styler | Markdown:
        return correlation.correlation_table(
            [
                correlation.wide(self.correlation(freq), freq)
                for freq in correlation.FREQS
                if self._pairs_note(freq) is None
            ]
        )

    # -- social signals ---------------------------------------------------------------------------
    @cached_property
    def linked_topics(self) -> list[str]:
        return signals.linked_topics(self.db, self.coin, seeds(self.settings))

    @cached_property
    def recent_signals(self) -> pd.DataFrame:
        return signals.recent_signals(
            self.db, self.linked_topics, self.sentiment_version, self.window
        )

    def signals_table(self) -> Styler | Markdown:
        return signals.signals_table(self.recent_signals, self.coin, self.linked_topics)
