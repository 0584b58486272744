"""Per-class recall: for each label l, TP_l / (number of references equal to l), 0 if none."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Recall of each label of `labels`, in that order: recall_l = |{i: reference_i = l and
prediction_i = l}| / |{i: reference_i = l}|, and 0.0 for a label without references.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    labels (list of int, optional): the labels to report, in order; defaults to the sorted
        union of the references and predictions.
Returns:
    per_class_recall (list of float): one recall per label, in the order of `labels`.
"""


def _per_label_counts(predictions, references, labels):
    """(true positives, references) per label, in the order of `labels`."""
    predictions = np.asarray(predictions, dtype=np.int64)
    references = np.asarray(references, dtype=np.int64)
    if references.size == 0:
        raise ValueError("per_class_recall is undefined on zero examples: pass at least one")
    if labels is None:
        labels = np.union1d(references, predictions)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
        raise ValueError(f"labels must be a non-empty list of distinct ints, got {labels.tolist()}")
    is_true = references[:, None] == labels[None, :]
    is_predicted = predictions[:, None] == labels[None, :]
    return (is_true & is_predicted).sum(axis=0), is_true.sum(axis=0)


class PerClassRecall(evaluate.Metric):
    """Recall of each label, in the order of `labels`."""

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
        recall = np.divide(
            true_positives, support, out=np.zeros(support.shape, dtype=float), where=support > 0
        )
        return {"per_class_recall": [float(value) for value in recall]}
