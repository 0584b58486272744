"""X (Twitter) recent-search client on `tweepy`, for any X API v2-compatible host.

tweepy's host is fixed in its code, so requests are routed to `X_API_URL` by an adapter mounted
on the client's `requests` session. Pagination follows `next_token`; a 429 waits until
`x-rate-limit-reset` (bounded by `max_wait`); 5xx answers, dropped connections and broken
bodies are retried with backoff; posts repeated across pages are returned once. The bearer
token is sent in a header and never logged: tweepy's debug log, which prints headers, is
kept off.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import requests
import tweepy
from requests.adapters import HTTPAdapter

from ecoin_assets.config import Settings
from ecoin_assets.errors import SourceError, UserError

TWEEPY_HOSTS = ("https://api.twitter.com", "https://api.x.com")
TWEET_FIELDS = ["created_at", "lang", "author_id", "referenced_tweets"]

logging.getLogger("tweepy").setLevel(logging.INFO)  # its DEBUG lines carry the bearer token


@dataclass(frozen=True)
class Tweet:
    id: int
    text: str
    created_at: datetime | None
    lang: str | None
    author_id: str | None
    is_retweet: bool


@dataclass
class SearchResult:
    topic: str
    tweets: list[Tweet]  # oldest first, each id once
    newest_id: int | None
    calls: int
    retries: int


class _HostRewrite(HTTPAdapter):
    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request, *args, **kwargs):  # type: ignore[override]
        for host in TWEEPY_HOSTS:
            if request.url.startswith(host):
                request.url = self.base_url + request.url[len(host) :]
                break
        return super().send(request, *args, **kwargs)


class XSource:
    def __init__(
        self,
        base_url: str,
        bearer_token: str,
        *,
        max_attempts: int = 6,
        backoff: float = 1.0,
        max_wait: float = 900.0,
        page_size: int = 100,
        max_pages: int = 50,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        if not bearer_token:
            raise UserError("X_BEARER_TOKEN is not set: the X API needs an app bearer token")
        self.client = tweepy.Client(bearer_token=bearer_token, wait_on_rate_limit=False)
        adapter = _HostRewrite(base_url)
        for host in TWEEPY_HOSTS:
            self.client.session.mount(host, adapter)
        self.base_url = base_url
        self.max_attempts, self.backoff, self.max_wait = max_attempts, backoff, max_wait
        self.page_size, self.max_pages = page_size, max_pages
        self.sleep, self.clock = sleep, clock

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> XSource:
        return cls(
            settings.x_api_url, settings.x_bearer_token or _sandbox_token(settings), **kwargs
        )

    def search(self, topic: str, since_id: int | None = None) -> SearchResult:
        """Every post matching `topic` newer than `since_id` (all pages)."""
        seen: dict[int, Tweet] = {}
        token: str | None = None
        calls = retries = 0
        newest: int | None = None
        for _ in range(self.max_pages):
            params = {
                "max_results": self.page_size,
                "tweet_fields": TWEET_FIELDS,
                "since_id": since_id,
                "next_token": token,
            }
            response, attempts = self._call(topic, {k: v for k, v in params.items() if v})
            calls += 1
            retries += attempts - 1
            for item in response.data or []:
                tweet = _tweet(item)
                seen.setdefault(tweet.id, tweet)
            meta = response.meta or {}
            if meta.get("newest_id") and (newest is None or int(meta["newest_id"]) > newest):
                newest = int(meta["newest_id"])
            token = meta.get("next_token")
            if not token:
                break
        tweets = sorted(seen.values(), key=lambda t: t.id)
        if tweets:
            newest = max(newest or 0, tweets[-1].id)
        return SearchResult(topic, tweets, newest, calls, retries)

    def probe(self, topic: str, since_id: int | None = None) -> int | None:
        """The newest post id matching `topic` newer than `since_id`, in one call (or None)."""
        params = {"max_results": 10, "since_id": since_id}
        response, _ = self._call(topic, {k: v for k, v in params.items() if v})
        newest = (response.meta or {}).get("newest_id")
        return int(newest) if newest else None

    def _call(self, topic: str, params: dict) -> tuple[tweepy.Response, int]:
        last = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self.client.search_recent_tweets(topic, **params), attempt
            except tweepy.TooManyRequests as exc:
                reset = exc.response.headers.get("x-rate-limit-reset")
                wait = (int(reset) - self.clock() + 1) if reset and reset.isdigit() else None
                if wait is not None and wait > self.max_wait:
                    raise SourceError(
                        f"the X API rate limit resets in {wait:.0f} s, past the "
                        f"{self.max_wait:.0f} s this client waits; try again later"
                    ) from None
                last = "HTTP 429"
                self.sleep(max(wait if wait is not None else self._backoff(attempt), 0.0))
                continue
            except tweepy.Unauthorized:
                raise SourceError(
                    "the X API refused the bearer token (HTTP 401): check X_BEARER_TOKEN"
                ) from None
            except tweepy.BadRequest as exc:
                raise SourceError(
                    f"the X API rejected the search for {topic!r}: "
                    f"{'; '.join(exc.api_messages) or exc}"
                ) from None
            except tweepy.TwitterServerError as exc:
                last = f"HTTP {exc.response.status_code}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"no answer ({type(exc).__name__})"
            except ValueError as exc:  # a body that is not JSON
                last = f"malformed answer ({str(exc)[:60]})"
            if attempt < self.max_attempts:
                self.sleep(self._backoff(attempt))
        raise SourceError(
            f"the X API at {self.base_url} failed {self.max_attempts} times "
            f"searching {topic!r} (last: {last}); try again later"
        )

    def _backoff(self, attempt: int) -> float:
        return min(60.0, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def _tweet(item: tweepy.Tweet) -> Tweet:
    refs = item.referenced_tweets or []
    return Tweet(
        id=int(item.id),
        text=item.text,
        created_at=item.created_at,
        lang=item.lang,
        author_id=str(item.author_id) if item.author_id else None,
        is_retweet=any(r.type == "retweeted" for r in refs),
    )


def _sandbox_token(settings: Settings) -> str:
    if settings.mode == "sandbox":
        return "sandbox"  # the sandbox accepts any token
    raise UserError("X_BEARER_TOKEN is not set: live mode needs an X API app bearer token")
