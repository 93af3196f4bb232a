"""Chapter ``weights``: inference-free bias detection (Serna, DeAlcala, Morales, Fierrez,
Ortega-Garcia, IFBiD, 2021).

``features`` computes what a detector sees of a network (permutation-invariant statistics of its
weights, per-unit weight sets, the raw weights), ``detectors`` the three detectors that read a
model's bias from them, ``experiments`` one function per claim of the chapter. ``PARAMS`` is the
chapter's parameter schema. This module stays light (no torch): ``earlybias list`` imports it.
"""

from earlybias.budget import Estimate
from earlybias.params import Param, ParamError

TITLE = "Inference-free bias detection: reading a network's bias off its weights"

# Kept here as literals so that listing the chapter imports no torch; a test checks that they
# equal earlybias.zoo.FAMILIES and earlybias.weights.detectors.DETECTORS.
FAMILIES = ("mlp", "cnn")
DETECTORS = ("stats", "deepsets", "flat")
SIGMA2_LEVELS = (0.02, 0.05, 0.1, 0.6)  # earlybias.data.colored.BIAS_LEVELS, strongest bias first

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {}

PARAMS = (
    Param(
        "n_train_models",
        "int",
        1000,
        "models in the training zoo (pool A, four bias levels in turn)",
        low=8,
        high=100_000,
    ),
    Param(
        "n_heldout_models",
        "int",
        400,
        "held-out models from pool A (a zoo of its own seed)",
        low=4,
        high=100_000,
    ),
    Param(
        "n_test_models",
        "int",
        400,
        "models in each cross-pool test zoo (pool B, colour and group task)",
        low=4,
        high=100_000,
    ),
    Param(
        "n_group_models", "int", 600, "models in the group-bias training zoo (pool A)", low=6, high=100_000
    ),
    Param("family", "str", "mlp", "architecture of every model of the zoos", choices=FAMILIES),
    Param(
        "hidden",
        "int",
        32,
        "hidden units (mlp) or channels of the second convolution (cnn)",
        low=2,
        high=1024,
    ),
    Param("epochs", "int", 6, "training epochs of every model of the zoos", low=1, high=200),
    Param(
        "sigma2_levels",
        "floats",
        list(SIGMA2_LEVELS),
        "colour-jitter variance of the four bias levels, strongest bias (smallest) first",
        low=1e-4,
        high=100.0,
        length=4,
    ),
    Param(
        "minority_share",
        "float",
        0.1,
        "share of the under-represented group in the group task",
        low=0.01,
        high=1 / 3,
    ),
    Param(
        "detector",
        "str",
        "stats",
        "detector of the headline claims: invariant statistics, DeepSets network, or raw flattened weights",
        choices=DETECTORS,
    ),
    Param("seed", "int", 0, "random seed of the zoos and detectors", low=0, high=2**31 - 1),
)


def check_params(params: dict) -> None:
    """Cross-parameter rules that a single parameter's range cannot express."""
    levels = params["sigma2_levels"]
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise ParamError(
            f"parameter 'sigma2_levels': got {levels}, allowed: 4 strictly increasing "
            "variances (level 1 is the strongest bias, level 4 the weakest)"
        )


# Cost model, measured on the study's 2-core machine: trained models per second of each family
# (cold cache; a warm cache trains nothing) and the bytes one model's weights and training
# state take in memory.
_MODELS_PER_S = {"mlp": 110.0, "cnn": 7.0}
_BASE_BYTES = 1.5 * 2**30


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) of the chapter from its parameters (``earlybias.budget``)."""
    models = (
        params["n_train_models"]
        + params["n_heldout_models"]
        + 2 * params["n_test_models"]
        + params["n_group_models"]
    )
    width = params["hidden"]
    per_model = 4.0 * (64 * 3 * width + width * width + 10 * width) * 4  # weights, grads, Adam
    seconds = models * params["epochs"] / 6 / _MODELS_PER_S[params["family"]] + 20.0
    return Estimate(
        _BASE_BYTES + models * per_model,
        seconds,
        ("n_train_models", "n_heldout_models", "n_test_models", "n_group_models", "hidden"),
    )
