"""Evaluation of sentiment predictions: macro recall (TweetEval's official metric), macro F1,
accuracy, per-class recall and the confusion matrix.

The metrics are HuggingFace `evaluate` modules kept in this repository (`metrics/*.py`) and
loaded by path, so nothing is fetched from the Hub: `evaluate.load("accuracy")` would need the
network. `evaluate` is imported on the first `compute_metrics` call only (it pulls in `datasets`
and, when installed, `transformers` and `torch`: seconds), with the offline switches set. The
modules are loaded once per process; loading copies each script into evaluate's modules cache
(under `HF_HOME`), or, where that cache cannot be written (read-only or missing HOME), into a
temporary folder that is removed as soon as the modules are imported.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ecoin_assets.errors import UserError
from ecoin_assets.sentiment.data import LABELS

if TYPE_CHECKING:
    import evaluate

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
METRIC_NAMES = ("accuracy", "confusion_matrix", "macro_f1", "macro_recall", "per_class_recall")
_OFFLINE_VARIABLES = ("HF_EVALUATE_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
# a loaded module keeps the examples of a `compute` call in its own buffer: one call at a time
_COMPUTE_LOCK = threading.Lock()


def compute_metrics(references: Sequence[int], predictions: Sequence[int]) -> dict[str, Any]:
    """Scores of `predictions` against `references` (label ids 0, 1, 2 as in `LABELS`).

    Returns `n`, `macro_recall`, `macro_f1`, `accuracy`, `recall_<label>` for each of `LABELS`
    (floats) and `confusion_matrix` (rows true label, columns predicted label, in label-id
    order, ints). Macro recall averages over the labels that occur in `references`; macro F1
    over all three. Raises `UserError` when the lengths differ, there are no examples, or an id
    is not 0, 1 or 2.
    """
    references_ids = _label_ids(references, "references")
    predictions_ids = _label_ids(predictions, "predictions")
    if references_ids.size != predictions_ids.size:
        raise UserError(
            f"got {references_ids.size} references but {predictions_ids.size} predictions: "
            "pass one prediction per reference"
        )
    if references_ids.size == 0:
        raise UserError("no examples to evaluate: references and predictions are empty")
    labels = list(range(len(LABELS)))
    inputs = {"references": references_ids, "predictions": predictions_ids}
    with _COMPUTE_LOCK:
        accuracy = load_metric("accuracy").compute(**inputs)["accuracy"]
        macro_recall = load_metric("macro_recall").compute(**inputs, labels=labels)
        macro_f1 = load_metric("macro_f1").compute(**inputs, labels=labels)
        recalls = load_metric("per_class_recall").compute(**inputs, labels=labels)
        matrix = load_metric("confusion_matrix").compute(**inputs, labels=labels)
    return {
        "n": int(references_ids.size),
        "macro_recall": float(macro_recall["macro_recall"]),
        "macro_f1": float(macro_f1["macro_f1"]),
        "accuracy": float(accuracy),
        **{
            f"recall_{name}": float(recall)
            for name, recall in zip(LABELS, recalls["per_class_recall"], strict=True)
        },
        "confusion_matrix": [[int(count) for count in row] for row in matrix["confusion_matrix"]],
    }


def load_metric(name: str) -> evaluate.EvaluationModule:
    """The `evaluate` module `metrics/<name>.py`, `name` one of `METRIC_NAMES`.

    The modules are loaded together, once per process, and keep the examples of a `compute` call
    in memory; as they hold state during a call, compute with one from one thread at a time.
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}: expected one of {', '.join(METRIC_NAMES)}")
    return _load_metrics()[name]


def _label_ids(values: Sequence[int], name: str) -> np.ndarray:
    """`values` as an int64 array after checking that each is a label id of `LABELS`."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise UserError(f"{name} must be a flat sequence of label ids, got shape {array.shape}")
    if array.size == 0:
        return array.astype(np.int64)
    allowed = ", ".join(f"{label_id} ({label})" for label_id, label in enumerate(LABELS))
    if array.dtype.kind not in "iu":
        raise UserError(f"{name} must be integer label ids, one of {allowed}; got {array.dtype}")
    outside = np.flatnonzero((array < 0) | (array >= len(LABELS)))
    if outside.size:
        first = int(outside[0])
        raise UserError(
            f"{name} has {outside.size} label id(s) that are not one of {allowed}: "
            f"the first is {array[first]} at position {first}"
        )
    return array.astype(np.int64)


@functools.cache
def _load_metrics() -> dict[str, evaluate.EvaluationModule]:
    """All metric modules, loaded with the offline switches on and nothing left behind on disk
    but the script copies in evaluate's modules cache (none where that cache is read-only)."""
    for variable in _OFFLINE_VARIABLES:
        os.environ.setdefault(variable, "1")
    import evaluate

    # `load` copies each script into `config.HF_MODULES_CACHE` (HF_MODULES_CACHE, else under
    # HF_HOME) and imports it from there. The scratch folder stands in for a cache that cannot be
    # written, and takes the empty folders that `load` makes for its on-disk example store
    # (`cache_dir`, unused with `keep_in_memory`). Neither is needed once the modules are
    # imported, so the folder goes at once: atexit would miss it, as the CLI and the test suite
    # end with `os._exit`.
    modules_cache = evaluate.config.HF_MODULES_CACHE
    with tempfile.TemporaryDirectory(prefix="ecoin-evaluate-") as scratch:
        if not _is_writable(Path(modules_cache)):
            evaluate.config.HF_MODULES_CACHE = Path(scratch) / "modules"
        try:
            return {
                name: evaluate.load(
                    str(METRICS_DIR / f"{name}.py"),
                    keep_in_memory=True,
                    cache_dir=str(Path(scratch) / "metrics"),
                )
                for name in METRIC_NAMES
            }
        finally:
            evaluate.config.HF_MODULES_CACHE = modules_cache


def _is_writable(folder: Path) -> bool:
    """Whether `folder` exists or can be created, and a file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def balanced_polarity(tags: Sequence[int], probabilities: np.ndarray) -> dict[str, Any]:
    """How well probabilities split posts tagged bullish (1) from bearish (0): a post counts as
    bullish when p_positive > p_negative. `balanced_polarity` is the mean of the two recalls
    (bullish -> positive, bearish -> negative), so the tags' mix does not move it."""
    tags_array = np.asarray(tags)
    if tags_array.size == 0 or set(np.unique(tags_array)) != {0, 1}:
        raise UserError("polarity needs posts tagged bullish and posts tagged bearish")
    bullish = probabilities[:, 2] > probabilities[:, 0]
    recall_bullish = float(np.mean(bullish[tags_array == 1]))
    recall_bearish = float(np.mean(~bullish[tags_array == 0]))
    return {
        "n": int(tags_array.size),
        "balanced_polarity": (recall_bullish + recall_bearish) / 2,
        "recall_bullish": recall_bullish,
        "recall_bearish": recall_bearish,
    }
