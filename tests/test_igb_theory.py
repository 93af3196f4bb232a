"""The closed forms of initial guessing bias against known values, definitions and each other."""

import math

import numpy as np
import pytest
from scipy import integrate, special

from earlybias import igb
from earlybias.igb import theory


def test_activations_are_defined_once_for_the_chapter():
    assert theory.ACTIVATIONS is igb.ACTIVATIONS
    assert set(igb.MONOTONE) <= set(igb.ACTIVATIONS)


# --------------------------------------------------------------------------- binary case


def test_binary_closed_forms_at_gamma_one_are_exact():
    # gamma = 1: f_0 = Phi(Z) is uniform, so F(f) = f, density 1, Var = 1/12, E[f_max] = 3/4.
    f = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(theory.f0_cdf(f, 1.0), f, atol=1e-12)
    np.testing.assert_allclose(theory.f0_pdf(f, 1.0), 1.0, atol=1e-12)
    assert theory.f0_var(1.0) == pytest.approx(1 / 12, abs=1e-12)
    assert theory.expected_fmax(1.0) == pytest.approx(0.75, abs=1e-12)


def test_relu_binary_values_from_the_paper():
    assert theory.GAMMA_RELU == pytest.approx(0.467, abs=5e-4)
    assert theory.expected_fmax(theory.GAMMA_RELU) == pytest.approx(0.691, abs=5e-4)
    assert theory.expected_fmax(0.0) == 0.5


@pytest.mark.parametrize("gamma", [0.2, theory.GAMMA_RELU, 3.0])
def test_binary_forms_match_their_definition_f0_equals_phi_sqrt_gamma_z(gamma):
    f0 = special.ndtr(math.sqrt(gamma) * np.random.default_rng(1).standard_normal(400_000))
    assert np.maximum(f0, 1 - f0).mean() == pytest.approx(theory.expected_fmax(gamma), abs=2e-3)
    assert f0.var() == pytest.approx(float(theory.f0_var(gamma)), rel=1e-2)
    for q in (0.1, 0.3, 0.5, 0.8):
        assert np.mean(f0 <= q) == pytest.approx(float(theory.f0_cdf(q, gamma)), abs=3e-3)


@pytest.mark.parametrize("gamma", [0.3, 2.5])
def test_density_is_the_derivative_of_the_cdf_and_integrates_to_one(gamma):
    f = np.linspace(0.05, 0.95, 19)
    h = 1e-6
    numeric = (theory.f0_cdf(f + h, gamma) - theory.f0_cdf(f - h, gamma)) / (2 * h)
    np.testing.assert_allclose(theory.f0_pdf(f, gamma), numeric, rtol=1e-5)
    total, _ = integrate.quad(lambda x: float(theory.f0_pdf(x, gamma)), 0, 1, limit=200)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_density_changes_shape_at_gamma_one():
    assert theory.f0_pdf(0.5, 0.5) > theory.f0_pdf(0.9, 0.5)  # peaked at 1/2
    assert theory.f0_pdf(0.5, 2.0) < theory.f0_pdf(0.9, 2.0)  # U-shaped


# --------------------------------------------------------------------------- C classes


def test_two_classes_reduce_to_the_binary_form_sample_by_sample():
    gamma, seed = 0.7, 3
    f = theory.class_fractions(gamma, 2, n_samples=2000, seed=seed)
    z = np.random.default_rng(seed).standard_normal((2000, 2))  # the same draws of Z
    np.testing.assert_allclose(f[:, 0], special.ndtr(math.sqrt(gamma / 2) * (z[:, 0] - z[:, 1])), atol=1e-10)
    assert f.max(axis=1).mean() == pytest.approx(theory.expected_fmax(gamma), abs=5e-3)


