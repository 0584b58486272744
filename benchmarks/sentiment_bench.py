"""Sentiment quality and speed on real tweets.

Trains the ecoin model and the TF-IDF + logistic regression baseline on TweetEval's train
split (`../shared/data/tweeteval_sentiment`, or the folder given as the first argument),
evaluates them and VADER on its validation split, and evaluates the out-of-the-box models
(the bundled one, and one trained on the seed set only) on the same split. Prints
macro-averaged recall (TweetEval's official metric), macro-F1, accuracy and posts/second of
classification (cleaning included) on this machine.

    .venv/bin/python benchmarks/sentiment_bench.py [FOLDER]
"""

from __future__ import annotations

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


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
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
    print(f"\nTweetEval validation split, n={len(val)}, {os.cpu_count()} CPU cores\n")
    print("| model | macro-recall | macro-F1 | accuracy | posts/s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['macro_recall']:.3f} | {r['macro_f1']:.3f} | "
            f"{r['accuracy']:.3f} | {r['posts_per_second']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
