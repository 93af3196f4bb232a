"""The experiment of Nahon et al. (ECCV 2024) on Biased MNIST of the 8x8 digits: vanilla CNNs
trained at each colour-label correlation rho, FFW's masks over their frozen weights, the controls
(a random mask of the same per-layer sparsity, FFW without the MI term), the baselines (the last
layer re-trained on the balanced set, a model trained on unbiased data), the masked architecture
re-trained on biased data, and a linear colour probe on the features.

Every group of networks trains as one batched program (``earlybias.zoo.grouped``: all rho levels
x seeds of vanilla models and the unbiased ceiling in one, FFW's gates of every model and both
lambdas in another) and is cached as safetensors under ``default_cache_dir()``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from earlybias.data import load_digits
from earlybias.data.colored import BALANCED_RHO, biased_mnist, shifted_copies
from earlybias.surgeon import ffw
from earlybias.validation import check_int, check_real, check_reals, check_seed
from earlybias.zoo import grouped
from earlybias.zoo.tensorcache import cached

__all__ = ["METHODS", "Setup", "Data", "Outputs", "make_data", "run", "save_outputs", "random_masks"]

#: Bumped when training changes in a way that the cache key would not see.
VERSION = 1

#: The rows of the comparison, in the order the chapter shows them.
METHODS = ("vanilla", "ffw", "no_mi", "random_mask", "last_layer", "ceiling")

#: Shares of each class's digits in the biased training pool, the balanced pool (gates and their
#: validation) and the unbiased test set.
SPLIT = (0.6, 0.2, 0.2)


@dataclass(frozen=True)
class Setup:
    """Every parameter of one run (the cache keys are made from it)."""

    seed: int = 0
    n_seeds: int = 3
    rhos: tuple[float, ...] = (0.99, 0.995, 0.997, 0.999)
    balanced_size: int = 2000
    mi_weight: float = 10.0
    epochs: int = 40
    gate_epochs: int = 40
    head_epochs: int = 10
    channels: tuple[int, ...] = (16, 32, 32)
    lr: float = 1e-3
    batch_size: int = 100

    def __post_init__(self):
        check_seed(self.seed)
        check_int("n_seeds", self.n_seeds, 2, 16)
        r = check_reals("rhos", self.rhos, low=0.0, high=1.0, low_open=True, high_open=True, increasing=True)
        object.__setattr__(self, "rhos", r)
        check_int("balanced_size", self.balanced_size, 200, 2700)
        check_real("mi_weight", self.mi_weight, 0.0)
        check_int("epochs", self.epochs, 1)
        check_int("gate_epochs", self.gate_epochs, 1)
        check_int("head_epochs", self.head_epochs, 1)
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    @property
    def net(self) -> grouped.ConvNet:
        """3x3 convolutions (stride 1, then 2) with ReLU and a linear readout: a small cousin of
        ReBias' SimpleConvNet (four 7x7 convolutions with batch norm, then global average
        pooling), which the paper uses on Biased MNIST. No batch norm (FFW gates no batch-norm
        weight) and no pooling: at 8x8 pixels the last map is 2x2, and flattening it keeps where
        the strokes are."""
        strides = (1,) + (2,) * (len(self.channels) - 1)
        return grouped.ConvNet(3, 8, self.channels, 10, strides)

    def stream(self, *keys: int) -> int:
        """A seed derived from the run's seed and ``keys`` (independent streams)."""
        return int(np.random.SeedSequence([self.seed, *keys]).generate_state(1)[0] % (2**31 - 1))

    def key(self, *fields: str) -> dict:
        d = asdict(self)
        return {k: d[k] for k in fields}


@dataclass
class Data:
    """Biased training images per rho (R, N, 3, 8, 8) with their colours (R, N); the unbiased
    training images of the ceiling; the balanced gate-training and validation sets; the unbiased
    test set. Labels are shared by every colouring of the same digits."""

    train_images: torch.Tensor
    train_colors: np.ndarray
    train_labels: torch.Tensor
    unbiased_images: torch.Tensor
    gate_images: torch.Tensor
    gate_labels: torch.Tensor
    gate_colors: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    val_colors: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    test_colors: torch.Tensor

    @property
    def n_conflicting(self) -> np.ndarray:
        """Bias-conflicting training images at each rho (R,)."""
        return (self.train_colors != self.train_labels.numpy()).sum(axis=1)


