"""X (Twitter) clients for any X API v2-compatible host: recent search and the filtered stream.

`XSource` searches on `tweepy`. tweepy's host is fixed in its code, so requests are routed to
`X_API_URL` by an adapter mounted on the client's `requests` session. Pagination follows
`next_token`; a 429 waits until `x-rate-limit-reset` (bounded by `max_wait`); 5xx answers,
dropped connections and broken bodies are retried with backoff; posts repeated across pages are
returned once. Every answer's `x-rate-limit-*` headers are kept (`XSource.budget`), so that
callers can pace their calls over the 15-minute window (`RateBudget.pace`).

`FilteredStream` follows the filtered stream with plain `requests` streaming: it keeps exactly
one rule per topic, tagged `ecoin:<topic>` (the app's other rules are left alone), yields each
post with the topics whose rules it matched, reconnects on drops and stalls (no data, keep-alives
included, for `stall_timeout`) with X's backoff rules, and reports every gap to its caller, who
recovers it with recent search from the gap's `since_id`. An app without stream access gets a
`StreamAccessError`, so the caller can fall back to polling.

The bearer token is sent in a header and never logged: tweepy's debug log, which prints
headers, is kept off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import requests
import tweepy
import urllib3
from requests.adapters import HTTPAdapter

from ecoin_assets.config import Settings
from ecoin_assets.errors import SourceError, UserError

TWEEPY_HOSTS = ("https://api.twitter.com", "https://api.x.com")
TWEET_FIELDS = ["created_at", "lang", "author_id", "referenced_tweets", "public_metrics"]
METRICS = ("like_count", "retweet_count", "reply_count", "quote_count")
STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
TOPIC_TAG = "ecoin:"  # the tag prefix of the stream rules this client owns
MAX_RULE_LENGTH = 512

logging.getLogger("tweepy").setLevel(logging.INFO)  # its DEBUG lines carry the bearer token
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tweet:
    id: int
    text: str
    created_at: datetime | None
    lang: str | None
    author_id: str | None
    is_retweet: bool
    # X's public_metrics as the answer had them (likes, retweets, replies, quotes); None if absent
    metrics: tuple[int, int, int, int] | None = None


@dataclass
class SearchResult:
    topic: str
    tweets: list[Tweet]  # oldest first, each id once
    newest_id: int | None
    calls: int
    retries: int


@dataclass(frozen=True)
class RateBudget:
    """An endpoint's 15-minute window as the last `x-rate-limit-*` headers reported it."""

    limit: int
    remaining: int
    reset: float  # epoch seconds

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateBudget | None:
        try:
            return cls(
                int(headers["x-rate-limit-limit"]),
                int(headers["x-rate-limit-remaining"]),
                float(headers["x-rate-limit-reset"]),
            )
        except (KeyError, ValueError):
            return None

    def pace(self, calls: int, floor: float, now: float, reserve: float = 0.1) -> float:
        """Seconds to wait before the next round of `calls` calls, so that the rounds spread
        what is left of the window evenly until it resets, keeping `reserve` of the limit for
        recoveries and retries; never less than `floor`."""
        left = self.reset - now
        if left <= 0:
            return floor  # the window has turned: the next answer reports the new one
        usable = self.remaining - math.ceil(self.limit * reserve)
        if usable < max(calls, 1):
            return max(floor, left + 1.0)
        return max(floor, left / (usable / max(calls, 1)))


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
        self.client.session.hooks["response"].append(self._note_budget)
        self.budget: RateBudget | None = None  # of the search endpoint, from its last answer
        self.base_url = base_url
        self.max_attempts, self.backoff, self.max_wait = max_attempts, backoff, max_wait
        self.page_size, self.max_pages = page_size, max_pages
        self.sleep, self.clock = sleep, clock

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> XSource:
        return cls(
            settings.x_api_url, settings.x_bearer_token or _sandbox_token(settings), **kwargs
        )

    def _note_budget(self, response: requests.Response, *args, **kwargs) -> None:
        budget = RateBudget.from_headers(response.headers)
        if budget is not None:
            self.budget = budget

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
    counts = item.public_metrics or {}
    return Tweet(
        id=int(item.id),
        text=item.text,
        created_at=item.created_at,
        lang=item.lang,
        author_id=str(item.author_id) if item.author_id else None,
        is_retweet=any(r.type == "retweeted" for r in refs),
        metrics=tuple(int(counts.get(k) or 0) for k in METRICS) if counts else None,  # type: ignore[arg-type]
    )


