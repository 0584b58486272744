"""A CoinGecko v3-compatible sandbox over the simulated market.

Endpoints (under `/api/v3`): `ping`, `coins/list`, `coins/{id}/market_chart`,
`coins/{id}/market_chart/range`, `coins/{id}/history`, `simple/price`. Granularity follows
CoinGecko's documented rules: a range of up to 1 day reaching the current time is 5-minutely,
other ranges up to 90 days are hourly, longer ranges are daily at 00:00 UTC (plus the latest
point when the range reaches now). Requests carrying a demo key may reach back 365 days only,
as on the real demo plan; answers over the rate limit are 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.http import HTTPError, SandboxHandler, SandboxServer
from ecoin_assets.sources.sandbox.market import (
    COINS,
    DAY_MS,
    EPOCH,
    MarketSimulator,
    Point,
    day_of_ms,
    midnight_ms,
    simulator,
)

API_PREFIX = "/api/v3"
DEMO_HISTORY_DAYS = 365
_RATE_LIMIT_MESSAGE = (
    "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
    "to subscribe to our API plans for higher rate limits."
)
_PLAN_MESSAGE = (
    "Your request exceeds the allowed time range. Public API users are limited to querying "
    "historical data within the past 365 days. Upgrade to a paid plan to enjoy full historical "
    "data access: https://www.coingecko.com/en/api/pricing. "
)
_COIN_PATH = re.compile(r"^/coins/([^/]+)/(market_chart/range|market_chart|history)$")


def _chart(points: list[Point], precision: int | None) -> dict[str, list[list[float]]]:
    def r(x: float) -> float:
        return round(x, precision) if precision is not None else x

    return {
        "prices": [[p.ts_ms, r(p.price)] for p in points],
        "market_caps": [[p.ts_ms, r(p.market_cap)] for p in points],
        "total_volumes": [[p.ts_ms, r(p.volume)] for p in points],
    }


def _number(query: dict[str, str], name: str) -> float:
    if name not in query:
        raise HTTPError(400, {"error": f"Missing parameter {name}"})
    raw = query[name]
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise HTTPError(400, {"error": f"Invalid value for {name}: {raw}"})
        return value
    try:  # the API also takes ISO dates
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise HTTPError(400, {"error": f"Invalid value for {name}: {raw}"}) from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


class CoinGeckoSandbox(SandboxServer):
    api_name = "coingecko"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit: int = 30,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] = time.time,
        seed: int = 2019,
        quiet: bool = True,
    ):
        self.market: MarketSimulator = simulator(seed)
        self.clock = clock
        super().__init__((host, port), rate_limit, faults, quiet)

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def client_key(self, handler: SandboxHandler) -> str:
        return _key(handler) or handler.client_address[0]

    def rate_limit_answer(self, retry_after: int) -> HTTPError:
        return HTTPError(
            429,
            {"status": {"error_code": 429, "error_message": _RATE_LIMIT_MESSAGE}},
            {"Retry-After": str(retry_after)},
        )

    def endpoint_name(self, path: str) -> str:
        m = _COIN_PATH.match(path.removeprefix(API_PREFIX))
        return f"coins/{{id}}/{m.group(2)}" if m else path.removeprefix(API_PREFIX + "/")

    # -- routing ----------------------------------------------------------------------------
    def route(self, handler: SandboxHandler, path: str, query: dict[str, str]):
        if not path.startswith(API_PREFIX + "/"):
            raise HTTPError(404, {"error": "Not Found"})
        sub = path.removeprefix(API_PREFIX)
        if sub == "/ping":
            return 200, {"gecko_says": "(V3) To the Moon!"}, {}
        if sub == "/coins/list":
            return 200, [{"id": c.id, "symbol": c.symbol, "name": c.name} for c in COINS], {}
        if sub == "/simple/price":
            return 200, self._simple_price(query), {}
        m = _COIN_PATH.match(sub)
        if not m:
            raise HTTPError(404, {"error": "Not Found"})
        coin, endpoint = m.groups()
        if self.market.coin_index(coin) is None:
            raise HTTPError(404, {"error": "coin not found"})
        if endpoint == "history":
            return 200, self._history(handler, coin, query), {}
        if query.get("vs_currency", "").lower() != "usd":
            if "vs_currency" not in query:
                raise HTTPError(400, {"error": "Missing parameter vs_currency"})
            raise HTTPError(400, {"error": "invalid vs_currency"})
        precision = int(query["precision"]) if query.get("precision", "").isdigit() else None
        now = self.now_ms()
        if endpoint == "market_chart":
            return 200, _chart(self._market_chart(handler, coin, query, now), precision), {}
        from_ms = int(_number(query, "from") * 1000)
        to_ms = int(_number(query, "to") * 1000)
        self._check_plan(handler, from_ms, now)
        return 200, _chart(self._range(coin, from_ms, to_ms, now), precision), {}

    def _check_plan(self, handler: SandboxHandler, from_ms: int, now_ms: int) -> None:
        if _key(handler, "demo") and from_ms < now_ms - DEMO_HISTORY_DAYS * DAY_MS:
            raise HTTPError(
                401,
                {
                    "error": {
                        "status": {
                            "timestamp": datetime.now(UTC).isoformat(),
                            "error_code": 10012,
                            "error_message": _PLAN_MESSAGE,
                        }
                    }
                },
            )

    def _range(self, coin: str, from_ms: int, to_ms: int, now_ms: int) -> list[Point]:
        span = to_ms - from_ms
        if span <= DAY_MS:
            step = 300_000 if to_ms >= now_ms - DAY_MS else 3_600_000
            return self.market.intraday_series(coin, from_ms, to_ms, now_ms, step)
        if span <= 90 * DAY_MS:
            return self.market.intraday_series(coin, from_ms, to_ms, now_ms, 3_600_000)
        return self.market.daily_series(coin, from_ms, to_ms, now_ms)

    def _market_chart(
        self, handler: SandboxHandler, coin: str, query: dict[str, str], now_ms: int
    ) -> list[Point]:
        days_raw = query.get("days")
        if days_raw is None:
            raise HTTPError(400, {"error": "Missing parameter days"})
        if days_raw == "max":
            self._check_plan(handler, 0, now_ms)
            return self.market.daily_series(coin, 0, now_ms, now_ms)
        try:
            days = float(days_raw)
        except ValueError:
            days = math.nan
        if not math.isfinite(days) or days <= 0:
            raise HTTPError(400, {"error": f"Invalid value for days: {days_raw}"})
        from_ms = now_ms - int(days * DAY_MS)
        self._check_plan(handler, from_ms, now_ms)
        if query.get("interval") == "daily" or days > 90:
            return self.market.daily_series(coin, from_ms, now_ms, now_ms)
        step = 300_000 if days <= 1 else 3_600_000
        return self.market.intraday_series(coin, from_ms, now_ms, now_ms, step)

    def _history(self, handler: SandboxHandler, coin: str, query: dict[str, str]) -> dict:
        raw = query.get("date")
        if raw is None:
            raise HTTPError(400, {"error": "Missing parameter date"})
        try:
            d = datetime.strptime(raw, "%d-%m-%Y").date()
        except ValueError:
            raise HTTPError(400, {"error": "invalid date"}) from None
        self._check_plan(handler, midnight_ms(d), self.now_ms())
        spec = COINS[self.market.coin_index(coin)]
        answer: dict = {"id": spec.id, "symbol": spec.symbol, "name": spec.name}
        if EPOCH <= d <= day_of_ms(self.now_ms()):
            p = self.market.daily(coin, d)
            answer["market_data"] = {
                "current_price": {"usd": p.price},
                "market_cap": {"usd": p.market_cap},
                "total_volume": {"usd": p.volume},
            }
        return answer

    def _simple_price(self, query: dict[str, str]) -> dict:
        if "ids" not in query:
            raise HTTPError(400, {"error": "Missing parameter ids"})
        currencies = [c for c in query.get("vs_currencies", "").lower().split(",") if c]
        if not currencies:
            raise HTTPError(400, {"error": "Missing parameter vs_currencies"})
        now = self.now_ms()
        out: dict[str, dict] = {}
        for coin in query["ids"].split(","):
            if self.market.coin_index(coin) is None or "usd" not in currencies:
                continue
            p, before = self.market.at(coin, now), self.market.at(coin, now - DAY_MS)
            row: dict[str, float | int] = {"usd": p.price}
            if query.get("include_market_cap") == "true":
                row["usd_market_cap"] = p.market_cap
            if query.get("include_24hr_vol") == "true":
                row["usd_24h_vol"] = p.volume
            if query.get("include_24hr_change") == "true":
                row["usd_24h_change"] = (p.price / before.price - 1) * 100
            if query.get("include_last_updated_at") == "true":
                row["last_updated_at"] = now // 1000
            out[coin] = row
        return out


def _key(handler: SandboxHandler, plan: str | None = None) -> str | None:
    """The API key a request carries (header or query), optionally of one plan only."""
    query = handler.query()
    for p in ("demo", "pro") if plan is None else (plan,):
        value = handler.headers.get(f"x-cg-{p}-api-key") or query.get(f"x_cg_{p}_api_key")
        if value:
            return value
    return None
