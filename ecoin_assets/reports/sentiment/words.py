"""Frequent terms and emoji, counted over the most recent MAX_TEXTS kept posts as the number of
posts that contain them."""

from __future__ import annotations

from collections import Counter

import emoji
import pandas as pd
from IPython.display import Image, Markdown
from pandas.io.formats.style import Styler

from ecoin_assets.cleaning import WORD_RE, clean_text, tokenize
from ecoin_assets.reports import display
from ecoin_assets.reports.params import Window
from ecoin_assets.reports.sentiment.notes import none
from ecoin_assets.storage import Database

TOP_TERMS = 20
TOP_EMOJI = 15
MAX_TEXTS = 20_000


def stop_words(topic: str) -> frozenset[str]:
    """Words too common to tell anything: English stop words, the text placeholders and the
    topic's own keywords."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    own = {word.strip("#$\"'()").lower() for word in topic.split()}
    return frozenset(ENGLISH_STOP_WORDS | {"@user", "http", "rt", "amp", "or"} | own)


def post_terms(text: str, ignore: frozenset[str]) -> set[str]:
    """The distinct words of a post, as ingestion tokenizes them, without emoji and `ignore`."""
    plain = clean_text(emoji.replace_emoji(text, " "))
    return {t for t in tokenize(plain) if len(t) > 1 and WORD_RE.search(t) and t not in ignore}


def texts(db: Database, topic: str, window: Window) -> list[str]:
    """The raw text of the newest MAX_TEXTS kept posts of the window."""
    rows = db.query(
        """
        SELECT p.text_raw FROM posts p JOIN post_topics t USING (post_id)
        WHERE t.topic = ? AND p.keep AND p.created_at >= ? AND p.created_at < ?
        ORDER BY p.created_at DESC, p.post_id DESC LIMIT ?
        """,
        [topic, window.since, window.until, MAX_TEXTS],
    )
    return [text for (text,) in rows]


def top(counts: Counter, column: str, n: int, of: int) -> pd.DataFrame:
    """The `n` most common of `counts` as `column, posts, share (%)` (of `of` posts)."""
    frame = pd.DataFrame(counts.most_common(n), columns=[column, "posts"])
    frame["share (%)"] = frame["posts"] / max(of, 1) * 100
    return frame


def terms(posts: list[str], topic: str) -> pd.DataFrame:
    """`term, posts, share (%)`: the TOP_TERMS words in the most posts."""
    ignore = stop_words(topic)
    counts = Counter(term for text in posts for term in post_terms(text, ignore))
    return top(counts, "term", TOP_TERMS, len(posts))


def emoji_counts(posts: list[str]) -> pd.DataFrame:
    """`emoji, name, posts, share (%)`: the TOP_EMOJI emoji in the most posts."""
    counts = Counter(e for t in posts for e in {m["emoji"] for m in emoji.emoji_list(t)})
    frame = top(counts, "emoji", TOP_EMOJI, len(posts))
    names = frame["emoji"].map(lambda e: emoji.demojize(e).strip(":").replace("_", " "))
    frame.insert(1, "name", names)
    return frame


def terms_chart(frame: pd.DataFrame, topic: str, window: Window, of: int) -> Image | Markdown:
    if frame.empty:
        return none(topic, window, "words (besides stop words and the topic's own)")
    fig, (ax,) = display.figure(height=0.25 * len(frame) + 1.2)
    ax.barh(frame["term"][::-1], frame["posts"][::-1], color=display.VOLUME)
    ax.set_xlabel(f"kept posts containing the word (of {of:,})")
    ax.set_ylabel("word")
    ax.set_title(f"'{topic}': most frequent words")
    return display.image(fig)


def emoji_table(frame: pd.DataFrame, topic: str, window: Window, of: int) -> Styler | Markdown:
    if frame.empty:
        return none(topic, window, "emoji in kept posts")
    formats = {"posts": "{:,}", "share (%)": "{:.1f}"}
    return display.table(frame, formats).set_caption(
        f"Posts: how many of the {of:,} kept posts counted contain it."
    )
