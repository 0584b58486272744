"""The forecast of the next `horizon` days from the window's last price, with its interval:
the stored forecast (`price_forecasts`) when it starts there and is long enough, else the
coin's latest saved model."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.reports import display
from ecoin_assets.reports.coin.notes import no_prices
from ecoin_assets.reports.params import Window
from ecoin_assets.storage import Database

HISTORY_SHOWN = 60  # days of prices before the forecast in its plot


@dataclass
class Forecast:
    points: pd.DataFrame  # date, yhat, yhat_lower, yhat_upper
    origin: date  # the last price it starts from
    model_version: str
    interval: float
    source: str


def last_price_date(db: Database, coin: str, window: Window) -> date | None:
    return db.query(
        "SELECT max(date) FROM prices WHERE coin_id = ? AND date <= ?", [coin, window.end]
    )[0][0]


def coin_forecast(
    db: Database, home: Path, coin: str, origin: date | None, horizon: int
) -> Forecast | None:
    """The next `horizon` days from `origin` (the last price), or None without a model."""
    if origin is None:
        return None
    stored = db.query_df(
        """
        WITH latest AS (
            SELECT model_version FROM forecasts WHERE coin_id = ? AND forecast_date = ?
            ORDER BY created_at DESC LIMIT 1
        )
        SELECT target_date AS date, yhat, yhat_lower, yhat_upper, interval, model_version
        FROM forecasts JOIN latest USING (model_version)
        WHERE coin_id = ? AND forecast_date = ? ORDER BY target_date
        """,
        [coin, origin, coin, origin],
    )
    if len(stored) >= horizon:
        points = stored.head(horizon)
        return Forecast(
            points=points[["date", "yhat", "yhat_lower", "yhat_upper"]],
            origin=origin,
            model_version=str(points["model_version"].iloc[0]),
            interval=float(points["interval"].iloc[0]),
            source="the stored forecast (asset price_forecasts)",
        )
    from ecoin_assets.forecasting import model as price_model

    if price_model.served_version(home, coin) is None:
        return None
    prices = db.query_df(
        "SELECT date, price_usd FROM prices WHERE coin_id = ? AND date <= ? ORDER BY date",
        [coin, origin],
    )
    with warnings.catch_warnings():  # tqdm's notebook check, when NeuralProphet loads
        warnings.filterwarnings("ignore", message="IProgress not found")
        model = price_model.load(home, coin)
        points = price_model.forecast(model, prices, horizon)
    return Forecast(
        points=points,
        origin=origin,
        model_version=model.version,
        interval=model.config.interval,
        source=f"the saved model (trained to {model.trained_to})",
    )


def history(db: Database, coin: str, origin: date) -> pd.DataFrame:
    """`date, price_usd` of the HISTORY_SHOWN days up to the forecast's origin."""
    return db.query_df(
        "SELECT date, price_usd FROM prices WHERE coin_id = ? AND date BETWEEN ? AND ? "
        "ORDER BY date",
        [coin, origin - timedelta(days=HISTORY_SHOWN - 1), origin],
    )


def no_forecast(coin: str, window: Window, last_price: date | None) -> Markdown:
    if last_price is None:
        return no_prices(coin, f"up to {window.end}")
    return display.note(
        f"no forecast of {coin}: no model is trained yet; run 'ecoin forecast train "
        f"--coin {coin}' or materialize price_model in Dagster."
    )


def forecast_chart(
    forecast: Forecast, history: pd.DataFrame, coin: str, horizon: int
) -> Image | Markdown:
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
    ax.set_title(f"{coin}: {horizon}-day forecast from {forecast.origin}")
    ax.legend(loc="upper left", fontsize=8)
    display.date_axis(ax)
    return display.image(fig)


def forecast_table(forecast: Forecast | None) -> Styler | Markdown:
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
