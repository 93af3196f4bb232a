"""Training a zoo: many networks as one batched tensor program, and the two ways it replaces.

``train_batched`` (the engine), ``train_torch_func`` (what a PyTorch user would write for many
small models: ``torch.func`` ensembling) and ``train_loop`` (one ``nn.Module`` at a time) train
models ``start, ..., stop - 1`` of a ``ZooSpec`` on the same draws and return the same structure:
the two others are the references the engine is tested and benchmarked against.
Each model minimises its own mean cross-entropy with Adam; summing the models' losses leaves every
model's gradient untouched, and Adam acts elementwise, so one optimiser over the stacked
parameters is M independent optimisers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap

from earlybias.data.colored import GROUP_COLORS, paint, resolve_sigma2
from earlybias.zoo.nets import (
    N_INPUTS,
    BatchedCNN,
    forward,
    from_matrices,
    init_params,
    make_module,
    patches,
    to_matrices,
)
from earlybias.zoo.spec import ZooSpec, held_out_digits, model_data, model_rng, training_digits

__all__ = ["BLOCK", "train_batched", "train_torch_func", "train_loop"]

# Models per batched program: large enough to amortise each kernel launch and to keep both cores
# busy (on 2 cores, MLPs: 128 trains 10-20 % more models per second than 64, and 256 no more than
# 128; CNNs of width 16: 64, 128 and 256 within a few per cent of each other, 32 slower).
BLOCK = 128


def _indices(spec: ZooSpec, start: int, stop: int | None) -> range:
    stop = spec.n_models if stop is None else stop
    if not 0 <= start < stop <= spec.n_models:
        raise ValueError(
            f"start and stop must satisfy 0 <= start < stop <= n_models "
            f"({spec.n_models}), got start={start!r}, stop={stop!r}"
        )
    return range(start, stop)


def _meta(spec: ZooSpec, indices: range) -> dict[str, torch.Tensor]:
    """What a model was trained on, as per-model tensors."""
    meta = {"index": torch.tensor(list(indices), dtype=torch.int64)}
    if spec.task == "color":
        meta["level"] = torch.tensor([i % len(spec.bias) for i in indices], dtype=torch.int64)
        meta["sigma2"] = torch.tensor([resolve_sigma2(spec.level(i)) for i in indices], dtype=torch.float64)
    else:
        meta["minority_group"] = torch.tensor([spec.minority_group(i) for i in indices], dtype=torch.int64)
    return meta


def _accuracies(logits: dict[str, torch.Tensor], data: dict[str, torch.Tensor]) -> dict:
    """Per-model accuracies (M,) from logits (M, n, 10); per-group ones (M, 3) for the group task."""
    hit = {
        k: (v.argmax(-1) == data["y_train" if k == "train" else "y_test"]).float() for k, v in logits.items()
    }
    acc = {f"acc_{k}": v.mean(1) for k, v in hit.items()}
    if "g_test" in data:
        g = data["g_test"]
        acc["acc_group"] = torch.stack(
            [
                (hit["unbiased"] * (g == j)).sum(1) / (g == j).sum(1).clamp(min=1)
                for j in range(len(GROUP_COLORS))
            ],
            dim=1,
        )
    return acc


def _draws(spec: ZooSpec, indices: range) -> tuple[dict, dict]:
    """Initial parameters and data of the models, stacked along a leading model dimension.

    The draws are made model by model from each model's own generator, initialisation first, so
    model i's draws depend on (seed, i) only and not on which models it is trained with. The data
    are ``model_data``'s rows and colours plus what all models share: the ``digits`` that the rows
    index, and ``test_grey`` and ``y_test``.
    """
    inits, draws = [], []
    for i in indices:
        rng = model_rng(spec, i)
        inits.append(init_params(spec, rng))
        draws.append(model_data(spec, i, rng))
    data = _stack(draws)
    data["digits"] = torch.from_numpy(training_digits(spec))
    data["test_grey"], data["y_test"] = (torch.from_numpy(a) for a in held_out_digits(spec))
    return _stack(inits), data


def _stack(dicts: list[dict]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.stack([d[k] for d in dicts])) for k in dicts[0]}


def _images(data: dict, name: str, models=slice(None)) -> torch.Tensor:
    """Images (M, n, 192) of the set ``name`` (train, test_biased, test_unbiased) of ``models``."""
    if name.startswith("test"):
        grey = data["test_grey"]
    else:
        grey = data["digits"][data["train_rows"][models]]
    offset = data.get(f"{name}_offset")
    images = paint(grey, data[f"{name}_scale"][models], None if offset is None else offset[models])
    return images.flatten(-2)


def _planes(grey: torch.Tensor, background: bool) -> torch.Tensor:
    """``paint``'s images as planes for ``BatchedCNN``: the grey digit, and ones for a background."""
    return torch.stack([grey, torch.ones_like(grey)], 1) if background else grey.unsqueeze(1)


