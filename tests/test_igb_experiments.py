"""The chapter's experiments at small sizes, and every claim shown to fail where its finding is false.

Each claim is built by a ``*_claims`` function of measured numbers. For every claim a test hands
it a case where the paper's finding does not hold (other networks, a wrong law, no effect) and
checks that the claim fails, and the matching true case that it passes, so no claim passes
whatever the truth.
"""

import math

import numpy as np
import pandas as pd
import pytest

from earlybias.claims import Claim
from earlybias.igb import experiments as ex
from earlybias.igb import theory

SMALL = dict(n_inits=300, n_points=300, width=64)


def check_result(result: ex.Experiment, ids: list[str]) -> None:
    assert all(isinstance(v, float) and math.isfinite(v) for v in result.metrics.values()), result.metrics
    assert all(isinstance(v, pd.DataFrame) and len(v) for v in result.data.values())
    assert [c.id for c in result.claims] == ids
    assert all(isinstance(c, Claim) for c in result.claims)


def by_id(claims: list[Claim]) -> dict[str, Claim]:
    return {c.id: c for c in claims}


# --------------------------------------------------------------------------- 1. one ReLU layer


def test_relu_claims_hold_for_relu_networks_and_fail_for_tanh_networks():
    relu = ex.relu_one_layer(**SMALL, seed=1)
    check_result(relu, ["relu-gamma", "relu-fmax", "relu-f0-distribution"])
    assert all(c.passed for c in relu.claims), relu.claims
    tanh = ex.relu_one_layer(**SMALL, seed=1, activation="tanh")  # no IGB: every ReLU claim is false
    assert not any(c.passed for c in tanh.claims), tanh.claims


def test_relu_gamma_claim_fails_for_a_wrong_gamma_and_tightens_with_the_run():
    m = ex.relu_one_layer(**SMALL).metrics
    wrong = {**m, "gamma_measured": m["gamma_theory"] * 1.3}
    assert not by_id(ex.relu_one_layer_claims(wrong))["relu-gamma"].passed
    # The same relative error with a 16x smaller standard error (a 256x bigger run) fails sooner.
    slight = {**m, "gamma_measured": m["gamma_theory"] + 2 * m["gamma_se"]}
    assert by_id(ex.relu_one_layer_claims(slight))["relu-gamma"].passed
    assert not by_id(ex.relu_one_layer_claims({**slight, "gamma_se": m["gamma_se"] / 16}))[
        "relu-gamma"
    ].passed


def test_ks_distance_on_a_grid_and_its_claim():
    f = np.random.default_rng(0).binomial(200, 0.5, size=3000) / 200
    cdf = lambda x: theory.f0_cdf(x, 0.0, n_points=200)  # gamma = 0 at 200 points: f_0 ~ Bin(200, 1/2) / 200
    assert ex._ks_distance(f, cdf, 1 / 200) < 0.04
    shifted = lambda x: theory.f0_cdf(np.clip(x - 0.02, 0, 1), 0.0, n_points=200)
    assert ex._ks_distance(f, shifted, 1 / 200) > 0.15


# --------------------------------------------------------------------------- 2. centred activations


def test_no_igb_claims_hold_for_tanh_and_fail_for_relu_networks():
    kw = dict(n_inits=200, n_points=300, width=32)
    centred = ex.symmetric_activations(**kw, activations=("tanh", "linear", "centered_relu"))
    check_result(
        centred,
        [
            "tanh-gamma",
            "tanh-fmax",
            "linear-gamma",
            "linear-fmax",
            "centered_relu-gamma",
            "centered_relu-fmax",
        ],
    )
    assert all(c.passed for c in centred.claims), centred.claims
    relu = ex.symmetric_activations(**kw, activations=("relu", "gelu"))
    assert [c.id for c in relu.claims] == ["relu-gamma", "relu-fmax", "gelu-gamma", "gelu-fmax"]
    assert not any(c.passed for c in relu.claims), relu.claims


