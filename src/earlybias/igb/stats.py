"""How precise a run is: standard errors of the chapter's estimates and the KS critical value.

Every number the chapter measures comes from a finite run: ``n_inits`` initialisations, each
classifying ``n_points`` points. A claim compares it with the theory within a tolerance that
this run's own sampling error sets (chapter eq. ``igb-eq-se``): :data:`N_SE` standard errors for
a value, the Kolmogorov-Smirnov critical value at level :data:`KS_ALPHA` for a distribution. A
bigger run has smaller errors and is a sharper test.

Initialisations are independent, so a statistic that is a mean over them has the usual error
sd / sqrt(n). gamma, and the other ratios of the chapter, are ratios of two such means,
r = mean(a) / mean(b); the delta method gives their error from the per-initialisation terms,
SE(r) = sd(a - r b) / (mean(b) sqrt(n)) (:func:`ratio_of_means`). Where the units of a run are
not independent (networks that share one data set), the same formulas run over independent
blocks instead (batch means).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from earlybias.validation import check_int, check_real

__all__ = ["N_SE", "KS_ALPHA", "mean_se", "ratio_of_means", "gamma_se", "gamma_terms", "ks_critical"]

#: Claims hold within this many standard errors. For a normal estimate a chance miss has
#: probability 6e-5 per claim, so a chapter of about thirty claims fails by chance in about one
#: run in five hundred, while a true deviation of 4 SE or more is caught.
N_SE = 4.0

#: Level of the Kolmogorov-Smirnov claim: it fails by chance in one run in a thousand.
KS_ALPHA = 1e-3


def _units(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be a 1-d array of at least 2 finite values, got shape {x.shape}")
    return x


def mean_se(x) -> tuple[float, float]:
    """Mean of independent values and its standard error sd / sqrt(n)."""
    x = _units(x, "x")
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def ratio_of_means(a, b) -> tuple[float, float]:
    """r = mean(a) / mean(b) over independent units and its delta-method standard error
    sd(a - r b) / (mean(b) sqrt(n)) (chapter eq. ``igb-eq-se``)."""
    a, b = _units(a, "a"), _units(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same length, got {a.size} and {b.size}")
    r = float(a.mean() / b.mean())
    return r, float((a - r * b).std(ddof=1) / (abs(b.mean()) * math.sqrt(a.size)))


def gamma_terms(mean, var) -> tuple[np.ndarray, np.ndarray]:
    """Per-initialisation terms (a_i, b_i) with gamma = mean(a) / mean(b) exactly: a_i is the
    squared deviation of the network's node means from their average over initialisations
    (times n / (n - 1), the unbiased variance), b_i its mean node variance; both averaged over
    nodes. ``mean`` and ``var`` are (n_inits, n_nodes), as :class:`networks.Simulation` holds."""
    mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
    if mean.ndim != 2 or mean.shape != var.shape or mean.shape[0] < 2:
        raise ValueError(
            "mean and var must be arrays of the same shape (n_inits >= 2, n_nodes), "
            f"got {mean.shape} and {var.shape}"
        )
    n = mean.shape[0]
    a = ((mean - mean.mean(axis=0)) ** 2).mean(axis=1) * n / (n - 1)
    return a, var.mean(axis=1)


def gamma_se(mean, var) -> float:
    """Standard error of the measured gamma over initialisations (delta method, chapter eq.
    ``igb-eq-se``): gamma is a ratio of means over independent initialisations
    (:func:`gamma_terms`), so it has the error of :func:`ratio_of_means`."""
    return ratio_of_means(*gamma_terms(mean, var))[1]


def ks_critical(n: int, alpha: float = KS_ALPHA) -> float:
    """Critical value of the one-sample Kolmogorov-Smirnov distance for n samples at level alpha
    (the exact finite-n distribution; about 1.95 / sqrt(n) at alpha = 0.001). For samples on a
    grid (fractions k / n_points) the test is conservative: ties only make the distance smaller."""
    n = check_int("n", n, 1)
    alpha = check_real("alpha", alpha, 0.0, 1.0, low_open=True)
    if alpha == 1.0:
        raise ValueError("alpha must be a finite number > 0 and < 1, got 1.0")
    return float(stats.kstwo.isf(alpha, n))
