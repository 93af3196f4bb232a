"""Chapter ``surgeon``: does a biased network already hold an unbiased sub-network? (Nahon, De
Moura Matos, Nguyen, Tartaglione, *Debiasing surgeon: fantastic weights and how to find them*,
ECCV 2024, arXiv 2403.14200; code renahon/debiasing_surgeon_ffw).

- ``gates``: FFW's pieces that stand alone: the gate on every weight, its temperature schedule and
  the mutual-information penalty;
- ``ffw``: FFW's gate training for many frozen networks at once, and the linear heads (privacy
  head, last-layer re-training, probes) it shares with the baselines;
- ``experiment``: the data (``earlybias.data.colored.biased_mnist`` on shifted digits), the
  vanilla models, masks, controls, baselines, the re-trained architecture and the probes;
- ``analysis``: the headline metrics and the claims; ``explorer``: the page's explorer.

This module stays light (no torch): ``earlybias list`` imports it.
"""

from earlybias.budget import Estimate
from earlybias.params import Param, check_increasing_fractions

TITLE = "The debiasing surgeon: does a biased network already hold an unbiased sub-network?"

#: The metrics a sweep plots against the parameters it varies (``earlybias sweep``).
HEADLINE = ("vanilla_unbiased_acc_top", "ffw_unbiased_acc_top", "last_layer_unbiased_acc_top")

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {
    "vanilla-collapses": (
        "the collapse is already almost complete at the lowest level: the handful of bias-conflicting "
        "digits per class that the bundled digits allow (data/README.md) leave the vanilla models "
        "closer to chance than to the unbiased ceiling at rho = 0.99, so little is left to lose at "
        "0.999 (section 'Does the vanilla network hold an unbiased sub-network?')"
    ),
    "subnetwork-exists": (
        "at the two highest levels the vanilla models know almost nothing of the digit, and FFW's "
        "sub-networks stay at chance; gates trained without the MI term gain at the lowest level "
        "only, and re-training the last layer does better (same section)"
    ),
    "not-any-mask": (
        "FFW gains nothing over vanilla at the top level, so there is no gain for a random mask to "
        "fall short of (same section)"
    ),
    "mi-term-matters": (
        "the MI term removes the network's little digit knowledge together with the colour: without "
        "it the gates gain as much or more (sections 'Does the vanilla network...' and 'Where the "
        "colour lives')"
    ),
    "bias-leaves-features": (
        "the colour does leave the sub-network's features, but the digit leaves with it: a digit "
        "probe reads them worse than the vanilla features (section 'Where the colour lives')"
    ),
    "architecture-resists-bias": (
        "trained from scratch on the top level's data, with its few bias-conflicting digits "
        "per class, the masked and the dense architecture both learn the colour alone and end at "
        "chance (section 'Can the extracted architecture learn the bias?')"
    ),
}

PARAMS = (
    Param(
        "seed", "int", 0, "random seed of the data split, colours, models and masks", low=0, high=2**31 - 1
    ),
    Param("n_seeds", "int", 3, "vanilla models per rho (seed-to-seed spread)", low=2, high=16),
    Param(
        "rhos",
        "floats",
        [0.99, 0.995, 0.997, 0.999],
        "colour-label correlations of the biased training sets, in (0, 1), increasing",
    ),
    Param(
        "balanced_size",
        "int",
        2000,
        "bias-balanced images that train FFW's gates (the rest of the 3,240 validate them)",
        low=200,
        high=2700,
    ),
    Param("mi_weight", "float", 10.0, "weight lambda of the MI term in FFW's loss (the paper: 10)", low=0.0),
    Param(
        "epochs",
        "int",
        40,
        "epochs of vanilla training (and of the re-trained architectures)",
        low=1,
        high=500,
    ),
    Param("gate_epochs", "int", 40, "most epochs of FFW's gate training (the paper: 200)", low=1, high=1000),
    Param(
        "head_epochs",
        "int",
        10,
        "most epochs of each re-training of the privacy head to a plateau (the paper: 200)",
        low=1,
        high=1000,
    ),
)


def check_params(params: dict) -> None:
    """rhos are fractions in (0, 1), strictly increasing; percents are refused by name."""
    check_increasing_fractions("rhos", params["rhos"])


# Cost model (the study's 2-core machine, measured at the default profile): seconds per
# model-epoch of vanilla training on 9,702 images, per model-epoch of gate training on 2,000
# images (with the head's re-training) and for the evaluation.
_VANILLA_S = 0.22
_GATE_S = 0.1
_BASE_S = 30.0


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) from the parameters (``earlybias.budget``)."""
    n, r = params["n_seeds"], len(params["rhos"])
    vanilla = (n * (r + 1) + 2 * n) * params["epochs"] * _VANILLA_S
    gates = 2 * n * r * params["gate_epochs"] * _GATE_S * (1 + params["head_epochs"] / 20)
    memory = 1.0 * 2**30 + n * (r + 1) * 9702 * 192 * 4 * 2
    return Estimate(
        memory, vanilla + gates + _BASE_S, ("n_seeds", "rhos", "epochs", "gate_epochs", "head_epochs")
    )