def test_no_igb_claim_needs_the_upper_confidence_bound_below_the_margin():
    frame = pd.DataFrame(
        [
            dict(activation="tanh", gamma_measured=0.015, gamma_se=0.0005, fmax_mean_measured=0.52,
                 fmax_mean_se=0.001, fmax_mean_margin=0.545),
            dict(activation="noisy", gamma_measured=0.015, gamma_se=0.002, fmax_mean_measured=0.52,
                 fmax_mean_se=0.01, fmax_mean_margin=0.545),
        ]
    )  # fmt: skip
    claims = by_id(ex.symmetric_activations_claims(frame))
    assert claims["tanh-gamma"].passed and claims["tanh-fmax"].passed
    assert not claims["noisy-gamma"].passed  # 0.015 + 4 x 0.002 > 0.02: too imprecise to show no IGB
    assert not claims["noisy-fmax"].passed


# --------------------------------------------------------------------------- 3. input shift


def test_input_shift_sweep_and_its_claims_fail_for_a_wrong_law():
    result = ex.input_shift_sweep(shifts=(0.0, 1.0), n_inits=200, n_points=200, width=32)
    check_result(result, ["shift-linear_1_layer", "shift-linear_3_layers", "shift-relu_1_layer"])
    frame = result.data["gamma"].set_index(["input_shift", "network"])
    assert frame.loc[(1.0, "linear, 1 layer"), "gamma_measured"] == pytest.approx(1.0, rel=0.3)
    assert frame.loc[(0.0, "linear, 3 layers"), "gamma_measured"] < 0.03
    assert all(c.passed for c in result.claims), result.claims
    wrong = result.data["gamma"].copy()
    wrong["gamma_measured"] *= np.where(wrong["network"] == "relu, 1 layer", 0.7, 1.0)  # another law
    claims = by_id(ex.input_shift_claims(wrong))
    assert not claims["shift-relu_1_layer"].passed and claims["shift-linear_1_layer"].passed


# --------------------------------------------------------------------------- 4. max-pooling


def test_max_pooling_claims_hold_and_fail_without_amplification():
    result = ex.max_pooling(ks=(1, 2, 4), n_inits=300, n_points=200, width=32)
    check_result(result, ["pool-relu-k2", "pool-relu-k4", "pool-linear-k2", "pool-linear-k4"])
    assert result.metrics["gamma_measured_relu_pool4"] > 3 * result.metrics["gamma_measured_relu_pool1"]
    assert result.metrics["gamma_measured_linear_pool1"] < 0.03  # no pooling, no IGB for a linear net
    assert all(c.passed for c in result.claims), result.claims
    flat = result.data["gamma"].copy()
    for activation in ("relu", "linear"):  # pooling that changes nothing: gamma stays at its k = 1 value
        rows = flat["activation"] == activation
        flat.loc[rows, "gamma_measured"] = flat.loc[rows & (flat["pool_k"] == 1), "gamma_measured"].iloc[0]
    assert not any(c.passed for c in ex.max_pooling_claims(flat))


# --------------------------------------------------------------------------- 5. depth


def test_depth_sweep_and_its_claims_fail_where_depth_does_not_act():
    result = ex.depth_sweep(
        max_depth=3, activations=("relu", "tanh"), n_inits=60, n_points=200, width=64, recursion_width=128,
        recursion_inits=60,
    )  # fmt: skip
    check_result(result, ["depth-relu-recursion", "depth-relu-grows", "depth-tanh-none"])
    assert len(result.data["gamma"]) == 6
    assert all(c.passed for c in result.claims), result.claims
    frame, steps, recursion = (result.data[k].copy() for k in ("gamma", "steps", "recursion"))
    relu = frame["activation"] == "relu"
    frame.loc[relu, "gamma_measured"] = theory.GAMMA_RELU  # depth that does not amplify
    frame.loc[~relu, "gamma_measured"] = 0.2  # depth that creates IGB for tanh
    recursion["gamma_measured"] *= 0.8  # a recursion off by 20 %
    assert not any(c.passed for c in ex.depth_claims(frame, steps, recursion))


# --------------------------------------------------------------------------- 6. self-averaging


def _spread(sd_relu, sd_tanh, grid=(100, 400, 1600), se=0.002):
    g = theory.GAMMA_RELU
    rows = []
    for activation, sds, gamma in (("relu", sd_relu, g), ("tanh", sd_tanh, 0.0)):
        for n, sd in zip(grid, sds):
            v = float(theory.f0_var(gamma))
            rows.append(dict(activation=activation, n_points=n, sd_f0=sd, sd_f0_se=se,
                             sd_theory=math.sqrt(v + (0.25 - v) / n)))  # fmt: skip
        rows[-1]["ratio"], rows[-1]["ratio_se"] = sds[-1] / sds[0], 0.02
    return pd.DataFrame(rows)


