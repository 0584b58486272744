"""The dashboard: its snapshot queries and correlations on small made-up data, and the page
itself in headless Chromium (charts, table, live updates, nothing fetched from outside)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import insert_post

from ecoin_assets.analysis.correlation import best_lag, lagged_correlations, rolling_correlation
from ecoin_assets.dashboard import browser
from ecoin_assets.dashboard.snapshot import latest_posts, read_snapshot
from ecoin_assets.forecasting.realized import score_new_forecasts
from ecoin_assets.sentiment.registry import bundled_version
from ecoin_assets.sentiment.scoring import write_scores
from ecoin_assets.storage import Database

NOW = datetime(2026, 11, 23, 12, 0)
VERSION = "v-test"


def add_posts(db: Database, posts: list[dict], version: str, now: datetime) -> None:
    """Store posts as ingestion and scoring would: posts, topics, scores and both per-minute
    tables. Each post: id, topic, created (minutes before `now`), label, score, text."""
    with db.write() as con:
        for p in posts:
            created = now - timedelta(minutes=p["created"])
            text, stored = p["text"], p.get("stored", now)
            insert_post(
                con,
                p["id"],
                created,
                p["topic"],
                text=text,
                text_clean=text.lower(),
                ingested_at=stored,
            )
        rows = []
        for p in posts:
            positive = max(p["score"], 0) + (1 - abs(p["score"])) / 2
            negative = positive - p["score"]
            rows.append(
                (
                    p["id"],
                    version,
                    p["label"],
                    negative,
                    1 - positive - negative,
                    positive,
                    p["score"],
                    now,
                )
            )
        write_scores(con, rows, now)
        con.execute("DELETE FROM topic_minute_stats")
        con.execute(
            """
            INSERT INTO topic_minute_stats
            SELECT t.topic, date_trunc('minute', p.created_at), count(*),
                   count(*) FILTER (WHERE p.keep), ?
            FROM posts p JOIN post_topics t USING (post_id) GROUP BY ALL
            """,
            [now],
        )


def add_prices(db: Database, coin: str, days: int, end: date) -> None:
    rng = np.random.default_rng(1)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, days)))
    with db.write() as con:
        for i, price in enumerate(prices):
            con.execute(
                "INSERT INTO prices VALUES (?, ?, ?, NULL, NULL, 'test', ?)",
                [coin, end - timedelta(days=days - 1 - i), float(price), datetime.now()],
            )
        for h in range(1, 8):
            con.execute(
                "INSERT INTO forecasts VALUES (?, ?, ?, 'm1', ?, ?, ?, ?, 0.8, ?)",
                [
                    coin,
                    end,
                    end + timedelta(days=h),
                    h,
                    float(prices[-1]),
                    float(prices[-1]) * (1 - 0.02 * h),
                    float(prices[-1]) * (1 + 0.02 * h),
                    datetime.now(),
                ],
            )


POSTS = [
    # this hour: 4 positive at +0.8, 2 negative at -0.6 -> mean +0.333
    *(
        {
            "id": i,
            "topic": "bitcoin",
            "created": 10,
            "label": "positive",
            "score": 0.8,
            "text": f"bitcoin up {i} 🚀",
        }
        for i in range(1, 5)
    ),
    *(
        {
            "id": i,
            "topic": "bitcoin",
            "created": 20,
            "label": "negative",
            "score": -0.6,
            "text": f"bitcoin down {i}",
        }
        for i in range(5, 7)
    ),
    # the hour before: 2 negative at -0.5
    *(
        {
            "id": i,
            "topic": "bitcoin",
            "created": 90,
            "label": "negative",
            "score": -0.5,
            "text": f"old {i}",
        }
        for i in range(7, 9)
    ),
    {
        "id": 9,
        "topic": "ethereum",
        "created": 5,
        "label": "neutral",
        "score": 0.0,
        "text": "eth sideways",
    },
]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "ecoin.duckdb")
    add_posts(database, POSTS, VERSION, NOW)
    add_prices(database, "bitcoin", 60, NOW.date() - timedelta(days=1))
    return database


def _snapshot(db: Database, window: str = "1 hour", coin: str | None = "bitcoin", now=NOW):
    with db.read() as con:
        return read_snapshot(con, VERSION, window, coin, now, ["bitcoin"], ["bitcoin"])


def test_headlines_compare_with_the_previous_window(db):
    heads = _snapshot(db).headlines.set_index("topic")
    assert heads.loc["bitcoin", "scored"] == 6
    assert heads.loc["bitcoin", "mean_sentiment"] == pytest.approx(2.0 / 6)
    assert heads.loc["bitcoin", "share_positive"] == pytest.approx(4 / 6)
    assert heads.loc["bitcoin", "previous_sentiment"] == pytest.approx(-0.5)
    assert heads.loc["bitcoin", "change"] == pytest.approx(2.0 / 6 + 0.5)
    assert heads.loc["bitcoin", "weighted_sentiment"] == pytest.approx(2.0 / 6 * np.log(7))
    assert np.isnan(heads.loc["ethereum", "previous_sentiment"])


def test_series_per_minute_and_bucketed(db):
    series = _snapshot(db).series
    btc = series[series["topic"] == "bitcoin"].set_index("ts")
    assert list(btc.index) == [NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)]
    assert list(btc["posts_per_min"]) == [2, 4]
    assert list(btc["mean_sentiment"]) == pytest.approx([-0.6, 0.8])
    day = _snapshot(db, window="24 hours").series
    btc = day[day["topic"] == "bitcoin"]
    assert btc["scored"].sum() == 8  # the earlier hour is in the day
    assert (btc["posts_per_min"] <= 0.8).all()  # 10-minute buckets are per-minute rates


def test_latest_posts_newest_first_with_label_and_confidence(db):
    with db.read() as con:
        posts = latest_posts(con, VERSION)
        assert latest_posts(con, VERSION, since=NOW + timedelta(seconds=1)).empty
        assert len(latest_posts(con, VERSION, since=NOW)) == len(POSTS)  # stored at NOW
    assert len(posts) == len(POSTS)
    row = posts.set_index("post_id").loc[1]
    assert row["label"] == "positive" and row["text"] == "bitcoin up 1 🚀"
    assert row["confidence"] == pytest.approx(0.9)


def test_prices_forecast_and_health(db):
    snap = _snapshot(db)
    assert len(snap.prices) == 60 and snap.prices["date"].is_monotonic_increasing
    assert list(snap.forecast["yhat_upper"] > snap.forecast["yhat_lower"]) == [True] * 7
    assert snap.health["posts_last_5_min"] == len(POSTS)  # all stored at NOW
    assert snap.health["problems"] == []
    assert snap.forecast_scores.empty  # the stored forecast is of days to come

    # an earlier forecast, from 10 days before the last price: its days have come
    last = snap.prices["date"].iloc[-1]
    origin = last - timedelta(days=10)
    with db.write() as con:
        for h in (1, 7, 14):
            con.execute(
                "INSERT INTO forecasts VALUES ('bitcoin', ?, ?, 'm0', ?, 100, 90, 110, 0.8, ?)",
                [origin, origin + timedelta(days=h), h, NOW],
            )
    score_new_forecasts(db)
    scores = _snapshot(db).forecast_scores
    assert sorted(set(scores["horizon"])) == [1, 7]  # 14 days ahead is still to come
    assert set(scores["window_days"]) == {30, 90} and (scores["n"] == 1).all()

    later = _snapshot(db, now=NOW + timedelta(days=3))
    assert any("prices are stale" in p for p in later.health["problems"])
    assert any("no new X posts" in p for p in later.health["problems"])


def test_an_empty_database_is_an_empty_snapshot_not_an_error(tmp_path):
    db = Database(tmp_path / "empty.duckdb")
    with db.write():
        pass
    snap = _snapshot(db)
    assert snap.empty
    assert "no prices stored yet" in snap.health["problems"]


# -- correlation ------------------------------------------------------------------------------
def _daily(sentiment: np.ndarray, returns: np.ndarray) -> pd.DataFrame:
    days = pd.date_range("2026-01-01", periods=len(sentiment)).date
    return pd.DataFrame({"date": days, "sentiment": sentiment, "return": returns})


def test_a_closed_tab_is_not_logged_as_an_error_but_other_errors_are(caplog):
    import asyncio

    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    from ecoin_assets.dashboard.disconnects import ignore_closed_websockets

    loop = asyncio.new_event_loop()
    try:
        ignore_closed_websockets(loop)
        ignore_closed_websockets(loop)  # once per loop
        with caplog.at_level("ERROR", logger="asyncio"):
            for exc in (WebSocketClosedError(), StreamClosedError()):
                loop.call_exception_handler({"message": "never retrieved", "exception": exc})
            assert caplog.records == []
            loop.call_exception_handler({"message": "a real one", "exception": ValueError("x")})
        assert [r.getMessage() for r in caplog.records] == ["a real one"]
    finally:
        loop.close()


def test_a_planted_lead_is_found_and_shuffling_removes_it():
    rng = np.random.default_rng(3)
    sentiment = rng.normal(0, 1, 200)
    returns = np.roll(sentiment, 2) * 0.02 + rng.normal(0, 0.005, 200)  # follows by 2 days
    lags = lagged_correlations(_daily(sentiment, returns))
    assert best_lag(lags) == 2
    assert lags.set_index("lag").loc[2, "r"] > 0.9
    shuffled = lagged_correlations(_daily(rng.permutation(sentiment), returns))
    assert shuffled["r"].abs().max() < 0.25
    rolling = rolling_correlation(_daily(sentiment, returns), lag=2)
    assert rolling["r"].iloc[-1] > 0.8


def test_missing_days_are_gaps_not_shifts():
    frame = _daily(np.arange(30.0), np.arange(30.0))
    holed = frame.drop(index=[10, 11])
    lags = lagged_correlations(holed).set_index("lag")
    assert lags.loc[0, "n"] == 28 and lags.loc[0, "r"] == pytest.approx(1.0)
    assert lags.loc[1, "n"] == 26


def test_too_few_pairs_or_a_constant_series_give_no_correlation():
    assert lagged_correlations(_daily(np.arange(5.0), np.arange(5.0)))["r"].isna().all()
    assert lagged_correlations(_daily(np.ones(30), np.arange(30.0)))["r"].isna().all()
    assert best_lag(lagged_correlations(_daily(np.ones(30), np.arange(30.0)))) is None


# -- the page in a browser --------------------------------------------------------------------
def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


_ROOTS = """
function* roots(node) {
  yield node;
  for (const el of node.querySelectorAll('*')) if (el.shadowRoot) yield* roots(el.shadowRoot);
}
"""
# type arguments[1] into the input whose placeholder is arguments[0]
SET_INPUT = (
    _ROOTS
    + """
