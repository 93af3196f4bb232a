"""Isotropic Gaussian inputs, the data model of the initial-guessing-bias theory."""

from __future__ import annotations

import numpy as np

from earlybias.validation import check_int, check_real, check_seed


def gaussian_inputs(n_points: int, dim: int, input_shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """``n_points`` inputs x ~ N(input_shift * 1, I_dim), as float64 of shape (n_points, dim).

    ``input_shift`` is the per-feature mean s of Francazi et al. (2024), preprocessing: s = 0 is
    centred data, s != 0 the uncentred preprocessing that creates initial guessing bias (chapter
    ``igb``, eq. ``igb-eq-shift``).
    """
    n_points, dim = check_int("n_points", n_points, 1), check_int("dim", dim, 1)
    input_shift = check_real("input_shift", input_shift)
    rng = np.random.default_rng(check_seed(seed))
    return rng.standard_normal((n_points, dim)) + input_shift
