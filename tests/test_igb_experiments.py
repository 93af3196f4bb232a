"""The chapter's experiments at small sizes: their outputs, and simulation against theory (loose)."""

import math

import numpy as np
import pandas as pd
import pytest

from earlybias.claims import Claim
from earlybias.igb import experiments as ex
from earlybias.igb import theory

SMALL = dict(n_inits=300, n_points=300, width=64)


def check_result(result: ex.Experiment, n_claims: int) -> None:
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.metrics.values()), result.metrics
    assert all(isinstance(v, pd.DataFrame) and len(v) for v in result.data.values())
    assert len(result.claims) == n_claims
    assert all(isinstance(c, Claim) and c.paper == ex.PAPER for c in result.claims)
    assert len({c.id for c in result.claims}) == n_claims


def test_relu_one_layer():
    result = ex.relu_one_layer(**SMALL)
    check_result(result, 3)
    assert result.metrics["gamma_measured"] == pytest.approx(theory.GAMMA_RELU, rel=0.25)
    assert result.metrics["ks_distance"] < 0.12
    assert set(result.data["theory"].columns) == {"f", "cdf", "pdf"}


def test_symmetric_activations():
    result = ex.symmetric_activations(n_inits=100, n_points=300, width=32)
    check_result(result, 6)
    assert max(result.metrics[f"gamma_{a}"] for a in ("tanh", "linear", "centered_relu")) < 0.03


def test_input_shift_creates_igb():
    result = ex.input_shift_sweep(shifts=(0.0, 1.0), n_inits=200, n_points=200, width=32)
    check_result(result, 3)
    frame = result.data["gamma"].set_index(["input_shift", "network"])["gamma_measured"]
    assert frame[(1.0, "linear, 1 layer")] == pytest.approx(1.0, rel=0.3)
    assert frame[(1.0, "relu, 1 layer")] == pytest.approx(theory.relu_gammas(1, 1.0)[0], rel=0.3)
    assert frame[(0.0, "linear, 3 layers")] < 0.03


def test_max_pooling_amplifies_igb():
    result = ex.max_pooling(ks=(1, 4), n_inits=300, n_points=200, width=32)
    check_result(result, 2)
    assert result.metrics["gamma_relu_pool4"] == pytest.approx(theory.pooling_gamma(4), rel=0.3)
    assert result.metrics["gamma_relu_pool4"] > 3 * result.metrics["gamma_relu_pool1"]


def test_depth_amplifies_only_existing_igb():
    result = ex.depth_sweep(max_depth=3, activations=("relu", "tanh"), n_inits=60, n_points=200, width=64)
    check_result(result, 3)
    assert result.metrics["max_rel_dev_relu"] < 0.25
    assert result.metrics["max_gamma_tanh"] < 0.03
    assert len(result.data["gamma"]) == 6


def test_self_averaging():
    result = ex.self_averaging(n_points_grid=(50, 800), n_inits=200, n_datasets=4, width=32)
    check_result(result, 2)
    assert result.metrics["relu_sd_ratio"] > 0.8
    assert result.metrics["tanh_max_rel_dev"] < 0.3


def test_node_symmetry_breaks_inside_one_network():
    result = ex.node_symmetry(depth=3, n_networks=3, n_points=300, width=256)
    check_result(result, 2)
    assert result.metrics["relu_max_rel_dev"] < 0.25
    assert result.metrics["tanh_max_spread"] < 0.03


def test_ten_classes():
    result = ex.ten_classes(**SMALL)
    check_result(result, 1)
    assert result.metrics["fmax_mean_measured"] == pytest.approx(0.330, abs=0.05)


def test_digits():
    result = ex.digits(n_inits=60, width=64)
    check_result(result, 4)
    assert result.metrics["gamma_raw_relu"] > 1.0
    assert result.metrics["gamma_std_tanh"] < 0.05
    assert result.metrics["gap_raw_relu"] < 0.3


def test_scale_multiplies_initialisations():
    assert len(ex.relu_one_layer(scale=0.1, **SMALL).data["samples"]) == 30
    assert len(ex.relu_one_layer(scale=0.01, **SMALL).data["samples"]) == ex._MIN_INITS  # floor
    with pytest.raises(ValueError, match="scale must be a number > 0"):
        ex.relu_one_layer(scale=0)


def test_headline_on_gaussian_and_digit_inputs():
    result = ex.headline(width=32, n_points=200, n_inits=100)
    assert set(result.metrics) == {"gamma_theory", "gamma_measured", "fmax_mean_theory", "fmax_mean_measured"}
    assert result.metrics["gamma_theory"] == pytest.approx(theory.GAMMA_RELU)
    assert set(result.data) == {"samples", "theory", "density"}
    digits = ex.headline(
        activation="tanh",
        depth=2,
        width=32,
        n_points=150,
        n_inits=50,
        n_classes=10,
        data="digits",
        standardize=True,
    )
    assert digits.data["samples"].shape == (50, 2)
    assert digits.metrics["fmax_mean_theory"] == pytest.approx(0.1, abs=0.05)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(data="cifar"), "data must be 'gaussian' or 'digits'"),
        (dict(pool_k=2, input_shift=0.5), "pool_k > 1 needs data='gaussian' with input_shift=0"),
        (dict(data="digits", n_points=5000), r"n_points must be in \[2, 1797\]"),
    ],
)
def test_headline_rejects_what_it_cannot_predict(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ex.headline(**kwargs)


def test_headline_pooling_with_standardised_shift_is_centred():
    result = ex.headline(pool_k=2, input_shift=3.0, standardize=True, width=16, n_points=100, n_inits=40)
    assert result.metrics["gamma_theory"] == pytest.approx(theory.pooling_gamma(2))
    assert np.isfinite(result.metrics["gamma_measured"])
