"""X's search and filtered-stream query syntax: parse, validate, match locally, combine.

The grammar is X API v2's (recent search and stream rules share it): terms joined by spaces are
ANDed, `OR` (upper case) joins alternatives and binds looser than AND, parentheses group, a
leading `-` negates a term or a group. Terms are keywords, `"exact phrases"`, `#hashtags`,
`$cashtags`, `@mentions`, emoji, and `operator:value` operators. Keywords match X's way: the
post's text is split into tokens at punctuation, symbols and spaces, case ignored, so `bitcoin`
matches "#Bitcoin" and "bitcoin's", and `coca-cola` matches "Coca Cola".

`parse` refuses what X would refuse (empty, unbalanced, too long, unknown operators, nothing
positive to match) with a message that says what is wrong, before anything is sent. `combine`
packs several topics' queries into as few queries as the length limit allows, so that one
search call serves many topics; the posts it returns are routed back to their topics with
`Query.matches`. Only queries whose every term can be judged from a post's text, language and
retweet flag are combined; the others (`from:`, `has:links`, ...) are searched on their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from ecoin_assets.errors import UserError

MAX_QUERY_LENGTH = 512
# operators that may stand alone in a query, and those that need a standalone term beside them
STANDALONE_OPERATORS = frozenset(
    {
        *("from", "to", "url", "retweets_of", "context", "entity", "conversation_id"),
        *("bio", "bio_name", "bio_location", "place", "place_country", "point_radius"),
        *("bounding_box", "list", "in_reply_to_tweet_id", "retweets_of_tweet_id"),
        "quotes_of_tweet_id",
    }
)
CONJUNCTION_OPERATORS = frozenset({"is", "has", "lang", "sample", "followers_count"})
IS_VALUES = frozenset({"retweet", "reply", "quote", "verified", "nullcast"})
HAS_VALUES = frozenset(
    {"hashtags", "cashtags", "links", "mentions", "media", "images", "videos", "geo"}
)
_TOKEN = re.compile(r'-?"[^"]*"?|-?\(|\)|[^\s()"]+')
_WORD = re.compile(r"\w+")


class QueryError(UserError):
    """A query X would refuse; the message says why."""


@dataclass(frozen=True)
class PostText:
    """What local matching looks at: a post's text, language and whether it is a retweet."""

    text: str
    lang: str | None = None
    is_retweet: bool = False

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def words(self) -> str:
        """The text's tokens, space-joined with spaces around, for whole-token search."""
        return " " + " ".join(_WORD.findall(self.lower)) + " "


@dataclass(frozen=True)
class Term:
    kind: str  # keyword, phrase, hashtag, cashtag, mention, operator
    value: str  # lower case; for operators "name:value"

    @property
    def standalone(self) -> bool:
        if self.kind != "operator":
            return True
        return self.value.split(":", 1)[0] in STANDALONE_OPERATORS

    @property
    def routable(self) -> bool:
        return self.kind != "operator" or self.value == "is:retweet" or self.value[:5] == "lang:"

    def matches(self, post: PostText) -> bool:
        if self.kind in ("keyword", "phrase"):
            words = _WORD.findall(self.value)
            if not words:  # emoji and other symbols: as written
                return self.value in post.lower
            return f" {' '.join(words)} " in post.words
        if self.kind in ("hashtag", "cashtag", "mention"):
            return re.search(rf"(?<![\w#$@]){re.escape(self.value)}(?!\w)", post.lower) is not None
        if self.value == "is:retweet":
            return post.is_retweet
        if self.value.startswith("lang:"):
            return (post.lang or "").lower() == self.value[5:]
        raise ValueError(f"{self.value} cannot be judged from a post's text")


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Both:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Either:
    children: tuple[Node, ...]


Node = Term | Not | Both | Either


def _evaluate(node: Node, post: PostText) -> bool:
    if isinstance(node, Term):
        return node.matches(post)
    if isinstance(node, Not):
        return not _evaluate(node.child, post)
    if isinstance(node, Both):
        return all(_evaluate(c, post) for c in node.children)
    return any(_evaluate(c, post) for c in node.children)


def _terms(node: Node):
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from _terms(node.child)
    else:
        for child in node.children:
            yield from _terms(child)


def _positive(node: Node) -> bool:
    """Whether every alternative of `node` has a positive standalone term, as X requires."""
    if isinstance(node, Term):
        return node.standalone
    if isinstance(node, Not):
        return False
    if isinstance(node, Both):
        return any(_positive(c) for c in node.children)
    return all(_positive(c) for c in node.children)


@dataclass(frozen=True)
class Query:
    """A parsed query; `text` is as given (stripped)."""

    text: str
    root: Node

    @property
    def routable(self) -> bool:
        """Whether a post's text, language and retweet flag decide whether it matches."""
        return all(t.routable for t in _terms(self.root))

    def matches(self, post: PostText) -> bool:
        return _evaluate(self.root, post)

    @property
    def grouped(self) -> str:
        """The text, parenthesized where an `OR` beside it would change its meaning."""
        if isinstance(self.root, Term | Not):
            return self.text
        return f"({self.text})"


