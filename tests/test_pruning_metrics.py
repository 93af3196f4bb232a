"""The pruning paper's metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from earlybias.pruning.metrics import (
    accuracy,
    bias_amplification,
    calibration_error,
    interdependence,
    rare_underprediction,
    recalibrated_thresholds,
    sigmoid,
    uncertainty,
)


def test_sigmoid_is_exact_and_does_not_overflow():
    assert sigmoid(0.0) == 0.5 and sigmoid(math.log(9)) == pytest.approx(0.9)
    assert sigmoid(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]


def test_uncertain_means_a_probability_between_point_one_and_point_nine():
    edge = math.log(9)  # sigma(log 9) = 0.9
    logits = np.array([[0.0], [edge - 0.01], [edge + 0.01], [-(edge - 0.01)], [-5.0]])
    assert uncertainty(logits).tolist() == [3 / 5]
    assert uncertainty(logits, margin=0.1).tolist() == [1 / 5]


def test_interdependence_is_one_for_a_copied_attribute_and_near_zero_for_independent_ones():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 5000), rng.integers(0, 2, 5000)
    r2 = interdependence(np.stack([a, b, a], axis=1))
    assert r2[0] == pytest.approx(1.0) and r2[2] == pytest.approx(1.0)
    assert r2[1] < 0.002  # independent of the others: R^2 ~ (attributes - 1) / samples


def test_bias_amplification_of_a_worked_example():
    # Column 0 protected, column 1 the target. Training: the target is three times as frequent
    # with the protected attribute (0.6 against 0.2), so g = {protected = 1}.
    train = np.array([[1, 1]] * 6 + [[1, 0]] * 4 + [[0, 1]] * 2 + [[0, 0]] * 8)
    # Test: 20 true positives in each group (true share of g: 1/2); the model predicts 30 in g
    # and 10 outside (predicted share 3/4): BA = 3/4 - 1/2.
    labels = np.array([[1, 1]] * 20 + [[1, 0]] * 20 + [[0, 1]] * 20 + [[0, 0]] * 20)
    preds = labels.copy()
    preds[20:30, 1] = 1  # ten more positives in g
    preds[40:50, 1] = 0  # ten fewer outside g
    ba = bias_amplification(labels, preds, train, protected=0)
    assert np.isnan(ba[0]) and ba[1] == pytest.approx(0.25)
    assert bias_amplification(labels, labels, train, protected=0)[1] == 0.0  # predicting the truth


def test_bias_amplification_skips_what_the_paper_skips():
    train = np.array([[1, 1]] * 6 + [[1, 0]] * 4 + [[0, 1]] * 2 + [[0, 0]] * 8)
    few = np.array([[1, 1]] * 9 + [[1, 0]] * 20 + [[0, 1]] * 20 + [[0, 0]] * 20)  # 9 positives in g
    assert np.isnan(bias_amplification(few, few, train, protected=0)[1])
    close = np.array([[1, 1]] * 5 + [[1, 0]] * 5 + [[0, 1]] * 5 + [[0, 0]] * 5)  # 0.5 vs 0.5 in training
    labels = np.array([[1, 1]] * 20 + [[1, 0]] * 20 + [[0, 1]] * 20 + [[0, 0]] * 20)
    assert np.isnan(bias_amplification(labels, labels, close, protected=0)[1])


def test_recalibrated_thresholds_predict_as_many_positives_as_there_are():
    logits = np.array([[3.0, 3.0, 3.0], [2.0, 2.0, 2.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    labels = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    t = recalibrated_thresholds(logits, labels)
    assert t[0] == 1.5 and t[1] > 3.0 and t[2] < 0.0
    assert ((logits > t).sum(axis=0) == labels.sum(axis=0)).all()


def test_calibration_error_zero_when_calibrated_and_the_gap_when_not():
    p = 0.25
    logits = np.full((8, 1), math.log(p / (1 - p)))
    assert calibration_error(logits, np.array([[1], [0], [0], [0]] * 2))[0] == pytest.approx(0.0)
    assert calibration_error(np.full((4, 1), math.log(9)), np.zeros((4, 1), int))[0] == pytest.approx(0.9)


def test_rare_value_underprediction_reads_the_rarer_side():
    preds = np.array([[1, 1]] + [[0, 1]] * 8 + [[0, 0]])  # predicted rates 0.1 and 0.9
    ratio = rare_underprediction(preds, test_rate=np.array([0.2, 0.8]), train_rate=np.array([0.2, 0.8]))
    assert ratio == pytest.approx([0.5, 0.5])
    assert accuracy(preds, preds).tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: uncertainty(np.zeros(3)), "logits must have shape"),
        (lambda: uncertainty(np.zeros((2, 2)), margin=0.6), "margin"),
        (lambda: accuracy(np.full((2, 2), 2), np.zeros((2, 2), int)), "predictions must hold 0/1"),
        (lambda: interdependence(np.zeros((5, 1), int)), "at least two attributes"),
        (
            lambda: bias_amplification(np.zeros((4, 2), int), np.zeros((4, 2), int), np.ones((4, 2), int), 0),
            "constant",
        ),
    ],
)
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
