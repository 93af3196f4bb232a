"""The experiments of the ``igb`` chapter: one function per finding of Francazi et al. (2024).

Each experiment simulates (or trains) networks, compares them with :mod:`earlybias.igb.theory`
and returns an :class:`Experiment`: the measured numbers with their standard errors
(``metrics``), the tables behind its figure (``data``) and its :class:`Claim` objects. The claims
are built by a separate function of the measured numbers alone (``*_claims``), so a test can
hand it a case where the finding is false and watch the claim fail.

Tolerances follow from the run (:mod:`earlybias.igb.stats`, chapter eq. ``igb-eq-se``): a value
must match the theory within ``N_SE`` standard errors, a distribution within the
Kolmogorov-Smirnov critical value at the run's ``n_inits``. Theory values are taken at the
run's ``n_points`` (chapter eq. ``igb-eq-finite-n``): a network counted on n points has
gamma = gamma_inf + (1 + gamma_inf) / (n - 1), even without IGB. Where a finding is "no IGB",
gamma = 0 cannot be tested as an equality (finite width and real data leave small residues), so
the claim is an equivalence test with the study's margin :data:`NO_IGB_GAMMA`: the estimate
plus ``N_SE`` standard errors must stay below it.

Every experiment takes keyword arguments only: ``claims_scale`` (a number > 0, the chapter's
parameter of that name) multiplies the number of initialisations, ``seed`` (an integer) fixes data
and weights, ``progress`` shows progress bars, and its sizes (integers, or tuples of the values it
sweeps) default to the book's profile. :func:`headline` is the chapter's own experiment: its
arguments are the chapter's parameters (:data:`earlybias.igb.PARAMS`).

Gaussian inputs have ``DIM`` = 100 features: large enough that the theory's isotropic limit
holds to about 1 % (finite dimension leaves gamma ~ 1/dim corrections), small enough to be cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
import pandas as pd

from earlybias.claims import Claim, Experiment, above, below, within
from earlybias.data import gaussian_inputs, load_digits, standardize_features
from earlybias.igb import ACTIVATIONS, PARAMS, check_params, theory
from earlybias.igb.convnets import simulate_conv
from earlybias.igb.dynamics import train
from earlybias.igb.networks import Simulation, gamma_measured, simulate
from earlybias.igb.stats import N_SE, gamma_se, gamma_terms, ks_critical, mean_se, ratio_of_means
from earlybias.validation import SEED_MAX, check_int, check_real

__all__ = [
    "Experiment",
    "DIM",
    "PAPER",
    "PAPER_CODE",
    "DYNAMICS_PAPER",
    "NO_IGB_GAMMA",
    "STRONG_IGB_GAMMA",
    "SYMMETRIC",
    "SHIFTS",
    "CONV_SETTINGS",
    "DYNAMICS_CONDITIONS",
    "DYNAMICS_TRAINING",
    "relu_one_layer",
    "relu_one_layer_claims",
    "regimes",
    "symmetric_activations",
    "symmetric_activations_claims",
    "input_shift_sweep",
    "input_shift_claims",
    "max_pooling",
    "max_pooling_claims",
    "depth_sweep",
    "depth_claims",
    "self_averaging",
    "self_averaging_claims",
    "node_symmetry",
    "node_symmetry_claims",
    "ten_classes",
    "ten_classes_claims",
    "digits",
    "digits_claims",
    "conv_pooling",
    "conv_claims",
    "digit_task",
    "training_dynamics",
    "dynamics_claims",
    "headline",
]

PAPER = "francazi2024igb"
#: The authors' code (EmanueleFrancazi/IGB-Algorithms): its architectures and its training part.
PAPER_CODE = "francazi2024igbcode"
#: Follow-up on how IGB shapes early training (Pellegrino et al. 2025).
DYNAMICS_PAPER = "pellegrino2025initbias"
DIM = 100
#: The study's margin for "no IGB": gamma = 0.02 would raise the favoured class's expected share
#: by arctan(sqrt(0.02)) / pi = 0.045 (chapter eq. ``igb-eq-fmax``), a quarter of what one ReLU
#: layer gives (0.19). A claim of no IGB asks for gamma + N_SE standard errors below it.
NO_IGB_GAMMA = 0.02
#: gamma > 1 is the paper's regime of strong IGB: the density of f_0 turns U-shaped, most networks
#: send most inputs to one class (chapter eq. ``igb-eq-f0``).
STRONG_IGB_GAMMA = 1.0
_MIN_INITS = 20  # below this a variance over initialisations means nothing
_KERNEL_POINTS = 300  # kernel prediction without a closed form on a subsample: its cost grows with n^2


def _n_inits(n_inits: int, claims_scale: float, floor: int = _MIN_INITS) -> int:
    check_real("claims_scale", claims_scale, 0.0, low_open=True)
    return max(floor, int(round(n_inits * claims_scale)))


def _gaussian_run(activation, *, n_points, n_inits, seed, input_shift=0.0, dim=DIM, **kwargs) -> Simulation:
    X = gaussian_inputs(n_points, dim, input_shift, seed)
    return simulate(X, activation=activation, n_inits=n_inits, seed=seed, **kwargs)


def _gamma_row(sim: Simulation) -> dict:
    return {"gamma_measured": gamma_measured(sim.mean, sim.var), "gamma_se": gamma_se(sim.mean, sim.var)}


def _no_igb(id: str, statement: str, gamma: float, se: float) -> Claim:
    """The equivalence claim of no IGB: gamma below the margin by more than N_SE standard errors."""
    return below(
        id,
        PAPER,
        f"{statement}: gamma + {N_SE:g} SE below the study's margin {NO_IGB_GAMMA:g}",
        gamma,
        NO_IGB_GAMMA - N_SE * se,
    )


def _strong_igb(id: str, statement: str, gamma: float, se: float, paper: str = PAPER) -> Claim:
    """gamma above 1, the paper's regime of strong IGB, by more than N_SE standard errors."""
    return above(
        id, paper, f"{statement}: gamma - {N_SE:g} SE above {STRONG_IGB_GAMMA:g}", gamma, 1.0 + N_SE * se
    )


# --------------------------------------------------------------------------- 1. one ReLU layer


