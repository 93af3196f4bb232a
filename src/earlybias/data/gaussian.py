"""Isotropic Gaussian inputs, the data model of the initial-guessing-bias theory."""

from __future__ import annotations

import numpy as np


def gaussian_inputs(n_points: int, dim: int, input_shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """``n_points`` inputs x ~ N(input_shift * 1, I_dim), as float64 of shape (n_points, dim).

    ``input_shift`` is the per-feature mean s of Francazi et al. (2024), Sec. 4: s = 0 is centred
    data, s != 0 the uncentred preprocessing that creates initial guessing bias.
    """
    if n_points < 1 or dim < 1:
        raise ValueError(f"n_points and dim must be >= 1, got {n_points!r}, {dim!r}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_points, dim)) + float(input_shift)
