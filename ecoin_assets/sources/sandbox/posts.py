"""Deterministic simulated X posts about crypto topics, released over time.

Post k is released at `start + k * interval` and its content depends only on (seed, k), so any
server started with the same seed and start time serves the same posts. An optional *history*
before `start` holds posts at a lower rate, so a fresh server already has days of posts. Their
tone follows the market: the simulator's latent mood of the day and, more strongly, the move of
the post's coin over the hour before it (people post about pumps and dumps). They carry the
noise of real posts: links, @mentions, #hashtags, $cashtags, emoji, retweets, exact and near
duplicates, other languages and spam.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from ecoin_assets.sources.sandbox.market import COINS, MarketSimulator, simulator

TONE_WINDOW_MS = 3_600_000  # a post's tone follows its coin's move over the hour before it
_HOURLY_SCALE = 0.032 / math.sqrt(24)  # a typical hourly log-move of bitcoin

TWITTER_EPOCH_MS = 1_288_834_974_657
CACHE_SIZE = 50_000

_SYMBOL = {c.id: c.symbol.upper() for c in COINS}
_NAME = {c.id: c.name for c in COINS}

_POSITIVE = (
    "{name} looks incredibly strong today, adding more to my bags",
    "Just bought more {name}, this breakout is real",
    "{name} is going to the moon, so bullish right now",
    "Love how {name} holds up, best investment I made this year",
    "Huge green candle on {name}, great day for holders",
    "{name} adoption keeps growing, very optimistic about it",
)
_NEUTRAL = (
    "{name} trading sideways around the same level as yesterday",
    "What is everyone's take on {name} this week?",
    "{name} volume today is about average, nothing special",
    "Reading the latest {name} development update",
    "Moved some {name} to a hardware wallet this morning",
    "{name} price update for the last 24 hours",
)
_NEGATIVE = (
    "{name} is dumping hard, this is painful to watch",
    "Sold all my {name}, I am done with this scam market",
    "Terrible week for {name}, lost so much money",
    "{name} keeps crashing, fear everywhere right now",
    "Worst investment ever, {name} bleeding again",
    "{name} network issues again, really disappointing",
)
_FOREIGN = (
    ("es", "{name} está subiendo mucho hoy, qué bueno"),
    ("de", "{name} fällt heute wieder stark, schrecklich"),
    ("fr", "Le {name} monte encore aujourd'hui, génial"),
    ("pt", "O {name} caiu muito hoje, que tristeza"),
)
_SPAM = (
    "GIVEAWAY 🎁 {name} airdrop for the first 100, DM me to claim your free {sym}",
    "Join our Telegram group for guaranteed profit signals on {name} ${sym} 100x 🚀",
)
_EMOJI = {
    "positive": ("🚀", "💪", "😍", "🔥", "📈"),
    "neutral": ("🤔", "👀", "📊"),
    "negative": ("😭", "📉", "😡", "💀"),
}
_OPENERS = (
    "",
    "",
    "",
    "Honestly, ",
    "Ok so ",
    "Wow, ",
    "Update: ",
    "Not gonna lie, ",
    "Hmm, ",
    "Morning all! ",
    "Thread: ",
    "PSA: ",
)
_CLOSERS = (
    "",
    "",
    "",
    ".",
    "!",
    " lol",
    " imo",
    " tbh",
    ", thoughts?",
    " for real",
    " today",
    " this week",
    " again",
    ", we'll see",
)
_USERS = (
    "cryptofan",
    "whale_alert",
    "satoshi_n",
    "hodlqueen",
    "chartwizard",
    "defi_dan",
    "moonboy",
    "bearish_bob",
    "newsbot",
    "ledgerlady",
)


@dataclass(frozen=True)
class Post:
    id: str
    created_at: datetime
    text: str
    lang: str
    author_id: str
    topics: tuple[str, ...]  # coins the post is about
    kind: str  # original, retweet, duplicate, near_duplicate, foreign, spam
    mood: str  # positive, neutral, negative (the generator's intent, not a label)
    referenced_retweet: str | None = None

    def metrics(self, now: datetime) -> dict[str, int]:
        """X's public_metrics at `now`: a heavy-tailed reach per post (most get little), grown
        over the post's first hour or so; zero when it is just posted."""
        rng = random.Random(int(self.id))
        reach = rng.paretovariate(1.3) - 1.0
        age = max((now - self.created_at).total_seconds(), 0.0) / 60
        grown = reach * (1.0 - math.exp(-age / 30))
        return {
            "retweet_count": int(grown * 4),
            "reply_count": int(grown * 2),
            "like_count": int(grown * 20),
            "quote_count": int(grown),
        }

    def as_json(self, fields: set[str], now: datetime | None = None) -> dict:
        out: dict = {"id": self.id, "text": self.text, "edit_history_tweet_ids": [self.id]}
        if "public_metrics" in fields:
            out["public_metrics"] = self.metrics(now or self.created_at)
        if "created_at" in fields:
            out["created_at"] = self.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "lang" in fields:
            out["lang"] = self.lang
        if "author_id" in fields:
            out["author_id"] = self.author_id
        if "referenced_tweets" in fields and self.referenced_retweet:
            out["referenced_tweets"] = [{"type": "retweeted", "id": self.referenced_retweet}]
        return out