def relu_one_layer(
    *, claims_scale=1.0, seed=0, n_inits=2000, n_points=1000, width=128, activation="relu", progress=False
) -> Experiment:
    """One ReLU hidden layer on centred data: gamma = 1/(pi-1), E[f_max] = 0.691 and f_0 ~ F
    (Francazi et al. 2024, binary case with ReLU; chapter eqs. ``igb-eq-f0``, ``igb-eq-fmax``).

    ``activation`` swaps the simulated networks while the theory stays ReLU's: another
    activation is a case where the claims must fail (the tests use it)."""
    run = dict(n_points=n_points, n_inits=_n_inits(n_inits, claims_scale), seed=seed, progress=progress)
    sim = _gaussian_run(activation, width=width, **run)
    f0, fmax = sim.fractions[:, 0], sim.fractions.max(axis=1)
    g = theory.GAMMA_RELU
    fmax_mean, fmax_se = mean_se(fmax)
    metrics = {
        **_gamma_row(sim),
        "gamma_theory": theory.finite_n_gamma(g, n_points),
        "gamma_theory_inf": g,
        "fmax_mean_measured": fmax_mean,
        "fmax_mean_se": fmax_se,
        "fmax_mean_theory": theory.expected_fmax(g, n_points=n_points),
        "ks_distance": _ks_distance(f0, lambda f: theory.f0_cdf(f, g, n_points), 1.0 / n_points),
        "ks_critical": ks_critical(len(f0)),
        "f0_var_measured": float(f0.var(ddof=1)),
        "f0_var_theory": float(theory.f0_var(g)),
        "n_inits": float(len(f0)),
    }
    grid = np.linspace(0.001, 0.999, 999)
    data = {
        "samples": pd.DataFrame({"f0": f0}),
        "theory": pd.DataFrame({"f": grid, "cdf": theory.f0_cdf(grid, g), "pdf": theory.f0_pdf(grid, g)}),
    }
    return Experiment(metrics, data, relu_one_layer_claims(metrics))


def _ks_distance(samples, cdf, step: float) -> float:
    """sup_f |F_hat(f) - F(f)| for samples on a grid of spacing ``step`` against the CDF of a
    distribution on that grid: compared at every sample value and just below it."""
    x = np.sort(np.asarray(samples, dtype=float))
    values = np.unique(x)
    right = np.searchsorted(x, values, side="right") / x.size
    left = np.searchsorted(x, values, side="left") / x.size
    below = values - 0.5 * step
    cdf_below = np.where(below < 0, 0.0, cdf(np.clip(below, 0.0, 1.0)))
    return float(max(np.abs(right - cdf(values)).max(), np.abs(left - cdf_below).max()))


def relu_one_layer_claims(m: Mapping[str, float]) -> list[Claim]:
    """Claims of :func:`relu_one_layer` from its metrics."""
    return [
        within(
            "relu-gamma",
            PAPER,
            f"One ReLU hidden layer on centred data has gamma = 1/(pi - 1) (at the run's n points; "
            f"within {N_SE:g} SE)",
            m["gamma_measured"],
            m["gamma_theory"],
            abs_tol=N_SE * m["gamma_se"],
        ),
        within(
            "relu-fmax",
            PAPER,
            f"One ReLU hidden layer: E[f_max] = 1/2 + arctan(sqrt(gamma))/pi = 0.691 (at the run's n "
            f"points; within {N_SE:g} SE)",
            m["fmax_mean_measured"],
            m["fmax_mean_theory"],
            abs_tol=N_SE * m["fmax_mean_se"],
        ),
        below(
            "relu-f0-distribution",
            PAPER,
            "f_0 over initialisations follows F(f) = Phi(Phi^-1(f) / sqrt(gamma)) (Kolmogorov-Smirnov "
            f"distance below its critical value at level 0.001 for {int(m['n_inits'])} samples)",
            m["ks_distance"],
            m["ks_critical"],
        ),
    ]


def regimes(
    *, claims_scale=1.0, seed=0, depths=(1, 2, 3), n_inits=1000, n_points=500, width=128, progress=False
) -> Experiment:
    """The three regimes of the theory (chapter eq. ``igb-eq-f0``): ReLU networks of 1, 2 and 3
    hidden layers on centred data have gamma below, near and above 1, so the density of f_0
    peaks at 1/2, is nearly flat, or piles up at 0 and 1. Returns the simulated f_0 (``samples``)
    and the theory's density (``density``) per depth; no claims (the depth sweep tests gamma)."""
    samples, densities, metrics = [], [], {}
    grid = np.linspace(0.002, 0.998, 499)
    run = dict(
        n_points=n_points, n_inits=_n_inits(n_inits, claims_scale, floor=200), seed=seed, progress=progress
    )
    for depth in depths:
        depth = check_int("depth", depth, 1)
        g = float(theory.relu_gammas(depth)[-1])
        sim = _gaussian_run("relu", depth=depth, width=width, **run)
        metrics[f"gamma_theory_depth{depth}"] = g
        metrics[f"gamma_measured_depth{depth}"] = gamma_measured(sim.mean, sim.var)
        samples.append(pd.DataFrame({"depth": depth, "f0": sim.fractions[:, 0]}))
        densities.append(pd.DataFrame({"depth": depth, "f": grid, "pdf": theory.f0_pdf(grid, g)}))
    data = {
        "samples": pd.concat(samples, ignore_index=True),
        "density": pd.concat(densities, ignore_index=True),
    }
    return Experiment(metrics, data)


# --------------------------------------------------------------------------- 2. centred activations


#: Activations without IGB on centred data: odd (tanh, linear) or of zero mean (centred ReLU).
SYMMETRIC = ("tanh", "linear", "centered_relu")


def symmetric_activations(
    *, claims_scale=1.0, seed=0, n_inits=1000, n_points=1000, width=128, activations=SYMMETRIC, progress=False
) -> Experiment:
    """tanh, linear and centred ReLU on centred data have no IGB: gamma = 0, and E[f_max] is what
    n fair coin flips give (Francazi et al. 2024, activations that are odd or have zero mean)."""
    rows, samples = [], []
    run = dict(n_points=n_points, n_inits=_n_inits(n_inits, claims_scale), seed=seed, progress=progress)
    for activation in activations:
        sim = _gaussian_run(activation, width=width, **run)
        fmax, fmax_se = mean_se(sim.fractions.max(axis=1))
        rows.append(
            {
                "activation": activation,
                **_gamma_row(sim),
                "fmax_mean_measured": fmax,
                "fmax_mean_se": fmax_se,
                "fmax_mean_null": theory.expected_fmax(0.0, n_points=n_points),
                "fmax_mean_margin": theory.expected_fmax(NO_IGB_GAMMA, n_points=n_points),
            }
        )
        samples.append(pd.DataFrame({"activation": activation, "f0": sim.fractions[:, 0]}))
    frame = pd.DataFrame(rows)
    metrics = {}
    for row in frame.itertuples():
        for key in ("gamma_measured", "gamma_se", "fmax_mean_measured", "fmax_mean_se"):
            metrics[f"{key}_{row.activation}"] = getattr(row, key)
    metrics["fmax_mean_null"] = float(frame["fmax_mean_null"].iloc[0])
    data = {"summary": frame, "samples": pd.concat(samples, ignore_index=True)}
    return Experiment(metrics, data, symmetric_activations_claims(frame))


