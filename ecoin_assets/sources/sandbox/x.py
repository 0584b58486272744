"""An X API v2-compatible sandbox: `GET /2/tweets/search/recent` over simulated posts.

What it shares with the real endpoint: bearer-token auth (401 without one), `query` with
keywords, `OR`, `-is:retweet` and `lang:xx`, `since_id`, `until_id`, `max_results` (10-100),
`next_token` pagination, `tweet.fields`, newest-first order, `meta` with `newest_id`,
`oldest_id`, `result_count` and `next_token`, X's error bodies, and per-token rate limits in
15-minute windows reported in `x-rate-limit-limit/-remaining/-reset` headers (429 past it).
Posts are released in real time at `rate_per_minute`, with a backlog of `backlog_minutes`
and, before it, `history_days` of older posts at `history_rate_per_minute` (the real endpoint
reaches back 7 days).
Beside the shared fault switches, `duplicate_page_rate` makes a page repeat the last post of
the previous one, as the real API does when posts arrive during pagination.
"""

from __future__ import annotations

import base64
import math
import random
import re
import threading
import time
from collections.abc import Callable

from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.http import HTTPError, SandboxHandler, SandboxServer
from ecoin_assets.sources.sandbox.posts import Post, PostStream

SEARCH_PATH = "/2/tweets/search/recent"
WINDOW_SECONDS = 15 * 60
RECENT_DAYS = 7
KNOWN_FIELDS = {
    "created_at",
    "lang",
    "author_id",
    "referenced_tweets",
    "id",
    "text",
    "edit_history_tweet_ids",
    "public_metrics",
    "entities",
    "conversation_id",
}


