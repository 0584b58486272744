"""CoinGecko price client on `pycoingecko`, hardened for the real API's behaviour.

- The base URL is `COINGECKO_API_URL` when set (with or without a trailing slash), else the
  sandbox or the public/pro API; demo and pro keys travel as headers, never in URLs.
- A date range becomes as few `/coins/{id}/market_chart/range` calls as CoinGecko's rules
  allow: ranges over 90 days come back daily at 00:00 UTC, so a short range is widened to 92
  days and a long one is fetched whole; only the daily 00:00 UTC snapshots inside the range
  are kept (the API also appends a live "now" point).
- Calls are paced (30/min by default, shared by all threads); a 429 waits for `Retry-After`;
  5xx, dropped connections and malformed bodies are retried with exponential backoff.
- Every answer is kept as received (`ApiAnswer`) so the caller can store it verbatim.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from pycoingecko import CoinGeckoAPI

from ecoin_assets.config import PUBLIC_COINGECKO_URL, Settings
from ecoin_assets.errors import PlanLimitError, SourceError, UnknownCoinError
from ecoin_assets.sources.pacing import CallPacer

DAY_MS = 86_400_000
DAILY_MIN_SPAN_DAYS = 92  # CoinGecko returns daily points for ranges over 90 days
DEMO_HISTORY_DAYS = 365
_RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504, 520, 522, 524}


@dataclass(frozen=True)
class DailyPoint:
    coin_id: str
    date: date
    price_usd: float
    market_cap_usd: float | None
    volume_usd: float | None


@dataclass(frozen=True)
class ApiAnswer:
    """One HTTP answer as received, with the request it answered (no secrets)."""

    coin_id: str | None
    endpoint: str
    url: str
    params: dict[str, str]
    status: int | None  # None: no answer (connection dropped, timeout)
    body: str
    received_at: datetime
    error: str | None = None


@dataclass
class FetchResult:
    coin_id: str
    start: date
    end: date
    points: list[DailyPoint]
    answers: list[ApiAnswer]

    @property
    def data_calls(self) -> int:
        return sum(1 for a in self.answers if a.status == 200 and a.error is None)


class MalformedAnswerError(Exception):
    pass


class _RecordingSession(requests.Session):
    """Keeps the last response, which `pycoingecko` does not expose."""

    last_response: requests.Response | None = None

    def request(self, *args, **kwargs):  # type: ignore[override]
        self.last_response = None
        self.last_response = super().request(*args, **kwargs)
        return self.last_response


def utc_today() -> date:
    return datetime.now(UTC).date()


def _midnight_s(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def plan_window(start: date, end: date, *, earliest: date | None) -> tuple[date, date]:
    """The request window for [start, end] that yields daily points.

    Spans of 90 days or less come back hourly, so they are widened to `DAILY_MIN_SPAN_DAYS`,
    backwards when the plan's history allows it (`earliest`), forwards otherwise.
    """
    if (end - start).days >= DAILY_MIN_SPAN_DAYS:
        return start, end
    widened = end - timedelta(days=DAILY_MIN_SPAN_DAYS)
    if earliest is None or widened >= earliest:
        return min(start, widened), end
    return start, max(end, start + timedelta(days=DAILY_MIN_SPAN_DAYS))


def retry_after_seconds(value: str | None) -> float | None:
    """Parse `Retry-After` (seconds or an HTTP date; a date without a zone is UTC).

    Returns None for anything else, including non-finite numbers.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def snapshot_day(ts_ms: int) -> date:
    """The UTC calendar day a daily snapshot stands for.

    CoinGecko takes its daily series at 00:00 UTC, but a few real snapshots were taken later
    the same day (e.g. `2017-06-06 23:29:55` is 2017-06-06's, `2018-01-30 00:05:18` is
    2018-01-30's): a snapshot belongs to the day it was taken on.
    """
    return datetime.fromtimestamp(ts_ms // DAY_MS * DAY_MS / 1000, tz=UTC).date()


def chart_series(body: object) -> dict[str, dict[int, float | None]]:
    """`prices`, `market_caps`, `total_volumes` of a market-chart answer, each {ms: value}.

    Raises `MalformedAnswerError` when the answer does not have the market-chart shape.
    """
    if not isinstance(body, dict):
        raise MalformedAnswerError(f"expected a JSON object, got {type(body).__name__}")
    series: dict[str, dict[int, float | None]] = {}
    for key in ("prices", "market_caps", "total_volumes"):
        rows = body.get(key)
        if not isinstance(rows, list):
            raise MalformedAnswerError(f"missing list {key!r}")
        values: dict[int, float | None] = {}
        for row in rows:
            if (
                not isinstance(row, list)
                or len(row) != 2
                or not isinstance(row[0], (int, float))
                or isinstance(row[0], bool)
                or not (row[1] is None or isinstance(row[1], (int, float)))
            ):
                raise MalformedAnswerError(f"bad {key} entry {row!r:.60}")
            values[int(row[0])] = None if row[1] is None else float(row[1])
        series[key] = values
    return series


def parse_chart(
    body: object, coin_id: str, start: date, end: date, now_ms: int | None = None
) -> list[DailyPoint]:
    """The daily 00:00 UTC points of a market-chart answer that fall in [start, end].

    The live point CoinGecko appends when a range reaches the present is dropped; of several
    points on one day (only a misbehaving server sends them), the one nearest its 00:00 wins.
    Raises `MalformedAnswerError` when the answer does not have the market-chart shape.
    """
    series = chart_series(body)
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    best: dict[date, tuple[int, float]] = {}
    for ts, price in series["prices"].items():
        day = snapshot_day(ts)
        if not start <= day <= end:
            continue
        if ts % DAY_MS and ts > now_ms - DAY_MS:
            continue  # the live "now" point, not a daily snapshot
        if price is None or not math.isfinite(price) or price <= 0:
            continue
        if day not in best or ts % DAY_MS < best[day][0] % DAY_MS:
            best[day] = (ts, price)
    return [
        DailyPoint(
            coin_id=coin_id,
            date=day,
            price_usd=price,
            market_cap_usd=_finite(series["market_caps"].get(ts)),
            volume_usd=_finite(series["total_volumes"].get(ts)),
        )
        for day, (ts, price) in sorted(best.items())
    ]


@dataclass(frozen=True)
class HourlyPoint:
    coin_id: str
    hour: datetime  # the UTC hour the point stands for (naive)
    ts: datetime  # when CoinGecko observed it (naive UTC)
    price_usd: float
    market_cap_usd: float | None
    volume_usd: float | None


#: CoinGecko answers a range of more than 1 and at most 90 days hourly (and 5-minutely up to
#: 1 day, which bucketing by hour also handles); longer ranges come back daily
HOURLY_WINDOW = timedelta(days=89)


def parse_hourly(body: object, coin_id: str, start: datetime, end: datetime) -> list[HourlyPoint]:
    """One point per UTC hour in [start, end] (naive UTC): of several, the nearest after the
    hour's start. The live "now" point counts: it is an observation like the others."""
    series = chart_series(body)
    best: dict[datetime, tuple[int, float]] = {}
    for ts, price in series["prices"].items():
        when = datetime.fromtimestamp(ts / 1000, tz=UTC).replace(tzinfo=None)
        if not start <= when <= end or price is None or not math.isfinite(price) or price <= 0:
            continue
        hour = when.replace(minute=0, second=0, microsecond=0)
        if hour not in best or ts < best[hour][0]:
            best[hour] = (ts, price)
    return [
        HourlyPoint(
            coin_id=coin_id,
            hour=hour,
            ts=datetime.fromtimestamp(ts / 1000, tz=UTC).replace(tzinfo=None),
            price_usd=price,
            market_cap_usd=_finite(series["market_caps"].get(ts)),
            volume_usd=_finite(series["total_volumes"].get(ts)),
        )
        for hour, (ts, price) in sorted(best.items())
    ]


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class CoinGeckoClient:
    """Thread-safe: each thread gets its own `pycoingecko` client and session."""

    def __init__(
        self,
        base_url: str,
        *,
        demo_key: str | None = None,
        pro_key: str | None = None,
        calls_per_minute: int = 30,
        max_attempts: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self._headers = {"accept": "application/json"}
        if pro_key:
            self._headers["x-cg-pro-api-key"] = pro_key
        elif demo_key:
            self._headers["x-cg-demo-api-key"] = demo_key
        if pro_key:
            self.plan = "pro"
        elif demo_key:
            self.plan = "demo"
        else:  # CoinGecko's own keyless API has the demo plan's history limit
            self.plan = (
                "public" if self.host == urlsplit(PUBLIC_COINGECKO_URL).netloc else "keyless"
            )
        self.pacer = CallPacer(calls_per_minute, sleep=sleep)
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> CoinGeckoClient:
        return cls(
            settings.coingecko_url,
            demo_key=settings.coingecko_demo_key,
            pro_key=settings.coingecko_pro_key,
            **kwargs,
        )

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    def _api(self) -> CoinGeckoAPI:
        api = getattr(self._local, "api", None)
        if api is None:
            api = CoinGeckoAPI(retries=0)
            api.api_base_url = self.base_url
            api.request_timeout = self.timeout
            api.session = _RecordingSession()
            api.session.headers.update(self._headers)
            self._local.api = api
        return api

    # -- public calls -----------------------------------------------------------------------
    def ping(self) -> dict:
        return self._call(None, "ping", {}, lambda api: api.ping())[0]

    def coins_list(self) -> list[dict]:
        return self._call(None, "coins/list", {}, lambda api: api.get_coins_list())[0]

    def earliest_allowed(self, today: date | None = None) -> date | None:
        """The first date the plan may ask for (demo and public: 365 days back), or None."""
        if self.plan not in ("demo", "public"):
            return None
        return (today or utc_today()) - timedelta(days=DEMO_HISTORY_DAYS - 1)

    def daily_prices(
        self,
        coin_id: str,
        start: date,
        end: date,
        *,
        today: date | None = None,
        on_call: Callable[[ApiAnswer], None] | None = None,
    ) -> FetchResult:
        """Daily 00:00 UTC points of `coin_id` for every date in [start, end] the API has."""
        today = today or utc_today()
        earliest = self.earliest_allowed(today)
        if earliest and start < earliest:
            raise PlanLimitError(
                f"the CoinGecko {self.plan} plan reaches back 365 days only (to {earliest}); "
                f"ask for --start {earliest} or later, or set COINGECKO_PRO_API_KEY"
            )
        result = FetchResult(coin_id, start, end, [], [])
        seen: set[date] = set()
        cursor = start
        while cursor <= end:
            w_start, w_end = plan_window(cursor, end, earliest=earliest)
            params = {
                "vs_currency": "usd",
                "from": str(_midnight_s(w_start)),
                # an hour past midnight: the end day's 00:00 point is inside either way
                "to": str(_midnight_s(w_end) + 3600),
            }
            points, answers = self._call(
                coin_id,
                "coins/{id}/market_chart/range",
                params,
                lambda api, p=params: api.get_coin_market_chart_range_by_id(
                    coin_id, "usd", p["from"], p["to"]
                ),
                parse=lambda b, c=cursor: parse_chart(b, coin_id, c, end),
                on_call=on_call,
            )
            result.answers.extend(answers)
            new = [p for p in points if p.date not in seen]
            result.points.extend(new)
            seen.update(p.date for p in new)
            # A server that caps the span answers with a prefix: continue after it.
            last = max((p.date for p in new), default=None)
            if last is None or last >= min(end, today - timedelta(days=1)):
                break
            cursor = last + timedelta(days=1)
        result.points.sort(key=lambda p: p.date)
        return result

    def hourly_prices(
        self,
        coin_id: str,
        start: datetime,
        end: datetime,
        *,
        on_call: Callable[[ApiAnswer], None] | None = None,
    ) -> tuple[list[HourlyPoint], list[ApiAnswer]]:
        """Hourly points of `coin_id` in [start, end] (naive UTC), in windows of up to 89 days
        (CoinGecko's hourly granularity)."""
        earliest = self.earliest_allowed(end.date())
        if earliest and start.date() < earliest:
            raise PlanLimitError(
                f"the CoinGecko {self.plan} plan reaches back 365 days only (to {earliest}); "
                "ask for fewer days, or set COINGECKO_PRO_API_KEY"
            )
        points: dict[datetime, HourlyPoint] = {}
        answers: list[ApiAnswer] = []
        cursor = start
        while cursor <= end:
            w_end = min(end, cursor + HOURLY_WINDOW)
            params = {
                "vs_currency": "usd",
                "from": str(int(cursor.replace(tzinfo=UTC).timestamp())),
                "to": str(int(w_end.replace(tzinfo=UTC).timestamp())),
            }
            got, calls = self._call(
                coin_id,
                "coins/{id}/market_chart/range",
                params,
                lambda api, p=params: api.get_coin_market_chart_range_by_id(
                    coin_id, "usd", p["from"], p["to"]
                ),
                parse=lambda b, lo=cursor, hi=w_end: parse_hourly(b, coin_id, lo, hi),
                on_call=on_call,
            )
            answers.extend(calls)
            for point in got:
                points.setdefault(point.hour, point)
            cursor = w_end + timedelta(seconds=1)
        return [points[h] for h in sorted(points)], answers

    # -- retry loop -------------------------------------------------------------------------
    def _call(
        self,
        coin_id: str | None,
        endpoint: str,
        params: dict[str, str],
        fn: Callable[[CoinGeckoAPI], object],
        parse: Callable[[object], object] | None = None,
        on_call: Callable[[ApiAnswer], None] | None = None,
    ) -> tuple[object, list[ApiAnswer]]:
        api = self._api()
        url = self.base_url + endpoint.replace("{id}", coin_id or "")
        answers: list[ApiAnswer] = []
        last_problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            self.pacer.wait()
            error: str | None = None
            body: object = None
            try:
                body = fn(api)
                if parse:  # a body of the wrong shape raises MalformedAnswerError: retried
                    body = parse(body)
            except requests.HTTPError:
                error = "http error"
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = f"no answer ({type(exc).__name__})"
            except (ValueError, MalformedAnswerError) as exc:
                # pycoingecko raises ValueError for JSON error bodies and for broken JSON
                error = f"malformed answer: {str(exc)[:120]}"
            resp = api.session.last_response
            status = resp.status_code if resp is not None else None
            if status is not None and status != 200:
                error = f"HTTP {status}"
            answer = ApiAnswer(
                coin_id=coin_id,
                endpoint=endpoint,
                url=url,
                params=dict(params),
                status=status,
                body=resp.text if resp is not None else "",
                received_at=datetime.now(UTC),
                error=error,
            )
            answers.append(answer)
            if on_call:
                on_call(answer)
            if error is None:
                return body, answers
            self._raise_final(coin_id, status, resp)
            last_problem = error
            if attempt == self.max_attempts:
                break
            wait = None
            if status == 429:
                wait = retry_after_seconds(
                    resp.headers.get("Retry-After") if resp is not None else None
                )
                if wait is not None:
                    self.pacer.pause(wait)
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                wait *= 0.5 + random.random() / 2
            self.sleep(wait)
        raise SourceError(
            f"CoinGecko at {self.host} failed {self.max_attempts} times on {endpoint}"
            f"{' for ' + coin_id if coin_id else ''} (last: {last_problem}); try again later"
        )

    def _raise_final(
        self, coin_id: str | None, status: int | None, resp: requests.Response | None
    ) -> None:
        """Raise for answers that no retry can mend."""
        if status is None or status == 200 or status in _RETRYABLE_STATUS:
            return
        text = resp.text if resp is not None else ""
        if status == 404 and coin_id:
            raise UnknownCoinError(
                f"unknown coin {coin_id!r}: CoinGecko has no such id (ids are like 'bitcoin'; "
                "see /coins/list)"
            )
        if status in (401, 403) and ("10012" in text or "time range" in text):
            raise PlanLimitError(
                "the CoinGecko plan does not allow this range (demo and public access reach "
                "back 365 days only); ask for a later --start, or set COINGECKO_PRO_API_KEY"
            )
        if status in (401, 403):
            raise SourceError(
                f"CoinGecko refused the request (HTTP {status}): check COINGECKO_DEMO_API_KEY "
                "or COINGECKO_PRO_API_KEY"
            )
        if status >= 500:
            return
        raise SourceError(f"CoinGecko answered HTTP {status}: {_error_text(text)}")


def _error_text(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(body, dict):
        err = body.get("error") or body.get("status") or body
        return json.dumps(err)[:200] if not isinstance(err, str) else err[:200]
    return text[:200]