def symmetric_activations_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`symmetric_activations` from its ``summary`` table (one row per activation:
    gamma_measured, gamma_se, fmax_mean_measured, fmax_mean_se, fmax_mean_margin)."""
    claims = []
    for row in frame.itertuples():
        claims.append(
            _no_igb(
                f"{row.activation}-gamma",
                f"{row.activation} on centred data has no IGB",
                row.gamma_measured,
                row.gamma_se,
            )
        )
        claims.append(
            below(
                f"{row.activation}-fmax",
                PAPER,
                f"{row.activation} on centred data splits the data evenly: E[f_max] + {N_SE:g} SE below "
                f"its value at the margin gamma = {NO_IGB_GAMMA:g}",
                row.fmax_mean_measured,
                row.fmax_mean_margin - N_SE * row.fmax_mean_se,
            )
        )
    return claims


# --------------------------------------------------------------------------- 3. input shift


def _kernel_prediction(X, activation: str, depth: int, seed: int) -> float:
    """Infinite-width gamma_inf for the data X: on all points where the kernel has a closed form
    (relu, linear), on a seeded subsample of ``_KERNEL_POINTS`` otherwise."""
    X = np.asarray(X, dtype=float)
    if activation not in ("relu", "linear") and len(X) > _KERNEL_POINTS:
        idx = np.random.default_rng(seed).permutation(len(X))[:_KERNEL_POINTS]
        X = X[np.sort(idx)]
    return max(0.0, theory.kernel_gamma(X, activation, depth))  # quadrature leaves -1e-16 at gamma 0


#: The per-feature input means s that :func:`input_shift_sweep` compares with the theory.
SHIFTS = (0.0, 0.5, 1.0, 1.5)


def input_shift_sweep(
    *, claims_scale=1.0, seed=0, shifts=SHIFTS, n_inits=1000, n_points=500, width=128, progress=False
) -> Experiment:
    """Uncentred inputs N(s 1, I) create IGB: linear networks get gamma = s^2 at every depth,
    ReLU follows the recursion from c_0 = s^2 / (1 + s^2) (Francazi et al. 2024, preprocessing;
    chapter eq. ``igb-eq-shift``).

    The law holds for the population; n drawn points have a mean that misses s by ~1/sqrt(n).
    The claims therefore compare each simulation with the infinite-width prediction for the
    points actually drawn (the kernel, chapter eq. ``igb-eq-kernel``, at n points), and the
    figure shows both.
    """
    nets = {"linear, 1 layer": ("linear", 1), "linear, 3 layers": ("linear", 3), "relu, 1 layer": ("relu", 1)}
    rows = []
    run = dict(n_inits=_n_inits(n_inits, claims_scale), seed=seed, width=width, progress=progress)
    for s in shifts:
        X = gaussian_inputs(n_points, DIM, s, seed)
        for name, (activation, depth) in nets.items():
            sim = simulate(X, depth=depth, activation=activation, **run)
            rows.append(
                {
                    "input_shift": s,
                    "network": name,
                    **_gamma_row(sim),
                    "gamma_theory": float(theory.gammas(activation, depth, s)[-1]),
                    "gamma_kernel": theory.finite_n_gamma(
                        _kernel_prediction(X, activation, depth, seed), n_points
                    ),
                }
            )
    frame = pd.DataFrame(rows)
    frame["z"] = (frame["gamma_measured"] - frame["gamma_kernel"]) / frame["gamma_se"]
    metrics = {}
    for name, part in frame[frame["input_shift"] != 0].groupby("network", sort=False):
        metrics[f"max_abs_z_{_key(name)}"] = float(part["z"].abs().max())
    return Experiment(metrics, {"gamma": frame}, input_shift_claims(frame))


def _key(name: str) -> str:
    return name.replace(", ", "_").replace(" ", "_")


def input_shift_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`input_shift_sweep` from its ``gamma`` table (input_shift, network,
    gamma_measured, gamma_se, gamma_kernel): per network, the largest deviation over s > 0 from
    the theory, in standard errors."""
    claims = []
    shifted = frame[frame["input_shift"] != 0]
    for name, part in shifted.groupby("network", sort=False):
        z = ((part["gamma_measured"] - part["gamma_kernel"]) / part["gamma_se"]).abs().max()
        law = "gamma = s^2" if name.startswith("linear") else "the ReLU recursion from c_0 = s^2/(1+s^2)"
        claims.append(
            below(
                f"shift-{_key(name)}",
                PAPER,
                f"Input shift s creates IGB: {name} follows {law} (largest deviation over s > 0 from the "
                "infinite-width value for the drawn points, in standard errors)",
                float(z),
                N_SE,
            )
        )
    return claims


# --------------------------------------------------------------------------- 4. max-pooling


def max_pooling(
    *, claims_scale=1.0, seed=0, ks=(1, 2, 4), n_inits=2000, n_points=500, width=128, progress=False
) -> Experiment:
    """Max-pooling groups of k units creates and amplifies IGB: gamma_k = M^2 / (S - M^2) from
    the moments of the maximum of k Gaussians, for ReLU and even for a linear network (Francazi
    et al. 2024, max-pooling; chapter eq. ``igb-eq-pooling``)."""
    rows = []
    run = dict(n_points=n_points, n_inits=_n_inits(n_inits, claims_scale), seed=seed, progress=progress)
    for activation in ("relu", "linear"):
        for k in ks:
            sim = _gaussian_run(activation, width=width, pool_k=k, **run)
            g = theory.pooling_gamma(k, activation)
            rows.append(
                {
                    "activation": activation,
                    "pool_k": k,
                    **_gamma_row(sim),
                    "gamma_theory": theory.finite_n_gamma(g, n_points),
                    "gamma_theory_inf": g,
                }
            )
    frame = pd.DataFrame(rows)
    metrics = {
        f"{key}_{r.activation}_pool{r.pool_k}": getattr(r, key)
        for r in frame.itertuples()
        for key in ("gamma_measured", "gamma_se", "gamma_theory")
    }
    return Experiment(metrics, {"gamma": frame}, max_pooling_claims(frame))


