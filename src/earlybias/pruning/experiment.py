"""The experiment of Iofinova, Peste and Alistarh (CVPR 2023) in the shapes world: train small
CNNs dense, prune them by global magnitude with the paper's gradual schedule while fine-tuning,
and keep every model's logits on a validation and a test split (``Outputs``, ``outputs.npz``).

All seeds x sparsities train as one batched program (``earlybias.zoo.grouped``); the trained
weights are cached as safetensors under ``default_cache_dir()``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from earlybias.data.shapes import ATTRIBUTES, PROTECTED, ShapesWorld, make_shapes, protected_couplings
from earlybias.validation import check_int, check_real, check_reals, check_seed
from earlybias.zoo import grouped
from earlybias.zoo.tensorcache import cached

__all__ = [
    "Setup",
    "Outputs",
    "gmp_sparsity",
    "global_magnitude_masks",
    "data",
    "train_dense",
    "train_pruned",
    "run",
    "save_outputs",
    "load_outputs",
]

#: Bumped when training changes in a way that the cache key would not see.
VERSION = 1

#: The paper's post-training schedule (configs/celeba_*_postgmps*_ep80_adam_lr0001.yaml):
#: sparsity 0.05 at the first pruning step, then every 4 of 80 epochs up to epoch 60, Adam.
INITIAL_SPARSITY = 0.05
PRUNE_END = 60 / 80  # share of fine-tuning after which the target sparsity is held
PRUNE_STEPS = 15  # (60 - 1) / 4 pruning steps


@dataclass(frozen=True)
class Setup:
    """Every parameter of one run of the experiment (the cache key is made from it)."""

    seed: int = 0
    n_seeds: int = 3
    sparsities: tuple[float, ...] = (0.8, 0.9, 0.95, 0.98)
    epochs: int = 12
    finetune_epochs: int = 6
    n_images: int = 8000
    image_size: int = 16
    protected_strength: float = 0.7
    width: int = 16
    hidden: int = 256
    first_stride: int = 1
    lr: float = 2e-3
    finetune_lr: float = 5e-4
    batch_size: int = 128

    def __post_init__(self):
        check_seed(self.seed)
        check_int("n_seeds", self.n_seeds, 1, 64)
        s = check_reals("sparsities", self.sparsities, low=0.0, low_open=True, increasing=True)
        if s[-1] >= 1:
            raise ValueError(f"sparsities must be fractions in (0, 1), got {list(self.sparsities)}")
        object.__setattr__(self, "sparsities", s)
        check_int("epochs", self.epochs, 1)
        check_int("finetune_epochs", self.finetune_epochs, 1)
        check_int("n_images", self.n_images, 256)
        check_int("image_size", self.image_size, 8, 64)
        check_real("protected_strength", self.protected_strength, 0.0, 1.0)
        check_int("width", self.width, 1, 256)
        check_int("hidden", self.hidden, 0, 4096)
        check_int("first_stride", self.first_stride, 1, 2)

    @property
    def net(self) -> grouped.ConvNet:
        """Two 3x3 convolutions (``width`` and 2 ``width`` channels), a fully connected hidden layer
        of ``hidden`` units and a linear readout. The first convolution has stride
        ``first_stride`` (1 by default): at 16 x 16 pixels a stride-2 first convolution averages
        away the corners and edges that tell a circle from a square, and the dense model never
        learns the shapes (circle ~0.69, square ~0.76 accuracy at width 24). The hidden layer
        holds most of the weights at one multiply-add each: without it (51,000 weights at width
        24) 98 % sparsity left too few weights to predict the rare attributes at all."""
        return grouped.ConvNet(
            3,
            self.image_size,
            (self.width, 2 * self.width),
            len(ATTRIBUTES),
            (self.first_stride, 2),
            (self.hidden,) if self.hidden else (),
        )

    @property
    def world(self) -> ShapesWorld:
        return ShapesWorld(self.image_size, protected_couplings(self.protected_strength))

    @property
    def n_weights(self) -> int:
        """Weights of one dense model (what pruning counts; biases are not pruned)."""
        return sum(math.prod(self.net.shapes()[k]) for k in self.net.weight_names())

    def model_seeds(self) -> list[int]:
        return [_derive(self.seed, 10 + i) for i in range(self.n_seeds)]


def _derive(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0] % (2**31 - 1))


def gmp_sparsity(step: int, total: int, target: float) -> float:
    """Sparsity of gradual magnitude pruning at ``step`` of ``total`` (Zhu and Gupta 2017, the
    cubic schedule of the paper's pruner): s_t = s_f + (s_i - s_f) (1 - t / t_end)^3 with
    s_i = ``INITIAL_SPARSITY``, t_end = ``PRUNE_END`` * total, raised in ``PRUNE_STEPS`` steps."""
    end = max(1, round(PRUNE_END * total))
    every = max(1, end // PRUNE_STEPS)
    t = min(end, (step // every) * every)
    return target + (INITIAL_SPARSITY - target) * (1 - t / end) ** 3


def global_magnitude_masks(weights: dict[str, torch.Tensor], sparsity) -> dict[str, torch.Tensor]:
    """Global magnitude pruning of each model (weights (M, ...)): keep the largest |w| of all its
    weight tensors together, a share 1 - ``sparsity[m]`` of them (biases are not pruned, as the
    paper's ``weight_only``)."""
    names = [k for k in weights if k.endswith(".weight")]
    flat = torch.cat([weights[k].abs().flatten(1) for k in names], dim=1)
    M, P = flat.shape
    sparsity = torch.as_tensor(sparsity, dtype=torch.float64).expand(M)
    keep = torch.clamp(torch.round((1 - sparsity) * P).long(), 1, P)
    ordered = torch.sort(flat, dim=1, descending=True).values
    threshold = ordered[torch.arange(M), keep - 1]
    return {k: (weights[k].abs() >= threshold.view(-1, *[1] * (weights[k].dim() - 1))).float() for k in names}


@dataclass
class Data:
    world: ShapesWorld
    train_images: torch.Tensor
    train_labels: np.ndarray
    val_images: torch.Tensor
    val_labels: np.ndarray
    test_images: torch.Tensor
    test_labels: np.ndarray


def data(setup: Setup) -> Data:
    """Train, validation and test splits of the world, each drawn from its own seed."""
    world = setup.world
    tr = make_shapes(setup.n_images, _derive(setup.seed, 1), world)
    va = make_shapes(setup.n_images // 4, _derive(setup.seed, 2), world)
    te = make_shapes(setup.n_images // 2, _derive(setup.seed, 3), world)
    return Data(world, tr.images, tr.attributes, va.images, va.attributes, te.images, te.attributes)


def _config(setup: Setup, part: str) -> dict:
    c = asdict(setup)
    c["sparsities"] = list(setup.sparsities)
    c["world"] = repr(setup.world)  # the couplings and nuisance: a changed world is a new cache entry
    if part == "dense":
        for k in ("sparsities", "finetune_epochs", "finetune_lr"):
            c.pop(k)
    return {"part": part, **c}


def train_dense(setup: Setup, d: Data, progress: bool = False) -> dict[str, torch.Tensor]:
    """The dense models, one per seed, (n_seeds, ...) per parameter; cached."""

    def produce():
        seeds = setup.model_seeds()
        params = grouped.init_params(setup.net, seeds)
        targets = torch.from_numpy(d.train_labels).float()
        params, _ = grouped.fit(
            setup.net,
            params,
            d.train_images,
            targets,
            seeds=seeds,
            epochs=setup.epochs,
            lr=setup.lr,
            batch_size=setup.batch_size,
            progress=progress,
        )
        return params

    return cached("pruning-dense", _config(setup, "dense"), produce, version=VERSION)


def train_pruned(
    setup: Setup, d: Data, dense: dict[str, torch.Tensor], progress: bool = False
) -> dict[str, torch.Tensor]:
    """Every (sparsity, seed) model, pruned from its seed's dense model by gradual global
    magnitude pruning while fine-tuning; model j * n_seeds + i has sparsity j and seed i.
    Returns the masked weights; cached."""

    def produce():
        S, n = len(setup.sparsities), setup.n_seeds
        params = {k: v.repeat(S, *[1] * (v.dim() - 1)) for k, v in dense.items()}
        targets = torch.tensor(np.repeat(setup.sparsities, n))
        seeds = [_derive(s, 100 + j) for j in range(S) for s in setup.model_seeds()]

        def update(step, total, weights):
            return global_magnitude_masks(weights, [gmp_sparsity(step, total, float(t)) for t in targets])

        params, masks = grouped.fit(
            setup.net,
            params,
            d.train_images,
            torch.from_numpy(d.train_labels).float(),
            seeds=seeds,
            epochs=setup.finetune_epochs,
            lr=setup.finetune_lr,
            batch_size=setup.batch_size,
            masks=None,
            mask_update=update,
            progress=progress,
        )
        return {k: v * masks[k] if k in masks else v for k, v in params.items()}

    return cached("pruning-sparse", _config(setup, "sparse"), produce, version=VERSION)


@dataclass
class Outputs:
    """The raw material of every metric (the run directory's ``outputs.npz``).

    ``sparsities`` (S,) fractions, the first 0.0 for the dense model; ``test_logits``
    (S, seeds, N, A) and ``val_logits`` (S, seeds, Nv, A); ``test_labels`` (N, A), ``val_labels``
    (Nv, A) and ``train_labels`` (Nt, A) 0/1; ``attributes`` (A,) names; ``protected`` indices of
    the protected attributes; ``density`` (S, seeds) the share of weights kept.
    """

    sparsities: np.ndarray
    test_logits: np.ndarray
    val_logits: np.ndarray
    test_labels: np.ndarray
    val_labels: np.ndarray
    train_labels: np.ndarray
    attributes: np.ndarray
    protected: np.ndarray
    density: np.ndarray | None = None


def _density(weights: dict[str, torch.Tensor]) -> np.ndarray:
    names = [k for k in weights if k.endswith(".weight")]
    flat = torch.cat([weights[k].flatten(1) for k in names], dim=1)
    return (flat != 0).double().mean(dim=1).numpy()


def run(setup: Setup, progress: bool = False) -> tuple[Outputs, Data, dict[str, torch.Tensor]]:
    """Train (or load) the dense and pruned models and collect their logits. Returns the outputs,
    the data (for images) and all models' weights stacked (S * seeds, ...), dense first."""
    d = data(setup)
    dense = train_dense(setup, d, progress)
    sparse = train_pruned(setup, d, dense, progress)
    models = {k: torch.cat([dense[k], sparse[k]]) for k in dense}
    S, n = len(setup.sparsities) + 1, setup.n_seeds

    def logits(images):
        out = grouped.predict(setup.net, models, images).numpy()
        return out.reshape(S, n, *out.shape[1:])

    outputs = Outputs(
        sparsities=np.array([0.0, *setup.sparsities]),
        test_logits=logits(d.test_images),
        val_logits=logits(d.val_images),
        test_labels=d.test_labels,
        val_labels=d.val_labels,
        train_labels=d.train_labels,
        attributes=np.array(list(ATTRIBUTES)),
        protected=np.array([list(ATTRIBUTES).index(p) for p in PROTECTED]),
        density=_density(models).reshape(S, n),
    )
    return outputs, d, models


def save_outputs(outputs: Outputs, path: str | Path) -> None:
    """Write ``outputs`` as a compressed ``.npz`` (atomically)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, **asdict(outputs))
    tmp.replace(path)


def load_outputs(path: str | Path) -> Outputs:
    """Read an ``outputs.npz`` written by :func:`save_outputs` (or by anyone, with those arrays)."""
    with np.load(path, allow_pickle=False) as z:
        return Outputs(**{k: z[k] for k in Outputs.__dataclass_fields__ if k in z.files})


def n_models(setup: Setup) -> int:
    return setup.n_seeds * (len(setup.sparsities) + 1)