def _split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the training, balanced and test digits, class by class (``SPLIT``)."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        a, b = round(SPLIT[0] * len(idx)), round((SPLIT[0] + SPLIT[1]) * len(idx))
        for part, chunk in zip(parts, (idx[:a], idx[a:b], idx[b:])):
            part.append(chunk)
    return tuple(np.concatenate(p) for p in parts)


def _enlarge(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every digit under its nine one-pixel shifts (data/README.md, "Biased MNIST")."""
    return shifted_copies(X).reshape(-1, 64), np.tile(y, 9)


def make_data(setup: Setup) -> Data:
    """The run's data: the digits split class by class, each part enlarged ninefold by shifts, the
    training part coloured at every rho and at ``BALANCED_RHO`` (the ceiling), the balanced part
    (``balanced_size`` images for the gates, the rest for their validation) and the test part
    coloured without bias."""
    X, y = load_digits()
    train, balanced, test = _split(y, setup.stream(1))
    Xtr, ytr = _enlarge(X[train], y[train])
    coloured = [biased_mnist(Xtr, ytr, rho, setup.stream(2, i)) for i, rho in enumerate(setup.rhos)]
    unbiased = biased_mnist(Xtr, ytr, BALANCED_RHO, setup.stream(3))[0]
    Xb, yb = _enlarge(X[balanced], y[balanced])
    b_images, b_colors, _ = biased_mnist(Xb, yb, BALANCED_RHO, setup.stream(4))
    order = np.random.default_rng(setup.stream(5)).permutation(len(yb))
    g, v = order[: setup.balanced_size], order[setup.balanced_size :]
    Xte, yte = _enlarge(X[test], y[test])
    t_images, t_colors, _ = biased_mnist(Xte, yte, BALANCED_RHO, setup.stream(6))

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    return Data(
        train_images=torch.stack([t(c[0]) for c in coloured]),
        train_colors=np.stack([c[1] for c in coloured]),
        train_labels=t(ytr).long(),
        unbiased_images=t(unbiased),
        gate_images=t(b_images[g]),
        gate_labels=t(yb[g]).long(),
        gate_colors=t(b_colors[g]),
        val_images=t(b_images[v]),
        val_labels=t(yb[v]).long(),
        val_colors=t(b_colors[v]),
        test_images=t(t_images),
        test_labels=t(yte).long(),
        test_colors=t(t_colors),
    )


def _train(setup: Setup, seeds: list[int], images, labels, progress: bool, masks=None) -> dict:
    """Fresh models, one per seed, trained by the chapter's recipe: Adam (ReBias' default
    optimiser for Biased MNIST) with cross-entropy, each model on its own shuffles."""
    params, _ = grouped.fit(
        setup.net,
        grouped.init_params(setup.net, seeds),
        images,
        labels,
        seeds=seeds,
        epochs=setup.epochs,
        batch_size=setup.batch_size,
        lr=setup.lr,
        loss="ce",
        masks=masks,
        progress=progress,
    )
    return params


def _train_vanilla(setup: Setup, data: Data, progress: bool) -> dict[str, torch.Tensor]:
    """Vanilla models (R x S, rho-major) and the ceiling's S models, trained as one program, each
    on its own colouring of the digits."""
    R, S = len(setup.rhos), setup.n_seeds
    images = torch.cat(
        [data.train_images.repeat_interleave(S, dim=0), data.unbiased_images.expand(S, -1, -1, -1, -1)]
    )
    return _train(
        setup, [setup.stream(10, m) for m in range((R + 1) * S)], images, data.train_labels, progress
    )


def random_masks(masks: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """For each model and layer, a mask keeping as many weights as ``masks`` does, at positions
    drawn uniformly at random (the control "any mask of this sparsity")."""
    g = torch.Generator().manual_seed(int(seed))
    out = {}
    for name, mask in masks.items():
        flat = mask.flatten(1)
        keep = flat.sum(dim=1).long()
        ranks = torch.rand(flat.shape, generator=g).argsort(dim=1).argsort(dim=1)
        out[name] = (ranks < keep.unsqueeze(1)).to(mask.dtype).view_as(mask)
    return out


def _find_masks(setup: Setup, data: Data, vanilla: dict, progress: bool) -> dict[str, torch.Tensor]:
    """FFW's masks of every vanilla model with lambda = ``mi_weight`` and with lambda = 0, as one
    program of 2 R S models; the temperatures and validation MIs of every epoch come along."""
    M = len(setup.rhos) * setup.n_seeds
    weights = {k: torch.cat([v[:M], v[:M]]) for k, v in vanilla.items()}
    found = ffw.find_masks(
        setup.net,
        weights,
        (data.gate_images, data.gate_labels, data.gate_colors),
        (data.val_images, data.val_labels, data.val_colors),
        mi_weight=[setup.mi_weight] * M + [0.0] * M,
        epochs=setup.gate_epochs,
        seeds=[setup.stream(20, m) for m in range(2 * M)],
        batch_size=setup.batch_size,
        head_epochs=setup.head_epochs,
        progress=progress,
    )
    out = {f"mask/{k}": v for k, v in found.masks.items()}
    out["temperature"] = torch.from_numpy(found.temperatures)
    out["val_mi"] = torch.from_numpy(found.val_mi)
    return out


def _retrain(setup: Setup, data: Data, masks: dict, progress: bool) -> dict[str, torch.Tensor]:
    """The paper's second experiment: FFW's architecture (its mask at the top rho), re-initialised
    and trained on the biased data like the vanilla models, beside the dense architecture trained
    from the same initialisations (S masked models, then S dense, one program)."""
    S = setup.n_seeds
    seeds = [setup.stream(30, s) for s in range(S)] * 2
    both = {k: torch.cat([masks[k], torch.ones_like(masks[k])]) for k in masks}
    params = _train(setup, seeds, data.train_images[-1], data.train_labels, progress, both)
    return {k: (v * both[k] if k in both else v) for k, v in params.items()}


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    return (logits.argmax(-1) == labels).float().mean(dim=-1).numpy()


@dataclass
class Outputs:
    """What the analysis needs: per-model accuracies (``table``: method, rho, seed, accuracy on
    the unbiased test set), the per-layer sparsity
    of FFW's and the no-MI masks, the linear probes (colour and digit) on the vanilla and the
    sub-network's features, the re-trained architectures, the gate training's history,
    and the test predictions (M, N) of the vanilla, FFW and no-MI models (for the examples)."""

    setup: Setup
    table: pd.DataFrame
    sparsity: pd.DataFrame
    probe: pd.DataFrame
    retrain: pd.DataFrame
    temperatures: np.ndarray
    val_mi: np.ndarray
    predictions: dict[str, np.ndarray]
    n_conflicting: np.ndarray
    vanilla: dict[str, torch.Tensor]
    masks: dict[str, dict[str, torch.Tensor]]


def run(setup: Setup, progress: bool = False) -> tuple[Outputs, Data]:
    """The whole experiment (cached where it trains)."""
    data = make_data(setup)
    net, R, S = setup.net, len(setup.rhos), setup.n_seeds
    M = R * S
    data_key = setup.key("seed", "n_seeds", "rhos", "channels", "epochs", "lr", "batch_size")
    models = cached(
        "surgeon-vanilla", data_key, lambda: _train_vanilla(setup, data, progress), version=VERSION
    )
    vanilla = {k: v[:M] for k, v in models.items()}
    ceiling = {k: v[M:] for k, v in models.items()}
    gate_key = {**data_key, **setup.key("balanced_size", "mi_weight", "gate_epochs", "head_epochs")}
    found = cached(
        "surgeon-ffw", gate_key, lambda: _find_masks(setup, data, models, progress), version=VERSION
    )
    names = net.weight_names()
    ffw_masks = {k: found[f"mask/{k}"][:M] for k in names}
    no_mi_masks = {k: found[f"mask/{k}"][M:] for k in names}
    rand_masks = random_masks(ffw_masks, setup.stream(40))
    top_masks = {k: v[(R - 1) * S :] for k, v in ffw_masks.items()}
    retrained = cached(
        "surgeon-retrain", gate_key, lambda: _retrain(setup, data, top_masks, progress), version=VERSION
    )

    x, y, b = data.test_images, data.test_labels, data.test_colors
    logits = {
        "vanilla": grouped.predict(net, vanilla, x),
        "ffw": grouped.predict(net, vanilla, x, ffw_masks),
        "no_mi": grouped.predict(net, vanilla, x, no_mi_masks),
        "random_mask": grouped.predict(net, vanilla, x, rand_masks),
    }
    # Linear probes on the vanilla and the sub-network's features: the digit, trained on the
    # balanced set (on the vanilla features this is the last-layer-retraining baseline), and the
    # colour, trained on one half of the unbiased test set and scored on the other.
    half = len(y) // 2
    probe_rows = []
    for features, masks in (("vanilla", None), ("ffw", ffw_masks)):
        h_gate, h_test = (ffw.all_features(net, vanilla, images, masks) for images in (data.gate_images, x))
        digit = ffw.train_linear(
            ffw.Linear.init(M, net.n_features, 10, setup.stream(50)),
            h_gate,
            data.gate_labels,
            seed=setup.stream(51),
        )
        digit_logits = ffw.linear_logits(digit, h_test)
        if features == "vanilla":
            logits["last_layer"] = digit_logits
        colour = ffw.train_linear(
            ffw.Linear.init(M, net.n_features, 10, setup.stream(60)),
            h_test[:, :half],
            b[:half],
            seed=setup.stream(61),
        )
        for target, acc in (
            ("colour", _accuracy(ffw.linear_logits(colour, h_test[:, half:]), b[half:])),
            ("digit", _accuracy(digit_logits, y)),
        ):
            probe_rows += [(features, target, setup.rhos[m // S], m % S, acc[m]) for m in range(M)]
    probe = pd.DataFrame(probe_rows, columns=["features", "target", "rho", "seed", "accuracy"])

    rows = []
    for method, out in logits.items():
        acc = _accuracy(out, y)
        rows += [(method, setup.rhos[m // S], m % S, acc[m]) for m in range(M)]
    ceiling_out = grouped.predict(net, ceiling, x)
    for s, a in enumerate(_accuracy(ceiling_out, y)):
        rows.append(("ceiling", float("nan"), s, a))
    table = pd.DataFrame(rows, columns=["method", "rho", "seed", "accuracy"])

    sparsity = pd.DataFrame(
        [
            (method, setup.rhos[m // S], m % S, name.split(".")[0], 1.0 - float(mask[m].mean()))
            for method, masks in (("ffw", ffw_masks), ("no_mi", no_mi_masks))
            for name, mask in masks.items()
            for m in range(M)
        ],
        columns=["method", "rho", "seed", "layer", "sparsity"],
    )

    acc_re = _accuracy(grouped.predict(net, retrained, x), y)
    retrain = pd.DataFrame(
        [(arch, s, acc_re[i * S + s]) for i, arch in enumerate(("masked", "dense")) for s in range(S)],
        columns=["architecture", "seed", "accuracy"],
    )
    return (
        Outputs(
            setup=setup,
            table=table,
            sparsity=sparsity,
            probe=probe,
            retrain=retrain,
            temperatures=found["temperature"].numpy(),
            val_mi=found["val_mi"].numpy(),
            predictions={
                k: logits[k].argmax(-1).numpy().astype(np.int8) for k in ("vanilla", "ffw", "no_mi")
            },
            n_conflicting=data.n_conflicting,
            vanilla=vanilla,
            masks={"ffw": ffw_masks, "no_mi": no_mi_masks, "random_mask": rand_masks},
        ),
        data,
    )


def save_outputs(outputs: Outputs, data: Data, run_dir: str | Path) -> None:
    """Write what other code needs to check the sub-networks (the chapter's "Outputs" section):
    ``vanilla.safetensors`` (the vanilla weights, models rho-major), ``masks.safetensors``
    (``<method>/<weight name>``, 0/1) and ``test_set.safetensors`` (images, labels, colours)."""
    run_dir = Path(run_dir)
    s = outputs.setup
    meta = {
        "rhos": json.dumps(list(s.rhos)),
        "n_seeds": str(s.n_seeds),
        "order": "model m has rho rhos[m // n_seeds] and seed m % n_seeds",
        "architecture": repr(s.net),
    }
    save_file(
        {k: v.contiguous() for k, v in outputs.vanilla.items()}, str(run_dir / "vanilla.safetensors"), meta
    )
    masks = {f"{method}/{k}": v.contiguous() for method, ms in outputs.masks.items() for k, v in ms.items()}
    save_file(masks, str(run_dir / "masks.safetensors"), meta)
    save_file(
        {"images": data.test_images, "labels": data.test_labels, "colors": data.test_colors},
        str(run_dir / "test_set.safetensors"),
    )
