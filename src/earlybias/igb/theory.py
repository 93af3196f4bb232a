"""The theory of initial guessing bias (Francazi, Lucchi, Baity-Jesi, ICML 2024).

An untrained classifier sends a fraction f_c of the data to class c. For one output node write
mu for its mean over the data and sigma^2 for its variance over the data; both depend on the
random weights. Everything about f_c follows from one number (chapter eq. ``igb-eq-gamma``),

    gamma = Var_W(mu) / E_W[sigma^2],

the spread of the node means between initialisations relative to the spread of the outputs
within one. gamma = 0 means no initial guessing bias (IGB); the larger gamma, the more the
network guesses one class for (almost) every input.

This module has, in order:

* the distribution of the fractions given gamma: two classes in closed form, C classes by
  quadrature, each optionally at a finite number of data points (eq. ``igb-eq-finite-n``);
* gamma of a network of He-initialised layers without biases on isotropic Gaussian inputs
  N(s 1, I): the ReLU closed form, the max-pooling moment formula, and a general numerical
  layer map for every activation of :data:`ACTIVATIONS`;
* the infinite-width kernel prediction of gamma for a given data set (real data).

Conventions. Pre-activations of two independent inputs are bivariate normal with variance q and
correlation c; then Var_W(mu) = q c and E_W[sigma^2] = q (1 - c), so gamma = c / (1 - c).
``gammas(..., depth=L)[l - 1]`` is gamma_l, the output gamma of a network with l hidden layers,
which equals gamma of the pre-activations of hidden layer l + 1 of a deeper network.
``centered_relu`` is relu(z) - E[relu(z)] with z ~ N(0, q_l) and q_l the mean-field variance of
the layer's pre-activations (:func:`layer_variances`), so that the simulation in
:mod:`earlybias.igb.networks` and this theory use the same activation.

Citations name the paper's topic (its binary case, max-pooling, depth, ...) and the label of the
equation in the chapter, where the same formula is written out.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from earlybias.igb import ACTIVATIONS, pooling_problem
from earlybias.validation import check_choice, check_int, check_real, check_reals, check_seed

__all__ = [
    "ACTIVATIONS",
    "GAMMA_RELU",
    "activation_fn",
    "f0_cdf",
    "f0_pdf",
    "f0_var",
    "expected_fmax",
    "class_fractions",
    "input_correlation",
    "gamma_from_correlation",
    "relu_correlation_map",
    "relu_gammas",
    "pooling_gamma",
    "pair_expectation",
    "layer_variances",
    "gammas",
    "kernel_gamma",
    "finite_n_gamma",
]

GAMMA_RELU = 1.0 / (math.pi - 1.0)  # one ReLU hidden layer on centred data

# Quadrature sizes. 1-d: Gauss-Legendre on [-12, 0] and [0, 12]; every activation here is smooth
# except at 0, so splitting there keeps the rule spectrally accurate. 2-d: polar rule, see
# :func:`pair_expectation`.
_N_1D, _L_1D = 160, 12.0
_N_ANGLE, _N_RADIUS, _R_MAX = 24, 48, 10.0
_KERNEL_N_ANGLE, _KERNEL_N_RADIUS = 8, 24  # pairwise kernels on data: many pairs, fewer nodes
_STEP_T = 0.25  # grid step of the multi-class integral, see class_fractions
_N_HERMITE = 201  # nodes of the average over a network's Z at a finite number of points


# --------------------------------------------------------------------------- validation


def _gamma(gamma) -> np.ndarray:
    """gamma as a float array after checking every value is a finite number >= 0."""
    try:
        g = np.asarray(gamma, dtype=float)
    except (TypeError, ValueError):
        g = None
    if g is None or g.ndim == 0:
        return np.asarray(check_real("gamma", gamma if g is None else g.item(), 0.0))
    check_reals("gamma", g.ravel().tolist(), low=0.0)
    return g


def _n_points(n_points) -> int | None:
    return None if n_points is None else check_int("n_points", n_points, 1)


def _check_pooling(activation: str, pool_k: int, input_shift: float = 0.0) -> int:
    pool_k = check_int("pool_k", pool_k, 1)
    problem = pooling_problem(pool_k, activation, input_shift=input_shift)
    if problem:
        raise ValueError(f"pool_k={pool_k} is outside the theory: {problem}")
    return pool_k


# --------------------------------------------------------------------------- activations


def activation_fn(activation: str, q: float = 1.0):
    """The activation as a numpy function; ``q`` (the layer's pre-activation variance) only
    matters for ``centered_relu``, whose mean under N(0, q) is subtracted (module docstring)."""
    check_choice("activation", activation, ACTIVATIONS)
    if activation == "relu":
        return lambda z: np.maximum(z, 0.0)
    if activation == "tanh":
        return np.tanh
    if activation == "linear":
        return lambda z: z
    if activation == "centered_relu":
        shift = math.sqrt(q / (2.0 * math.pi))  # E[relu(z)] for z ~ N(0, q)
        return lambda z: np.maximum(z, 0.0) - shift
    if activation == "gelu":
        return lambda z: z * special.ndtr(z)
    return special.expit  # sigmoid


# --------------------------------------------------------------------------- fractions


def _hermite_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with sum w f(z) = E f(Z), Z ~ N(0, 1) (Gauss-Hermite, probabilists')."""
    z, w = np.polynomial.hermite_e.hermegauss(_N_HERMITE)
    return z, w / math.sqrt(2.0 * math.pi)


def f0_cdf(f, gamma: float, n_points: int | None = None) -> np.ndarray:
    """CDF of f_0 for two classes, F(f) = Phi(Phi^-1(f) / sqrt(gamma)) (Francazi et al. 2024,
    binary case; chapter eq. ``igb-eq-f0``).

    At gamma = 0 every network splits the data evenly: a step at f = 1/2. With ``n_points`` the
    fraction is counted on n points (eq. ``igb-eq-finite-n``): n f_0 is binomial with the
    network's population fraction Phi(sqrt(gamma) Z), averaged over Z by Gauss-Hermite.
    """
    g = float(_gamma(gamma))
    n = _n_points(n_points)
    f = np.asarray(f, dtype=float)
    if np.any((f < 0) | (f > 1)):
        raise ValueError("f must lie in [0, 1]")
    if n is not None:
        from scipy import stats

        z, w = _hermite_rule()
        p = special.ndtr(math.sqrt(g) * z)
        k = np.floor(f * n + 1e-9)[..., None]
        return stats.binom.cdf(k, n, p) @ w
    if g == 0.0:
        return (f >= 0.5).astype(float)
    with np.errstate(divide="ignore"):
        return special.ndtr(special.ndtri(f) / math.sqrt(g))


def f0_pdf(f, gamma: float) -> np.ndarray:
    """Density of f_0 for two classes, dF/df of :func:`f0_cdf` (Francazi et al. 2024, binary case;
    chapter eq. ``igb-eq-f0``).

    Unimodal at f = 1/2 for gamma < 1, U-shaped (mass near 0 and 1) for gamma > 1.
    """
    g = float(_gamma(gamma))
    if g == 0.0:
        raise ValueError("gamma must be > 0 for a density: at gamma = 0 f_0 is exactly 1/2")
    f = np.asarray(f, dtype=float)
    if np.any((f <= 0) | (f >= 1)):
        raise ValueError("f must lie in the open interval (0, 1)")
    x = special.ndtri(f)
    # log space: both densities underflow near f = 0 and 1 while their ratio does not.
    return np.exp(-0.5 * x * x * (1.0 / g - 1.0)) / math.sqrt(g)


def f0_var(gamma) -> np.ndarray:
    """Var(f_0) = arcsin(gamma / (1 + gamma)) / (2 pi) over initialisations (Francazi et al. 2024,
    binary case; chapter eq. ``igb-eq-fmax``)."""
    g = _gamma(gamma)
    return np.arcsin(g / (1.0 + g)) / (2.0 * math.pi)


def class_fractions(
    gamma: float, n_classes: int, n_samples: int = 10_000, seed: int = 0, n_points: int | None = None
) -> np.ndarray:
    """Samples of (f_1..f_C) over initialisations, shape (n_samples, n_classes) (Francazi et al.
    2024, multi-class case; chapter eq. ``igb-eq-multiclass``).

    f_c = E_xi prod_{c' != c} Phi(sqrt(gamma) (Z_c - Z_c') + xi), Z iid N(0, 1) (seeded Monte
    Carlo), xi ~ N(0, 1). We integrate over t = sqrt(gamma) Z_c + xi on one grid shared by all
    classes, f_c = int phi(t - a_c) prod_{c' != c} Phi(t - a_c') dt with a = sqrt(gamma) Z,
    which costs O(C) per grid point instead of O(C^2) per Gauss-Hermite node. With ``n_points``
    each sample is then counted on n points: multinomial(n, f) / n (eq. ``igb-eq-finite-n``).
    """
    g = float(_gamma(gamma))
    n_classes = check_int("n_classes", n_classes, 2)
    n_samples = check_int("n_samples", n_samples, 1)
    seed = check_seed(seed)
    n = _n_points(n_points)
    a = math.sqrt(g) * np.random.default_rng(seed).standard_normal((n_samples, n_classes))
    out = np.empty_like(a)
    chunk = max(1, 2**16 // n_classes)  # bounds the (samples, classes, grid) arrays
    for start in range(0, n_samples, chunk):
        a_chunk = a[start : start + chunk]
        # The trapezoid rule on a uniform grid is spectrally accurate for this smooth,
        # Gaussian-tailed integrand (step 0.25 is exact to 1e-15); the grid reaches 9 standard
        # deviations beyond the extreme means.
        t = np.arange(a_chunk.min() - 9.0, a_chunk.max() + 9.0, _STEP_T)
        d = t - a_chunk[:, :, None]  # (samples, classes, grid)
        log_cdf = special.log_ndtr(d)
        log_all = log_cdf.sum(axis=1, keepdims=True)  # log prod over every class
        log_pdf = -0.5 * d * d - 0.5 * math.log(2.0 * math.pi)
        out[start : start + chunk] = np.exp(log_pdf - log_cdf + log_all).sum(axis=2) * _STEP_T
    if n is None:
        return out
    # Counting on n points: a second, independent stream, so the population fractions above do
    # not depend on whether they are counted.
    counts = np.random.default_rng([seed, 1]).multinomial(n, out / out.sum(axis=1, keepdims=True))
    return counts / n


def expected_fmax(
    gamma: float, n_classes: int = 2, n_samples: int = 10_000, seed: int = 0, n_points: int | None = None
) -> float:
    """E[f_max] over initialisations (Francazi et al. 2024; chapter eq. ``igb-eq-fmax``):
    1/2 + arctan(sqrt(gamma)) / pi for two classes.

    For more classes the mean of max_c f_c over :func:`class_fractions` samples (seeded).
    Neutral value: 1 / n_classes. With ``n_points`` the fractions are counted on n points (eq.
    ``igb-eq-finite-n``), which raises E[f_max]: even at gamma = 0 two classes give
    1/2 + E|f_0 - 1/2| = 1/2 + 1 / sqrt(2 pi n) to leading order. For two classes n f_0 is
    binomial given the network's population fraction p = Phi(sqrt(gamma) Z); its normal
    approximation gives E|f_0 - 1/2| as a folded-normal mean, averaged over Z by quadrature.
    """
    g = float(_gamma(gamma))
    n_classes = check_int("n_classes", n_classes, 2)
    n = _n_points(n_points)
    if n_classes > 2:
        return float(class_fractions(g, n_classes, n_samples, seed, n).max(axis=1).mean())
    if n is None:
        return 0.5 + math.atan(math.sqrt(g)) / math.pi
    # The folded mean is sharp near Z = 0 (over a width ~ 1 / sqrt(n gamma)): the Gauss-Legendre
    # rule split at 0 resolves it, where Gauss-Hermite would not.
    z, w = _normal_rule_1d()
    p = special.ndtr(math.sqrt(g) * z)
    mu, sd = p - 0.5, np.maximum(np.sqrt(p * (1.0 - p) / n), 1e-300)  # p = 0 or 1: |f_0 - 1/2| = 1/2
    t = np.clip(mu / sd, -40.0, 40.0)  # beyond 40 sd the folded mean is |mu| to double precision
    folded = sd * math.sqrt(2.0 / math.pi) * np.exp(-0.5 * t * t) + mu * (1.0 - 2.0 * special.ndtr(-t))
    return 0.5 + float(folded @ w)


# --------------------------------------------------------------------------- ReLU closed forms


def input_correlation(input_shift: float) -> float:
    """c_0 = s^2 / (1 + s^2): correlation of first-layer pre-activations for inputs N(s 1, I)
    (Francazi et al. 2024, preprocessing; chapter eq. ``igb-eq-shift``)."""
    s = check_real("input_shift", input_shift)
    return s * s / (1.0 + s * s)


def gamma_from_correlation(c) -> np.ndarray:
    """gamma = c / (1 - c): Var_W(mu) = q c and E_W[sigma^2] = q (1 - c) (Francazi et al. 2024,
    definition of gamma; chapter eq. ``igb-eq-gamma``)."""
    c = np.asarray(c, dtype=float)
    if np.any((c < 0) | (c >= 1)):
        raise ValueError("correlation c must lie in [0, 1)")
    return c / (1.0 - c)


def relu_correlation_map(c) -> np.ndarray:
    """One He-initialised ReLU layer: c' = (sqrt(1 - c^2) + (pi - arccos c) c) / pi (arc-cosine
    kernel; Francazi et al. 2024, depth; chapter eq. ``igb-eq-relu-map``)."""
    c = np.asarray(c, dtype=float)
    if np.any((c < -1) | (c > 1)):
        raise ValueError("correlation c must lie in [-1, 1]")
    return (np.sqrt(1.0 - c * c) + (math.pi - np.arccos(c)) * c) / math.pi


def relu_gammas(depth: int, input_shift: float = 0.0) -> np.ndarray:
    """gamma_1..gamma_depth of ReLU networks by the closed-form recursion from c_0 = s^2/(1+s^2)
    (Francazi et al. 2024, depth; chapter eqs. ``igb-eq-shift`` and ``igb-eq-relu-map``).

    For s = 0: 0.467 (= 1/(pi - 1)), 0.975, 1.531, ... growing with depth.
    """
    depth = check_int("depth", depth, 1)
    c = input_correlation(input_shift)
    out = []
    for _ in range(depth):
        c = float(relu_correlation_map(c))
        out.append(c / (1.0 - c))
    return np.array(out)


# --------------------------------------------------------------------------- quadrature


def _normal_rule_1d() -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with sum w f(z) = E f(z), z ~ N(0, 1), split at the kink z = 0."""
    x, w = np.polynomial.legendre.leggauss(_N_1D)
    half = 0.5 * _L_1D * (x + 1.0)
    z = np.concatenate([-half[::-1], half])
    w = np.concatenate([w[::-1], w]) * 0.5 * _L_1D
    return z, w * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _expect_1d(fn, q) -> np.ndarray:
    """E fn(u), u ~ N(0, q), vectorised over an array of variances q."""
    z, w = _normal_rule_1d()
    q = np.asarray(q, dtype=float)
    return fn(np.sqrt(q)[..., None] * z) @ w


def _max_moments(activation: str, q: float, k: int) -> tuple[float, float]:
    """E g and E g^2 for g = phi(sqrt(q) max(z_1..z_k)), z_i iid N(0, 1); max has density k Phi^(k-1) phi."""
    z, w = _normal_rule_1d()
    w = w * k * special.ndtr(z) ** (k - 1)
    g = activation_fn(activation, q)(math.sqrt(q) * z)
    return float(g @ w), float((g * g) @ w)


def pair_expectation(fn, q1, q2, c, n_angle: int = _N_ANGLE, n_radius: int = _N_RADIUS) -> np.ndarray:
    """E fn(u, v) for centred bivariate normal (u, v): variances q1, q2, correlation c (vectorised).

    The general integrator behind every layer map (Francazi et al. 2024, mean-field layer map).
    Polar coordinates: u = sqrt(q1) r cos(t), v = sqrt(q2) r cos(t - a) with a = arccos(c). The
    activations here are smooth except where u = 0 or v = 0, i.e. on four rays t = +-pi/2,
    a +- pi/2; Gauss-Legendre on the four angular segments between them and in r on [0, 10]
    then converges spectrally, where Gauss-Hermite in (u, v) converges only like 1/n for ReLU.
    """
    q1, q2, c = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (q1, q2, c)))
    if np.any(q1 < 0) or np.any(q2 < 0) or np.any(np.abs(c) > 1):
        raise ValueError("need variances q1, q2 >= 0 and a correlation c in [-1, 1]")
    return _pair_expectation_angle(fn, q1, q2, np.arccos(c), n_angle, n_radius)


def _pair_expectation_angle(fn, q1, q2, a, n_angle, n_radius) -> np.ndarray:
    x, wx = np.polynomial.legendre.leggauss(n_angle)
    x, wx = 0.5 * (x + 1.0), 0.5 * wx  # on [0, 1]
    a = np.asarray(a, dtype=float)[..., None]
    lengths = np.concatenate([a, math.pi - a, a, math.pi - a], axis=-1)  # four segments
    starts = -0.5 * math.pi + np.concatenate([0.0 * a, a, math.pi + 0.0 * a, math.pi + a], axis=-1)
    theta = (starts[..., :, None] + lengths[..., :, None] * x).reshape(*a.shape[:-1], -1)
    w_theta = (lengths[..., :, None] * wx).reshape(theta.shape)
    r, wr = np.polynomial.legendre.leggauss(n_radius)
    r = 0.5 * _R_MAX * (r + 1.0)
    wr = 0.5 * _R_MAX * wr * r * np.exp(-0.5 * r * r) / (2.0 * math.pi)
    s1 = np.sqrt(q1)[..., None, None]
    s2 = np.sqrt(q2)[..., None, None]
    u = s1 * np.cos(theta)[..., None] * r
    v = s2 * np.cos(theta - a)[..., None] * r
    return np.einsum("...tr,...t,r->...", fn(u, v), w_theta, wr)


# --------------------------------------------------------------------------- general layer map


def pooling_gamma(k: int, activation: str = "relu") -> float:
    """gamma_k = M^2 / (S - M^2) after max-pooling groups of k units (Francazi et al. 2024,
    max-pooling; chapter eq. ``igb-eq-pooling``).

    M and S are the first two moments of max(0, z_1..z_k) (relu) or max(z_1..z_k) (linear),
    z_i iid N(0, 1): one hidden layer of width N k pooled to N, then the linear readout, on
    centred data. relu: k = 1, 2, 4 give 0.467, 1.042, 2.429; linear: k = 1, 2, 4 give 0,
    0.467, 2.155: pooling alone makes a linear network biased.
    """
    k = check_int("k", k, 1)
    if activation not in ("relu", "linear"):
        raise ValueError(
            f"activation must be relu or linear (scale-free), got {activation!r}; "
            "use gammas(..., pool_k=k) for the others"
        )
    m, s = _max_moments(activation, 1.0, k)
    return m * m / (s - m * m)


def _layer_map(activation: str, q: float, one_minus_c: float, pool_k: int) -> tuple[float, float, float]:
    """One He layer (weights N(0, 2 / fan_in)) after pre-activations of variance q, correlation c.

    Returns (q', gamma', 1 - c') of the next pre-activations. gamma' = 2 E[phi phi'] /
    E[(phi - phi')^2] is computed from the difference directly, so a correlation near 1 (deep or
    sigmoid networks) loses no precision. ``pool_k > 1`` needs c = 0 (:func:`_check_pooling`).
    """
    phi = activation_fn(activation, q)
    if pool_k > 1:
        m, s = _max_moments(activation, q, pool_k)
        total, between = 2.0 * s, 2.0 * m * m
        within = total - between
    else:
        total = 2.0 * float(_expect_1d(lambda u: phi(u) ** 2, q))
        # 1 - c = 2 sin^2(a / 2) gives the angle a = arccos(c) without cancellation.
        a = 2.0 * math.asin(min(1.0, math.sqrt(0.5 * one_minus_c)))
        between = 2.0 * float(
            _pair_expectation_angle(lambda u, v: phi(u) * phi(v), q, q, a, _N_ANGLE, _N_RADIUS)
        )
        within = float(
            _pair_expectation_angle(lambda u, v: (phi(u) - phi(v)) ** 2, q, q, a, _N_ANGLE, _N_RADIUS)
        )
    return total, between / within, within / total


def _second_moment(phi, q):
    """2 E[phi(u)^2], u ~ N(0, q) (vectorised over q): the He layer's next variance."""
    return 2.0 * _expect_1d(lambda u: phi(u) ** 2, q)


def layer_variances(activation: str, depth: int, q0: float, pool_k: int = 1) -> np.ndarray:
    """Mean-field variances q_0..q_{depth-1} of the pre-activations of hidden layers 1..depth
    (Francazi et al. 2024, mean field; chapter eq. ``igb-eq-layer-map``).

    q_{l+1} = 2 E[phi(u)^2], u ~ N(0, q_l) (He init); after a max-pooled first layer,
    q_1 = 2 E[max_i phi(u_i)^2]. The simulation centres ``centered_relu`` with these.
    """
    check_choice("activation", activation, ACTIVATIONS)
    depth = check_int("depth", depth, 1)
    pool_k = _check_pooling(activation, pool_k)
    q0 = check_real("q0", q0, 0.0, low_open=True)
    qs = [q0]
    for layer in range(depth - 1):
        if layer == 0 and pool_k > 1:
            qs.append(2.0 * _max_moments(activation, qs[-1], pool_k)[1])
        else:
            qs.append(float(_second_moment(activation_fn(activation, qs[-1]), qs[-1])))
    return np.array(qs)


def gammas(activation: str, depth: int, input_shift: float = 0.0, pool_k: int = 1) -> np.ndarray:
    """gamma_1..gamma_depth by numerical Gaussian integration of the layer map (Francazi et al.
    2024, mean field and depth; chapter eq. ``igb-eq-layer-map``).

    Inputs N(s 1, I): first-layer pre-activations have q_0 = 2 (1 + s^2), c_0 = s^2 / (1 + s^2);
    each He layer maps (q, c) to q' = 2 E phi(u)^2, q' c' = 2 E phi(u) phi(v). Odd activations
    and centred ReLU give 0 on centred data, linear gives s^2 at every depth, ReLU agrees with
    :func:`relu_gammas`. ``pool_k > 1`` max-pools the first hidden layer (centred data only:
    :func:`earlybias.igb.pooling_problem`).
    """
    check_choice("activation", activation, ACTIVATIONS)
    depth = check_int("depth", depth, 1)
    s = check_real("input_shift", input_shift)
    pool_k = _check_pooling(activation, pool_k, s)
    q, one_minus_c = 2.0 * (1.0 + s * s), 1.0 / (1.0 + s * s)
    out = []
    for layer in range(depth):
        q, gamma, one_minus_c = _layer_map(activation, q, one_minus_c, pool_k if layer == 0 else 1)
        out.append(gamma)
    return np.array(out)


# --------------------------------------------------------------------------- real data


def _pair_products(phi, q1, q2, rho) -> np.ndarray:
    """2 E[phi(u) phi(v)] for every pair (variances q1, q2, correlation rho), in chunks."""
    step = 4096
    return np.concatenate(
        [
            2.0
            * pair_expectation(
                lambda u, v: phi(u) * phi(v),
                q1[i : i + step],
                q2[i : i + step],
                rho[i : i + step],
                _KERNEL_N_ANGLE,
                _KERNEL_N_RADIUS,
            )
            for i in range(0, rho.size, step)
        ]
    )


def finite_n_gamma(gamma: float, n_points: int) -> float:
    """gamma of a network counted on n points when its population value is ``gamma`` (chapter eq.
    ``igb-eq-finite-n``): gamma + (1 + gamma) / (n - 1).

    A node's data-mean over n points is itself a sample mean, which varies between
    initialisations by E[sigma^2] / n even without IGB. Exactly: with D the mean of K(x, x) and
    O the mean over pairs x != x' of the output kernel, Var_W(mu) = D / n + (1 - 1/n) O and
    E_W[sigma^2] = (1 - 1/n)(D - O), whose ratio is the formula with gamma = O / (D - O).
    """
    g = float(_gamma(gamma))
    n = check_int("n_points", n_points, 2)
    return g + (1.0 + g) / (n - 1)


def kernel_gamma(X, activation: str, depth: int) -> float:
    """Infinite-width prediction of gamma for the data set X (Francazi et al. 2024, beyond Gaussian
    inputs; chapter eq. ``igb-eq-kernel``).

    K_0(x, x') = (2 / d) x.x' is propagated pair by pair through ``depth`` He layers (arc-cosine
    kernel for ReLU, doubling for linear, :func:`pair_expectation` otherwise), then gamma =
    O / (D - O) with O the mean of K_L over pairs x != x' and D its mean over x = x': the data set's
    population value. A network evaluated on n points has :func:`finite_n_gamma` of it. Cost
    grows with n^2: pass a few hundred points for activations without a closed form.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be a 2-d array with at least 2 rows, got shape {X.shape}")
    check_choice("activation", activation, ACTIVATIONS)
    depth = check_int("depth", depth, 1)
    n, d = X.shape
    K = 2.0 / d * X @ X.T
    diag = np.diag(K).copy()
    iu = np.triu_indices(n, k=1)
    off = K[iu]
    qs = layer_variances(activation, depth, float(diag.mean()))
    for layer in range(depth):
        q1, q2 = diag[iu[0]], diag[iu[1]]
        rho = np.clip(off / np.sqrt(np.maximum(q1 * q2, 1e-300)), -1.0, 1.0)
        if activation == "relu":
            a = np.arccos(rho)
            off = np.sqrt(q1 * q2) / math.pi * (np.sin(a) + (math.pi - a) * rho)
        elif activation == "linear":
            off, diag = 2.0 * off, 2.0 * diag
        else:
            phi = activation_fn(activation, qs[layer])
            off, diag = _pair_products(phi, q1, q2, rho), _second_moment(phi, diag)
    mean_off = float(off.mean())
    return mean_off / (float(diag.mean()) - mean_off)
