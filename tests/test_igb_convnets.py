"""Batched untrained conv nets: the numbers of one torch.nn network at a time, deterministic, He scaled."""

import math

import numpy as np
import pytest
import torch

from earlybias.data import load_digits
from earlybias.igb import convnets
from earlybias.igb.networks import gamma_measured

IMAGES = load_digits(standardize=True)[0][:40].reshape(-1, 8, 8)


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "avg"), ("tanh", "max")])
def test_batched_conv_nets_give_the_numbers_of_the_module_loop(activation, pooling):
    kwargs = dict(activation=activation, pooling=pooling, channels=(4, 6), n_classes=3, n_inits=37, seed=2)
    batched = convnets.simulate_conv(IMAGES, dtype=torch.float64, **kwargs)  # 37: a partial block
    loop = convnets.simulate_conv_loop(IMAGES, dtype=torch.float64, **kwargs)
    np.testing.assert_allclose(batched.mean, loop.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(batched.var, loop.var, rtol=1e-10)
    np.testing.assert_array_equal(batched.fractions, loop.fractions)


def test_chunking_images_and_blocks_do_not_change_a_network(monkeypatch):
    whole = convnets.simulate_conv(IMAGES, channels=(4, 6), n_inits=40, seed=5, dtype=torch.float64)
    monkeypatch.setattr(convnets, "_CHUNK_BUDGET", 32 * 4 * 64 * 7)  # 7 images per chunk
    chunked = convnets.simulate_conv(IMAGES, channels=(4, 6), n_inits=40, seed=5, dtype=torch.float64)
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(chunked.fractions, whole.fractions)
    fewer = convnets.simulate_conv(IMAGES, channels=(4, 6), n_inits=10, seed=5, dtype=torch.float64)
    np.testing.assert_allclose(
        fewer.mean, whole.mean[:10], rtol=1e-12
    )  # a network does not depend on n_inits


def test_weights_are_he_scaled_and_zero_inputs_give_zero_outputs():
    shapes = convnets.conv_shapes((8, 16), 2)
    for w, shape in zip(convnets._block_weights(shapes, 0, 0, torch.float64), shapes):
        assert float(w.var()) == pytest.approx(2.0 / math.prod(shape[1:]), rel=0.1)
    sim = convnets.simulate_conv(np.zeros((5, 8, 8)), n_inits=3, channels=(2, 2))
    np.testing.assert_array_equal(sim.mean, 0.0)


def test_pooling_and_activation_decide_the_bias_on_centred_images():
    # The paper's first figure in miniature: ReLU with max-pooling is far more biased than tanh
    # with average pooling on the same centred images.
    relu = convnets.simulate_conv(IMAGES, activation="relu", pooling="max", channels=(8, 8), n_inits=64)
    tanh = convnets.simulate_conv(IMAGES, activation="tanh", pooling="avg", channels=(8, 8), n_inits=64)
    assert gamma_measured(relu.mean, relu.var) > 1.0
    assert gamma_measured(tanh.mean, tanh.var) < 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(images=np.ones((3, 64))), r"images must have shape \(n_points, 8, 8\)"),
        (dict(activation="gelu"), "activation must be one of relu, tanh, linear"),
        (dict(pooling="mean"), "pooling must be one of max, avg"),
        (dict(channels=(4,)), "channels must be two integers"),
        (dict(n_classes=1), "n_classes must be an integer >= 2"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    images = kwargs.pop("images", IMAGES)
    with pytest.raises(ValueError, match=message):
        convnets.simulate_conv(images, n_inits=2, **kwargs)
