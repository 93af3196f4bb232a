"""Chapter ``igb``: initial guessing bias (Francazi, Lucchi, Baity-Jesi, ICML 2024).

``theory`` holds the paper's closed forms, ``networks`` the batched simulation of many untrained
networks, ``convnets`` the same for convolutional networks on images, ``dynamics`` the batched
training of many networks, ``stats`` the standard errors that set the claims' tolerances and
``experiments`` one function per finding of the chapter. ``PARAMS`` is the chapter's parameter
schema: they set the chapter's headline experiment.

This module holds what every part of the chapter shares: the activations, and the one rule
that says when the max-pooling theory applies (:func:`pooling_problem`).
"""

from earlybias.budget import Estimate
from earlybias.params import Param, ParamError

TITLE = "Initial guessing bias: untrained networks already favour one class"

ACTIVATIONS = ("relu", "tanh", "linear", "centered_relu", "gelu", "sigmoid")
#: Activations whose maximum over a group is the activation of the maximum; the max-pooling theory
#: (``theory.pooling_gamma``, ``theory.gammas`` with pool_k > 1) needs this, and gelu is not monotone.
MONOTONE = ("relu", "tanh", "linear", "centered_relu", "sigmoid")
N_DIGITS = 1797

#: The metrics a sweep plots against the parameters it varies (``earlybias sweep``).
HEADLINE = ("gamma_measured", "gamma_theory", "fmax_mean_measured")

#: Findings of the paper that do not hold in our setting (DESIGN.md, "Not reproduced").
NOT_REPRODUCED: dict[str, str] = {}

PARAMS = (
    Param("activation", "str", "relu", "nonlinearity of every hidden layer", choices=ACTIVATIONS),
    Param("depth", "int", 1, "number of hidden layers", low=1, high=32),
    Param("width", "int", 512, "units per hidden layer (after pooling)", low=1, high=8192),
    Param("pool_k", "int", 1, "max-pool group size after the first hidden layer (1: none)", low=1, high=64),
    Param("input_shift", "float", 0.0, "per-feature input mean s (0: centred data)", low=-100.0, high=100.0),
    Param("n_points", "int", 1000, "data points each network classifies", low=2, high=200_000),
    Param("n_inits", "int", 2000, "independent initialisations simulated at once", low=2, high=200_000),
    Param("n_classes", "int", 2, "output classes", low=2, high=1000),
    Param(
        "data",
        "str",
        "gaussian",
        "isotropic Gaussian inputs, or scikit-learn's bundled 8x8 digits",
        choices=("gaussian", "digits"),
    ),
    Param("standardize", "bool", False, "standardise every input feature to zero mean, unit variance"),
    Param(
        "claims_scale",
        "float",
        1.0,
        "multiplies the initialisations of the claim experiments (smaller: faster, noisier)",
        low=0.01,
        high=100.0,
    ),
    Param("seed", "int", 0, "random seed of data and initialisations", low=0, high=2**31 - 1),
)


def pooling_problem(
    pool_k: int,
    activation: str,
    *,
    data: str = "gaussian",
    input_shift: float = 0.0,
    standardize: bool = False,
) -> str | None:
    """Why the max-pooling theory cannot predict a run with these settings, or ``None`` if it can.

    The one pooling rule of the chapter, asked by the parameter check, the theory, the headline
    experiment and the explorer. Max-pooling of ``pool_k > 1`` units is predicted (chapter eq.
    ``igb-eq-pooling``) for a monotone activation on centred Gaussian inputs: ``data="gaussian"``
    with ``input_shift=0``, or any shift removed by ``standardize``.
    """
    if pool_k <= 1:
        return None
    if activation not in MONOTONE:
        return (
            f"the max-pooling theory needs a monotone activation ({', '.join(MONOTONE)}), "
            f"got activation={activation}"
        )
    if data != "gaussian" or (input_shift != 0 and not standardize):
        return (
            "the max-pooling theory covers centred Gaussian inputs (data=gaussian with input_shift=0 "
            f"or standardize=true), got data={data}, input_shift={input_shift:g}, standardize={standardize}"
        )
    return None


def check_params(params: dict) -> None:
    """Cross-parameter rules that a single parameter's range cannot express."""
    if params["data"] == "digits" and params["n_points"] > N_DIGITS:
        raise ParamError(
            f"parameter 'n_points': got {params['n_points']}, allowed with data=digits: "
            f"an integer in [2, {N_DIGITS}] (the bundled set has {N_DIGITS} images)"
        )
    problem = pooling_problem(
        params["pool_k"],
        params["activation"],
        data=params["data"],
        input_shift=params["input_shift"],
        standardize=params["standardize"],
    )
    if problem:
        raise ParamError(f"parameter 'pool_k': got {params['pool_k']}, allowed here: only 1 ({problem})")


# Cost model of a run, calibrated on the study's 2-core machine at EARLYBIAS_THREADS=2: a fixed
# part (kernel start, imports, the kernel predictions and theory samples, figures, explorer,
# exercises; about 20 s), the claim experiments (60 s per unit of claims_scale: 59 s of one core's
# time measured at claims_scale=1, 3 s at 0.05 beyond the fixed part), and the headline
# simulation at about 20 GFLOP/s. Memory: the kernel with torch, pandas and matplotlib and the
# claim experiments' peak (0.9 GiB measured) below _BASE_BYTES, plus what the headline holds.
_FIXED_S, _CLAIMS_S, _FLOPS_PER_S = 20.0, 60.0, 2e10
_BASE_BYTES = 1.5 * 2**30
_WEIGHT_BUDGET = 2**24  # numbers per block of drawn weights (igb.networks)
_RESULT_ARRAYS = 6  # float64 arrays of (n_inits, n_classes) alive at once: means, variances, counts...


def estimate(params: dict) -> Estimate:
    """Peak memory and run time of the chapter from its parameters (``earlybias.budget``).

    Time: the fixed part, the claim experiments in proportion to ``claims_scale``, and the
    headline's 2 n_inits n_points (multiply-adds per point and network) at the machine's rate.
    Memory: the base, one block of the headline's weights (a single network when it exceeds the
    block budget), its inputs, its per-network results, and the pairwise kernel on the digits.
    """
    dim = 64 if params["data"] == "digits" else 100
    width, depth, pool_k = params["width"], params["depth"], params["pool_k"]
    n_inits, n_points, n_classes = params["n_inits"], params["n_points"], params["n_classes"]
    layers = [dim * width * pool_k] + [width * width] * (depth - 1) + [width * n_classes]
    per_init = sum(layers)
    block = max(1, min(64, _WEIGHT_BUDGET // per_init))
    flops = 2.0 * n_inits * n_points * per_init
    memory = (
        _BASE_BYTES
        + 4.0 * block * per_init  # one block's weights in float32, freed before the next is drawn (measured)
        + 12.0 * n_points * dim  # the inputs in float64 and float32
        + 8.0 * _RESULT_ARRAYS * n_inits * n_classes
        + (8.0 * 12 * n_points**2 / 2 if params["data"] == "digits" else 0.0)  # kernel over pairs
    )
    return Estimate(
        memory,
        _FIXED_S + _CLAIMS_S * params["claims_scale"] + flops / _FLOPS_PER_S,
        ("n_inits", "n_points", "n_classes", "width", "depth", "claims_scale"),
    )
