"""Every claim of the surgeon chapter passes on a case where the finding holds and fails where it
does not (DESIGN.md, "Claims")."""

import numpy as np
import pytest
import torch

from earlybias.surgeon import analysis as A


def test_vanilla_collapses_needs_a_monotone_fall_of_twenty_points():
    assert A.vanilla_collapses(np.array([0.9, 0.8, 0.6, 0.1])).passed
    assert not A.vanilla_collapses(np.array([0.17, 0.12, 0.11, 0.10])).passed  # falls, too little
    assert not A.vanilla_collapses(np.array([0.9, 0.5, 0.6, 0.1])).passed  # not monotone
    assert not A.vanilla_collapses(np.full(4, 0.1)).passed  # no effect


def test_subnetwork_exists_needs_a_large_gain_beyond_the_seeds_spread_at_both_levels():
    big = np.array([0.30, 0.32, 0.28])
    assert A.subnetwork_exists([big, big]).passed
    assert not A.subnetwork_exists([big, np.array([0.0, 0.01, -0.01])]).passed  # none at one level
    assert not A.subnetwork_exists([big, np.array([0.6, -0.2, 0.1])]).passed  # mean 0.17, SD 0.4


def test_weights_untouched_counts_every_changed_weight():
    w = {"a.weight": torch.randn(5, 4)}
    mask = (torch.rand(5, 4) > 0.5).float()
    assert A.weights_untouched(w, {"a.weight": w["a.weight"] * mask}).passed
    soft = A.weights_untouched(w, {"a.weight": w["a.weight"] * 0.999 * mask})  # a gate not exactly 1
    assert not soft.passed and soft.measured == float(mask.sum())


def test_not_any_mask_fails_when_a_random_mask_does_as_well_or_ffw_gains_nothing():
    assert A.not_any_mask(np.array([0.3, 0.3]), np.array([0.02, 0.04])).passed
    assert not A.not_any_mask(np.array([0.3, 0.3]), np.array([0.2, 0.2])).passed
    assert not A.not_any_mask(np.array([0.0, -0.01]), np.array([-0.05, -0.05])).passed


def test_mi_term_matters_needs_a_clear_paired_margin():
    assert A.mi_term_matters(np.array([0.3, 0.32, 0.31]), np.array([0.1, 0.12, 0.1])).passed
    assert not A.mi_term_matters(np.array([0.3, 0.32, 0.31]), np.array([0.3, 0.3, 0.33])).passed
    assert not A.mi_term_matters(np.array([0.1, 0.1, 0.1]), np.array([0.3, 0.3, 0.3])).passed


def test_bias_leaves_features_needs_the_colour_gone_and_the_digit_kept():
    colour_v, digit_v = np.array([1.0, 1.0]), np.array([0.4, 0.42])
    assert A.bias_leaves_features(colour_v, np.array([0.2, 0.25]), digit_v, np.array([0.45, 0.41])).passed
    assert not A.bias_leaves_features(colour_v, colour_v, digit_v, digit_v).passed  # features unchanged
    dead = A.bias_leaves_features(colour_v, np.array([0.1, 0.1]), digit_v, np.array([0.1, 0.1]))
    assert not dead.passed  # dead features lose the colour and the digit alike


def test_architecture_resists_bias_needs_a_paired_gain():
    assert A.architecture_resists_bias(np.array([0.3, 0.35, 0.32]), np.array([0.1, 0.12, 0.1])).passed
    assert not A.architecture_resists_bias(np.full(3, 0.1), np.full(3, 0.1)).passed
    assert not A.architecture_resists_bias(np.array([0.5, 0.1, 0.1]), np.array([0.1, 0.2, 0.2])).passed


def _outputs(ffw_acc, vanilla_acc):
    """Outputs of a made-up run: two rhos x two seeds, every other method at chance."""
    import pandas as pd

    from earlybias.surgeon.experiment import Outputs, Setup

    setup = Setup(n_seeds=2, rhos=(0.99, 0.999))
    rows = []
    for method in ("vanilla", "ffw", "no_mi", "random_mask", "last_layer"):
        for i, rho in enumerate(setup.rhos):
            for s in range(2):
                acc = {"vanilla": vanilla_acc, "ffw": ffw_acc}.get(method, [[0.1, 0.1]] * 2)
                rows.append((method, rho, s, acc[i][s]))
    rows += [("ceiling", np.nan, s, 0.95) for s in range(2)]
    table = pd.DataFrame(rows, columns=["method", "rho", "seed", "accuracy"])
    probe = pd.DataFrame(
        [
            (f, t, r, s, 1.0 if t == "colour" and f == "vanilla" else 0.3)
            for f in ("vanilla", "ffw")
            for t in ("colour", "digit")
            for r in setup.rhos
            for s in range(2)
        ],
        columns=["features", "target", "rho", "seed", "accuracy"],
    )
    # the top rho's masks (models 2 and 3) keep a quarter of fc and all of conv0
    masks = {"conv0.weight": torch.ones(4, 2, 3, 3, 3), "fc.weight": torch.zeros(4, 10, 6)}
    masks["fc.weight"][2:, :, :] = torch.tensor([1.0, 0, 0, 0, 1, 0]).repeat(10)[:60].view(10, 6)
    vanilla = {k: torch.randn_like(v) for k, v in masks.items()}
    retrain = pd.DataFrame(
        [(a, s, 0.1) for a in ("masked", "dense") for s in range(2)],
        columns=["architecture", "seed", "accuracy"],
    )
    return Outputs(
        setup,
        table,
        None,
        probe,
        retrain,
        np.ones((3, 8)),
        np.full((3, 8), 0.5),
        {},
        np.array([100, 10]),
        vanilla,
        {"ffw": masks, "no_mi": masks, "random_mask": masks},
    )


def test_analyse_reads_the_top_rho_and_counts_the_masks_weights():
    o = _outputs(ffw_acc=[[0.5, 0.5], [0.6, 0.7]], vanilla_acc=[[0.4, 0.4], [0.1, 0.1]])
    r = A.analyse(o)
    assert r.metrics["ffw_gain_top"] == pytest.approx(0.55)
    assert r.metrics["vanilla_drop"] == pytest.approx(0.3)
    # 54 conv0 weights kept and 20 of 60 fc weights: 74 of 114
    assert r.metrics["mask_sparsity"] == pytest.approx(1 - 74 / 114)
    assert r.metrics["probe_acc_vanilla"] == 1.0 and r.metrics["ceiling_unbiased_acc"] == pytest.approx(0.95)
    status = {c.id: c.passed for c in r.claims}
    assert status["subnetwork-exists"] is False  # 0.1 and 0.55: the second-highest level gains too little
    assert status["weights-untouched"] is True
