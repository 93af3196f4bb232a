"""The chapter's experiments: zoos and tasks on tiny real zoos, the experiments on synthetic
tasks with a planted answer, the schema and the run estimate."""

import numpy as np
import pandas as pd
import pytest
import torch
from test_weights_features import cnn_params

from earlybias import weights
from earlybias.budget import available_memory, check_fits
from earlybias.data.colored import BIAS_LEVELS, LEVEL_NAMES, PAPER_BIAS_LEVELS
from earlybias.params import ParamError, resolve
from earlybias.weights import detectors
from earlybias.weights import experiments as ex
from earlybias.zoo import FAMILIES

torch.set_num_threads(1)

TINY = dict(n_train_models=32, n_heldout_models=16, n_test_models=16, family="mlp", width=8, epochs=1)


@pytest.fixture(scope="module")
def zoos(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EARLYBIAS_CACHE_DIR", str(tmp_path_factory.mktemp("zoo-cache")))
        return {
            "study": ex.color_zoos(0, sigma2_levels=BIAS_LEVELS.values(), **TINY),
            "paper": ex.color_zoos(0, sigma2_levels=PAPER_BIAS_LEVELS.values(), paper=True, **TINY),
        }


# --------------------------------------------------------------------------- zoos and tasks


def test_zoos_of_one_run_never_share_a_seed(zoos):
    seeds = {ex.zoo_seed(s, role) for s in range(3) for role in ex.ROLES}
    assert len(seeds) == 3 * len(ex.ROLES)
    every = [z for level_set in zoos.values() for z in level_set.values()]
    assert [z.spec.pool for z in every] == ["A", "A", "B"] * 2
    assert len({z.spec.seed for z in every}) == 6


def test_a_level_task_holds_the_models_of_its_levels_labelled_in_order(zoos):
    paper = ex.level_task(zoos["paper"], PAPER_BIAS_LEVELS.values(), "paper's levels")
    for role in ("train", "heldout", "test"):
        frame, y = paper.frames[role], paper.labels(role)
        np.testing.assert_allclose(frame["sigma2"], np.array(list(PAPER_BIAS_LEVELS.values()))[y])
        assert list(frame["level"]) == [LEVEL_NAMES[k] for k in y]
        # Model i is trained at level i % 4: every level as often as the others.
        np.testing.assert_array_equal(y, np.arange(len(y)) % 4)
    ends = ex.extremes(paper)
    assert ends.classes == ("very_high", "very_low") and ends.chance == 0.5
    np.testing.assert_allclose(ends.frames["test"]["sigma2"], np.where(ends.labels("test") == 1, 0.05, 0.02))
    np.testing.assert_array_equal(
        ends.params("test")["fc1.weight"],
        zoos["paper"]["test"].params["fc1.weight"][np.arange(16) % 4 % 3 == 0],
    )


def test_a_level_task_needs_its_levels_in_the_zoo(zoos):
    with pytest.raises(ValueError, match="not trained in the train zoo"):
        ex.level_task(zoos["study"], [0.02, 0.03, 0.07, 0.6])


# --------------------------------------------------------------------------- synthetic tasks


def planted(n, seed, where="conv1", strength=2.0, k=4):
    """CNN weights whose label k scales one layer by 1 + strength * k / (k - 1): a bias written
    into that layer only; random labels when ``strength`` is 0."""
    p = cnn_params(M=n, W=8, seed=seed)
    y = np.arange(n) % k
    scale = 1.0 + strength * torch.from_numpy(y).float() / (k - 1)
    w = p[f"{where}.weight"]
    p[f"{where}.weight"] = w * scale.reshape(-1, *[1] * (w.dim() - 1))
    return p, y


def synthetic_task(where="conv1", strength=4.0, n=(600, 200, 200), k=4):
    splits = {
        role: planted(m, seed, where, strength, k)
        for role, m, seed in zip(("train", "heldout", "test"), n, (0, 1, 2))
    }
    frames = {role: pd.DataFrame({"level": [LEVEL_NAMES[i] for i in y]}) for role, (_, y) in splits.items()}
    return ex.Task("synthetic", LEVEL_NAMES[:k], splits, frames)


class Constant:
    """A detector that always says class 0."""

    def predict(self, params):
        return np.zeros(len(params["fc.weight"]), dtype=int)

    def predict_proba(self, params):
        return np.tile([1.0, 0, 0, 0], (len(params["fc.weight"]), 1))


def test_detection_of_a_constant_predictor_scores_the_share_of_its_class():
    task = synthetic_task()
    found = ex.detection(task, Constant(), name="constant")
    assert found.metrics == {"inpool_acc": 0.25, "cross_acc": 0.25}
    assert found.data["confusion_cross"].iloc[:, 0].tolist() == [50, 50, 50, 50]
    claims = ex.level_detection(task, Constant(), name="constant").claims
    assert [c.id for c in claims] == ["four-levels-inpool", "four-levels-cross"] and not any(
        c.passed for c in claims
    )


def spread_task(strength=4.0):
    """Level k scales the first layer by its high bit and the readout by its low bit: each layer
    alone tells two pairs of levels apart, only both together tell all four."""
    splits = {}
    for role, m, seed in zip(("train", "heldout", "test"), (600, 200, 200), (0, 1, 2)):
        p = cnn_params(M=m, W=8, seed=seed)
        y = np.arange(m) % 4
        high, low = (torch.from_numpy(b).float() for b in (y // 2, y % 2))
        p["conv1.weight"] = p["conv1.weight"] * (1 + strength * high)[:, None, None, None, None]
        p["fc.weight"] = p["fc.weight"] * (1 + strength * low)[:, None, None]
        splits[role] = (p, y)
    frames = {role: pd.DataFrame({"level": [LEVEL_NAMES[i] for i in y]}) for role, (_, y) in splits.items()}
    return ex.Task("spread", LEVEL_NAMES, splits, frames)


def test_layer_ablation_finds_the_layer_that_holds_the_bias():
    first = ex.layer_ablation(synthetic_task("conv1"))
    assert first.metrics["first_cross_acc"] > 0.9 and first.metrics["last_cross_acc"] < 0.5
    # All of the bias in the first layer: reading it alone loses nothing, the readout alone all.
    assert {c.id: c.passed for c in first.claims} == {"ablation-first": False, "ablation-last": True}
    readout = ex.layer_ablation(synthetic_task("fc"))
    assert {c.id: c.passed for c in readout.claims} == {"ablation-first": True, "ablation-last": False}
    spread = ex.layer_ablation(spread_task())
    assert {c.id: c.passed for c in spread.claims} == {"ablation-first": True, "ablation-last": True}
    # No bias at all: every detector at chance, and no claim may pass.
    assert not any(c.passed for c in ex.layer_ablation(synthetic_task(strength=0.0)).claims)
    assert ex.layer_ablation(synthetic_task(), claims=False).claims == []


def test_zoo_size_curve_saturates_on_an_easy_signal_and_not_at_chance():
    sizes = (150, 300, 600)
    easy = ex.zoo_size_curve(synthetic_task(), "stats", sizes=sizes)
    assert easy.claims[0].passed and set(easy.data["curve"]["n_models"]) == set(sizes)
    assert not ex.zoo_size_curve(synthetic_task(strength=0.0), "stats", sizes=sizes).claims[0].passed


def test_pool_gap_and_comparison_on_planted_signals():
    task = synthetic_task()
    fitted = ex.fit_detectors(task, ["stats", "flat"])
    four = ex.detection(task, fitted["stats"], name="stats")
    assert ex.pool_gap(task, four).claims[0].passed
    compare = ex.detector_comparison(task, fitted)
    assert compare.data["best"] == "stats" and compare.claims[0].passed  # flat cannot read a scale
    null = synthetic_task(strength=0.0)
    null_fitted = ex.fit_detectors(null, ["stats", "flat"])
    assert not ex.pool_gap(null, ex.detection(null, null_fitted["stats"], name="stats")).claims[0].passed
    assert not ex.detector_comparison(null, null_fitted).claims[0].passed


class Scripted:
    """A detector right on a fixed share of each split: ``accuracy[role]``."""

    def __init__(self, task, accuracy):
        self.task, self.accuracy = task, accuracy

    def score(self, params, y):
        role = next(r for r in self.task.splits if self.task.params(r) is params)
        return self.accuracy[role]


def scripted(task, **accuracies) -> dict:
    """Fitted detectors by name, each right on the given (held-out, test) shares of the models."""
    return {name: Scripted(task, {"heldout": h, "test": t}) for name, (h, t) in accuracies.items()}


def test_the_best_detector_is_chosen_on_held_out_models_not_on_the_test_zoo():
    task = synthetic_task()
    fitted = scripted(task, stats=(0.9, 0.6), deepsets=(0.8, 0.95), flat=(0.3, 0.3), flat_net=(0.3, 0.3))
    compare = ex.detector_comparison(task, fitted)
    assert compare.data["best"] == "stats"
    assert compare.metrics["invariance_margin"] == pytest.approx(0.6 - 0.3)  # against its own baseline


def test_choose_takes_the_best_invariant_detector_or_the_one_named():
    task = synthetic_task()
    fitted = scripted(task, flat=(0.99, 0.99), deepsets=(0.8, 0.8), stats=(0.8, 0.7))
    assert ex.choose(task, fitted) == "stats"  # flat is not invariant; a tie goes to the simpler
    assert ex.choose(task, fitted, "flat") == "flat"
    with pytest.raises(ValueError, match="not among the fitted detectors"):
        ex.choose(task, fitted, "ifbid")


def test_group_detection_on_a_planted_group_bias():
    def with_group_accuracy(task):
        task.frames["test"] = task.frames["test"].assign(
            **{f"acc_group_{g}": np.where(task.labels("test") == g, 0.6, 0.8) for g in range(3)}
        )
        return task

    task = with_group_accuracy(synthetic_task(k=3))
    found = ex.group_detection(task, ex.fit_detectors(task, ["stats", "flat"]))
    assert found.metrics["minority_acc"] == pytest.approx(0.6)
    assert found.metrics["other_acc"] == pytest.approx(0.8)
    assert found.data["detector"] == "stats" and found.claims[0].passed
    null = with_group_accuracy(synthetic_task(k=3, strength=0.0))
    assert not ex.group_detection(null, ex.fit_detectors(null, ["stats"])).claims[0].passed


def test_bias_levels_reads_the_means_of_each_level():
    frame = pd.DataFrame(
        {
            "model": range(8),
            "level": [LEVEL_NAMES[i % 4] for i in range(8)],
            "sigma2": 0.0,
            "acc_train": 1.0,
            "acc_biased": 1.0,
            "acc_unbiased": [0.2, 0.4, 0.6, 0.8, 0.22, 0.42, 0.62, 0.82],
        }
    )
    task = ex.Task("t", LEVEL_NAMES, {"train": (None, np.arange(8) % 4)}, {"train": frame})
    found = ex.bias_levels(task)
    assert found.metrics["unbiased_acc_very_high"] == pytest.approx(0.21)
    assert found.metrics["unbiased_acc_spread"] == pytest.approx(0.6)
    assert all(c.statement.startswith("Setup check") for c in found.claims)


def test_the_embedding_separates_a_planted_bias_and_ignores_unit_order():
    params, y = planted(200, seed=0)
    xy = ex.weight_embedding(params)
    assert abs(np.corrcoef(xy[:, 0], y)[0, 1]) > 0.8
    from test_weights_features import permute_cnn

    moved = permute_cnn(params, torch.randperm(4), torch.randperm(8))
    np.testing.assert_allclose(np.abs(ex.weight_embedding(moved)), np.abs(xy), atol=1e-8)
    frame = ex.embedding_frame(synthetic_task(), role="test")
    assert frame.attrs["spearman_pc1_level"] > 0.8 and list(frame.columns) == ["PC 1", "PC 2", "level"]


def test_experiments_are_deterministic_for_a_seed(zoos):
    task = ex.level_task(zoos["study"], BIAS_LEVELS.values())
    runs = [
        ex.detection(task, ex.fit_detectors(task, ["deepsets"], seed=s)["deepsets"], name="d").metrics
        for s in (0, 0, 1)
    ]
    assert runs[0] == runs[1]


def test_bad_arguments_are_named(zoos):
    with pytest.raises(ValueError, match="detector must be one of"):
        ex.fit_detectors(synthetic_task(), ["svm"])
    with pytest.raises(ValueError, match="sigma2_levels must be"):
        ex.level_task(zoos["study"], (0.1, 0.05, 0.2, 0.6))
    with pytest.raises(ValueError, match="n_heldout_models must be an integer >= 8"):
        ex.color_zoos(sigma2_levels=BIAS_LEVELS.values(), **{**TINY, "n_heldout_models": 6})
    with pytest.raises(ValueError, match="size must be an integer >= 8"):
        ex.zoo_size_curve(synthetic_task(), "stats", sizes=(4,))
    with pytest.raises(ValueError, match="at least one invariant detector"):
        ex.detector_comparison(synthetic_task(), {"flat": detectors.flat_detector()})


# --------------------------------------------------------------------------- schema and estimate


def test_schema_matches_the_code():
    defaults = resolve(weights.PARAMS, {}, {})
    assert weights.FAMILIES == FAMILIES and weights.DETECTORS == detectors.DETECTORS
    assert tuple(defaults["sigma2_levels"]) == tuple(BIAS_LEVELS.values())
    assert tuple(defaults["paper_sigma2_levels"]) == tuple(PAPER_BIAS_LEVELS.values())
    weights.check_params(defaults)
    with pytest.raises(ParamError, match="'sigma2_levels'.*strictly increasing"):
        weights.check_params({**defaults, "sigma2_levels": [0.02, 0.02, 0.1, 0.6]})


# Run times measured on the study's 2-core machine (cold cache, `earlybias run weights`, runtime_s
# of results.json; issue 10): the estimate must stay within a factor of 2 of them.
MEASURED_S = {"smoke": 13.2, "default": 155.0}


@pytest.mark.parametrize("profile", sorted(MEASURED_S))
def test_the_time_estimate_is_within_a_factor_of_two_of_a_measured_run(profile):
    from earlybias.chapters import CHAPTERS

    params = resolve(weights.PARAMS, CHAPTERS["weights"].profiles()[profile], {})
    assert 0.5 < weights.estimate(params).seconds / MEASURED_S[profile] < 2.0


def test_an_absurd_zoo_does_not_fit_in_memory():
    params = {**resolve(weights.PARAMS, {}, {}), "n_train_models": 10_000_000}
    estimate = weights.estimate(params)
    assert estimate.memory_bytes > available_memory()
    with pytest.raises(ParamError, match="n_train_models=10000000"):
        check_fits("weights", params, estimate)
    small = weights.estimate(resolve(weights.PARAMS, {}, {}))
    assert small.memory_bytes < 4 * 2**30
