"""What a zoo is: its parameters (``ZooSpec``) and the random draws behind each of its models.

Every random choice of model ``i`` (initialisation, training subset, shift, colours, batch order)
comes from one generator seeded by ``(seed, i)``, so a model depends only on the zoo's parameters
and its own index: a zoo is reproducible and training it in chunks changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from numbers import Real

import numpy as np

from earlybias.data.colored import (
    BIAS_LEVELS,
    GROUP_COLORS,
    draw_colors,
    draw_groups,
    draw_shifts,
    group_shares,
    resolve_sigma2,
    shifted_copies,
)
from earlybias.data.digits import digits_pools
from earlybias.validation import check_choice, check_int, check_real, check_seed

__all__ = ["FAMILIES", "TASKS", "ZooSpec", "model_rng", "model_data", "training_digits", "held_out_digits"]

FAMILIES = ("mlp", "cnn")
TASKS = ("color", "group")
# Bump when a change of the code changes the numbers of a zoo, so stale caches are not reused.
FORMAT_VERSION = 3


@lru_cache(maxsize=4)
def _pools(split_seed: int) -> dict:
    # float32 once here: every model of every zoo draws its images from these arrays.
    return {
        p: {k: v.astype(np.float32) if k.startswith("X") else v for k, v in part.items()}
        for p, part in digits_pools(seed=split_seed).items()
    }


@dataclass(frozen=True)
class ZooSpec:
    """Everything that determines a zoo of small networks (IFBiD's model databases, README of
    BiDAlab/IFBiD, at laptop scale); equal specs, equal zoos.

    n_models: number of networks. family: ``"mlp"`` (192-width-10) or ``"cnn"`` (two 3x3
    convolutions of width/2 and width channels, each followed by 2x2 max-pooling, then a linear
    layer). task: ``"color"`` trains model ``i`` on colour-biased digits at level
    ``bias[i % len(bias)]`` (names of ``BIAS_LEVELS`` or variances); ``"group"`` trains it on
    group digits where group ``i % 3`` makes up only ``minority_share`` of the training images.
    pool: the digits pool (``"A"`` or ``"B"``) of ``digits_pools(split_seed)``. n_train: images
    per model, drawn without replacement from the pool. shift: random +-1 pixel shifts of the
    training images. epochs, batch_size, lr: Adam training of each model on its own images.
    """

    n_models: int
    family: str = "mlp"
    task: str = "color"
    bias: tuple = tuple(BIAS_LEVELS)
    minority_share: float = 0.1
    pool: str = "A"
    seed: int = 0
    split_seed: int = 0
    n_train: int = 600
    shift: bool = False
    width: int = 32
    epochs: int = 6
    batch_size: int = 32
    lr: float = 0.02

    def __post_init__(self):
        check_int("n_models", self.n_models, 1)
        check_choice("family", self.family, FAMILIES)
        check_choice("task", self.task, TASKS)
        bias = (self.bias,) if isinstance(self.bias, (str, Real)) else tuple(self.bias)
        if not bias:
            raise ValueError("bias must name at least one level")
        for level in bias:
            resolve_sigma2(level)
        object.__setattr__(self, "bias", bias)  # frozen: a list given by the caller becomes a tuple
        group_shares(0, self.minority_share)
        check_choice("pool", self.pool, ("A", "B"))
        check_seed(self.seed)
        check_seed(self.split_seed, "split_seed")
        check_int("n_train", self.n_train, 1)
        available = len(_pools(self.split_seed)[self.pool]["y_train"])
        if self.n_train > available:
            raise ValueError(
                f"n_train must be <= {available} (training images of pool "
                f"{self.pool!r}), got {self.n_train!r}"
            )
        if not isinstance(self.shift, bool):
            raise ValueError(f"shift must be True or False, got {self.shift!r}")
        check_int("width", self.width, 2 if self.family == "cnn" else 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0, low_open=True)

    def key(self) -> str:
        """A short hash of the parameters that change the zoo's numbers: its cache key."""
        d = asdict(self)
        # The knob of the other task does not change this zoo: leave it out of the key.
        d.pop("minority_share" if self.task == "color" else "bias")
        d["format"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ZooSpec:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ZooSpec fields {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**d)

    def level(self, i: int):
        """Bias level of model ``i`` (colour task): an entry of ``bias``."""
        return self.bias[i % len(self.bias)]

    def minority_group(self, i: int) -> int:
        """The under-represented group of model ``i`` (group task)."""
        return i % len(GROUP_COLORS)


def model_rng(spec: ZooSpec, i: int) -> np.random.Generator:
    """The generator behind every random choice of model ``i``: seeded by ``(spec.seed, i)`` alone."""
    return np.random.default_rng([spec.seed, i])


@lru_cache(maxsize=8)
def _training_digits(split_seed: int, pool: str, shift: bool) -> np.ndarray:
    X = _pools(split_seed)[pool]["X_train"]
    return shifted_copies(X).reshape(-1, 64) if shift else X


def training_digits(spec: ZooSpec) -> np.ndarray:
    """The grey digits that a model's ``train_rows`` index, (n_rows, 64), shared by all models.

    The pool's training digits, or with ``spec.shift`` their nine shifted copies one after the
    other (``shifted_copies``): row ``k * n_pool + j`` is digit ``j`` under offset ``k``. Models
    keep indices into this table instead of copies of their images.
    """
    return _training_digits(spec.split_seed, spec.pool, spec.shift)


def held_out_digits(spec: ZooSpec) -> tuple[np.ndarray, np.ndarray]:
    """The pool's held-out grey digits (n_test, 64) and labels: every model is tested on them."""
    pool = _pools(spec.split_seed)[spec.pool]
    return pool["X_test"], pool["y_test"]


def model_data(spec: ZooSpec, i: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The data of model ``i``, drawn from ``rng``: its training digits and every image's colour.

    An image is ``paint(grey, scale, offset)`` (``earlybias.data.colored``); the colours are
    returned instead of the images so that a whole block of models is painted in one operation.
    Returns ``train_rows`` (n_train,), the model's own subset of the pool as rows of
    ``training_digits(spec)`` (each digit under its random offset if ``spec.shift``), and its
    labels ``y_train``; ``{train,test_biased,test_unbiased}_scale`` (n, 3), and for the group task
    the matching ``_offset`` and ``g_test``, the group of each unbiased test image; ``order``
    (epochs, n_train): the sample order of each epoch. The test digits are ``held_out_digits(spec)``.
    Biased test images are coloured like the training images; unbiased ones break the shortcut
    (colour independent of the class, or all groups equally often).
    """
    pool = _pools(spec.split_seed)[spec.pool]
    n_pool = len(pool["y_train"])
    subset = rng.choice(n_pool, size=spec.n_train, replace=False)
    y = pool["y_train"][subset]
    rows = subset + n_pool * draw_shifts(spec.n_train, rng) if spec.shift else subset
    out = {"train_rows": rows, "y_train": y}
    y_test = pool["y_test"]
    if spec.task == "color":
        sigma2 = resolve_sigma2(spec.level(i))
        out["train_scale"] = draw_colors(y, sigma2, biased=True, seed=rng)
        out["test_biased_scale"] = draw_colors(y_test, sigma2, biased=True, seed=rng)
        out["test_unbiased_scale"] = draw_colors(y_test, sigma2, biased=False, seed=rng)
    else:
        shares = group_shares(spec.minority_group(i), spec.minority_share)
        uniform = np.full(len(GROUP_COLORS), 1.0 / len(GROUP_COLORS))
        groups = {
            "train": draw_groups(len(y), shares, seed=rng),
            "test_biased": draw_groups(len(y_test), shares, seed=rng),
            "test_unbiased": draw_groups(len(y_test), uniform, seed=rng),
        }
        for name, g in groups.items():
            # White digits on the group's background: paint(grey, 1 - background, background).
            out[f"{name}_scale"] = 1.0 - GROUP_COLORS[g]
            out[f"{name}_offset"] = GROUP_COLORS[g]
        out["g_test"] = groups["test_unbiased"]
    for k in [k for k in out if k.endswith(("_scale", "_offset"))]:
        out[k] = out[k].astype(np.float32)
    out["order"] = np.stack([rng.permutation(spec.n_train) for _ in range(spec.epochs)])
    return out
