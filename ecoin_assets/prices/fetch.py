"""Fetch daily prices for several coins concurrently and store them all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, datetime

from ecoin_assets.config import validate_coin_id
from ecoin_assets.errors import UserError
from ecoin_assets.prices.store import WriteSummary, points_frame, store_answers, upsert_prices
from ecoin_assets.sources.coingecko import ApiAnswer, CoinGeckoClient, FetchResult, utc_today
from ecoin_assets.storage import Database

EARLIEST_DATE = date(2009, 1, 3)  # the first bitcoin block; CoinGecko has nothing before


def parse_date(text: str, what: str = "date") -> date:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise UserError(f"invalid {what} {text!r}: use YYYY-MM-DD, e.g. 2024-01-31") from None


def check_range(start: date, end: date | None, today: date | None = None) -> tuple[date, date]:
    """Validate [start, end] (end defaults to start) against the calendar and today (UTC)."""
    today = today or utc_today()
    end = start if end is None else end
    if end < start:
        raise UserError(f"the range is reversed: --end {end} is before --start {start}")
    if start < EARLIEST_DATE:
        raise UserError(f"--start {start} is before {EARLIEST_DATE}: there are no prices then")
    if end > today:
        raise UserError(f"--end {end} is in the future (today is {today} UTC)")
    return start, end


@dataclass
class FetchOutcome:
    results: list[FetchResult]
    summary: WriteSummary


def fetch_prices(
    client: CoinGeckoClient,
    coins: Sequence[str],
    start: date,
    end: date,
    *,
    concurrency: int = 3,
    today: date | None = None,
    on_done: Callable[[FetchResult], None] | None = None,
    on_call: Callable[[ApiAnswer], None] | None = None,
) -> list[FetchResult]:
    """Fetch every coin (up to `concurrency` at once, paced by the client); fail as a whole."""
    coins = list(dict.fromkeys(validate_coin_id(c) for c in coins))
    if concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    results: dict[str, FetchResult] = {}
    with ThreadPoolExecutor(max_workers=min(concurrency, len(coins)) or 1) as pool:
        futures = {
            pool.submit(client.daily_prices, c, start, end, today=today, on_call=on_call): c
            for c in coins
        }
        try:
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_done:
                    on_done(result)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return [results[c] for c in coins]


def store_results(db: Database, results: Sequence[FetchResult], source: str) -> WriteSummary:
    """Store the answers and the points of every result in one transaction."""
    with db.write() as con:
        for r in results:
            store_answers(con, r.answers)
        return upsert_prices(con, points_frame(p for r in results for p in r.points), source)


def fetch_and_store(
    db: Database,
    client: CoinGeckoClient,
    coins: Sequence[str],
    start: date,
    end: date | None = None,
    *,
    concurrency: int = 3,
    today: date | None = None,
    on_done: Callable[[FetchResult], None] | None = None,
    on_call: Callable[[ApiAnswer], None] | None = None,
) -> FetchOutcome:
    start, end = check_range(start, end, today)
    results = fetch_prices(
        client,
        coins,
        start,
        end,
        concurrency=concurrency,
        today=today,
        on_done=on_done,
        on_call=on_call,
    )
    summary = store_results(db, results, source=f"coingecko:{client.host}")
    return FetchOutcome(results, summary)