def test_self_averaging_claims_fail_when_the_laws_swap():
    grid = np.array([100, 400, 1600])
    igb = [math.sqrt(float(theory.f0_var(theory.GAMMA_RELU)) + 0.2 / n) for n in grid]
    coin = list(0.5 / np.sqrt(grid))
    assert all(c.passed for c in ex.self_averaging_claims(_spread(igb, coin)))
    assert not any(c.passed for c in ex.self_averaging_claims(_spread(coin, igb)))


def test_self_averaging_experiment():
    result = ex.self_averaging(n_points_grid=(50, 800), n_inits=200, n_datasets=4, width=32)
    check_result(result, ["self-averaging-relu", "self-averaging-tanh"])
    spread = result.data["spread"]
    assert set(spread["activation"]) == {"relu", "tanh"} and (spread["sd_f0_se"] > 0).all()


# --------------------------------------------------------------------------- 7. node symmetry


def test_node_symmetry_claims_hold_and_fail_for_interchangeable_relu_nodes():
    result = ex.node_symmetry(depth=3, n_inits=4, n_points=300, width=256)
    check_result(result, ["node-symmetry-relu", "node-symmetry-tanh"])
    assert all(c.passed for c in result.claims), result.claims
    swapped = result.data["spread"].copy()
    relu = swapped["activation"] == "relu"
    spreads = swapped.loc[relu, "spread"].to_numpy()
    swapped.loc[relu, "spread"] = swapped.loc[~relu, "spread"].to_numpy()  # ReLU nodes that stay alike
    swapped.loc[~relu, "spread"] = spreads  # tanh nodes that spread
    assert not any(c.passed for c in ex.node_symmetry_claims(swapped))


# --------------------------------------------------------------------------- 8. ten classes


def test_ten_classes_claim_fails_for_a_neutral_network():
    result = ex.ten_classes(**SMALL)
    check_result(result, ["ten-classes-fmax"])
    assert result.metrics["fmax_mean_measured"] == pytest.approx(0.330, abs=0.05)
    neutral = {**result.metrics, "fmax_mean_measured": theory.expected_fmax(0.0, 10, n_points=300)}
    assert not ex.ten_classes_claims(neutral)[0].passed


# --------------------------------------------------------------------------- 9. digits


def test_digits_claims_hold_and_fail_when_the_settings_swap():
    result = ex.digits(n_inits=60, width=64)
    ids = ["digits-raw-relu", "digits-raw-relu-kernel", "digits-raw-relu-fmax", "digits-std-tanh"]
    check_result(result, ids)
    m = result.metrics
    assert m["gamma_raw_relu"] > 1.0 and m["gamma_std_tanh"] < 0.05 and m["gap_raw_relu"] < 0.3
    swapped = {
        **m,
        "gamma_raw_relu": m["gamma_std_tanh"],
        "gamma_raw_relu_se": m["gamma_std_tanh_se"],
        "fmax_mean_raw_relu": m["fmax_mean_std_tanh"],
        "gamma_std_tanh": m["gamma_raw_relu"],
        "gamma_std_tanh_se": m["gamma_raw_relu_se"],
    }
    assert not any(c.passed for c in ex.digits_claims(swapped))


# --------------------------------------------------------------------------- 10. conv nets


def test_conv_pooling_claims_hold_and_fail_for_swapped_networks():
    result = ex.conv_pooling(n_inits=40, n_points=300, channels=(8, 8))
    check_result(result, ["conv-relu-maxpool", "conv-tanh-avgpool"])
    assert list(result.data["summary"]["setting"]) == list(ex.CONV_SETTINGS)
    assert by_id(result.claims)["conv-relu-maxpool"].passed
    summary = result.data["summary"].set_index("setting")
    assert summary.loc["tanh, average pooling", "gamma_measured"] < 0.05  # (40 networks: too few to pass)
    true = summary.copy()
    true.loc["tanh, average pooling", ["gamma_measured", "gamma_se"]] = [0.012, 0.0005]  # a run of ~400
    assert all(c.passed for c in ex.conv_claims(true.reset_index()))
    # tanh with max-pooling in the place of tanh with average pooling: pooling alone biases it.
    biased = summary.copy()
    biased.loc["tanh, average pooling"] = summary.loc["tanh, max-pooling"]
    assert not by_id(ex.conv_claims(biased.reset_index()))["conv-tanh-avgpool"].passed
    weak = summary.copy()
    weak.loc["relu, max-pooling", ["gamma_measured", "gamma_se"]] = [0.9, 0.01]  # below the regime boundary
    assert not by_id(ex.conv_claims(weak.reset_index()))["conv-relu-maxpool"].passed