def max_pooling_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`max_pooling` from its ``gamma`` table, for k > 1 (k = 1 is the ReLU layer
    of section 1, and for a linear network gamma = 0 there by construction)."""
    claims = []
    for row in frame[frame["pool_k"] > 1].itertuples():
        what = "ReLU" if row.activation == "relu" else "Even a linear network"
        claims.append(
            within(
                f"pool-{row.activation}-k{row.pool_k}",
                PAPER,
                f"{what} max-pooled in groups of {row.pool_k}: gamma = M^2 / (S - M^2) (within {N_SE:g} SE)",
                row.gamma_measured,
                row.gamma_theory,
                abs_tol=N_SE * row.gamma_se,
            )
        )
    return claims


# --------------------------------------------------------------------------- 5. depth


def _layer_gammas(sim: Simulation, max_depth: int) -> tuple[list, list]:
    """gamma_L with its standard error for L = 1..max_depth, read off the pre-activations of
    hidden layer L + 1 (many nodes, so a small error), and the per-initialisation influence terms
    of each (whose differences give the error of a step between depths)."""
    rows, influence = [], []
    for L in range(1, max_depth + 1):
        a, b = gamma_terms(sim.layer_mean[L], sim.layer_var[L])
        gamma, se = ratio_of_means(a, b)
        rows.append((L, gamma, se))
        influence.append((a - gamma * b) / b.mean())
    return rows, influence


def depth_sweep(
    *,
    claims_scale=1.0,
    seed=0,
    max_depth=4,
    n_inits=300,
    n_points=500,
    width=128,
    recursion_width=512,
    recursion_inits=150,
    activations=ACTIVATIONS,
    progress=False,
) -> Experiment:
    """Depth amplifies IGB where it exists and cannot create it (Francazi et al. 2024, depth;
    chapter eqs. ``igb-eq-relu-map``, ``igb-eq-layer-map``).

    One network of ``max_depth + 1`` hidden layers per activation measures every depth: the
    pre-activations of hidden layer L + 1 are, in distribution, the outputs of a network with L
    hidden layers (the readout is one more He layer), so gamma_L is read off layer L + 1. The
    step between two depths of the same networks has its own standard error.

    At width 128 deep ReLU networks fall a few percent below the infinite-width recursion (the
    layer's own fluctuations bend the next layer's mean, an effect of order depth / width). The
    recursion claim therefore uses a second, wider ReLU run (``recursion_width``), compared with
    the infinite-width kernel of the drawn points (chapter eq. ``igb-eq-kernel``, which also
    carries their finite dimension).
    """
    rows, steps = [], []
    X = gaussian_inputs(n_points, DIM, 0.0, seed)
    # Every depth up to max_depth is read off the layers of one deeper network.
    deep = dict(seed=seed, depth=max_depth + 1, record_layers=True, progress=progress)
    for activation in activations:
        sim = simulate(X, n_inits=_n_inits(n_inits, claims_scale), width=width, activation=activation, **deep)
        layer_rows, influence = _layer_gammas(sim, max_depth)
        for (L, gamma, se), g in zip(layer_rows, theory.gammas(activation, max_depth)):
            rows.append(
                {
                    "activation": activation,
                    "depth": L,
                    "gamma_measured": gamma,
                    "gamma_se": se,
                    "gamma_theory": theory.finite_n_gamma(max(float(g), 0.0), n_points),
                }
            )
        for L in range(1, max_depth):
            diff = influence[L] - influence[L - 1]
            steps.append(
                {"activation": activation, "depth": L, "step_se": diff.std(ddof=1) / math.sqrt(diff.size)}
            )
    wide = simulate(
        X, n_inits=_n_inits(recursion_inits, claims_scale), width=recursion_width, activation="relu", **deep
    )
    recursion = pd.DataFrame(
        [
            {
                "depth": L,
                "gamma_measured": gamma,
                "gamma_se": se,
                "gamma_kernel": theory.finite_n_gamma(theory.kernel_gamma(X, "relu", L), n_points),
            }
            for L, gamma, se in _layer_gammas(wide, max_depth)[0]
        ]
    )
    frame, step_frame = pd.DataFrame(rows), pd.DataFrame(steps)
    claims = depth_claims(frame, step_frame, recursion)
    metrics = {c.id.replace("-", "_"): c.measured for c in claims}
    metrics.update(width=float(width), recursion_width=float(recursion_width))
    return Experiment(metrics, {"gamma": frame, "steps": step_frame, "recursion": recursion}, claims)


def depth_claims(frame: pd.DataFrame, steps: pd.DataFrame, recursion: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`depth_sweep` from its ``gamma`` table (activation, depth, gamma_measured,
    gamma_se), its ``steps`` table (activation, depth L, step_se: the standard error of
    gamma_{L+1} - gamma_L) and its ``recursion`` table (the wide ReLU run: depth,
    gamma_measured, gamma_se, gamma_kernel)."""
    claims = []
    z = ((recursion["gamma_measured"] - recursion["gamma_kernel"]) / recursion["gamma_se"]).abs().max()
    claims.append(
        below(
            "depth-relu-recursion",
            PAPER,
            f"ReLU gamma_L follows the arc-cosine recursion for L = 1..{int(recursion['depth'].max())} "
            "(largest deviation, in standard errors)",
            float(z),
            N_SE,
        )
    )
    if "relu" in set(frame["activation"]):
        relu = frame[frame["activation"] == "relu"].sort_values("depth")
        rise = np.diff(relu["gamma_measured"].to_numpy())
        step_se = steps[steps["activation"] == "relu"].sort_values("depth")["step_se"].to_numpy()
        claims.append(
            above(
                "depth-relu-grows",
                PAPER,
                "Depth amplifies ReLU's IGB: gamma_L increases with L (smallest step gamma_{L+1} - gamma_L, "
                "in standard errors of the step)",
                float((rise / step_se).min()),
                N_SE,
            )
        )
    if "tanh" in set(frame["activation"]):
        tanh = frame[frame["activation"] == "tanh"]
        worst = tanh.loc[(tanh["gamma_measured"] + N_SE * tanh["gamma_se"]).idxmax()]
        claims.append(
            _no_igb(
                "depth-tanh-none",
                f"Depth cannot create IGB: tanh at depths 1..{int(tanh['depth'].max())} (worst depth)",
                worst["gamma_measured"],
                worst["gamma_se"],
            )
        )
    return claims


# --------------------------------------------------------------------------- 6. self-averaging


