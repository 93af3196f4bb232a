"""Real handwritten digits: scikit-learn's bundled 8x8 set (1797 images, 10 classes).

The images ship inside scikit-learn, so loading them needs no network. Pixel values are
integers 0..16; we scale them to [0, 1].
"""

from __future__ import annotations

import numpy as np

from earlybias.validation import check_real, check_seed


def load_digits(standardize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All 1797 digits as ``(X, y)``: ``X`` of shape (1797, 64), float64 in [0, 1], ``y`` in 0..9.

    ``standardize=True`` centres and scales every pixel to zero mean and unit variance over the
    set (pixels that are constant stay at zero).
    """
    from sklearn.datasets import load_digits as _sk_load

    bunch = _sk_load()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    return (standardize_features(X) if standardize else X), y


def standardize_features(X: np.ndarray) -> np.ndarray:
    """Centre and scale every feature (column) to zero mean and unit variance over the set;
    constant features become 0."""
    X = X - X.mean(axis=0)
    sd = X.std(axis=0)
    return np.divide(X, sd, out=np.zeros_like(X), where=sd > 0)


def digits_pools(seed: int = 0, test_fraction: float = 0.25) -> dict[str, dict[str, np.ndarray]]:
    """Split the digits into two disjoint, class-balanced pools ``"A"`` and ``"B"``.

    Each pool has its own ``train`` and held-out ``test`` images, so a model zoo trained on pool A
    and one trained on pool B never share an image. Returns
    ``{"A": {"X_train", "y_train", "X_test", "y_test"}, "B": {...}}``; deterministic for ``seed``.
    """
    test_fraction = check_real("test_fraction", test_fraction, 0.0, 1.0, low_open=True)
    if test_fraction == 1.0:
        raise ValueError("test_fraction must be a finite number > 0 and < 1, got 1.0")
    X, y = load_digits()
    rng = np.random.default_rng(check_seed(seed))
    pools: dict[str, dict[str, list[np.ndarray]]] = {p: {"train": [], "test": []} for p in "AB"}
    for label in range(10):
        idx = rng.permutation(np.flatnonzero(y == label))
        for pool, part in zip("AB", np.array_split(idx, 2)):
            n_test = int(round(test_fraction * len(part)))
            pools[pool]["test"].append(part[:n_test])
            pools[pool]["train"].append(part[n_test:])
    out = {}
    for pool, parts in pools.items():
        train = rng.permutation(np.concatenate(parts["train"]))
        test = rng.permutation(np.concatenate(parts["test"]))
        out[pool] = {"X_train": X[train], "y_train": y[train], "X_test": X[test], "y_test": y[test]}
    return out
