"""Chapter ``weights``: inference-free bias detection (Serna, DeAlcala, Morales, Fierrez,
Ortega-Garcia, IFBiD, 2021).

``features`` computes what a detector sees of a network (permutation-invariant statistics of its
weights, per-unit weight sets, the raw weights), ``detectors`` the detectors that read a model's
bias from them (``ifbid`` the paper's own design), ``experiments`` the zoos, the tasks and one
function per claim of the chapter. ``PARAMS`` is the chapter's parameter schema. This module
stays light (no torch): ``earlybias list`` imports it.
"""

from earlybias.budget import Estimate
from earlybias.data.colored import BIAS_LEVELS, GROUP_COLORS, LEVEL_NAMES, PAPER_BIAS_LEVELS
from earlybias.params import Param, ParamError

TITLE = "Inference-free bias detection: reading a network's bias off its weights"

# Kept here as literals so that listing the chapter imports no torch; a test checks that they
# equal earlybias.zoo.FAMILIES and earlybias.weights.detectors.DETECTORS.
FAMILIES = ("mlp", "cnn")
DETECTORS = ("stats", "deepsets", "ifbid", "flat", "flat_net")

#: The metrics a sweep plots against the parameters it varies (``earlybias sweep``).
HEADLINE = ("four_cross_acc", "binary_cross_acc", "group_cross_acc")

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {}

_MAX_MODELS = 10_000_000  # a bound on typing mistakes only: what fits is the run estimate's job
#: The parameters that each hold a set of four bias levels.
LEVEL_SETS = ("sigma2_levels", "paper_sigma2_levels")
_GROUPS = len(GROUP_COLORS)  # the classes of the group task


def _zoo_size(name: str, default: int, help: str, n_classes: int = len(LEVEL_NAMES)) -> Param:
    """The number of models of a zoo: at least two per class of its task (its ``n_classes`` bias
    levels or groups), the rule ``experiments.color_specs`` and ``group_specs`` check."""
    return Param(name, "int", default, help, low=2 * n_classes, high=_MAX_MODELS)


def _level_set(name: str, levels: dict[str, float], help: str) -> Param:
    """Four colour-jitter variances, one per bias level, strongest bias (smallest) first."""
    return Param(name, "floats", list(levels.values()), help, low=1e-4, high=100.0, length=4)


PARAMS = (
    _zoo_size("n_train_models", 1024, "models in the training zoo of the study's levels (pool A)"),
    _zoo_size("n_paper_train_models", 8192, "models in the training zoo of the paper's levels (pool A)"),
    _zoo_size(
        "n_heldout_models", 256, "models in each held-out (validation) zoo from pool A, one per level set"
    ),
    _zoo_size(
        "n_test_models",
        512,
        "models in each test zoo from pool B (digits no training model has seen), one per level set",
    ),
    _zoo_size("n_group_models", 480, "models in the group-bias training zoo (pool A)", n_classes=_GROUPS),
    _zoo_size(
        "n_group_heldout_models",
        120,
        "models in the group-bias held-out (validation) zoo (pool A)",
        n_classes=_GROUPS,
    ),
    _zoo_size("n_group_test_models", 240, "models in the group-bias test zoo (pool B)", n_classes=_GROUPS),
    Param("family", "str", "cnn", "architecture of every model of the zoos", choices=FAMILIES),
    Param(
        "width", "int", 16, "cnn: channels of conv 2 (conv 1 has half); mlp: hidden units", low=2, high=1024
    ),
    Param("epochs", "int", 3, "training epochs of every model of the zoos", low=1, high=200),
    _level_set(
        "sigma2_levels",
        BIAS_LEVELS,
        "colour-jitter variance of the study's four bias levels, strongest bias (smallest) first",
    ),
    _level_set(
        "paper_sigma2_levels",
        PAPER_BIAS_LEVELS,
        "colour-jitter variance of the paper's four closely spaced levels (the hard case)",
    ),
    Param(
        "minority_share",
        "float",
        0.1,
        "under-represented group's share in the group task",
        low=0.01,
        high=1 / 3,
    ),
    Param(
        "detector",
        "str",
        "best",
        "detector of the claims: the invariant one best on held-out models of each task, or one "
        "by name (statistics, DeepSets, the paper's kernel network, flat linear, flat network)",
        choices=("best", *DETECTORS),
    ),
    Param("seed", "int", 0, "random seed of the zoos and detectors", low=0, high=2**31 - 1),
)


def zoo_specs(params: dict) -> list:
    """The ``ZooSpec`` of every zoo a run with ``params`` trains (``experiments.zoo_specs``;
    imported here on demand, so that listing the chapter needs no torch)."""
    from earlybias.weights import experiments

    return experiments.zoo_specs(params)


def check_params(params: dict) -> None:
    """Cross-parameter rules that a single parameter's range cannot express."""
    for name in LEVEL_SETS:
        levels = params[name]
        if any(b <= a for a, b in zip(levels, levels[1:])):
            raise ParamError(
                f"parameter '{name}': got {levels}, allowed: 4 strictly increasing "
                "variances (level 1 is the strongest bias, level 4 the weakest)"
            )


# Cost model, measured on the study's 2-core machine (cold cache: default 155 s, smoke 13 s;
# default with family=mlp 195 s with its zoos cached; a warm cache trains nothing): seconds to
# train one model at width 16 (cnn) or 32 (mlp) for 6 epochs of 600 images, growing with the square
# of the width beyond; seconds of detector fitting and analysis per training model of the two
# level sets; a fixed part (kernel, imports, figures); and the bytes a model takes at its peak
# (weights as float32 and float64 copies, features, the detectors' inputs).
_SECONDS_PER_MODEL = {"cnn": 0.019, "mlp": 0.009}
_REFERENCE_WIDTH = {"cnn": 16, "mlp": 32}
_FIT_SECONDS_PER_MODEL = {"cnn": 0.0043, "mlp": 0.017}
_FIXED_S = 10.0
_BYTES_PER_WEIGHT = 40.0
_BASE_BYTES = 1.5 * 2**30


def _n_weights(family: str, width: int) -> int:
    if family == "mlp":
        return 192 * width + width + 10 * width + 10
    half = width // 2
    return 27 * half + half + 9 * half * width + width + 40 * width + 10


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) of the chapter from its parameters (``earlybias.budget``)."""
    family, width = params["family"], params["width"]
    models = sum(
        params[name]
        for name in (
            "n_train_models",
            "n_paper_train_models",
            "n_group_models",
            "n_group_heldout_models",
            "n_group_test_models",
        )
    ) + 2 * (params["n_heldout_models"] + params["n_test_models"])
    per_model = (
        _SECONDS_PER_MODEL[family] * params["epochs"] / 6 * max(1.0, (width / _REFERENCE_WIDTH[family]) ** 2)
    )
    fitted = params["n_train_models"] + params["n_paper_train_models"]
    seconds = _FIXED_S + models * per_model + _FIT_SECONDS_PER_MODEL[family] * fitted
    memory = _BASE_BYTES + _BYTES_PER_WEIGHT * models * _n_weights(family, width)
    return Estimate(
        memory,
        seconds,
        (
            "n_train_models",
            "n_paper_train_models",
            "n_heldout_models",
            "n_test_models",
            "n_group_models",
            "n_group_heldout_models",
            "n_group_test_models",
            "width",
        ),
    )
