"""The tracked topics: a name, an X query and an optional coin, stored in the `topics` table.

`ECOIN_TOPICS` only seeds the table: until the first change (`ecoin topics add|remove`) the
topics are the seeds (each named by its query, linked to the coin of the same id), and the
first change writes them down with it. Removing a topic marks it removed: collection stops and
its posts, links and figures stay. Readers never write, so the dashboard and the services can
list topics from a read-only connection.

Everything that follows topics (the stream service, `tweets ingest`, Dagster's x_posts, its
sensor, the per-topic partitions and the correlation) reads `active_topics`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from ecoin_assets.config import Settings
from ecoin_assets.errors import NotFoundError, Remedy, UserError
from ecoin_assets.sources.x_query import QueryError, parse
from ecoin_assets.storage import Connection, Database

MAX_NAME_LENGTH = 64
_BAD_NAME = re.compile(r"[,\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Topic:
    name: str
    query: str
    coin: str | None = None
    added_at: datetime | None = None
    removed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.removed_at is None

    def as_json(self) -> dict:
        out = asdict(self)
        for key in ("added_at", "removed_at"):
            out[key] = out[key].isoformat() + "Z" if out[key] else None
        out["active"] = self.active
        return out


def seeds(settings: Settings) -> list[Topic]:
    """The topics `ECOIN_TOPICS` names: each named by its query, with its coin if it is one."""
    return [Topic(t, t, t if t in settings.coins else None) for t in settings.topics]


def as_queries(topics: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    """`topics` as name -> query; a bare list names each topic by its query."""
    if isinstance(topics, Mapping):
        return {n.strip(): q.strip() for n, q in topics.items() if n.strip() and q.strip()}
    return {t.strip(): t.strip() for t in topics if t.strip()}


def list_topics(db: Database, seeded: Sequence[Topic], *, removed: bool = False) -> list[Topic]:
    """The stored topics (the seeds while none is stored), oldest first; `removed` includes
    the removed ones."""
    rows = _stored(db)
    topics = rows if rows else list(seeded)
    return [t for t in topics if removed or t.active]


def active_topics(db: Database, seeded: Sequence[Topic]) -> dict[str, str]:
    """name -> query of the topics being collected."""
    return {t.name: t.query for t in list_topics(db, seeded)}


def topic_coins(db: Database, seeded: Sequence[Topic]) -> dict[str, str]:
    """name -> coin id of the active topics linked to a coin."""
    return {t.name: t.coin for t in list_topics(db, seeded) if t.coin}


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError("the topic name is empty: give a short name such as 'btc-news'")
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(f"the topic name is {len(name)} characters; at most {MAX_NAME_LENGTH}")
    if _BAD_NAME.search(name):
        raise UserError(f"the topic name {name!r} has a comma or a control character")
    return name


def check_query(name: str, query: str) -> str:
    try:
        return parse(query).text
    except QueryError as exc:
        raise UserError(f"invalid X query for topic {name!r}: {exc}") from None


def add_topic(
    db: Database,
    name: str,
    query: str | None = None,
    coin: str | None = None,
    *,
    seeded: Sequence[Topic],
    known_coins: Iterable[str],
) -> Topic:
    """Store a new topic (or bring back a removed one), checked before anything changes."""
    name = check_name(name)
    query = check_query(name, query if query is not None else name)
    coin = (coin or "").strip() or None
    if coin is not None and coin not in set(known_coins) and not _has_prices(db, coin):
        raise NotFoundError(
            f"unknown coin {coin!r}: it is not in ECOIN_COINS and has no stored prices",
            remedy=Remedy.FETCH_PRICES,
            coin=coin,
        )
    now = _now()
    with db.write() as con:
        stored = _seed_if_empty(con, seeded, now)
        old = stored.get(name)
        if old is not None and old.active:
            raise UserError(
                f"topic {name!r} already exists (query {old.query!r}); remove it first to change it"
            )
        same = [t.name for t in stored.values() if t.active and t.query == query]
        if same:  # X refuses two stream rules with one value
            raise UserError(f"topic {same[0]!r} already follows the query {query!r}")
        if old is not None:
            con.execute("DELETE FROM topics WHERE name = ?", [name])
            if old.query != query:  # its cursor belongs to another query
                con.execute("DELETE FROM topic_cursors WHERE topic = ?", [name])
        topic = Topic(name, query, coin, now)
        con.execute(
            "INSERT INTO topics (name, query, coin_id, added_at, removed_at) "
            "VALUES (?, ?, ?, ?, NULL)",
            [name, query, coin, now],
        )
    return topic


def remove_topic(db: Database, name: str, *, seeded: Sequence[Topic]) -> Topic:
    """Stop collecting `name`; its history stays."""
    name = (name or "").strip()
    now = _now()
    with db.write() as con:
        stored = _seed_if_empty(con, seeded, now)
        old = stored.get(name)
        if old is None or not old.active:
            active = ", ".join(t.name for t in stored.values() if t.active) or "none"
            raise UserError(f"no active topic named {name!r} (active: {active})")
        con.execute("UPDATE topics SET removed_at = ? WHERE name = ?", [now, name])
    return Topic(old.name, old.query, old.coin, old.added_at, now)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def stored_topics(con: Connection) -> list[Topic]:
    """The topics stored in the database behind `con`, removed ones included, oldest first
    (none in a database from before topics were stored)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'topics'"
    ).fetchone()
    return list(_rows(con).values()) if exists and exists[0] else []


def _rows(con: Connection) -> dict[str, Topic]:
    rows = con.execute(
        "SELECT name, query, coin_id, added_at, removed_at FROM topics ORDER BY added_at, name"
    ).fetchall()
    return {r[0]: Topic(*r) for r in rows}


def _stored(db: Database) -> list[Topic]:
    if not db.exists():
        return []
    with db.read() as con:
        return stored_topics(con)


def _seed_if_empty(con: Connection, seeded: Sequence[Topic], now: datetime) -> dict[str, Topic]:
    stored = _rows(con)
    if stored:
        return stored
    for topic in seeded:
        con.execute(
            "INSERT INTO topics (name, query, coin_id, added_at, removed_at) "
            "VALUES (?, ?, ?, ?, NULL)",
            [topic.name, topic.query, topic.coin, now],
        )
    return _rows(con)


def _has_prices(db: Database, coin: str) -> bool:
    if not db.exists():
        return False
    return bool(db.query("SELECT count(*) FROM prices WHERE coin_id = ?", [coin])[0][0])
