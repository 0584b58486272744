"""`ecoin alerts`: conditions on topic signals, watched continuously, sent to webhooks."""

from __future__ import annotations

import click

from ecoin_assets.cli.common import database, json_option, print_json, settings


@click.group()
def alerts() -> None:
    """Alerts on a topic's signals (volume, volume_z, authors, dominance, sentiment,
    engaged_sentiment, sentiment_z, and the model's drift and low_confidence share) over a
    trailing window, POSTed as JSON to a webhook
    (Slack-compatible: it has a `text` field). 'ecoin alerts watch' evaluates them every few
    seconds ('make demo' runs it); run one watcher per database.
    """


@alerts.command("add")
@click.argument("name")
@click.option("--topic", required=True, help="A tracked topic ('ecoin topics list').")
@click.option("--when", "when", required=True, help="SIGNAL OP NUMBER, e.g. 'volume_z > 3'.")
@click.option("--window", default="15m", show_default=True, help="Trailing window: 15m, 1h, 1d.")
@click.option("--cooldown", default="1h", show_default=True, help="Quiet time after a firing.")
@click.option(
    "--webhook",
    required=True,
    help="URL to POST to, or env:NAME to read it from the environment when sending (then it "
    "is never stored). Shown and logged redacted.",
)
@json_option
def add(
    name: str, topic: str, when: str, window: str, cooldown: str, webhook: str, as_json: bool
) -> None:
    """Add the alert NAME."""
    from ecoin_assets.alerts.rules import add_rule
    from ecoin_assets.tweets.topics import active_topics, seeds

    db = database()
    topics = list(active_topics(db, seeds(settings())))
    rule = add_rule(db, name, topic, when, window, cooldown, webhook, topics)
    if as_json:
        print_json(rule.as_json())
    else:
        click.echo(
            f"added alert {rule.name!r}: {rule.topic} {rule.condition} over "
            f"{rule.window_minutes} min, cooldown {rule.cooldown_minutes} min"
        )


@alerts.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Stop the alert NAME (its history stays)."""
    from ecoin_assets.alerts.rules import remove_rule

    click.echo(f"removed alert {remove_rule(database(), name).name!r}")


@alerts.command("list")
@click.option("--all", "everything", is_flag=True, help="Include removed alerts.")
@json_option
def list_(everything: bool, as_json: bool) -> None:
    """The alerts (webhooks redacted)."""
    from ecoin_assets.alerts.rules import read_rules

    db = database()
    rules = []
    if db.exists():
        with db.read() as con:
            rules = read_rules(con, removed=everything)
    if as_json:
        print_json([r.as_json() for r in rules])
        return
    if not rules:
        click.echo("no alerts: add one with 'ecoin alerts add NAME --topic T --when EXPR ...'")
    for r in rules:
        state = f"  (removed {r.removed_at:%Y-%m-%d %H:%M})" if r.removed_at else ""
        click.echo(
            f"{r.name}: {r.topic} {r.condition} over {r.window_minutes} min, cooldown "
            f"{r.cooldown_minutes} min -> {r.as_json()['webhook']}{state}"
        )


@alerts.command("history")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def history(limit: int, as_json: bool) -> None:
    """The latest firings, newest first, with their delivery."""
    db = database()
    rows: list = []
    columns = ["alert_id", "rule", "topic", "signal", "value", "condition", "fired_at"]
    columns += ["text", "attempts", "delivered_at", "last_error"]
    if db.exists():
        with db.read() as con:
            rows = con.execute(
                f"SELECT {', '.join(columns)} FROM alerts ORDER BY fired_at DESC, alert_id LIMIT ?",
                [limit],
            ).fetchall()
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    if as_json:
        print_json(records)
        return
    if not records:
        click.echo("no alert has fired")
    for r in records:
        state = (
            f"delivered {r['delivered_at']:%H:%M:%S}"
            if r["delivered_at"]
            else f"not delivered after {r['attempts']} attempt(s): {r['last_error']}"
        )
        click.echo(f"{r['fired_at']:%Y-%m-%d %H:%M} {r['text']} [{state}]")


@alerts.command("watch")
@click.option("--every", default=5.0, show_default=True, type=click.FloatRange(0.5))
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS")
@json_option
def watch_(every: float, duration: float | None, as_json: bool) -> None:
    """Evaluate the alerts every few seconds and deliver what fires (until Ctrl-C)."""
    import signal
    import threading

    from ecoin_assets.alerts.watch import watch
    from ecoin_assets.sentiment.drift import reference
    from ecoin_assets.sentiment.registry import active_version

    cfg = settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def report(firings, sent) -> None:
        for firing in firings:
            click.echo(f"fired: {firing.text}", err=True)
        if sent:
            click.echo(f"delivered {sent} alert(s)", err=True)

    fired, delivered = watch(
        database(),
        lambda: active_version(cfg.home),
        every,
        duration,
        stop,
        report,
        reference=lambda version: reference(cfg.home, version),
    )
    if as_json:
        print_json({"fired": fired, "delivered": delivered})
    else:
        click.echo(f"{fired} alert(s) fired, {delivered} delivered")
