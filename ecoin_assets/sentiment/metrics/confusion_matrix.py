"""Confusion matrix: [i][j] counts examples with reference labels[i] and prediction labels[j]."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Confusion matrix over `labels`: rows are true labels, columns predicted labels, both in the order
of `labels`; entry [i][j] = |{k: reference_k = labels[i] and prediction_k = labels[j]}|. Examples
whose reference or prediction is not in `labels` are not counted (as scikit-learn's
confusion_matrix).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
    labels (list of int, optional): row and column order; defaults to the sorted union of the
        references and predictions.
Returns:
    confusion_matrix (list of list of int): len(labels) rows of len(labels) counts.
"""


class ConfusionMatrix(evaluate.Metric):
    """Counts of (true label, predicted label) pairs."""

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
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        if references.size == 0:
            raise ValueError("confusion_matrix is undefined on zero examples: pass at least one")
        if labels is None:
            labels = np.union1d(references, predictions)
        labels = np.asarray(labels, dtype=np.int64)
        if labels.ndim != 1 or labels.size == 0 or np.unique(labels).size != labels.size:
            raise ValueError(
                f"labels must be a non-empty list of distinct ints, got {labels.tolist()}"
            )
        is_true = (references[:, None] == labels[None, :]).astype(np.int64)
        is_predicted = (predictions[:, None] == labels[None, :]).astype(np.int64)
        # (labels x examples) @ (examples x labels): [i][j] = examples with true i, predicted j
        return {"confusion_matrix": (is_true.T @ is_predicted).tolist()}
