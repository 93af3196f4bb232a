"""Detectors on synthetic zoos with a planted signal: they learn what is learnable, the invariant
ones ignore the order of hidden units, the flat ones cannot read what invariance reads, the
paper's design is invariant to exactly what it pools over; determinism and bad input."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from test_weights_features import cnn_params, mlp_params, permute_cnn, permute_mlp

from earlybias.weights.detectors import (
    BASELINE,
    DETECTORS,
    INVARIANT,
    DeepSetsDetector,
    flat_detector,
    make_detector,
    stats_detector,
)
from earlybias.weights.ifbid import IFBiDDetector

torch.set_num_threads(1)

FAST = {"deepsets": dict(width=16, epochs=30), "ifbid": dict(width=16, epochs=30)}


def shifted_first_layer(M, seed):
    """Label 1 adds 1 to every first-layer weight: a signal at fixed positions that every detector
    sees (the flat ones position by position, the invariant ones in every unit)."""
    p = mlp_params(M=M, H=8, seed=seed)
    y = np.arange(M) % 2
    p["fc1.weight"] = p["fc1.weight"] + torch.from_numpy(y)[:, None, None].float()
    return p, y


def scaled_units(M, seed, family="mlp"):
    """Label 1 triples the first layer's weights: a change of scale, not of any weight's mean."""
    p = mlp_params(M=M, H=8, seed=seed) if family == "mlp" else cnn_params(M=M, W=8, seed=seed)
    y = np.arange(M) % 2
    first = "fc1.weight" if family == "mlp" else "conv1.weight"
    scale = (1.0 + 2.0 * torch.from_numpy(y).float()).reshape(-1, *[1] * (p[first].dim() - 1))
    p[first] = p[first] * scale
    return p, y


def fit(name, params, y, seed=0):
    return make_detector(name, seed=seed, **FAST.get(name, {})).fit(params, y)


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_learns_a_separable_problem(name):
    det = fit(name, *shifted_first_layer(120, seed=0))
    test_params, test_y = shifted_first_layer(60, seed=1)
    assert det.score(test_params, test_y) >= 0.95
    proba = det.predict_proba(test_params)
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", INVARIANT)
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_invariant_detectors_read_a_change_of_scale(name, family):
    det = fit(name, *scaled_units(160, seed=0, family=family))
    assert det.score(*scaled_units(80, seed=1, family=family)) >= 0.9


def test_flat_weights_cannot_read_a_change_of_scale():
    # A linear model of raw weights sees every weight's sign flip at random: no direction separates.
    assert flat_detector().fit(*scaled_units(120, seed=0)).score(*scaled_units(60, seed=1)) < 0.75


@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_detectors_ignore_the_order_of_hidden_units(name):
    params, y = scaled_units(60, seed=0)
    det = fit(name, params, y)
    moved = permute_mlp(params, torch.randperm(8, generator=torch.Generator().manual_seed(1)))
    np.testing.assert_allclose(det.predict_proba(moved), det.predict_proba(params), rtol=1e-5, atol=1e-6)


def test_flat_detector_depends_on_the_order_of_hidden_units():
    params, y = scaled_units(60, seed=0)
    flat = flat_detector().fit(params, y)
    moved = permute_mlp(params, torch.randperm(8, generator=torch.Generator().manual_seed(1)))
    assert not np.allclose(flat.predict_proba(moved), flat.predict_proba(params), atol=1e-3)


def test_the_papers_design_pools_a_layers_own_filters_but_reads_its_inputs_in_order():
    params, y = scaled_units(60, seed=0, family="cnn")
    g = torch.Generator().manual_seed(2)
    keep1, keep2 = torch.arange(4), torch.arange(8)
    second_moved = permute_cnn(params, keep1, torch.randperm(8, generator=g))  # conv2's own filters
    first_moved = permute_cnn(params, torch.tensor([1, 0, 3, 2]), keep2)  # conv1's, = conv2's inputs
    paper = fit("ifbid", params, y)
    deepsets = fit("deepsets", params, y)
    base = paper.predict_proba(params)
    np.testing.assert_allclose(paper.predict_proba(second_moved), base, rtol=1e-5, atol=1e-6)
    assert not np.allclose(paper.predict_proba(first_moved), base, atol=1e-4)
    # DeepSets summarises the weights between two hidden layers: invariant to both permutations.
    for moved in (first_moved, second_moved):
        np.testing.assert_allclose(
            deepsets.predict_proba(moved), deepsets.predict_proba(params), rtol=1e-5, atol=1e-6
        )


def test_every_invariant_detector_has_a_flat_baseline_of_its_model_class():
    assert set(BASELINE) == set(INVARIANT)
    assert all(BASELINE[name] not in INVARIANT for name in INVARIANT)
    assert isinstance(stats_detector(), Pipeline) and isinstance(make_detector("flat_net"), Pipeline)


def test_detectors_are_scikit_learn_estimators():
    params, y = shifted_first_layer(80, seed=0)
    for name in ("stats", "deepsets"):
        det = make_detector(name, seed=3, **FAST.get(name, {}))
        a = clone(det).fit(params, y).predict_proba(params)
        b = det.fit(params, y).predict_proba(params)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [DeepSetsDetector, IFBiDDetector])
def test_network_detectors_are_deterministic_for_a_seed_and_leave_the_global_rng_alone(cls):
    params, y = scaled_units(40, seed=0)
    state = torch.get_rng_state()
    runs = [cls(width=16, epochs=10, seed=s).fit(params, y).predict_proba(params) for s in (3, 3, 4)]
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_bad_input_is_named():
    params, y = shifted_first_layer(10, seed=0)
    with pytest.raises(ValueError, match="detector must be one of"):
        make_detector("svm")
    with pytest.raises(ValueError, match="layers must be one of"):
        stats_detector(layers="middle")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        DeepSetsDetector(epochs=0).fit(params, y)
    with pytest.raises(ValueError, match="seed must be an integer"):
        flat_detector(seed=-1)
    with pytest.raises(ValueError, match="y must hold one integer label per sample"):
        DeepSetsDetector().fit(params, y[:5])
    with pytest.raises(ValueError, match="at least two distinct labels"):
        IFBiDDetector().fit(params, np.zeros(10, dtype=int))