def test_class_fractions_match_brute_force_argmax_of_gaussian_outputs():
    # Definition: output c is sqrt(gamma) Z_c + xi_c with xi_c iid N(0, 1) over the data.
    gamma, seed = 1.3, 5
    f = theory.class_fractions(gamma, 4, n_samples=5, seed=seed)
    a = math.sqrt(gamma) * np.random.default_rng(seed).standard_normal((5, 4))
    xi = np.random.default_rng(99).standard_normal((200_000, 4))
    for row, means in zip(f, a):
        counts = np.bincount((means + xi).argmax(axis=1), minlength=4) / len(xi)
        np.testing.assert_allclose(row, counts, atol=4e-3)


def test_ten_classes_value_from_the_paper_and_neutral_limit():
    assert theory.expected_fmax(theory.GAMMA_RELU, 10) == pytest.approx(0.330, abs=5e-3)
    f = theory.class_fractions(0.0, 10, n_samples=10)
    np.testing.assert_allclose(f, 0.1, atol=1e-12)
    f = theory.class_fractions(5.0, 7, n_samples=100)
    np.testing.assert_allclose(f.sum(axis=1), 1.0, atol=1e-12)


# --------------------------------------------------------------------------- ReLU and depth


def test_relu_recursion_values_from_the_paper():
    np.testing.assert_allclose(theory.relu_gammas(3), [0.467, 0.975, 1.531], atol=1e-3)
    assert theory.relu_gammas(1)[0] == pytest.approx(theory.GAMMA_RELU, abs=1e-12)
    assert theory.relu_correlation_map(0.0) == pytest.approx(1 / math.pi)
    assert theory.relu_correlation_map(1.0) == pytest.approx(1.0)
    assert theory.input_correlation(1.0) == 0.5
    assert theory.gamma_from_correlation(0.5) == 1.0


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0])
def test_general_integrator_agrees_with_the_relu_closed_form(shift):
    np.testing.assert_allclose(theory.gammas("relu", 5, shift), theory.relu_gammas(5, shift), rtol=1e-9)


def test_pair_expectation_against_closed_forms_and_quadrature():
    q1, q2, c = np.array([0.5, 2.0, 3.0]), np.array([1.0, 2.0, 0.3]), np.array([0.2, -0.5, 0.97])
    a = np.arccos(c)
    arc_cosine = np.sqrt(q1 * q2) / (2 * math.pi) * (np.sin(a) + (math.pi - a) * c)
    relu = lambda u, v: np.maximum(u, 0) * np.maximum(v, 0)
    np.testing.assert_allclose(theory.pair_expectation(relu, q1, q2, c), arc_cosine, rtol=1e-10)
    np.testing.assert_allclose(
        theory.pair_expectation(lambda u, v: u * v, q1, q2, c), c * np.sqrt(q1 * q2), rtol=1e-10
    )
    # An independent reference for a smooth activation: scipy's adaptive 2-d quadrature.
    s = math.sqrt(1 - 0.2**2)
    density = lambda u, v: math.exp(-0.5 * (u * u - 2 * 0.2 * u * v + v * v) / (1 - 0.04)) / (2 * math.pi * s)
    ref, _ = integrate.dblquad(lambda v, u: math.tanh(u) * math.tanh(v) * density(u, v), -9, 9, -9, 9)
    assert theory.pair_expectation(lambda u, v: np.tanh(u) * np.tanh(v), 1.0, 1.0, 0.2) == pytest.approx(
        ref, abs=1e-8
    )


@pytest.mark.parametrize("activation", ["tanh", "linear", "centered_relu"])
def test_no_igb_on_centred_data_at_any_depth(activation):
    np.testing.assert_allclose(theory.gammas(activation, 4), 0.0, atol=1e-10)


def test_linear_networks_have_gamma_s_squared_at_every_depth():
    np.testing.assert_allclose(theory.gammas("linear", 4, 0.7), 0.49, rtol=1e-9)


def test_gelu_and_sigmoid_have_igb_that_grows_with_depth():
    for activation in ("gelu", "sigmoid"):
        g = theory.gammas(activation, 3)
        assert g[0] > 0.1 and np.all(np.diff(g) > 0)