def self_averaging(
    *,
    claims_scale=1.0,
    seed=0,
    n_points_grid=(100, 250, 1000, 4000),
    n_inits=1000,
    n_datasets=20,
    width=64,
    progress=False,
) -> Experiment:
    """f_0 is not self-averaging under IGB: with ReLU its spread over initialisations stays put as
    the data grow, while without IGB (tanh) it shrinks like 1 / (2 sqrt(n)) (Francazi et al. 2024,
    self-averaging; chapter eq. ``igb-eq-finite-n``).

    The spread is pooled over ``n_datasets`` independent data sets, each classified by its own
    ``n_inits / n_datasets`` networks at growing prefixes n. One fixed data set would add its own
    small imprint (of relative size ~ sqrt(2 / dim), whatever n) to the tanh spread; averaging
    over data sets measures the law itself. The data sets are the independent units of the
    standard errors (batch means): networks that share a data set share its imprint.
    """
    grid = sorted(n_points_grid)
    per_set = max(2, _n_inits(n_inits, claims_scale) // n_datasets)
    rows = []
    for activation in ("relu", "tanh"):
        gamma = max(0.0, float(theory.gammas(activation, 1)[0]))
        ms = np.empty((n_datasets, len(grid)))  # mean square of f_0 - 1/2, per data set and n
        for k in range(n_datasets):
            sub_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0]) % SEED_MAX
            X = gaussian_inputs(grid[-1], DIM, 0.0, sub_seed)
            for j, n in enumerate(grid):  # the same networks (same seed) on growing prefixes of one data set
                sim = simulate(
                    X[:n],
                    n_inits=per_set,
                    seed=sub_seed,
                    width=width,
                    activation=activation,
                    progress=progress,
                )
                # E[f_0] = 1/2 exactly: the two output nodes are exchangeable.
                ms[k, j] = float(np.mean((sim.fractions[:, 0] - 0.5) ** 2))
        for j, n in enumerate(grid):
            mean, se = mean_se(ms[:, j])
            # Theory: Var(f_0) of the population fraction plus the binomial noise of n points.
            var_theory = float(theory.f0_var(gamma)) + (0.25 - float(theory.f0_var(gamma))) / n
            rows.append(
                {
                    "activation": activation,
                    "n_points": n,
                    "sd_f0": math.sqrt(mean),
                    "sd_f0_se": se / (2.0 * math.sqrt(mean)),
                    "sd_theory": math.sqrt(var_theory),
                }
            )
        ratio_sq, ratio_sq_se = ratio_of_means(ms[:, -1], ms[:, 0])
        rows[-1]["ratio"] = math.sqrt(ratio_sq)
        rows[-1]["ratio_se"] = ratio_sq_se / (2.0 * math.sqrt(ratio_sq))
    frame = pd.DataFrame(rows)
    claims = self_averaging_claims(frame)
    metrics = {c.id.replace("-", "_"): c.measured for c in claims}
    return Experiment(metrics, {"spread": frame}, claims)


def self_averaging_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`self_averaging` from its ``spread`` table (activation, n_points, sd_f0,
    sd_f0_se, sd_theory; ratio and ratio_se, sd at the largest n over sd at the smallest, on the
    last row of each activation)."""
    relu = frame[frame["activation"] == "relu"].sort_values("n_points")
    tanh = frame[frame["activation"] == "tanh"]
    n_min, n_max = int(relu["n_points"].iloc[0]), int(relu["n_points"].iloc[-1])
    ratio_theory = relu["sd_theory"].iloc[-1] / relu["sd_theory"].iloc[0]
    z_tanh = ((tanh["sd_f0"] - 0.5 / np.sqrt(tanh["n_points"])) / tanh["sd_f0_se"]).abs().max()
    return [
        within(
            "self-averaging-relu",
            PAPER,
            f"With ReLU the spread of f_0 does not shrink with the data: sd at n = {n_max} over sd at "
            f"n = {n_min} as the theory predicts (self-averaging would give {math.sqrt(n_min / n_max):.2f}; "
            f"within {N_SE:g} SE)",
            relu["ratio"].iloc[-1],
            ratio_theory,
            abs_tol=N_SE * relu["ratio_se"].iloc[-1],
        ),
        below(
            "self-averaging-tanh",
            PAPER,
            "With tanh the spread of f_0 shrinks like 1 / (2 sqrt(n)) (largest deviation over n, in "
            "standard errors)",
            float(z_tanh),
            N_SE,
        ),
    ]


# --------------------------------------------------------------------------- 7. node symmetry


def node_symmetry(
    *, claims_scale=1.0, seed=0, depth=4, n_inits=8, n_points=1000, width=512, progress=False
) -> Experiment:
    """Inside one network the nodes of a layer stop being interchangeable: the variance over
    nodes of their data-means, relative to their mean data-variance, equals gamma_{l-1} at layer
    l (Francazi et al. 2024, node-permutation symmetry breaking). Each network gives one value
    per layer; the standard error is over the ``n_inits`` networks."""
    rows = []
    run = dict(
        n_points=n_points, n_inits=_n_inits(n_inits, claims_scale, floor=3), seed=seed, progress=progress
    )
    for activation in ("relu", "tanh"):
        sim = _gaussian_run(activation, depth=depth, width=width, record_layers=True, **run)
        g_theory = np.concatenate([[0.0], np.maximum(theory.gammas(activation, depth - 1), 0.0)])
        for layer, (m, v) in enumerate(zip(sim.layer_mean, sim.layer_var), start=1):
            spread = m.astype(float).var(axis=1) / v.astype(float).mean(axis=1)  # one value per network
            mean, se = mean_se(spread)
            rows.append(
                {
                    "activation": activation,
                    "layer": layer,
                    "spread": mean,
                    "spread_se": se,
                    "gamma_theory": theory.finite_n_gamma(float(g_theory[layer - 1]), n_points),
                }
            )
    frame = pd.DataFrame(rows)
    claims = node_symmetry_claims(frame)
    metrics = {c.id.replace("-", "_"): c.measured for c in claims}
    return Experiment(metrics, {"spread": frame}, claims)


def node_symmetry_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`node_symmetry` from its ``spread`` table (activation, layer, spread,
    spread_se, gamma_theory)."""
    relu = frame[(frame["activation"] == "relu") & (frame["layer"] >= 2)]
    z = ((relu["spread"] - relu["gamma_theory"]) / relu["spread_se"]).abs().max()
    tanh = frame[frame["activation"] == "tanh"]
    worst = tanh.loc[(tanh["spread"] + N_SE * tanh["spread_se"]).idxmax()]
    return [
        below(
            "node-symmetry-relu",
            PAPER,
            "ReLU: the spread of node means at layer l equals gamma_(l-1), "
            f"l = 2..{int(relu['layer'].max())} (largest deviation, in standard errors)",
            float(z),
            N_SE,
        ),
        _no_igb(
            "node-symmetry-tanh",
            "tanh: node means do not spread (worst layer)",
            worst["spread"],
            worst["spread_se"],
        ),
    ]


# --------------------------------------------------------------------------- 8. ten classes


