"""The data API (`ecoin serve api`) and the signals it serves, over a small known database."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from factories import insert_neutral_minute, insert_post
from fastapi.testclient import TestClient
from fuzzing import no_server_errors

from ecoin_assets.config import load_settings
from ecoin_assets.processes import free_port
from ecoin_assets.sentiment.registry import active_version
from ecoin_assets.sentiment.scoring import write_scores
from ecoin_assets.serving.data_api import create_app
from ecoin_assets.storage import Database

END = datetime(2026, 11, 30, 12, 0)
HOURS = 30


@pytest.fixture
def home(ecoin_home: Path, monkeypatch) -> Path:
    """30 hours of bitcoin and ethereum minute figures, a spike in bitcoin's last hour, posts
    by two authors in it, and 40 days of bitcoin prices."""
    monkeypatch.setenv("ECOIN_TOPICS", "bitcoin,ethereum")
    monkeypatch.setenv("ECOIN_COINS", "bitcoin,ethereum")
    version = active_version(ecoin_home)
    db = Database(ecoin_home / "ecoin.duckdb")
    with db.write() as con:
        for h in range(HOURS):
            minute = END - timedelta(hours=HOURS - h)
            spike = h == HOURS - 1
            for topic, posts, mood in (
                ("bitcoin", 40 if spike else 10, -0.5 if spike else (0.0 if h % 2 else 0.2)),
                ("ethereum", 10, 0.1),
            ):
                insert_neutral_minute(con, topic, minute, version, posts, mood, END)
        for i, author in enumerate(["a", "b", "a"]):
            created = END - timedelta(minutes=30 - i)
            insert_post(
                con, i + 1, created, "bitcoin", tokens=("x",), author=author, ingested_at=END
            )
        for d in range(40):
            day = (END - timedelta(days=40 - d)).date()
            con.execute(
                "INSERT INTO prices VALUES ('bitcoin', ?, ?, NULL, NULL, 'test', ?)",
                [day, 100.0 + d, END],
            )
    return ecoin_home


@pytest.fixture
def client(home) -> TestClient:
    return TestClient(create_app(load_settings()))


def window(**extra) -> dict:
    start = (END - timedelta(hours=HOURS)).isoformat()
    return {"start": start, "end": END.isoformat(), **extra}


def test_signals_per_hour_with_dominance_and_z_scores(client):
    body = client.get("/signals", params=window(topic="bitcoin", interval="hour")).json()
    rows = body["rows"]
    assert body["total"] == HOURS and len(rows) == HOURS
    last = rows[-1]
    assert last["ts"] == "2026-11-30T11:00:00Z"
    assert (last["volume"], last["authors"], last["dominance"]) == (40, 2, 0.8)
    assert rows[0]["dominance"] == 0.5 and rows[0]["volume_z"] is None  # no baseline yet
    assert last["volume_z"] > 3 and last["sentiment_z"] < -3
    assert rows[-2]["volume_z"] == 0  # a steady baseline and no spike
    assert last["sentiment"] == -0.5 and last["share_negative"] == 0.0  # all neutral here


def test_intervals_roll_the_minutes_up(client):
    day = client.get("/sentiment", params=window(topic="ethereum", interval="day")).json()
    assert [r["scored"] for r in day["rows"]] == [180, 120]  # 18 hours of 29 Nov, 12 of 30
    assert all(r["sentiment"] == 0.1 for r in day["rows"])
    half = client.get("/signals", params=window(topic="bitcoin", interval="30min")).json()
    assert half["total"] == 2 * HOURS and sum(r["volume"] for r in half["rows"]) == 330


def test_coin_prices_per_week_and_the_note_on_fine_intervals(client):
    weekly = client.get("/coin", params={"coin": "bitcoin", "interval": "week", "end": END})
    rows = weekly.json()["rows"]
    assert rows[-1]["price_usd"] == 139.0 and rows[-1]["ts"] == "2026-11-23T00:00:00Z"
    assert rows[-1]["return"] == pytest.approx(139 / 132 - 1, abs=1e-6)
    hourly = client.get("/coin", params={"coin": "bitcoin", "interval": "hour", "end": END})
    hourly = hourly.json()
    assert [r["price_usd"] for r in hourly["rows"]] == [134.0 + d for d in range(6)]  # 7 days
    assert any("hourly prices of bitcoin cover none" in n for n in hourly["notes"])
    merged = client.get("/merged", params=window(coin="bitcoin", topic="bitcoin", interval="day"))
    prices = [(r["ts"][:10], r["price_usd"]) for r in merged.json()["rows"]]
    assert prices == [("2026-11-29", 139.0), ("2026-11-30", None)]  # none stored for the 30th


def test_pages_and_csv(client):
    first = client.get("/signals", params=window(topic="bitcoin", limit=20)).json()
    assert (first["count"], first["next_offset"]) == (20, 20)
    rest = client.get("/signals", params=window(topic="bitcoin", limit=20, offset=20)).json()
    assert (rest["count"], rest["next_offset"]) == (HOURS - 20, None)
    answer = client.get("/signals", params=window(topic="bitcoin", format="csv", limit=5))
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["x-total-count"] == str(HOURS) and answer.headers["x-next-offset"] == "5"
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 5 and rows[0]["volume_z"] == "" and rows[0]["volume"] == "10"
    topics = client.get("/topics").json()["rows"]
    assert [t["name"] for t in topics] == ["bitcoin", "ethereum"]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/signals", {"topic": "dogs"}, 404, "unknown topic 'dogs'"),
        ("/signals", {"topic": "bitcoin", "interval": "year"}, 422, "interval must be one of"),
        ("/signals", {"topic": "bitcoin", "start": "1/2/2026"}, 422, "not a date or time"),
        (
            "/signals",
            {"topic": "bitcoin", "start": "2026-12-01", "end": "2026-11-01"},
            422,
            "empty",
        ),
        ("/signals", {"topic": "bitcoin", "limit": 5001}, 422, "limit"),
        ("/signals", {"topic": "bitcoin", "format": "xml"}, 422, "format must be json or csv"),
        ("/signals", {}, 422, "topic"),
        ("/coin", {"coin": "dogecoin"}, 404, "no prices stored for coin 'dogecoin'"),
        ("/coin", {"coin": "bitcoin", "start": "2001-01-01"}, 422, "before bitcoin existed"),
        ("/correlation", {"coin": "bitcoin", "topic": "bitcoin"}, 409, "no correlation"),
        (
            "/correlation",
            {"coin": "bitcoin", "topic": "bitcoin", "interval": "week"},
            422,
            "hourly",
        ),
        ("/nowhere", {}, 404, "Not Found"),
    ],
)
def test_bad_requests_get_a_json_error_with_the_reason(client, path, params, status, message):
    answer = client.get(path, params=params)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_without_a_database_the_api_says_so(ecoin_home):
    answer = TestClient(create_app(load_settings())).get("/topics")
    assert answer.status_code == 503 and "no database" in answer.json()["error"]


@pytest.mark.slow
def test_the_served_api_fuzzed_finds_no_server_error(home, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecoin_assets", "serve", "api", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                schema = requests.get(f"{url}/openapi.json", timeout=2).json()
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.3)
        assert {"/topics", "/coin", "/sentiment", "/signals", "/merged", "/correlation"} <= set(
            schema["paths"]
        )
        no_server_errors(f"{url}/openapi.json", url, tmp_path)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        *("/topics", "/coin", "/sentiment", "/signals", "/merged", "/correlation", "/alerts"),
        *("/trending", "/forecast_scores", "/forecast_models"),
    }


def test_engagement_weights_the_engaged_sentiment(home, client):
    """Two posts of the last hour: a positive one nobody engaged with, a negative one with
    100 likes. The plain mean is neutral; the engaged one leans negative."""
    db = Database(home / "ecoin.duckdb")
    version = active_version(home)
    with db.write() as con:
        con.execute("UPDATE posts SET like_count = 100 WHERE post_id = 2")
        rows = [
            (i, version, "neutral", 0.0, 1.0, 0.0, score, END) for i, score in ((1, 1), (2, -1))
        ]
        write_scores(con, rows, END)  # the scoring path, which adds to the minutes' sums
    last = client.get("/signals", params=window(topic="bitcoin")).json()["rows"][-1]
    weight = 1 + math.log(101)
    assert last["engaged_sentiment"] == pytest.approx((1 - weight) / (1 + weight), abs=1e-4)
