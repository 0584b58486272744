"""The X API v2 sandbox over real HTTP: search, pagination, auth, limits, faults, posts."""

import collections
from datetime import UTC, datetime

import pytest
import requests
from fakes import T0, FakeClock

from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.posts import PostStream, snowflake
from ecoin_assets.sources.sandbox.x import XSandbox

AUTH = {"Authorization": "Bearer test-token"}


def search(server: XSandbox, headers=AUTH, **params) -> requests.Response:
    return requests.get(
        f"{server.url}/2/tweets/search/recent", params=params, headers=headers, timeout=10
    )


def test_search_newest_first_with_meta_and_fields(x_sandbox_factory):
    server = x_sandbox_factory(rate_per_minute=60, backlog_minutes=60)
    r = search(server, query="bitcoin", max_results=20, **{"tweet.fields": "created_at,lang"})
    assert r.status_code == 200
    body = r.json()
    ids = [int(t["id"]) for t in body["data"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 20
    assert body["meta"]["result_count"] == 20
    assert body["meta"]["newest_id"] == str(ids[0]) and body["meta"]["oldest_id"] == str(ids[-1])
    assert "next_token" in body["meta"]
    for tweet in body["data"]:
        assert "bitcoin" in tweet["text"].lower()
        assert tweet["created_at"].endswith(".000Z") and tweet["lang"]
        assert tweet["edit_history_tweet_ids"] == [tweet["id"]]
    plain = search(server, query="bitcoin").json()["data"][0]
    assert set(plain) == {"id", "text", "edit_history_tweet_ids"}  # default fields only


def test_pagination_covers_everything_once_and_since_id(x_sandbox_factory):
    server = x_sandbox_factory(rate_per_minute=30, backlog_minutes=30)
    seen, token = [], None
    while True:
        params = {"query": "ethereum", "max_results": 10}
        if token:
            params["next_token"] = token
        body = search(server, **params).json()
        seen += [t["id"] for t in body.get("data", [])]
        token = body["meta"].get("next_token")
        if not token:
            break
    assert len(seen) == len(set(seen)) > 10
    expected = [
        p.id
        for k in range(server.stream.released(server.now_ms()) - 1, -1, -1)
        if "ethereum" in (p := server.stream.post(k)).text.lower()
    ]
    assert seen == expected
    newer = search(server, query="ethereum", max_results=100, since_id=seen[5]).json()
    assert [t["id"] for t in newer["data"]] == seen[:5]


def test_posts_arrive_in_real_time(x_sandbox_factory):
    clock = FakeClock()
    server = x_sandbox_factory(rate_per_minute=60, backlog_minutes=1, clock=clock)
    newest = search(
        server, query="bitcoin OR ethereum OR cardano OR solana OR dogecoin", max_results=100
    ).json()["meta"]["newest_id"]
    assert search(server, query="bitcoin", since_id=newest).json()["meta"]["result_count"] == 0
    clock.now += 300
    query = "bitcoin OR ethereum OR cardano OR solana OR dogecoin"
    fresh, token = 0, None
    while True:
        extra = {"next_token": token} if token else {}
        body = search(server, query=query, max_results=100, since_id=newest, **extra).json()
        fresh += body["meta"]["result_count"]
        token = body["meta"].get("next_token")
        if not token:
            break
    assert 280 <= fresh <= 300  # five minutes at 60 a minute (retweets of other coins aside)


def test_query_operators(x_sandbox_factory):
    server = x_sandbox_factory(rate_per_minute=120, backlog_minutes=60)
    everything = search(
        server, query="bitcoin", max_results=100, **{"tweet.fields": "lang,referenced_tweets"}
    ).json()["data"]
    assert any("referenced_tweets" in t for t in everything)
    no_rt = search(
        server,
        query="bitcoin -is:retweet",
        max_results=100,
        **{"tweet.fields": "referenced_tweets"},
    ).json()["data"]
    assert not any("referenced_tweets" in t for t in no_rt)
    spanish = (
        search(server, query="bitcoin lang:es", max_results=100, **{"tweet.fields": "lang"})
        .json()
        .get("data", [])
    )
    assert spanish and all(t["lang"] == "es" for t in spanish)
    both = search(server, query="bitcoin OR $ETH", max_results=100).json()["data"]
    assert any("ethereum" in t["text"].lower() or "$eth" in t["text"].lower() for t in both)


def test_posts_carry_real_world_noise():
    stream = PostStream(("bitcoin", "ethereum"), rate_per_minute=60, start_ms=int(T0 * 1000))
    posts = [stream.post(k) for k in range(2000)]
    kinds = collections.Counter(p.kind for p in posts)
    assert {"original", "retweet", "duplicate", "near_duplicate", "foreign", "spam"} <= set(kinds)
    texts = " ".join(p.text for p in posts)
    for marker in ("https://t.co/", "@", "#", "$", "🚀", "&amp;", "RT @"):
        assert marker in texts
    assert any(len(p.topics) == 2 for p in posts)  # some posts are about two coins
    dup = next(p for p in posts if p.kind == "duplicate")
    assert any(q.text == dup.text and q.id != dup.id for q in posts)
    # deterministic, and ids sort by time
    again = PostStream(("bitcoin", "ethereum"), rate_per_minute=60, start_ms=int(T0 * 1000))
    assert [again.post(k) for k in range(50)] == posts[:50]
    assert [int(p.id) for p in posts] == sorted(int(p.id) for p in posts)
    assert snowflake(1_700_000_000_000, 5) < snowflake(1_700_000_000_001, 0)


def test_mood_follows_the_market():
    stream = PostStream(("bitcoin",), rate_per_minute=1, start_ms=0)
    market = stream.market
    good = max(range(365 * 2, 365 * 6), key=lambda d: market.mood[d])
    bad = min(range(365 * 2, 365 * 6), key=lambda d: market.mood[d])

    def share_positive(day: int) -> float:
        s = PostStream(
            ("bitcoin",), rate_per_minute=20, start_ms=int((1546300800 + day * 86400) * 1000)
        )
        moods = [s.post(k).mood for k in range(400) if s.post(k).kind == "original"]
        return moods.count("positive") / len(moods)

    assert share_positive(good) > share_positive(bad) + 0.3


def test_auth_is_required(x_sandbox_factory):
    server = x_sandbox_factory(bearer_token="right")
    assert search(server, headers={}, query="bitcoin").status_code == 401
    wrong = search(server, headers={"Authorization": "Bearer wrong"}, query="bitcoin")
    assert wrong.status_code == 401 and wrong.json()["title"] == "Unauthorized"
    assert (
        search(server, headers={"Authorization": "Bearer right"}, query="bitcoin").status_code
        == 200
    )


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "-is:retweet"}, "query"),
        ({"query": "bitcoin", "max_results": "5"}, "max_results"),
        ({"query": "bitcoin", "max_results": "101"}, "max_results"),
        ({"query": "bitcoin", "max_results": "ten"}, "max_results"),
        ({"query": "bitcoin", "since_id": "abc"}, "since_id"),
        ({"query": "bitcoin", "next_token": "garbage!"}, "next_token"),
        ({"query": "bitcoin", "tweet.fields": "nonsense"}, "tweet.fields"),
    ],
)
def test_invalid_requests_get_x_error_bodies(x_sandbox_factory, params, parameter):
    r = search(x_sandbox_factory(), **params)
    assert r.status_code == 400
    body = r.json()
    assert body["title"] == "Invalid Request"
    assert parameter in body["errors"][0]["parameters"]


