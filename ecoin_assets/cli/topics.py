"""`ecoin topics`: the tracked topics, changed while everything runs."""

from __future__ import annotations

import click

from ecoin_assets.cli.common import database, json_option, print_json, settings


@click.group()
def topics() -> None:
    """The topics followed on X, stored in the database (ECOIN_TOPICS only seeds them).

    A running stream service follows a change within seconds (its stream rules too), and so do
    the dashboard and Dagster's per-topic partitions. Removing a topic stops its collection
    and keeps its history.
    """


@topics.command("add")
@click.argument("name")
@click.option(
    "--query",
    "-q",
    help="X search query of the topic, in X's syntax, at most 512 characters "
    "(e.g. '(bitcoin OR btc) -airdrop'; default: NAME).",
)
@click.option("--coin", help="Coin id the topic is about, for the sentiment-price correlation.")
@json_option
def add(name: str, query: str | None, coin: str | None, as_json: bool) -> None:
    """Follow a new topic NAME (or follow a removed one again)."""
    from ecoin_assets.tweets.topics import add_topic, seeds

    cfg = settings()
    topic = add_topic(database(), name, query, coin, seeded=seeds(cfg), known_coins=cfg.coins)
    if as_json:
        print_json(topic.as_json())
    else:
        about = f", about {topic.coin}" if topic.coin else ""
        click.echo(f"added topic {topic.name!r}: {topic.query}{about}")


@topics.command("remove")
@click.argument("name")
@json_option
def remove(name: str, as_json: bool) -> None:
    """Stop following topic NAME; its posts and figures stay."""
    from ecoin_assets.tweets.topics import remove_topic, seeds

    topic = remove_topic(database(), name, seeded=seeds(settings()))
    if as_json:
        print_json(topic.as_json())
    else:
        click.echo(f"removed topic {topic.name!r}; its history is kept")


@topics.command("list")
@click.option("--all", "everything", is_flag=True, help="Include removed topics.")
@json_option
def list_(everything: bool, as_json: bool) -> None:
    """The topics followed (name, query, coin)."""
    from ecoin_assets.tweets.topics import list_topics, seeds

    found = list_topics(database(), seeds(settings()), removed=everything)
    if as_json:
        print_json([t.as_json() for t in found])
        return
    if not found:
        click.echo("no topics: add one with 'ecoin topics add NAME --query Q'")
    for t in found:
        state = "" if t.active else f"  (removed {t.removed_at:%Y-%m-%d %H:%M})"
        coin = f"  [{t.coin}]" if t.coin else ""
        click.echo(f"{t.name}: {t.query}{coin}{state}")
