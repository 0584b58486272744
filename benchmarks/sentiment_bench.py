"""Sentiment quality and speed on real tweets.

Trains the ecoin model and the TF-IDF + logistic regression baseline on TweetEval's train
split (`../shared/data/tweeteval_sentiment`, or the folder given as the first argument),
evaluates them and VADER on its validation split, and evaluates the out-of-the-box models
(the bundled one, and one trained on the seed set only) on the same split. Prints
macro-averaged recall (TweetEval's official metric), macro-F1, accuracy and posts/second of
classification (cleaning included) on this machine.

`--layers 1,2,3,4,5,6` instead trains and evaluates the ecoin model once per encoder depth
(the first N transformer layers of all-MiniLM-L6-v2; the default encoder keeps 3) and prints
its quality beside the milliseconds one core takes to encode a post.

    .venv/bin/python benchmarks/sentiment_bench.py [FOLDER] [--layers 1,2,3,4,5,6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tweeteval_sentiment"
)


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
    from ecoin_assets.sentiment import registry
    from ecoin_assets.sentiment.encoder import SentenceEncoder, encoder_identity
    from ecoin_assets.sentiment.model import train
    from ecoin_assets.tweets.preprocess import clean_text

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--layers", type=_depths, help="encoder depths to compare (1-6), e.g. 1,2,3,4,5,6"
    )
    args = parser.parse_args()
    folder = args.folder
    if not (folder / "train_text.txt").exists():
        print(f"no TweetEval data in {folder}: nothing to benchmark (the real data is not here)")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from ecoin_assets.sentiment import data, registry
    from ecoin_assets.sentiment.baselines import TfidfBaseline, VaderBaseline
    from ecoin_assets.sentiment.encoder import SentenceEncoder
    from ecoin_assets.sentiment.model import train

    train_set = data.load_split(folder, "train")
    val = data.load_split(folder, "val")
    if args.layers:
        rows = _depth_sweep(train_set, val, args.layers)
        _print_table(rows, len(val), " encode ms/post, 1 core |")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        encoder = SentenceEncoder(registry.encoder_cache(Path(tmp)))
        candidates = []
        started = time.perf_counter()
        model = train(train_set, encoder)
        print(f"trained on {len(train_set)} posts in {time.perf_counter() - started:.0f} s")
        candidates.append(("ecoin (trained on TweetEval train)", model))
        candidates.append(("ecoin bundled (out of the box)", registry.load(Path(tmp))))
        candidates.append(("ecoin trained on the seed set", train(data.load_seed(), encoder)))
        for name, candidate in candidates:
            candidate.predict_proba(val.texts[:64], encoder)  # warm-up
            started = time.perf_counter()
            predictions = candidate.predict_proba(val.texts, encoder).argmax(axis=1)
            rows.append(
                _row(name, val.labels, predictions, time.perf_counter() - started, len(val))
            )
        for baseline in (TfidfBaseline().fit(train_set.texts, train_set.labels), VaderBaseline()):
            started = time.perf_counter()
            predictions = baseline.predict(val.texts)
            seconds = time.perf_counter() - started
            rows.append(
                _row(f"baseline: {baseline.name}", val.labels, predictions, seconds, len(val))
            )
    _print_table(rows, len(val))
    return 0


if __name__ == "__main__":
    sys.exit(main())
