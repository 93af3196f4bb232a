"""Standard errors and critical values: calibrated against the spread of independent replicates."""

import math

import numpy as np
import pytest
from scipy import special

from earlybias.igb import stats


def test_gamma_terms_reproduce_the_measured_gamma():
    from earlybias.igb.networks import gamma_measured

    rng = np.random.default_rng(0)
    mean, var = rng.standard_normal((50, 3)), rng.random((50, 3)) + 0.5
    a, b = stats.gamma_terms(mean, var)
    assert a.mean() / b.mean() == pytest.approx(gamma_measured(mean, var), rel=1e-12)


@pytest.mark.parametrize("gamma, n_inits, nodes", [(0.5, 200, 2), (3.0, 100, 10), (0.01, 400, 2)])
def test_gamma_standard_error_matches_the_spread_of_replicate_runs(gamma, n_inits, nodes):
    # Model of a run: node means ~ N(0, gamma q) and node variances ~ q chi2_k / k per network,
    # with q varying between networks; 2000 replicate runs give the true spread of gamma-hat.
    rng = np.random.default_rng(1)
    estimates, errors = [], []
    for _ in range(2000):
        q = rng.gamma(20.0, 1 / 20, size=(n_inits, 1))
        mean = rng.standard_normal((n_inits, nodes)) * np.sqrt(gamma * q)
        var = q * rng.chisquare(30, size=(n_inits, nodes)) / 30
        a, b = stats.gamma_terms(mean, var)
        estimates.append(a.mean() / b.mean())
        errors.append(stats.gamma_se(mean, var))
    assert np.mean(errors) == pytest.approx(np.std(estimates), rel=0.08)
    assert np.mean(estimates) == pytest.approx(gamma, rel=0.03)


def test_ratio_and_mean_errors_against_closed_forms():
    x = np.arange(10.0)
    assert stats.mean_se(x) == pytest.approx((4.5, np.std(x, ddof=1) / math.sqrt(10)))
    r, se = stats.ratio_of_means(2 * x + 1, np.full(10, 2.0))  # b constant: the error of mean(a) / 2
    assert r == pytest.approx(5.0) and se == pytest.approx(np.std(2 * x + 1, ddof=1) / math.sqrt(10) / 2)


def test_ks_critical_value_is_the_asymptotic_one_and_holds_its_level():
    n = 2000
    c = stats.ks_critical(n, 1e-3)
    assert c == pytest.approx(math.sqrt(-0.5 * math.log(1e-3 / 2)) / math.sqrt(n), rel=0.02)  # 1.95 / sqrt(n)
    assert stats.ks_critical(4 * n) == pytest.approx(c / 2, rel=0.02)  # a bigger run is a sharper test
    # Level: samples from the hypothesised law exceed it about once in a thousand runs; at 1% it
    # is exceeded about once in a hundred (500 runs each).
    rng = np.random.default_rng(2)
    d = [
        np.abs(np.sort(special.ndtr(rng.standard_normal(n))) - np.arange(1, n + 1) / n).max()
        for _ in range(500)
    ]
    assert np.mean(np.array(d) > stats.ks_critical(n, 0.01)) < 0.04
    assert np.mean(np.array(d) > stats.ks_critical(n, 0.5)) == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: stats.mean_se([1.0]), "at least 2 finite values"),
        (lambda: stats.ratio_of_means([1.0, 2.0], [1.0, 2.0, 3.0]), "same length"),
        (lambda: stats.gamma_terms(np.ones((3, 2)), np.ones((3, 1))), "same shape"),
        (lambda: stats.ks_critical(0), "n must be an integer >= 1"),
        (lambda: stats.ks_critical(10, 1.5), "alpha must be"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
