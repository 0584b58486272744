"""The data API (`ecoin serve api`, port 3003): GET endpoints over the stored data.

`/topics`, `/coin`, `/sentiment`, `/signals`, `/trending`, `/merged`, `/correlation`,
`/forecast_scores`, `/forecast_models` and `/alerts`, with `coin`,
`topic`, `start`, `end` (ISO 8601 dates or times, UTC unless an offset is given) and `interval`
(`30min`, `hour`, `day`, `week`, `month`). JSON by default, CSV with `format=csv`; pages of at
most 5,000 rows (`limit`, `offset`; the JSON says `total` and `next_offset`, CSV answers in
`X-Total-Count` and `X-Next-Offset` headers). Bad parameters get a 422, unknown coins and topics
a 404, known ones with nothing stored yet a 409 and a busy or missing database a 503, each as
`{"error": "..."}`. OpenAPI schema at `/openapi.json`, docs at `/docs`.

Each request reads through one short read-only connection (DuckDB) or transaction
(PostgreSQL): the ingestion's writes wait at most for that one read.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecoin_assets.alerts.watch import alert_history
from ecoin_assets.config import Settings
from ecoin_assets.errors import (
    InvalidInputError,
    NotFoundError,
    Remedy,
    UnavailableError,
    UserError,
    error_body,
    http_status,
)
from ecoin_assets.forecasting.realized import stored_scores
from ecoin_assets.forecasting.service import model_versions
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.signals import series
from ecoin_assets.signals.periods import INTERVALS, Interval, interval_of, parse_moment, window
from ecoin_assets.signals.trending import trending_terms
from ecoin_assets.storage import Connection, Database
from ecoin_assets.tweets.topics import seeds, stored_topics

MAX_LIMIT = 5000

Start = Annotated[
    str | None,
    Query(
        description="First instant, ISO 8601 (default: a span before end).",
        examples=["2026-11-01"],
    ),
]
End = Annotated[
    str | None,
    Query(description="End of the window, excluded (default: now).", examples=["2026-12-01"]),
]
IntervalParam = Annotated[
    str | None,
    Query(description=f"Period length: {', '.join(INTERVALS)} (default: hour).", examples=["day"]),
]
Format = Annotated[str, Query(alias="format", description="json or csv.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
Coin = Annotated[str, Query(description="Coin id, e.g. bitcoin.", examples=["bitcoin"])]
Topic = Annotated[str, Query(description="Topic name (see /topics).", examples=["bitcoin"])]


class Page:
    """`format`, `limit` and `offset` of a request (a FastAPI dependency)."""

    def __init__(self, fmt: Format = "json", limit: Limit = 1000, offset: Offset = 0):
        self.fmt, self.limit, self.offset = fmt, limit, offset

    def answer(self, frame: pd.DataFrame, query: dict, notes: list[str] | None = None):
        return _page(frame, self.fmt, self.limit, self.offset, query, notes)


class Window:
    """`start`, `end` and `interval` of a request, checked (a FastAPI dependency)."""

    def __init__(self, start: Start = None, end: End = None, interval: IntervalParam = None):
        self.interval = interval_of(interval)
        self.start, self.end = window(start, end, self.interval)

    @property
    def query(self) -> dict:
        return {
            "interval": self.interval.name,
            "start": _plain(self.start),
            "end": _plain(self.end),
        }


Paged = Annotated[Page, Depends()]
Windowed = Annotated[Window, Depends()]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _plain(value: object) -> object:
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def _page(
    frame: pd.DataFrame,
    fmt: str,
    limit: int,
    offset: int,
    query: dict,
    notes: list[str] | None = None,
) -> Response:
    fmt = (fmt or "json").lower()
    if fmt not in ("json", "csv"):
        raise InvalidInputError(f"format must be json or csv, not {fmt!r}")
    total = len(frame)
    page = frame.iloc[offset : offset + limit]
    rows = [[_plain(v) for v in row] for row in page.itertuples(index=False, name=None)]
    after = offset + len(page)
    next_offset = after if after < total else None
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(frame.columns))
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        headers = {"X-Total-Count": str(total)}
        if next_offset is not None:
            headers["X-Next-Offset"] = str(next_offset)
        if notes:
            headers["X-Notes"] = " | ".join(notes)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    records = [dict(zip(frame.columns, row, strict=True)) for row in rows]
    return JSONResponse(
        {
            "query": query,
            "total": total,
            "offset": offset,
            "count": len(records),
            "next_offset": next_offset,
            "notes": notes or [],
            "rows": records,
        }
    )


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the copy BentoML ships, so that the docs work offline."""
    import bentoml

    assets = Path(bentoml.__file__).parent / "_internal" / "server" / "static_content"
    local = (assets / "swagger-ui-bundle.js").exists()
    if local:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        kwargs = (
            {
                "swagger_js_url": "/docs-assets/swagger-ui-bundle.js",
                "swagger_css_url": "/docs-assets/swagger-ui.css",
            }
            if local
            else {}
        )
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title, **kwargs)


