"""Detectors on synthetic zoos: they learn what is learnable, invariance, determinism, bad input."""

import numpy as np
import pytest
import torch
from test_weights_features import cnn_params, mlp_params, permute_mlp

from earlybias.weights.detectors import (
    DETECTORS,
    DeepSetsDetector,
    FlatDetector,
    StatsDetector,
    make_detector,
)

torch.set_num_threads(1)

FAST_DEEPSETS = dict(hidden=16, epochs=30)


def shifted_readout(M, seed):
    """Label 1 adds 5 to every readout bias: a signal at fixed positions, visible to every detector."""
    p = mlp_params(M=M, H=8, seed=seed)
    y = np.arange(M) % 2
    p["fc2.bias"] = p["fc2.bias"] + 5.0 * torch.from_numpy(y)[:, None].float()
    return p, y


def scaled_units(M, seed):
    """Label 1 triples the first layer's weights: a change of scale, not of any weight's mean."""
    p = mlp_params(M=M, H=8, seed=seed)
    y = np.arange(M) % 2
    p["fc1.weight"] = p["fc1.weight"] * (1.0 + 2.0 * torch.from_numpy(y)[:, None, None].float())
    return p, y


def fit(name, params, y, seed=0):
    kwargs = FAST_DEEPSETS if name == "deepsets" else {}
    return make_detector(name, seed=seed, **kwargs).fit(params, y)


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_learns_a_separable_problem(name):
    det = fit(name, *shifted_readout(120, seed=0))
    assert det.score(*shifted_readout(60, seed=1)) >= 0.95
    proba = det.predict_proba(shifted_readout(60, seed=1)[0])
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["stats", "deepsets"])
def test_invariant_detectors_read_a_change_of_scale(name):
    assert fit(name, *scaled_units(120, seed=0)).score(*scaled_units(60, seed=1)) >= 0.9


def test_flat_weights_cannot_read_a_change_of_scale():
    # A linear model of raw weights sees every weight's sign flip at random: no direction separates.
    assert FlatDetector().fit(*scaled_units(120, seed=0)).score(*scaled_units(60, seed=1)) < 0.75


def test_invariant_detectors_ignore_the_order_of_hidden_units():
    params, y = scaled_units(60, seed=0)
    moved = permute_mlp(params, torch.randperm(8))
    for det in (StatsDetector().fit(params, y), DeepSetsDetector(**FAST_DEEPSETS).fit(params, y)):
        np.testing.assert_allclose(det.predict_proba(moved), det.predict_proba(params), rtol=1e-5, atol=1e-6)
    flat = FlatDetector().fit(params, y)
    assert not np.allclose(flat.predict_proba(moved), flat.predict_proba(params), atol=1e-3)


def test_deepsets_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone():
    params, y = scaled_units(40, seed=0)
    state = torch.get_rng_state()
    runs = [DeepSetsDetector(**FAST_DEEPSETS, seed=s).fit(params, y).predict_proba(params) for s in (3, 3, 4)]
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_detectors_handle_the_cnn_family():
    params, y = cnn_params(M=40), np.arange(40) % 3
    for name in DETECTORS:
        pred = fit(name, params, y).predict(params)
        assert pred.shape == (40,) and set(pred) <= {0, 1, 2}


def test_bad_input_is_named():
    params, y = shifted_readout(10, seed=0)
    with pytest.raises(ValueError, match="detector must be one of"):
        make_detector("svm")
    with pytest.raises(ValueError, match="layers must be one of"):
        StatsDetector(layers="middle")
    with pytest.raises(ValueError, match="epochs must be an integer > 0"):
        DeepSetsDetector(epochs=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        FlatDetector(seed=-1)
    with pytest.raises(ValueError, match="one integer label per model"):
        StatsDetector().fit(params, y[:5])
    with pytest.raises(ValueError, match="at least two distinct labels"):
        DeepSetsDetector().fit(params, np.zeros(10, dtype=int))
