"""Chapter ``diffusion``: a generative model commits to major properties in its first steps, and
bias sets when (Park, Chun, Heo, Han 2025, arXiv 2502.08167; Yi et al., NeurIPS 2024, arXiv
2405.15330).

``model`` holds the world, the conditional denoiser (diffusers' ``UNet2DModel``), the schedulers
and the training; ``judges`` the per-factor classifiers that replace CLIP; ``sampling`` the one
batched sampler every experiment calls; ``experiments`` the five experiments and the claims.
``PARAMS`` is the chapter's parameter schema. This module stays light (no torch, no diffusers):
``earlybias list`` imports it.
"""

from earlybias.budget import Estimate
from earlybias.params import Param, ParamError

TITLE = "Decided early? When a small diffusion model commits to colour, shape and texture"

# Kept here as literals so that listing the chapter imports no torch; a test checks they equal
# earlybias.diffusion.model.FACTORS and the samplers of earlybias.diffusion.sampling.
FACTORS = ("color", "shape", "texture", "position", "background")
SAMPLERS = ("ddim", "ddpm")

#: The metrics a sweep plots against the parameters it varies (``earlybias sweep``).
HEADLINE = ("tau50_color", "tau50_shape", "generation_acc_min")

#: Findings of the papers that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {
    "colour-early": (
        "our model decides colour last, not first: a colour switch at 80-90 % of the steps still "
        "repaints the object, for seed 0 and seed 1. The condition is a clean, perfect predictor of "
        "colour, so the denoiser's x0 follows the condition rather than the half-denoised image, and "
        "the sampler follows x0 to the end; the same holds under the v target, the DDPM sampler, 50 "
        "steps and without guidance (sections 'Switching the condition mid-way' and 'The model', "
        "table of training choices)"
    ),
    "order": (
        "colour and texture are both decided in the last steps, colour no earlier than texture "
        "(the bootstrap interval of their difference includes 0 or lies below it); with the v target "
        "texture comes clearly before colour (table of training choices)"
    ),
    "x0-readout": (
        "colour is decided in the last steps, so tau50(colour) plus the margin reaches the last step, "
        "where the predicted clean image is the sample itself: there is no window in which to read the "
        "decision early (section 'Reading the decision off x0')"
    ),
    "resampling-stable": (
        "colour, shape and texture are decided so late that their tau50 lies past the last "
        "resampling point: nothing is decided in time to be tested, and without the condition shape "
        "survives resampling from 90 % of the steps in under 90 % of the continuations (section "
        "'Resampling from an intermediate state')"
    ),
    "guidance-can-stop": (
        "with colour, shape and texture decided in the last steps, no stop point lies past every "
        "factor's tau50 plus the margin, and dropping the condition even at the last stop point "
        "still changes a factor in many times the 5 % allowed (section 'Early decisions make "
        "inference cheaper')"
    ),
}

