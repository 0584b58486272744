"""Crypto posts tagged bullish or bearish by their authors (StockTwits' self-tags): weak
labels of polarity, for training and for measuring how a model splits positive from negative.

A CSV with columns `created_at,symbol,tag,text` (the layout of the StockTwits BTC/ETH set that
`ecoin sentiment finetune --crypto` reads); `tag` is `bullish`, `bearish` or empty. Untagged
posts carry no label (no tag is not a neutral label): `load_posts` returns them only to measure
how often a model calls such posts neutral. Exact repeats of a text (bots post the same alert
many times) are kept once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ecoin_assets.errors import UserError

COLUMNS = ("created_at", "symbol", "tag", "text")
TAGS = {"bearish": 0, "bullish": 1}


@dataclass(frozen=True)
class TaggedPosts:
    texts: list[str]
    tags: list[int]  # 0 bearish, 1 bullish
    days: list[str]  # YYYY-MM-DD of each post
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def select(self, keep, source: str) -> TaggedPosts:
        rows = [i for i, day in enumerate(self.days) if keep(day)]
        return TaggedPosts(
            [self.texts[i] for i in rows],
            [self.tags[i] for i in rows],
            [self.days[i] for i in rows],
            source,
        )

    def before(self, day: str) -> TaggedPosts:
        return self.select(lambda d: d < day, f"{self.source}:<{day}")

    def since(self, day: str) -> TaggedPosts:
        return self.select(lambda d: d >= day, f"{self.source}:>={day}")


def load_posts(path: Path) -> tuple[TaggedPosts, list[str]]:
    """The tagged posts of a CSV and the distinct texts of its untagged ones, in one pass,
    validated row by row (errors name the line). The untagged texts are no label: they are
    for measuring how often a model calls such posts neutral (`benchmarks/sentiment_bench.py`)."""
    path = Path(path).expanduser()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    texts, tags, days, seen = [], [], [], set()
    untagged: dict[str, None] = {}  # ordered, each text once
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)} (need {COLUMNS})")
        for row in reader:
            line = reader.line_num
            tag = (row["tag"] or "").strip().lower()
            if tag and tag not in TAGS:
                raise UserError(f"{path}, line {line}: tag {row['tag']!r} is not bullish/bearish")
            day = (row["created_at"] or "")[:10]
            if len(day) != 10 or day[4] != "-" or day[7] != "-":
                raise UserError(f"{path}, line {line}: created_at {row['created_at']!r}")
            text = (row["text"] or "").strip()
            if not text:
                continue
            if not tag:
                untagged.setdefault(text)
            elif text not in seen:
                seen.add(text)
                texts.append(text)
                tags.append(TAGS[tag])
                days.append(day)
    if not texts:
        raise UserError(f"{path} has no posts tagged bullish or bearish")
    return TaggedPosts(texts, tags, days, source=path.name), list(untagged)


def load_tagged(path: Path) -> TaggedPosts:
    """The tagged posts of a CSV (`load_posts`)."""
    return load_posts(path)[0]