def _invalid(message: str, parameter: str) -> HTTPError:
    return HTTPError(
        400,
        {
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


class Query:
    """The subset of X's search syntax the sandbox understands."""

    def __init__(self, text: str):
        if not text.strip():
            raise _invalid("The `query` query parameter can not be empty", "query")
        self.exclude_retweets = False
        self.lang: str | None = None
        self.keywords: list[str] = []
        for token in re.findall(r'"[^"]+"|\S+', text):
            low = token.lower().strip('"()')
            if low == "or" or not low:
                continue
            if low == "-is:retweet":
                self.exclude_retweets = True
            elif low.startswith("lang:"):
                self.lang = low.split(":", 1)[1]
            elif not low.startswith("-") and ":" not in low:
                self.keywords.append(low.lstrip("#$"))
        if not self.keywords:
            raise _invalid("The query must contain at least one keyword", "query")
        self._pattern = re.compile(
            r"(?<![\w])[#$]?(?:" + "|".join(re.escape(k) for k in self.keywords) + r")(?![\w])",
            re.IGNORECASE,
        )

    def matches(self, post: Post) -> bool:
        if self.exclude_retweets and post.referenced_retweet:
            return False
        if self.lang and post.lang != self.lang:
            return False
        return bool(self._pattern.search(post.text))


class XSandbox(SandboxServer):
    api_name = "x"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        coins: tuple[str, ...] = ("bitcoin", "ethereum", "cardano", "solana", "dogecoin"),
        rate_per_minute: float = 30.0,
        backlog_minutes: float = 60.0,
        history_days: float = 0.0,
        history_rate_per_minute: float = 2.0,
        requests_per_window: int = 450,
        bearer_token: str | None = None,
        duplicate_page_rate: float = 0.0,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] = time.time,
        seed: int = 2019,
        quiet: bool = True,
    ):
        self.clock = clock
        start_ms = int((clock() - backlog_minutes * 60) * 1000)
        self.stream = PostStream(
            coins,
            rate_per_minute=rate_per_minute,
            start_ms=start_ms,
            seed=seed,
            history_minutes=history_days * 1440,
            history_rate_per_minute=history_rate_per_minute,
        )
        self.requests_per_window = requests_per_window
        self.bearer_token = bearer_token
        self.duplicate_page_rate = duplicate_page_rate
        self._windows: dict[str, tuple[int, int]] = {}  # token -> (window end, calls)
        self._window_lock = threading.Lock()
        self._page_rng = random.Random(seed)
        # the base class's per-minute limiter is off: X counts calls in 15-minute windows
        super().__init__((host, port), 0, faults, quiet)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- rate limits ------------------------------------------------------------------------
    def _count_call(self, token: str) -> tuple[int, int, bool]:
        """Count a call of `token`: (window reset, epoch s; calls left; whether it is allowed)."""
        now = self.clock()
        with self._window_lock:
            end, calls = self._windows.get(token, (0, 0))
            if now >= end:
                end, calls = math.ceil(now) + WINDOW_SECONDS, 0
            allowed = calls < self.requests_per_window
            calls += allowed
            self._windows[token] = (end, calls)
        return end, self.requests_per_window - calls, allowed

    def _limit_headers(self, reset: int, remaining: int) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.requests_per_window),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }

    def rate_limit_answer(self, retry_after: int) -> HTTPError:
        reset = math.ceil(self.clock()) + retry_after
        return HTTPError(
            429,
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            self._limit_headers(reset, 0),
        )

    # -- routing ----------------------------------------------------------------------------
    def endpoint_name(self, path: str) -> str:
        return path

    def route(self, handler: SandboxHandler, path: str, query: dict[str, str]):
        if path != SEARCH_PATH:
            raise HTTPError(
                404,
                {
                    "title": "Not Found Error",
                    "type": "about:blank",
                    "status": 404,
                    "detail": f"Unknown route {path}",
                },
            )
        reset, remaining, allowed = self._count_call(self._token(handler))
        headers = self._limit_headers(reset, remaining)
        if not allowed:
            raise HTTPError(429, self.rate_limit_answer(1).body, headers)
        return 200, self._search(query), headers

    def _token(self, handler: SandboxHandler) -> str:
        auth = handler.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        if not token or (self.bearer_token is not None and token != self.bearer_token):
            raise HTTPError(
                401,
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            )
        return token

    def _search(self, params: dict[str, str]) -> dict:
        q = Query(params.get("query", ""))
        try:
            max_results = int(params.get("max_results", "10"))
        except ValueError:
            raise _invalid("max_results must be a number", "max_results") from None
        if not 10 <= max_results <= 100:
            raise _invalid(
                f"The `max_results` query parameter value [{max_results}] is not between 10 "
                "and 100",
                "max_results",
            )
        fields = {f.strip() for f in params.get("tweet.fields", "").split(",") if f.strip()}
        unknown = fields - KNOWN_FIELDS
        if unknown:
            raise _invalid(
                f"The `tweet.fields` value {sorted(unknown)} is not one of {sorted(KNOWN_FIELDS)}",
                "tweet.fields",
            )
        since_id = self._id_param(params, "since_id")
        until_id = self._id_param(params, "until_id")
        now = self.now_ms()
        first = self.stream.released(now) - 1
        oldest_allowed = now - RECENT_DAYS * 86_400_000
        if "next_token" in params:
            first = self._decode(params["next_token"])
        page: list[Post] = []
        k = first
        while k >= 0 and self.stream.time_of(k) >= oldest_allowed:
            post = self.stream.post(k)
            if since_id is not None and int(post.id) <= since_id:
                break
            if (until_id is None or int(post.id) < until_id) and q.matches(post):
                if len(page) == max_results:
                    break
                page.append(post)
            k -= 1
        meta: dict = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
        has_more = k >= 0 and len(page) == max_results
        if has_more:
            next_k = k
            if self._page_rng.random() < self.duplicate_page_rate:
                next_k = self.stream.index_of(page[-1].id)  # repeat the last post
            meta["next_token"] = self._encode(next_k)
        body: dict = {"meta": meta}
        if page:
            body["data"] = [p.as_json(fields) for p in page]
        return body

    @staticmethod
    def _id_param(params: dict[str, str], name: str) -> int | None:
        if name not in params:
            return None
        if not params[name].isdigit():
            raise _invalid(
                f"The `{name}` query parameter value [{params[name]}] is not valid", name
            )
        return int(params[name])

    @staticmethod
    def _encode(k: int) -> str:
        return base64.urlsafe_b64encode(f"k{k}".encode()).decode().rstrip("=")

    @staticmethod
    def _decode(token: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            if not raw.startswith("k"):
                raise ValueError(raw)
            return int(raw[1:])
        except (ValueError, UnicodeDecodeError):
            raise _invalid(
                f"The `next_token` query parameter value [{token}] is not valid", "next_token"
            ) from None
