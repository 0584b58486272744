"""The coin report (`notebooks/coin_report.ipynb`): what each section reads and shows.

Every section reads the database read-only (`Database.read`), never writes, and shows a note
instead of a plot or a table when the window holds no data for it. Data methods return
frames; the methods the notebook calls return something to display.

- Prices of the last 30 days of the window, with the day-to-day change and volume.
- Risk classes of the window's months (`analysis.finance.risk_classes`: high after a 50%
  day-to-day fall, medium after more than 20%).
- The monthly SQL analyses of `prices.analysis`: average, minimum and maximum price per month
  (whole calendar months), and the average rise after more than 3 falling days in a row.
- The forecast of the next `horizon` days from the window's last price, with its interval: the
  stored forecast (`price_forecasts`) when it starts there and is long enough, else the
  coin's latest saved model.
- The one-day-ahead backtest of the naive, linear and NeuralProphet models
  (`model_comparison`), and NeuralProphet's backtest at `horizon` days.
- The correlation of the sentiment of the topic named like the coin, by the active sentiment
  model, with the coin's price and returns at lags -3..+3, per day and, where hourly prices
  are stored (`prices_hourly`), per hour.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.analysis.correlation import LAGS, MIN_PAIRS, align_asof, correlation_stats
from ecoin_assets.analysis.finance import HIGH_DROP, MEDIUM_DROP, risk_classes
from ecoin_assets.analysis.service import price_points, sentiment_periods
from ecoin_assets.config import Settings, load_settings
from ecoin_assets.errors import UserError
from ecoin_assets.prices.analysis import losing_streak_rebound, monthly_average, monthly_range
from ecoin_assets.reports import display
from ecoin_assets.reports.params import CoinParams, coin_params, report_database
from ecoin_assets.sentiment.registry import active_version

RECENT_DAYS = 30
HISTORY_SHOWN = 60  # days of prices before the forecast in its plot
MODELS = ("naive", "linear regression", "neuralprophet")


@dataclass
class Forecast:
    points: pd.DataFrame  # date, yhat, yhat_lower, yhat_upper
    origin: date  # the last price it starts from
    model_version: str
    interval: float
    source: str


class CoinReport:
    """One coin over one window; `CoinReport.open(coin, start, end, horizon)` checks them."""

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
        cls, coin: str, start: str | None = None, end: str | None = None, horizon: int = 7
    ) -> CoinReport:
        settings = load_settings()
        return cls(coin_params(coin, start, end, horizon, settings), settings)

    # -- header ---------------------------------------------------------------------------------
    def summary(self) -> Markdown:
        first, last, days = self.db.query(
            "SELECT min(date), max(date), count(*) FROM prices "
            "WHERE coin_id = ? AND date BETWEEN ? AND ?",
            [self.coin, self.window.start, self.window.end],
        )[0]
        stored = f"{days} daily prices ({first} to {last})" if days else "no prices"
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return display.text(
            f"**Coin:** {self.coin} &nbsp;·&nbsp; **window:** {self.window} "
            f"({self.window.days} days, {stored}) &nbsp;·&nbsp; **forecast horizon:** "
            f"{self.horizon} days &nbsp;·&nbsp; **sentiment model:** {self.sentiment_version}"
            f" &nbsp;·&nbsp; generated {now}"
        )

    # -- prices ---------------------------------------------------------------------------------
    @cached_property
    def recent_prices(self) -> pd.DataFrame:
        """`date, price_usd, change_pct, volume_usd, market_cap_usd` of the window's last 30
        days (the change is against the previous calendar day's price)."""
        first = max(self.window.start, self.window.end - timedelta(days=RECENT_DAYS - 1))
        frame = self.db.query_df(
            "SELECT date, price_usd, volume_usd, market_cap_usd FROM prices "
            "WHERE coin_id = ? AND date BETWEEN ? AND ? ORDER BY date",
            [self.coin, first - timedelta(days=1), self.window.end],
        )
        frame["date"] = pd.to_datetime(frame["date"])
        daily = frame.set_index("date").asfreq("D") if not frame.empty else frame
        change = daily["price_usd"].pct_change(fill_method=None) * 100
        frame["change_pct"] = frame["date"].map(change)
        frame = frame[frame["date"] >= pd.Timestamp(first)]
        return frame[["date", "price_usd", "change_pct", "volume_usd", "market_cap_usd"]]

    def _no_prices(self, what: str) -> Markdown:
        return display.note(f"no prices of {self.coin} stored {what}.")

    def price_chart(self) -> Image | Markdown:
        prices = self.recent_prices
        if prices.empty:
            return self._no_prices(f"in the last {RECENT_DAYS} days of {self.window}")
        fig, (ax,) = display.figure()
        ax.plot(prices["date"], prices["price_usd"], color=display.PRICE, marker="o", ms=3)
        ax.set_ylabel("price (USD)")
        ax.set_title(f"{self.coin}: daily price (00:00 UTC) and volume")
        volume = ax.twinx()
        volume.bar(prices["date"], prices["volume_usd"] / 1e6, color=display.VOLUME, alpha=0.25)
        volume.set_ylabel("volume (million USD)")
        ax.set_zorder(volume.get_zorder() + 1)
        ax.patch.set_visible(False)
        display.date_axis(ax)
        ax.set_xlabel("date (UTC)")
        return display.image(fig)

    def price_table(self) -> Styler | Markdown:
        prices = self.recent_prices
        if prices.empty:
            return display.SHOWN_ABOVE
        shown = prices.assign(date=prices["date"].dt.date).rename(
            columns={
                "price_usd": "price (USD)",
                "change_pct": "change (%)",
                "volume_usd": "volume (USD)",
                "market_cap_usd": "market cap (USD)",
            }
        )
        return display.table(
            shown.iloc[::-1],
            {
                "price (USD)": "{:,.6g}",
                "change (%)": "{:+.2f}",
                "volume (USD)": "{:,.0f}",
                "market cap (USD)": "{:,.0f}",
            },
        )

    # -- risk classes ---------------------------------------------------------------------------
    @cached_property
    def risks(self) -> pd.DataFrame:
        """`month, worst_change_pct, risk_class` of the months the window touches (each
        month's days up to the window's end)."""
        prices = self.db.query_df(
            "SELECT coin_id, date, price_usd FROM prices "
            "WHERE coin_id = ? AND date BETWEEN ? AND ? ORDER BY date",
            [self.coin, self.window.start.replace(day=1), self.window.end],
        )
        risks = risk_classes(prices)
        risks["worst_change_pct"] = risks["worst_change_1d"] * 100
        return risks[["month", "worst_change_pct", "risk_class"]]

    def risk_chart(self) -> Image | Markdown:
        risks = self.risks
        if risks.empty:
            return self._no_prices(
                f"between {self.window.start.replace(day=1)} and {self.window.end}"
            )
        fig, (ax,) = display.figure(height=3.2)
        months = pd.to_datetime(risks["month"])
        colors = [display.RISK_COLORS[r] for r in risks["risk_class"]]
        ax.bar(months, risks["worst_change_pct"].fillna(0), width=20, color=colors)
        for level, name in ((MEDIUM_DROP, "medium"), (HIGH_DROP, "high")):
            ax.axhline(level * 100, color=display.RISK_COLORS[name], ls="--", lw=1)
        handles = [
            ax.bar([months.iloc[0]], [0], color=c, label=name)
            for name, c in display.RISK_COLORS.items()
        ]
        ax.legend(handles=handles, title="risk class", loc="lower left", fontsize=8)
        ax.set_ylabel("worst day-to-day change (%)")
        ax.set_xlabel("month")
        ax.set_title(f"{self.coin}: worst daily fall per month and its risk class")
        display.date_axis(ax)
        return display.image(fig)

    def risk_table(self) -> Styler | Markdown:
        risks = self.risks
        if risks.empty:
            return display.SHOWN_ABOVE
        shown = risks.assign(month=pd.to_datetime(risks["month"]).dt.strftime("%Y-%m")).rename(
            columns={"worst_change_pct": "worst day-to-day change (%)", "risk_class": "risk class"}
        )
        counts = risks["risk_class"].value_counts()
        summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in display.RISK_COLORS)
        return display.table(shown, {"worst day-to-day change (%)": "{:+.2f}"}).set_caption(
            f"Months: {summary}"
        )

    # -- monthly SQL analyses -------------------------------------------------------------------
    @cached_property
    def monthly(self) -> pd.DataFrame:
        """Per month the window touches: `month, avg_price_usd, days, min_price_usd, min_date,
        max_price_usd, max_date` over the whole calendar month's stored prices."""
        with self.db.read() as con:
            average = monthly_average(con)
            ranges = monthly_range(con)
        first = pd.Timestamp(self.window.start.replace(day=1))
        last = pd.Timestamp(self.window.end)
        frames = []
        for frame in (average, ranges):
            frame = frame[frame["coin_id"] == self.coin].drop(columns="coin_id")
            frame = frame.assign(month=pd.to_datetime(frame["month"]))
            frames.append(frame[(frame["month"] >= first) & (frame["month"] <= last)])
        merged = frames[0].merge(frames[1].drop(columns="days"), on="month", how="left")
        return merged.sort_values("month").reset_index(drop=True)

    def monthly_chart(self) -> Image | Markdown:
        monthly = self.monthly
        if monthly.empty:
            return self._no_prices(f"in the months of {self.window}")
        fig, (ax,) = display.figure(height=3.4)
        ax.bar(
            monthly["month"],
            monthly["max_price_usd"] - monthly["min_price_usd"],
            bottom=monthly["min_price_usd"],
            width=20,
            color=display.PRICE,
            alpha=0.2,
            label="monthly min to max",
        )
        ax.plot(
            monthly["month"],
            monthly["avg_price_usd"],
            color=display.PRICE,
            marker="o",
            label="monthly average",
        )
        ax.set_ylabel("price (USD)")
        ax.set_xlabel("month")
        ax.set_title(f"{self.coin}: average, minimum and maximum price per month")
        ax.legend(loc="upper left", fontsize=8)
        display.date_axis(ax)
        return display.image(fig)

    def monthly_table(self) -> Styler | Markdown:
        monthly = self.monthly
        if monthly.empty:
            return display.SHOWN_ABOVE
        shown = monthly.assign(
            month=monthly["month"].dt.strftime("%Y-%m"),
            min_date=pd.to_datetime(monthly["min_date"]).dt.date,
            max_date=pd.to_datetime(monthly["max_date"]).dt.date,
        ).rename(
            columns={
                "avg_price_usd": "average (USD)",
                "days": "days",
                "min_price_usd": "min (USD)",
                "min_date": "min on",
                "max_price_usd": "max (USD)",
                "max_date": "max on",
            }
        )
        money = "{:,.6g}"
        return display.table(
            shown, {"average (USD)": money, "min (USD)": money, "max (USD)": money}
        )

    def rebound(self) -> Styler | Markdown:
        """The losing-streak analysis of the coin's whole stored history."""
        with self.db.read() as con:
            frame = losing_streak_rebound(con)
        row = frame[frame["coin_id"] == self.coin]
        if row.empty:
            return self._no_prices("at all")
        row = row.iloc[0]
        if not row["events"]:
            return display.note(f"{self.coin} never fell more than 3 days in a row.")
        shown = pd.DataFrame(
            {
                "measure": [
                    "days ending a fall of more than 3 days in a row",
                    "average next-day rise (USD)",
                    "average next-day rise (%)",
                    "average 3-day rise (%)",
                    "average 7-day rise (%)",
                    "share of next days up (%)",
                    f"market cap on {pd.Timestamp(row['market_cap_date']):%Y-%m-%d} (USD)",
                ],
                "value": [
                    f"{row['events']:,}",
                    f"{row['avg_next_day_rise_usd']:+,.6g}",
                    f"{row['avg_next_day_rise_pct']:+.2f}",
                    _pct(row["avg_3_day_rise_pct"]),
                    _pct(row["avg_7_day_rise_pct"]),
                    _pct(row["share_next_day_up"] * 100, sign=False),
                    "-"
                    if pd.isna(row["current_market_cap_usd"])
                    else f"{row['current_market_cap_usd']:,.0f}",
                ],
            }
        )
        return display.table(shown)

    # -- forecast -------------------------------------------------------------------------------
    @cached_property
    def last_price_date(self) -> date | None:
        return self.db.query(
            "SELECT max(date) FROM prices WHERE coin_id = ? AND date <= ?",
            [self.coin, self.window.end],
        )[0][0]

    @cached_property
    def forecast(self) -> Forecast | None:
        """The next `horizon` days from the window's last price, or None without a model."""
        origin = self.last_price_date
        if origin is None:
            return None
        stored = self.db.query_df(
            """
            WITH latest AS (
                SELECT model_version FROM forecasts WHERE coin_id = ? AND forecast_date = ?
                ORDER BY created_at DESC LIMIT 1
            )
            SELECT target_date AS date, yhat, yhat_lower, yhat_upper, interval, model_version
            FROM forecasts JOIN latest USING (model_version)
            WHERE coin_id = ? AND forecast_date = ? ORDER BY target_date
            """,
            [self.coin, origin, self.coin, origin],
        )
        if len(stored) >= self.horizon:
            points = stored.head(self.horizon)
            return Forecast(
                points=points[["date", "yhat", "yhat_lower", "yhat_upper"]],
                origin=origin,
                model_version=str(points["model_version"].iloc[0]),
                interval=float(points["interval"].iloc[0]),
                source="the stored forecast (asset price_forecasts)",
            )
        from ecoin_assets.forecasting import model as price_model

        if price_model.served_version(self.settings.home, self.coin) is None:
            return None
        prices = self.db.query_df(
            "SELECT date, price_usd FROM prices WHERE coin_id = ? AND date <= ? ORDER BY date",
            [self.coin, origin],
        )
        with warnings.catch_warnings():  # tqdm's notebook check, when NeuralProphet loads
            warnings.filterwarnings("ignore", message="IProgress not found")
            model = price_model.load(self.settings.home, self.coin)
            points = price_model.forecast(model, prices, self.horizon)
        return Forecast(
            points=points,
            origin=origin,
            model_version=model.version,
            interval=model.config.interval,
            source=f"the saved model (trained to {model.trained_to})",
        )

    def _no_forecast(self) -> Markdown:
        if self.last_price_date is None:
            return self._no_prices(f"up to {self.window.end}")
        return display.note(
            f"no forecast of {self.coin}: no model is trained yet; run 'ecoin forecast train "
            f"--coin {self.coin}' or materialize price_model in Dagster."
        )

    def forecast_chart(self) -> Image | Markdown:
        forecast = self.forecast
        if forecast is None:
            return self._no_forecast()
        history = self.db.query_df(
            "SELECT date, price_usd FROM prices WHERE coin_id = ? AND date BETWEEN ? AND ? "
            "ORDER BY date",
            [self.coin, forecast.origin - timedelta(days=HISTORY_SHOWN - 1), forecast.origin],
        )
        points = forecast.points.assign(date=pd.to_datetime(forecast.points["date"]))
        fig, (ax,) = display.figure()
        ax.plot(
            pd.to_datetime(history["date"]),
            history["price_usd"],
            color=display.PRICE,
            label="price",
        )
        ax.fill_between(
            points["date"],
            points["yhat_lower"],
            points["yhat_upper"],
            color=display.FORECAST,
            alpha=0.25,
            label=f"{forecast.interval:.0%} prediction interval",
        )
        ax.plot(
            points["date"],
            points["yhat"],
            color=display.FORECAST,
            marker="o",
            ms=3,
            label="forecast",
        )
        ax.axvline(pd.Timestamp(forecast.origin), color="grey", ls=":", lw=1)
        ax.set_ylabel("price (USD)")
        ax.set_xlabel("date (UTC)")
        ax.set_title(f"{self.coin}: {self.horizon}-day forecast from {forecast.origin}")
        ax.legend(loc="upper left", fontsize=8)
        display.date_axis(ax)
        return display.image(fig)

    def forecast_table(self) -> Styler | Markdown:
        forecast = self.forecast
        if forecast is None:
            return display.SHOWN_ABOVE
        shown = forecast.points.assign(
            date=pd.to_datetime(forecast.points["date"]).dt.date,
            horizon=range(1, len(forecast.points) + 1),
        )[["horizon", "date", "yhat", "yhat_lower", "yhat_upper"]].rename(
            columns={
                "horizon": "days ahead",
                "yhat": "forecast (USD)",
                "yhat_lower": "lower (USD)",
                "yhat_upper": "upper (USD)",
            }
        )
        money = "{:,.6g}"
        return display.table(
            shown, {"forecast (USD)": money, "lower (USD)": money, "upper (USD)": money}
        ).set_caption(
            f"Model {forecast.model_version}, from {forecast.source}; the "
            f"{forecast.interval:.0%} interval is where the price should fall "
            f"{forecast.interval:.0%} of the time."
        )

    # -- backtests ------------------------------------------------------------------------------
    @cached_property
    def comparison(self) -> pd.DataFrame:
        """The stored one-day-ahead scores of the three models (`model_comparison`)."""
        frame = self.db.query_df(
            "SELECT model, n_origins, mae, mape, naive_mae, mase, test_start, test_end "
            "FROM model_comparison WHERE coin_id = ? AND horizon = 1",
            [self.coin],
        )
        order = {name: i for i, name in enumerate(MODELS)}
        return frame.sort_values("model", key=lambda s: s.map(order)).reset_index(drop=True)

    def backtest_table(self) -> Styler | Markdown:
        frame = self.comparison
        if frame.empty:
            return display.note(
                f"no backtest of {self.coin} is stored yet: materialize model_comparison "
                "(forecast_job) in Dagster."
            )
        window = f"{frame['test_start'].iloc[0]:%Y-%m-%d} to {frame['test_end'].iloc[0]:%Y-%m-%d}"
        shown = frame.drop(columns=["test_start", "test_end"]).rename(
            columns={
                "n_origins": "origins",
                "mae": "MAE (USD)",
                "mape": "MAPE (%)",
                "naive_mae": "naive MAE (USD)",
                "mase": "MASE",
            }
        )
        money = "{:,.6g}"
        return display.table(
            shown,
            {"MAE (USD)": money, "MAPE (%)": "{:.3f}", "naive MAE (USD)": money, "MASE": "{:.3f}"},
        ).set_caption(
            f"One day ahead, test window {window}; MASE below 1 beats the naive forecast."
        )

    def horizon_backtest(self) -> Styler | Markdown:
        """NeuralProphet's latest rolling-origin backtest at `horizon` days."""
        frame = self.db.query_df(
            "SELECT model_version, n_origins, mae, mape, naive_mae, mase, interval, coverage, "
            "test_start, test_end FROM forecast_backtests WHERE coin_id = ? AND horizon = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [self.coin, self.horizon],
        )
        if frame.empty:
            return display.note(
                f"no {self.horizon}-day backtest of {self.coin} is stored: run 'ecoin forecast "
                f"backtest --coin {self.coin} --horizon {self.horizon}' or materialize "
                "forecast_backtest."
            )
        row = frame.iloc[0]
        shown = pd.DataFrame(
            {
                "model version": [row["model_version"]],
                "origins": [row["n_origins"]],
                "MAE (USD)": [row["mae"]],
                "naive MAE (USD)": [row["naive_mae"]],
                "MASE": [row["mase"]],
                "MAPE (%)": [row["mape"]],
                f"{row['interval']:.0%} interval coverage (%)": [row["coverage"] * 100],
            }
        )
        return display.table(
            shown,
            {
                "MAE (USD)": "{:,.6g}",
                "naive MAE (USD)": "{:,.6g}",
                "MASE": "{:.3f}",
                "MAPE (%)": "{:.3f}",
                f"{row['interval']:.0%} interval coverage (%)": "{:.1f}",
            },
        ).set_caption(
            f"NeuralProphet, {self.horizon} days ahead, test window "
            f"{row['test_start']:%Y-%m-%d} to {row['test_end']:%Y-%m-%d}."
        )

    # -- sentiment and price ------------------------------------------------------------------
    def aligned(self, freq: str = "day") -> pd.DataFrame:
        """Per day (or hour) of the window from the first to the last with posts: `ts,
        sentiment, posts, price_usd, return` (the price known at the period's end and the
        period's log return), as `ecoin analysis correlation` pairs them. Hourly pairs need
        hourly prices (`prices_hourly`) in the window; without them the frame is empty."""
        if freq not in self._aligned:
            self._aligned[freq] = self._align(freq)
        return self._aligned[freq]

    @cached_property
    def _aligned(self) -> dict[str, pd.DataFrame]:
        """Aligned series and correlation tables computed so far, by frequency."""
        return {}

    def _align(self, freq: str) -> pd.DataFrame:
        empty = pd.DataFrame(columns=["ts", "sentiment", "posts", "price_usd", "return"])
        since, until = self.window.since, self.window.until
        if freq == "hour":
            hourly = self.db.query(
                "SELECT count(*) FROM prices_hourly WHERE coin_id = ? AND ts >= ? AND ts < ?",
                [self.coin, since, until],
            )[0][0]
            if not hourly:
                return empty
        periods = sentiment_periods(self.db, self.coin, self.sentiment_version, freq, since, until)
        if periods.empty:
            return empty
        try:
            points = price_points(self.db, self.coin, freq)
        except UserError:  # no prices at all
            return empty
        return align_asof(periods, points[points["ts"] < until], freq)

    def correlation(self, freq: str = "day") -> pd.DataFrame:
        """Pearson and Spearman r, p-value and pairs per lag, against price and returns."""
        key = f"stats-{freq}"
        if key not in self._aligned:
            self._aligned[key] = correlation_stats(self.aligned(freq))
        return self._aligned[key]

    def _no_sentiment(self) -> Markdown:
        return display.note(
            f"no scored posts on the topic '{self.coin}' in {self.window} (sentiment model "
            f"{self.sentiment_version}), or no prices to pair them with."
        )

    def sentiment_chart(self) -> Image | Markdown:
        aligned = self.aligned("day")
        if aligned.empty:
            return self._no_sentiment()
        fig, (ax,) = display.figure()
        days = pd.to_datetime(aligned["ts"])
        ax.bar(
            days, aligned["sentiment"], color=display.SENTIMENT, alpha=0.6, label="mean sentiment"
        )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("mean sentiment (-1 to 1)")
        ax.set_xlabel("day (UTC)")
        price = ax.twinx()
        price.plot(days, aligned["price_usd"], color=display.PRICE, label="price at day end")
        price.set_ylabel("price (USD)")
        ax.set_title(f"'{self.coin}' posts: daily sentiment and {self.coin}'s price")
        handles = ax.get_legend_handles_labels()[0] + price.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="best", fontsize=8)
        display.date_axis(ax)
        return display.image(fig)

    def _pairs_note(self, freq: str) -> str | None:
        """Why the correlation at `freq` cannot be shown, or None when it can."""
        stats = self.correlation(freq)
        if not stats.empty and stats["r"].notna().any():
            return None
        if freq == "hour" and self.aligned("hour").empty:
            return (
                f"no hourly prices of {self.coin} stored in the window ('ecoin prices "
                f"fetch-hourly --coin {self.coin}')"
            )
        most = int(stats["n"].max()) if not stats.empty else 0
        return f"too few {freq}s with both posts and prices ({most}; it takes {MIN_PAIRS})"

    def correlation_chart(self) -> Image | Markdown:
        if self.aligned("day").empty:
            return self._no_sentiment()
        notes = {freq: self._pairs_note(freq) for freq in ("day", "hour")}
        if all(notes.values()):
            return display.note(f"no correlation yet: {notes['day']}; {notes['hour']}.")
        fig, axes = display.figure(width=10, height=3.4, cols=2)
        for ax, freq in zip(axes, ("day", "hour"), strict=True):
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_ylim(-1, 1)
            ax.set_xticks(list(LAGS))
            ax.set_xlim(min(LAGS) - 0.6, max(LAGS) + 0.6)
            ax.set_xlabel(f"lag ({freq}s; positive: sentiment leads)")
            ax.set_title(f"{'daily' if freq == 'day' else 'hourly'}", fontsize=10)
            if notes[freq]:
                ax.text(0, 0, notes[freq], ha="center", va="center", wrap=True, fontsize=9)
                continue
            pearson = self.correlation(freq)
            pearson = pearson[pearson["method"] == "pearson"]
            for offset, against, color in (
                (-0.2, "return", display.SENTIMENT),
                (0.2, "price", display.PRICE),
            ):
                rows = pearson[pearson["against"] == against]
                ax.bar(
                    rows["lag"] + offset,
                    rows["r"].fillna(0),
                    width=0.38,
                    color=color,
                    label=f"vs {against}",
                )
            ax.legend(loc="upper left", fontsize=8)
        axes[0].set_ylabel("Pearson r")
        fig.suptitle(f"'{self.coin}' sentiment against {self.coin}'s price and returns, by lag")
        return display.image(fig)

    def correlation_table(self) -> Styler | Markdown:
        frames = [self._wide(freq) for freq in ("day", "hour") if self._pairs_note(freq) is None]
        if not frames:
            return display.SHOWN_ABOVE
        formats = {c: "{:+.3f}" for c in frames[0].columns if " r " in c}
        formats |= {c: "{:.3g}" for c in frames[0].columns if c.startswith("p (")}
        return display.table(pd.concat(frames, ignore_index=True), {"lag": "{:+d}", **formats})

    def _wide(self, freq: str) -> pd.DataFrame:
        """One row per lag: r and p of both methods against returns and price, and pairs."""
        stats = self.correlation(freq)
        wide = stats.pivot(index="lag", columns=["against", "method"], values=["r", "p_value"])
        columns = {}
        for against in ("return", "price"):
            for method in ("pearson", "spearman"):
                columns[f"{method} r vs {against}"] = wide[("r", against, method)]
                columns[f"p ({method}, {against})"] = wide[("p_value", against, method)]
        pairs = stats[stats["against"] == "return"].groupby("lag")["n"].first()
        return pd.DataFrame(
            {"periods": f"{freq}s", "lag": wide.index, **columns, "pairs": pairs.to_numpy()}
        )


def _pct(value: float, sign: bool = True) -> str:
    if pd.isna(value):
        return "-"
    return f"{value:+.2f}" if sign else f"{value:.1f}"