def parse(text: str, *, max_length: int = MAX_QUERY_LENGTH) -> Query:
    """The parsed query, or a `QueryError` that says what X would object to."""
    text = text.strip()
    if not text:
        raise QueryError("the query is empty: give at least one keyword")
    if len(text) > max_length:
        raise QueryError(f"the query is {len(text)} characters long; X allows at most {max_length}")
    tokens = _TOKEN.findall(text)
    parser = _Parser(tokens, text)
    root = parser.alternatives()
    if parser.pos != len(tokens):
        raise QueryError(f"unbalanced parentheses in {text!r}: a ')' closes nothing")
    if not _positive(root):
        raise QueryError(
            f"{text!r} has nothing positive to match on its own: each alternative needs a keyword, "
            "phrase, #hashtag, $cashtag, @mention or from:/to:/url: operator that is not negated "
            "(is:, has: and lang: only narrow one down)"
        )
    return Query(text, root)


class _Parser:
    def __init__(self, tokens: list[str], text: str):
        self.tokens, self.text, self.pos = tokens, text, 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def alternatives(self) -> Node:
        branches = [self.conjunction()]
        while self._peek() == "OR":
            self.pos += 1
            branches.append(self.conjunction())
        return branches[0] if len(branches) == 1 else Either(tuple(branches))

    def conjunction(self) -> Node:
        parts: list[Node] = []
        while (token := self._peek()) is not None and token not in (")", "OR"):
            parts.append(self.unary())
        if not parts:
            where = "at the end" if self._peek() is None else f"before {self._peek()!r}"
            raise QueryError(
                f"{self.text!r} has an empty clause {where}: 'OR' or '()' with nothing"
            )
        return parts[0] if len(parts) == 1 else Both(tuple(parts))

    def unary(self) -> Node:
        token = self.tokens[self.pos]
        self.pos += 1
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        if body == "(":
            node = self.alternatives()
            if self._peek() != ")":
                raise QueryError(f"unbalanced parentheses in {self.text!r}: a '(' is never closed")
            self.pos += 1
        else:
            node = _term(body, self.text)
        return Not(node) if negated else node


def _term(token: str, text: str) -> Term:
    if token.startswith('"'):
        if len(token) < 2 or not token.endswith('"'):
            raise QueryError(f"unterminated quote in {text!r}")
        phrase = token[1:-1].strip().lower()
        if not phrase:
            raise QueryError(f'{text!r} has an empty phrase ""')
        return Term("phrase", phrase)
    low = token.lower()
    kinds = {"#": "hashtag", "$": "cashtag", "@": "mention"}
    if low[0] in kinds and len(low) > 1:
        return Term(kinds[low[0]], low)
    name, colon, value = low.partition(":")
    if colon and name.isalpha() and not low.startswith(("http:", "https:")):
        if name not in STANDALONE_OPERATORS | CONJUNCTION_OPERATORS:
            raise QueryError(f"unknown operator {name + ':'!r} in {text!r}")
        if not value:
            raise QueryError(f"operator {name + ':'!r} in {text!r} has no value")
        if name == "is" and value not in IS_VALUES:
            raise QueryError(f"is:{value} in {text!r}: is: takes {', '.join(sorted(IS_VALUES))}")
        if name == "has" and value not in HAS_VALUES:
            raise QueryError(f"has:{value} in {text!r}: has: takes {', '.join(sorted(HAS_VALUES))}")
        if name == "lang" and not re.fullmatch(r"[a-z]{2,3}(-[a-z]{2,4})?", value):
            raise QueryError(f"lang:{value} in {text!r} is not a language code such as lang:en")
        return Term("operator", f"{name}:{value}")
    return Term("keyword", low)


@dataclass(frozen=True)
class QueryGroup:
    """One search query that serves `topics` (topic -> its own parsed query)."""

    text: str
    topics: dict[str, Query]

    def route(self, post: PostText) -> list[str]:
        """The topics of this group whose query `post` matches."""
        if len({query.text for query in self.topics.values()}) == 1:
            return list(self.topics)  # one query: X's answer is the routing
        return [topic for topic, query in self.topics.items() if query.matches(post)]


def combine(queries: Mapping[str, str], max_length: int = MAX_QUERY_LENGTH) -> list[QueryGroup]:
    """`queries` (topic -> query) packed into as few search queries as `max_length` allows."""
    groups: list[QueryGroup] = []
    open_parts: list[str] = []
    open_topics: dict[str, Query] = {}

    def close() -> None:
        if open_topics:
            first = next(iter(open_topics.values()))
            text = " OR ".join(open_parts) if len(open_parts) > 1 else first.text
            groups.append(QueryGroup(text, dict(open_topics)))
        open_parts.clear()
        open_topics.clear()

    by_text: dict[str, list[str]] = {}
    for topic, text in queries.items():
        by_text.setdefault(parse(text, max_length=max_length).text, []).append(topic)
    for text, topics in by_text.items():
        query = parse(text, max_length=max_length)
        if not query.routable:
            groups.append(QueryGroup(query.text, dict.fromkeys(topics, query)))
            continue
        part = query.grouped
        if open_parts and len(" OR ".join([*open_parts, part])) > max_length:
            close()
        open_parts.append(part)
        open_topics.update(dict.fromkeys(topics, query))
    close()
    return groups
