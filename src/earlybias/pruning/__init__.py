"""Chapter ``pruning``: bias in pruned vision models (Iofinova, Peste, Alistarh, CVPR 2023,
arXiv 2304.12622).

``experiment`` trains small CNNs on the shapes world's binary attributes, dense, then prunes them
by gradual global magnitude pruning to each target sparsity (all seeds x sparsities as one
batched program, ``earlybias.zoo.grouped``) and keeps their logits (``outputs.npz``);
``metrics`` holds the paper's metrics as its code defines them; ``analysis`` turns the outputs
into the chapter's tables, headline metrics and claims; ``explorer`` is the page's explorer.
This module stays light (no torch): ``earlybias list`` imports it.
"""

from earlybias.budget import Estimate
from earlybias.params import Param, ParamError

TITLE = "Bias in pruned vision models: does compression amplify bias, and can the dense model tell?"

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {}

PARAMS = (
    Param("seed", "int", 0, "random seed of the data, the models and their training", low=0, high=2**31 - 1),
    Param("n_seeds", "int", 3, "models trained per sparsity (seed-to-seed spread)", low=2, high=16),
    Param(
        "sparsities",
        "floats",
        [0.8, 0.9, 0.95, 0.98, 0.99, 0.995],
        "target sparsities as fractions in (0, 1), increasing (0.9 = 90 % of weights pruned)",
    ),
    Param("epochs", "int", 12, "epochs of dense training", low=1, high=500),
    Param("finetune_epochs", "int", 6, "epochs of gradual pruning and fine-tuning", low=1, high=500),
    Param(
        "n_images", "int", 8000, "training images (validation: a quarter, test: a half)", low=512, high=10**6
    ),
    Param("image_size", "int", 16, "side of the images in pixels", low=8, high=64),
    Param(
        "protected_strength",
        "float",
        0.7,
        "coupling of the protected attributes with their targets (0: none, 1: always)",
        low=0.0,
        high=1.0,
    ),
    Param(
        "width",
        "int",
        24,
        "channels of the first convolution (the second has twice as many)",
        low=2,
        high=128,
    ),
)


def check_params(params: dict) -> None:
    """Sparsities are fractions in (0, 1), strictly increasing; percents are refused by name."""
    s = params["sparsities"]
    if any(v >= 1 for v in s) and all(0 < v < 100 for v in s):
        raise ParamError(
            f"parameter 'sparsities': got {s}, allowed: fractions in (0, 1), not percents "
            f"(write {[round(v / 100, 4) for v in s]})"
        )
    if any(not 0 < v < 1 for v in s) or any(b <= a for a, b in zip(s, s[1:])):
        raise ParamError(
            f"parameter 'sparsities': got {s}, allowed: fractions in (0, 1), strictly increasing"
        )


# Cost model (the study's 2-core machine, measured under load): model-images per second of the
# batched engine at width 16, scaling with the multiply-adds of a model; data and metrics ~40 s.
_MODEL_IMAGES_PER_S = 12_000.0
_BASE_BYTES = 1.2 * 2**30


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) from the parameters (``earlybias.budget``)."""
    n, s, w = params["n_seeds"], len(params["sparsities"]), params["width"]
    size = (params["image_size"] / 16) ** 2
    cost = size * (w / 16) ** 1.6
    model_images = params["n_images"] * (n * params["epochs"] + n * s * params["finetune_epochs"])
    seconds = model_images * cost / _MODEL_IMAGES_PER_S + 40.0
    images = params["n_images"] * 1.75 * 3 * params["image_size"] ** 2 * 4
    activations = n * (s + 1) * 2048 * w * 3 * params["image_size"] ** 2 / 4 * 4
    return Estimate(
        _BASE_BYTES + images + activations,
        seconds,
        ("n_images", "n_seeds", "sparsities", "width", "image_size"),
    )