def _sandbox_token(settings: Settings) -> str:
    if settings.mode == "sandbox":
        return "sandbox"  # the sandbox accepts any token
    raise UserError("X_BEARER_TOKEN is not set: live mode needs an X API app bearer token")


# -- filtered stream ------------------------------------------------------------------------
class StreamAccessError(SourceError):
    """The app may not use the filtered stream (X's 403): poll recent search instead."""


@dataclass(frozen=True)
class StreamRule:
    id: str
    value: str
    tag: str | None = None


@dataclass(frozen=True)
class RuleSync:
    """What `FilteredStream.sync_rules` changed (or, with `dry_run`, would change)."""

    added: list[StreamRule]
    deleted: list[StreamRule]
    kept: list[StreamRule]
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.deleted)


@dataclass(frozen=True)
class StreamPost:
    """A post from the stream and the topics (`ecoin:` rule tags) it matched."""

    tweet: Tweet
    topics: tuple[str, ...]
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class StreamGap:
    """A time the stream was not connected: posts newer than `since_id` may be missing.

    Reported once the stream is connected again, so a recent search from `since_id` covers the
    whole gap (posts of the gap may also come from the stream; store them by id).
    """

    since_id: int | None  # the newest post received before the gap (None: none yet)
    reason: str
    disconnected_at: float  # epoch seconds
    reconnected_at: float
    attempts: int  # connection attempts it took, the successful one included


def network_backoff(failures: int, step: float = 0.25, cap: float = 16.0) -> float:
    """X's wait after the `failures`-th network error in a row: linear, 250 ms steps to 16 s."""
    return min(step * max(failures, 0), cap)


def http_backoff(failures: int, base: float = 5.0, cap: float = 320.0) -> float:
    """X's wait after the `failures`-th HTTP error in a row: 5 s, doubling, at most 320 s."""
    return min(base * 2 ** (failures - 1), cap) if failures > 0 else 0.0


def rate_limit_backoff(failures: int, base: float = 60.0, cap: float = 960.0) -> float:
    """X's wait after the `failures`-th 429 in a row: 1 minute, doubling (at most 16 minutes)."""
    return http_backoff(failures, base, cap)


@dataclass(frozen=True)
class ReconnectPolicy:
    """X's reconnect waits (`network_backoff`, `http_backoff`, `rate_limit_backoff`)."""

    network_step: float = 0.25
    network_max: float = 16.0
    http_base: float = 5.0
    http_max: float = 320.0
    rate_limit_base: float = 60.0
    rate_limit_max: float = 960.0

    def delay(self, kind: str, failures: int) -> float:
        """The wait after the `failures`-th failure in a row of `kind` (network, http,
        rate_limit)."""
        if kind == "network":
            return network_backoff(failures, self.network_step, self.network_max)
        if kind == "rate_limit":
            return rate_limit_backoff(failures, self.rate_limit_base, self.rate_limit_max)
        return http_backoff(failures, self.http_base, self.http_max)


@dataclass
class _Loss:
    since_id: int | None
    reason: str
    at: float
    attempts: int = 0