def test_rate_limit_headers_and_429(x_sandbox_factory):
    clock = FakeClock()
    server = x_sandbox_factory(requests_per_window=3, clock=clock)
    remaining = []
    for _ in range(3):
        r = search(server, query="bitcoin")
        remaining.append(int(r.headers["x-rate-limit-remaining"]))
        assert r.headers["x-rate-limit-limit"] == "3"
    assert remaining == [2, 1, 0]
    limited = search(server, query="bitcoin")
    assert limited.status_code == 429 and limited.json()["title"] == "Too Many Requests"
    reset = int(limited.headers["x-rate-limit-reset"])
    assert reset == int(T0) + 15 * 60
    other = search(server, headers={"Authorization": "Bearer another"}, query="bitcoin")
    assert other.status_code == 200  # limits are per token
    clock.now = reset
    assert search(server, query="bitcoin").status_code == 200  # a new window


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("503", 503), ("429", 429)])
def test_fault_switches(x_sandbox_factory, fault, status):
    server = x_sandbox_factory(faults=FaultConfig(script=[fault]))
    r = search(server, query="bitcoin")
    assert r.status_code == status
    if status == 429:
        assert "x-rate-limit-reset" in r.headers
    assert search(server, query="bitcoin").status_code == 200


def test_dropped_connection(x_sandbox_factory):
    server = x_sandbox_factory(faults=FaultConfig(script=["drop"]))
    with pytest.raises(requests.ConnectionError):
        search(server, query="bitcoin")
    assert search(server, query="bitcoin").status_code == 200


def test_duplicate_pages(x_sandbox_factory):
    server = x_sandbox_factory(rate_per_minute=60, backlog_minutes=60, duplicate_page_rate=1.0)
    first = search(server, query="bitcoin", max_results=10).json()
    second = search(
        server, query="bitcoin", max_results=10, next_token=first["meta"]["next_token"]
    ).json()
    assert second["data"][0]["id"] == first["data"][-1]["id"]


def test_public_metrics_grow_after_a_post_is_written(x_sandbox_factory):
    """Fresh posts have hardly any engagement yet; an hour later many do, a few a lot."""
    import time as _time

    from ecoin_assets.sources.x import XSource

    server = x_sandbox_factory(clock=_time.time, rate_per_minute=60, backlog_minutes=90)
    tweets = XSource(server.url, "token").search("bitcoin OR ethereum").tweets
    assert all(t.metrics is not None for t in tweets)
    now = datetime.now(UTC)
    fresh = [t.metrics for t in tweets if (now - t.created_at).total_seconds() < 30]
    old = [t.metrics for t in tweets if (now - t.created_at).total_seconds() > 3600]
    # young: most have none yet (the median; one far-reaching post can lift the mean above 1)
    assert fresh and sorted(m[0] for m in fresh)[len(fresh) // 2] == 0
    likes = sorted(m[0] for m in old)
    assert sum(likes) / len(likes) > 5 and likes[-1] > 4 * likes[len(likes) // 2]  # heavy tail
