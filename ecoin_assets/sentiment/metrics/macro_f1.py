"""Macro F1: the mean over `labels` of F1_l = 2 TP_l / (references_l + predictions_l), 0 if 0/0."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Macro-averaged F1. For each label l of `labels`, F1_l = 2 TP_l / (|{i: reference_i = l}| +
|{i: prediction_i = l}|), the harmonic mean of precision and recall, and 0.0 for a label that is
neither referenced nor predicted; the score is the unweighted mean of F1_l over all of `labels`
(as scikit-learn's f1_score(average="macro", zero_division=0)).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    labels (list of int, optional): the labels to average over; defaults to the sorted union of
        the references and predictions.
Returns:
    macro_f1 (float): in [0, 1].
"""


def _per_label_counts(predictions, references, labels):
    """(true positives, references, predictions) per label, in the order of `labels`."""
    predictions = np.asarray(predictions, dtype=np.int64)
    references = np.asarray(references, dtype=np.int64)
    if references.size == 0:
        raise ValueError("macro_f1 is undefined on zero examples: pass at least one")
    if labels is None:
        labels = np.union1d(references, predictions)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
        raise ValueError(f"labels must be a non-empty list of distinct ints, got {labels.tolist()}")
    is_true = references[:, None] == labels[None, :]
    is_predicted = predictions[:, None] == labels[None, :]
    return (is_true & is_predicted).sum(axis=0), is_true.sum(axis=0), is_predicted.sum(axis=0)


class MacroF1(evaluate.Metric):
    """Unweighted mean of the per-label F1 scores."""

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
        true_positives, support, predicted = _per_label_counts(predictions, references, labels)
        denominator = support + predicted
        f1 = np.divide(
            2 * true_positives,
            denominator,
            out=np.zeros(denominator.shape, dtype=float),
            where=denominator > 0,
        )
        return {"macro_f1": float(np.mean(f1))}
