"""Accuracy: the fraction of examples whose prediction equals the reference."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy = (number of predictions equal to their reference) / (number of examples)."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted label ids.
    references (list of int): true label ids.
Returns:
    accuracy (float): in [0, 1].
"""


class Accuracy(evaluate.Metric):
    """Fraction of correct predictions."""

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

    def _compute(self, predictions, references) -> dict:
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        if references.size == 0:
            raise ValueError("accuracy is undefined on zero examples: pass at least one")
        return {"accuracy": float(np.mean(predictions == references))}
