"""Evaluate the alert rules every few seconds, store each firing once, deliver it to its webhook.

A rule fires when its condition holds for the trailing window ending now and it has not fired
within its cooldown. A firing's id is the rule and the minute it fired in, written with an
insert that skips known ids, so it is stored once even if two evaluations race. Delivery is a
JSON POST (Slack-compatible: a `text` field, plus the figures) with an `Idempotency-Key`
header; a failed POST is retried with backoff (1 s, then 2 s within a round, then at later
rounds, up to MAX_ATTEMPTS), and a firing is marked delivered as soon as a POST succeeds, so
it is not sent again. (A process killed between a successful POST and that mark would send it
once more at restart: receivers can drop the repeat by its key.) Webhook URLs are only ever
logged redacted; `env:NAME` webhooks are read from the environment when sent, never stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import requests

from ecoin_assets.alerts.rules import ENV_PREFIX, Rule, read_rules, redact_url
from ecoin_assets.config import environment_value
from ecoin_assets.sentiment.drift import DRIFT_SIGNALS, Reference, window_drift
from ecoin_assets.signals.series import window_signals
from ecoin_assets.storage import Connection, Database
from ecoin_assets.storage.rows import insert_new_rows

MAX_ATTEMPTS = 8
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Firing:
    alert_id: str
    rule: str
    topic: str
    signal: str
    value: float
    condition: str
    window_start: datetime
    window_end: datetime
    fired_at: datetime
    text: str

    def payload(self) -> dict:
        out = asdict(self)
        for key in ("window_start", "window_end", "fired_at"):
            out[key] = out[key].isoformat() + "Z"
        return out


HISTORY_COLUMNS = [
    "alert_id",
    "rule",
    "topic",
    "signal",
    "value",
    "condition",
    "fired_at",
    "text",
    "attempts",
    "delivered_at",
    "last_error",
]


def alert_history(
    con: Connection, start: datetime, end: datetime, topic: str | None = None
) -> pd.DataFrame:
    """The firings in [start, end), newest first."""
    return con.execute(
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM alerts WHERE fired_at >= ? AND fired_at < ? "
        "AND topic = coalesce(?, topic) ORDER BY fired_at DESC, alert_id",
        [start, end, topic],
    ).df()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def evaluate(
    db: Database,
    version: str,
    now: datetime | None = None,
    reference: Callable[[str], Reference] | None = None,
) -> list[Firing]:
    """Fire every active rule whose condition holds now and whose cooldown has passed.
    `reference` gives a model version's drift reference (rules on `drift`, `low_confidence`);
    without it those signals have no value and never fire."""
    now = now or _now()
    if not db.exists():
        return []
    with db.read() as con:
        rules = read_rules(con)
        last = dict(con.execute("SELECT rule, max(fired_at) FROM alerts GROUP BY rule").fetchall())
        firings = []
        for rule in rules:
            previous = last.get(rule.name)
            if previous is not None and now < previous + timedelta(minutes=rule.cooldown_minutes):
                continue
            values = window_signals(con, rule.topic, version, now, rule.window_minutes)
            if rule.signal in DRIFT_SIGNALS and reference is not None:
                start = now - timedelta(minutes=rule.window_minutes)
                values |= window_drift(con, rule.topic, reference(version), start, now)
            value = values.get(rule.signal)
            if rule.holds(value):
                firings.append(_firing(rule, float(value), now))
    if firings:
        with db.write() as con:
            rows = [
                (*(getattr(f, k) for k in Firing.__dataclass_fields__), 0, None, None)
                for f in firings
            ]
            insert_new_rows(con, "alerts", rows)
        for firing in firings:
            log.info("alert %s fired: %s", firing.rule, firing.text)
    return firings


def _firing(rule: Rule, value: float, now: datetime) -> Firing:
    start = now - timedelta(minutes=rule.window_minutes)
    text = (
        f"ecoin alert '{rule.name}': {rule.topic} {rule.signal} is {value:.3g} "
        f"({rule.condition}) over the {rule.window_minutes} min to {now:%Y-%m-%d %H:%M} UTC"
    )
    return Firing(
        f"{rule.name}@{now:%Y-%m-%dT%H:%M}",
        rule.name,
        rule.topic,
        rule.signal,
        round(value, 6),
        rule.condition,
        start,
        now,
        now,
        text,
    )


def deliver_pending(
    db: Database,
    post: Callable[..., requests.Response] = requests.post,
    sleep: Callable[[float], None] = time.sleep,
    tries: int = 3,
) -> int:
    """POST every undelivered firing (up to `tries` times each now); the number delivered."""
    if not db.exists():
        return 0
    with db.read() as con:
        webhooks = {r.name: r.webhook for r in read_rules(con, removed=True)}
        pending = con.execute(
            "SELECT alert_id, rule, topic, signal, value, condition, window_start, window_end, "
            "fired_at, text, attempts FROM alerts WHERE delivered_at IS NULL AND attempts < ? "
            "ORDER BY fired_at",
            [MAX_ATTEMPTS],
        ).fetchall()
    delivered = 0
    for row in pending:
        firing, attempts = Firing(*row[:10]), row[10]
        webhook = webhooks.get(firing.rule, "")
        ok, error, used = False, "", 0
        for k in range(min(tries, MAX_ATTEMPTS - attempts)):
            used += 1
            ok, error = _post(post, webhook, firing)
            if ok:
                break
            if k + 1 < tries:
                sleep(2.0**k)
        with db.write() as con:
            con.execute(
                "UPDATE alerts SET attempts = attempts + ?, delivered_at = ?, last_error = ? "
                "WHERE alert_id = ?",
                [used, _now() if ok else None, None if ok else error, firing.alert_id],
            )
        delivered += ok
        if not ok:
            where = redact_url(webhook)
            log.warning("alert %s not delivered to %s: %s", firing.alert_id, where, error)
    return delivered


def _post(post: Callable[..., requests.Response], webhook: str, firing: Firing) -> tuple[bool, str]:
    url = webhook
    if webhook.startswith(ENV_PREFIX):
        url = environment_value(webhook[len(ENV_PREFIX) :])
        if not url:
            return False, f"{webhook[len(ENV_PREFIX) :]} is not set in the environment"
    try:
        answer = post(
            url, json=firing.payload(), headers={"Idempotency-Key": firing.alert_id}, timeout=10
        )
    except requests.RequestException as exc:
        return False, f"no answer ({type(exc).__name__})"
    if 200 <= answer.status_code < 300:
        return True, ""
    return False, f"HTTP {answer.status_code}"


def watch(
    db: Database,
    version: Callable[[], str],
    every: float = 5.0,
    duration: float | None = None,
    stop: threading.Event | None = None,
    on_round: Callable[[list[Firing], int], None] | None = None,
    reference: Callable[[str], Reference] | None = None,
) -> tuple[int, int]:
    """Evaluate and deliver every `every` seconds until `stop` (or `duration`): (fired,
    delivered)."""
    stop = stop or threading.Event()
    deadline = None if duration is None else time.monotonic() + duration
    fired = delivered = 0
    while True:
        firings = evaluate(db, version(), reference=reference)
        sent = deliver_pending(db)
        fired, delivered = fired + len(firings), delivered + sent
        if on_round is not None:
            on_round(firings, sent)
        wait = every if deadline is None else min(every, deadline - time.monotonic())
        if wait <= 0 or stop.wait(wait):
            return fired, delivered
