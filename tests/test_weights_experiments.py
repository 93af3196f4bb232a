"""The chapter's experiments at tiny sizes (structure, not the claims), its schema and its helpers."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from earlybias import weights
from earlybias.claims import Claim, Experiment
from earlybias.data.colored import BIAS_LEVELS
from earlybias.params import ParamError, resolve
from earlybias.weights import detectors
from earlybias.weights import experiments as ex
from earlybias.zoo import FAMILIES

torch.set_num_threads(1)

TINY = dict(n_train_models=16, n_heldout_models=8, n_test_models=8, hidden=8, epochs=1)
TINY_GROUP = dict(n_group_models=12, n_test_models=6, hidden=8, epochs=1)


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    # One cache for the module: the tiny zoos are trained once and shared by the experiments.
    monkeypatch.setenv("EARLYBIAS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "zoo-cache"))


def check_result(result: Experiment, n_claims: int, metrics: set[str]) -> None:
    assert metrics <= set(result.metrics), metrics - set(result.metrics)
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.metrics.values()), result.metrics
    assert all(isinstance(v, pd.DataFrame) and len(v) for v in result.data.values())
    assert len(result.claims) == n_claims == len({c.id for c in result.claims})
    assert all(isinstance(c, Claim) and c.paper == ex.PAPER for c in result.claims)


def test_bias_levels():
    result = ex.bias_levels(**{k: TINY[k] for k in ("n_train_models", "hidden", "epochs")})
    check_result(result, 2, {f"unbiased_acc_{name}" for name in BIAS_LEVELS} | {"unbiased_acc_spread"})
    assert list(result.data["models"]["level"][:4]) == list(BIAS_LEVELS)
    acc = [result.metrics[f"unbiased_acc_{name}"] for name in BIAS_LEVELS]
    assert result.metrics["unbiased_acc_spread"] == pytest.approx(acc[-1] - acc[0])


@pytest.mark.parametrize("detector", detectors.DETECTORS)
def test_binary_and_four_levels_and_gap(detector):
    binary = ex.binary_detection(detector=detector, **TINY)
    check_result(binary, 2, {"detector_binary_inpool_acc", "detector_binary_cross_acc"})
    four = ex.four_levels(detector=detector, **TINY)
    check_result(
        four, 3, {"detector_4level_inpool_acc", "detector_4level_cross_acc", "adjacent_error_mass_cross"}
    )
    confusion = four.data["confusion_cross"].to_numpy()
    assert confusion.shape == (4, 4) and confusion.sum() == TINY["n_test_models"]
    accuracy = np.trace(confusion) / confusion.sum()
    assert four.metrics["detector_4level_cross_acc"] == pytest.approx(accuracy)
    gap = ex.pool_gap(binary, four)
    check_result(gap, 1, {"pool_gap_binary", "pool_gap_4level"})
    assert gap.metrics["pool_gap_4level"] == pytest.approx(
        four.metrics["detector_4level_inpool_acc"] - four.metrics["detector_4level_cross_acc"]
    )


def test_layer_ablation_and_zoo_size_curve():
    ablation = ex.layer_ablation(**TINY)
    check_result(ablation, 2, {f"ablation_{k}_cross_acc" for k in ("first", "last", "all")})
    curve = ex.zoo_size_curve(sizes=(8, 12, 100), **TINY)
    check_result(curve, 1, {"curve_acc_n8", "curve_acc_n12", "curve_acc_n16", "curve_gain_last"})
    assert sorted(curve.data["curve"]["n_models"].unique()) == [8, 12, 16]  # 100 capped at the zoo


def test_group_detection_and_comparison():
    group = ex.group_detection(**TINY_GROUP)
    check_result(group, 1, {"detector_group_cross_acc", "group_minority_acc", "group_other_acc"})
    assert group.data["confusion"].to_numpy().sum() == TINY_GROUP["n_test_models"]
    comparison = ex.detector_comparison(**TINY)
    check_result(comparison, 1, {f"compare_{d}_4level_cross_acc" for d in detectors.DETECTORS})


def test_experiments_are_deterministic_for_a_seed():
    runs = [ex.four_levels(seed=s, detector="deepsets", **TINY).metrics for s in (0, 0, 1)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_zoos_of_one_run_never_share_a_seed():
    seeds = {ex._zoo_seed(s, role) for s in range(3) for role in ex.ROLES}
    assert len(seeds) == 3 * len(ex.ROLES)
    zoos = ex.colour_zoos(**TINY)
    assert [z.spec.pool for z in zoos.values()] == ["A", "A", "B"]
    assert len({z.spec.seed for z in zoos.values()}) == 3


def test_adjacent_mass_by_hand():
    proba = np.array(
        [
            [0.7, 0.2, 0.06, 0.04],  # true 0: adjacent 0.2 of wrong 0.3
            [0.1, 0.1, 0.5, 0.3],
        ]
    )  # true 2: adjacent 0.1 + 0.3 of wrong 0.5
    assert ex._adjacent_mass(proba, np.array([0, 2])) == pytest.approx(0.6 / 0.8)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="detector must be one of"):
        ex.four_levels(detector="svm", **TINY)
    with pytest.raises(ValueError, match="sigma2_levels must be 4 strictly increasing"):
        ex.bias_levels(sigma2_levels=(0.1, 0.05, 0.2, 0.6))
    with pytest.raises(ValueError, match="n_heldout_models must be an integer >= 4"):
        ex.colour_zoos(**{**TINY, "n_heldout_models": 2})
    with pytest.raises(ValueError, match="sizes must be integers >= 8"):
        ex.zoo_size_curve(sizes=(4,), **TINY)
    with pytest.raises(ValueError, match="detectors must include 'flat'"):
        ex.detector_comparison(detectors=("stats",), **TINY)


def test_schema_matches_the_code():
    defaults = resolve(weights.PARAMS, {}, {})
    assert weights.FAMILIES == FAMILIES and weights.DETECTORS == detectors.DETECTORS
    assert tuple(defaults["sigma2_levels"]) == tuple(BIAS_LEVELS.values()) == weights.SIGMA2_LEVELS
    for fn in (ex.four_levels, ex.zoo_size_curve, ex.group_detection):
        kw = fn.__kwdefaults__
        assert all(kw[k] == defaults[k] for k in kw if k in defaults and k != "sigma2_levels"), fn
    weights.check_params(defaults)
    with pytest.raises(ParamError, match="'sigma2_levels'.*strictly increasing"):
        weights.check_params({**defaults, "sigma2_levels": [0.02, 0.02, 0.1, 0.6]})