def _mix(data: dict, name: str) -> torch.Tensor:
    """How the planes of set ``name`` mix into colours, (M, n, J, 3): ``paint``'s scale and offset."""
    scale, offset = data[f"{name}_scale"], data.get(f"{name}_offset")
    return scale.unsqueeze(-2) if offset is None else torch.stack([scale, offset], -2)


_SETS = (("train", "train"), ("biased", "test_biased"), ("unbiased", "test_unbiased"))


def _mlp_program(spec: ZooSpec, mats: dict, data: dict):
    """The MLP's training step (autograd) and evaluation."""
    for v in mats.values():
        v.requires_grad_()
    # Colours, labels and digit rows flattened over models; a step's mini-batches are gathered by
    # index_select and painted there, never stored as whole images (fresh memory for them costs
    # more than painting a batch).
    flat = {k: data[f"train_{k}"].flatten(0, 1) for k in ("scale", "offset") if f"train_{k}" in data}
    y, digit_rows = data["y_train"].flatten(), data["train_rows"].flatten()

    def step(samples: torch.Tensor) -> None:
        rows = samples.reshape(-1)
        batch = {k: v.index_select(0, rows) for k, v in flat.items()}
        grey = data["digits"].index_select(0, digit_rows.index_select(0, rows))
        x = paint(grey, batch["scale"], batch.get("offset")).reshape(len(samples), -1, N_INPUTS)
        logits = forward(spec, mats, x)
        # Sum over models of each model's mean loss: every model keeps its own gradient.
        loss = F.cross_entropy(logits.reshape(len(rows), -1), y.index_select(0, rows), reduction="sum") * (
            len(samples) / len(rows)
        )
        for v in mats.values():
            v.grad = None
        loss.backward()

    def evaluate() -> dict:
        with torch.no_grad():
            return {k: forward(spec, mats, _images(data, name)) for k, name in _SETS}

    return step, evaluate


def _cnn_program(spec: ZooSpec, mats: dict, data: dict):
    """The CNN's training step (``BatchedCNN``, gradients by hand into fixed buffers) and evaluation."""
    M, background = len(data["y_train"]), "train_offset" in data
    net = BatchedCNN(M, spec.width, 2 if background else 1, spec.batch_size)
    for v in mats.values():
        v.grad = torch.empty_like(v)
    tables = {
        "train": patches(_planes(data["digits"], background)),
        "test": patches(_planes(data["test_grey"], background)),
    }
    mix_train = _mix(data, "train").flatten(0, 1)
    y, digit_rows = data["y_train"].flatten(), data["train_rows"].flatten()

    def step(samples: torch.Tensor) -> None:
        with torch.no_grad():
            images = samples.T  # (b, M): BatchedCNN orders images (image, network)
            logits = net.forward(mats, tables["train"], digit_rows[images], mix_train[images])
            # Gradient of each model's mean cross-entropy: (softmax - one-hot) / b. (Softmax by
            # hand: torch.softmax over a last dimension of 10 is five times slower.)
            d = torch.sub(logits, logits.amax(-1, keepdim=True)).exp_()
            d /= d.sum(-1, keepdim=True)
            d.scatter_add_(2, y[samples].unsqueeze(-1), torch.full((*samples.shape, 1), -1.0))
            d /= samples.shape[1]
            net.backward(mats, {k: v.grad for k, v in mats.items()}, d)

    def evaluate() -> dict:
        n_test = len(data["y_test"])
        rows = {"train": data["train_rows"], "test": torch.arange(n_test).expand(M, n_test)}
        logits = {}
        with torch.no_grad():
            for k, name in _SETS:
                table = "train" if name == "train" else "test"
                mix, r = _mix(data, name), rows[table]
                logits[k] = torch.cat(
                    [
                        net.forward(
                            mats,
                            tables[table],
                            r[:, s : s + spec.batch_size].T,
                            mix[:, s : s + spec.batch_size].transpose(0, 1),
                        )
                        for s in range(0, r.shape[1], spec.batch_size)
                    ],
                    dim=1,
                )
        return logits

    return step, evaluate


def _train_block(spec: ZooSpec, indices: range):
    """One batched program: train the models ``indices`` together, step by step."""
    M, n, B = len(indices), spec.n_train, spec.batch_size
    init, data = _draws(spec, indices)
    mats = to_matrices(init)
    program = _mlp_program if spec.family == "mlp" else _cnn_program
    step, evaluate = program(spec, mats, data)
    # Sample s of model m is row m * n + s of the per-sample tensors flattened over models.
    order = data["order"] + n * torch.arange(M).reshape(M, 1, 1)
    opt = torch.optim.Adam(mats.values(), lr=spec.lr, fused=True)
    for epoch in range(spec.epochs):
        for b in range(0, n, B):
            step(order[:, epoch, b : b + B])
            opt.step()
    mats = {k: v.detach() for k, v in mats.items()}
    return from_matrices(spec, mats), {**_meta(spec, indices), **_accuracies(evaluate(), data)}