def snowflake(ts_ms: int, sequence: int) -> int:
    """An X-like id: milliseconds since X's epoch, then a 22-bit sequence (ids sort by time)."""
    return ((ts_ms - TWITTER_EPOCH_MS) << 22) | (sequence & 0x3FFFFF)


@dataclass(frozen=True)
class Burst:
    """A topic that bursts: for `minutes` at the start of every `every_minutes` (UTC clock),
    a `share` of the posts are about `coin`, so its volume jumps (what alerts watch for)."""

    coin: str
    every_minutes: float = 30.0
    minutes: float = 2.0
    share: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.minutes < self.every_minutes:
            raise ValueError("a burst lasts more than 0 minutes and less than its period")
        if not 0 < self.share <= 1:
            raise ValueError("the burst share is in (0, 1]")

    def active(self, ts_ms: int) -> bool:
        return (ts_ms / 60_000) % self.every_minutes < self.minutes


class PostStream:
    """Posts released every `60 / rate_per_minute` seconds from `start_ms`.

    With `history_minutes`, the stream begins that long before `start_ms` with posts every
    `60 / history_rate_per_minute` seconds: post 0 is the oldest history post, and the
    `history_posts` history posts come before the real-time ones.
    """

    def __init__(
        self,
        coins: tuple[str, ...],
        *,
        rate_per_minute: float = 30.0,
        start_ms: int,
        seed: int = 2019,
        market: MarketSimulator | None = None,
        history_minutes: float = 0.0,
        history_rate_per_minute: float = 1.0,
        burst: Burst | None = None,
    ):
        if rate_per_minute <= 0 or history_rate_per_minute <= 0:
            raise ValueError("the post rate must be positive")
        if history_minutes < 0:
            raise ValueError("the history cannot be negative")
        unknown = [c for c in coins if c not in _NAME]
        if unknown:
            raise ValueError(f"the sandbox simulates no posts about {unknown}")
        if burst is not None and burst.coin not in coins:
            raise ValueError(f"the burst coin {burst.coin!r} is not one of {list(coins)}")
        self.burst = burst
        self.coins = tuple(coins)
        self.interval_ms = 60_000 / rate_per_minute
        self.start_ms = start_ms
        self.history_interval_ms = 60_000 / history_rate_per_minute
        self.history_start_ms = start_ms - int(history_minutes * 60_000)
        self.history_posts = math.ceil(history_minutes * 60_000 / self.history_interval_ms)
        self.seed = seed
        self.market = market or simulator(seed)
        self._cache: OrderedDict[int, Post] = OrderedDict()
        self._lock = threading.RLock()  # handler threads share the cache (search and stream)

    def time_of(self, k: int) -> int:
        if k < self.history_posts:
            return int(self.history_start_ms + k * self.history_interval_ms)
        return int(self.start_ms + (k - self.history_posts) * self.interval_ms)

    def released(self, now_ms: int) -> int:
        """How many posts exist at `now_ms` (posts 0 .. n-1)."""
        if now_ms < self.start_ms:
            if now_ms < self.history_start_ms:
                return 0
            return int((now_ms - self.history_start_ms) // self.history_interval_ms) + 1
        return self.history_posts + int((now_ms - self.start_ms) // self.interval_ms) + 1

    def index_of(self, post_id: str) -> int:
        return int(post_id) & 0x3FFFFF

    def post(self, k: int) -> Post:
        with self._lock:
            cached = self._cache.get(k)
            if cached is None:
                cached = self._cache[k] = self._make(k)
                if len(self._cache) > CACHE_SIZE:  # a long-running sandbox keeps the newest only
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(k)
            return cached

    def _make(self, k: int) -> Post:
        rng = random.Random(f"{self.seed}:{k}")
        ts = self.time_of(k)
        created = datetime.fromtimestamp(ts / 1000, tz=UTC)
        pid = str(snowflake(ts, k))
        author = str(10_000 + rng.randrange(len(_USERS) * 10))
        roll = rng.random()
        if k >= 5 and roll < 0.06:  # an exact duplicate of a recent post, under a new id
            source = self.post(k - rng.randint(1, 5))
            return Post(
                pid,
                created,
                source.text,
                source.lang,
                author,
                source.topics,
                "duplicate",
                source.mood,
            )
        if k >= 5 and roll < 0.10:  # a near duplicate: another link, number or mention
            source = self.post(k - rng.randint(1, 5))
            text = source.text.split(" https://")[0] + f" https://t.co/{rng.randrange(10**8):08d}"
            return Post(
                pid,
                created,
                text,
                source.lang,
                author,
                source.topics,
                "near_duplicate",
                source.mood,
            )
        if k >= 1 and roll < 0.18:  # a retweet of a recent post
            source = self.post(k - 1)
            user = _USERS[rng.randrange(len(_USERS))]
            return Post(
                pid,
                created,
                f"RT @{user}: {source.text}"[:280],
                source.lang,
                author,
                source.topics,
                "retweet",
                source.mood,
                referenced_retweet=source.id,
            )
        coin = self.coins[rng.randrange(len(self.coins))]
        if (
            self.burst
            and k >= self.history_posts
            and self.burst.active(ts)
            and random.Random(f"{self.seed}:burst:{k}").random() < self.burst.share
        ):
            coin = self.burst.coin
        topics = (coin,)
        if roll < 0.22:
            text = rng.choice(_SPAM).format(name=_NAME[coin], sym=_SYMBOL[coin])
            return Post(pid, created, text, "en", author, topics, "spam", "neutral")
        mood = self._mood(rng, coin, ts)
        if roll < 0.28:
            lang, template = rng.choice(_FOREIGN)
            return Post(
                pid,
                created,
                template.format(name=_NAME[coin]),
                lang,
                author,
                topics,
                "foreign",
                mood,
            )
        bank = {"positive": _POSITIVE, "neutral": _NEUTRAL, "negative": _NEGATIVE}[mood]
        text = rng.choice(bank).format(name=rng.choice((_NAME[coin], _NAME[coin].lower())))
        text = rng.choice(_OPENERS) + text + rng.choice(_CLOSERS)
        if rng.random() < 0.25 and len(self.coins) > 1:  # also about a second coin
            other = rng.choice([c for c in self.coins if c != coin])
            text += f", and {_NAME[other]} too"
            topics = (coin, other)
        text = self._decorate(rng, text, coin, mood)
        return Post(pid, created, text, "en", author, topics, "original", mood)

    def _mood(self, rng: random.Random, coin: str, ts_ms: int) -> str:
        """The post's intended tone: the day's mood and its coin's move over the last hour."""
        day = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date()
        before = self.market.at(coin, ts_ms - TONE_WINDOW_MS).price
        move = math.log(self.market.at(coin, ts_ms).price / before) / _HOURLY_SCALE
        tone = 0.5 * self.market.mood_at(day) + 0.8 * math.tanh(move) + rng.gauss(0.0, 0.5)
        if tone > 0.35:
            return "positive"
        if tone < -0.35:
            return "negative"
        return "neutral"

    @staticmethod
    def _decorate(rng: random.Random, text: str, coin: str, mood: str) -> str:
        if rng.random() < 0.3:
            text = f"@{rng.choice(_USERS)} {text}"
        if rng.random() < 0.4:
            text += f" #{_NAME[coin]}" + rng.choice(("", " #crypto", " #ToTheMoon", " #HODL"))
        if rng.random() < 0.3:
            text += f" ${_SYMBOL[coin]}"
        if rng.random() < 0.5:
            text += " " + "".join(rng.choice(_EMOJI[mood]) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.25:
            text += f" https://t.co/{rng.randrange(10**8):08d}"
        if rng.random() < 0.1:
            text = text.replace("&", "&amp;") + " &amp; more"
        return text
