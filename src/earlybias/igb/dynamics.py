"""From initialisation to training: many networks trained at once, followed step by step.

The authors' code has a second part, ``Dynamics/IGB_on_MLP.py`` (EmanueleFrancazi/IGB-Algorithms),
that trains multilayer perceptrons with IGB (ReLU) and without it (tanh), reorders the output
nodes so that the class a network favours at initialisation comes first, and logs per-class
accuracy and the guessed fractions at logarithmically spaced steps. This module does the same
for ``n_inits`` networks as one tensor program: every weight has a leading network dimension,
all networks see the same mini-batches, and a hand-written backward pass through batched
matmuls gives every network its own gradient (the networks share no parameter) and updates it in
place, so one SGD step updates all of them. :func:`train_loop` (``engine="loop"``) is the same
training one ``torch.nn`` network at a time with autograd and ``torch.optim.SGD``: an independent
reference, which the tests and ``benchmarks/igb_dynamics.py`` compare with the engine. The two
share the networks' start, the mini-batches and the schedule of updates and evaluations, not the
update itself.

Networks: ``depth`` hidden layers of ``width`` units with the activation, a linear readout;
He-initialised weights (N(0, 2 / fan_in)) and zero biases, so at step 0 they are the untrained
networks of the rest of the chapter; biases train like weights, as in the authors' code.
Randomness: weights come in seeded blocks (:mod:`earlybias.igb.blocks`), so a network's start
does not depend on how many others train with it; the order of the mini-batches comes from
``seed`` alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from earlybias.igb.blocks import block_generator, block_runner, blocks, check_run
from earlybias.igb.networks import torch_activation
from earlybias.validation import check_choice, check_int, check_labels, check_real

__all__ = ["TRAIN_ACTIVATIONS", "Trajectories", "eval_steps", "train", "train_loop"]

TRAIN_ACTIVATIONS = ("relu", "tanh", "linear", "gelu", "sigmoid")
_BLOCK = 128  # networks per batched program


@dataclass
class Trajectories:
    """What :func:`train` records; arrays have one row per network and one column per step of
    ``steps`` (0 is the initialisation). The *favoured* class of a network is the one it assigns
    most training images to at initialisation; ``other`` is the mean over the remaining classes.

    ``share_favoured``: share of the test images predicted as the favoured class;
    ``acc_favoured`` / ``acc_other``: test accuracy on images of the favoured / other classes;
    ``accuracy``: test accuracy; ``init_mean`` / ``init_var``: data-mean and data-variance of
    every output node over the training images at initialisation (for gamma).
    """

    steps: np.ndarray
    favoured: np.ndarray
    share_favoured: np.ndarray
    acc_favoured: np.ndarray
    acc_other: np.ndarray
    accuracy: np.ndarray
    init_mean: np.ndarray
    init_var: np.ndarray


def eval_steps(n_steps: int, n_evals: int) -> np.ndarray:
    """Steps at which to evaluate: 0, 1, 2, 3, then about ``n_evals`` logarithmically spaced
    steps up to ``n_steps`` (the authors' ``ValidTimes``: the first steps move fastest)."""
    n_steps, n_evals = check_int("n_steps", n_steps, 1), check_int("n_evals", n_evals, 2)
    log = np.rint(np.logspace(0, math.log10(n_steps), n_evals)).astype(int)
    return np.unique(np.concatenate([[0, 1, 2, 3], log[log <= n_steps], [n_steps]]))


def _check(X_train, y_train, X_test, y_test, activation, depth, width, n_steps, batch_size, lr):
    X_train, X_test = (np.asarray(x, dtype=float) for x in (X_train, X_test))
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError(
            "X_train and X_test must be 2-d arrays with the same number of features, "
            f"got shapes {X_train.shape} and {X_test.shape}"
        )
    y_train = check_labels("y_train", y_train, len(X_train), at_least_two=True)
    n_classes = int(max(y_train.max(), np.max(y_test)) + 1)
    y_test = check_labels("y_test", y_test, len(X_test), n_classes=n_classes)
    check_choice("activation", activation, TRAIN_ACTIVATIONS)
    check_int("depth", depth, 1)
    check_int("width", width, 1)
    check_int("n_steps", n_steps, 1)
    check_int("batch_size", batch_size, 1, len(X_train))
    check_real("lr", lr, 0.0)
    return X_train, y_train, X_test, y_test, n_classes


def _shapes(dim: int, depth: int, width: int, n_classes: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every layer, readout last."""
    return [(dim, width)] + [(width, width)] * (depth - 1) + [(width, n_classes)]


def _init_block(shapes, seed: int, b: int, size: int, dtype) -> list[torch.Tensor]:
    """Weights (size, fan_in, fan_out), He-scaled, then zero biases (size, 1, fan_out), for every
    layer of the networks of block b; the whole block is drawn so that its networks do not
    depend on ``size``."""
    gen = block_generator(seed, b)
    weights = [
        torch.randn(_BLOCK, fan_in, fan_out, generator=gen, dtype=dtype)[:size] * math.sqrt(2.0 / fan_in)
        for fan_in, fan_out in shapes
    ]
    return weights + [torch.zeros(size, 1, fan_out, dtype=dtype) for _, fan_out in shapes]


def _batches(seed: int, n_train: int, n_steps: int, batch_size: int) -> np.ndarray:
    """(n_steps, batch_size) indices of the training images, epoch by epoch, shared by all networks."""
    rng = np.random.default_rng([seed, 1])
    per_epoch = n_train // batch_size
    epochs = math.ceil(n_steps / per_epoch)
    order = np.stack([rng.permutation(n_train)[: per_epoch * batch_size] for _ in range(epochs)])
    return order.reshape(-1, batch_size)[:n_steps]


def _first_layer(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x (points, dim), shared by all networks, through every network's first layer w (networks,
    dim, width) and b: one matrix product with all the networks' weights side by side."""
    n_nets, dim, width = w.shape
    z = x @ w.permute(1, 0, 2).reshape(dim, n_nets * width)
    return z.view(x.shape[0], n_nets, width).transpose(0, 1) + b  # (networks, points, width)


def _forward(params: list[torch.Tensor], x: torch.Tensor, phi) -> torch.Tensor:
    """Logits (networks, points, classes) of every network on the shared inputs x (points, dim)."""
    n_layers = len(params) // 2
    h = _first_layer(x, params[0], params[n_layers])
    for layer in range(1, n_layers):
        h = torch.baddbmm(params[n_layers + layer], phi(h), params[layer])
    return h


def _record(
    logits: torch.Tensor, y: torch.Tensor, favoured: torch.Tensor, n_classes: int
) -> list[np.ndarray]:
    """share_favoured, acc_favoured, acc_other, accuracy of every network from its test logits."""
    pred = logits.argmax(dim=-1)  # (networks, points)
    correct = (pred == y).double()
    onehot = F.one_hot(y, n_classes).double()  # (points, classes)
    per_class = (correct @ onehot) / onehot.sum(dim=0)  # (networks, classes)
    fav = F.one_hot(favoured, n_classes).bool()
    acc_fav = per_class[fav]
    acc_other = per_class.masked_fill(fav, 0.0).sum(dim=1) / (n_classes - 1)
    share = (pred == favoured[:, None]).double().mean(dim=1)
    return [t.numpy() for t in (share, acc_fav, acc_other, correct.mean(dim=1))]


def _derivative(activation: str):
    """phi'(z) as a function of (z, phi(z)), for the hand-written backward pass."""
    if activation == "relu":
        return lambda z, h: z > 0  # a mask: multiplying by it zeroes the negative side
    if activation == "tanh":
        return lambda z, h: 1.0 - h * h
    if activation == "linear":
        return lambda z, h: torch.ones_like(z)
    if activation == "sigmoid":
        return lambda z, h: h * (1.0 - h)
    # gelu: d/dz z Phi(z) = Phi(z) + z phi(z)
    return lambda z, h: torch.special.ndtr(z) + z * torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _sgd_step(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor, phi, dphi, lr: float) -> None:
    """One SGD step of every network on the shared mini-batch (x, y), backpropagated by hand.

    Each network minimises its own mean cross-entropy; the networks share no parameter, so the
    gradients are the per-network ones. The weight update is accumulated in place by one batched
    matmul per layer (W <- W - lr h^T delta), with no graph and no gradient tensors kept.
    """
    n_layers = len(params) // 2
    pre = [_first_layer(x, params[0], params[n_layers])]
    inputs = [x]
    for layer in range(1, n_layers):
        inputs.append(phi(pre[-1]))
        pre.append(torch.baddbmm(params[n_layers + layer], inputs[-1], params[layer]))
    # d(mean cross-entropy) / d(logits) = (softmax - one-hot) / batch size, for every network.
    delta = torch.softmax(pre[-1], dim=-1)
    delta -= F.one_hot(y, delta.shape[-1]).to(delta.dtype)
    delta /= x.shape[0]
    for layer in range(n_layers - 1, -1, -1):
        w, b, h_in = params[layer], params[n_layers + layer], inputs[layer]
        back = torch.bmm(delta, w.transpose(1, 2)) if layer > 0 else None  # before w changes
        if layer == 0:  # the shared inputs of the first layer: one matrix product for all networks
            grad = h_in.T @ delta.transpose(0, 1).reshape(h_in.shape[0], -1)  # (dim, networks * width)
            w.sub_(grad.view(w.shape[1], w.shape[0], w.shape[2]).transpose(0, 1), alpha=lr)
        else:
            w.baddbmm_(h_in.transpose(1, 2), delta, alpha=-lr)
        b.sub_(lr * delta.sum(dim=1, keepdim=True))
        if back is not None:
            delta = back * dphi(pre[layer - 1], inputs[layer])


def _follow(steps: np.ndarray, batches: np.ndarray, record, update) -> list:
    """The schedule of a training run: ``record()`` at every step of ``steps`` (before that step's
    update; step 0 is the initialisation), ``update(idx)`` with each step's mini-batch indices
    (``batches``) up to the last step of ``steps``. Returns the records in order."""
    records = []
    for step in range(steps[-1] + 1):
        if step in steps:
            records.append(record())
        if step == steps[-1]:
            break
        update(torch.from_numpy(batches[step]))
    return records


def _batched_block(params, data, activation, steps, batches, lr, n_classes) -> tuple:
    """Train a block of networks (``params`` from :func:`_init_block`) as one program: their
    favoured classes, the four recorded fields (networks, evaluations), and the data-mean and
    data-variance of their outputs on the training images at initialisation."""
    X_train, y_train, X_test, y_test = data
    phi, dphi = torch_activation(activation), _derivative(activation)
    with torch.no_grad():
        init = _forward(params, X_train, phi)
        var, mean = torch.var_mean(init, dim=1, correction=0)
        favoured = F.one_hot(init.argmax(dim=-1), n_classes).sum(dim=1).argmax(dim=-1)
        records = _follow(
            steps,
            batches,
            lambda: _record(_forward(params, X_test, phi), y_test, favoured, n_classes),
            lambda idx: _sgd_step(params, X_train[idx], y_train[idx], phi, dphi, lr),
        )
    fields = [np.stack([r[k] for r in records], axis=1) for k in range(4)]
    return favoured.numpy(), fields, mean.double().numpy(), var.double().numpy()


class _Activation(nn.Module):
    def __init__(self, phi):
        super().__init__()
        self.phi = phi

    def forward(self, x):
        return self.phi(x)


def make_module(params: list[torch.Tensor], activation: str) -> nn.Sequential:
    """One network of a block as a ``torch.nn.Sequential`` (weights (fan_in, fan_out) and biases
    as :func:`train` lays them out, without the network dimension)."""
    n_layers = len(params) // 2
    layers = []
    for layer in range(n_layers):
        w, b = params[layer], params[n_layers + layer]
        linear = nn.Linear(w.shape[0], w.shape[1]).to(w.dtype)
        linear.weight.data, linear.bias.data = w.T.clone(), b.reshape(-1).clone()
        layers.append(linear)
        if layer < n_layers - 1:
            layers.append(_Activation(torch_activation(activation)))
    return nn.Sequential(*layers)


def _train_module(params, data, activation, steps, batches, lr, n_classes) -> tuple:
    """One network (``params`` without the network dimension) as a ``torch.nn`` module trained by
    autograd and ``torch.optim.SGD``: what :func:`_batched_block` computes for it."""
    X_train, y_train, X_test, y_test = data
    net = make_module(params, activation)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    with torch.no_grad():
        init = net(X_train)
        var, mean = torch.var_mean(init, dim=0, correction=0)
        favoured = torch.bincount(init.argmax(dim=1), minlength=n_classes).argmax().reshape(1)

    def record():
        with torch.no_grad():
            return _record(net(X_test)[None], y_test, favoured, n_classes)

    def update(idx):
        loss = F.cross_entropy(net(X_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    records = _follow(steps, batches, record, update)
    fields = [np.concatenate([r[k] for r in records]) for k in range(4)]
    return int(favoured), fields, mean.double().numpy(), var.double().numpy()


def _loop_block(params, data, activation, steps, batches, lr, n_classes) -> tuple:
    """:func:`_batched_block`'s result, one network at a time (:func:`_train_module`): the reference."""
    nets = [
        _train_module([p[i] for p in params], data, activation, steps, batches, lr, n_classes)
        for i in range(params[0].shape[0])
    ]
    fields = [np.stack([n[1][k] for n in nets]) for k in range(4)]
    return (
        np.array([n[0] for n in nets]),
        fields,
        np.stack([n[2] for n in nets]),
        np.stack([n[3] for n in nets]),
    )


def train(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    n_steps: int = 300,
    batch_size: int = 64,
    lr: float = 0.05,
    n_evals: int = 30,
    n_inits: int = 128,
    seed: int = 0,
    depth: int = 3,
    width: int = 64,
    activation: str = "relu",
    dtype: torch.dtype = torch.float32,
    engine: str = "batched",
    progress: bool = False,
) -> Trajectories:
    """Train ``n_inits`` networks with SGD on (X_train, y_train), batched over networks, and
    evaluate them on (X_test, y_test) at :func:`eval_steps` (module docstring). ``engine="loop"``
    trains the same networks on the same batches one ``torch.nn`` network at a time with autograd
    and ``torch.optim.SGD`` instead (the independent reference, :func:`train_loop`). Deterministic
    for a given seed."""
    X_train, y_train, X_test, y_test, n_classes = _check(
        X_train, y_train, X_test, y_test, activation, depth, width, n_steps, batch_size, lr
    )
    check_run(n_inits, seed, dtype)
    run_block = block_runner(engine, _batched_block, _loop_block)
    data = (
        torch.as_tensor(X_train, dtype=dtype),
        torch.as_tensor(y_train),
        torch.as_tensor(X_test, dtype=dtype),
        torch.as_tensor(y_test),
    )
    shapes = _shapes(X_train.shape[1], depth, width, n_classes)
    steps, batches = eval_steps(n_steps, n_evals), _batches(seed, len(X_train), n_steps, batch_size)
    out = [
        run_block(_init_block(shapes, seed, b, size, dtype), data, activation, steps, batches, lr, n_classes)
        for b, size in blocks(n_inits, _BLOCK, progress, f"training {activation} networks")
    ]
    fields = [np.concatenate([o[1][k] for o in out]) for k in range(4)]
    return Trajectories(
        steps,
        np.concatenate([o[0] for o in out]),
        *fields,
        np.concatenate([o[2] for o in out]),
        np.concatenate([o[3] for o in out]),
    )


def train_loop(*args, **kwargs) -> Trajectories:
    """The naive reference for :func:`train`: the same networks, batches and steps, one
    ``torch.nn`` network and ``torch.optim.SGD`` at a time, ``train(..., engine="loop")``."""
    return train(*args, engine="loop", **kwargs)
