"""The experiments of the ``weights`` chapter: IFBiD {cite:p}`serna2021ifbid` at laptop scale.

Zoos (``earlybias.zoo``, trained once and cached) are the detectors' data. Each set of colour
zoos cycles through one set of four levels (the study's far-apart ones, or the paper's close
ones) and comes in three roles: ``train`` (digits pool A) teaches a detector, ``heldout`` (pool
A, other seeds) validates it, ``test`` (pool B, digits no training model has seen) is where the
paper's thresholds apply, because the paper's test models were trained on digits independent of
its training models' (README of BiDAlab/IFBiD). The group task has its own three zoos. Each zoo
has its own seed, ``16 * seed + role`` (``ROLES``), so no two zoos of one run, nor of two runs
with different seeds, share a model's initialisation or data.

A :class:`Task` cuts labelled models out of the zoos (a set of levels, or the minority group);
detectors are fitted once per task (:func:`fit_detectors`) and shared by the experiments, which
receive the task and the fitted detectors they work on and return an :class:`Experiment`.
Claims are built by the ``*_claim`` functions from measured numbers only, so a unit test can hand
them a detector at chance, a constant prediction or a run with no effect and see them fail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from earlybias.claims import Claim, Experiment, above, at_least, below
from earlybias.data.colored import GROUP_COLORS, LEVEL_NAMES
from earlybias.validation import check_choice, check_int, check_real, check_reals, check_seed
from earlybias.weights import PARAMS
from earlybias.weights.detectors import BASELINE, DETECTORS, INVARIANT, make_detector, stats_detector
from earlybias.weights.features import weight_features
from earlybias.zoo import Zoo, ZooSpec, train_zoo

__all__ = [
    "Experiment",
    "PAPER",
    "ROLES",
    "ALPHA",
    "Task",
    "ZOO",
    "zoo_seed",
    "color_specs",
    "color_zoos",
    "group_specs",
    "group_zoos",
    "zoo_specs",
    "level_task",
    "extremes",
    "group_task",
    "fit_detectors",
    "chance_bound",
    "level_accuracy",
    "monotone_claim",
    "spread_claim",
    "accuracy_claim",
    "adjacent_share",
    "soft_confusion",
    "adjacent_null",
    "adjacent_claim",
    "paired_difference",
    "large_loss_claim",
    "saturation_claim",
    "gap_claim",
    "margin_claim",
    "bias_levels",
    "detection",
    "PAPER_THRESHOLDS",
    "level_detection",
    "adjacent_errors",
    "layer_ablation",
    "zoo_size_curve",
    "best_invariant",
    "choose",
    "group_detection",
    "pool_gap",
    "detector_comparison",
    "weight_embedding",
    "embedding_frame",
    "filter_contrast",
]

PAPER = "serna2021ifbid"
ROLES = (
    "train",
    "heldout",
    "test",
    "group_train",
    "group_test",
    "group_heldout",
    "paper_train",
    "paper_heldout",
    "paper_test",
)
#: False-alarm rate of every "clearly above chance" bound and every one-sided test of the claims.
ALPHA = 1e-3
#: Standard errors a measured effect must clear to count as one (a one-sided z of 3: p ~ 0.001).
Z = 3.0
_SPLITS = ("train", "heldout", "test")


def zoo_seed(seed: int, role: str) -> int:
    """The seed of the zoo ``role`` (``ROLES``) of a run with seed ``seed``: all distinct."""
    return 16 * check_seed(seed) + ROLES.index(check_choice("role", role, ROLES))


# --------------------------------------------------------------------------- zoos


#: The models of the chapter's zoos, as its parameters set them by default (``family``, ``width``,
#: ``epochs`` of :data:`earlybias.weights.PARAMS`): CNNs of width 16 trained for 3 epochs.
ZOO = {p.name: p.default for p in PARAMS if p.name in ("family", "width", "epochs")}


def _specs(sizes: dict[str, int], seed: int, kind: str, **spec) -> dict[str, ZooSpec]:
    """One zoo per role (``train``, ``heldout``, ``test``) of ``sizes[role]`` models with the
    ``ZooSpec`` settings ``spec`` over :data:`ZOO`: the test zoo on digits pool B, the others on
    pool A, each with the seed of its role (``kind`` + role, :func:`zoo_seed`)."""
    spec = {**ZOO, **spec}
    return {
        role: ZooSpec(
            n_models=n, pool="B" if role == "test" else "A", seed=zoo_seed(seed, kind + role), **spec
        )
        for role, n in sizes.items()
    }


def _trained(specs: dict[str, ZooSpec], progress: bool) -> dict[str, Zoo]:
    return {role: train_zoo(spec, progress=progress) for role, spec in specs.items()}


def color_specs(
    seed: int = 0,
    *,
    sigma2_levels,
    n_train_models: int,
    n_heldout_models: int,
    n_test_models: int,
    paper: bool = False,
    **models,
) -> dict[str, ZooSpec]:
    """The specs of the colour-bias zoos (equation {eq}`weights-color`): ``train`` and ``heldout``
    on digits pool A, ``test`` on pool B. Model i of each zoo is trained at ``sigma2_levels[i % 4]``,
    so a zoo of a multiple of 4 models is balanced over the levels. ``paper``: the zoos of the
    paper's levels, seeded apart from the study's (roles ``paper_train``, ...). ``models``:
    ``ZooSpec`` settings of the models (``family``, ``width``, ``epochs``, ...) over the chapter's,
    :data:`ZOO`."""
    levels = check_reals("sigma2_levels", sigma2_levels, length=4, low=0, low_open=True, increasing=True)
    sizes = {"train": n_train_models, "heldout": n_heldout_models, "test": n_test_models}
    for role, n in sizes.items():
        check_int(f"n_{role}_models", n, 2 * len(levels))  # every level at least twice
    return _specs(sizes, seed, "paper_" if paper else "", bias=levels, **models)


def color_zoos(seed: int = 0, *, progress: bool = False, **kwargs) -> dict[str, Zoo]:
    """The colour-bias zoos of :func:`color_specs` (same arguments), trained or read from the cache."""
    return _trained(color_specs(seed, **kwargs), progress)


def group_specs(
    seed: int = 0,
    *,
    n_group_models: int,
    n_group_heldout_models: int,
    n_group_test_models: int,
    minority_share: float = 0.1,
    **models,
) -> dict[str, ZooSpec]:
    """The specs of the group-bias zoos (digits on three background colours, one group
    under-represented): ``train`` and ``heldout`` on pool A, ``test`` on pool B; model i
    under-represents group i % 3. ``models``: ``ZooSpec`` settings of the models over the
    chapter's, :data:`ZOO`."""
    sizes = {"train": n_group_models, "heldout": n_group_heldout_models, "test": n_group_test_models}
    for role, n in sizes.items():
        check_int("n_group_models" if role == "train" else f"n_group_{role}_models", n, 2 * len(GROUP_COLORS))
    return _specs(sizes, seed, "group_", task="group", minority_share=minority_share, **models)


