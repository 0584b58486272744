"""The sentiment metric modules (loaded by path, offline) and `compute_metrics`, against values
computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecoin_assets.errors import UserError
from ecoin_assets.sentiment.evaluation import (
    LABELS,
    METRIC_NAMES,
    METRICS_DIR,
    compute_metrics,
    load_metric,
)

REPO = Path(__file__).resolve().parents[2]

# 10 examples, all three classes, not symmetric (so macro F1 differs from macro recall):
#   true 0 (4 examples) predicted 0, 0, 0, 1  -> row [3, 1, 0]
#   true 1 (3 examples) predicted 1, 2, 0     -> row [1, 1, 1]
#   true 2 (3 examples) predicted 2, 2, 2     -> row [0, 0, 3]
REFERENCES = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTIONS = [0, 0, 0, 1, 1, 2, 0, 2, 2, 2]


def _compute(name: str, references, predictions, **kwargs) -> dict:
    return load_metric(name).compute(references=references, predictions=predictions, **kwargs)


def test_ten_examples_by_hand() -> None:
    result = compute_metrics(REFERENCES, PREDICTIONS)

    assert result["n"] == 10
    # recall: 3/4, 1/3, 3/3; macro = (9/12 + 4/12 + 12/12) / 3 = 25/36 = 0.6944
    assert result["recall_negative"] == pytest.approx(3 / 4)
    assert result["recall_neutral"] == pytest.approx(1 / 3)
    assert result["recall_positive"] == pytest.approx(1.0)
    assert result["macro_recall"] == pytest.approx(25 / 36)
    # predicted counts (column sums): 4, 2, 4; F1_l = 2 TP / (true_l + predicted_l):
    # 6/8, 2/5, 6/7; macro = (105 + 56 + 120) / 140 / 3 = 281/420 = 0.6690
    assert result["macro_f1"] == pytest.approx(281 / 420)
    # correct: 3 + 1 + 3 = 7 of 10
    assert result["accuracy"] == pytest.approx(0.7)
    assert result["confusion_matrix"] == [[3, 1, 0], [1, 1, 1], [0, 0, 3]]


def test_result_holds_plain_python_types() -> None:
    result = compute_metrics(np.array(REFERENCES), np.array(PREDICTIONS))

    assert set(result) == {
        "n",
        "macro_recall",
        "macro_f1",
        "accuracy",
        *(f"recall_{label}" for label in LABELS),
        "confusion_matrix",
    }
    assert type(result["n"]) is int
    for key in ("macro_recall", "macro_f1", "accuracy", "recall_neutral"):
        assert type(result[key]) is float
    assert all(type(count) is int for row in result["confusion_matrix"] for count in row)
    json.dumps(result)  # serialisable as is


def test_a_class_never_predicted_counts_with_recall_zero() -> None:
    # positive (2) is never predicted:
    #   true 0 -> 0, 0 ; true 1 -> 0, 1 ; true 2 -> 0, 1
    result = compute_metrics([0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 0, 1])

    # recall 2/2, 1/2, 0/2; macro = 1.5 / 3 = 0.5 (not 0.75: positive is averaged in)
    assert [result[f"recall_{label}"] for label in LABELS] == pytest.approx([1.0, 0.5, 0.0])
    assert result["macro_recall"] == pytest.approx(0.5)
    # predicted counts 4, 2, 0; F1: 2*2/(2+4) = 2/3, 2*1/(2+2) = 1/2, 0/(2+0) = 0
    # macro = (2/3 + 1/2 + 0) / 3 = 7/18
    assert result["macro_f1"] == pytest.approx(7 / 18)
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["confusion_matrix"] == [[2, 0, 0], [1, 1, 0], [1, 1, 0]]


def test_perfect_predictions() -> None:
    labels = [2, 0, 1, 1, 2, 0, 0]
    result = compute_metrics(labels, labels)

    assert result["n"] == 7
    for key in ("macro_recall", "macro_f1", "accuracy", *(f"recall_{x}" for x in LABELS)):
        assert result[key] == 1.0
    # 3 negative, 2 neutral, 2 positive on the diagonal
    assert result["confusion_matrix"] == [[3, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_confusion_matrix_rows_are_true_labels_and_columns_predicted() -> None:
    # three negative posts predicted positive, positive, neutral; one neutral predicted negative
    matrix = compute_metrics([0, 0, 0, 1], [2, 2, 1, 0])["confusion_matrix"]

    assert matrix[0] == [0, 1, 2]  # true negative: 0 -> negative, 1 -> neutral, 2 -> positive
    assert matrix[1] == [1, 0, 0]  # true neutral: 1 -> negative
    assert matrix[2] == [0, 0, 0]  # no positive posts
    # the `labels` order sets both the row and the column order
    reordered = _compute("confusion_matrix", [0, 0, 0, 1], [2, 2, 1, 0], labels=[2, 0, 1])
    assert reordered["confusion_matrix"] == [[0, 0, 0], [2, 0, 1], [0, 1, 0]]


def test_confusion_matrix_skips_examples_outside_labels() -> None:
    # (1, 5) and (5, 1) have a label outside [0, 1]: only (0, 0) is counted
    result = _compute("confusion_matrix", [0, 1, 5], [0, 5, 1], labels=[0, 1])

    assert result["confusion_matrix"] == [[1, 0], [0, 0]]


def test_default_labels_are_the_union_of_references_and_predictions() -> None:
    # class 2 only predicted: true 0 -> 0, 2 ; true 1 -> 1, 1
    references, predictions = [0, 0, 1, 1], [0, 2, 1, 1]

    # recall 1/2, 2/2, and class 2 has no references: left out, (1/2 + 1) / 2 = 0.75
    assert _compute("macro_recall", references, predictions)["macro_recall"] == 0.75
    assert _compute("per_class_recall", references, predictions)["per_class_recall"] == [
        0.5,
        1.0,
        0.0,
    ]
    # F1: 2*1/(2+1) = 2/3, 2*2/(2+2) = 1, 0/(0+1) = 0; macro = (2/3 + 1 + 0) / 3 = 5/9
    assert _compute("macro_f1", references, predictions)["macro_f1"] == pytest.approx(5 / 9)
    assert _compute("confusion_matrix", references, predictions)["confusion_matrix"] == [
        [1, 0, 1],
        [0, 2, 0],
        [0, 0, 0],
    ]


def test_labels_absent_from_both_sides() -> None:
    # true 0 -> 0, 0 ; true 1 -> 0, 1 ; class 2 neither referenced nor predicted
    references, predictions = [0, 0, 1, 1], [0, 0, 0, 1]

    # recall over the classes with references: (2/2 + 1/2) / 2 = 0.75, with or without class 2
    for labels in (None, [0, 1, 2]):
        result = _compute("macro_recall", references, predictions, labels=labels)
        assert result["macro_recall"] == pytest.approx(0.75)
    # F1: 2*2/(2+3) = 4/5, 2*1/(2+1) = 2/3; class 2: 0/0 -> 0, averaged only when in labels
    f1 = _compute("macro_f1", references, predictions)["macro_f1"]
    assert f1 == pytest.approx((4 / 5 + 2 / 3) / 2)  # 11/15
    f1 = _compute("macro_f1", references, predictions, labels=[0, 1, 2])["macro_f1"]
    assert f1 == pytest.approx((4 / 5 + 2 / 3 + 0) / 3)  # 22/45
    # macro recall of labels none of which has a reference: 0.0
    assert _compute("macro_recall", references, predictions, labels=[2])["macro_recall"] == 0.0


def test_accuracy_module() -> None:
    # 7 of the 10 hand-checked examples are right
    assert _compute("accuracy", REFERENCES, PREDICTIONS) == {"accuracy": pytest.approx(0.7)}


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_modules_refuse_zero_examples(name: str) -> None:
    with pytest.raises(ValueError, match="zero examples"):
        _compute(name, [], [])


@pytest.mark.parametrize("name", ["macro_recall", "macro_f1", "per_class_recall"])
def test_metric_modules_refuse_repeated_labels(name: str) -> None:
    with pytest.raises(ValueError, match="distinct"):
        _compute(name, [0, 1], [0, 1], labels=[0, 1, 1])


def test_each_metric_module_is_loaded_once() -> None:
    assert load_metric("macro_f1") is load_metric("macro_f1")
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("f1")
    assert sorted(path.stem for path in METRICS_DIR.glob("[!_]*.py")) == sorted(METRIC_NAMES)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_scikit_learn_on_random_inputs(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    size = [5, 12, 40, 300][seed % 4]  # small sizes leave classes out now and then
    n_labels = 3 + seed % 3
    references = rng.integers(0, n_labels, size)
    predictions = np.where(rng.random(size) < 0.5, references, rng.integers(0, n_labels, size))
    labels = list(range(n_labels))
    # sklearn counts a class without references as recall 0; ours leaves it out of the mean
    referenced = [label for label in labels if label in references]

    def ours(name: str) -> object:
        return _compute(name, references, predictions, labels=labels)[name]

    expected = metrics.recall_score(
        references, predictions, labels=referenced, average="macro", zero_division=0
    )
    assert ours("macro_recall") == pytest.approx(expected)
    expected = metrics.f1_score(
        references, predictions, labels=labels, average="macro", zero_division=0
    )
    assert ours("macro_f1") == pytest.approx(expected)
    expected = metrics.recall_score(
        references, predictions, labels=labels, average=None, zero_division=0
    )
    assert ours("per_class_recall") == pytest.approx(expected.tolist())
    expected = metrics.confusion_matrix(references, predictions, labels=labels)
    assert ours("confusion_matrix") == expected.tolist()
    expected = metrics.accuracy_score(references, predictions)
    assert _compute("accuracy", references, predictions)["accuracy"] == pytest.approx(expected)
    # the default labels, the sorted union of both sides
    expected = metrics.f1_score(references, predictions, average="macro", zero_division=0)
    assert _compute("macro_f1", references, predictions)["macro_f1"] == pytest.approx(expected)
    if seed % 4 == 3:  # 300 examples: every class referenced, so sklearn agrees as it is
        result = compute_metrics(references % 3, predictions % 3)
        expected = metrics.recall_score(references % 3, predictions % 3, average="macro")
        assert result["macro_recall"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("references", "predictions", "message"),
    [
        ([0, 1, 2], [0, 1], "3 references but 2 predictions"),
        ([], [], "no examples"),
        ([0, 1, 3], [0, 1, 2], r"references .* the first is 3 at position 2"),
        ([0, 1, 2], [0, -1, 2], r"predictions .* the first is -1 at position 1"),
        ([0.0, 1.0], [0, 1], "integer label ids"),
        ([[0, 1]], [[0, 1]], "flat sequence"),
    ],
)
def test_bad_inputs_raise_user_error(references, predictions, message: str) -> None:
    with pytest.raises(UserError, match=message):
        compute_metrics(references, predictions)
