"""Client-side pacing shared by every thread that calls one API."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class CallPacer:
    """At most `limit` calls in any `window` seconds, plus pauses the server asks for.

    `wait()` blocks until a call may go out; `pause(seconds)` holds every caller back, e.g.
    after a 429 with `Retry-After`, so that concurrent workers do not hammer the server.
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limit, self.window = limit, window
        self.clock, self.sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until a call may be made; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._calls and self._calls[0] <= now - self.window:
                    self._calls.popleft()
                delay = self._paused_until - now
                if self.limit > 0 and len(self._calls) >= self.limit:
                    delay = max(delay, self._calls[0] + self.window - now)
                if delay <= 0:
                    self._calls.append(now)
                    return waited
            self.sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)