# --------------------------------------------------------------------------- 11. training


def test_training_dynamics_claims_hold_with_igb_and_fail_without_it():
    kw = dict(n_inits=16, depth=2, width=16, n_steps=40)
    result = ex.training_dynamics(**kw)
    check_result(result, ["dyn-favoured-first", "dyn-transient"])
    assert all(c.passed for c in result.claims), result.claims
    assert result.metrics["igb_gamma_init"] > 1.0 and result.metrics["no_igb_gamma_init"] < 0.02
    curves = result.data["curves"]
    assert set(curves["condition"]) == set(ex.DYNAMICS_CONDITIONS) and curves["step"].min() == 0
    # No IGB in either condition: the favoured class has no head start to show.
    same = {"tanh A": ("tanh", "standardised"), "tanh B": ("tanh", "standardised")}
    assert not by_id(ex.training_dynamics(**kw, conditions=same).claims)["dyn-favoured-first"].passed
    # No training (learning rate 0): the head start never goes away.
    frozen = ex.training_dynamics(**kw, lr=0.0)
    assert not by_id(frozen.claims)["dyn-transient"].passed


# --------------------------------------------------------------------------- headline and regimes


def test_regimes_move_from_peaked_to_u_shaped():
    result = ex.regimes(n_inits=200, n_points=200, width=32)
    assert [result.metrics[f"gamma_theory_depth{L}"] < 1 for L in (1, 3)] == [True, False]
    f0 = result.data["samples"]
    middle = f0.assign(mid=(f0["f0"] - 0.5).abs() < 0.25).groupby("depth")["mid"].mean()
    assert middle[1] > middle[3]  # one layer keeps f_0 near 1/2 more often than three


def test_headline_on_gaussian_and_digit_inputs():
    result = ex.headline(width=32, n_points=200, n_inits=100)
    assert result.metrics["gamma_theory"] == pytest.approx(theory.GAMMA_RELU)
    assert result.metrics["gamma_theory_n"] == pytest.approx(theory.finite_n_gamma(theory.GAMMA_RELU, 200))
    assert (
        abs(result.metrics["gamma_measured"] - result.metrics["gamma_theory_n"])
        < 4 * result.metrics["gamma_se"]
    )
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
    assert digits.metrics["fmax_mean_theory"] == pytest.approx(0.1, abs=0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(data="cifar"), "parameter 'data': got 'cifar', allowed: one of gaussian, digits"),
        (dict(pool_k=2, input_shift=0.5), "parameter 'pool_k'.*centred Gaussian inputs"),
        (dict(pool_k=2, activation="gelu"), "parameter 'pool_k'.*monotone activation"),
        (dict(data="digits", n_points=5000), r"parameter 'n_points'.*an integer in \[2, 1797\]"),
        (dict(hidden=64), r"unknown parameters \['hidden'\]: the headline takes activation, depth, width"),
    ],
)
def test_headline_rejects_what_it_cannot_predict(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ex.headline(**kwargs)


def test_headline_pooling_with_standardised_shift_is_centred():
    result = ex.headline(pool_k=2, input_shift=3.0, standardize=True, width=16, n_points=100, n_inits=40)
    assert result.metrics["gamma_theory"] == pytest.approx(theory.pooling_gamma(2))


def test_claims_scale_multiplies_initialisations():
    assert len(ex.relu_one_layer(claims_scale=0.1, **SMALL).data["samples"]) == 30
    assert len(ex.relu_one_layer(claims_scale=0.01, **SMALL).data["samples"]) == ex._MIN_INITS  # floor
    with pytest.raises(ValueError, match="claims_scale must be a finite number > 0"):
        ex.relu_one_layer(claims_scale=0)
