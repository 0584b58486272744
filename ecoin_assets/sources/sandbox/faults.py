"""Fault injection shared by the sandbox servers: the misbehaviour real APIs show.

Faults come from two places: rates (each request draws from a seeded RNG) and a script (a
queue of faults applied, in order, to the next requests). Tests use the script for exact
scenarios and the rates for soak runs. The `stream_*` switches act on the X sandbox's filtered
stream only: they drop or stall an open stream connection every N posts it has sent and refuse a
share of connection attempts with 429.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field

FAULT_KINDS = ("500", "502", "503", "429", "malformed", "truncated", "slow", "drop")


@dataclass
class FaultConfig:
    error_rate: float = 0.0  # share of requests answered 5xx
    throttle_rate: float = 0.0  # share answered 429 regardless of the real limit
    malformed_rate: float = 0.0  # share answered 200 with a broken body
    slow_rate: float = 0.0  # share answered after `slow_seconds`
    slow_seconds: float = 2.0
    drop_rate: float = 0.0  # share whose connection is closed without an answer
    seed: int = 0
    script: list[str] = field(default_factory=list)
    stream_drop_every: int = 0  # close a stream connection after every N posts sent (0: never)
    stream_stall_every: int = 0  # go silent, keep-alives too, after every N posts sent (0: never)
    stream_stall_seconds: float = 60.0  # how long such a stall lasts
    stream_connect_429_rate: float = 0.0  # share of stream connection attempts answered 429

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "throttle_rate",
            "malformed_rate",
            "slow_rate",
            "drop_rate",
            "stream_connect_429_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        for name in ("slow_seconds", "stream_stall_seconds"):
            value = getattr(self, name)
            if not 0.0 <= value <= 600:
                raise ValueError(f"{name} must be between 0 and 600, not {value}")
        for name in ("stream_drop_every", "stream_stall_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
        bad = [k for k in self.script if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kinds {bad}; choose from {', '.join(FAULT_KINDS)}")


class FaultInjector:
    """Thread-safe source of the fault (or None) for each incoming request."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._script = list(config.script)

    def as_dict(self) -> dict:
        with self._lock:
            return asdict(self.config) | {"script_left": list(self._script)}

    def draw(self, rate: float) -> bool:
        """True with probability `rate` (from the seeded RNG)."""
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def next_fault(self) -> str | None:
        with self._lock:
            if self._script:
                return self._script.pop(0)
            c, r = self.config, self._rng.random()
            for kind, rate in (
                ("drop", c.drop_rate),
                (self._rng.choice(("500", "502", "503")), c.error_rate),
                ("429", c.throttle_rate),
                (self._rng.choice(("malformed", "truncated")), c.malformed_rate),
                ("slow", c.slow_rate),
            ):
                if r < rate:
                    return kind
                r -= rate
            return None
