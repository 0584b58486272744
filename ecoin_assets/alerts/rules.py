"""Alert rules: a topic, a condition on one of its signals over a trailing window, a cooldown and
a webhook; stored in `alert_rules` (a removed rule keeps its row and its history)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from ecoin_assets.errors import InvalidInputError, NotFoundError, Remedy
from ecoin_assets.sentiment.drift import DRIFT_SIGNALS
from ecoin_assets.storage import Connection, Database

SIGNALS = (
    "volume",
    "volume_z",
    "authors",
    "dominance",
    "sentiment",
    "engaged_sentiment",
    "sentiment_z",
    *DRIFT_SIGNALS,  # against the active model's reference (ecoin_assets/sentiment/drift.py)
)
OPERATORS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
_EXPR = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*$")
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$")
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440}
ENV_PREFIX = "env:"  # a webhook given as env:NAME is read from the environment when sent


@dataclass(frozen=True)
class Rule:
    name: str
    topic: str
    signal: str
    op: str
    threshold: float
    window_minutes: int
    cooldown_minutes: int
    webhook: str
    created_at: datetime | None = None
    removed_at: datetime | None = None

    @property
    def condition(self) -> str:
        return f"{self.signal} {self.op} {self.threshold:g}"

    def holds(self, value: float | None) -> bool:
        return value is not None and OPERATORS[self.op](value, self.threshold)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "topic": self.topic,
            "when": self.condition,
            "window_minutes": self.window_minutes,
            "cooldown_minutes": self.cooldown_minutes,
            "webhook": redact_url(self.webhook),
            "created_at": _iso(self.created_at),
            "removed_at": _iso(self.removed_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def parse_condition(expr: str) -> tuple[str, str, float]:
    """`signal op number`, e.g. `volume_z > 3`."""
    match = _EXPR.match(expr or "")
    if not match:
        raise InvalidInputError(
            f"--when {expr!r} is not SIGNAL OP NUMBER, e.g. 'volume_z > 3' or 'sentiment < -0.3'"
        )
    signal, op, number = match.groups()
    if signal not in SIGNALS:
        raise InvalidInputError(
            f"unknown signal {signal!r} in --when: use one of {', '.join(SIGNALS)}"
        )
    return signal, op, float(number)


def parse_minutes(text: str, what: str) -> int:
    """`15m`, `1h` or `2d` as minutes (at least one)."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise InvalidInputError(f"{what} {text!r} is not a duration such as 15m, 1h or 1d")
    minutes = int(match.group(1)) * _UNIT_MINUTES[match.group(2)]
    if minutes > 7 * 1440:
        raise InvalidInputError(f"{what} {text!r} is longer than 7 days")
    return minutes


def check_webhook(url: str) -> str:
    url = (url or "").strip()
    if url.startswith(ENV_PREFIX):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", url[len(ENV_PREFIX) :]):
            raise InvalidInputError(f"--webhook {url!r}: env: takes a variable name")
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"--webhook {redact_url(url)!r} is not an http(s) URL (or env:VARIABLE)"
        )
    return url


def redact_url(url: str) -> str:
    """A webhook URL fit for logs and listings: scheme, host and the first path segment; the
    credentials, the rest of the path (Slack's and Discord's tokens live there) and the query
    are masked."""
    if url.startswith(ENV_PREFIX):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + segments[0] + ("/***" if len(segments) > 1 else "") if segments else ""
    userinfo = "***@" if parts.username or parts.password else ""
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, userinfo + host + port, path, query, ""))


def add_rule(
    db: Database,
    name: str,
    topic: str,
    when: str,
    window: str,
    cooldown: str,
    webhook: str,
    topics: Sequence[str],
) -> Rule:
    """Store a rule on one of `topics` (the tracked ones), checked before anything changes."""
    name = (name or "").strip()
    if not name or len(name) > 64 or "," in name:
        raise InvalidInputError("the alert name must be 1-64 characters without commas")
    if topic not in topics:
        raise NotFoundError(
            f"unknown topic {topic!r}: alerts watch tracked topics ({', '.join(topics) or 'none'})"
        )
    signal, op, threshold = parse_condition(when)
    rule = Rule(
        name,
        topic,
        signal,
        op,
        threshold,
        parse_minutes(window, "--window"),
        parse_minutes(cooldown, "--cooldown"),
        check_webhook(webhook),
        datetime.now(UTC).replace(tzinfo=None, microsecond=0),
    )
    with db.write() as con:
        old = con.execute("SELECT removed_at FROM alert_rules WHERE name = ?", [name]).fetchone()
        if old is not None and old[0] is None:
            raise InvalidInputError(f"alert {name!r} already exists; remove it first to change it")
        con.execute("DELETE FROM alert_rules WHERE name = ?", [name])
        con.execute(
            "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [
                rule.name,
                rule.topic,
                rule.signal,
                rule.op,
                rule.threshold,
                rule.window_minutes,
                rule.cooldown_minutes,
                rule.webhook,
                rule.created_at,
            ],
        )
    return rule


def remove_rule(db: Database, name: str) -> Rule:
    with db.write() as con:
        found = [r for r in read_rules(con) if r.name == name]
        if not found:
            raise NotFoundError(f"no active alert named {name!r}", remedy=Remedy.LIST_ALERTS)
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        con.execute("UPDATE alert_rules SET removed_at = ? WHERE name = ?", [now, name])
    return found[0]


def read_rules(con: Connection, removed: bool = False) -> list[Rule]:
    rows = con.execute(
        "SELECT name, topic, signal, op, threshold, window_minutes, cooldown_minutes, webhook, "
        "created_at, removed_at FROM alert_rules ORDER BY created_at, name"
    ).fetchall()
    return [Rule(*r) for r in rows if removed or r[-1] is None]