class FilteredStream:
    """X's filtered stream for topics {name: query}: `sync_rules`, then iterate `events()`.

    `stall_timeout` (default 1.5 x X's 20 s keep-alive) of silence counts as a stall; the
    stream then reconnects. After an established connection ends it reconnects at once (after
    one that brought nothing, as after a network error); failed attempts wait as X asks:
    network errors 250 ms more each time up to 16 s, HTTP errors 5 s doubling up to 320 s,
    429s 60 s doubling; a successful connection resets the waits. `on_gap` hears of every gap
    once connected again. `sleep` (default: a wait that `close()` cuts short) and `policy` make
    the waits testable; past `max_failures` failed attempts in a row it raises `SourceError`.
    """

    def __init__(
        self,
        base_url: str,
        bearer_token: str,
        *,
        tweet_fields: Sequence[str] = TWEET_FIELDS,
        stall_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        policy: ReconnectPolicy | None = None,
        on_gap: Callable[[StreamGap], None] | None = None,
        max_failures: int | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if not bearer_token:
            raise UserError("X_BEARER_TOKEN is not set: the X API needs an app bearer token")
        self.base_url = base_url.rstrip("/")
        self.tweet_fields = list(tweet_fields)
        self.stall_timeout, self.connect_timeout = stall_timeout, connect_timeout
        self.policy = policy or ReconnectPolicy()
        self.on_gap = on_gap
        # called at every successful connection, before its first post (a caller whose search
        # ran before the first connection searches again: posts between the two came from
        # neither)
        self.on_connect: Callable[[], None] | None = None
        self.max_failures = max_failures
        self._stop = threading.Event()
        self.sleep = sleep or self._stop.wait
        self.clock = clock
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer_token}"
        self.newest_id: int | None = None
        self.stats: Counter[str] = Counter()
        self._response: requests.Response | None = None

    def __repr__(self) -> str:  # the session holds the token; keep it out of reprs
        return f"FilteredStream({self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> FilteredStream:
        """A stream on `X_API_URL` with `X_BEARER_TOKEN` (any token in sandbox mode)."""
        return cls(
            settings.x_api_url, settings.x_bearer_token or _sandbox_token(settings), **kwargs
        )

    # -- rules ------------------------------------------------------------------------------
    def rules(self) -> list[StreamRule]:
        """Every stream rule of the app (ecoin's and others')."""
        body = self._rules_call("GET")
        return [StreamRule(r["id"], r["value"], r.get("tag")) for r in body.get("data") or []]

    def sync_rules(self, topics: Mapping[str, str], *, dry_run: bool = False) -> RuleSync:
        """Make the app's `ecoin:` rules exactly one per topic, `ecoin:<name>` -> its query.

        Rules with other tags are never touched; a topic whose query changed gets a new rule
        (added before the old one goes, so matching does not pause). With `dry_run` nothing
        changes and X only validates the new rules.
        """
        wanted: dict[str, str] = {}
        for name, query in topics.items():
            value = query.strip()
            if not value:
                raise UserError(f"topic {name!r} has an empty query")
            if len(value) > MAX_RULE_LENGTH:
                raise UserError(
                    f"the query of topic {name!r} has {len(value)} characters; an X stream "
                    f"rule holds at most {MAX_RULE_LENGTH}"
                )
            wanted[TOPIC_TAG + name] = value
        kept: list[StreamRule] = []
        stale: list[StreamRule] = []
        for rule in self.rules():
            if not (rule.tag or "").startswith(TOPIC_TAG):
                continue  # not ecoin's
            if wanted.get(rule.tag or "") == rule.value and rule.tag not in {r.tag for r in kept}:
                kept.append(rule)
            else:
                stale.append(rule)
        have = {r.tag for r in kept}
        to_add = [{"value": v, "tag": t} for t, v in wanted.items() if t not in have]
        # a stale rule holding a value about to be added must go first (X refuses duplicates)
        values = {a["value"] for a in to_add}
        first = [r for r in stale if r.value in values]
        later = [r for r in stale if r.value not in values]
        if dry_run:
            added = self._add(to_add, dry_run=True, replacing={r.id for r in first})
            return RuleSync(added, stale, kept, dry_run=True)
        self._delete(first)
        added = self._add(to_add)
        self._delete(later)
        if added or stale:
            log.info(
                "stream rules: %d added, %d deleted, %d kept", len(added), len(stale), len(kept)
            )
        return RuleSync(added, stale, kept)

    def _add(
        self, items: list[dict], *, dry_run: bool = False, replacing: set[str] | None = None
    ) -> list[StreamRule]:
        if not items:
            return []
        body = self._rules_call("POST", {"add": items}, dry_run=dry_run)
        problems = []
        for error in body.get("errors") or []:
            if error.get("title") == "DuplicateRule" and error.get("id") in (replacing or ()):
                continue  # a dry run: the rule holding that value would be deleted first
            if error.get("title") == "DuplicateRule":
                problems.append(
                    f"{error.get('value')!r} is already rule {error.get('id')} of this app "
                    "(give each topic its own query)"
                )
            else:
                details = "; ".join(error.get("details") or []) or error.get("detail", "")
                problems.append(f"{error.get('value')!r}: {details or error.get('title')}")
        if problems:
            raise SourceError("the X API refused stream rules: " + " | ".join(problems))
        return [StreamRule(r["id"], r["value"], r.get("tag")) for r in body.get("data") or []]

    def _delete(self, rules: list[StreamRule]) -> None:
        if rules:
            body = self._rules_call("POST", {"delete": {"ids": [r.id for r in rules]}})
            gone = (body.get("meta") or {}).get("summary", {}).get("not_deleted", 0)
            if gone:
                log.info("%d stream rules were already gone", gone)

    def _rules_call(self, method: str, payload: dict | None = None, dry_run: bool = False) -> dict:
        params = {"dry_run": "true"} if dry_run else None
        try:
            response = self.session.request(
                method,
                self.base_url + RULES_PATH,
                json=payload,
                params=params,
                timeout=(self.connect_timeout, 30.0),
            )
        except requests.RequestException as exc:
            raise SourceError(
                f"the X API at {self.base_url} did not answer a stream-rules call "
                f"({type(exc).__name__}); try again later"
            ) from None
        self._raise_fatal(response)
        if response.status_code not in (200, 201):
            raise SourceError(
                f"the X API answered a stream-rules call with {_describe(response)}; "
                "try again later"
            )
        try:
            body = response.json()
        except ValueError:
            raise SourceError(
                "the X API answered a stream-rules call with a body that is not JSON"
            ) from None
        return body if isinstance(body, dict) else {}

    # -- the stream -------------------------------------------------------------------------
    def events(self) -> Iterator[StreamPost]:
        """The posts matching the rules, as they come, until `close()` (or the caller stops)."""
        failures: Counter[str] = Counter()
        in_a_row = 0
        loss: _Loss | None = None
        while not self._stop.is_set():
            if loss is not None:
                loss.attempts += 1
            kind, reason = self._attempt()
            if kind == "connected":
                response = self._response
                assert response is not None
                if self._stop.is_set():  # closed while connecting
                    self._response = None
                    response.close()
                    return
                failures.clear()
                in_a_row = 0
                self.stats["connections"] += 1
                log.info("connected to the X filtered stream at %s", self.base_url)
                if self.on_connect is not None:
                    self.on_connect()
                if loss is not None:
                    self._report(loss)
                    loss = None
                received = [False]
                try:
                    yield from self._read(response, received)
                    reason = "closed by the server"
                except _StallError:
                    reason = f"stalled: nothing for {self.stall_timeout:g} s"
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    reason = f"dropped ({type(exc).__name__})"
                finally:
                    self._response = None
                    response.close()
                if self._stop.is_set():
                    return
                self.stats["disconnects"] += 1
                log.warning("the X filtered stream %s; reconnecting", reason)
                loss = _Loss(self.newest_id, reason, self.clock())
                if received[0]:
                    continue  # reconnect at once
                kind = "network"  # a connection that brought nothing: back off
            failures[kind] += 1
            in_a_row += 1
            self.stats["failures"] += 1
            if self.max_failures is not None and in_a_row > self.max_failures:
                raise SourceError(
                    f"the X filtered stream at {self.base_url} failed {in_a_row} times in a "
                    f"row (last: {reason}); try again later"
                )
            wait = self.policy.delay(kind, failures[kind])
            log.warning("X filtered stream: %s; next attempt in %.2f s", reason, wait)
            self.sleep(wait)

    def close(self) -> None:
        """End `events()` for good (from any thread too), without waiting out a backoff."""
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(ValueError, RuntimeError, OSError, AttributeError):
                response.raw.shutdown()  # wakes a read blocked in another thread
            response.close()

    def _attempt(self) -> tuple[str, str]:
        """Open a connection: ("connected", "") with `self._response` set, or (kind, reason)."""
        try:
            response = self.session.get(
                self.base_url + STREAM_PATH,
                params={"tweet.fields": ",".join(self.tweet_fields)} if self.tweet_fields else None,
                stream=True,
                timeout=(self.connect_timeout, self.stall_timeout),
            )
        except requests.RequestException as exc:
            return "network", f"no connection ({type(exc).__name__})"
        if response.status_code == 200:
            self._response = response
            return "connected", ""
        with response:
            self._raise_fatal(response)
            if response.status_code in (400, 404):
                raise SourceError(f"the X API refused the stream request: {_describe(response)}")
            kind = "rate_limit" if response.status_code in (420, 429) else "http"
            return kind, _describe(response)

    def _read(self, response: requests.Response, received: list[bool]) -> Iterator[StreamPost]:
        try:
            chunks = response.iter_content(chunk_size=None)
            pending = b""
            for chunk in chunks:
                if self._stop.is_set():
                    return
                received[0] = True
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    post = self._parse(line.strip())
                    if post is not None:
                        yield post
        except requests.ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
                raise _StallError from None
            raise

    def _parse(self, line: bytes) -> StreamPost | None:
        if not line:
            self.stats["keep_alives"] += 1
            return None
        try:
            message = json.loads(line)
            if "data" not in message:
                self.stats["errors"] += 1
                problems = [e.get("title") or e.get("detail") for e in message.get("errors", [])]
                log.warning("the X filtered stream sent %s", problems or "an unknown message")
                return None
            tweet = _tweet(tweepy.Tweet(message["data"]))
            rules = message.get("matching_rules") or []
        except (ValueError, KeyError, TypeError, AttributeError):
            self.stats["malformed"] += 1
            log.warning("skipped a malformed line of the X filtered stream (%d bytes)", len(line))
            return None
        tags = [str(r.get("tag") or "") for r in rules]
        topics = tuple(dict.fromkeys(t[len(TOPIC_TAG) :] for t in tags if t.startswith(TOPIC_TAG)))
        self.stats["posts"] += 1
        if self.newest_id is None or tweet.id > self.newest_id:
            self.newest_id = tweet.id
        return StreamPost(tweet, topics, tuple(str(r.get("id")) for r in rules))

    def _report(self, loss: _Loss) -> None:
        gap = StreamGap(loss.since_id, loss.reason, loss.at, self.clock(), loss.attempts)
        self.stats["gaps"] += 1
        if self.on_gap is not None:
            self.on_gap(gap)

    @staticmethod
    def _raise_fatal(response: requests.Response) -> None:
        if response.status_code == 401:
            raise SourceError("the X API refused the bearer token (HTTP 401): check X_BEARER_TOKEN")
        if response.status_code == 403:
            raise StreamAccessError(
                f"this X app may not use the filtered stream ({_describe(response)}); "
                "poll recent search instead"
            )


class _StallError(Exception):
    """No data, keep-alives included, for the stall timeout."""


def _describe(response: requests.Response) -> str:
    """`HTTP 429 (ConnectionException: This stream is ...)` from X's error body, if any."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        title = body.get("title") or ""
        detail = body.get("reason") or body.get("detail") or ""
        text = ": ".join(p for p in (title, detail) if p)
        if text:
            return f"HTTP {response.status_code} ({text})"
    return f"HTTP {response.status_code}"
