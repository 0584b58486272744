"""Training and evaluation as the CLI and the Dagster assets run them."""

from __future__ import annotations

import time
from pathlib import Path

from ecoin_assets.sentiment import data as datasets
from ecoin_assets.sentiment import registry
from ecoin_assets.sentiment.encoder import SentenceEncoder
from ecoin_assets.sentiment.evaluation import compute_metrics
from ecoin_assets.sentiment.model import SentimentModel
from ecoin_assets.sentiment.model import train as fit


def evaluate_classifier(classifier: registry.Classifier, labelled: datasets.LabelledSet) -> dict:
    started = time.perf_counter()
    probabilities = classifier.probabilities(labelled.texts)
    seconds = time.perf_counter() - started
    metrics = compute_metrics(labelled.labels, probabilities.argmax(axis=1).tolist())
    return metrics | {
        "data": labelled.source,
        "model_version": classifier.version,
        "seconds": round(seconds, 3),
        "posts_per_second": round(len(labelled) / max(seconds, 1e-9), 1),
    }


def evaluate_model(home: Path, data: str, split: str, version: str | None = None) -> dict:
    labelled = datasets.resolve(data, split)
    return evaluate_classifier(registry.Classifier.load(home, version), labelled)


def _default_eval_split(data: str, train_split: str) -> str | None:
    folder = datasets.SEED_DIR if data == "seed" else Path(data).expanduser()
    present = datasets.splits(folder)
    return next((s for s in ("val", "test") if s in present and s != train_split), None)


def train_and_register(
    home: Path, data: str, split: str = "train", eval_split: str | None = None
) -> dict:
    """Train on `data`, evaluate on its held-out split, store and activate, register in
    BentoML. Returns what was done (version, training data, metrics)."""
    labelled = datasets.resolve(data, split)
    eval_split = eval_split or _default_eval_split(data, split)
    held_out = datasets.resolve(data, eval_split) if eval_split else None
    encoder = SentenceEncoder(registry.encoder_cache(home))
    model: SentimentModel = fit(labelled, encoder)
    result = {
        "version": model.version,
        "trained_on": labelled.source,
        "n_train": len(labelled),
        "train_seconds": model.meta["train_seconds"],
    }
    if held_out is not None:
        metrics = evaluate_classifier(registry.Classifier(model, encoder), held_out)
        model.meta["evaluation"] = metrics
        result |= {"evaluated_on": held_out.source, "metrics": metrics}
    registry.save(model, home)
    result["bentoml_tag"] = registry.register_bentoml(model, home, result.get("metrics"))
    return result
