"""Cleaning, tokenization and filtering of X posts (plain functions, no I/O): the one place
for it, shared by ingestion (`tweets`) and the sentiment model (`sentiment`).

The clean text follows TweetEval's conventions, so that a sentiment model trained there sees
the same kind of text: user mentions become `@user` and links become `http`. Hashtags keep
their words (`#ToTheMoon` -> `to the moon`), cashtags their ticker (`$BTC` -> `btc`), and
emoji are kept as meaning (`🚀` -> `rocket`) with the `emoji` package. The raw text is never
changed; callers store it beside the clean one.

Filtering decides, per post, whether it is kept for sentiment: retweets, other languages,
spam and near duplicates of an earlier post are dropped, each with the reason recorded.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import emoji

URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@])@\w{1,15}")
HASHTAG_RE = re.compile(r"(?<![\w#])#(\w+)")
# `$BTC`, and StockTwits' `$BTC.X` (crypto) and `$SPY` style
CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,9})(?:\.X\b)?\b")
RETWEET_RE = re.compile(r"^RT\s+@\w{1,15}:?\s*")
REPEAT_RE = re.compile(r"([^\d\s])\1{2,}")  # letters and marks, never digits
CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
TOKEN_RE = re.compile(r"@user|http|[^\W_]+(?:['’][^\W_]+)?|[^\w\s]")
WORD_RE = re.compile(r"[^\W\d_]+")

SPAM_PHRASES = (
    "giveaway",
    "airdrop",
    "free crypto",
    "dm me",
    "send me",
    "click the link",
    "join my",
    "join our",
    "guaranteed profit",
    "100x",
    "1000x",
    "pump signal",
    "whatsapp",
    "telegram group",
    "claim your",
    "free btc",
    "free eth",
    "double your",
)
MAX_TAGS = 5  # hashtags + cashtags beyond this look like spam
MAX_LINKS = 2
MIN_WORDS = 3

# Frequent English words: a post with none of them among several words is taken as non-English
# when the API gives no language.
_ENGLISH_WORDS = (
    "the a an and or but is are was were be been to of in on for with at by from this that it "
    "i you he she we they my your our their me us him her them not no so very just all what "
    "when how why who will would can could should do does did have has had up down out now "
    "today buy sell going get got like love hate good bad great price market"
)
_ENGLISH = frozenset(_ENGLISH_WORDS.split())


def _split_hashtag(tag: str) -> str:
    return " ".join(part.lower() for part in CAMEL_RE.split(tag.replace("_", " ")) if part)


def _emoji_words(text: str) -> str:
    if text.isascii():  # no emoji (most posts): skips what is most of the cleaning time
        return text
    return emoji.replace_emoji(
        text, replace=lambda e, data: " " + data["en"].strip(":").replace("_", " ") + " "
    )


def clean_text(text: str) -> str:
    """The normalized text of a post (lowercase, placeholders, emoji as words)."""
    out = html.unescape(text)
    out = unicodedata.normalize("NFKC", out)
    out = RETWEET_RE.sub("", out)
    out = URL_RE.sub(" http ", out)
    out = MENTION_RE.sub(" @user ", out)
    out = HASHTAG_RE.sub(lambda m: " " + _split_hashtag(m.group(1)) + " ", out)
    out = CASHTAG_RE.sub(lambda m: " " + m.group(1).lower() + " ", out)
    out = _emoji_words(out)
    out = out.lower()
    out = REPEAT_RE.sub(r"\1\1", out)
    return " ".join(out.split())


STRIP_RE = re.compile(r"[^a-z0-9\s]+")


def strip_text(text: str) -> str:
    """A post as some sources deliver it: lower-cased, links, punctuation and emoji removed."""
    return " ".join(STRIP_RE.sub(" ", URL_RE.sub(" ", text).lower()).split())


def tokenize(clean: str) -> list[str]:
    """Words, placeholders (`@user`, `http`) and punctuation marks of a clean text."""
    return TOKEN_RE.findall(clean)


def duplicate_key(clean: str) -> str:
    """What two near-identical posts share: their text without links, users and numbers.

    Hashtags and emoji (as words) stay in the key: copies differ in a link or a number, not
    in the rest of the text.
    """
    return " ".join(w for w in WORD_RE.findall(clean) if w not in ("user", "http"))


def looks_english(clean: str) -> bool:
    words = WORD_RE.findall(clean)
    content = [w for w in words if w not in ("user", "http")]
    if len(content) < 4:
        return True  # too short to tell
    return any(w in _ENGLISH for w in content)


def spam_reason(raw: str, clean: str) -> str | None:
    """Why a post looks like spam or noise, or None."""
    tags = len(HASHTAG_RE.findall(raw)) + len(CASHTAG_RE.findall(raw))
    if tags > MAX_TAGS:
        return f"{tags} hashtags/cashtags"
    if len(URL_RE.findall(raw)) > MAX_LINKS:
        return "too many links"
    lowered = clean.lower()
    for phrase in SPAM_PHRASES:
        if phrase in lowered:
            return f"spam phrase {phrase!r}"
    plain = clean_text(emoji.replace_emoji(raw, " "))  # words written, not emoji
    if len([w for w in WORD_RE.findall(plain) if w not in ("user", "http")]) < MIN_WORDS:
        return "too few words"
    return None


@dataclass(frozen=True)
class CleanPost:
    id: str
    text_raw: str
    text_clean: str
    tokens: tuple[str, ...]
    lang: str | None
    keep: bool
    drop_reason: str | None = None


@dataclass
class Deduplicator:
    """Remembers the duplicate keys of posts kept so far (seed it with stored ones)."""

    seen: set[str] = field(default_factory=set)

    def is_new(self, key: str) -> bool:
        if not key or key in self.seen:
            return False
        self.seen.add(key)
        return True


def preprocess(
    post_id: str,
    text: str,
    *,
    lang: str | None = None,
    is_retweet: bool = False,
    languages: Iterable[str] = ("en",),
    dedup: Deduplicator | None = None,
) -> CleanPost:
    """Clean one post and decide whether it is kept (first reason wins)."""
    clean = clean_text(text)
    reason = None
    if is_retweet or RETWEET_RE.match(text):
        reason = "retweet"
    elif lang and lang not in ("und", "zxx", "qme", "qht") and lang not in set(languages):
        reason = f"language {lang}"
    elif not lang and not looks_english(clean):
        reason = "language (not English)"
    elif (spam := spam_reason(text, clean)) is not None:
        reason = f"spam: {spam}"
    elif dedup is not None and not dedup.is_new(duplicate_key(clean)):
        reason = "duplicate"
    return CleanPost(
        id=post_id,
        text_raw=text,
        text_clean=clean,
        tokens=tuple(tokenize(clean)),
        lang=lang,
        keep=reason is None,
        drop_reason=reason,
    )
