"""X's query syntax: parsing, refusals, local matching and packing topics into few queries."""

from __future__ import annotations

import pytest

from ecoin_assets.sources.x_query import MAX_QUERY_LENGTH, PostText, QueryError, combine, parse


def match(query: str, text: str, lang: str = "en", retweet: bool = False) -> bool:
    return parse(query).matches(PostText(text, lang, retweet))


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("bitcoin", "Bitcoin is up", True),
        ("bitcoin", "#Bitcoin to the moon", True),  # keywords match inside hashtags
        ("bitcoin", "bitcoin's run", True),
        ("bitcoin", "bitcoinz airdrop", False),  # whole tokens only
        ("btc", "long $BTC here", True),
        ("bitcoin price", "the price of bitcoin", True),  # AND, any order
        ("bitcoin price", "bitcoin is up", False),
        ("bitcoin OR ethereum", "ethereum merge", True),
        ("bitcoin OR ethereum", "solana", False),
        ("bitcoin ethereum OR solana", "solana pumps", True),  # AND binds tighter than OR
        ("bitcoin (ethereum OR solana)", "solana pumps", False),
        ("bitcoin (ethereum OR solana)", "bitcoin and solana", True),
        ("bitcoin -scam", "bitcoin scam alert", False),
        ("bitcoin -(scam OR airdrop)", "bitcoin airdrop", False),
        ("bitcoin -(scam OR airdrop)", "bitcoin rally", True),
        ('"to the moon"', "Bitcoin to the moon!", True),
        ('"to the moon"', "the moon to", False),
        ("coca-cola", "Coca Cola rally", True),
        ("#bitcoin", "bitcoin rally", False),  # a hashtag matches hashtags only
        ("#bitcoin", "rally #BITCOIN!", True),
        ("#bitcoin", "rally #bitcoinz", False),
        ("$btc", "btc rally", False),
        ("$btc", "long $BTC.", True),
        ("@elonmusk", "hey @ElonMusk", True),
        ("🚀", "to the moon 🚀🚀", True),
        ("bitcoin -is:retweet", "bitcoin", True),
        ("bitcoin lang:en", "bitcoin", True),
    ],
)
def test_matches_like_x(query: str, text: str, expected: bool) -> None:
    assert match(query, text) is expected


def test_retweets_and_languages_are_judged_from_the_post() -> None:
    assert not match("bitcoin -is:retweet", "RT @a: bitcoin", retweet=True)
    assert match("bitcoin is:retweet", "RT @a: bitcoin", retweet=True)
    assert not match("bitcoin lang:en", "bitcoin sube", lang="es")


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("(bitcoin", "never closed"),
        ("bitcoin)", "closes nothing"),
        ("bitcoin OR", "empty clause"),
        ("OR bitcoin", "empty clause"),
        ("bitcoin ()", "empty clause"),
        ('"to the moon', "unterminated quote"),
        ('bitcoin ""', "empty phrase"),
        ("-bitcoin", "nothing positive"),
        ("lang:en", "nothing positive"),
        ("is:retweet OR bitcoin", "nothing positive"),
        ("bitcoin is:sleeping", "is: takes"),
        ("bitcoin has:everything", "has: takes"),
        ("bitcoin lang:english", "language code"),
        ("bitcoin colour:red", "unknown operator"),
        ("bitcoin from:", "no value"),
        ("x" * (MAX_QUERY_LENGTH + 1), "at most 512"),
    ],
)
def test_refuses_what_x_refuses_with_the_reason(query: str, why: str) -> None:
    with pytest.raises(QueryError, match=why):
        parse(query)


def test_standalone_operators_and_urls_are_accepted() -> None:
    assert parse("from:elonmusk").text == "from:elonmusk"
    assert parse("https://example.com bitcoin").matches(PostText("https://example.com bitcoin"))
    assert not parse("from:elonmusk").routable
    assert parse("bitcoin -is:retweet lang:en").routable


def test_combine_packs_topics_into_as_few_queries_as_the_limit_allows() -> None:
    queries = {f"coin{i}": f"coin{i} price" for i in range(60)}
    groups = combine(queries)
    assert sum(len(g.topics) for g in groups) == 60
    assert all(len(g.text) <= MAX_QUERY_LENGTH for g in groups)
    assert len(groups) == 3  # "(coinNN price)" is 14-15 characters, " OR " 4 more
    post = PostText("coin7 price is up, coin70 too")
    routed = [t for g in groups for t in g.route(post)]
    assert routed == ["coin7"]
    # the combined query means what its parts mean
    text = groups[0].text
    assert parse(text).matches(post)
    assert not parse(text).matches(PostText("coin7 is up"))


def test_combine_keeps_unroutable_queries_alone_and_shares_identical_ones() -> None:
    groups = combine(
        {"musk": "from:elonmusk", "btc": "bitcoin", "eth": "ethereum", "also btc": "bitcoin"}
    )
    texts = {g.text: sorted(g.topics) for g in groups}
    assert texts == {"from:elonmusk": ["musk"], "bitcoin OR ethereum": ["also btc", "btc", "eth"]}
    shared = next(g for g in groups if "bitcoin" in g.text)
    assert sorted(shared.route(PostText("BTC: bitcoin"))) == ["also btc", "btc"]
    assert next(g for g in groups if g.text == "from:elonmusk").route(PostText("hi")) == ["musk"]


def test_combine_refuses_an_invalid_query() -> None:
    with pytest.raises(QueryError, match="never closed"):
        combine({"ok": "bitcoin", "bad": "(ethereum"})
