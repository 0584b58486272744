"""Macro recall: the mean over labels with at least one reference of TP / (number of references)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Macro-averaged recall (TweetEval's official sentiment metric). For each label l of `labels`,
recall_l = |{i: reference_i = l and prediction_i = l}| / |{i: reference_i = l}|; the score is
the unweighted mean of recall_l over the labels that occur in the references. A label that is
never predicted counts with recall 0; a label without references (recall undefined) is left out.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    labels (list of int, optional): the label set; defaults to the sorted union of the
        references and predictions.
Returns:
    macro_recall (float): in [0, 1]; 0.0 when no label of `labels` occurs in the references.
"""


def _per_label_counts(predictions, references, labels):
    """(true positives, references) per label, in the order of `labels`."""
    predictions = np.asarray(predictions, dtype=np.int64)
    references = np.asarray(references, dtype=np.int64)
    if references.size == 0:
        raise ValueError("macro_recall is undefined on zero examples: pass at least one")
    if labels is None:
        labels = np.union1d(references, predictions)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
        raise ValueError(f"labels must be a non-empty list of distinct ints, got {labels.tolist()}")
    is_true = references[:, None] == labels[None, :]
    is_predicted = predictions[:, None] == labels[None, :]
    return (is_true & is_predicted).sum(axis=0), is_true.sum(axis=0)


class MacroRecall(evaluate.Metric):
    """Unweighted mean of the per-label recalls."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            format="numpy",
        )

    def _compute(self, predictions, references, labels=None) -> dict:
        true_positives, support = _per_label_counts(predictions, references, labels)
        present = support > 0
        if not present.any():
            return {"macro_recall": 0.0}
        return {"macro_recall": float(np.mean(true_positives[present] / support[present]))}
