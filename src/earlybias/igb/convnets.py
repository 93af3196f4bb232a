"""Many untrained convolutional networks on images at once: the paper's first experiment.

Francazi et al. (2024) open with an untrained convolutional network on images: with ReLU and
max-pooling it sends most images to one class, with tanh it does not. The authors' code
(EmanueleFrancazi/IGB-Algorithms, ``Initialization/CodeBlocks.py``, class ``ConvNet``) builds
it as two blocks, convolution 5x5 (padding 2) -> activation -> pooling, then a linear readout;
with IGB on, ReLU and max-pooling (2x2, then 4x4), with IGB off, tanh and average pooling of
the same sizes. On 8x8 digits the same blocks shrink the image 8x8 -> 4x4 -> 1x1, so the second
pooling is global, as on CIFAR-10's 32x32 after its own strides.

:func:`simulate_conv` runs ``n_inits`` such networks as one tensor program: the networks sit
side by side in the channel dimension, the first convolution (whose input all networks share)
is one ordinary convolution with every network's filters, the second a grouped convolution with
one group per network, and the readout one batched matmul. There is no Python loop over
networks; :func:`simulate_conv_loop` (``engine="loop"``) is the same computation one ``torch.nn``
network at a time, the reference the tests compare it with. He initialisation (weights
N(0, 2 / fan_in)), no biases, as in :mod:`earlybias.igb.networks`; initialisations are drawn in
seeded blocks (:mod:`earlybias.igb.blocks`), so a network does not depend on how many others run
with it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from earlybias.igb.blocks import block_generator, block_runner, blocks, check_run
from earlybias.igb.networks import Simulation, _Moments
from earlybias.validation import check_choice, check_int

__all__ = ["POOLINGS", "CONV_ACTIVATIONS", "simulate_conv", "simulate_conv_loop", "conv_shapes"]

POOLINGS = ("max", "avg")
CONV_ACTIVATIONS = ("relu", "tanh", "linear")
KERNEL, POOL_SIZES, SIDE = 5, (2, 4), 8  # 5x5 filters; 2x2 then global 4x4 pooling on 8x8 images
_BLOCK = 32  # networks per block of random draws and per batched program
_CHUNK_BUDGET = 2**22  # numbers in one layer's activations of one block on one chunk of images

_ACT = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda z: z}
_POOL = {"max": F.max_pool2d, "avg": F.avg_pool2d}


def conv_shapes(channels: tuple[int, int], n_classes: int) -> list[tuple[int, ...]]:
    """Weight shapes of one network: conv1 (c1, 1, 5, 5), conv2 (c2, c1, 5, 5), readout (C, c2)."""
    c1, c2 = channels
    return [(c1, 1, KERNEL, KERNEL), (c2, c1, KERNEL, KERNEL), (n_classes, c2)]


def _check(images, activation, pooling, channels, n_classes, n_inits, seed, dtype):
    X = torch.as_tensor(np.asarray(images), dtype=dtype)
    if X.ndim != 3 or X.shape[1:] != (SIDE, SIDE) or X.shape[0] < 1:
        raise ValueError(f"images must have shape (n_points, {SIDE}, {SIDE}), got {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError("images must be finite")
    check_choice("activation", activation, CONV_ACTIVATIONS)
    check_choice("pooling", pooling, POOLINGS)
    if len(channels) != 2:
        raise ValueError(f"channels must be two integers (c1, c2), got {channels!r}")
    channels = (check_int("channels[0]", channels[0], 1), check_int("channels[1]", channels[1], 1))
    check_int("n_classes", n_classes, 2)
    check_run(n_inits, seed, dtype)
    return X[:, None], channels


def _block_weights(shapes, seed: int, b: int, dtype) -> list[torch.Tensor]:
    """He-initialised weights of the ``_BLOCK`` networks of block b, each (block, *shape)."""
    gen = block_generator(seed, b)
    return [
        torch.randn(_BLOCK, *shape, generator=gen, dtype=dtype) * math.sqrt(2.0 / math.prod(shape[1:]))
        for shape in shapes
    ]


def _forward(x, weights, activation: str, pooling: str) -> torch.Tensor:
    """Outputs (networks, images, classes) of a block of networks on images x (n, 1, 8, 8).

    The first convolution, whose input every network shares, is one matmul of the images' 5x5
    patches with all the networks' filters; its result comes out channels-last, which the pooling
    and the grouped second convolution read fastest. Max-pooling commutes with the monotone
    activations, so it runs first, on four times fewer numbers.
    """
    w1, w2, w3 = weights
    M, c1, c2, n = w1.shape[0], w1.shape[1], w2.shape[1], x.shape[0]
    act, pool = _ACT[activation], _POOL[pooling]
    patches = F.unfold(x, KERNEL, padding=KERNEL // 2).transpose(1, 2)  # (n, 64, 25)
    h = (patches @ w1.reshape(M * c1, -1).T).view(n, SIDE, SIDE, M * c1).permute(0, 3, 1, 2)
    h = act(pool(h, POOL_SIZES[0])) if pooling == "max" else pool(act(h), POOL_SIZES[0])  # (n, M c1, 4, 4)
    h = F.conv2d(h, w2.flatten(0, 1), padding=KERNEL // 2, groups=M)  # each network its own group
    h = act(h.amax(dim=(2, 3))) if pooling == "max" else act(h).mean(dim=(2, 3))  # global 4x4 pooling
    return h.view(n, M, c2).transpose(0, 1) @ w3.transpose(1, 2)


def simulate_conv(
    images,
    *,
    n_inits: int = 500,
    seed: int = 0,
    channels: tuple[int, int] = (16, 32),
    activation: str = "relu",
    pooling: str = "max",
    n_classes: int = 2,
    dtype: torch.dtype = torch.float32,
    engine: str = "batched",
    progress: bool = False,
) -> Simulation:
    """Classify ``images`` (n_points, 8, 8) with ``n_inits`` untrained convolutional networks,
    batched over initialisations (module docstring; Francazi et al. 2024, first figure).

    Returns a :class:`Simulation`: data-mean, data-variance and class fractions of every output
    node of every network. ``engine="loop"`` runs the same networks one ``torch.nn`` module at a
    time instead (the naive reference, :func:`simulate_conv_loop`). Deterministic for a given seed.
    """
    X, channels = _check(images, activation, pooling, channels, n_classes, n_inits, seed, dtype)
    run_block = block_runner(engine, _batched_block, _loop_block)
    shapes = conv_shapes(channels, n_classes)
    rows = []
    with torch.no_grad():
        for b, needed in blocks(n_inits, _BLOCK, progress, f"conv {activation}/{pooling}-pool networks"):
            weights = [w[:needed] for w in _block_weights(shapes, seed, b, dtype)]
            rows.append(run_block(X, weights, activation, pooling, n_classes))
    mean, var, counts = (np.concatenate([r[k] for r in rows]) for k in range(3))
    return Simulation(mean, var, counts / X.shape[0])


def simulate_conv_loop(images, **kwargs) -> Simulation:
    """The naive reference for :func:`simulate_conv`: the same networks, one ``nn.Module`` at a
    time on all images, ``simulate_conv(images, engine="loop", **kwargs)``. For tests and
    benchmarks."""
    return simulate_conv(images, engine="loop", **kwargs)


def _batched_block(X, weights, activation: str, pooling: str, n_classes: int) -> tuple:
    """(mean, var, counts) of the outputs of a block of networks, each (networks, n_classes), as
    one program on chunks of images."""
    chunk = max(1, _CHUNK_BUDGET // (_BLOCK * weights[0].shape[1] * SIDE * SIDE))
    moments = _Moments()
    counts = torch.zeros(weights[0].shape[0], n_classes, dtype=torch.float64)
    for start in range(0, X.shape[0], chunk):
        out = _forward(X[start : start + chunk], weights, activation, pooling)
        moments.add(out)
        counts += F.one_hot(out.argmax(dim=-1), n_classes).sum(dim=1)
    return (*moments.result(), counts.numpy())


class _ConvNet(nn.Module):
    """One network of :func:`simulate_conv` as a plain ``torch.nn`` module (the reference)."""

    def __init__(self, weights, activation: str, pooling: str):
        super().__init__()
        w1, w2, w3 = weights
        self.conv1 = nn.Conv2d(1, w1.shape[0], KERNEL, padding=KERNEL // 2, bias=False)
        self.conv2 = nn.Conv2d(w1.shape[0], w2.shape[0], KERNEL, padding=KERNEL // 2, bias=False)
        self.readout = nn.Linear(w2.shape[0], w3.shape[0], bias=False)
        for layer, w in zip((self.conv1, self.conv2, self.readout), weights):
            layer.weight.data = w.clone()
        self.act, self.pool = _ACT[activation], _POOL[pooling]

    def forward(self, x):
        h = self.pool(self.act(self.conv1(x)), POOL_SIZES[0])
        h = self.pool(self.act(self.conv2(h)), POOL_SIZES[1])
        return self.readout(h.flatten(1))


def _loop_block(X, weights, activation: str, pooling: str, n_classes: int) -> tuple:
    """(mean, var, counts) of a block of networks, one ``_ConvNet`` at a time on all images: the
    reference for :func:`_batched_block`."""
    means, variances, counts = [], [], []
    for i in range(weights[0].shape[0]):
        out = _ConvNet([w[i] for w in weights], activation, pooling).to(X.dtype)(X)
        var, mean = torch.var_mean(out, dim=0, correction=0)
        means.append(mean.double().numpy())
        variances.append(var.double().numpy())
        counts.append(torch.bincount(out.argmax(dim=1), minlength=n_classes).double().numpy())
    return np.stack(means), np.stack(variances), np.stack(counts)
