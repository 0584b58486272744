"""An X API v2-compatible sandbox: recent search and the filtered stream over simulated posts.

`GET /2/tweets/search/recent` shares with the real endpoint: bearer-token auth (401 without
one), `query` in X's syntax (`sources.x_query`: AND, `OR`, groups, negation, phrases,
#hashtags, $cashtags, `is:retweet`, `lang:xx`), `since_id`, `until_id`,
`max_results` (10-100), `next_token` pagination, `tweet.fields`, newest-first order, `meta` with
`newest_id`, `oldest_id`, `result_count` and `next_token`, X's error bodies, and per-token rate
limits in 15-minute windows reported in `x-rate-limit-limit/-remaining/-reset` headers (429
past it). Posts are released in real time at `rate_per_minute`, with a backlog of
`backlog_minutes` and, before it, `history_days` of older posts at `history_rate_per_minute`
(the real endpoint reaches back 7 days).

The filtered stream, per app (bearer token), each endpoint with its own rate-limit window:
- `GET /2/tweets/search/stream/rules` (`ids` filters): `data` of `{id, value, tag}` and `meta`
  with `sent` and `result_count`.
- `POST /2/tweets/search/stream/rules` with `{"add": [{"value", "tag"}]}` or
  `{"delete": {"ids": [...]}}`, `dry_run=true` to change nothing: `meta.summary` with
  `created/not_created/valid/invalid` (201) or `deleted/not_deleted` (200). A rule value (at most
  512 characters) uses the search's query syntax; a batch with an invalid one creates nothing
  and answers X's `invalid-rules` errors; a value the app already has is a `duplicate-rules`
  error; an unknown id to delete is a `Rule does not exist` error; a body of another shape is
  400 `Invalid Request`.
- `GET /2/tweets/search/stream` (`tweet.fields`): a chunked answer, one JSON object a line,
  `{"data": {...}, "matching_rules": [{"id", "tag"}]}` for each post released after the
  connection opened that matches a rule (rule changes apply at once), sent as the post is
  released, and a keep-alive blank line after `keep_alive_seconds` (20) of silence. One
  connection per app: another gets X's 429 `ConnectionException` (a connection whose client is
  gone is released at once). Posts released while no client is connected are never sent (no
  backfill); recent search still finds them. Connection attempts have their own window
  (`stream_connects_per_window`, 50 per 15 minutes as on X). `stream_access=False` answers the
  stream and its rules with X's 403 `client-not-enrolled`.

Beside the shared fault switches (which hit the stream's connection attempts too),
`duplicate_page_rate` makes a page repeat the last post of the previous one, as the real API
does when posts arrive during pagination. The stream's own switches (`FaultConfig` fields, so
`/_sandbox/faults` sets them at run time; the constructor's arguments of the same names override
`faults`): `stream_drop_every` closes a connection after every N posts it has sent,
`stream_stall_every` makes it silent, keep-alives included, for `stream_stall_seconds` after
every N posts, and `stream_connect_429_rate` refuses that share of connection attempts with 429.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ecoin_assets.sources.sandbox.faults import FaultConfig
from ecoin_assets.sources.sandbox.http import HTTPError, SandboxHandler, SandboxServer, Streamed
from ecoin_assets.sources.sandbox.posts import Burst, Post, PostStream, snowflake
from ecoin_assets.sources.x_query import PostText, Query, QueryError, parse

SEARCH_PATH = "/2/tweets/search/recent"
STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
WINDOW_SECONDS = 15 * 60
RECENT_DAYS = 7
MAX_RULE_LENGTH = 512
KEEP_ALIVE_SECONDS = 20.0
_POLL_SECONDS = 0.05  # how often an idle stream looks for new posts (with a fake clock)
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
_PROBLEMS = "https://api.twitter.com/2/problems"
_NOT_ENROLLED = {
    "client_id": "0",
    "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
    "and tokens from a Twitter developer App that is attached to a Project. You can create a "
    "project via the developer portal.",
    "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
    "title": "Client Forbidden",
    "required_enrollment": "Appropriate Level of API Access",
    "reason": "client-not-enrolled",
    "type": f"{_PROBLEMS}/client-forbidden",
}
_TOO_MANY_CONNECTIONS = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": f"{_PROBLEMS}/streaming-connection",
}


def _invalid(message: str, parameter: str) -> HTTPError:
    return HTTPError(
        400,
        {
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": f"{_PROBLEMS}/invalid-request",
        },
    )


def _tweet_fields(params: dict[str, str]) -> set[str]:
    fields = {f.strip() for f in params.get("tweet.fields", "").split(",") if f.strip()}
    unknown = fields - KNOWN_FIELDS
    if unknown:
        raise _invalid(
            f"The `tweet.fields` value {sorted(unknown)} is not one of {sorted(KNOWN_FIELDS)}",
            "tweet.fields",
        )
    return fields


def _query(text: str, parameter: str = "query") -> Query:
    """`text` parsed with X's syntax, or X's 400 answer saying what is wrong with it."""
    if not text.strip():
        raise _invalid(f"The `{parameter}` query parameter can not be empty", parameter)
    try:
        return parse(text)
    except QueryError as exc:
        raise _invalid(f"There were errors processing your request: {exc}", parameter) from None


def post_matches(query: Query, post: Post) -> bool:
    return query.matches(PostText(post.text, post.lang, post.referenced_retweet is not None))


@dataclass(frozen=True)
class StreamRule:
    """A filtered-stream rule of one app."""

    id: str
    value: str
    tag: str | None
    query: Query

    def as_json(self) -> dict:
        out = {"id": self.id, "value": self.value}
        if self.tag is not None:
            out["tag"] = self.tag
        return out


def _rule_problems(value: str) -> list[str]:
    """Why X would refuse a rule value (empty when the sandbox accepts it)."""
    if len(value) > MAX_RULE_LENGTH:
        return [f"Rule length {len(value)} exceeds the maximum of {MAX_RULE_LENGTH} characters"]
    if not value.strip():
        return ["Rules must contain at least one positive, non-stopword clause (at position 1)"]
    try:
        parse(value)
    except QueryError as exc:
        return [str(exc)]
    return []


def _peer_gone(sock: socket.socket) -> bool:
    """Whether the client has closed its end of `sock` (what it sent stays unread)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


