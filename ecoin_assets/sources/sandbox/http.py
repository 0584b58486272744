"""A small threaded JSON HTTP server base for the sandbox APIs (standard library only).

Subclasses route `GET` requests (and `POST` ones, through `route_post`); this base adds fault
injection, a sliding-window rate limiter, call statistics, long-lived chunked answers
(`Streamed`) and the `/_sandbox/*` control endpoints (`stats`, `faults`, `reset`, and `webhook`,
which records what is POSTed to it and lists it on GET) that tests and
operators use.
"""

from __future__ import annotations

import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ecoin_assets.sources.sandbox.faults import FaultConfig, FaultInjector


class HTTPError(Exception):
    def __init__(self, status: int, body: object, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass(frozen=True)
class Streamed:
    """A long-lived answer sent in HTTP chunks: `run(handler)` writes them with
    `handler.write_chunk` until the stream ends; it raises OSError to end it without the
    closing chunk (a dropped connection)."""

    run: Callable[[SandboxHandler], None]


class RateLimiter:
    """At most `limit` calls per `window` seconds per client key."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit, self.window, self.clock = limit, window, clock
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Record a call and return 0, or return the seconds to wait (call not recorded)."""
        if self.limit <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            calls = self._calls[key]
            while calls and calls[0] <= now - self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                return calls[0] + self.window - now
            calls.append(now)
            return 0.0

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


class SandboxServer(ThreadingHTTPServer, ABC):
    daemon_threads = True
    allow_reuse_address = True
    #: name used in logs and in the `stats` answer
    api_name = "sandbox"
    #: API paths that take `POST` (answered by `route_post`); others get 405
    post_paths: tuple[str, ...] = ()

    def __init__(
        self,
        address: tuple[str, int],
        rate_limit: int,
        faults: FaultConfig | None,
        quiet: bool = True,
    ):
        self.limiter = RateLimiter(rate_limit)
        self.faults = FaultInjector(faults)
        self.quiet = quiet
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        # what was POSTed to /_sandbox/webhook (a stand-in for Slack in the demo), newest last
        self.webhook_calls: deque[dict] = deque(maxlen=200)
        super().__init__(address, SandboxHandler)

    @abstractmethod
    def route(
        self, handler: SandboxHandler, path: str, query: dict[str, str]
    ) -> tuple[int, object, dict[str, str]]:
        """Answer one API request: (status, JSON body, headers); raise HTTPError to refuse."""

    def route_post(
        self, handler: SandboxHandler, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, object, dict[str, str]]:
        """Answer one `POST` to a path of `post_paths` (`body`: the raw request body)."""
        raise HTTPError(405, {"error": "method not allowed"})

    def endpoint_name(self, path: str) -> str:
        """The name a path is counted under in `stats`."""
        return path

    # -- overridable hooks ------------------------------------------------------------------
    def rate_limit_answer(self, retry_after: int) -> HTTPError:
        return HTTPError(429, {"error": "rate limited"}, {"Retry-After": str(retry_after)})

    def client_key(self, handler: SandboxHandler) -> str:
        return handler.client_address[0]

    def count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name=self.api_name, daemon=True)
        thread.start()
        return thread


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if not self.server.quiet:
            super().log_message(format, *args)

    # -- plumbing ---------------------------------------------------------------------------
    def send_json(
        self,
        status: int,
        body: object,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        payload = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def write_chunk(self, data: bytes) -> None:
        """Send one HTTP chunk of a `Streamed` answer (raises OSError once the client is gone)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_sandbox/"):
            return self._control(path)
        self._answer(path, lambda: self.server.route(self, path, self.query()))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_sandbox/"):
            return self._control(path)
        if path not in self.server.post_paths:
            return self.send_json(405, {"error": "method not allowed"})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._answer(path, lambda: self.server.route_post(self, path, self.query(), body))

    def _answer(self, path: str, route: Callable[[], tuple[int, object, dict[str, str]]]) -> None:
        try:
            fault = self.server.faults.next_fault()
            if fault and self._inject(fault):
                return
            wait = self.server.limiter.acquire(self.server.client_key(self))
            if wait > 0:
                raise self.server.rate_limit_answer(max(1, math.ceil(wait)))
            status, body, headers = route()
        except HTTPError as err:
            self.server.count(f"status:{err.status}")
            return self.send_json(err.status, err.body, err.headers)
        self.server.count(f"status:{status}")
        self.server.count(f"path:{self.server.endpoint_name(path)}")
        if isinstance(body, Streamed):
            return self._stream(status, body, headers, broken=fault in ("malformed", "truncated"))
        if fault == "malformed":
            return self.send_json(200, None, raw=b"<html><body>502 Bad Gateway</body></html>")
        if fault == "truncated":
            payload = json.dumps(body).encode()
            return self.send_json(200, None, raw=payload[: max(1, len(payload) // 2)])
        self.send_json(status, body, headers)

    def _stream(self, status: int, body: Streamed, headers: dict[str, str], broken: bool) -> None:
        """Send a chunked answer; a `malformed`/`truncated` fault starts it with a broken line."""
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if broken:
                self.write_chunk(b'{"data": {"id": "12\r\n')
            body.run(self)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away, or the stream dropped the connection
            pass

    def _inject(self, fault: str) -> bool:
        """Answer with the fault now; return False for faults applied to the real answer."""
        self.server.count(f"fault:{fault}")
        if fault == "slow":
            time.sleep(self.server.faults.config.slow_seconds)
            return False
        if fault in ("malformed", "truncated"):
            return False
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return True
        if fault == "429":
            err = self.server.rate_limit_answer(1)
            self.send_json(err.status, err.body, err.headers)
            return True
        status = int(fault)
        self.send_json(status, {"error": f"injected {status}"})
        return True

    def _control(self, path: str) -> None:
        name = path.removeprefix("/_sandbox/")
        if name == "stats" and self.command == "GET":
            with self.server._stats_lock:
                stats = dict(self.server.stats)
            return self.send_json(
                200,
                {
                    "api": self.server.api_name,
                    "calls": stats,
                    "faults": self.server.faults.as_dict(),
                },
            )
        if name == "faults" and self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                config = FaultConfig(**json.loads(self.rfile.read(length) or b"{}"))
            except (TypeError, ValueError) as err:
                return self.send_json(400, {"error": f"bad fault config: {err}"})
            self.server.faults.configure(config)
            return self.send_json(200, self.server.faults.as_dict())
        if name == "webhook" and self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return self.send_json(400, {"error": "the webhook takes JSON"})
            received = datetime.now(UTC).isoformat(timespec="seconds")
            with self.server._stats_lock:
                self.server.webhook_calls.append({"received_at": received, "body": body})
            return self.send_json(200, {"ok": True})
        if name == "webhook" and self.command == "GET":
            with self.server._stats_lock:
                calls = list(self.server.webhook_calls)
            return self.send_json(200, {"calls": calls})
        if name == "reset" and self.command == "POST":
            self.server.faults.configure(FaultConfig())
            self.server.limiter.reset()
            with self.server._stats_lock:
                self.server.stats.clear()
            return self.send_json(200, {"reset": True})
        self.send_json(404, {"error": f"unknown control endpoint {path}"})
