"""Report parameters: checked (and defaults filled in) before any notebook cell runs.

Both report kinds take a window of whole UTC days, `start` to `end` included, as
`YYYY-MM-DD` text (papermill passes parameters as plain values). An empty `end` is today
(UTC); an empty `start` is `end` minus the report's default span. A coin or topic is known
when it is configured (`ECOIN_COINS`, `ECOIN_TOPICS`) or the database holds data for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ecoin_assets.config import Settings, validate_coin_id
from ecoin_assets.errors import InvalidInputError, NoDataError, NotFoundError, Remedy, UserError
from ecoin_assets.forecasting.model import MAX_HORIZON, model_dir, served_version
from ecoin_assets.prices.fetch import parse_date
from ecoin_assets.sources.coingecko import utc_today
from ecoin_assets.storage import Database
from ecoin_assets.tweets.topics import list_topics, seeds

COIN_DAYS = 365  # default window of the coin report
SENTIMENT_DAYS = 7  # default window of the sentiment report (X's recent search reaches 7 days)
DEFAULT_HORIZON = 7


@dataclass(frozen=True)
class Window:
    """Whole UTC days `start`..`end`, both included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        """The first instant of the window (naive UTC, as the database stores times)."""
        return datetime.combine(self.start, time())

    @property
    def until(self) -> datetime:
        """The first instant after the window."""
        return datetime.combine(self.end + timedelta(days=1), time())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return f"{self.start} to {self.end}"


@dataclass(frozen=True)
class CoinParams:
    coin: str
    start: str
    end: str
    horizon: int

    @property
    def window(self) -> Window:
        return Window(date.fromisoformat(self.start), date.fromisoformat(self.end))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SentimentParams:
    topic: str
    start: str
    end: str

    @property
    def window(self) -> Window:
        return Window(date.fromisoformat(self.start), date.fromisoformat(self.end))

    def as_dict(self) -> dict:
        return asdict(self)


def _window(start: str | None, end: str | None, default_days: int) -> Window:
    last = parse_date(end, "end date") if end and end.strip() else utc_today()
    first = (
        parse_date(start, "start date")
        if start and start.strip()
        else last - timedelta(days=default_days - 1)
    )
    if first > last:
        default = "" if end and end.strip() else " (today, UTC, when none is given)"
        raise UserError(f"the start date {first} is after the end date {last}{default}")
    return Window(first, last)


def report_database(settings: Settings) -> Database:
    """The database reports read (`ECOIN_DATABASE_URL`, else the DuckDB file under
    `ECOIN_HOME`), or a UserError when there is none yet."""
    db = Database.from_settings(settings)
    if not db.exists():
        raise NoDataError(f"no database at {db.label} yet", remedy=Remedy.COLLECT_DATA)
    return db


def _model_horizon(home: Path, coin: str) -> int | None:
    """How many days the coin's latest saved model forecasts (None without a model)."""
    version = served_version(home, coin)
    meta = model_dir(home, coin) / str(version) / "meta.json"
    if version is None or not meta.exists():
        return None
    return len(json.loads(meta.read_text())["scale"])


def coin_params(
    coin: str,
    start: str | None = None,
    end: str | None = None,
    horizon: int | str = DEFAULT_HORIZON,
    *,
    settings: Settings,
) -> CoinParams:
    """Checked parameters of a coin report, or a UserError that says what to change."""
    try:
        days = int(horizon)
    except (TypeError, ValueError):
        raise UserError(f"invalid horizon {horizon!r}: use a whole number of days") from None
    if not 1 <= days <= MAX_HORIZON:
        raise UserError(f"horizon {days} is outside 1-{MAX_HORIZON} days")
    window = _window(start, end, COIN_DAYS)
    coin_id = validate_coin_id(coin)
    db = report_database(settings)
    if coin_id not in settings.coins:
        stored = db.query("SELECT count(*) FROM prices WHERE coin_id = ?", [coin_id])[0][0]
        if not stored:
            raise NotFoundError(
                f"unknown coin {coin_id!r}: it is not in ECOIN_COINS "
                f"({', '.join(settings.coins)}) and no prices are stored for it",
                remedy=Remedy.FETCH_PRICES,
                coin=coin_id,
            )
    longest = _model_horizon(settings.home, coin_id)
    if longest is not None and days > longest:
        raise InvalidInputError(
            f"the {coin_id} model forecasts up to {longest} days: use a horizon of 1-{longest}",
            remedy=Remedy.TRAIN_FORECAST,
            coin=coin_id,
            horizon=days,
        )
    return CoinParams(coin_id, window.start.isoformat(), window.end.isoformat(), days)


def sentiment_params(
    topic: str,
    start: str | None = None,
    end: str | None = None,
    *,
    settings: Settings,
) -> SentimentParams:
    """Checked parameters of a sentiment report, or a UserError that says what to change."""
    name = (topic or "").strip()
    if not name:
        raise UserError("the topic is empty: name a tracked topic, e.g. 'bitcoin'")
    window = _window(start, end, SENTIMENT_DAYS)
    db = report_database(settings)
    tracked = list_topics(db, seeds(settings), removed=True)
    if name not in {t.name for t in tracked}:
        stored = db.query("SELECT count(*) FROM post_topics WHERE topic = ?", [name])[0][0]
        if not stored:
            active = ", ".join(t.name for t in tracked if t.active) or "none"
            raise NotFoundError(
                f"unknown topic {name!r}: it is not a tracked topic ({active}) and no posts "
                "are stored for it",
                remedy=Remedy.ADD_TOPIC,
                topic=name,
            )
    return SentimentParams(name, window.start.isoformat(), window.end.isoformat())