def test_centered_relu_has_zero_mean_and_odd_activations_are_odd():
    z, w = theory._normal_rule_1d()
    for q in (0.5, 2.0):
        assert theory.activation_fn("centered_relu", q)(math.sqrt(q) * z) @ w == pytest.approx(0.0, abs=1e-12)
    x = np.linspace(-3, 3, 13)
    for activation in ("tanh", "linear"):
        np.testing.assert_allclose(theory.activation_fn(activation)(-x), -theory.activation_fn(activation)(x))


def test_layer_variances_follow_he_initialisation():
    np.testing.assert_allclose(theory.layer_variances("relu", 4, 3.0), 3.0, rtol=1e-10)
    np.testing.assert_allclose(theory.layer_variances("linear", 3, 1.0), [1, 2, 4], rtol=1e-10)
    np.testing.assert_allclose(
        theory.layer_variances("centered_relu", 2, 2.0), [2, 2 * (1 - 1 / math.pi)], rtol=1e-10
    )


# --------------------------------------------------------------------------- max-pooling


def test_pooling_values_from_the_paper():
    np.testing.assert_allclose([theory.pooling_gamma(k) for k in (1, 2, 4)], [0.467, 1.042, 2.429], atol=1e-3)
    assert theory.pooling_gamma(2, "linear") == pytest.approx(theory.GAMMA_RELU, rel=1e-9)
    assert theory.pooling_gamma(1, "linear") == pytest.approx(0.0, abs=1e-12)
    assert theory.pooling_gamma(1) == pytest.approx(theory.GAMMA_RELU, rel=1e-9)


def test_pooling_moments_match_monte_carlo():
    z = np.random.default_rng(0).standard_normal((400_000, 3)).max(axis=1)
    m, s = np.maximum(z, 0).mean(), (np.maximum(z, 0) ** 2).mean()
    assert theory.pooling_gamma(3) == pytest.approx(m * m / (s - m * m), rel=1e-2)


def test_pooled_first_layer_feeds_the_depth_recursion():
    for k in (1, 2, 4):
        assert theory.gammas("relu", 1, pool_k=k)[0] == pytest.approx(theory.pooling_gamma(k), rel=1e-9)
    assert theory.gammas("tanh", 1, pool_k=2)[0] > 0.1  # pooling creates IGB even for tanh
    with pytest.raises(ValueError, match="centred Gaussian inputs"):
        theory.gammas("relu", 2, 0.5, pool_k=2)
    with pytest.raises(ValueError, match="monotone"):
        theory.gammas("gelu", 1, pool_k=2)


@pytest.mark.parametrize(
    "kwargs, allowed",
    [
        (dict(pool_k=1, activation="gelu", input_shift=2.0), True),  # no pooling: always predicted
        (dict(pool_k=2, activation="relu"), True),
        (dict(pool_k=2, activation="gelu"), False),
        (dict(pool_k=2, activation="relu", input_shift=0.5), False),
        (dict(pool_k=2, activation="relu", input_shift=0.5, standardize=True), True),
        (dict(pool_k=2, activation="relu", data="digits", standardize=True), False),
    ],
)
def test_one_pooling_rule_for_the_theory_and_the_parameters(kwargs, allowed):
    from earlybias.params import ParamError

    assert (igb.pooling_problem(**kwargs) is None) is allowed
    params = dict(data="gaussian", n_points=100, input_shift=0.0, standardize=False) | kwargs
    if allowed:
        igb.check_params(params)
    else:
        with pytest.raises(ParamError, match="parameter 'pool_k'"):
            igb.check_params(params)


# --------------------------------------------------------------------------- real data


def test_kernel_prediction_on_gaussian_data_approaches_the_mean_field_theory():
    X = np.random.default_rng(0).standard_normal((150, 400)) + 1.0
    for activation in ("relu", "tanh"):
        assert theory.kernel_gamma(X, activation, 2) == pytest.approx(
            theory.gammas(activation, 2, 1.0)[-1], rel=0.05
        )


