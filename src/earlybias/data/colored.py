"""Coloured digits: scikit-learn's 8x8 digits with a colour bias of adjustable strength.

Colourisation follows Colored MNIST (Kim et al. 2019, "Learning Not to Learn"), on which IFBiD
trains its digit models (README of BiDAlab/IFBiD): each class has a fixed mean colour; a *biased*
image is drawn in its class's mean colour plus isotropic Gaussian jitter of variance ``sigma2``,
so a small ``sigma2`` makes colour a shortcut for the label (chapter ``weights``, equation
``weights-color``). An *unbiased* image gets the mean colour of an independently drawn class plus
the same jitter: the colour has the same marginal distribution but says nothing about the label.
Images are RGB, shape (3, 8, 8); an MLP sees them flattened to 192 features.

The *group* variant draws white digits on one of three background colours and under-represents
one group in training (``minority_share``), so that a detector can try to name the neglected
group from the weights alone.

The *Biased MNIST* variant (Bahng et al. 2020, ReBias; used by the debiasing-surgeon paper, Nahon
et al. 2024) draws white digits on a background of one of ten colours; in each class a share
``rho`` of the images gets the class's own colour and the rest are spread evenly over the other
nine (``biased_mnist``). ``rho = 0.1`` gives every class every colour equally often: the unbiased
test set and the bias-balanced set.
"""

from __future__ import annotations

import numpy as np

from earlybias.validation import check_choice, check_int, check_labels, check_real, check_seed

__all__ = [
    "CLASS_COLORS",
    "GROUP_COLORS",
    "LEVEL_NAMES",
    "BIAS_LEVELS",
    "PAPER_BIAS_LEVELS",
    "resolve_sigma2",
    "shifted_copies",
    "draw_shifts",
    "shift_digits",
    "paint",
    "draw_colors",
    "color_digits",
    "group_shares",
    "draw_groups",
    "group_digits",
    "BIASED_MNIST_COLORS",
    "BIASED_MNIST_RHOS",
    "BALANCED_RHO",
    "draw_bias_colors",
    "biased_mnist",
]

# Mean colour of each class (RGB in [0, 1]): bright and spread over the cube, so that no class
# is drawn nearly black (its shape would vanish) and the classes are separable by colour alone.
CLASS_COLORS = np.array(
    [
        [0.90, 0.10, 0.10],  # 0 red
        [0.10, 0.80, 0.10],  # 1 green
        [0.15, 0.25, 0.95],  # 2 blue
        [0.95, 0.90, 0.10],  # 3 yellow
        [0.90, 0.10, 0.90],  # 4 magenta
        [0.10, 0.90, 0.90],  # 5 cyan
        [1.00, 0.55, 0.00],  # 6 orange
        [0.55, 0.15, 0.80],  # 7 purple
        [0.00, 0.55, 0.50],  # 8 teal
        [0.80, 0.80, 0.80],  # 9 light grey
    ]
)

# Background colour of each group in the group-bias variant (digits are drawn in white on top):
# pure red, green and blue, so a group decides which channel the background saturates and which
# two carry the digit. Darker or mixed backgrounds left too little difference between groups for
# an under-represented one to be learnt worse (data/README.md).
GROUP_COLORS = np.eye(3)

#: Names of the four bias levels, strongest bias (smallest jitter variance) first, as IFBiD's
#: DigitWdb names its four groups of models (README of BiDAlab/IFBiD).
LEVEL_NAMES = ("very_high", "high", "low", "very_low")

# The study's bias levels: the colour-jitter variance sigma2 of the biased training images, far
# apart, so that a model's unbiased test accuracy rises with sigma2 over more than 25 points
# (data/README.md).
BIAS_LEVELS = dict(zip(LEVEL_NAMES, (0.02, 0.05, 0.1, 0.6)))

# The paper's levels, closely spaced: DigitWdb trains its models at colour-jitter variances 0.02,
# 0.03, 0.04 and 0.05 (README of BiDAlab/IFBiD), the chapter's hard case.
PAPER_BIAS_LEVELS = dict(zip(LEVEL_NAMES, (0.02, 0.03, 0.04, 0.05)))


def resolve_sigma2(bias: str | float) -> float:
    """The jitter variance of ``bias``: a name in ``BIAS_LEVELS`` or a variance > 0."""
    if isinstance(bias, str):
        return BIAS_LEVELS[check_choice("bias", bias, BIAS_LEVELS)]
    return check_real("bias", bias, 0, low_open=True)


def _check_digits(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"X must have shape (n, 64) (flattened 8x8 digits), got {X.shape}")
    return X


