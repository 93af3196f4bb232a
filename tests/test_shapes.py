"""The shapes world: factors drawn as specified, images that show them, couplings as knobs."""

import math

import numpy as np
import pytest
import torch

from earlybias.data.shapes import (
    ATTRIBUTES,
    COLORS,
    FACTORS,
    PRIORS,
    PROTECTED,
    Coupling,
    ShapesWorld,
    attributes,
    make_shapes,
    protected_couplings,
    render,
    sample_factors,
)

CLEAN = ShapesWorld(image_size=32, noise=0.0, occlusion=0.0, brightness=0.0)


def one(**values) -> dict[str, np.ndarray]:
    """The factors of one image: the first value of every factor unless given."""
    return {
        name: np.array([FACTORS[name].index(values.get(name, vals[0]))]) for name, vals in FACTORS.items()
    }


def test_same_seed_same_images_and_another_seed_other_images():
    a, b, c = make_shapes(50, 3), make_shapes(50, 3), make_shapes(50, 4)
    assert torch.equal(a.images, b.images) and np.array_equal(a.attributes, b.attributes)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (50, 3, 16, 16) and a.images.dtype == torch.float32
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0


@pytest.mark.parametrize("color", FACTORS["color"])
def test_the_object_has_its_color_and_the_background_its_grey(color):
    image = render(one(color=color, size="large", position="middle", background="dark"), 0, CLEAN)[0]
    centre = image[:, 14:18, 14:18].mean(dim=(1, 2)).numpy()
    assert np.allclose(centre, COLORS[FACTORS["color"].index(color)], atol=0.02)
    corner = image[:, :3, :3]
    assert corner.max() < 0.23 and (corner.std(dim=0) < 1e-6).all(), "a dark grey background"


@pytest.mark.parametrize(
    "shape, area",
    # Area in units of the radius squared: pi r^2; the square's half-side is 0.82 r; the cross is
    # two 0.6 x 1.9 bars; the triangle spans dy in [-0.95, 0.75] with half-width 0.95 (dy + 0.95) / 1.7.
    [
        ("circle", math.pi),
        ("square", 1.64**2),
        ("cross", 2 * 0.6 * 1.9 - 0.6**2),
        ("triangle", 0.95 / 1.7 * 1.7**2),
    ],
)
def test_the_object_covers_the_area_of_its_shape(shape, area):
    n = 400
    f = {k: np.repeat(v, n) for k, v in one(shape=shape, color="red", size="large").items()}
    images = render(f, 1, CLEAN)
    red = (images[:, 0] - images[:, 2]).clamp(min=0) / (COLORS[0, 0] - COLORS[0, 2] - 0.0)
    covered = red.sum(dim=(1, 2)) / 32**2  # anti-aliased coverage, in units of the image
    # Large radii are uniform on [0.30, 0.36]: E[r^2] = (0.36^3 - 0.30^3) / (3 * 0.06).
    expected = area * (0.36**3 - 0.30**3) / (3 * 0.06)
    assert covered.mean().item() == pytest.approx(expected, rel=0.04)


def test_stripes_darken_about_half_of_the_object():
    n = 200
    solid = render({k: np.repeat(v, n) for k, v in one(shape="square", size="large").items()}, 2, CLEAN)
    factors = one(shape="square", size="large", texture="striped")
    striped = render({k: np.repeat(v, n) for k, v in factors.items()}, 2, CLEAN)
    inside = solid[:, 0] > 0.85  # pixels wholly on the object (the same draws place both alike)
    dark = striped[:, 0][inside] < 0.6  # a stripe shades the color to 35 %
    assert 0.35 < dark.float().mean().item() < 0.65


def test_factors_follow_their_priors():
    n = 40_000
    factors = sample_factors(n, 0)
    for name, prior in PRIORS.items():
        freq = np.bincount(factors[name], minlength=len(prior)) / n
        se = np.sqrt(np.asarray(prior) * (1 - np.asarray(prior)) / n)
        assert np.all(np.abs(freq - prior) < 4 * se), name


@pytest.mark.parametrize("strength", [0.0, 0.6, 1.0])
def test_a_coupling_sets_the_conditional_rate_it_promises(strength):
    n = 40_000
    f = sample_factors(n, 5, ShapesWorld(couplings=protected_couplings(strength)))
    striped, light = f["texture"] == 1, f["background"] == 1
    prior = PRIORS["texture"][1]
    for rate, expected, group in (
        (striped[light].mean(), strength + (1 - strength) * prior, light),
        (striped[~light].mean(), prior, ~light),
    ):
        se = math.sqrt(max(expected * (1 - expected), 1e-4) / group.sum())
        assert abs(rate - expected) < 4 * se + 1e-12


def test_binary_attributes_spread_from_rare_to_common_and_include_the_protected_ones():
    table = attributes(sample_factors(20_000, 1))
    assert table.shape == (20_000, len(ATTRIBUTES)) and 10 <= len(ATTRIBUTES) <= 14
    rates = table.mean(axis=0)
    assert (rates < 0.10).sum() >= 3 and rates.max() > 0.4
    assert set(PROTECTED) <= set(ATTRIBUTES)
    circle = list(ATTRIBUTES).index("circle")
    f = sample_factors(20_000, 1)
    assert np.array_equal(table[:, circle], (f["shape"] == 0).astype(np.uint8))


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Coupling("shape", "colour", 0.5, {}), "coupling target must be one of"),
        (lambda: Coupling("shape", "shape", 0.5, {}), "two factors"),
        (lambda: Coupling("shape", "color", 1.5, {}), "strength must be a finite number >= 0 and <= 1"),
        (lambda: Coupling("shape", "color", 0.5, {"circle": "pink"}), "coupling mapping 'circle' -> 'pink'"),
        (lambda: ShapesWorld(image_size=4), "image_size must be an integer >= 8"),
        (lambda: ShapesWorld(priors={"size": (0.5, 0.6)}), "summing to 1"),
        (lambda: render({"shape": np.array([0])}, 0), "factors lacks"),
        (lambda: render({**one(), "color": np.array([7])}, 0), r"factors\['color'\]"),
    ],
)
def test_bad_input_names_what_is_allowed(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()
