"""Crypto posts tagged bullish or bearish by their authors (StockTwits' self-tags): weak
labels of polarity, for training and for measuring how a model splits positive from negative.

A CSV with columns `created_at,symbol,tag,text` (the layout of the StockTwits BTC/ETH set that
`ecoin sentiment finetune --crypto` reads); `tag` is `bullish`, `bearish` or empty. Untagged
posts carry no label: no tag is not a neutral label. What they do carry is weak evidence of
*whether* a post takes a stance: authors tag posts that take one more often than posts that do
not (news, alerts, prices, questions, spam). `TAG_RATE_STANCE` and `TAG_RATE_NEUTRAL` put
numbers on that (`model.fit_regression` uses them). Exact repeats of a text
(bots post the same alert many times) are kept once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Self

from ecoin_assets.errors import UserError

COLUMNS = ("created_at", "symbol", "tag", "text")
TAGS = {"bearish": 0, "bullish": 1}
# How often an author tags a post that takes a stance, and one that takes none: estimated from
# the StockTwits set's training days (2022-07-10..14), where an ecoin engineer counted about 1 in
# 5 of 50 random tagged posts and 2 in 5 of 50 untagged ones as neutral by the model card's
# guideline, and 54% of the distinct texts are tagged. The gap between the two rates is all the
# evidence a tag gives that a post is not neutral: small, so it nudges rather than decides.
TAG_RATE_STANCE = 0.62
TAG_RATE_NEUTRAL = 0.38


class _ByDay:
    """Posts with the day of each, split by day."""

    days: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.days)

    def select(self, keep, source: str) -> Self:
        rows = [i for i, day in enumerate(self.days) if keep(day)]
        columns = [f.name for f in fields(self) if f.name != "source"]  # type: ignore[arg-type]
        return replace(  # type: ignore[type-var]
            self, source=source, **{c: [getattr(self, c)[i] for i in rows] for c in columns}
        )

    def before(self, day: str) -> Self:
        return self.select(lambda d: d < day, f"{self.source}:<{day}")

    def since(self, day: str) -> Self:
        return self.select(lambda d: d >= day, f"{self.source}:>={day}")


@dataclass(frozen=True)
class TaggedPosts(_ByDay):
    texts: list[str]
    tags: list[int]  # 0 bearish, 1 bullish
    days: list[str]  # YYYY-MM-DD of each post
    source: str


@dataclass(frozen=True)
class UntaggedPosts(_ByDay):
    texts: list[str]
    days: list[str]  # YYYY-MM-DD of each post (of a text's first occurrence)
    source: str


def load_posts(path: Path) -> tuple[TaggedPosts, UntaggedPosts]:
    """The tagged posts of a CSV and the distinct texts of its untagged ones, in one pass,
    validated row by row (errors name the line)."""
    path = Path(path).expanduser()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    texts, tags, days, seen = [], [], [], set()
    untagged: dict[str, str] = {}  # text: day of its first occurrence, each text once
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
                untagged.setdefault(text, day)
            elif text not in seen:
                seen.add(text)
                texts.append(text)
                tags.append(TAGS[tag])
                days.append(day)
    if not texts:
        raise UserError(f"{path} has no posts tagged bullish or bearish")
    return (
        TaggedPosts(texts, tags, days, source=path.name),
        UntaggedPosts(list(untagged), list(untagged.values()), source=f"{path.name}:untagged"),
    )
