"""Coloured digits: colour statistics, unbiased colours, shifts, groups, pools and validation."""

import numpy as np
import pytest

from earlybias.data.colored import (
    BALANCED_RHO,
    BIAS_LEVELS,
    BIASED_MNIST_COLORS,
    CLASS_COLORS,
    GROUP_COLORS,
    LEVEL_NAMES,
    PAPER_BIAS_LEVELS,
    biased_mnist,
    color_digits,
    draw_bias_colors,
    draw_shifts,
    group_digits,
    group_shares,
    paint,
    resolve_sigma2,
    shift_digits,
    shifted_copies,
)
from earlybias.data.digits import digits_pools, load_digits

N = 40_000  # draws for the statistics below: the sample variance is within ~2 % of sigma2


@pytest.fixture(scope="module")
def labels():
    return np.random.default_rng(1).integers(0, 10, size=N)


def _ones(n):
    return np.ones((n, 64))


@pytest.mark.parametrize("sigma2", [0.02, 0.6])
def test_biased_colours_have_class_means_and_jitter_variance_sigma2(labels, sigma2):
    _, colors = color_digits(_ones(N), labels, sigma2, biased=True, seed=0, return_colors=True)
    jitter = colors - CLASS_COLORS[labels]
    for c in range(10):
        np.testing.assert_allclose(
            colors[labels == c].mean(0), CLASS_COLORS[c], atol=5 * np.sqrt(sigma2 / (labels == c).sum())
        )
    np.testing.assert_allclose(jitter.var(0), sigma2, rtol=0.04)
    # Isotropic: the channels' jitters are uncorrelated.
    assert np.abs(np.corrcoef(jitter.T) - np.eye(3)).max() < 0.03


def test_unbiased_colours_do_not_reveal_the_class(labels):
    sigma2 = BIAS_LEVELS["very_high"]
    nearest = lambda colors: np.argmin(((colors[:, None, :] - CLASS_COLORS[None]) ** 2).sum(-1), axis=1)
    _, biased = color_digits(_ones(N), labels, sigma2, biased=True, seed=0, return_colors=True)
    _, unbiased = color_digits(_ones(N), labels, sigma2, biased=False, seed=0, return_colors=True)
    # With little jitter the nearest class colour names the label of a biased image ...
    assert (nearest(biased) == labels).mean() > 0.85
    # ... and only chance (1/10) of an unbiased one, whose colour is independent of the class.
    assert abs((nearest(unbiased) == labels).mean() - 0.1) < 0.01
    # The unbiased colour distribution is the same for every class.
    means = np.stack([unbiased[labels == c].mean(0) for c in range(10)])
    np.testing.assert_allclose(means, CLASS_COLORS.mean(0)[None].repeat(10, 0), atol=0.03)


def test_images_are_intensity_times_colour():
    X, y = load_digits()
    images, colors = color_digits(X[:50], y[:50], "high", seed=3, return_colors=True)
    assert images.shape == (50, 3, 8, 8) and images.dtype == np.float32
    expected = colors[:, :, None] * X[:50, None, :]
    np.testing.assert_allclose(images.reshape(50, 3, 64), expected, rtol=1e-6, atol=1e-6)


def test_colouring_is_deterministic_for_a_seed():
    X, y = load_digits()
    a = color_digits(X[:100], y[:100], 0.1, seed=7)
    np.testing.assert_array_equal(a, color_digits(X[:100], y[:100], 0.1, seed=7))
    assert not np.array_equal(a, color_digits(X[:100], y[:100], 0.1, seed=8))


@pytest.mark.parametrize("levels", [BIAS_LEVELS, PAPER_BIAS_LEVELS])
def test_named_levels_are_ordered_from_strong_to_weak_bias(levels):
    assert tuple(levels) == LEVEL_NAMES == ("very_high", "high", "low", "very_low")
    values = list(levels.values())
    assert values == sorted(values) and len(set(values)) == 4
    assert resolve_sigma2("low") == BIAS_LEVELS["low"] and resolve_sigma2(0.3) == 0.3


def test_the_papers_levels_are_the_jitter_variances_of_digitwdb():
    # README of BiDAlab/IFBiD: very high 0.02, high 0.03, low 0.04, very low 0.05.
    assert list(PAPER_BIAS_LEVELS.values()) == [0.02, 0.03, 0.04, 0.05]