def ten_classes(
    *, claims_scale=1.0, seed=0, n_inits=1000, n_points=1000, width=128, progress=False
) -> Experiment:
    """Ten classes, one ReLU hidden layer: E[f_max] = 0.330 where a neutral net gives 0.1
    (Francazi et al. 2024, multi-class case; chapter eq. ``igb-eq-multiclass``). The theory's
    fractions are counted on the run's n points (multinomial), like the simulation's."""
    run = dict(n_points=n_points, n_inits=_n_inits(n_inits, claims_scale), seed=seed, progress=progress)
    sim = _gaussian_run("relu", width=width, n_classes=10, **run)
    fmax = sim.fractions.max(axis=1)
    fmax_theory = theory.class_fractions(theory.GAMMA_RELU, 10, seed=seed, n_points=n_points).max(axis=1)
    mean, se = mean_se(fmax)
    mean_th, se_th = mean_se(fmax_theory)
    metrics = {
        "fmax_mean_measured": mean,
        "fmax_mean_se": se,
        "fmax_mean_theory": mean_th,
        "fmax_mean_theory_se": se_th,
        "fmax_mean_theory_inf": theory.expected_fmax(theory.GAMMA_RELU, 10, seed=seed),
        **_gamma_row(sim),
    }
    data = {
        "samples": pd.concat(
            [
                pd.DataFrame({"source": "simulation", "fmax": fmax}),
                pd.DataFrame({"source": "theory", "fmax": fmax_theory}),
            ],
            ignore_index=True,
        )
    }
    return Experiment(metrics, data, ten_classes_claims(metrics))


def ten_classes_claims(m: Mapping[str, float]) -> list[Claim]:
    """Claims of :func:`ten_classes` from its metrics; the tolerance adds the Monte Carlo error of
    the theory's samples to the run's."""
    return [
        within(
            "ten-classes-fmax",
            PAPER,
            f"Ten classes, one ReLU hidden layer: E[f_max] = 0.330 (neutral: 0.1; at the run's n points; "
            f"within {N_SE:g} SE)",
            m["fmax_mean_measured"],
            m["fmax_mean_theory"],
            abs_tol=N_SE * math.hypot(m["fmax_mean_se"], m["fmax_mean_theory_se"]),
        )
    ]


# --------------------------------------------------------------------------- 9. digits


def digits(*, claims_scale=1.0, seed=0, n_inits=1000, width=256, depth=1, progress=False) -> Experiment:
    """Real data: raw pixels of the 8x8 digits (all >= 0, far from centred) give ReLU networks
    strong IGB, standardised pixels with tanh none; both compared with the infinite-width kernel
    prediction (Francazi et al. 2024, real data; chapter eq. ``igb-eq-kernel``).

    Without IGB, E[f_max] on the digits still exceeds the neutral 1/10 (about 0.17 with tanh):
    the digits form clusters, and each network splits the clusters unevenly between classes,
    so fractions fluctuate more than for independent Gaussian points. That is no preference for
    one class (gamma stays near 0), so it is reported as a metric, not as a claim.
    """
    rows, samples = [], []
    network = dict(n_inits=_n_inits(n_inits, claims_scale), seed=seed, depth=depth, width=width, n_classes=10)
    for name, standardize, activation in (
        ("raw pixels, relu", False, "relu"),
        ("standardised, tanh", True, "tanh"),
    ):
        X, _ = load_digits(standardize=standardize)
        sim = simulate(X, activation=activation, progress=progress, **network)
        g_kernel = _kernel_prediction(X, activation, depth, seed)
        fmax, fmax_se = mean_se(sim.fractions.max(axis=1))
        fmax_th, fmax_th_se = mean_se(
            theory.class_fractions(g_kernel, 10, seed=seed, n_points=len(X)).max(axis=1)
        )
        rows.append(
            {
                "setting": name,
                **_gamma_row(sim),
                "gamma_kernel": theory.finite_n_gamma(g_kernel, len(X)),
                "fmax_mean_measured": fmax,
                "fmax_mean_se": fmax_se,
                "fmax_mean_kernel": fmax_th,
                "fmax_mean_kernel_se": fmax_th_se,
            }
        )
        samples.append(pd.DataFrame({"setting": name, "fmax": sim.fractions.max(axis=1)}))
    frame = pd.DataFrame(rows)
    raw, std = frame.iloc[0], frame.iloc[1]
    metrics = {
        "gamma_raw_relu": raw.gamma_measured,
        "gamma_raw_relu_se": raw.gamma_se,
        "gamma_raw_relu_kernel": raw.gamma_kernel,
        "gap_raw_relu": abs(raw.gamma_measured / raw.gamma_kernel - 1.0),
        "fmax_mean_raw_relu": raw.fmax_mean_measured,
        "fmax_mean_raw_relu_se": raw.fmax_mean_se,
        "fmax_mean_raw_relu_kernel": raw.fmax_mean_kernel,
        "fmax_mean_raw_relu_kernel_se": raw.fmax_mean_kernel_se,
        "gamma_std_tanh": std.gamma_measured,
        "gamma_std_tanh_se": std.gamma_se,
        "gamma_std_tanh_kernel": std.gamma_kernel,
        "fmax_mean_std_tanh": std.fmax_mean_measured,
    }
    data = {"summary": frame, "samples": pd.concat(samples, ignore_index=True)}
    return Experiment(metrics, data, digits_claims(metrics))


def digits_claims(m: Mapping[str, float]) -> list[Claim]:
    """Claims of :func:`digits` from its metrics."""
    return [
        _strong_igb(
            "digits-raw-relu",
            "Digits, raw pixels, ReLU: strong IGB",
            m["gamma_raw_relu"],
            m["gamma_raw_relu_se"],
        ),
        within(
            "digits-raw-relu-kernel",
            PAPER,
            f"Digits, raw pixels, ReLU: gamma as the infinite-width kernel predicts (within {N_SE:g} SE)",
            m["gamma_raw_relu"],
            m["gamma_raw_relu_kernel"],
            abs_tol=N_SE * m["gamma_raw_relu_se"],
        ),
        within(
            "digits-raw-relu-fmax",
            PAPER,
            f"Digits, raw pixels, ReLU: E[f_max] as the kernel's gamma predicts (neutral: 0.1; within "
            f"{N_SE:g} SE)",
            m["fmax_mean_raw_relu"],
            m["fmax_mean_raw_relu_kernel"],
            abs_tol=N_SE * math.hypot(m["fmax_mean_raw_relu_se"], m["fmax_mean_raw_relu_kernel_se"]),
        ),
        _no_igb(
            "digits-std-tanh",
            "Digits, standardised pixels, tanh: no IGB",
            m["gamma_std_tanh"],
            m["gamma_std_tanh_se"],
        ),
    ]


# --------------------------------------------------------------------------- 10. conv nets


#: The three convolutional networks of :func:`conv_pooling`: name -> (activation, pooling, share
#: of ``n_inits``). The third only illustrates (its gamma is far from any margin): a quarter.
CONV_SETTINGS = {
    "relu, max-pooling": ("relu", "max", 1.0),
    "tanh, average pooling": ("tanh", "avg", 1.0),
    "tanh, max-pooling": ("tanh", "max", 0.25),
}


