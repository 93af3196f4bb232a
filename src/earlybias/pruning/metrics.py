"""The metrics of Iofinova, Peste and Alistarh, *Bias in Pruned Vision Models* (CVPR 2023), as
their code defines them (IST-DASLab/pruned-vision-model-bias, ``bias_utils/runs.py``).

Every function reads one model's outputs on one split: ``logits`` (N, A) raw outputs, one column
per binary attribute, ``labels`` (N, A) 0/1, ``predictions`` (N, A) 0/1 (``logits > threshold``,
the threshold 0 unless re-calibrated). Results are per attribute, shape (A,).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LinearRegression

from earlybias.validation import check_int, check_real

__all__ = [
    "sigmoid",
    "accuracy",
    "uncertainty",
    "interdependence",
    "group_fractions",
    "bias_amplification",
    "recalibrated_thresholds",
    "calibration_error",
    "rare_underprediction",
]


def _table(name: str, x, n_cols: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or (n_cols is not None and x.shape[1] != n_cols) or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (samples, attributes), got {x.shape}")
    return x


def _binary(name: str, x, n_cols: int | None = None) -> np.ndarray:
    x = _table(name, x, n_cols)
    if not np.isin(x, (0, 1)).all():
        raise ValueError(f"{name} must hold 0/1 values")
    return x.astype(np.int64)


def sigmoid(logits) -> np.ndarray:
    """The predicted probability sigma(z) = 1 / (1 + exp(-z)), computed without overflow."""
    z = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def accuracy(predictions, labels) -> np.ndarray:
    """Share of samples whose prediction equals the label, per attribute."""
    labels = _binary("labels", labels)
    return (_binary("predictions", predictions, labels.shape[1]) == labels).mean(axis=0)


def uncertainty(logits, margin: float = 0.4) -> np.ndarray:
    """Share of samples with |sigma(z) - 1/2| < ``margin``, per attribute (Iofinova et al. 2023,
    "uncertainty"; the code's ``compute_errors``: margin 0.4, i.e. sigma(z) in (0.1, 0.9))."""
    check_real("margin", margin, 0.0, 0.5, low_open=True)
    return (np.abs(sigmoid(_table("logits", logits)) - 0.5) < margin).mean(axis=0)


def interdependence(predictions) -> np.ndarray:
    """R^2 of a least-squares regression (with intercept) of each attribute's 0/1 predictions on
    all the other attributes' predictions, per attribute (Iofinova et al. 2023,
    "interdependence"; the code's ``compute_interdependence``). A constant column scores as
    scikit-learn's ``score`` does (1 when fitted exactly, else 0)."""
    p = _binary("predictions", predictions).astype(np.float64)
    if p.shape[1] < 2:
        raise ValueError("interdependence needs at least two attributes")
    r2 = np.empty(p.shape[1])
    for i in range(p.shape[1]):
        others = np.delete(p, i, axis=1)
        r2[i] = LinearRegression().fit(others, p[:, i]).score(others, p[:, i])
    return r2


def group_fractions(train_labels, protected: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequency of every attribute among training samples with the protected attribute (pos) and
    without it (neg), each (A,): the code's ``compute_pos_neg_matrices``."""
    train = _binary("train_labels", train_labels)
    protected = check_int("protected", protected, 0, train.shape[1] - 1)
    has = train[:, protected] == 1
    if has.all() or not has.any():
        raise ValueError(f"protected attribute {protected} is constant in the training labels")
    return train[has].mean(axis=0), train[~has].mean(axis=0)


def bias_amplification(
    labels, predictions, train_labels, protected: int, *, min_positives: int = 10, min_rel_diff: float = 0.1
) -> np.ndarray:
    """Bias amplification of every target attribute a with respect to the protected attribute p
    (Iofinova et al. 2023,
    after Wang and Russakovsky 2021; the code's
    ``compute_bias_amplification``), shape (A,), NaN where undefined:

        BA(a, p) = sum_{i in g} yhat_ia / sum_i yhat_ia  -  sum_{i in g} y_ia / sum_i y_ia,

    where g is the p-group (p = 1 or p = 0) in which a is more frequent in *training*. Positive:
    the model assigns a to its favoured group more often than the truth does. Skipped (NaN): a = p;
    fewer than ``min_positives`` true positives of a in either group of the test set; training
    frequencies whose relative difference |f1 - f0| / min(f1, f0) is under ``min_rel_diff``; and,
    beyond the paper's code, a model that predicts a for no sample (the ratio is 0/0 there).
    """
    labels = _binary("labels", labels)
    preds = _binary("predictions", predictions, labels.shape[1])
    if preds.shape != labels.shape:
        raise ValueError(f"predictions {preds.shape} and labels {labels.shape} must have the same shape")
    check_int("min_positives", min_positives, 0)
    check_real("min_rel_diff", min_rel_diff, 0.0)
    pos_frac, neg_frac = group_fractions(train_labels, protected)
    has = labels[:, protected] == 1
    out = np.full(labels.shape[1], np.nan)
    for a in range(labels.shape[1]):
        if a == protected:
            continue
        if labels[has, a].sum() < min_positives or labels[~has, a].sum() < min_positives:
            continue
        low = min(pos_frac[a], neg_frac[a])
        if low == 0 or abs(pos_frac[a] - neg_frac[a]) / low < min_rel_diff:
            continue
        if preds[:, a].sum() == 0:
            continue
        group = has if pos_frac[a] > neg_frac[a] else ~has
        out[a] = preds[group, a].sum() / preds[:, a].sum() - labels[group, a].sum() / labels[:, a].sum()
    return out


def recalibrated_thresholds(val_logits, val_labels) -> np.ndarray:
    """Per attribute, the logit threshold at which the number of validation samples predicted
    positive (logit > threshold) equals the number of true positives (Iofinova et al. 2023,
    threshold re-calibration; the code's ``get_thresholds``). The code takes the k-th
    largest logit, which with ``>`` predicts k - 1 positives; we take the midpoint between the
    k-th and (k+1)-th largest, which predicts exactly k (ties aside)."""
    labels = _binary("val_labels", val_labels)
    logits = np.asarray(_table("val_logits", val_logits, labels.shape[1]), dtype=np.float64)
    if logits.shape != labels.shape:
        raise ValueError(f"val_logits {logits.shape} and val_labels {labels.shape} must have the same shape")
    ordered = -np.sort(-logits, axis=0)  # descending, per attribute
    k = labels.sum(axis=0)
    n = len(logits)
    above = np.where(k > 0, ordered[np.clip(k - 1, 0, n - 1), np.arange(len(k))], np.inf)
    below = np.where(k < n, ordered[np.clip(k, 0, n - 1), np.arange(len(k))], -np.inf)
    both = np.isfinite(above) & np.isfinite(below)
    # k = 0: above every logit; k = n: below every logit.
    return np.where(both, (above + below) / 2, np.where(k == 0, ordered[0] + 1.0, ordered[-1] - 1.0))


def calibration_error(logits, labels, n_bins: int = 10) -> np.ndarray:
    """Expected calibration error per attribute: probabilities binned in ``n_bins`` equal-width
    bins, the count-weighted mean of |mean probability - frequency of the label| over the bins
    (the code's ``compute_uncertainty_calibration``)."""
    labels = _binary("labels", labels)
    probs = sigmoid(_table("logits", logits, labels.shape[1]))
    n_bins = check_int("n_bins", n_bins, 1)
    bins = np.minimum((probs * n_bins).astype(np.int64), n_bins - 1)
    ece = np.empty(labels.shape[1])
    for a in range(labels.shape[1]):
        count = np.bincount(bins[:, a], minlength=n_bins)
        p_sum = np.bincount(bins[:, a], probs[:, a], minlength=n_bins)
        y_sum = np.bincount(bins[:, a], labels[:, a], minlength=n_bins)
        used = count > 0
        ece[a] = np.sum(np.abs(p_sum[used] - y_sum[used])) / len(labels)
    return ece


def rare_underprediction(predictions, test_rate, train_rate) -> np.ndarray:
    """How often the rarer value of each attribute is predicted relative to its test frequency
    (the code's ``compute_rare_val_underpredict``): predicted share over true share of the
    positives where positives are rare in training, of the negatives otherwise. 1: as often as
    the truth; below 1: the rare value is under-predicted."""
    preds = _binary("predictions", predictions)
    test_rate, train_rate = np.asarray(test_rate, float), np.asarray(train_rate, float)
    if test_rate.shape != (preds.shape[1],) or train_rate.shape != (preds.shape[1],):
        raise ValueError(f"test_rate and train_rate must have shape ({preds.shape[1]},)")
    predicted = preds.mean(axis=0)
    common_positive = train_rate > 0.5
    return np.where(common_positive, (1 - predicted) / (1 - test_rate), predicted / test_rate)