for (const root of roots(document)) for (const input of root.querySelectorAll('input'))
  if (input.placeholder === arguments[0]) {
    input.value = arguments[1];
    input.dispatchEvent(new Event('change', {bubbles: true}));
    return true;
  }
return false;
"""
)
# click the button labelled arguments[0]
CLICK = (
    _ROOTS
    + """
for (const root of roots(document)) for (const button of root.querySelectorAll('button'))
  if (button.textContent.trim() === arguments[0]) { button.click(); return true; }
return false;
"""
)


@pytest.mark.slow
def test_the_page_renders_updates_live_and_stays_on_the_machine(tmp_path, monkeypatch):
    from ecoin_assets.dashboard.launch import start_dashboard
    from ecoin_assets.processes import free_port, stop

    home = tmp_path / "home"
    home.mkdir()
    db = Database(home / "ecoin.duckdb")
    now = datetime.now(UTC).replace(tzinfo=None)
    version = bundled_version()  # what the dashboard takes as active in an empty home
    add_posts(db, POSTS, version, now)
    add_prices(db, "bitcoin", 60, now.date() - timedelta(days=1))
    monkeypatch.setenv("ECOIN_HOME", str(home))
    monkeypatch.setenv("ECOIN_COINS", "bitcoin")
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin,ethereum")
    import os

    if reason := browser.missing():
        pytest.skip(f"{reason}; make test installs it")
    proc, url = start_dashboard(tmp_path / "dashboard.log", dict(os.environ), port=free_port())
    driver = browser.headless_chromium()
    try:
        driver.get(url)

        def texts(selector: str) -> list[str]:  # Panel renders inside shadow roots
            return driver.execute_script(browser.SHADOW_TEXTS, selector)

        def cells() -> list[str]:
            return texts(".tabulator-cell[tabulator-field='text']")

        try:
            _wait(lambda: "bitcoin up 1 🚀" in cells(), 30, "the latest posts table")
        except AssertionError:
            driver.save_screenshot(str(tmp_path / "failed.png"))
            raise AssertionError(f"table cells: {cells()!r}; see {tmp_path}") from None
        cards = dict(zip(texts(".ecoin-card .topic"), texts(".ecoin-card .value"), strict=True))
        assert cards == {"BITCOIN": "+0.33", "ETHEREUM": "+0.00"}

        def source(name: str, column: str) -> list:
            return driver.execute_script(
                "const m = Bokeh.documents[0].get_model_by_name(arguments[0]);"
                "return m ? Array.from(m.data[arguments[1]] || []) : null;",
                name,
                column,
            )

        _wait(lambda: source("prices", "price_usd"), 20, "the price chart")
        _wait(
            lambda: any("has reached its day yet" in t for t in texts(".ecoin-muted")),
            10,
            "the realized forecast scores' note",
        )
        assert len(source("prices", "price_usd")) == 60
        assert len(source("forecast", "yhat")) == 7
        assert source("sentiment_series", "mean_sentiment") == pytest.approx([-0.6, 0.8])

        driver.execute_script("window.__not_reloaded = true;")
        stored_at = datetime.now(UTC).replace(tzinfo=None)
        add_posts(
            db,
            [
                {
                    "id": 100,
                    "topic": "bitcoin",
                    "created": 0,
                    "label": "positive",
                    "score": 0.9,
                    "text": "fresh post 🎉 just now",
                    "stored": stored_at,
                }
            ],
            version,
            stored_at,
        )
        started = time.monotonic()
        _wait(lambda: "fresh post 🎉 just now" in cells(), 10, "the new post in the table")
        assert time.monotonic() - started < 10
        assert driver.execute_script("return window.__not_reloaded === true;")

        # signals per topic, and a topic added from the page
        _wait(
            lambda: len(texts(".tabulator-cell[tabulator-field='dominance']")) == 2,
            10,
            "the signals of both topics",
        )
        assert driver.execute_script(SET_INPUT, "btc-news", "sol")
        assert driver.execute_script(SET_INPUT, "(bitcoin OR btc) news -airdrop", "solana")
        assert driver.execute_script(CLICK, "Add topic")
        _wait(lambda: "SOL" in texts(".ecoin-card .topic"), 10, "the added topic's card")
        assert ("sol", "solana") in db.query("SELECT name, query FROM topics")

        shot = tmp_path / "dashboard.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        urls = browser.requested_urls(driver)
        outside = [
            u
            for u in urls
            if not u.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
        ]
        assert urls and outside == []
    finally:
        driver.quit()
        stop(proc)
    assert "Traceback" not in (tmp_path / "dashboard.log").read_text()


# -- as-of alignment and correlation statistics -----------------------------------------------
def test_asof_alignment_takes_the_price_known_at_the_period_end_never_a_later_one():
    from ecoin_assets.analysis.correlation import align_asof

    sentiment = pd.DataFrame(
        {
            "ts": pd.to_datetime(["2026-01-01 00:00", "2026-01-01 01:00", "2026-01-01 03:00"]),
            "sentiment": [0.1, 0.2, 0.3],
            "posts": [5, 6, 7],
        }
    )
    prices = pd.DataFrame(
        {
            "ts": pd.to_datetime(
                ["2026-01-01 00:30", "2026-01-01 01:00", "2026-01-01 02:00", "2026-01-01 02:30"]
            ),
            "price_usd": [10.0, 11.0, 12.0, 13.0],
        }
    )
    aligned = align_asof(sentiment, prices, "hour")
    assert list(aligned["ts"]) == list(pd.date_range("2026-01-01", periods=4, freq="h"))
    # hour 0 ends at 01:00 -> the 01:00 price; hour 1 ends at 02:00 -> 12; hour 2 (no posts)
    # ends at 03:00 -> 13 (02:30); hour 3 ends at 04:00 -> still 13: nothing from later
    assert list(aligned["price_usd"]) == [11.0, 12.0, 13.0, 13.0]
    assert np.isnan(aligned["sentiment"].iloc[2])
    assert aligned["return"].iloc[1] == pytest.approx(np.log(12 / 11))


def test_correlation_stats_find_a_planted_relation_and_none_in_shuffled_sentiment():
    from ecoin_assets.analysis.correlation import correlation_stats

    rng = np.random.default_rng(5)
    mood = np.zeros(400)
    for t in range(1, 400):
        mood[t] = 0.9 * mood[t - 1] + rng.normal(0, 0.3)
    returns = 0.01 * mood + rng.normal(0, 0.01, 400)
    frame = pd.DataFrame(
        {
            "sentiment": np.tanh(mood) + rng.normal(0, 0.2, 400),
            "return": returns,
            "price_usd": 100 * np.exp(np.cumsum(returns)),
        }
    )
    stats = correlation_stats(frame).set_index(["lag", "against", "method"])
    same_day = stats.loc[(0, "return", "pearson")]
    assert same_day["r"] > 0.4 and same_day["p_value"] < 1e-6 and same_day["n"] == 400
    assert stats.loc[(0, "return", "spearman"), "p_value"] < 1e-6
    shuffled = frame.assign(sentiment=rng.permutation(frame["sentiment"].to_numpy()))
    none = correlation_stats(shuffled)
    returns_rows = none[none["against"] == "return"]
    assert (returns_rows["p_value"] > 0.01).all()
    assert returns_rows["r"].abs().max() < 0.15


# -- the sections' data (ecoin_assets/dashboard/sections) ---------------------------------------
def test_sentiment_section_series_of_the_chosen_topic_and_headline_cards(db):
    from ecoin_assets.dashboard.sections.sentiment import card, cards, topic_series

    snap = _snapshot(db)
    series = topic_series(snap, "bitcoin")
    assert list(series["mean_sentiment"]) == pytest.approx([-0.6, 0.8])
    assert len(topic_series(snap, "nothing")["ts"]) == 0
    shown = cards(snap, "1 hour")
    assert shown.count('class="ecoin-card"') == len(snap.topics) == 2
    assert "+0.33" in shown and "vs previous 1 hour" in shown
    assert "no previous window" in shown  # ethereum had no posts the hour before
    assert "no posts in this window" in card("dogs", None, "1 hour")


def test_posts_section_streams_only_new_posts_and_filters(db, monkeypatch):
    from ecoin_assets.dashboard.sections import posts as section
    from ecoin_assets.dashboard.sections.posts import PostsView, new_posts, post_filter

    with db.read() as con:
        posts = latest_posts(con, VERSION)
    seen: dict[int, None] = {}
    rows = new_posts(posts, seen)
    assert len(rows) == len(POSTS) and set(seen) == {p["id"] for p in POSTS}
    assert list(rows.columns) == ["post_id", "stored", "topic", "label", "confidence", "text"]
    assert rows["post_id"].map(type).eq(str).all()
    assert new_posts(posts, seen).empty
    assert new_posts(posts.head(2), seen).empty  # a later poll's overlap: nothing twice

    # the oldest ids are forgotten first, and only beyond SEEN_KEPT
    monkeypatch.setattr(section, "SEEN_KEPT", 3)
    few: dict[int, None] = {}
    new_posts(posts, few)
    assert list(few) == list(posts["post_id"].iloc[::-1])[-3:]
    monkeypatch.undo()

    # the view polls from shortly before the newest post it shows
    view = PostsView()
    assert view.since() is None
    view.update(posts)
    assert view.since() == NOW - section.OVERLAP
    assert len(view.table.value) == len(POSTS)
    view.update(posts)
    assert len(view.table.value) == len(POSTS)
    assert set(post_filter("ethereum", "all", rows)["text"]) == {"eth sideways"}
    assert len(post_filter("bitcoin", "negative", rows)) == 4
    assert len(post_filter("all", "all", rows)) == len(POSTS)


def test_prices_and_correlation_sections(db):
    from ecoin_assets.dashboard.sections.correlation import correlation_note
    from ecoin_assets.dashboard.sections.prices import price_data

    data = price_data(_snapshot(db))
    assert len(data["prices"]["price_usd"]) == 60 and len(data["forecast"]["yhat"]) == 7
    assert data["forecast"]["date"].dtype.kind == "M"
    assert price_data(_snapshot(db, coin=None))["prices"] == {"date": [], "price_usd": []}
    lags = pd.DataFrame({"lag": [-1, 0, 2], "r": [0.1, np.nan, -0.4], "n": [30, 31, 28]})
    assert correlation_note(lags) == (
        "Best lag: +2 day(s) (sentiment leads returns), r = -0.40 over 28 days. "
        "By lag: -1: +0.10, +2: -0.40"
    )
    assert correlation_note(pd.DataFrame()).startswith("Not enough days")


def test_realized_health_signals_trending_and_alerts_sections(db):
    from ecoin_assets.dashboard.sections.alerts import alert_rows
    from ecoin_assets.dashboard.sections.health import health_rows, problems
    from ecoin_assets.dashboard.sections.realized import NONE_YET, realized_html
    from ecoin_assets.dashboard.sections.signals import SIGNAL_COLUMNS, signal_rows
    from ecoin_assets.dashboard.sections.trending import trending_html

    snap = _snapshot(db)
    assert realized_html(snap.forecast_scores) == NONE_YET
    scores = pd.DataFrame(
        {
            "window_days": [30],
            "horizon": [7],
            "n": [4],
            "mase": [0.8123],
            "coverage": [0.75],
            "interval": [0.8],
            "last_target": [date(2026, 11, 20)],
        }
    )
    shown = realized_html(scores)
    assert "<tr><td>30 days</td><td>7 d</td><td>4</td><td>0.812</td><td>75% of 80%</td></tr>" in (
        shown
    )
    assert "target days up to 2026-11-20" in shown
    rows = dict(health_rows(snap.health))
    assert rows["posts in the last 5 min"] == str(len(POSTS))
    assert rows["sentiment model"] == VERSION
    assert problems(snap) == []
    assert list(signal_rows(snap).columns) == SIGNAL_COLUMNS
    assert "no trending terms for a&amp;b" in trending_html(pd.DataFrame(), "a&b")
    terms = pd.DataFrame({"term": ["etf"], "z": [3.2], "posts": [5]})
    assert "<b>Trending in bitcoin</b>" in trending_html(terms, "bitcoin")
    assert list(alert_rows(pd.DataFrame()).columns) == [
        "fired_at",
        "rule",
        "topic",
        "text",
        "delivered",
    ]
    fired = pd.DataFrame(
        {
            "fired_at": [NOW, NOW],
            "rule": ["burst", "burst"],
            "topic": ["bitcoin", "bitcoin"],
            "text": ["a", "b"],
            "delivered_at": [NOW, None],
        }
    )
    assert list(alert_rows(fired)["delivered"]) == [True, False]


def test_topics_section_adds_and_removes_or_says_why_not(tmp_path):
    from ecoin_assets.config import load_settings
    from ecoin_assets.dashboard.sections.topics import change_topics

    settings = load_settings(
        {"ECOIN_HOME": str(tmp_path), "ECOIN_TOPICS": "bitcoin", "ECOIN_COINS": "bitcoin"}
    )
    db = Database(tmp_path / "ecoin.duckdb")
    changed, message = change_topics(db, settings, True, "sol", "solana", "bitcoin")
    assert changed and message.startswith("added 'sol' (solana)")
    changed, message = change_topics(db, settings, False, "", None, "sol")
    assert changed and message == "removed 'sol'; its history is kept"
    changed, message = change_topics(db, settings, False, "", None, "sol")
    assert not changed and message.startswith("not changed: no active topic named 'sol'")
