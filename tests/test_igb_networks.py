"""The batched simulation engine: same numbers as the per-network loop, deterministic, He scaled."""

import math

import numpy as np
import pytest
import torch

from earlybias.data import gaussian_inputs
from earlybias.igb import networks, theory

X = gaussian_inputs(120, 20, 0.3, seed=0)
ARCHITECTURES = [
    dict(activation="relu", depth=1, width=16),
    dict(activation="centered_relu", depth=3, width=8, n_classes=3),
    dict(activation="tanh", depth=2, width=8, pool_k=3),
    dict(activation="gelu", depth=2, width=8),
]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_batched_engine_gives_the_numbers_of_the_per_network_loop(arch):
    kwargs = dict(n_inits=70, seed=4, record_layers=True, dtype=torch.float64, **arch)  # 70: a partial block
    batched, loop = networks.simulate(X, **kwargs), networks.simulate_loop(X, **kwargs)
    np.testing.assert_allclose(batched.mean, loop.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batched.var, loop.var, rtol=1e-12)
    np.testing.assert_array_equal(batched.fractions, loop.fractions)
    for a, b in zip(batched.layer_var + batched.layer_mean, loop.layer_var + loop.layer_mean):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_chunking_over_data_points_does_not_change_the_result(monkeypatch):
    kwargs = dict(
        activation="relu", depth=2, width=16, n_inits=40, seed=1, record_layers=True, dtype=torch.float64
    )
    whole = networks.simulate(X, **kwargs)
    monkeypatch.setattr(networks, "_ACTIVATION_BUDGET", 16 * 16 * 7)  # 7 points per chunk
    chunked = networks.simulate(X, **kwargs)
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked.var, whole.var, rtol=1e-10)
    np.testing.assert_array_equal(chunked.fractions, whole.fractions)
    np.testing.assert_allclose(chunked.layer_var[1], whole.layer_var[1], rtol=1e-5)


def test_deterministic_for_a_seed_and_prefix_stable():
    first = networks.simulate(X, width=16, n_inits=100, seed=7)
    again = networks.simulate(X, width=16, n_inits=100, seed=7)
    fewer = networks.simulate(X, width=16, n_inits=30, seed=7)
    other = networks.simulate(X, width=16, n_inits=100, seed=8)
    np.testing.assert_array_equal(first.mean, again.mean)
    np.testing.assert_array_equal(first.fractions, again.fractions)
    np.testing.assert_array_equal(fewer.mean, first.mean[:30])
    assert not np.allclose(other.mean, first.mean)


def test_shapes_and_fractions():
    sim = networks.simulate(X, depth=2, width=8, pool_k=2, n_classes=4, n_inits=25, record_layers=True)
    assert sim.mean.shape == sim.var.shape == sim.fractions.shape == (25, 4)
    assert [m.shape for m in sim.layer_mean] == [(25, 16), (25, 8)]  # first layer before pooling
    np.testing.assert_allclose(sim.fractions.sum(axis=1), 1.0)
    counts = sim.fractions * X.shape[0]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole numbers of points
    assert networks.simulate(X, width=8, n_inits=25).layer_mean is None


@pytest.mark.parametrize("activation", theory.ACTIVATIONS)
def test_torch_activations_are_the_theory_activations(activation):
    z = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(
        networks.torch_activation(activation, 2.5)(torch.tensor(z)).numpy(),
        theory.activation_fn(activation, 2.5)(z),
        rtol=1e-10,
        atol=1e-12,
    )


def test_he_initialisation_keeps_relu_pre_activation_variance():
    # Second moment of every layer's pre-activations: q_0 = 2 (1 + s^2) for inputs N(s 1, I).
    data = gaussian_inputs(400, 50, 0.5, seed=2)
    sim = networks.simulate(data, depth=3, width=64, n_inits=200, record_layers=True)
    for m, v in zip(sim.layer_mean, sim.layer_var):
        assert float((v + m.astype(float) ** 2).mean()) == pytest.approx(2 * 1.25, rel=0.05)


def test_centered_relu_has_zero_mean_under_each_layers_mean_field_variance():
    data = gaussian_inputs(200, 50, 0.0, seed=3)
    setup = networks._setup(data, "centered_relu", 3, 8, 1, 2, 4, 0, torch.float64)
    q0 = 2 * float((data**2).sum(axis=1).mean()) / 50
    for phi, q in zip(setup.activations, theory.layer_variances("centered_relu", 3, q0)):
        z = torch.randn(10**6, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * math.sqrt(q)
        assert abs(float(phi(z).mean())) < 3e-3


def test_gamma_measured_definition():
    mean = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]])
    var = np.full((4, 2), 2.0)
    assert networks.gamma_measured(mean, var) == pytest.approx((4 / 3) / 2.0)


def test_one_relu_layer_simulation_agrees_with_theory():
    sim = networks.simulate(gaussian_inputs(300, 100, 0.0, seed=5), width=64, n_inits=1500, seed=5)
    assert networks.gamma_measured(sim.mean, sim.var) == pytest.approx(theory.GAMMA_RELU, rel=0.15)
    assert sim.fractions.max(axis=1).mean() == pytest.approx(
        theory.expected_fmax(theory.GAMMA_RELU), abs=0.03
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(activation="swish"), "activation must be one of"),
        (dict(depth=0), "depth must be an integer >= 1"),
        (dict(width=2.5), "width must be an integer >= 1"),
        (dict(n_classes=1), "n_classes must be an integer >= 2"),
        (dict(pool_k=0), "pool_k must be an integer >= 1"),
        (dict(dtype=torch.float16), "dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_arguments_are_named_in_the_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        networks.simulate(X, n_inits=2, **kwargs)
    with pytest.raises(ValueError, match="X must be a 2-d array"):
        networks.simulate(np.ones(5), n_inits=2)
    with pytest.raises(ValueError, match="same shape"):
        networks.gamma_measured(np.ones((3, 2)), np.ones((3, 1)))


def test_weights_are_he_scaled():
    setup = networks._setup(X, "relu", 2, 32, 1, 2, 64, 0, torch.float64)
    for w, (fan_out, fan_in) in zip(networks._block_weights(setup, 0), setup.shapes):
        assert float(w.var()) == pytest.approx(2.0 / fan_in, rel=0.1)
        assert w.shape[1:] == (fan_out, fan_in)
    assert setup.block * sum(a * b for a, b in setup.shapes) <= networks._WEIGHT_BUDGET