def conv_pooling(
    *, claims_scale=1.0, seed=0, n_inits=400, n_points=None, channels=(16, 32), n_classes=2, progress=False
) -> Experiment:
    """The paper's first experiment on the digits: untrained convolutional networks with ReLU and
    max-pooling are strongly biased, with tanh and average pooling they are not (Francazi et al.
    2024, first figure; architecture of the authors' ``ConvNet``, :mod:`earlybias.igb.convnets`).

    All 1797 digits (or the first ``n_points`` of a seeded shuffle), each pixel standardised, so
    the inputs are centred and any bias comes from the architecture. A third network, tanh with
    max-pooling, separates the two choices: pooling alone already biases the odd activation
    (section 4). No closed form covers a convolutional network with spatial pooling, so the ReLU
    claim is the regime boundary gamma > 1.
    """
    images = load_digits(standardize=True)[0].reshape(-1, 8, 8)
    if n_points is not None:
        n_points = check_int("n_points", n_points, 2, len(images))
        images = images[np.random.default_rng(seed).permutation(len(images))[:n_points]]
    rows, samples = [], []
    network = dict(seed=seed, channels=channels, n_classes=n_classes, progress=progress)
    for name, (activation, pooling, share) in CONV_SETTINGS.items():
        size = _n_inits(n_inits, claims_scale * share)
        sim = simulate_conv(images, n_inits=size, activation=activation, pooling=pooling, **network)
        fmax, fmax_se = mean_se(sim.fractions.max(axis=1))
        rows.append({"setting": name, **_gamma_row(sim), "fmax_mean_measured": fmax, "fmax_mean_se": fmax_se})
        samples.append(pd.DataFrame({"setting": name, "f0": sim.fractions[:, 0]}))
    frame = pd.DataFrame(rows)
    metrics = {
        f"{key}_{_key(r.setting).replace('-', '_')}": getattr(r, key)
        for r in frame.itertuples()
        for key in ("gamma_measured", "gamma_se", "fmax_mean_measured")
    }
    data = {"summary": frame, "samples": pd.concat(samples, ignore_index=True)}
    return Experiment(metrics, data, conv_claims(frame))


def conv_claims(frame: pd.DataFrame) -> list[Claim]:
    """Claims of :func:`conv_pooling` from its ``summary`` table (setting, gamma_measured, gamma_se)."""
    by = frame.set_index("setting")
    relu, tanh = by.loc["relu, max-pooling"], by.loc["tanh, average pooling"]
    return [
        _strong_igb(
            "conv-relu-maxpool",
            "Untrained CNN on digits, ReLU and max-pooling: strong IGB",
            relu["gamma_measured"],
            relu["gamma_se"],
        ),
        _no_igb(
            "conv-tanh-avgpool",
            "Untrained CNN on digits, tanh and average pooling",
            tanh["gamma_measured"],
            tanh["gamma_se"],
        ),
    ]


# --------------------------------------------------------------------------- 11. training


def digit_task(seed: int, test_fraction: float = 0.25) -> dict[str, tuple]:
    """The binary task of :func:`training_dynamics`: digits 0-4 (label 0) against 5-9 (label 1),
    a seeded split into training and test images, as ``{"raw": (X_train, y_train, X_test,
    y_test), "standardised": (...)}``; standardised with the training images' statistics."""
    X, y = load_digits()
    y = (y >= 5).astype(np.int64)
    idx = np.random.default_rng([seed, 7]).permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    test, trn = idx[:n_test], idx[n_test:]
    mu, sd = X[trn].mean(axis=0), X[trn].std(axis=0)

    def standardise(Z):
        return np.divide(Z - mu, sd, out=np.zeros_like(Z), where=sd > 0)

    return {
        "raw": (X[trn], y[trn], X[test], y[test]),
        "standardised": (standardise(X[trn]), y[trn], standardise(X[test]), y[test]),
    }


#: The two conditions of :func:`training_dynamics`: name -> (activation, pixels).
DYNAMICS_CONDITIONS = {
    "IGB: relu, raw pixels": ("relu", "raw"),
    "no IGB: tanh, standardised": ("tanh", "standardised"),
}
#: How :func:`training_dynamics` trains (keyword arguments of :func:`earlybias.igb.dynamics.train`):
#: three hidden layers of 64 units, 300 SGD steps of 64 images at learning rate 0.02.
DYNAMICS_TRAINING = dict(depth=3, width=64, n_steps=300, batch_size=64, lr=0.02)


def training_dynamics(
    *, claims_scale=1.0, seed=0, n_inits=128, early_steps=4, conditions=None, progress=False, **training
) -> Experiment:
    """From initialisation to training: networks with IGB (ReLU on raw pixels) and without it
    (tanh on standardised pixels) learn digits 0-4 against 5-9 with SGD, all networks of a
    condition as one batched program (:mod:`earlybias.igb.dynamics`, after the authors'
    ``Dynamics/IGB_on_MLP.py``). Each network's favoured class is the one it sends most training
    images to at initialisation; per-class test accuracy and the share of test predictions on the
    favoured class are recorded at logarithmically spaced steps.

    The early gap is the favoured class's test accuracy minus the other's, averaged over the
    evaluations at steps 1..``early_steps``; the late gap is the same at the last step. Without
    IGB the favoured class is chosen by a hair, so its early gap is the baseline with which the
    IGB networks' early gap is compared. ``conditions`` (name -> (activation, "raw" or
    "standardised"), by default :data:`DYNAMICS_CONDITIONS`) lists the condition with IGB first;
    the tests swap it for a case without. ``training`` overrides :data:`DYNAMICS_TRAINING`.
    """
    conditions = DYNAMICS_CONDITIONS if conditions is None else conditions
    task = digit_task(seed)
    size = _n_inits(n_inits, claims_scale, floor=8)
    training = {**DYNAMICS_TRAINING, **training}
    n_steps = training["n_steps"]
    curves, summary = [], []
    if len(conditions) != 2:
        raise ValueError(f"conditions must name two conditions (with IGB first), got {list(conditions)}")
    for name, (activation, pixels) in conditions.items():
        run = train(
            *task[pixels], n_inits=size, seed=seed, activation=activation, progress=progress, **training
        )
        gap = run.acc_favoured - run.acc_other
        early = (run.steps >= 1) & (run.steps <= early_steps)
        tenth = int(np.abs(run.steps - n_steps / 10).argmin())  # the evaluation nearest a tenth of the run
        for j, step in enumerate(run.steps):
            for quantity, values in (
                ("share of predictions on the favoured class", run.share_favoured),
                ("accuracy on the favoured class", run.acc_favoured),
                ("accuracy on the other class", run.acc_other),
                ("test accuracy", run.accuracy),
            ):
                mean, se = mean_se(values[:, j])
                curves.append(
                    {"condition": name, "step": int(step), "quantity": quantity, "mean": mean, "se": se}
                )
        early_gap, early_se = mean_se(gap[:, early].mean(axis=1))
        late_gap, late_se = mean_se(gap[:, -1])
        share0, share0_se = mean_se(run.share_favoured[:, 0])
        summary.append(
            {
                "condition": name,
                "gamma_init": gamma_measured(run.init_mean, run.init_var),
                "gamma_init_se": gamma_se(run.init_mean, run.init_var),
                "share_favoured_init": share0,
                "share_favoured_init_se": share0_se,
                "early_gap": early_gap,
                "early_gap_se": early_se,
                "late_gap": late_gap,
                "late_gap_se": late_se,
                "accuracy_tenth": float(run.accuracy[:, tenth].mean()),
                "final_accuracy": float(run.accuracy[:, -1].mean()),
            }
        )
    frame = pd.DataFrame(summary)
    metrics = {}
    for row, short in zip(frame.itertuples(), ("igb", "no_igb")):
        for key in frame.columns[1:]:
            metrics[f"{short}_{key}"] = float(getattr(row, key))
    metrics["early_steps"] = float(early_steps)
    metrics["tenth_step"] = float(run.steps[tenth])
    metrics["n_steps"] = float(n_steps)
    data = {"curves": pd.DataFrame(curves), "summary": frame}
    return Experiment(metrics, data, dynamics_claims(metrics))


