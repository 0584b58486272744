"""The intervals series are cut into: 30 minutes, an hour, a day, a week (from Monday) or a
month, with the default span a request covers and the trailing baseline z-scores use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from ecoin_assets.errors import InvalidInputError


@dataclass(frozen=True)
class Interval:
    name: str
    minutes: int | None  # a fixed length, or
    unit: str | None  # a calendar unit
    default_span: timedelta
    baseline: int  # trailing periods a z-score compares with

    def floor(self, ts: pd.Series) -> pd.Series:
        """Each timestamp's period start, as SQL's `storage.sql.period_start` cuts it."""
        if self.unit == "week":
            return ts.dt.to_period("W-SUN").dt.start_time
        if self.unit == "month":
            return ts.dt.to_period("M").dt.start_time
        return ts.dt.floor(f"{self.minutes}min")

    def start_of(self, moment: datetime) -> datetime:
        return self.floor(pd.Series([pd.Timestamp(moment)])).iloc[0].to_pydatetime()

    def shift(self, moment: datetime, periods: int) -> datetime:
        """`moment` moved by `periods` periods (negative: back)."""
        if self.unit == "month":
            return (pd.Timestamp(moment) + pd.DateOffset(months=periods)).to_pydatetime()
        if self.unit == "week":
            return moment + timedelta(weeks=periods)
        return moment + timedelta(minutes=(self.minutes or 0) * periods)

    def starts(self, start: datetime, end: datetime) -> pd.DatetimeIndex:
        """The starts of every period that overlaps [start, end)."""
        freq = {"week": "W-MON", "month": "MS"}.get(self.unit or "", f"{self.minutes}min")
        return pd.date_range(self.start_of(start), end, freq=freq, inclusive="left")


INTERVALS = {
    i.name: i
    for i in (
        Interval("30min", 30, None, timedelta(days=2), 48),
        Interval("hour", 60, None, timedelta(days=7), 24),
        Interval("day", 1440, None, timedelta(days=90), 28),
        Interval("week", None, "week", timedelta(days=364), 12),
        Interval("month", None, "month", timedelta(days=3 * 365), 12),
    )
}


def interval_of(name: str | None, default: str = "hour") -> Interval:
    name = (name or default).strip().lower()
    if name not in INTERVALS:
        raise InvalidInputError(f"interval must be one of {', '.join(INTERVALS)}, not {name!r}")
    return INTERVALS[name]


def parse_moment(value: str | None, what: str) -> datetime | None:
    """A date or ISO 8601 time as naive UTC (an offset is converted; none means UTC)."""
    if value is None or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{what} {value!r} is not a date or time: use ISO 8601, e.g. 2026-12-01 or "
            "2026-12-01T08:30:00Z"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def window(
    start: str | None, end: str | None, interval: Interval, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """[start, end) from the request (naive UTC): `end` defaults to now, `start` to the
    interval's default span before `end`."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    until = parse_moment(end, "end") or now
    since = parse_moment(start, "start") or until - interval.default_span
    if since >= until:
        raise InvalidInputError(f"the window {since} .. {until} is empty: start must be before end")
    if since < datetime(2009, 1, 3):
        raise InvalidInputError(f"start {since.date()} is before bitcoin existed (2009-01-03)")
    return since, until