def group_zoos(seed: int = 0, *, progress: bool = False, **kwargs) -> dict[str, Zoo]:
    """The group-bias zoos of :func:`group_specs` (same arguments), trained or read from the cache."""
    return _trained(group_specs(seed, **kwargs), progress)


def zoo_specs(params: dict) -> list[ZooSpec]:
    """Every zoo the chapter's notebook trains for ``params`` beyond the small MLP comparison:
    the study's and the paper's colour-bias zoos and the group-bias zoos. A sweep trains these
    chunk by chunk on its cluster before the runs read them (``earlybias.sweep.cluster``)."""
    models = {k: params[k] for k in ZOO}
    roles = {
        "n_train_models": params["n_train_models"],
        "n_heldout_models": params["n_heldout_models"],
        "n_test_models": params["n_test_models"],
    }
    study = color_specs(params["seed"], sigma2_levels=params["sigma2_levels"], **roles, **models)
    paper = color_specs(
        params["seed"],
        sigma2_levels=params["paper_sigma2_levels"],
        **{**roles, "n_train_models": params["n_paper_train_models"]},
        paper=True,
        **models,
    )
    group = group_specs(
        params["seed"],
        n_group_models=params["n_group_models"],
        n_group_heldout_models=params["n_group_heldout_models"],
        n_group_test_models=params["n_group_test_models"],
        minority_share=params["minority_share"],
        **models,
    )
    return [*study.values(), *paper.values(), *group.values()]


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    """Labelled models of one detection task: ``splits[role] = (params, labels)`` for the roles
    ``train``, ``heldout`` and ``test``; label k names ``classes[k]``.
    ``frames[role]`` holds each selected model's row of ``Zoo.frame()``."""

    name: str
    classes: tuple[str, ...]
    splits: dict
    frames: dict

    @property
    def chance(self) -> float:
        """Accuracy of a detector that guesses: every task is balanced over its classes."""
        return 1.0 / len(self.classes)

    def params(self, role: str) -> dict:
        return self.splits[role][0]

    def labels(self, role: str) -> np.ndarray:
        return self.splits[role][1]

    def n(self, role: str) -> int:
        return len(self.splits[role][1])