def create_app(settings: Settings) -> FastAPI:
    """The API over `settings`' database."""
    db = Database.from_settings(settings)
    seeded = seeds(settings)
    app = FastAPI(
        title="ecoin data API",
        version="1",
        description=__doc__.split("\n\n", 1)[1].replace("\n", " ") if __doc__ else "",
        docs_url=None,
    )
    _offline_docs(app)

    def read(work: Callable[[Connection], Response]) -> Response:
        if not db.exists():
            raise UnavailableError(f"no database at {db.label} yet", remedy=Remedy.COLLECT_DATA)
        with db.read() as con:
            return work(con)

    def known_topic(con: Connection, topic: str) -> str:
        name = (topic or "").strip()
        names = {t.name for t in (stored_topics(con) or seeded)}
        if name in names:
            return name
        linked = con.execute("SELECT count(*) FROM post_topics WHERE topic = ?", [name]).fetchone()
        if linked and linked[0]:
            return name
        raise NotFoundError(f"unknown topic {name!r}: /topics lists them")

    def known_coin(coin: str) -> str:
        coin = (coin or "").strip().lower()
        if not coin:
            raise InvalidInputError("coin is empty: give a coin id such as bitcoin")
        return coin

    @app.exception_handler(UserError)
    async def user_error(_: Request, exc: UserError) -> JSONResponse:
        # a user error of no type here is a store that could not answer
        return JSONResponse(error_body(exc), status_code=http_status(exc, other=503))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return _error(422, "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/topics", summary="The tracked topics (and removed ones with all=true).")
    def topics(
        page: Paged,
        removed: Annotated[bool, Query(alias="all", description="Include removed topics.")] = False,
    ) -> Response:
        def work(con: Connection) -> Response:
            stored = stored_topics(con)
            found = [t for t in (stored or seeded) if removed or t.active]
            frame = pd.DataFrame(
                [t.as_json() for t in found],
                columns=["name", "query", "coin", "added_at", "removed_at", "active"],
            )
            return page.answer(frame, {"all": removed})

        return read(work)

    @app.get("/coin", summary="A coin's prices per period (the last observation in each).")
    def coin(coin: Coin, span: Windowed, page: Paged) -> Response:
        def work(con: Connection) -> Response:
            name = known_coin(coin)
            frame, notes = series.coin_prices(con, name, span.start, span.end, span.interval)
            return page.answer(frame, {"coin": name, **span.query}, notes)

        return read(work)

    def _signals(topic: str, span: Window, page: Page, columns: list[str] | None) -> Response:
        version = active_version(settings.home)

        def work(con: Connection) -> Response:
            name = known_topic(con, topic)
            frame = series.topic_signals(con, name, version, span.start, span.end, span.interval)
            if columns:
                frame = frame[columns]
            return page.answer(frame, {"topic": name, "model_version": version, **span.query})

        return read(work)

    @app.get("/sentiment", summary="A topic's sentiment per period (active model).")
    def sentiment(topic: Topic, span: Windowed, page: Paged) -> Response:
        columns = ["ts", "scored", "sentiment", "engaged_sentiment", "share_negative"]
        return _signals(topic, span, page, [*columns, "share_positive", "volume"])

    @app.get(
        "/signals",
        summary="A topic's social signals per period: volume, authors, dominance, "
        "sentiment and their z-scores against the trailing baseline.",
    )
    def signals(topic: Topic, span: Windowed, page: Paged) -> Response:
        return _signals(topic, span, page, None)

    @app.get("/merged", summary="A topic's signals beside a coin's prices, period by period.")
    def merged(coin: Coin, topic: Topic, span: Windowed, page: Paged) -> Response:
        version = active_version(settings.home)

        def work(con: Connection) -> Response:
            name, coin_id = known_topic(con, topic), known_coin(coin)
            frame, notes = series.merged(
                con, coin_id, name, version, span.start, span.end, span.interval
            )
            meta = {"coin": coin_id, "topic": name, "model_version": version, **span.query}
            return page.answer(frame, meta, notes)

        return read(work)

    @app.get(
        "/correlation",
        summary="The stored correlation of a topic's sentiment with a coin's price and "
        "returns at lags -3..+3 (interval hour or day).",
    )
    def correlation(
        coin: Coin, topic: Topic, page: Paged, interval: IntervalParam = None
    ) -> Response:
        iv: Interval = interval_of(interval, default="day")
        if iv.name not in ("hour", "day"):
            raise InvalidInputError(
                f"the correlation is computed hourly and daily: interval hour or day, "
                f"not {iv.name!r}"
            )

        def work(con: Connection) -> Response:
            name, coin_id = known_topic(con, topic), known_coin(coin)
            frame = series.correlation(con, coin_id, name, iv.name)
            return page.answer(frame, {"coin": coin_id, "topic": name, "interval": iv.name})

        return read(work)

    @app.get(
        "/trending",
        summary="A topic's trending terms: words, hashtags, cashtags and emoji whose share of "
        "its posts rose in the window ending at `end` against the 24 windows before it.",
    )
    def trending(
        topic: Topic,
        end: End = None,
        window_minutes: Annotated[
            int, Query(alias="window", ge=10, le=1440, description="Minutes, a multiple of 10.")
        ] = 60,
        fmt: Format = "json",
        limit: Annotated[int, Query(ge=1, le=200, description="Terms.")] = 20,
    ) -> Response:
        until = parse_moment(end, "end") or datetime.now(UTC).replace(tzinfo=None)

        def work(con: Connection) -> Response:
            name = known_topic(con, topic)
            frame = trending_terms(con, name, until, window_minutes, limit=limit)
            meta = {"topic": name, "end": _plain(until), "window_minutes": window_minutes}
            return _page(frame, fmt, limit, 0, meta)

        return read(work)

    @app.get(
        "/forecast_scores",
        summary="How a coin's stored forecasts did: realized MAE, MASE against the naive "
        "forecast issued the same day, MAPE and interval coverage per horizon, over the 30 and "
        "90 days of target dates ending at the latest price (scored by the forecast_scores "
        "asset and 'ecoin forecast scores').",
    )
    def forecast_scores(
        coin: Coin,
        page: Paged,
        horizon: Annotated[int | None, Query(ge=1, le=30, description="Only this horizon.")] = None,
    ) -> Response:
        def work(con: Connection) -> Response:
            name = known_coin(coin)
            frame = stored_scores(con, name)
            if horizon is not None:
                frame = frame[frame["horizon"] == horizon]
            return page.answer(frame, {"coin": name, "horizon": horizon})

        return read(work)

    @app.get(
        "/forecast_models",
        summary="A coin's stored forecast models, newest first: which one is served and the "
        "verdict of its quality gate (backtest MASE and coverage at 7 days, and why a refused "
        "one was refused).",
    )
    def forecast_models(coin: Coin, page: Paged) -> Response:
        name = known_coin(coin)
        rows = model_versions(settings.home, name)
        if not rows:
            raise NotFoundError(f"no {name} forecast model is stored")
        frame = pd.DataFrame(
            [
                {
                    "version": r["version"],
                    "served": r["served"],
                    "gate": r["gate"],
                    "reasons": "; ".join((r["verdict"] or {}).get("reasons", [])),
                    "mase_7d": (r["verdict"] or {}).get("mase"),
                    "coverage_7d": (r["verdict"] or {}).get("coverage"),
                    "forced": (r["verdict"] or {}).get("forced", False),
                    "judged_at": (r["verdict"] or {}).get("judged_at"),
                }
                for r in rows
            ]
        )
        return page.answer(frame, {"coin": name})

    @app.get("/alerts", summary="Alert firings, newest first, with their delivery.")
    def alerts(
        page: Paged,
        topic: Annotated[str | None, Query(description="Only this topic's alerts.")] = None,
        start: Start = None,
        end: End = None,
    ) -> Response:
        since, until = window(start, end, INTERVALS["day"])

        def work(con: Connection) -> Response:
            name = known_topic(con, topic) if topic is not None else None
            frame = alert_history(con, since, until, name)
            return page.answer(frame, {"topic": name, "start": _plain(since), "end": _plain(until)})

        return read(work)

    return app