def test_kernel_prediction_is_exact_for_a_linear_network():
    X = np.random.default_rng(1).random((40, 8))
    G = X @ X.T
    off = (G.sum() - np.trace(G)) / (40 * 39)
    assert theory.kernel_gamma(X, "linear", 3) == pytest.approx(off / (np.trace(G) / 40 - off), rel=1e-10)


# --------------------------------------------------------------------------- finite data


def test_finite_n_gamma_is_the_exact_ratio_for_a_linear_readout_on_n_points():
    # A linear readout w.x on fixed points X: Var_W(mu) and E_W[sigma^2] by their definitions.
    X = np.random.default_rng(2).standard_normal((30, 5)) + 0.4
    G = X @ X.T  # E_W[o(x) o(x')] up to the weights' variance
    n = len(X)
    var_mu = G.sum() / n**2
    e_sigma2 = np.trace(G) / n - var_mu
    assert theory.finite_n_gamma(theory.kernel_gamma(X, "linear", 1), n) == pytest.approx(
        var_mu / e_sigma2, rel=1e-10
    )
    assert theory.finite_n_gamma(0.0, 1001) == pytest.approx(1e-3)  # the floor without IGB


@pytest.mark.parametrize("gamma, n", [(0.0, 50), (0.3, 200), (3.0, 40)])
def test_finite_n_fractions_match_counting_n_points(gamma, n):
    # Definition: n f_0 ~ Binomial(n, Phi(sqrt(gamma) Z)).
    rng = np.random.default_rng(4)
    f0 = rng.binomial(n, special.ndtr(math.sqrt(gamma) * rng.standard_normal(400_000))) / n
    assert np.maximum(f0, 1 - f0).mean() == pytest.approx(theory.expected_fmax(gamma, n_points=n), abs=2e-3)
    for q in (0.3, 0.5, 0.62):
        assert np.mean(f0 <= q) == pytest.approx(float(theory.f0_cdf(q, gamma, n_points=n)), abs=3e-3)


def test_finite_n_fractions_reach_the_population_law_and_the_coin_flip_limit():
    assert theory.expected_fmax(0.0, n_points=1000) == pytest.approx(0.5 + 1 / math.sqrt(2 * math.pi * 1000))
    assert theory.expected_fmax(0.5, n_points=10**7) == pytest.approx(theory.expected_fmax(0.5), abs=1e-5)
    counted = theory.class_fractions(0.5, 10, n_samples=4000, seed=1, n_points=300)
    np.testing.assert_allclose(counted.sum(axis=1), 1.0)
    np.testing.assert_allclose(counted * 300, np.round(counted * 300), atol=1e-9)  # whole points
    population = theory.class_fractions(0.5, 10, n_samples=4000, seed=1)
    assert counted.max(axis=1).mean() > population.max(axis=1).mean()  # counting noise raises f_max


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: theory.gammas("swish", 1), "activation must be one of relu, tanh"),
        (lambda: theory.gammas("relu", 0), "depth must be an integer >= 1"),
        (lambda: theory.expected_fmax(-1.0), "gamma must be a finite number >= 0"),
        (lambda: theory.expected_fmax(float("nan")), "gamma must be a finite number >= 0"),
        (lambda: theory.f0_var([0.1, -2.0]), "gamma must be"),
        (lambda: theory.expected_fmax(0.5, n_points=0), "n_points must be an integer >= 1"),
        (lambda: theory.input_correlation(float("inf")), "input_shift must be a finite number"),
        (lambda: theory.layer_variances("relu", 2, 0.0), "q0 must be a finite number > 0"),
        (lambda: theory.class_fractions(1.0, 1), "n_classes must be an integer >= 2"),
        (lambda: theory.f0_cdf(1.5, 1.0), r"f must lie in \[0, 1\]"),
        (lambda: theory.f0_pdf(0.5, 0.0), "gamma must be > 0"),
        (lambda: theory.pooling_gamma(2, "tanh"), "relu or linear"),
        (lambda: theory.kernel_gamma(np.ones(3), "relu", 1), "2-d array"),
    ],
)
def test_bad_arguments_are_named_in_the_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