def test_shift_moves_each_digit_by_at_most_one_pixel():
    X, _ = load_digits()
    shifted = shift_digits(X[:200], seed=0)
    padded = np.pad(X[:200].reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    candidates = np.stack(
        [padded[:, 1 - dy : 9 - dy, 1 - dx : 9 - dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=1
    )
    match = (np.abs(candidates - shifted.reshape(-1, 1, 8, 8)) < 1e-7).all(axis=(2, 3))
    assert match.any(axis=1).all()
    assert (~match[:, 4]).mean() > 0.5  # most digits moved (offset (0, 0) is 1 case in 9)
    np.testing.assert_array_equal(shifted, shift_digits(X[:200], seed=0))


def test_shifted_copies_move_a_pixel_by_the_offset_of_their_index():
    X = np.zeros((1, 64))
    X[0, 3 * 8 + 4] = 1.0  # one lit pixel at row 3, column 4
    copies = shifted_copies(X).reshape(9, 8, 8)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            lit = np.argwhere(copies[(dy + 1) * 3 + dx + 1] == 1.0)
            assert lit.tolist() == [[3 + dy, 4 + dx]]
    edge = np.zeros((1, 64))
    edge[0, 0] = 1.0  # a pixel moved off the image is gone, not wrapped round
    assert shifted_copies(edge)[0].sum() == 0.0 and shifted_copies(edge)[8].sum() == 1.0


def test_shift_indices_are_uniform_over_the_nine_offsets():
    counts = np.bincount(draw_shifts(N, seed=0), minlength=9)
    assert len(counts) == 9
    np.testing.assert_allclose(counts / N, 1 / 9, atol=0.01)


def test_group_digits_are_white_on_the_group_background(labels):
    shares = group_shares(minority_group=2, minority_share=0.1)
    np.testing.assert_allclose(shares, [0.45, 0.45, 0.1])
    X = np.zeros((N, 64))
    X[:, 0] = 1.0  # one white pixel, the rest background
    images, groups = group_digits(X, shares, seed=0)
    np.testing.assert_allclose(np.bincount(groups, minlength=3) / N, shares, atol=0.01)
    np.testing.assert_allclose(images[:, :, 0, 0], 1.0)
    np.testing.assert_allclose(images[:, :, 4, 4], GROUP_COLORS[groups], atol=1e-6)
    # Groups are drawn independently of the class (of the labels drawn for the same images).
    for c in (0, 5):
        np.testing.assert_allclose(
            np.bincount(groups[labels == c], minlength=3) / (labels == c).sum(), shares, atol=0.03
        )


@pytest.mark.parametrize("rho", [0.99, 0.999, 0.5])
def test_biased_mnist_gives_each_class_its_colour_in_a_share_rho(labels, rho):
    # ReBias' rule per class: int(n_c rho) aligned, the rest in equal chunks over the other nine
    # colours (ceil of the rest over nine, so every other colour gets that many but the last).
    colors = draw_bias_colors(labels, rho, seed=3)
    for c in range(10):
        own = colors[labels == c]
        n_c = len(own)
        assert (own == c).sum() == int(n_c * rho)
        rest = n_c - int(n_c * rho)
        counts = np.bincount(own[own != c], minlength=10)
        assert counts[c] == 0 and counts.sum() == rest
        chunk = int(np.ceil(rest / 9))
        others = np.sort(counts[np.arange(10) != c])[::-1]
        assert np.array_equal(others, np.clip(rest - chunk * np.arange(9), 0, chunk))


def test_balanced_biased_mnist_has_every_class_with_every_colour_alike(labels):
    colors = draw_bias_colors(labels, BALANCED_RHO, seed=0)
    table = np.zeros((10, 10), int)
    np.add.at(table, (labels, colors), 1)
    per_class = np.bincount(labels, minlength=10)
    # rho = 1/10: each (class, colour) cell holds a tenth of the class, up to the rounding of chunks.
    assert np.all(np.abs(table - per_class[:, None] / 10) <= per_class[:, None] / 90 + 1)


def test_biased_mnist_images_are_white_digits_on_the_bias_colour():
    X = np.zeros((4, 64), np.float32)
    X[:, 10] = 1.0  # one pixel of full ink
    y = np.array([0, 1, 2, 3])
    images, colors, aligned = biased_mnist(X, y, rho=1.0, seed=0)
    assert np.array_equal(colors, y) and aligned.all()
    flat = images.reshape(4, 3, 64)
    np.testing.assert_allclose(flat[:, :, 0], BIASED_MNIST_COLORS[y], rtol=1e-6)  # background
    np.testing.assert_allclose(flat[:, :, 10], 1.0)  # ink is white whatever the colour
    again = biased_mnist(X, y, rho=0.5, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(again, biased_mnist(X, y, rho=0.5, seed=5)))


def test_pools_are_disjoint_and_cover_the_digits():
    pools = digits_pools(seed=0)
    rows = {p: {r.tobytes() for part in ("X_train", "X_test") for r in pools[p][part]} for p in "AB"}
    assert not rows["A"] & rows["B"]
    assert len(rows["A"]) + len(rows["B"]) == len(load_digits()[0])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: resolve_sigma2("extreme"), "bias must be one of"),
        (lambda: resolve_sigma2(0.0), "bias must be a finite number > 0"),
        (lambda: color_digits(np.ones((3, 63)), np.zeros(3, int), 0.1), "X must have shape"),
        (lambda: color_digits(np.ones((3, 64)), np.array([0, 1, 10]), 0.1), r"labels in \[0, 10\)"),
        (lambda: color_digits(np.ones((3, 64)), np.zeros(2, int), 0.1), r"label per sample \(3\)"),
        (lambda: color_digits(np.ones((3, 64)), np.zeros(3, int), 0.1, seed=-1), "seed must be"),
        (lambda: group_shares(3, 0.1), "minority_group must be"),
        (lambda: group_shares(0, 0.5), "minority_share must be a finite number > 0 and <= 0.333"),
        (lambda: group_digits(np.ones((3, 64)), [0.5, 0.5]), "shares must be 3"),
        (lambda: paint(np.ones((3, 64)), np.ones((3, 4))), "scale, offset in 3 channels"),
        (lambda: draw_bias_colors(np.zeros(3, int), 1.5), "rho must be"),
        (lambda: biased_mnist(np.ones((3, 64)), np.zeros(2, int), 0.9), r"label per sample \(3\)"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