def _subset(params: dict, mask: np.ndarray) -> dict:
    index = np.flatnonzero(mask)
    return {k: v[index] for k, v in params.items()}


def level_task(zoos: dict[str, Zoo], sigma2_levels, name: str = "levels") -> Task:
    """The models of each colour zoo trained at one of ``sigma2_levels`` (strongest bias first),
    labelled by the level's index: the four-level task at those variances."""
    levels = check_reals("sigma2_levels", sigma2_levels, low=0, low_open=True, increasing=True)
    splits, frames = {}, {}
    for role in _SPLITS:
        zoo = zoos[role]
        sigma2 = zoo.meta["sigma2"].numpy()
        missing = [s for s in levels if not np.isclose(sigma2, s).any()]
        if missing:
            raise ValueError(f"sigma2_levels {missing} are not trained in the {role} zoo ({zoo.spec.bias})")
        label = np.full(len(sigma2), -1)
        for k, s in enumerate(levels):
            label[np.isclose(sigma2, s)] = k
        keep = label >= 0
        splits[role] = (_subset(zoo.params, keep), label[keep])
        frame = zoo.frame()[keep].reset_index(drop=True)
        frames[role] = frame.assign(
            level=[LEVEL_NAMES[k] if len(levels) == 4 else str(k) for k in label[keep]]
        )
    classes = LEVEL_NAMES if len(levels) == 4 else tuple(f"{s:g}" for s in levels)
    return Task(name, tuple(classes), splits, frames)


def extremes(task: Task) -> Task:
    """The strongest against the weakest bias: ``task``'s first and last class only, labelled 0, 1."""
    last = len(task.classes) - 1
    splits, frames = {}, {}
    for role, (params, y) in task.splits.items():
        keep = (y == 0) | (y == last)
        splits[role] = (_subset(params, keep), (y[keep] == last).astype(np.int64))
        frames[role] = task.frames[role][keep].reset_index(drop=True)
    return Task(f"{task.name}, extremes", (task.classes[0], task.classes[-1]), splits, frames)


def group_task(zoos: dict[str, Zoo]) -> Task:
    """Name the under-represented group from the weights: labels are each model's minority group."""
    splits = {role: (z.params, z.meta["minority_group"].numpy()) for role, z in zoos.items()}
    frames = {role: z.frame() for role, z in zoos.items()}
    return Task("group", tuple(f"group {g}" for g in range(len(GROUP_COLORS))), splits, frames)


def fit_detectors(task: Task, names, seed: int = 0) -> dict:
    """Each detector of ``names`` (``DETECTORS``) fitted once on ``task``'s training models."""
    return {
        name: make_detector(name, seed=seed).fit(task.params("train"), task.labels("train"))
        for name in dict.fromkeys(check_choice("detector", n, DETECTORS) for n in names)
    }


# --------------------------------------------------------------------------- claims


def chance_bound(n: int, chance: float, alpha: float = ALPHA) -> float:
    """The accuracy that a detector guessing at ``chance`` exceeds on ``n`` models with
    probability below ``alpha``: the binomial (1 - alpha) quantile over n. "Clearly above chance"
    means above this bound, so the bar rises as the zoo shrinks."""
    from scipy.stats import binom

    check_int("n", n, 1)
    check_real("chance", chance, 0, 1, low_open=True)
    return float(binom.ppf(1 - alpha, n, chance) / n)


def _guarded(claim: Claim, accuracies: dict[str, float], bound: float) -> Claim:
    """``claim``, passed only if every accuracy of ``accuracies`` is above ``bound`` as well."""
    clear = all(a > bound for a in accuracies.values())
    listed = ", ".join(f"{k} {v:.3f}" for k, v in accuracies.items())
    return replace(
        claim,
        expected=f"{claim.expected}; and {listed} > {bound:.3f} (clearly above chance, p < {ALPHA:g})",
        passed=bool(claim.passed and clear),
    )


