"""Every claim of the weights chapter can fail: each is built from measured numbers, and a case
where the finding is false (a detector at chance, a constant prediction, a run with no effect)
must not pass it. Each claim is also shown passing on a case where the finding holds."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from earlybias.weights import experiments as ex

RNG = np.random.default_rng(0)


def by_level(means, sd=0.04, n=256):
    return pd.DataFrame({"mean": means, "std": [sd] * len(means), "count": [n] * len(means)})


# --------------------------------------------------------------------------- chance bound


def test_chance_bound_is_the_binomial_quantile():
    # 512 models, 4 classes: a guessing detector scores above the bound with probability < 1e-3.
    bound = ex.chance_bound(512, 0.25)
    assert binom.sf(bound * 512, 512, 0.25) < 1e-3 <= binom.sf(bound * 512 - 1, 512, 0.25)
    assert 0.25 < bound < 0.33
    assert ex.chance_bound(32, 0.25) > bound  # a smaller zoo needs a higher bar


def test_a_guessing_detector_rarely_clears_the_bound():
    accs = RNG.binomial(400, 1 / 3, size=20_000) / 400
    assert np.mean(accs > ex.chance_bound(400, 1 / 3)) < 2e-3


# --------------------------------------------------------------------------- setup checks


def test_levels_monotone_fails_without_an_effect_and_for_a_reversed_step():
    good = ex.monotone_claim("m", by_level([0.2, 0.3, 0.45, 0.7]), "s")
    assert good.passed and good.measured == pytest.approx(0.1 / (0.04 * np.sqrt(2 / 256)))
    assert not ex.monotone_claim("m", by_level([0.3, 0.3, 0.3, 0.3]), "s").passed  # no effect
    assert not ex.monotone_claim("m", by_level([0.2, 0.4, 0.39, 0.7]), "s").passed  # one step down
    # A real but tiny step, within noise of 16 models per level, is not a clear step.
    assert not ex.monotone_claim("m", by_level([0.2, 0.21, 0.22, 0.23], n=16), "s").passed


def test_levels_spread_fails_for_levels_that_change_little():
    assert ex.spread_claim("s", 0.4, "s").passed
    assert not ex.spread_claim("s", 0.1, "s").passed


# --------------------------------------------------------------------------- accuracy claims


@pytest.mark.parametrize("threshold, chance", [(0.99, 0.5), (0.70, 0.25), (0.83, 1 / 3)])
def test_accuracy_claim_fails_at_chance_and_passes_above_the_threshold(threshold, chance):
    assert ex.accuracy_claim("a", "s", min(1.0, threshold + 0.01), threshold, 512, chance).passed
    assert not ex.accuracy_claim("a", "s", chance, threshold, 512, chance).passed
    assert not ex.accuracy_claim("a", "s", threshold - 0.02, threshold, 512, chance).passed


def test_accuracy_claim_also_needs_a_zoo_large_enough_to_tell_from_chance():
    # 0.75 on 4 models of two classes happens to a guessing detector 5 times in 16.
    claim = ex.accuracy_claim("a", "s", 0.75, 0.7, 4, 0.5)
    assert not claim.passed and "clearly above chance" in claim.expected


def test_level_detection_states_whose_threshold():
    assert ex.PAPER_THRESHOLDS == {"binary": 0.99, "four": 0.70}


# --------------------------------------------------------------------------- adjacent errors


def doubting(y, k, q, adjacent_weight=1.0, hit=0.6):
    """Probabilities with ``hit`` on the true level and the rest on the wrong levels in proportion
    to ``q``, neighbours of the truth weighted by ``adjacent_weight`` (1: no preference)."""
    p = np.zeros((len(y), k))
    for m, t in enumerate(y):
        d = np.abs(np.arange(k) - t)
        w = np.asarray(q, float) * np.where(d == 1, adjacent_weight, 1.0) * (d > 0)
        p[m] = (1 - hit) * w / w.sum()
        p[m, t] = hit
    return p


Y = np.tile(np.arange(4), 128)


def test_adjacent_share_by_hand():
    proba = np.array([[0.7, 0.2, 0.06, 0.04], [0.1, 0.1, 0.5, 0.3]])  # true levels 0 and 2
    assert ex.adjacent_share(proba, np.array([0, 2])) == pytest.approx(0.6 / 0.8)
    np.testing.assert_allclose(ex.soft_confusion(proba, np.array([0, 2]))[[0, 2]], proba)


@pytest.mark.parametrize(
    "q", [[1, 1, 1, 1], [0.1, 0.4, 0.4, 0.1], [0.4, 0.1, 0.1, 0.4], [0.7, 0.1, 0.1, 0.1]]
)
def test_the_null_is_the_share_of_a_detector_with_no_preference_for_neighbours(q):
    # Doubt spread by a fixed profile whatever the truth: the null recovers its share exactly.
    proba = doubting(Y, 4, q)
    assert ex.adjacent_null(proba, Y) == pytest.approx(ex.adjacent_share(proba, Y), abs=1e-6)


def test_errors_on_the_middle_levels_raise_the_null_above_one_half():
    # Doubts that go to the two middle levels whatever the truth: no preference for neighbours,
    # yet most of the wrong mass lands next to the truth, and 0.5 would call it a preference.
    proba = doubting(Y, 4, [0.1, 0.4, 0.4, 0.1])
    assert ex.adjacent_null(proba, Y) == pytest.approx(23 / 36)  # (4/9 + 5/6 + 5/6 + 4/9) / 4
    assert not ex.adjacent_claim("adj", "s", proba, Y)[0].passed


def test_adjacent_claim_fails_with_no_preference_for_neighbours():
    claim, numbers = ex.adjacent_claim("adj", "s", doubting(Y, 4, [1, 1, 1, 1]), Y)
    assert not claim.passed and numbers["adjacent_share"] == pytest.approx(numbers["adjacent_null"])
    assert ex.adjacent_claim("adj", "s", doubting(Y, 4, [1, 1, 1, 1], adjacent_weight=4.0), Y)[0].passed
    # A constant prediction doubts the same levels whatever the truth: no preference either.
    constant = np.tile([0.1, 0.4, 0.4, 0.1], (len(Y), 1))
    assert not ex.adjacent_claim("adj", "s", constant, Y)[0].passed


# --------------------------------------------------------------------------- losses, gaps, margins


def test_paired_difference_by_hand():
    a, b = np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0])
    diff, se = ex.paired_difference(a, b)
    assert diff == 0.5 and se == pytest.approx(np.std([0, 1, 1, 0], ddof=1) / 2)


def test_large_loss_fails_without_a_real_loss():
    bound = ex.chance_bound(512, 0.25)
    assert ex.large_loss_claim("l", "s", 0.2, 0.02, {"all": 0.9}, bound).passed
    assert not ex.large_loss_claim("l", "s", 0.03, 0.02, {"all": 0.9}, bound).passed  # 1.5 SE
    assert not ex.large_loss_claim("l", "s", 0.0, 0.0, {"all": 0.25}, bound).passed  # both at chance


def test_saturation_fails_for_a_detector_at_chance_and_for_a_growing_curve():
    bound = ex.chance_bound(384, 0.25)
    assert ex.saturation_claim("z", "s", 0.01, 0.1, {"half": 0.9, "all": 0.91}, bound).passed
    assert not ex.saturation_claim("z", "s", 0.0, 0.1, {"half": 0.25, "all": 0.25}, bound).passed
    assert not ex.saturation_claim("z", "s", 0.2, 0.1, {"half": 0.5, "all": 0.7}, bound).passed


def test_pool_gap_is_two_sided_and_fails_at_chance():
    bound = ex.chance_bound(384, 0.25)
    assert ex.gap_claim("g", "s", 0.01, 0.05, {"in": 0.9, "cross": 0.89}, bound).passed
    assert not ex.gap_claim("g", "s", -0.2, 0.05, {"in": 0.7, "cross": 0.9}, bound).passed  # pool B better
    assert not ex.gap_claim("g", "s", 0.2, 0.05, {"in": 0.9, "cross": 0.7}, bound).passed
    assert not ex.gap_claim("g", "s", 0.0, 0.05, {"in": 0.25, "cross": 0.25}, bound).passed


def test_invariance_margin_fails_for_a_best_detector_at_chance():
    bound = ex.chance_bound(512, 0.25)
    assert ex.margin_claim("i", "s", 0.4, 0.2, {"stats": 0.9}, bound).passed
    assert not ex.margin_claim("i", "s", 0.1, 0.2, {"stats": 0.9}, bound).passed
    assert not ex.margin_claim("i", "s", 0.25, 0.2, {"stats": 0.27}, bound).passed