def dynamics_claims(m: Mapping[str, float]) -> list[Claim]:
    """Claims of :func:`training_dynamics` from its metrics."""
    early = m["igb_early_gap"] - m["no_igb_early_gap"]
    late = m["igb_late_gap"] - m["no_igb_late_gap"]
    return [
        above(
            "dyn-favoured-first",
            DYNAMICS_PAPER,
            f"IGB shapes the first steps of training: over steps 1..{int(m['early_steps'])} the class "
            "favoured at initialisation leads the other in test accuracy by more than without IGB "
            f"(difference of early gaps, above {N_SE:g} SE)",
            early,
            N_SE * math.hypot(m["igb_early_gap_se"], m["no_igb_early_gap_se"]),
        ),
        within(
            "dyn-transient",
            DYNAMICS_PAPER,
            f"With cross-entropy the lead is transient: after {int(m['n_steps'])} steps the favoured class "
            f"leads by no more than without IGB (difference of late gaps, 0 within {N_SE:g} SE)",
            late,
            0.0,
            abs_tol=N_SE * math.hypot(m["igb_late_gap_se"], m["no_igb_late_gap_se"]),
        ),
    ]


# --------------------------------------------------------------------------- headline


def _theory_fractions_samples(n_classes: int) -> int:
    # The multi-class integral costs O(classes) per sample: fewer samples for many classes.
    return min(10_000, max(500, 10**7 // (n_classes * 100)))


def _headline_params(params: Mapping) -> SimpleNamespace:
    """The headline's arguments: the chapter's parameters (:data:`earlybias.igb.PARAMS`, but
    ``claims_scale``), each checked as ``earlybias run`` checks it, the others at their defaults,
    then the chapter's cross-parameter rules (:func:`earlybias.igb.check_params`)."""
    schema = {p.name: p for p in PARAMS if p.name != "claims_scale"}
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise ValueError(f"unknown parameters {unknown}: the headline takes {', '.join(schema)}")
    values = {name: p.check(params[name]) if name in params else p.default for name, p in schema.items()}
    check_params(values)
    return SimpleNamespace(**values)


def headline(*, progress=False, **params) -> Experiment:
    """The chapter's own experiment: any architecture on Gaussian or digit inputs, measured gamma
    and E[f_max] against the theory (Francazi et al. 2024; chapter eqs. ``igb-eq-gamma`` to
    ``igb-eq-finite-n``).

    ``params`` are the chapter's parameters (:data:`earlybias.igb.PARAMS`, all but
    ``claims_scale``), checked and defaulted as a chapter run checks and defaults them: the
    network (activation, depth, width, pool_k, n_classes), the inputs (data, n_points,
    input_shift, standardize) and the run (n_inits, seed).

    Inputs: ``gaussian`` draws n_points from N(s 1, I_100); ``digits`` takes n_points of the 8x8
    digits (seeded) and adds s to every pixel. ``standardize`` then centres and scales every
    feature, which removes the shift. Theory: the mean-field recursion for Gaussian inputs, the
    infinite-width kernel prediction for the digits; ``gamma_theory`` is the population value,
    ``gamma_theory_n`` its value at n points. Max-pooling theory needs centred Gaussian inputs
    (:func:`earlybias.igb.pooling_problem`).
    """
    p = _headline_params(params)
    if p.data == "gaussian":
        X = gaussian_inputs(p.n_points, DIM, p.input_shift, p.seed)
    else:
        pixels, _ = load_digits()
        X = pixels[np.random.default_rng(p.seed).permutation(len(pixels))[: p.n_points]] + p.input_shift
    if p.standardize:
        X = standardize_features(X)
    if p.data == "gaussian":
        shift = 0.0 if p.standardize else p.input_shift
        g_theory = float(theory.gammas(p.activation, p.depth, shift, p.pool_k)[-1])
    else:
        g_theory = _kernel_prediction(X, p.activation, p.depth, p.seed)
    g_theory = max(g_theory, 0.0)  # quadrature leaves -1e-16 where the theory gives 0
    network = ("n_inits", "seed", "depth", "width", "activation", "pool_k", "n_classes")
    sim = simulate(X, progress=progress, **{name: getattr(p, name) for name in network})
    n_samples = _theory_fractions_samples(p.n_classes)
    fractions = theory.class_fractions(g_theory, p.n_classes, n_samples, p.seed, n_points=p.n_points)
    fmax, fmax_se = mean_se(sim.fractions.max(axis=1))
    metrics = {
        "gamma_theory": g_theory,
        "gamma_theory_n": theory.finite_n_gamma(g_theory, p.n_points),
        "gamma_measured": gamma_measured(sim.mean, sim.var),
        "gamma_se": gamma_se(sim.mean, sim.var),
        "fmax_mean_theory": float(fractions.max(axis=1).mean()),
        "fmax_mean_measured": fmax,
        "fmax_mean_se": fmax_se,
    }
    frames = {
        "samples": pd.DataFrame({"f0": sim.fractions[:, 0], "fmax": sim.fractions.max(axis=1)}),
        "theory": pd.DataFrame({"f0": fractions[:, 0], "fmax": fractions.max(axis=1)}),
    }
    if p.n_classes == 2 and g_theory > 0:
        grid = np.linspace(0.001, 0.999, 999)
        frames["density"] = pd.DataFrame({"f": grid, "pdf": theory.f0_pdf(grid, g_theory)})
    return Experiment(metrics, frames)