def level_accuracy(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count of the unbiased test accuracy per level of a task's
    model frame, levels in the task's order (strongest bias first)."""
    return frame.groupby("level", sort=False)["acc_unbiased"].agg(["mean", "std", "count"])


def monotone_claim(id: str, by_level: pd.DataFrame, statement: str) -> Claim:
    """Setup check: unbiased accuracy rises from each level to the next, every step clearly.

    Measured: the smallest step between adjacent levels in standard errors of the difference of
    two means, (m_k+1 - m_k) / sqrt(s_k^2 / n_k + s_k+1^2 / n_k+1); it must exceed ``Z``.
    """
    m, s, n = (by_level[c].to_numpy(float) for c in ("mean", "std", "count"))
    z = np.diff(m) / np.sqrt(s[:-1] ** 2 / n[:-1] + s[1:] ** 2 / n[1:] + 1e-300)
    return above(id, PAPER, statement, float(z.min()), Z)


def spread_claim(id: str, spread: float, statement: str, bound: float = 0.25) -> Claim:
    """Setup check: unbiased accuracy spans at least ``bound`` from the strongest to the weakest bias."""
    return at_least(id, PAPER, statement, spread, bound)


def accuracy_claim(
    id: str, statement: str, accuracy: float, threshold: float, n: int, chance: float
) -> Claim:
    """Accuracy at least ``threshold`` (a paper's number), and clearly above chance on ``n`` models."""
    return _guarded(
        at_least(id, PAPER, statement, accuracy, threshold),
        {"accuracy": accuracy},
        chance_bound(n, chance),
    )


def adjacent_share(proba: np.ndarray, y: np.ndarray) -> float:
    """Share of the probability a detector puts on wrong levels that falls on a neighbouring level
    (equation {eq}`weights-adjacent`). Defined even when the detector makes no hard error."""
    distance = np.abs(np.arange(proba.shape[1])[None, :] - y[:, None])
    return float(proba[distance == 1].sum() / proba[distance > 0].sum())


def soft_confusion(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The confusion matrix of probabilities: row i sums the detector's probabilities over the
    models of true level i, so row i, column j is the mass it puts on level j for them."""
    k = proba.shape[1]
    return np.stack([proba[y == i].sum(0) for i in range(k)])


def adjacent_null(proba: np.ndarray, y: np.ndarray, n_iter: int = 200) -> float:
    """The share ``adjacent_share`` would take if the wrong level a detector doubts did not depend
    on the true level beyond the margins (equation {eq}`weights-adjacent`).

    The wrong-level cells of ``soft_confusion`` are fitted by quasi-independence,
    E_ij = alpha_i beta_j for i != j, with the same row sums (wrong mass of the models of level i)
    and column sums (wrong mass on level j) (iterative proportional fitting, at most ``n_iter``
    rounds);
    the null is the share of E on |i - j| = 1. A detector whose doubts go to the middle levels
    whatever the truth scores well above 1/2 here, so 1/2 is not the no-preference value.
    """
    k = proba.shape[1]
    off = soft_confusion(proba, y) * (1 - np.eye(k))
    rows, cols, mask = off.sum(1), off.sum(0), 1 - np.eye(k)
    alpha, beta = np.ones(k), np.ones(k)
    for _ in range(n_iter):
        alpha = np.divide(rows, mask @ beta, out=np.zeros(k), where=(mask @ beta) > 0)
        new = np.divide(cols, mask.T @ alpha, out=np.zeros(k), where=(mask.T @ alpha) > 0)
        done = np.allclose(new, beta, rtol=1e-10, atol=1e-12)
        beta = new
        if done:
            break
    expected = np.outer(alpha, beta) * mask
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    return float(expected[distance == 1].sum() / expected[distance > 0].sum())


def adjacent_claim(
    id: str, statement: str, proba: np.ndarray, y: np.ndarray, seed: int = 0, n_boot: int = 500
) -> tuple[Claim, dict[str, float]]:
    """The detector's doubt prefers neighbouring levels: ``adjacent_share`` above ``adjacent_null``
    by more than ``Z`` bootstrap standard errors of their difference (models resampled with
    replacement, ``n_boot`` times, seeded). Returns the claim and its numbers."""
    share, null = adjacent_share(proba, y), adjacent_null(proba, y)
    rng = np.random.default_rng(check_seed(seed))
    excess = []
    for idx in rng.integers(0, len(y), size=(n_boot, len(y))):
        p, t = proba[idx], y[idx]
        excess.append(adjacent_share(p, t) - adjacent_null(p, t))
    se = float(np.std(excess, ddof=1))
    numbers = {"adjacent_share": share, "adjacent_null": null, "adjacent_se": se}
    # 1e-9: a share equal to the null up to rounding is no preference, even where the bootstrap
    # has nothing to vary (a constant prediction).
    return above(id, PAPER, statement, share, null + Z * se + 1e-9), numbers


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, float]:
    """Accuracy of a minus accuracy of b on the same models, and its standard error (the standard
    deviation of the per-model differences over sqrt(n))."""
    d = np.asarray(correct_a, float) - np.asarray(correct_b, float)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def large_loss_claim(
    id: str, statement: str, loss: float, se: float, accuracies: dict[str, float], bound: float
) -> Claim:
    """An accuracy loss above ``Z`` standard errors (a real loss), the better detector clearly
    above chance (two detectors at chance lose nothing)."""
    return _guarded(above(id, PAPER, statement, loss, Z * se), accuracies, bound)


def saturation_claim(
    id: str, statement: str, gain: float, margin: float, accuracies: dict[str, float], bound: float
) -> Claim:
    """The last doubling of the training zoo gains under ``margin``, the detectors clearly above
    chance (at chance, more models would gain nothing either)."""
    return _guarded(below(id, PAPER, statement, gain, margin), accuracies, bound)


def gap_claim(
    id: str, statement: str, gap: float, margin: float, accuracies: dict[str, float], bound: float
) -> Claim:
    """Two-sided: |gap| below ``margin``, with both accuracies clearly above chance."""
    return _guarded(below(id, PAPER, statement, abs(gap), margin), accuracies, bound)


def margin_claim(
    id: str, statement: str, margin: float, threshold: float, accuracies: dict[str, float], bound: float
) -> Claim:
    """A margin above ``threshold``, the better detector clearly above chance."""
    return _guarded(above(id, PAPER, statement, margin, threshold), accuracies, bound)


# --------------------------------------------------------------------------- experiments


def bias_levels(task: Task, *, prefix: str = "") -> Experiment:
    """Setup checks: the levels of ``task`` are real, a model's unbiased test accuracy rises with
    sigma2, measured on the training zoo's models (not findings of the paper: the levels were
    chosen to make them true). ``prefix`` starts the claim ids (``""`` or ``"paper-"``)."""
    frame = task.frames["train"][["model", "level", "sigma2", "acc_train", "acc_biased", "acc_unbiased"]]
    by_level = level_accuracy(frame)
    spread = float(by_level["mean"].iloc[-1] - by_level["mean"].iloc[0])
    metrics = {f"unbiased_acc_{name}": float(acc) for name, acc in by_level["mean"].items()}
    metrics["unbiased_acc_spread"] = spread
    claims = [
        monotone_claim(
            f"{prefix}levels-monotone",
            by_level,
            f"Setup check ({task.name}): unbiased test accuracy rises from each level to the next "
            "(smallest step, in standard errors)",
        )
    ]
    if not prefix:
        claims.append(
            spread_claim(
                "levels-spread",
                spread,
                f"Setup check ({task.name}): unbiased test accuracy spans at least 25 points from "
                "the strongest to the weakest bias",
            )
        )
    return Experiment(metrics, {"models": frame, "by_level": by_level.reset_index()}, claims)


def detection(task: Task, detector, *, name: str) -> Experiment:
    """Accuracy of one fitted ``detector`` (called ``name``) on ``task``'s held-out and test models,
    the confusion matrix on each and its probabilities on the test zoo. No claims: the callers
    state them against their thresholds."""
    metrics, data = {}, {}
    for role, key in (("heldout", "inpool"), ("test", "cross")):
        if role not in task.splits:
            continue
        y, pred = task.labels(role), detector.predict(task.params(role))
        metrics[f"{key}_acc"] = float(np.mean(pred == y))
        data[f"confusion_{key}"] = pd.DataFrame(
            confusion_matrix(y, pred, labels=range(len(task.classes))),
            index=pd.Index(task.classes, name="true"),
            columns=pd.Index(task.classes, name="predicted"),
        )
        data[f"correct_{key}"] = pred == y
    data["proba_cross"] = detector.predict_proba(task.params("test"))
    data["detector"] = name
    return Experiment(metrics, data, [])


#: The paper's thresholds (abstract): strong against low bias in more than 99 % of the models,
#: four levels in more than 70 %; measured there on test models trained on other digits.
PAPER_THRESHOLDS = {"binary": 0.99, "four": 0.70}


def level_detection(
    task: Task, detector, *, name: str, prefix: str = "", roles=("heldout", "test")
) -> Experiment:
    """``detection`` of ``task`` (two levels: ``extremes``; or four) by the fitted ``detector``,
    with one claim per role of ``roles`` against the paper's threshold (``PAPER_THRESHOLDS``).

    The paper measured its numbers on test models trained on digits its detector's training
    models never saw (README of BiDAlab/IFBiD), our pool-B test zoo: there its thresholds apply as
    they are. On held-out models of the detector's own pool A the study applies the same numbers
    to an easier setting.
    """
    found = detection(task, detector, name=name)
    binary = len(task.classes) == 2
    kind = "binary" if binary else "four-levels"
    what = (
        f"Strong ({task.classes[0]}) against low ({task.classes[-1]}) bias" if binary else "Four bias levels"
    )
    paper = "more than 99 %" if binary else "more than 70 %"
    claims = []
    for role, key, where, whose in (
        (
            "heldout",
            "inpool",
            "held-out pool-A models",
            f"the study applies the paper's {paper} to its own pool",
        ),
        ("test", "cross", "pool-B test zoo", f"paper, abstract: {paper}, on models trained on other digits"),
    ):
        if role not in roles:
            continue
        claims.append(
            accuracy_claim(
                f"{prefix}{kind}-{key}",
                f"{what} read off the weights ({task.name}, {name} detector, {where}; chance "
                f"{task.chance:.2f}) [{whose}]",
                found.metrics[f"{key}_acc"],
                PAPER_THRESHOLDS["binary" if binary else "four"],
                task.n(role),
                task.chance,
            )
        )
    return Experiment(found.metrics, found.data, claims)


def adjacent_errors(
    task: Task, four: Experiment, *, seed: int = 0, id: str = "four-levels-adjacent"
) -> Experiment:
    """Where the detector doubts: the share of its wrong-level probability on neighbouring levels,
    against the share with no preference for neighbours (``adjacent_claim``), on the test zoo."""
    claim, numbers = adjacent_claim(
        id,
        f"Our analysis ({task.name}, {four.data['detector']} detector, pool-B test zoo): the detector's "
        "doubt falls on neighbouring levels, more than with no preference for neighbours (bound: the "
        "share from the confusion matrix's margins plus 3 bootstrap standard errors)",
        four.data["proba_cross"],
        task.labels("test"),
        seed=seed,
    )
    return Experiment(numbers, {}, [claim])


def layer_ablation(task: Task, *, seed: int = 0, fitted_all=None, claims: bool = True) -> Experiment:
    """Which weights carry the bias: the statistics detector reading the first layer, the layers
    beyond it, the readout only, or all layers, every layer through the same features
    (``layer_features``), on ``task``'s four levels. ``fitted_all``: a statistics detector already
    fitted on all layers of this task (shared, not refitted). ``claims=False``: the measurements
    only (for a task the claims are not about)."""
    y_test, n = task.labels("test"), task.n("test")
    rows, correct = [], {}
    for layers in ("first", "beyond_first", "last", "all"):
        det = fitted_all if (layers == "all" and fitted_all is not None) else None
        if det is None:
            det = stats_detector(layers=layers, seed=seed).fit(task.params("train"), task.labels("train"))
        pred = det.predict(task.params("test"))
        correct[layers] = pred == y_test
        rows.append(
            {
                "layers": layers,
                "held-out, pool A": det.score(task.params("heldout"), task.labels("heldout")),
                "test zoo, pool B": float(correct[layers].mean()),
            }
        )
    frame = pd.DataFrame(rows)
    acc = {k: float(v.mean()) for k, v in correct.items()}
    bound = chance_bound(n, task.chance)
    loss_first, se_first = paired_difference(correct["all"], correct["first"])
    loss_last, se_last = paired_difference(correct["all"], correct["last"])
    metrics = {f"{k}_cross_acc": v for k, v in acc.items()}
    metrics.update(
        first_loss=loss_first,
        first_loss_se=se_first,
        last_loss=loss_last,
        last_loss_se=se_last,
        chance_bound=bound,
    )
    if not claims:
        return Experiment(metrics, {"accuracy": frame}, [])
    found = [
        large_loss_claim(
            "ablation-first",
            f"Our analysis ({task.name}, statistics detector, pool-B test zoo): the bias is not "
            "written into the first layer alone, reading only it costs more than 3 standard errors "
            "of four-level accuracy against reading every layer with the same features",
            loss_first,
            se_first,
            {"all layers": acc["all"]},
            bound,
        ),
        large_loss_claim(
            "ablation-last",
            f"Our analysis ({task.name}, statistics detector, pool-B test zoo): nor into the readout "
            "layer alone, reading only it costs more than 3 standard errors as well",
            loss_last,
            se_last,
            {"all layers": acc["all"]},
            bound,
        ),
    ]
    return Experiment(metrics, {"accuracy": frame}, found)


def zoo_size_curve(
    task: Task, detector: str, *, sizes, seed: int = 0, id: str | None = "zoo-size-saturates"
) -> Experiment:
    """How many models a detector needs: four-level accuracy for growing training zoos. Each size
    takes the first models of the training split (the zoos cycle through the levels, so every
    prefix of a multiple of the level count is balanced); sizes above the split are capped.
    ``id=None``: the curve only, no claim."""
    check_choice("detector", detector, DETECTORS)
    n_train = task.n("train")
    sizes = sorted({min(check_int("size", s, 2 * len(task.classes)), n_train) for s in sizes})
    rows, accs = [], {}
    for n in sizes:
        first = np.arange(n_train) < n
        det = make_detector(detector, seed=seed).fit(
            _subset(task.params("train"), first), task.labels("train")[first]
        )
        for role, label in (("heldout", "held-out, pool A"), ("test", "test zoo, pool B")):
            rows.append(
                {
                    "n_models": n,
                    "evaluated on": label,
                    "accuracy": det.score(task.params(role), task.labels(role)),
                }
            )
        accs[n] = rows[-2]["accuracy"]  # held-out, pool A
    frame = pd.DataFrame(rows)
    metrics = {f"acc_n{n}": acc for n, acc in accs.items()}
    claims = []
    if len(sizes) > 1:
        small, large = sizes[-2], sizes[-1]
        gain = accs[large] - accs[small]
        metrics["gain_last"] = gain
    if len(sizes) > 1 and id is not None:
        claims.append(
            saturation_claim(
                id,
                f"Our analysis ({task.name}, {detector} detector, held-out pool A): the detector "
                f"saturates, growing the training zoo from {small} to {large} models gains under "
                "10 points of four-level accuracy",
                gain,
                0.10,
                {f"{small} models": accs[small], f"{large} models": accs[large]},
                chance_bound(task.n("heldout"), task.chance),
            )
        )
    return Experiment(metrics, {"curve": frame}, claims)


def best_invariant(task: Task, fitted: dict) -> str:
    """The invariant detector of ``fitted`` with the best accuracy on ``task``'s held-out models
    (the validation zoo, pool A): chosen without a look at the test zoo. Ties go to the simpler
    detector, in the order of ``INVARIANT`` (statistics, DeepSets, the paper's network)."""
    invariant = [name for name in INVARIANT if name in fitted]
    if not invariant:
        raise ValueError(
            f"fitted must hold at least one invariant detector of {INVARIANT}, got {list(fitted)}"
        )
    scores = {name: fitted[name].score(task.params("heldout"), task.labels("heldout")) for name in invariant}
    return max(scores, key=scores.get)  # the first of equals: ties go to the simpler detector


def choose(task: Task, fitted: dict, detector: str = "best") -> str:
    """The detector of a task's claims: ``best_invariant`` when ``detector`` is ``"best"``, else
    the named one, which ``fitted`` must hold."""
    if detector == "best":
        return best_invariant(task, fitted)
    check_choice("detector", detector, DETECTORS)
    if detector not in fitted:
        raise ValueError(f"detector {detector!r} is not among the fitted detectors {list(fitted)}")
    return detector


def group_detection(
    task: Task, fitted: dict, *, detector: str = "best", threshold: float = 0.83
) -> Experiment:
    """Which group a model neglects, named from its weights by the detector of ``fitted`` that
    ``choose`` picks (by default the invariant one best on held-out models). The paper names the
    ethnic group a face model was biased towards with 83 % (CEUR version) to 90 % (arXiv v4)
    accuracy, chance 1/3 (abstract); its lower number is the threshold. Here the group is a
    background colour under-represented in training."""
    name = choose(task, fitted, detector)
    y, pred = task.labels("test"), fitted[name].predict(task.params("test"))
    acc = float(np.mean(pred == y))
    # The bias the detector should find: the minority group is recognised worse on balanced data.
    acc_group = task.frames["test"][[f"acc_group_{g}" for g in range(len(GROUP_COLORS))]].to_numpy()
    is_minority = np.arange(len(GROUP_COLORS))[None, :] == y[:, None]
    metrics = {
        "cross_acc": acc,
        "minority_acc": float(acc_group[is_minority].mean()),
        "other_acc": float(acc_group[~is_minority].mean()),
    }
    metrics.update({f"{n}_cross_acc": fitted[n].score(task.params("test"), y) for n in fitted})
    confusion = pd.DataFrame(
        confusion_matrix(y, pred, labels=range(len(task.classes))),
        index=pd.Index(range(len(task.classes)), name="minority group"),
        columns=pd.Index(range(len(task.classes)), name="predicted"),
    )
    claims = [
        accuracy_claim(
            "group-cross",
            f"The under-represented group is named from the weights ({name} detector; pool-B test "
            "zoo; chance 1/3) [paper, abstract: 83 % (CEUR version) to 90 % (arXiv v4), on face "
            "models]",
            acc,
            threshold,
            task.n("test"),
            task.chance,
        )
    ]
    return Experiment(metrics, {"confusion": confusion, "detector": name}, claims)


def pool_gap(task: Task, four: Experiment, *, margin: float = 0.05) -> Experiment:
    """How much accuracy is lost on models trained on other digits (pool B) than the detector's
    training zoo (pool A): held-out minus cross-pool four-level accuracy of ``four`` (a
    ``detection`` of ``task``), two-sided against ``margin``."""
    inpool, cross = four.metrics["inpool_acc"], four.metrics["cross_acc"]
    gap = inpool - cross
    bound = chance_bound(min(task.n("heldout"), task.n("test")), task.chance)
    claims = [
        gap_claim(
            "pool-gap",
            f"Our analysis ({task.name}, {four.data['detector']} detector): the detector reads the bias, "
            "not the digits, four-level accuracy differs by under 5 points, either way, between "
            "held-out pool-A models and the pool-B test zoo",
            gap,
            margin,
            {"held-out": inpool, "test": cross},
            bound,
        )
    ]
    return Experiment({"gap_4level": gap}, {}, claims)


def detector_comparison(task: Task, fitted: dict, *, id: str | None = "invariance-matters") -> Experiment:
    """Every fitted detector of ``fitted`` on ``task``'s held-out and test models. The invariant
    detector with the best held-out (validation) accuracy is ``data["best"]``; the claim ``id``
    compares it on the test zoo with its flat baseline of the same model class (``BASELINE``)."""
    if not set(fitted) & set(INVARIANT):
        raise ValueError(
            f"fitted must hold at least one invariant detector of {INVARIANT}, got {list(fitted)}"
        )
    rows = [
        {
            "detector": name,
            "invariant": name in INVARIANT,
            "held-out, pool A": det.score(task.params("heldout"), task.labels("heldout")),
            "test zoo, pool B": det.score(task.params("test"), task.labels("test")),
        }
        for name, det in fitted.items()
    ]
    frame = pd.DataFrame(rows)
    table = frame.set_index("detector")
    held_out = table["held-out, pool A"]
    # The best held-out accuracy; ties go to the simpler detector, as in ``best_invariant``.
    best = max((name for name in INVARIANT if name in table.index), key=lambda name: held_out[name])
    metrics = {f"{name}_inpool_acc": float(a) for name, a in table["held-out, pool A"].items()}
    metrics.update({f"{name}_cross_acc": float(a) for name, a in table["test zoo, pool B"].items()})
    claims = []
    if id is not None:
        baseline = BASELINE[best]
        if baseline not in table.index:
            raise ValueError(f"fitted must hold {baseline!r}, the baseline of {best!r}")
        acc_best, acc_flat = table.loc[best, "test zoo, pool B"], table.loc[baseline, "test zoo, pool B"]
        metrics["invariance_margin"] = float(acc_best - acc_flat)
        claims.append(
            margin_claim(
                id,
                f"Our analysis ({task.name}, pool-B test zoo): permutation invariance matters, the "
                f"invariant detector chosen on held-out pool-A models ({best}) beats the raw flattened "
                f"weights read by the same model class ({baseline}) by more than 20 points",
                float(acc_best - acc_flat),
                0.20,
                {best: float(acc_best)},
                chance_bound(task.n("test"), task.chance),
            )
        )
    return Experiment(metrics, {"accuracy": frame, "best": best}, claims)


def filter_contrast(task: Task, role: str = "train") -> dict[str, float]:
    """Mean over the models of each level of the first layer's mean contrast (``contrast``,
    equation {eq}`weights-features`): how much its filters tell colours apart rather than shapes."""
    features, names = weight_features(task.params(role), "first")
    column = features[:, names.index(f"{names[0].split('.')[0]}.contrast_mean")]
    labels = task.labels(role)
    return {name: float(column[labels == k].mean()) for k, name in enumerate(task.classes)}


def embedding_frame(task: Task, *, role: str = "train", seed: int = 0) -> pd.DataFrame:
    """``weight_embedding`` of ``task``'s ``role`` models with their level: columns ``PC 1``,
    ``PC 2``, ``level``; ``attrs["spearman_pc1_level"]`` is the rank correlation of the first
    component with the level, signed so that it is >= 0 (a component's sign is arbitrary)."""
    from scipy.stats import spearmanr

    xy = weight_embedding(task.params(role), seed=seed)
    labels = task.labels(role)
    frame = pd.DataFrame({"PC 1": xy[:, 0], "PC 2": xy[:, 1], "level": [task.classes[k] for k in labels]})
    frame.attrs["spearman_pc1_level"] = float(abs(spearmanr(xy[:, 0], labels).statistic))
    return frame


def weight_embedding(params: dict, *, layers: str = "all", seed: int = 0) -> np.ndarray:
    """Each model as a point: its standardised weight statistics (``weight_features``) projected on
    their first two principal components, (M, 2). Computed from the weights alone, with no label."""
    features, _ = weight_features(params, layers)
    return make_pipeline(StandardScaler(), PCA(n_components=2, random_state=check_seed(seed))).fit_transform(
        features
    )
