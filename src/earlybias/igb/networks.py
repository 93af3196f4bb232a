"""Many untrained networks at once: the simulation behind every figure of the ``igb`` chapter.

Francazi et al. (2024) measure initial guessing bias over thousands of independent
initialisations of one architecture, all classifying the same data. :func:`simulate` runs them
as one batched tensor program: the initialisations form the leading dimension of every weight
tensor and every matmul, so there is no Python loop over networks. :func:`simulate_loop`
(``engine="loop"``) is the same computation one network at a time; the benchmark and the tests
compare the two.

Architecture: ``depth`` hidden layers of ``width`` units with the activation, the first one
optionally ``width * pool_k`` units max-pooled in groups of ``pool_k``, then a linear readout to
``n_classes`` outputs. He initialisation (weights N(0, 2 / fan_in)), no biases.

Randomness: initialisations are drawn in seeded blocks (:mod:`earlybias.igb.blocks`), so a
network's weights depend only on the seed, the architecture and its index, not on ``n_inits`` or
the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from earlybias.igb import ACTIVATIONS, theory
from earlybias.igb.blocks import block_generator, block_runner, blocks, check_run
from earlybias.validation import check_choice, check_int

__all__ = ["Simulation", "simulate", "simulate_loop", "gamma_measured", "torch_activation"]

# Memory bounds, in numbers (not bytes): all weights of one block of networks (the unit of
# random draws), and one layer's activations of one group of networks on one chunk of points
# (the unit of compute, sized to stay in cache). Chunks keep at least _MIN_CHUNK points where
# they can, so that every matmul stays large enough to run at full speed.
_WEIGHT_BUDGET = 2**24
_ACTIVATION_BUDGET = 2**20
_MIN_CHUNK = 256
_MAX_BLOCK = 64


@dataclass
class Simulation:
    """What :func:`simulate` measures; arrays have one row per initialisation.

    ``mean``/``var``: data-mean and data-variance of every output node, (n_inits, n_classes).
    ``fractions``: fraction of the data that each network assigns to each class (argmax).
    ``layer_mean``/``layer_var``: per hidden layer, the data-mean and data-variance of every
    pre-activation, (n_inits, units of that layer); only with ``record_layers=True``.
    """

    mean: np.ndarray
    var: np.ndarray
    fractions: np.ndarray
    layer_mean: list[np.ndarray] | None = None
    layer_var: list[np.ndarray] | None = None


def gamma_measured(mean, var) -> float:
    """gamma = Var over inits of the node means / mean over inits of the node variances
    (Francazi et al. 2024, definition of gamma; chapter eq. ``igb-eq-gamma``).

    ``mean`` and ``var`` are (n_inits, n_nodes); the variance over initialisations is taken per
    node, then both numerator and denominator are averaged over nodes.
    """
    mean, var = np.asarray(mean, dtype=float), np.asarray(var, dtype=float)
    if mean.ndim != 2 or mean.shape != var.shape or mean.shape[0] < 2:
        raise ValueError(
            "mean and var must be arrays of the same shape (n_inits >= 2, n_nodes), "
            f"got {mean.shape} and {var.shape}"
        )
    return float(mean.var(axis=0, ddof=1).mean() / var.mean())


def torch_activation(activation: str, q: float = 1.0):
    """The activation as a torch function, the same as :func:`theory.activation_fn` (``q``: see
    there)."""
    theory.activation_fn(activation, q)  # validates the name
    if activation == "relu":
        return torch.relu
    if activation == "tanh":
        return torch.tanh
    if activation == "linear":
        return lambda z: z
    if activation == "centered_relu":
        shift = math.sqrt(q / (2.0 * math.pi))
        return lambda z: torch.relu(z) - shift
    if activation == "gelu":
        return torch.nn.functional.gelu  # exact form z * Phi(z), as in the theory
    return torch.sigmoid


# --------------------------------------------------------------------------- set-up


@dataclass(frozen=True)
class _Setup:
    X: torch.Tensor
    shapes: list[tuple[int, int]]  # (fan_out, fan_in) of every weight matrix, readout last
    activations: list  # one torch function per hidden layer
    pool_k: int
    n_classes: int
    n_inits: int
    block: int
    seed: int


def _setup(X, activation, depth, width, pool_k, n_classes, n_inits, seed, dtype) -> _Setup:
    X = torch.as_tensor(np.asarray(X), dtype=dtype)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X must be a 2-d array (n_points, dim), got shape {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError("X must be finite")
    check_choice("activation", activation, ACTIVATIONS)
    depth = check_int("depth", depth, 1)
    width = check_int("width", width, 1)
    pool_k = check_int("pool_k", pool_k, 1)
    n_classes = check_int("n_classes", n_classes, 2)
    n_inits = check_run(n_inits, seed, dtype)
    dim = X.shape[1]
    shapes = [(width * pool_k, dim)] + [(width, width)] * (depth - 1) + [(n_classes, width)]
    # centered_relu subtracts its mean under the layer's mean-field variance, computed from the
    # data's mean squared norm: q_0 = 2 mean |x|^2 / dim (theory.layer_variances).
    if activation == "centered_relu":
        q0 = 2.0 * float((X.double() ** 2).sum(dim=1).mean()) / dim
        qs = theory.layer_variances(activation, depth, q0, pool_k)
    else:
        qs = np.ones(depth)
    activations = [torch_activation(activation, float(q)) for q in qs]
    per_init = sum(a * b for a, b in shapes)
    block = max(1, min(_MAX_BLOCK, _WEIGHT_BUDGET // per_init))
    return _Setup(X, shapes, activations, pool_k, n_classes, n_inits, block, seed)


def _block_weights(setup: _Setup, b: int) -> list[torch.Tensor]:
    """He-initialised weights of every network of block b, each (block, fan_out, fan_in)."""
    gen = block_generator(setup.seed, b)
    return [
        torch.randn(setup.block, fan_out, fan_in, generator=gen, dtype=setup.X.dtype)
        * math.sqrt(2.0 / fan_in)
        for fan_out, fan_in in setup.shapes
    ]


def _linear(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """a @ w^T for every network; a batch of one network goes through a plain 2-d matmul,
    because torch's batched matmul is an order of magnitude slower on a batch of one."""
    if w.dim() == 3 and w.shape[0] == 1:
        return (a.reshape(-1, a.shape[-1]) @ w[0].T).reshape(1, -1, w.shape[1])
    return a @ w.transpose(-1, -2)


