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
from earlybias.params import Param, check_increasing_fractions

TITLE = "Bias in pruned vision models: does compression amplify bias, and can the dense model tell?"

#: The metrics a sweep plots against the parameters it varies (``earlybias sweep``).
HEADLINE = ("dense_acc", "acc_drop_max", "ba_change_max")

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {
    "harmful-extreme": (
        "accuracy falls at the top sparsity, but mean bias amplification does not rise beyond the "
        "seeds' spread: it rises up to 95 % and at 98 % its change differs in sign between seeds, "
        "as our small models begin to stop predicting the rare attributes (section 'Accuracy and "
        "bias against sparsity')"
    ),
    "threshold-fix": (
        "with no increase of bias amplification beyond the seeds' spread at the top sparsity "
        "(harmful-extreme), there is no increase for re-calibration to remove"
    ),
    "dense-predicts-samples": (
        "cells the dense model flags take a clearly larger share of the errors pruning adds than "
        "their own share, but less than the three times fixed in advance (section 'What the "
        "dense model tells in advance')"
    ),
    "interdependence-links-bias": (
        "only a handful of attributes are valid targets of bias amplification in our world, and their "
        "growths of bias under pruning hardly exceed the seeds' spread: the growth of interdependence "
        "does not rank with them better than chance, or there is no ranking to match (section "
        "'Uncertainty and interdependence')"
    ),
    "dense-predicts-attributes": (
        "the attributes' growths of bias under pruning hardly exceed the seeds' spread (as for "
        "interdependence-links-bias), and the dense model's uncertain share ranks with them well in "
        "some seeds and not at all in others (section 'What the dense model tells in advance')"
    ),
}

PARAMS = (
    Param("seed", "int", 0, "random seed of the data, the models and their training", low=0, high=2**31 - 1),
    Param("n_seeds", "int", 3, "models trained per sparsity (seed-to-seed spread)", low=2, high=16),
    Param(
        "sparsities",
        "floats",
        [0.8, 0.9, 0.95, 0.98],
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
        16,
        "channels of the first convolution (the second has twice as many)",
        low=2,
        high=128,
    ),
    Param("hidden", "int", 256, "units of the fully connected hidden layer (0: none)", low=0, high=4096),
)


def check_params(params: dict) -> None:
    """Sparsities are fractions in (0, 1), strictly increasing; percents are refused by name."""
    check_increasing_fractions("sparsities", params["sparsities"])


# Cost model (the study's 2-core machine): forward multiply-adds per second of the batched engine
# over model-images; training costs about three forward passes. Data, logits, metrics and the
# exercises take about 40 s. Measured with the machine shared by other jobs at half this rate.
_MACS_PER_S = 9e9
_BASE_BYTES = 1.2 * 2**30


def _macs(size: int, width: int, hidden: int, n_outputs: int = 13) -> int:
    """Multiply-adds of one forward pass of the chapter's network (``experiment.Setup.net``)."""
    half = (size - 1) // 2 + 1
    convs = size**2 * width * 27 + half**2 * 2 * width * width * 9
    features = half**2 * 2 * width
    return convs + (features * hidden + hidden * n_outputs if hidden else features * n_outputs)


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) from the parameters (``earlybias.budget``)."""
    n, s, w, size = params["n_seeds"], len(params["sparsities"]), params["width"], params["image_size"]
    model_images = params["n_images"] * (n * params["epochs"] + n * s * params["finetune_epochs"])
    seconds = 3 * model_images * _macs(size, w, params["hidden"]) / _MACS_PER_S + 40.0
    images = params["n_images"] * 1.75 * 3 * size**2 * 4
    activations = n * (s + 1) * 2048 * w * 3 * size**2 / 4 * 4
    return Estimate(
        _BASE_BYTES + images + activations,
        seconds,
        ("n_images", "n_seeds", "sparsities", "width", "hidden", "image_size"),
    )