class XSandbox(SandboxServer):
    api_name = "x"
    post_paths = (RULES_PATH,)

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
        stream_connects_per_window: int = 50,
        bearer_token: str | None = None,
        duplicate_page_rate: float = 0.0,
        keep_alive_seconds: float = KEEP_ALIVE_SECONDS,
        stream_access: bool = True,
        stream_drop_every: int | None = None,
        stream_stall_every: int | None = None,
        stream_stall_seconds: float | None = None,
        stream_connect_429_rate: float | None = None,
        faults: FaultConfig | None = None,
        clock: Callable[[], float] = time.time,
        seed: int = 2019,
        quiet: bool = True,
        burst: Burst | None = None,
    ):
        if keep_alive_seconds <= 0:
            raise ValueError(f"keep_alive_seconds must be positive, not {keep_alive_seconds}")
        stream_faults = {
            "stream_drop_every": stream_drop_every,
            "stream_stall_every": stream_stall_every,
            "stream_stall_seconds": stream_stall_seconds,
            "stream_connect_429_rate": stream_connect_429_rate,
        }
        faults = dataclasses.replace(
            faults or FaultConfig(), **{k: v for k, v in stream_faults.items() if v is not None}
        )
        self.clock = clock
        start_ms = int((clock() - backlog_minutes * 60) * 1000)
        self.stream = PostStream(
            coins,
            rate_per_minute=rate_per_minute,
            start_ms=start_ms,
            seed=seed,
            history_minutes=history_days * 1440,
            history_rate_per_minute=history_rate_per_minute,
            burst=burst,
        )
        self.requests_per_window = requests_per_window
        self.stream_connects_per_window = stream_connects_per_window
        self.bearer_token = bearer_token
        self.duplicate_page_rate = duplicate_page_rate
        self.keep_alive_seconds = keep_alive_seconds
        self.stream_access = stream_access
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # (token, path) -> (end, calls)
        self._window_lock = threading.Lock()
        self._page_rng = random.Random(seed)
        self._rules: dict[str, dict[str, StreamRule]] = {}  # token -> rule id -> rule
        self._rules_lock = threading.Lock()
        self._rule_seq = 0
        self._connections: dict[str, socket.socket] = {}  # token -> socket of its open stream
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        # the base class's per-minute limiter is off: X counts calls in 15-minute windows
        super().__init__((host, port), 0, faults, quiet)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def server_close(self) -> None:
        self._stopping.set()  # open streams end within a poll interval
        super().server_close()

    def _sent(self) -> str:
        """X's `meta.sent`: now, ISO 8601 with milliseconds and `Z`."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    # -- rate limits ------------------------------------------------------------------------
    def _count_call(self, token: str, path: str = SEARCH_PATH) -> tuple[int, int, bool]:
        """Count a call of `token` to `path`, which has its own window: (window reset, epoch s;
        calls left; whether it is allowed)."""
        limit = self._limit(path)
        now = self.clock()
        with self._window_lock:
            end, calls = self._windows.get((token, path), (0, 0))
            if now >= end:
                end, calls = math.ceil(now) + WINDOW_SECONDS, 0
            allowed = calls < limit
            calls += allowed
            self._windows[(token, path)] = (end, calls)
        return end, limit - calls, allowed

    def _limit(self, path: str) -> int:
        return self.stream_connects_per_window if path == STREAM_PATH else self.requests_per_window

    def _limit_headers(self, reset: int, remaining: int, path: str = SEARCH_PATH) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self._limit(path)),
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
        if path not in (SEARCH_PATH, RULES_PATH, STREAM_PATH):
            raise HTTPError(
                404,
                {
                    "title": "Not Found Error",
                    "type": "about:blank",
                    "status": 404,
                    "detail": f"Unknown route {path}",
                },
            )
        token, headers = self._admit(handler, path)
        if path == RULES_PATH:
            return 200, self._get_rules(token, query), headers
        if path == STREAM_PATH:
            return 200, self._connect(handler, token, query, headers), headers
        return 200, self._search(query), headers

    def route_post(
        self, handler: SandboxHandler, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, object, dict[str, str]]:
        token, headers = self._admit(handler, path)
        status, answer = self._post_rules(token, query, body)
        return status, answer, headers

    def _admit(self, handler: SandboxHandler, path: str) -> tuple[str, dict[str, str]]:
        """Auth, stream access and the rate limit of one call: (token, rate-limit headers)."""
        token = self._token(handler)
        if path != SEARCH_PATH and not self.stream_access:
            raise HTTPError(403, _NOT_ENROLLED)
        reset, remaining, allowed = self._count_call(token, path)
        headers = self._limit_headers(reset, remaining, path)
        if not allowed:
            raise HTTPError(429, self.rate_limit_answer(1).body, headers)
        return token, headers

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
        q = _query(params.get("query", ""))
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
        fields = _tweet_fields(params)
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
            if (until_id is None or int(post.id) < until_id) and post_matches(q, post):
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
            at = datetime.fromtimestamp(now / 1000, tz=UTC)
            body["data"] = [p.as_json(fields, at) for p in page]
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

    # -- filtered stream: rules -------------------------------------------------------------
    def rules_of(self, token: str) -> list[StreamRule]:
        """The rules of the app with bearer `token`, oldest first."""
        with self._rules_lock:
            return list(self._rules.get(token, {}).values())

    def _get_rules(self, token: str, params: dict[str, str]) -> dict:
        rules = self.rules_of(token)
        if params.get("ids"):
            wanted = {i.strip() for i in params["ids"].split(",")}
            rules = [r for r in rules if r.id in wanted]
        body: dict = {"meta": {"sent": self._sent(), "result_count": len(rules)}}
        if rules:
            body["data"] = [r.as_json() for r in rules]
        return body

    def _post_rules(self, token: str, params: dict[str, str], raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("add" in body) == ("delete" in body):
            which = "delete" if isinstance(body, dict) and "delete" in body else "add"
            raise _invalid("JSON doesn't match expected schema", which)
        dry_run = params.get("dry_run", "false").lower() == "true"
        if "add" in body:
            return self._add_rules(token, body["add"], dry_run)
        return self._delete_rules(token, body["delete"], dry_run)

    def _add_rules(self, token: str, items: object, dry_run: bool) -> tuple[int, dict]:
        if not isinstance(items, list) or not items or not all(map(_rule_shaped, items)):
            raise _invalid("JSON doesn't match expected schema", "add")
        meta: dict = {"sent": self._sent()}
        invalid = [
            {
                "value": item["value"],
                "details": problems,
                "title": "UnprocessableEntity",
                "type": f"{_PROBLEMS}/invalid-rules",
            }
            for item in items
            if (problems := _rule_problems(item["value"]))
        ]
        if invalid:  # X creates nothing from a batch holding an invalid rule
            meta["summary"] = {
                "created": 0,
                "not_created": len(items),
                "valid": len(items) - len(invalid),
                "invalid": len(invalid),
            }
            return 200, {"meta": meta, "errors": invalid}
        created: list[StreamRule] = []
        duplicates: list[dict] = []
        with self._rules_lock:
            rules = self._rules.setdefault(token, {})
            by_value = {r.value: r for r in rules.values()}
            for item in items:
                if item["value"] in by_value:
                    duplicates.append(
                        {
                            "value": item["value"],
                            "id": by_value[item["value"]].id,
                            "title": "DuplicateRule",
                            "type": f"{_PROBLEMS}/duplicate-rules",
                        }
                    )
                    continue
                self._rule_seq += 1
                rule = StreamRule(
                    str(snowflake(self.now_ms(), self._rule_seq)),
                    item["value"],
                    item.get("tag"),
                    parse(item["value"]),
                )
                by_value[rule.value] = rule
                created.append(rule)
            if not dry_run:
                rules.update((r.id, r) for r in created)
        meta["summary"] = {
            "created": len(created),
            "not_created": len(duplicates),
            "valid": len(created),
            "invalid": len(duplicates),
        }
        body: dict = {"meta": meta}
        if created:
            body["data"] = [r.as_json() for r in created]
        if duplicates:
            body["errors"] = duplicates
        return (200 if dry_run else 201), body

    def _delete_rules(self, token: str, spec: object, dry_run: bool) -> tuple[int, dict]:
        ids = spec.get("ids") if isinstance(spec, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _invalid("JSON doesn't match expected schema", "delete")
        with self._rules_lock:
            rules = self._rules.setdefault(token, {})
            missing = [i for i in ids if i not in rules]
            deleted = [i for i in dict.fromkeys(ids) if i in rules]
            if not dry_run:
                for rule_id in deleted:
                    del rules[rule_id]
        summary = {"deleted": len(deleted), "not_deleted": len(missing)}
        body: dict = {"meta": {"sent": self._sent(), "summary": summary}}
        if missing:
            body["errors"] = [
                {
                    "errors": [
                        {"parameters": {"ids": [i]}, "message": "Rule does not exist"}
                        for i in missing
                    ],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": f"{_PROBLEMS}/invalid-request",
                }
            ]
        return 200, body

    # -- filtered stream: the connection ----------------------------------------------------
    def stream_connected(self, token: str) -> bool:
        """Whether the app with bearer `token` holds an open stream connection."""
        with self._connections_lock:
            return token in self._connections

    def _connect(
        self,
        handler: SandboxHandler,
        token: str,
        params: dict[str, str],
        headers: dict[str, str],
    ) -> Streamed:
        fields = _tweet_fields(params)
        if self.faults.draw(self.faults.config.stream_connect_429_rate):
            self.count("fault:stream_connect_429")
            raise HTTPError(429, self.rate_limit_answer(1).body, headers)
        sock = handler.connection
        with self._connections_lock:
            held = self._connections.get(token)
            if held is not None and not _peer_gone(held):
                raise HTTPError(429, _TOO_MANY_CONNECTIONS, headers)
            self._connections[token] = sock
        self.count("stream:connections")
        first = self.stream.released(self.now_ms())  # posts released from now on only
        return Streamed(lambda h: self._run_stream(h, token, fields, first))

    def _run_stream(
        self, handler: SandboxHandler, token: str, fields: set[str], next_k: int
    ) -> None:
        """Send the matching posts from post `next_k` on as they are released, and keep-alives,
        until the client goes."""
        sock = handler.connection
        try:
            sent = 0
            last_write = time.monotonic()
            while not self._stopping.is_set():
                released = self.stream.released(self.now_ms())
                while next_k < released:
                    post = self.stream.post(next_k)
                    next_k += 1
                    matching = [r for r in self.rules_of(token) if post_matches(r.query, post)]
                    if not matching:
                        continue
                    line = {
                        "data": post.as_json(fields),
                        "matching_rules": [{"id": r.id, "tag": r.tag or ""} for r in matching],
                    }
                    handler.write_chunk(json.dumps(line, separators=(",", ":")).encode() + b"\r\n")
                    last_write = time.monotonic()
                    sent += 1
                    self.count("stream:posts")
                    config = self.faults.config
                    if config.stream_drop_every and sent % config.stream_drop_every == 0:
                        self.count("fault:stream_drop")
                        sock.shutdown(socket.SHUT_RDWR)
                        raise ConnectionAbortedError("stream connection dropped on purpose")
                    if config.stream_stall_every and sent % config.stream_stall_every == 0:
                        self.count("fault:stream_stall")
                        if self._idle(sock, config.stream_stall_seconds):
                            return
                        last_write = time.monotonic()
                        break  # the posts released meanwhile go out now, late
                if time.monotonic() - last_write >= self.keep_alive_seconds:
                    handler.write_chunk(b"\r\n")
                    last_write = time.monotonic()
                    self.count("stream:keep_alives")
                until_post = (self.stream.time_of(next_k) - self.now_ms()) / 1000
                until_keep_alive = self.keep_alive_seconds - (time.monotonic() - last_write)
                if self._idle(sock, max(0.0, min(until_post, until_keep_alive, _POLL_SECONDS))):
                    return
        finally:
            with self._connections_lock:
                if self._connections.get(token) is sock:
                    del self._connections[token]

    def _idle(self, sock: socket.socket, seconds: float) -> bool:
        """Send nothing for `seconds`; True as soon as the client is gone or the server stops."""
        deadline = time.monotonic() + seconds
        while not (self._stopping.is_set() or _peer_gone(sock)):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                select.select([sock], [], [], min(left, 0.25))
            except (OSError, ValueError):
                return True
        return True


def _rule_shaped(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("value"), str)
        and isinstance(item.get("tag", ""), str)
    )
