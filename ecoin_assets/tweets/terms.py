"""The terms of a post that trending counts: words, #hashtags, $cashtags and emoji.

Each term is counted once per post, from the raw text: lower-cased words of three letters or
more that are not stop words, links or mentions; hashtags and cashtags as written
(lower-cased, `$BTC.X` as `$btc`); each distinct emoji. Ingestion adds the terms of every new
post kept for sentiment (so spam, retweets and repeated posts are not counted) to
`topic_term_counts` per topic and 10-minute bucket, in the transaction that stores the post.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import emoji
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from ecoin_assets.cleaning import CASHTAG_RE, HASHTAG_RE, MENTION_RE, URL_RE

BUCKET_MINUTES = 10
_WORDS = re.compile(r"(?<![\w#$@])[^\W\d_]{3,}(?:['’][^\W\d_]+)?")
_STOP = frozenset(ENGLISH_STOP_WORDS) | {"amp", "http", "https", "just", "like", "rt", "via"}


def post_terms(text: str) -> set[tuple[str, str]]:
    """(term, kind) of one post; kind is word, hashtag, cashtag or emoji."""
    terms: set[tuple[str, str]] = set()
    terms.update((f"${m.group(1).lower()}", "cashtag") for m in CASHTAG_RE.finditer(text))
    terms.update((f"#{m.group(1).lower()}", "hashtag") for m in HASHTAG_RE.finditer(text))
    terms.update((e["emoji"], "emoji") for e in emoji.emoji_list(text))
    plain = MENTION_RE.sub(" ", URL_RE.sub(" ", text))
    for match in _WORDS.finditer(plain):
        word = match.group(0).lower().replace("’", "'")
        if word not in _STOP and word.split("'")[0] not in _STOP:
            terms.add((word, "word"))
    return terms


def bucket_of(moment: datetime) -> datetime:
    minute = moment.minute - moment.minute % BUCKET_MINUTES
    return moment.replace(minute=minute, second=0, microsecond=0)


def term_counts(
    posts: Iterable[tuple[str, datetime, Iterable[str]]],
) -> list[tuple[str, datetime, str, str, int]]:
    """(topic, bucket, term, kind, posts) over `posts` given as (raw text, created_at, topics)."""
    counts: Counter = Counter()
    for text, created, topics in posts:
        terms = post_terms(text)
        bucket = bucket_of(created)
        for topic in topics:
            for term, kind in terms:
                counts[(topic, bucket, term, kind)] += 1
    return [(*key, n) for key, n in sorted(counts.items())]