def _forward(setup: _Setup, X: torch.Tensor, weights: list[torch.Tensor]):
    """Pre-activations of every hidden layer and the outputs; weights carry a leading batch
    dimension (or none, for one network), X is shared by all networks."""
    pre = []
    h = _linear(X, weights[0])
    for layer, phi in enumerate(setup.activations):
        pre.append(h)
        a = phi(h)
        if layer == 0 and setup.pool_k > 1:
            a = a.unflatten(-1, (-1, setup.pool_k)).amax(dim=-1)
        h = _linear(a, weights[layer + 1])
    return pre, h


class _Moments:
    """Running data-mean and data-variance over chunks of points (Chan et al.'s pairwise merge),
    accumulated in float64 so that chunking does not cost precision."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, x: torch.Tensor) -> None:  # x: (..., points, nodes)
        n_new = x.shape[-2]
        var, mean = torch.var_mean(x, dim=-2, correction=0)
        mean, m2 = mean.double(), var.double() * n_new
        if self.mean is None:
            self.n, self.mean, self.m2 = n_new, mean, m2
            return
        total = self.n + n_new
        delta = mean - self.mean
        self.mean = self.mean + delta * (n_new / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * n_new / total)
        self.n = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean.numpy(), (self.m2 / self.n).numpy()


def _collect(setup: _Setup, rows: list, record_layers: bool) -> Simulation:
    """Stack per-block results (mean, var, counts, layer means, layer vars) into a Simulation."""
    mean = np.concatenate([r[0] for r in rows])
    var = np.concatenate([r[1] for r in rows])
    fractions = np.concatenate([r[2] for r in rows]) / setup.X.shape[0]
    if not record_layers:
        return Simulation(mean, var, fractions)
    n_layers = len(setup.activations)
    layer_mean = [np.concatenate([r[3][l] for r in rows]).astype(np.float32) for l in range(n_layers)]
    layer_var = [np.concatenate([r[4][l] for r in rows]).astype(np.float32) for l in range(n_layers)]
    return Simulation(mean, var, fractions, layer_mean, layer_var)


# --------------------------------------------------------------------------- engines


def simulate(
    X,
    *,
    n_inits: int = 1000,
    seed: int = 0,
    depth: int = 1,
    width: int = 512,
    activation: str = "relu",
    pool_k: int = 1,
    n_classes: int = 2,
    record_layers: bool = False,
    dtype: torch.dtype = torch.float32,
    engine: str = "batched",
    progress: bool = False,
) -> Simulation:
    """Classify the data X (n_points, dim) with ``n_inits`` independently initialised untrained
    networks, batched over initialisations (Francazi et al. 2024, experimental set-up).

    Groups of networks run as one batched matmul per layer on chunks of data points. Groups and
    chunks are sized so that one layer's activations fit in the CPU cache: on a 2-core machine
    the elementwise work on tensors larger than the cache is limited by memory bandwidth, which
    would make a batched program slower than a loop. ``engine="loop"`` runs the same networks
    one at a time on all data points instead (the naive reference, :func:`simulate_loop`).
    Deterministic for a given seed.
    """
    setup = _setup(X, activation, depth, width, pool_k, n_classes, n_inits, seed, dtype)
    run_block = block_runner(engine, _batched_block, _loop_block)
    rows = []
    with torch.no_grad():
        for b, needed in blocks(n_inits, setup.block, progress, f"{activation} networks"):
            # The whole block is drawn (determinism) but only the networks asked for are run.
            rows += run_block(setup, _block_weights(setup, b), needed, record_layers)
    return _collect(setup, rows, record_layers)


def simulate_loop(X, **kwargs) -> Simulation:
    """The naive reference for :func:`simulate`: the same networks (same seed stream), run one
    at a time on all data points, ``simulate(X, engine="loop", **kwargs)``. For tests and
    benchmarks."""
    return simulate(X, engine="loop", **kwargs)


def _batched_block(setup: _Setup, weights: list[torch.Tensor], needed: int, record_layers: bool) -> list:
    """Results of the first ``needed`` networks of a block, one row per group of networks sized
    so that a layer's activations on a chunk of points fit in the cache."""
    widest = max(fan_out for fan_out, _ in setup.shapes)
    n_points = setup.X.shape[0]
    group = max(1, min(setup.block, _ACTIVATION_BUDGET // (min(n_points, _MIN_CHUNK) * widest)))
    chunk = max(1, _ACTIVATION_BUDGET // (group * widest))
    return [
        _run_group(setup, [w[first : min(first + group, needed)] for w in weights], chunk, record_layers)
        for first in range(0, needed, group)
    ]


def _run_group(setup: _Setup, weights: list[torch.Tensor], chunk: int, record_layers: bool) -> tuple:
    """(mean, var, counts, layer means, layer vars) of one group of networks over all the data."""
    out, layers = _Moments(), [_Moments() for _ in setup.activations]
    counts = torch.zeros(weights[0].shape[0], setup.n_classes, dtype=torch.float64)
    for start in range(0, setup.X.shape[0], chunk):
        pre, h = _forward(setup, setup.X[start : start + chunk], weights)
        out.add(h)
        counts += torch.nn.functional.one_hot(h.argmax(dim=-1), setup.n_classes).sum(dim=1)
        if record_layers:
            for moments, p in zip(layers, pre):
                moments.add(p)
    stats = [m.result() for m in layers] if record_layers else []
    return (*out.result(), counts.numpy(), [s[0] for s in stats], [s[1] for s in stats])


def _loop_block(setup: _Setup, weights: list[torch.Tensor], needed: int, record_layers: bool) -> list:
    """Results of the first ``needed`` networks of a block, one row per network, each run alone
    on all the data points: the reference for :func:`_batched_block`."""
    rows = []
    for i in range(needed):
        pre, h = _forward(setup, setup.X, [w[i] for w in weights])
        var, mean = torch.var_mean(h, dim=0, correction=0)
        counts = torch.bincount(h.argmax(dim=-1), minlength=setup.n_classes).double()
        layer_stats = [torch.var_mean(p, dim=0, correction=0) for p in pre] if record_layers else []
        rows.append(
            (
                mean.double().numpy()[None],
                var.double().numpy()[None],
                counts.numpy()[None],
                [m.double().numpy()[None] for _, m in layer_stats],
                [v.double().numpy()[None] for v, _ in layer_stats],
            )
        )
    return rows
