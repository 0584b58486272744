"""Sentiment quality and speed on real posts: general tweets and crypto posts.

For the bundled model (out of the box), a model trained the frozen-encoder way on TweetEval's
train split only (the recipe of the bundled model before the crypto-aware one; deterministic,
so it is that model) and VADER, prints:

- TweetEval validation macro-recall (`../shared/data/tweeteval_sentiment`, or `--tweeteval`),
  and the same on the validation posts lower-cased with links, punctuation and emoji stripped;
- balanced polarity on the StockTwits BTC/ETH posts of 2022-07-15 tagged by their authors
  (`../shared/data/crypto_sentiment`, or `--crypto`; the bundled model never trained on that
  day): the mean recall of bullish -> positive and bearish -> negative, deciding by p_positive
  against p_negative (VADER: its pos against neg score);
- seed test macro-recall (420 posts shipped with ecoin, most about crypto, 120 of them slang);
- 3-class macro-recall on 120 StockTwits posts of 2022-07-15 that an ecoin engineer labelled
  by the model card's guideline (`benchmarks/data/`: the labels, keyed by a hash of the text),
  as written and stripped (the held-out bitcoin tweets of the crypto-aware model issue come
  lower-cased without punctuation);
- the share of the crypto set's untagged posts of 2022-07-15 (no label: news, alerts, prices,
  questions and untagged opinions; the bundled model trained on whether the posts of the days
  before were tagged) that each model calls neutral: a model that learned "crypto post, so it
  has a stance" shows it here, where no labelled figure does;
- posts/s of classification on this machine (cleaning included), the bundled model's speed as
  a multiple of the TweetEval-only model's measured in the same run, and where the bundled
  model's time goes.

`--layers 1,2,3,4,5,6` instead trains and evaluates the frozen-encoder model once per encoder
depth (the first N transformer layers of all-MiniLM-L6-v2) and prints its quality beside the
milliseconds one core takes to encode a post.

    .venv/bin/python benchmarks/sentiment_bench.py [--tweeteval DIR] [--crypto CSV] [--layers ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DATA = SHARED_DATA / "tweeteval_sentiment"
DEFAULT_CRYPTO = SHARED_DATA / "crypto_sentiment" / "stocktwits_btc_eth_2022-07-10_15.csv"
HOLDOUT_DAY = "2022-07-15"
HAND_LABELS = Path(__file__).parent / "data" / "stocktwits_2022-07-15_hand_labels.csv"


def _hand_labelled(texts) -> tuple[list[str], list[int]]:
    """The crypto posts an engineer labelled (HAND_LABELS), found among `texts` by hash."""
    import csv
    import hashlib

    from ecoin_assets.sentiment.data import LABELS

    with HAND_LABELS.open(newline="") as handle:
        wanted = {row["text_sha256_16"]: row["label"] for row in csv.DictReader(handle)}
    found = {hashlib.sha256(t.encode()).hexdigest()[:16]: t for t in texts}
    keys = [k for k in wanted if k in found]
    return [found[k] for k in keys], [LABELS.index(wanted[k]) for k in keys]


def _row(name: str, labels, predictions, seconds: float, n: int) -> dict:
    from ecoin_assets.sentiment.evaluation import compute_metrics

    metrics = compute_metrics(labels, list(predictions))
    return {"model": name, **metrics, "posts_per_second": n / max(seconds, 1e-9)}


def _print_table(rows: list[dict], n: int, extra: str = "") -> None:
    print(f"\nTweetEval validation split, n={n}, {os.cpu_count()} CPU cores\n")
    print(f"| model | macro-recall | macro-F1 | accuracy | posts/s |{extra}")
    print("|---|---|---|---|---|" + "---|" * bool(extra))
    for r in rows:
        print(
            f"| {r['model']} | {r['macro_recall']:.3f} | {r['macro_f1']:.3f} | "
            f"{r['accuracy']:.3f} | {r['posts_per_second']:.0f} |"
            + (f" {r['encode_ms']:.2f} |" if extra else "")
        )


def _depth_sweep(train_set, val, depths: list[int]) -> list[dict]:
    """The ecoin model trained once per encoder depth; encode_ms: one post on one core."""
    from ecoin_assets.cleaning import clean_text
    from ecoin_assets.sentiment import registry
    from ecoin_assets.sentiment.encoder import SentenceEncoder, encoder_identity
    from ecoin_assets.sentiment.model import train

    rows = []
    clean = [clean_text(t) for t in val.texts[:500]]
    with tempfile.TemporaryDirectory() as tmp:
        for layers in depths:
            cache, identity = registry.encoder_cache(Path(tmp)), encoder_identity(layers)
            encoder = SentenceEncoder(cache, identity=identity)
            model = train(train_set, encoder)
            started = time.perf_counter()
            predictions = model.predict_proba(val.texts, encoder).argmax(axis=1)
            seconds = time.perf_counter() - started
            row = _row(
                f"{identity} ({layers} of 6 layers)", val.labels, predictions, seconds, len(val)
            )
            one_core = SentenceEncoder(cache, threads=1, identity=identity)
            started = time.perf_counter()
            one_core.encode(clean)
            rows.append(row | {"encode_ms": (time.perf_counter() - started) / len(clean) * 1e3})
            print(f"{identity}: macro-recall {row['macro_recall']:.3f}", flush=True)
    return rows


def _depths(text: str) -> list[int]:
    depths = [int(n) for n in text.split(",") if n.strip().isdigit()]
    if not depths or len(depths) != len(text.split(",")) or not all(1 <= n <= 6 for n in depths):
        raise argparse.ArgumentTypeError(f"{text!r}: give layer counts 1-6, e.g. 1,2,3,4,5,6")
    return depths


def _posts_per_second(predict, texts, repeats: int = 3) -> tuple[float, float]:
    """Median and spread (max - min) of posts/s over `repeats` timed runs, after a warm-up."""
    predict(texts[:64])
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    rates.sort()
    return rates[len(rates) // 2], rates[-1] - rates[0]


class _Vader:
    """VADER as the other models are measured: its documented label (compound >= 0.05
    positive, <= -0.05 negative, else neutral) for macro-recall, and its neg/neu/pos scores as
    the probabilities for polarity."""

    def __init__(self) -> None:
        from ecoin_assets.sentiment.baselines import VaderBaseline

        self.baseline = VaderBaseline()

    def labels(self, texts):
        return self.baseline.predict(list(texts))

    def probabilities(self, texts):
        return self.baseline.scores(list(texts))


def _time_split(classifier, texts) -> dict[str, float]:
    """Milliseconds per post of each stage of the bundled model, on this machine."""
    from ecoin_assets.cleaning import clean_text

    out, n = {}, len(texts)
    started = time.perf_counter()
    clean = [clean_text(t) for t in texts]
    out["cleaning"] = (time.perf_counter() - started) / n * 1e3
    encoder = classifier.encoder
    started = time.perf_counter()
    encoder._tokenizer.encode_batch(clean)
    out["tokenizing"] = (time.perf_counter() - started) / n * 1e3
    started = time.perf_counter()
    classifier.probabilities(clean, clean=True)
    out["encoding + head, 2 threads"] = (time.perf_counter() - started) / n * 1e3 - out[
        "tokenizing"
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tweeteval", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--crypto", type=Path, default=DEFAULT_CRYPTO)
    parser.add_argument(
        "--layers", type=_depths, help="encoder depths to compare (1-6), e.g. 1,2,3,4,5,6"
    )
    args = parser.parse_args()
    folder = args.tweeteval
    if not (folder / "train_text.txt").exists():
        print(f"no TweetEval data in {folder}: nothing to benchmark (the real data is not here)")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    import numpy as np

    from ecoin_assets.cleaning import strip_text
    from ecoin_assets.sentiment import data, registry
    from ecoin_assets.sentiment.crypto_data import load_posts
    from ecoin_assets.sentiment.encoder import SentenceEncoder
    from ecoin_assets.sentiment.evaluation import balanced_polarity, compute_metrics
    from ecoin_assets.sentiment.model import train

    train_set = data.load_split(folder, "train")
    val = data.load_split(folder, "val")
    if args.layers:
        rows = _depth_sweep(train_set, val, args.layers)
        _print_table(rows, len(val), " encode ms/post, 1 core |")
        return 0
    tagged, untagged, hand = None, [], ([], [])
    if args.crypto.exists():
        posts, untagged_posts = load_posts(args.crypto)
        untagged = untagged_posts.since(HOLDOUT_DAY).texts
        tagged = posts.since(HOLDOUT_DAY)
        hand = _hand_labelled(posts.texts + untagged_posts.texts)
    neutral = data.LABELS.index("neutral")
    seed = data.load_seed("test")
    stripped = [strip_text(t) for t in val.texts]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        bundled = registry.Classifier.load(home, registry.BUNDLED)
        started = time.perf_counter()
        encoder = SentenceEncoder(registry.encoder_cache(home))
        general = registry.Classifier(train(train_set, encoder), encoder)
        print(f"trained the TweetEval-only model in {time.perf_counter() - started:.0f} s")
        vader = _Vader()
        models = [
            (f"ecoin bundled ({bundled.version})", bundled.probabilities, None),
            ("TweetEval only (frozen encoder, the previous recipe)", general.probabilities, None),
            ("VADER", vader.probabilities, vader.labels),
        ]
        rows = []
        for name, probabilities, labels in models:
            labels = labels or (lambda texts, f=probabilities: f(list(texts)).argmax(1))
            row = {"model": name}
            row["val"] = compute_metrics(val.labels, list(labels(val.texts)))
            row["stripped"] = compute_metrics(val.labels, list(labels(stripped)))
            row["seed"] = compute_metrics(seed.labels, list(labels(seed.texts)))
            if tagged is not None:
                row["polarity"] = balanced_polarity(tagged.tags, probabilities(tagged.texts))
            if hand[0]:
                row["hand"] = compute_metrics(hand[1], list(labels(hand[0])))
                hand_stripped = [strip_text(t) for t in hand[0]]
                row["hand_stripped"] = compute_metrics(hand[1], list(labels(hand_stripped)))
            if untagged:
                row["neutral"] = float(np.mean(np.asarray(labels(untagged)) == neutral))
            row["rate"], row["spread"] = _posts_per_second(probabilities, val.texts)
            rows.append(row)
            print(f"{name}: done", flush=True)
        split = _time_split(bundled, val.texts)
    print(
        f"\n{os.cpu_count()} CPU cores; TweetEval val n={len(val)}, seed test n={len(seed)}", end=""
    )
    print(f", StockTwits {HOLDOUT_DAY} n={len(tagged)}" if tagged is not None else "", end="")
    print(f", hand-labelled StockTwits n={len(hand[0])}" if hand[0] else "", end="")
    print(f", untagged StockTwits {HOLDOUT_DAY} n={len(untagged)}" if untagged else "")
    print(
        "\n| model | TweetEval val macro-recall | same, stripped | StockTwits balanced polarity "
        "| seed test macro-recall | StockTwits hand-labelled macro-recall | same, stripped "
        "| untagged StockTwits called neutral | posts/s (median of 3, spread) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        polarity = f"{r['polarity']['balanced_polarity']:.3f}" if "polarity" in r else "n/a"
        hand_recall = " | ".join(
            f"{r[k]['macro_recall']:.3f}" if k in r else "n/a" for k in ("hand", "hand_stripped")
        )
        share = f"{r['neutral']:.1%}" if "neutral" in r else "n/a"
        recalls = [r[k]["macro_recall"] for k in ("val", "stripped", "seed")]
        print(
            f"| {r['model']} | {recalls[0]:.3f} | {recalls[1]:.3f} | {polarity} "
            f"| {recalls[2]:.3f} | {hand_recall} | {share} | {r['rate']:.0f} ({r['spread']:.0f}) |"
        )
    print(f"\nbundled / TweetEval-only speed, same run: {rows[0]['rate'] / rows[1]['rate']:.2f}x")
    print("bundled model, ms per post: " + ", ".join(f"{k} {v:.3f}" for k, v in split.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