PARAMS = (
    Param(
        "seed",
        "int",
        0,
        "random seed of the training, the judges and every experiment",
        low=0,
        high=2**31 - 1,
    ),
    Param("n_samples", "int", 64, "pairs (A, B) per factor in the switch experiments", low=4, high=100_000),
    Param("n_steps", "int", 20, "sampling steps of every trajectory", low=4, high=1000),
    Param(
        "switch_points",
        "floats",
        [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        "fractions of the steps run with condition A before switching to B (0: all B, 1: all A)",
        low=0.0,
        high=1.0,
    ),
    Param(
        "train_steps",
        "int",
        1200,
        "training steps of each diffusion model (batch 128)",
        low=1,
        high=1_000_000,
    ),
    Param(
        "image_size",
        "int",
        16,
        "side of the images in pixels (a multiple of 4 for the 2 x 2 patches and one downsampling)",
        low=12,
        high=64,
    ),
    Param(
        "width", "int", 32, "channels of the denoiser's first level (the second has twice)", low=16, high=256
    ),
    Param(
        "bias_rho",
        "floats",
        [0.0, 0.9, 0.99],
        "strengths of the shape-colour correlation of the worlds of experiment 4 (0: the main model)",
        low=0.0,
        high=1.0,
    ),
    Param(
        "rare_share",
        "float",
        0.05,
        "share of crosses in the rare-value world of experiment 4, the other shapes equally likely "
        "(0: no rare-value model)",
        low=0.0,
        high=0.2,
    ),
    Param(
        "guidance_scale",
        "float",
        1.5,
        "classifier-free guidance scale w (1: no guidance)",
        low=0.0,
        high=20.0,
    ),
    Param("sampler", "str", "ddim", "sampler of every experiment but resampling", choices=SAMPLERS),
    Param(
        "n_resamples",
        "int",
        8,
        "continuations K from each state in the resampling experiment",
        low=1,
        high=1000,
    ),
    Param(
        "drop_margin",
        "float",
        0.1,
        "the condition is dropped this fraction of the steps after the last factor's tau50",
        low=0.0,
        high=1.0,
    ),
)


def check_params(params: dict) -> None:
    """Cross-parameter rules that a single parameter's range cannot express."""
    points = params["switch_points"]
    if len(points) < 3 or any(b <= a for a, b in zip(points, points[1:])):
        raise ParamError(
            f"parameter 'switch_points': got {points}, allowed: at least 3 strictly increasing "
            "fractions in [0, 1]"
        )
    if params["image_size"] % 4:
        raise ParamError(
            f"parameter 'image_size': got {params['image_size']}, allowed: a multiple of 4 in [12, 64]"
        )
    if params["width"] % 16:
        raise ParamError(f"parameter 'width': got {params['width']}, allowed: a multiple of 16 in [16, 256]")
    rho = params["bias_rho"]
    if len(rho) < 2 or any(b <= a for a, b in zip(rho, rho[1:])) or rho[-1] >= 1.0:
        raise ParamError(
            f"parameter 'bias_rho': got {rho}, allowed: at least 2 strictly increasing strengths in [0, 1)"
        )


# Cost model, calibrated on default runs on the study's 2-core machine with nothing else running:
# 0.13 s per training step per model at width 32 and 16 x 16 pixels (465 s for the three models
# of seed 1; 0.15 kept for headroom), growing with the square of the width and the number of
# pixels; 0.3 s per thousand denoiser evaluations of the experiments and exercises (sampling,
# the judges, the figures: 107 s for a run with every model cached); a fixed part (kernel,
# imports, the judges' training).
_TRAIN_S_PER_STEP = 0.15
_EVAL_S_PER_1000 = 0.3
_FIXED_S = 120.0


def _scale(params: dict) -> float:
    return (params["width"] / 32) ** 2 * (params["image_size"] / 16) ** 2


def n_models(params: dict) -> int:
    """Models the chapter trains: the main one, one per nonzero rho and the rare-value world's."""
    return 1 + sum(1 for r in params["bias_rho"] if r > 0) + (params["rare_share"] > 0)


def n_evaluations(params: dict) -> int:
    """Denoiser evaluations of the five experiments, the in-page explorer and the exercises (two
    per guided step). A switch experiment runs condition A once and branches to B at each switch
    point (a branch at fraction tau runs the remaining 1 - tau of the steps); dropping the
    condition branches alike from the guided reference, one evaluation a step."""
    from earlybias.diffusion.explorer import N_NOISES, PAGE_TAUS

    n, steps = params["n_samples"], params["n_steps"]
    taus = list(params["switch_points"])
    branched = steps * (1 + sum(1 - t for t in taus))  # steps of one pair over all switch points
    dropped = steps * sum(1 - t for t in taus if t < 1)  # after each stop point, unguided
    switch = len(FACTORS) * n * branched * 2
    bias = len(params["bias_rho"]) * n * branched * 2
    rare = (2 * 2 * n * branched * 2) if params["rare_share"] > 0 else 0  # 2 models x 2 targets
    gen = 500 * steps * 2 + n * steps * 2
    resample = 32 * params["n_resamples"] * len(taus) * steps // 2 + 32 * steps * 2
    drop = 4 * n * (2 * steps + dropped)
    # A colour switch without guidance; guidance stopped and the condition dropped half-way.
    exercises = n * branched * 2 + 5 * n * steps
    # Every factor switched at up to PAGE_TAUS points, each with B alone, and A alone once.
    explorer = N_NOISES * (1 + len(FACTORS) * (PAGE_TAUS + 1)) * steps * 2
    return int(switch + bias + rare + gen + resample + drop + exercises + explorer)


def estimate(params: dict) -> Estimate:
    """Peak memory and run time (cold cache) of the chapter from its parameters (``earlybias.budget``)."""
    scale = _scale(params)
    seconds = (
        _FIXED_S
        + n_models(params) * params["train_steps"] * _TRAIN_S_PER_STEP * scale
        + n_evaluations(params) / 1000 * _EVAL_S_PER_1000 * scale
    )
    # The largest batch: the switch experiment's rows, with the U-Net's activations (float32).
    rows = len(FACTORS) * params["n_samples"] * len(params["switch_points"])
    memory = 2.0 * 2**30 + rows * 3 * params["image_size"] ** 2 * 4 * 8 + 2048 * 200_000 * scale
    return Estimate(memory, seconds, ("n_samples", "switch_points", "train_steps", "width", "image_size"))
