"""The crypto-aware bundled model: crypto vocabulary, text stripped by its source, batch
independence; and the fine-tuning recipe end to end on a tiny set (store, reload, serve)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecoin_assets.bento_store import use_store
from ecoin_assets.cleaning import clean_text, strip_text
from ecoin_assets.errors import UserError
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.crypto_data import load_posts
from ecoin_assets.sentiment.data import load_seed
from ecoin_assets.sentiment.evaluation import balanced_polarity
from ecoin_assets.sentiment.finetune import FinetuneConfig
from ecoin_assets.sentiment.service import activate_version, finetune_and_register

# The labelling guideline (MODEL_CARD.md): positive = bullish, optimistic, pleased; negative =
# bearish, pessimistic, angry, scammed; neutral = news, questions, prices without a stance, spam.
CRYPTO_PHRASES = [
    ("bitcoin to the moon 🚀", "positive"),
    ("HODL, bottom is in, time to long btc", "positive"),
    ("$ETH breaking out, very bullish here", "positive"),
    ("just bought the dip, wagmi", "positive"),
    ("new ATH incoming, loading up more $SOL", "positive"),
    ("rekt again, another rug pull", "negative"),
    ("this coin is a scam, the devs dumped on us", "negative"),
    ("btc breaking down, going to 10k, bearish", "negative"),
    ("got liquidated on my long, I'm done with crypto", "negative"),
    ("exchange froze withdrawals and my funds are gone", "negative"),
    ("Bitcoin is trading at $64,000 today", "neutral"),
    ("What is the best wallet for storing ETH?", "neutral"),
    ("SEC to announce its decision on ETF applications next week", "neutral"),
    ("Ethereum's next network upgrade is scheduled for March", "neutral"),
]
# What the bundled model still gets wrong (MODEL_CARD.md, Limits): strict, so that a model that
# gets one right makes its test fail until the entry is removed here
KNOWN_MISSES = {
    "bitcoin to the moon 🚀": "neutral: 'moon' is literal in TweetEval's tweets, and crypto "
    "posts say little about whether it takes a stance",
    "just bought the dip, wagmi": "neutral: wagmi and buying the dip are read as no stance",
    "new ATH incoming, loading up more $SOL": "neutral: ATH and loading up are read as news",
    "What is the best wallet for storing ETH?": "positive: 'best' outweighs the question",
}


def _cases(misses: dict[str, str]) -> list:
    return [
        pytest.param(
            text,
            label,
            marks=[pytest.mark.xfail(strict=True, reason=misses[text])] if text in misses else [],
        )
        for text, label in CRYPTO_PHRASES
    ]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> registry.Classifier:
    return registry.Classifier.load(tmp_path_factory.mktemp("home"), registry.BUNDLED)


@pytest.mark.parametrize(("text", "expected"), _cases(KNOWN_MISSES))
def test_bundled_model_knows_crypto_vocabulary(bundled, text, expected):
    _check(bundled, text, expected)


@pytest.mark.parametrize(("text", "expected"), _cases(KNOWN_MISSES))
def test_text_stripped_by_its_source_keeps_its_label(bundled, text, expected):
    """Some sources deliver posts lower-cased without punctuation, emoji or links."""
    _check(bundled, strip_text(text), expected)


def _check(classifier: registry.Classifier, text: str, expected: str) -> None:
    (prediction,) = classifier.classify([text])
    assert prediction.label == expected, (text, prediction)


def test_stripped_seed_posts_are_classified_about_as_well(bundled):
    seed = load_seed("test")
    labels = np.array(seed.labels)

    def macro_recall(texts):
        predicted = bundled.probabilities(texts).argmax(axis=1)
        return np.mean([np.mean(predicted[labels == k] == k) for k in range(3)])

    as_written, stripped = macro_recall(seed.texts), macro_recall(map(strip_text, seed.texts))
    assert stripped > 0.7 and as_written - stripped < 0.05, (as_written, stripped)


def test_a_posts_answer_does_not_depend_on_its_batch(bundled):
    """Bit for bit: a batch's matrix products once summed in another order than one post's."""
    texts = [t for t, _ in CRYPTO_PHRASES] + load_seed("test").texts[:100]
    alone = np.vstack([bundled.probabilities([t]) for t in texts])
    together = bundled.probabilities(texts)
    shuffled = bundled.probabilities(texts[::-1] + ["another post entirely"] * 5)[: len(texts)]
    assert np.array_equal(alone, together)
    assert np.array_equal(alone, shuffled[::-1])
    in_sevens = [bundled.probabilities(texts[i : i + 7]) for i in range(0, len(texts), 7)]
    assert np.array_equal(alone, np.vstack(in_sevens))


def test_stockwits_cashtags_clean_to_their_ticker():
    assert clean_text("$BTC.X and $ETH.X up, $SPY down") == "btc and eth up, spy down"


def _write_tweeteval(folder: Path, rows: list[tuple[str, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (folder / f"{split}_text.txt").write_text("\n".join(t for t, _ in rows) + "\n")
        (folder / f"{split}_labels.txt").write_text("\n".join(str(k) for _, k in rows) + "\n")


def _write_tagged(path: Path) -> None:
    rows = [
        ("2022-07-10 10:00:00+00:00", "BTC", "bullish", "$BTC.X moon soon, loading more"),
        ("2022-07-10 10:01:00+00:00", "BTC", "bearish", "$BTC.X dumping hard, short it"),
        ("2022-07-10 10:02:00+00:00", "BTC", "", "$BTC.X what do you think?"),
        ("2022-07-10 10:03:00+00:00", "BTC", "bearish", "$BTC.X dumping hard, short it"),
        ("2022-07-11 10:00:00+00:00", "ETH", "bullish", "$ETH.X breakout, so bullish"),
        ("2022-07-11 10:01:00+00:00", "ETH", "bearish", "$ETH.X rug pull, scam coin"),
    ]
    lines = ["created_at,symbol,tag,text"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def test_tagged_posts_keep_tags_only_once_per_text(tmp_path):
    _write_tagged(tmp_path / "tagged.csv")
    tagged = load_posts(tmp_path / "tagged.csv")[0]
    assert len(tagged) == 4  # the untagged post and the repeat are left out
    assert tagged.before("2022-07-11").tags == [1, 0]
    assert tagged.since("2022-07-11").days == ["2022-07-11", "2022-07-11"]
    (tmp_path / "bad.csv").write_text("created_at,symbol,tag,text\n2022-07-10,BTC,meh,x\n")
    with pytest.raises(UserError, match=r"bad.csv, line 2: tag 'meh'"):
        load_posts(tmp_path / "bad.csv")
    (tmp_path / "cols.csv").write_text("created_at,text\n")
    with pytest.raises(UserError, match="missing column"):
        load_posts(tmp_path / "cols.csv")


def test_untagged_posts_are_read_apart_once_per_text(tmp_path):
    _write_tagged(tmp_path / "posts.csv")
    with (tmp_path / "posts.csv").open("a") as out:
        out.write("2022-07-11 10:02:00+00:00,BTC,,$BTC.X what do you think?\n")  # a repeat
        out.write("2022-07-12 10:03:00+00:00,ETH,,  $ETH.X 1200 again  \n")
        out.write("2022-07-12 10:04:00+00:00,ETH,,   \n")  # no text
    untagged = load_posts(tmp_path / "posts.csv")[1]
    assert untagged.texts == ["$BTC.X what do you think?", "$ETH.X 1200 again"]
    assert untagged.days == ["2022-07-10", "2022-07-12"]  # a repeat keeps its first day
    later = untagged.since("2022-07-11")
    assert (later.texts, later.days, later.source) == (
        ["$ETH.X 1200 again"],
        ["2022-07-12"],
        "posts.csv:untagged:>=2022-07-11",
    )
    (tmp_path / "bad.csv").write_text("created_at,symbol,tag,text\nyesterday,BTC,,x\n")
    with pytest.raises(UserError, match=r"bad.csv, line 2: created_at 'yesterday'"):
        load_posts(tmp_path / "bad.csv")


def test_balanced_polarity_weighs_both_tags_equally():
    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]])
    result = balanced_polarity([1, 0, 0, 0], probs)
    assert result["recall_bullish"] == 1.0 and result["recall_bearish"] == pytest.approx(1 / 3)
    assert result["balanced_polarity"] == pytest.approx(2 / 3)
    with pytest.raises(UserError, match="bullish and posts tagged bearish"):
        balanced_polarity([1, 1], probs[:2])


def test_finetuning_refuses_one_sided_tags_before_it_starts(ecoin_home, tmp_path):
    labels = {"negative": 0, "neutral": 1, "positive": 2}
    _write_tweeteval(tmp_path / "te", [(t, labels[k]) for t, k in CRYPTO_PHRASES])
    rows = [
        "2022-07-10 10:00:00+00:00,BTC,bullish,$BTC.X moon soon",
        "2022-07-11 10:00:00+00:00,BTC,bearish,$BTC.X dumping",
    ]
    (tmp_path / "one-sided.csv").write_text("created_at,symbol,tag,text\n" + "\n".join(rows))
    with pytest.raises(UserError, match="needs both bullish and bearish posts before 2022-07-11"):
        finetune_and_register(
            ecoin_home, str(tmp_path / "te"), tmp_path / "one-sided.csv", work=tmp_path / "work"
        )
    assert not (tmp_path / "work").exists()
    assert registry.versions(ecoin_home) == [registry.bundled_version()]


@pytest.mark.slow  # trains a model for many seconds
def test_finetuning_stores_a_model_with_its_own_encoder_that_serves(ecoin_home, tmp_path):
    tiny = [(t, {"negative": 0, "neutral": 1, "positive": 2}[k]) for t, k in CRYPTO_PHRASES]
    _write_tweeteval(tmp_path / "te", tiny)
    _write_tagged(tmp_path / "tagged.csv")
    lines: list[str] = []

    def finetune_tiny() -> dict:
        return finetune_and_register(
            ecoin_home,
            str(tmp_path / "te"),
            tmp_path / "tagged.csv",
            FinetuneConfig(layers=1, epochs=1, batch_size=8),
            work=tmp_path / "work",
            progress=lines.append,
            seed_repeats=0,
        )

    result = finetune_tiny()
    assert result["crypto_polarity"]["n"] == 2  # the last day is held out
    assert any("epoch 1/1" in line for line in lines)
    folder = registry.models_dir(ecoin_home) / result["version"]
    assert (folder / "encoder.onnx").exists()
    stored_info = json.loads((folder / "model.json").read_text())
    assert stored_info["encoder_id"].startswith("ecoin-crypto-minilm-L1-int8-")
    # the one untagged post before the held-out day counts for stance, beside the 2 tagged ones
    stance = stored_info["meta"]["stance"]
    assert (stance["tagged"], stance["untagged"]) == (2, 1)
    # a model fine-tuned on a dozen posts is worse than the bundled one: stored, not active
    bundled = registry.bundled_version()
    assert result["active"] is False and result["bentoml_tag"] is None
    assert result["gate"]["active_version"] == bundled and result["gate"]["reasons"]
    assert registry.active_version(ecoin_home) == bundled
    tag = activate_version(ecoin_home, result["version"], force=True)
    classifier = registry.Classifier.load(ecoin_home)
    assert classifier.version == result["version"]
    assert classifier.encoder.graph == folder / "encoder.onnx"
    texts = [t for t, _ in tiny]
    stored = registry.Classifier.from_bento(
        Path(use_store(ecoin_home).models.get(tag).path), threads=1
    )
    assert np.allclose(stored.probabilities(texts), classifier.probabilities(texts))
    # a second run with the same configuration resumes from the checkpoint: no more epochs
    lines.clear()
    again = finetune_tiny()
    assert any("resuming after epoch 1" in line for line in lines)
    assert not any(line.startswith("epoch 1/1 step") for line in lines)
    assert np.allclose(
        registry.Classifier.load(ecoin_home, again["version"]).probabilities(texts),
        classifier.probabilities(texts),
        atol=1e-6,
    )