def _rng(seed) -> np.random.Generator:
    """``seed`` itself if it is a numpy Generator, else a generator seeded by it (``check_seed``)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))


def shifted_copies(X) -> np.ndarray:
    """Every digit under each of the nine offsets (dy, dx) in {-1, 0, 1}^2, filling with zeros.

    Returns shape (9, n, 64); copy ``(dy + 1) * 3 + (dx + 1)`` moves each digit dy pixels down and
    dx pixels right (copy 4 is the digits unmoved), the indices that ``draw_shifts`` returns.
    """
    X = _check_digits(X)
    padded = np.pad(X.reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    return np.stack(
        [
            padded[:, 1 - dy : 9 - dy, 1 - dx : 9 - dx].reshape(-1, 64)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
    )


def draw_shifts(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Random offsets of n digits, uniform on {-1, 0, 1}^2, as indices of ``shifted_copies``."""
    shifts = _rng(seed).integers(-1, 2, size=(n, 2))
    return (shifts[:, 0] + 1) * 3 + (shifts[:, 1] + 1)


def shift_digits(X, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Shift every 8x8 digit by its own random offset in {-1, 0, 1}^2 pixels, filling with zeros.

    The augmentation of the ``shift=True`` option: small translations keep the digit legible
    and make each model of a zoo see slightly different images.
    """
    X = _check_digits(X)
    return shifted_copies(X)[draw_shifts(len(X), seed), np.arange(len(X))]


def paint(X, scale, offset=None):
    """RGB images from grey digits: channel c of image i is ``offset[i, c] + scale[i, c] * X[i]``.

    Colored MNIST is ``scale`` = the digit's colour and no offset; white digits on a background
    ``b`` are ``scale = 1 - b``, ``offset = b``. Works on numpy arrays and torch tensors with any
    leading dimensions: X (..., 64), scale and offset (..., 3) -> images (..., 3, 64).
    """
    if X.shape[-1] != 64 or scale.shape[-1] != 3 or (offset is not None and offset.shape[-1] != 3):
        raise ValueError(
            f"X must end in 64 pixels and scale, offset in 3 channels, got shapes "
            f"{tuple(X.shape)}, {tuple(scale.shape)}, "
            f"{None if offset is None else tuple(offset.shape)}"
        )
    images = scale[..., :, None] * X[..., None, :]
    return images if offset is None else images + offset[..., :, None]


def draw_colors(
    y, sigma2: str | float, biased: bool = True, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Digit colours of Colored MNIST (Kim et al. 2019), shape (n, 3).

    ``biased=True``: the colour of an image of class ``y`` is ``CLASS_COLORS[y] + e`` with
    ``e ~ N(0, sigma2 I_3)``. ``biased=False``: ``CLASS_COLORS[c] + e`` with ``c`` uniform on 0..9
    and independent of ``y``. ``sigma2`` is a variance > 0 or a name in ``BIAS_LEVELS``.
    Colours are not clipped, so the jitter variance is exactly ``sigma2`` whatever the class.
    """
    y = check_labels("y", y, n_classes=len(CLASS_COLORS))
    sigma2 = resolve_sigma2(sigma2)
    rng = _rng(seed)
    source = y if biased else rng.integers(0, 10, size=len(y))
    return CLASS_COLORS[source] + np.sqrt(sigma2) * rng.standard_normal((len(y), 3))


def color_digits(
    X,
    y,
    sigma2: str | float,
    biased: bool = True,
    seed: int | np.random.Generator = 0,
    return_colors: bool = False,
):
    """Coloured digits: each digit drawn in its colour from ``draw_colors``, on black.

    Returns float32 images of shape (n, 3, 8, 8), and the (n, 3) colours if ``return_colors``.
    """
    X = _check_digits(X)
    colors = draw_colors(check_labels("y", y, len(X), n_classes=len(CLASS_COLORS)), sigma2, biased, seed)
    images = paint(X, colors.astype(np.float32)).reshape(len(X), 3, 8, 8)
    return (images, colors) if return_colors else images


def group_shares(minority_group: int, minority_share: float) -> np.ndarray:
    """Probabilities of the three groups: ``minority_share`` for the minority, the rest split evenly.

    ``minority_share = 1/3`` is the balanced (unbiased) case.
    """
    n_groups = len(GROUP_COLORS)
    check_int("minority_group", minority_group, 0, n_groups - 1)
    check_real("minority_share", minority_share, 0, 1.0 / n_groups, low_open=True)
    shares = np.full(n_groups, (1.0 - minority_share) / (n_groups - 1))
    shares[minority_group] = minority_share
    return shares


def draw_groups(n: int, shares, seed: int | np.random.Generator = 0) -> np.ndarray:
    """The group (0, 1 or 2) of each of ``n`` images, drawn independently with ``shares``."""
    shares = np.asarray(shares, dtype=np.float64)
    if shares.shape != (len(GROUP_COLORS),) or np.any(shares < 0) or not np.isclose(shares.sum(), 1):
        raise ValueError(f"shares must be {len(GROUP_COLORS)} probabilities summing to 1, got {shares!r}")
    return _rng(seed).choice(len(GROUP_COLORS), size=n, p=shares)


def group_digits(X, shares, seed: int | np.random.Generator = 0):
    """White digits on a group background: pixel = x * white + (1 - x) * ``GROUP_COLORS[g]``.

    Each image's group ``g`` is drawn by ``draw_groups`` (see ``group_shares``; uniform shares
    give balanced, unbiased data), independently of its class.
    Returns float32 images of shape (n, 3, 8, 8) and the (n,) group of each image.
    """
    X = _check_digits(X)
    groups = draw_groups(len(X), shares, seed)
    background = GROUP_COLORS.astype(np.float32)[groups]
    return paint(X, 1.0 - background, background).reshape(len(X), 3, 8, 8), groups


#: Background colour of each class in Biased MNIST, RGB in [0, 1]: ReBias' ``COLOUR_MAP``
#: (datasets/biased_mnist.py of renahon/debiasing_surgeon_ffw, from NAVER's ReBias) over 255.
BIASED_MNIST_COLORS = (
    np.array(
        [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [225, 225, 0],
            [225, 0, 225],
            [0, 255, 255],
            [255, 128, 0],
            [255, 0, 128],
            [128, 0, 255],
            [128, 128, 128],
        ]
    )
    / 255.0
)

#: The four colour-label correlations of the Biased-MNIST benchmark as ReBias (Bahng et al. 2020)
#: reports it ("high correlations but with small hints, e.g., rho=0.999", its dataset docstring).
BIASED_MNIST_RHOS = (0.99, 0.995, 0.997, 0.999)

#: rho at which every class has every colour equally often: the unbiased test set and the
#: bias-balanced set (ReBias: "perfectly unbiased with rho=0.1").
BALANCED_RHO = 0.1


def draw_bias_colors(y, rho: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Background colour index (n,) of every image in ReBias' assignment (``_update_bias_indices``).

    Within each class c of n_c images, taken in a random order: the first ``int(n_c * rho)`` get
    colour c (bias-aligned); the others are cut into chunks of ``ceil((n_c - int(n_c rho)) / 9)``
    consecutive images, and chunk j gets the j-th of the other nine colours in a random order
    (bias-conflicting). The share of aligned images is ``rho`` up to rounding, for every class.
    """
    y = check_labels("y", y, n_classes=len(BIASED_MNIST_COLORS))
    rho = check_real("rho", rho, 0.0, 1.0)
    rng = _rng(seed)
    n_colors = len(BIASED_MNIST_COLORS)
    colors = np.empty(len(y), dtype=np.int64)
    for c in range(n_colors):  # ten classes: a loop over classes, not images
        idx = rng.permutation(np.flatnonzero(y == c))
        n_aligned = int(len(idx) * rho)
        colors[idx[:n_aligned]] = c
        rest = idx[n_aligned:]
        if len(rest):
            others = rng.permutation([(c + k) % n_colors for k in range(1, n_colors)])
            chunk = int(np.ceil(len(rest) / (n_colors - 1)))
            colors[rest] = others[np.arange(len(rest)) // chunk]
    return colors


def biased_mnist(X, y, rho: float, seed: int | np.random.Generator = 0):
    """Biased MNIST on the 8x8 digits: white digits on the background colour of ``draw_bias_colors``.

    A pixel is ``x * white + (1 - x) * BIASED_MNIST_COLORS[b]`` for grey level x in [0, 1], as the
    group digits are painted. ReBias first binarises its 28x28 digits (any ink is white); at 8x8
    that would thicken every stroke into a blob, so the grey levels are kept (data/README.md).
    Returns float32 images (n, 3, 8, 8), the colour index ``b`` (n,) and ``aligned`` (n,) bool:
    the image has its class's colour (bias-aligned) or another (bias-conflicting).
    """
    X = _check_digits(X)
    y = check_labels("y", y, len(X), n_classes=len(BIASED_MNIST_COLORS))
    colors = draw_bias_colors(y, rho, seed)
    background = BIASED_MNIST_COLORS.astype(np.float32)[colors]
    images = paint(X, 1.0 - background, background).reshape(len(X), 3, 8, 8)
    return images, colors, colors == y
