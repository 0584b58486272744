"""Every cleaning and filtering rule of the post preprocessing, on real-looking posts."""

import pytest

from ecoin_assets.cleaning import (
    Deduplicator,
    clean_text,
    duplicate_key,
    looks_english,
    preprocess,
    spam_reason,
    tokenize,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # links become `http`, users `@user` (TweetEval's conventions)
        (
            "BTC breakout confirmed https://t.co/AbC123 via @CryptoDaily",
            "btc breakout confirmed http via @user",
        ),
        ("see www.example.com/chart now", "see http now"),
        ("email me at a@b.com", "email me at a@b.com"),  # not a mention
        # hashtags keep their words, split on case and digits
        ("#Bitcoin #ToTheMoon #HODL2025", "bitcoin to the moon hodl 2025"),
        ("#crypto_news today", "crypto news today"),
        # cashtags keep their ticker; prices are not cashtags
        ("$BTC and $eth up, bought at $64000", "btc and eth up, bought at $64000"),
        # HTML entities
        ("fear &amp; greed &gt; 80 &lt;3", "fear & greed > 80 <3"),
        # emoji kept as meaning
        ("to the moon 🚀🚀", "to the moon rocket rocket"),
        ("rekt 😭", "rekt loudly crying face"),
        # repeated characters shortened to two
        ("soooooo bullishhhh!!!!!", "soo bullishh!!"),
        # whitespace and case
        ("  Bitcoin\n\tIS   UP  ", "bitcoin is up"),
        # retweet prefix
        ("RT @whale_alert: 1,000 #BTC moved", "1,000 btc moved"),
        # unicode normalization (full-width letters)
        ("ＢＴＣ pump", "btc pump"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_tokenize_keeps_placeholders_contractions_and_punctuation():
    clean = clean_text("Don't sell!! @bob says ETH está bien http://x.y 😂")
    assert tokenize(clean) == [
        "don't",
        "sell",
        "!",
        "!",
        "@user",
        "says",
        "eth",
        "está",
        "bien",
        "http",
        "face",
        "with",
        "tears",
        "of",
        "joy",
    ]


def test_raw_text_is_kept_unchanged():
    raw = "RT @a: $BTC 🚀 https://t.co/x &amp; more"
    post = preprocess("1", raw)
    assert post.text_raw == raw
    assert post.text_clean == "btc rocket http & more"


def test_retweets_are_dropped():
    assert preprocess("1", "RT @a: bitcoin is going up nicely").drop_reason == "retweet"
    flagged = preprocess("2", "bitcoin is going up nicely", is_retweet=True)
    assert (flagged.keep, flagged.drop_reason) == (False, "retweet")


def test_language_filter_uses_the_api_language_first():
    assert preprocess("1", "bitcoin is going up nicely today", lang="en").keep
    assert preprocess("2", "bitcoin sube mucho hoy amigos", lang="es").drop_reason == "language es"
    assert preprocess("3", "bitcoin sube mucho hoy", lang="es", languages=("en", "es")).keep
    # undetermined: decided from the words
    assert preprocess("4", "bitcoin is going up nicely", lang="und").keep
    assert not preprocess("5", "der bitcoin steigt heute sehr stark").keep


def test_looks_english():
    assert looks_english("the price is going up")
    assert not looks_english("le prix monte beaucoup aujourd hui")
    assert looks_english("btc ath")  # too short to tell: kept


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("🎁 GIVEAWAY 🎁 retweet and follow to win 1 ETH", "spam phrase 'giveaway'"),
        ("Join our Telegram group for pump signals", "spam phrase 'join our'"),
        ("Guaranteed profit 100x gem, DM me", "spam phrase"),
        ("$BTC $ETH $SOL $ADA $DOGE $XRP all green", "6 hashtags/cashtags"),
        ("#a #b #c #d #e #f nice", "6 hashtags/cashtags"),
        ("links http://a.b http://c.d http://e.f here", "too many links"),
        ("🚀🚀🚀", "too few words"),
        ("@bob http://x.y", "too few words"),
    ],
)
def test_spam_and_noise(raw, reason):
    found = spam_reason(raw, clean_text(raw))
    assert found is not None and reason in found
    post = preprocess("1", raw)
    assert not post.keep and post.drop_reason.startswith("spam: ")


def test_ordinary_posts_are_not_spam():
    for raw in (
        "Bitcoin looks strong above 60k, holding my bags 💪",
        "ETH gas fees are painful again today",
        "$SOL dipped 8% after the outage, not selling",
    ):
        assert spam_reason(raw, clean_text(raw)) is None


def test_exact_and_near_duplicates_are_dropped():
    dedup = Deduplicator()
    first = preprocess("1", "Bitcoin just broke 70k!!! https://t.co/aaa", dedup=dedup)
    exact = preprocess("2", "Bitcoin just broke 70k!!! https://t.co/aaa", dedup=dedup)
    near = preprocess("3", "bitcoin JUST broke 71k!! https://t.co/bbb @someone", dedup=dedup)
    other = preprocess("4", "Bitcoin just broke down below 60k", dedup=dedup)
    assert first.keep and other.keep
    assert (exact.keep, exact.drop_reason) == (False, "duplicate")
    assert (near.keep, near.drop_reason) == (False, "duplicate")
    assert duplicate_key(first.text_clean) == duplicate_key(near.text_clean)


def test_deduplicator_can_be_seeded_with_stored_posts():
    key = duplicate_key(clean_text("eth merge is done and dusted"))
    dedup = Deduplicator({key})
    assert not preprocess("9", "ETH merge is done and dusted", dedup=dedup).keep


def test_dropped_posts_do_not_block_later_duplicates():
    dedup = Deduplicator()
    assert not preprocess("1", "RT @a: solana is fast and cheap", dedup=dedup).keep
    assert preprocess("2", "solana is fast and cheap", dedup=dedup).keep