def _blocks(spec: ZooSpec, start: int, stop: int | None, train_block):
    """``train_block`` on each block of models ``start..stop-1``, aligned to multiples of ``BLOCK``."""
    indices = _indices(spec, start, stop)
    # Fixed, aligned blocks: the fused optimiser's rounding depends on a tensor's length, so the
    # same model must always sit in the same program for chunking to leave its bits unchanged.
    blocks = [
        train_block(spec, range(max(k, indices.start), min(k + BLOCK, indices.stop)))
        for k in range(indices.start - indices.start % BLOCK, indices.stop, BLOCK)
    ]
    return tuple({k: torch.cat([b[part][k] for b in blocks]) for k in blocks[0][part]} for part in (0, 1))


def train_batched(spec: ZooSpec, start: int = 0, stop: int | None = None):
    """Train models ``start..stop-1`` of ``spec`` as batched programs of up to ``BLOCK`` models.

    Returns ``(params, meta)``: parameters as tensors with a leading model dimension, named and
    laid out as in the ``torch.nn`` module's ``state_dict``, and per-model metadata (index, bias
    level, accuracies on the training images and on the biased and unbiased test sets).
    Blocks are aligned to multiples of ``BLOCK`` in the zoo, so a model is trained bit for bit the
    same whatever range it is trained in, as long as the range holds its whole block.
    """
    return _blocks(spec, start, stop, _train_block)


def _torch_func_block(spec: ZooSpec, indices: range):
    init, data = _draws(spec, indices)
    M = len(indices)
    modules = [make_module(spec, {k: v[m] for k, v in init.items()}) for m in range(M)]
    params, buffers = stack_module_state(modules)
    with torch.device("meta"):  # the architecture only (no random init); the numbers are params
        skeleton = make_module(spec)

    def logits(p, b, x):
        return functional_call(skeleton, (p, b), (x,))

    def loss(p, b, x, y):
        return F.cross_entropy(logits(p, b, x), y)

    gradients = vmap(grad(loss))  # each model's gradient of its own loss on its own batch
    X, y = _images(data, "train"), data["y_train"]
    models = torch.arange(M).unsqueeze(1)
    opt = torch.optim.Adam(params.values(), lr=spec.lr, fused=True)
    for epoch in range(spec.epochs):
        for b in range(0, spec.n_train, spec.batch_size):
            idx = data["order"][:, epoch, b : b + spec.batch_size]
            for k, g in gradients(params, buffers, X[models, idx], y[models, idx]).items():
                params[k].grad = g
            opt.step()
    with torch.no_grad():
        out = {k: vmap(logits)(params, buffers, _images(data, name)) for k, name in _SETS}
    return {k: v.detach() for k, v in params.items()}, {**_meta(spec, indices), **_accuracies(out, data)}


def train_torch_func(spec: ZooSpec, start: int = 0, stop: int | None = None):
    """The same models as ``train_batched``, trained as a PyTorch user would: ``torch.func`` ensembling.

    The models' ``nn.Module`` parameters stacked (``stack_module_state``), every model's gradient
    of its own mean cross-entropy by ``vmap(grad(...))`` over ``functional_call``, one Adam over
    the stacked parameters; the same draws, batches and blocks as ``train_batched``, so the two
    agree up to float rounding. Returns ``(params, meta)`` in its layout.
    """
    return _blocks(spec, start, stop, _torch_func_block)


def train_loop(spec: ZooSpec, start: int = 0, stop: int | None = None):
    """The naive baseline: the same models and draws as ``train_batched``, one ``nn.Module`` at a time.

    Returns ``(params, meta)`` in the layout of ``train_batched``.
    """
    indices = _indices(spec, start, stop)
    init, data = _draws(spec, indices)
    states, logits = [], {"train": [], "biased": [], "unbiased": []}
    for m in range(len(indices)):
        module = make_module(spec, {k: v[m] for k, v in init.items()})
        X, y, order = _images(data, "train", m), data["y_train"][m], data["order"][m]
        opt = torch.optim.Adam(module.parameters(), lr=spec.lr, fused=True)
        for epoch in range(spec.epochs):
            for b in range(0, spec.n_train, spec.batch_size):
                idx = order[epoch, b : b + spec.batch_size]
                loss = F.cross_entropy(module(X[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            for k, name in _SETS:
                logits[k].append(module(_images(data, name, m)))
        states.append({k: v.detach() for k, v in module.state_dict().items()})
    params = {k: torch.stack([s[k] for s in states]) for k in states[0]}
    logits = {k: torch.stack(v) for k, v in logits.items()}
    return params, {**_meta(spec, indices), **_accuracies(logits, data)}
