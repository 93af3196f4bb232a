"""The explorer: what it computes for a setting agrees with the theory, and moving a control changes it."""

import matplotlib

matplotlib.use("Agg")

import pytest

from earlybias.igb import theory
from earlybias.igb.explorer import explore_data, explorer


@pytest.mark.parametrize(
    "setting, gamma",
    [
        (dict(activation="relu"), theory.GAMMA_RELU),
        (dict(activation="linear", input_shift=1.0), 1.0),  # linear networks: gamma = s^2
        (dict(activation="relu", pool_k=2), theory.pooling_gamma(2)),
    ],
)
def test_explorer_computation_agrees_with_the_theory(setting, gamma):
    exp = explore_data(**setting, seed=1)
    m = exp.metrics
    assert m["gamma_theory"] == pytest.approx(gamma, rel=1e-6)
    assert abs(m["gamma_measured"] - m["gamma_theory_n"]) < 4 * m["gamma_se"]


def test_moving_a_control_reruns_the_explorer_with_the_new_setting():
    widget = explorer(seed=2)
    controls = {c.description: c for c in widget.children[:-1]}
    assert widget.result.metrics["gamma_measured"] > 0.3  # starts at one ReLU layer: IGB
    controls["activation"].value = "tanh"
    assert widget.result.metrics["gamma_measured"] < 0.02  # tanh on centred data: none
    controls["shift s"].value = 1.5
    assert widget.result.metrics["gamma_theory"] > 0.5  # the shift creates it again


def test_explorer_refuses_pooling_outside_the_theory():
    assert "centred Gaussian inputs" in explore_data("relu", 1, pool_k=2, input_shift=1.0)
    assert "monotone" in explore_data("gelu", 1, pool_k=3)
