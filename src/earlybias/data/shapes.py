"""The shapes world: procedural RGB images of one object with known factors, for the chapters on
pruning (multi-label attribute classification in the manner of CelebA) and diffusion (generation
conditioned on the factors, judged exactly).

An image shows one object on a background. Its **factors** are categorical (``FACTORS``): shape,
color, texture, size, horizontal position, background and outline. Each is drawn from its prior
(``PRIORS``: some values are rare), then **couplings** make factors depend on each other: a coupling
``(source, target, strength, mapping)`` sets, with probability ``strength``, the target factor to
``mapping[source value]`` (source values absent from the mapping leave the target alone). This one
mechanism gives the pruning chapter its protected attributes (``protected_couplings``: light
backgrounds carry stripes and circles, large objects are red and on the left) and the diffusion
chapter its correlated factors (``Coupling("shape", "color", rho, ...)``).

From the factors follow about a dozen **binary attributes** (``ATTRIBUTES``) with a spread of
base rates, three of them rare (under 10 %), and two **protected** ones (``PROTECTED``).

Nuisance keeps a classifier good but not perfect: the object's position and size jitter, its
color varies in brightness, a bar of random grey may occlude part of the image, and pixel noise
is added. Rendering is one vectorised torch program over a chunk of images (no loop over images),
on a twice-finer grid averaged down, so edges are anti-aliased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from earlybias.validation import check_int, check_real, check_seed

__all__ = [
    "FACTORS",
    "PRIORS",
    "COLORS",
    "ATTRIBUTES",
    "PROTECTED",
    "Coupling",
    "ShapesWorld",
    "Shapes",
    "protected_couplings",
    "sample_factors",
    "render",
    "attributes",
    "make_shapes",
]

#: Every factor and its values, in the order of their integer codes.
FACTORS: dict[str, tuple[str, ...]] = {
    "shape": ("circle", "square", "triangle", "cross"),
    "color": ("red", "green", "blue", "yellow", "purple"),
    "texture": ("solid", "striped", "dotted"),
    "size": ("small", "large"),
    "position": ("left", "middle", "right"),
    "background": ("dark", "light"),
    "outline": ("none", "ring"),
}

#: Prior probability of each value of each factor (before couplings): uneven, some values rare.
PRIORS: dict[str, tuple[float, ...]] = {
    "shape": (0.36, 0.31, 0.25, 0.08),
    "color": (0.30, 0.25, 0.20, 0.17, 0.08),
    "texture": (0.55, 0.30, 0.15),
    "size": (0.60, 0.40),
    "position": (0.30, 0.45, 0.25),
    "background": (0.50, 0.50),
    "outline": (0.93, 0.07),
}

#: RGB of each color value in [0, 1]: far apart, so color is learnable from a few pixels.
COLORS = np.array(
    [
        [0.90, 0.15, 0.12],  # red
        [0.15, 0.72, 0.20],  # green
        [0.18, 0.32, 0.92],  # blue
        [0.92, 0.85, 0.15],  # yellow
        [0.62, 0.22, 0.78],  # purple
    ],
    dtype=np.float32,
)


def _one_value_each(factor: str, *values: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """One binary attribute per value of ``factor``, named after the value."""
    return {v: (factor, (v,)) for v in values}


#: Binary attributes: name -> (factor, values that make it true).
ATTRIBUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    **_one_value_each("shape", "circle", "square", "cross"),
    **_one_value_each("color", "red", "blue", "purple"),
    "warm_color": ("color", ("red", "yellow")),
    **_one_value_each("texture", "striped", "dotted"),
    **_one_value_each("size", "large"),
    **_one_value_each("position", "left"),
    "light_background": ("background", ("light",)),
    "outlined": ("outline", ("ring",)),
}

#: The protected attributes (CelebA's "Male" and "Young" play this role in the pruning paper).
PROTECTED = ("light_background", "large")


@dataclass(frozen=True)
class Coupling:
    """With probability ``strength``, set factor ``target`` to ``mapping[value of source]``."""

    source: str
    target: str
    strength: float
    mapping: dict[str, str]

    def __post_init__(self):
        for role, name in (("source", self.source), ("target", self.target)):
            if name not in FACTORS:
                raise ValueError(f"coupling {role} must be one of {', '.join(FACTORS)}; got {name!r}")
        if self.source == self.target:
            raise ValueError(f"a coupling needs two factors, got {self.source!r} twice")
        check_real("strength", self.strength, 0.0, 1.0)
        for s, t in self.mapping.items():
            if s not in FACTORS[self.source] or t not in FACTORS[self.target]:
                raise ValueError(
                    f"coupling mapping {s!r} -> {t!r}: allowed {self.source} values "
                    f"{FACTORS[self.source]} and {self.target} values {FACTORS[self.target]}"
                )


def protected_couplings(strength: float) -> tuple[Coupling, ...]:
    """The pruning chapter's correlations of the protected attributes with targets, each with
    probability ``strength``: light backgrounds carry stripes and circles, large objects are red
    and on the left. Several targets per protected attribute, so that bias amplification is
    defined for enough (target, protected) pairs to rank attributes."""
    return (
        Coupling("background", "texture", strength, {"light": "striped"}),
        Coupling("background", "shape", strength / 2, {"light": "circle"}),
        Coupling("size", "color", strength, {"large": "red"}),
        Coupling("size", "position", strength / 2, {"large": "left"}),
    )


@dataclass(frozen=True)
class ShapesWorld:
    """The world's knobs: image size, couplings and nuisance.

    ``noise``: standard deviation of the Gaussian pixel noise; ``occlusion``: probability of a
    grey bar across the image; ``brightness``: half-width of the uniform brightness jitter of the
    object's color; ``priors``: overrides of ``PRIORS`` (factor -> probabilities).
    """

    image_size: int = 16
    couplings: tuple[Coupling, ...] = ()
    noise: float = 0.06
    occlusion: float = 0.25
    brightness: float = 0.2
    priors: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self):
        check_int("image_size", self.image_size, 8, 128)
        check_real("noise", self.noise, 0.0, 1.0)
        check_real("occlusion", self.occlusion, 0.0, 1.0)
        check_real("brightness", self.brightness, 0.0, 0.5)
        for name, p in self.priors.items():
            if name not in FACTORS or len(p) != len(FACTORS[name]):
                raise ValueError(f"priors[{name!r}] must give one probability per value of a factor")
            if min(p) < 0 or abs(sum(p) - 1) > 1e-6:
                raise ValueError(f"priors[{name!r}] must be probabilities summing to 1, got {p}")

    def prior(self, name: str) -> np.ndarray:
        return np.asarray(self.priors.get(name, PRIORS[name]), dtype=float)


@dataclass
class Shapes:
    """A drawn data set: ``images`` (n, 3, S, S) float32 in [0, 1], ``factors`` (name -> (n,) int
    codes) and ``attributes`` (n, len(ATTRIBUTES)) uint8."""

    images: torch.Tensor
    factors: dict[str, np.ndarray]
    attributes: np.ndarray


def sample_factors(n: int, seed: int, world: ShapesWorld = ShapesWorld()) -> dict[str, np.ndarray]:
    """Draw the factors of ``n`` images: priors, then the couplings in order."""
    n = check_int("n", n, 1)
    rng = np.random.default_rng([check_seed(seed), 0])
    factors = {name: rng.choice(len(values), size=n, p=world.prior(name)) for name, values in FACTORS.items()}
    for c in world.couplings:
        lookup = np.full(len(FACTORS[c.source]), -1)
        for s, t in c.mapping.items():
            lookup[FACTORS[c.source].index(s)] = FACTORS[c.target].index(t)
        forced = lookup[factors[c.source]]
        apply = (rng.random(n) < c.strength) & (forced >= 0)
        factors[c.target] = np.where(apply, forced, factors[c.target])
    return factors


def attributes(factors: dict[str, np.ndarray]) -> np.ndarray:
    """The binary attributes (n, len(ATTRIBUTES)) uint8 of the factors, in ``ATTRIBUTES`` order."""
    columns = [
        np.isin(factors[f], [FACTORS[f].index(v) for v in values]) for f, values in ATTRIBUTES.values()
    ]
    return np.stack(columns, axis=1).astype(np.uint8)


# Inside-tests of the four shapes at offsets (dx, dy) from the centre in units of the object's
# radius, in ``FACTORS["shape"]`` order.
_SHAPES = (
    lambda dx, dy: dx * dx + dy * dy <= 1.0,  # circle
    lambda dx, dy: torch.maximum(dx.abs(), dy.abs()) <= 0.82,  # square
    lambda dx, dy: (dy <= 0.75) & (dx.abs() <= (dy + 0.95) / 1.7 * 0.95),  # triangle, apex up
    lambda dx, dy: (
        ((dx.abs() <= 0.3) & (dy.abs() <= 0.95)) | ((dy.abs() <= 0.3) & (dx.abs() <= 0.95))
    ),  # cross
)


def _inside(shape: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """Whether each point lies on its image's shape: one vectorised test per shape, not per image."""
    inside = torch.zeros(torch.broadcast_shapes(dx.shape, dy.shape), dtype=torch.bool)
    for code, test in enumerate(_SHAPES):
        rows = torch.nonzero(shape == code)[:, 0]
        if len(rows):
            inside[rows] = test(dx[rows], dy[rows])
    return inside


def _render_chunk(f: dict[str, torch.Tensor], world: ShapesWorld, gen: torch.Generator) -> torch.Tensor:
    n, S = f["shape"].shape[0], world.image_size
    fine = 2 * S  # drawn on a twice finer grid, then averaged: anti-aliased edges
    coords = (torch.arange(fine, dtype=torch.float32) + 0.5) / fine
    u, v = coords[None, None, :], coords[None, :, None]  # x along columns, y along rows

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=gen)

    radius = torch.where(f["size"] == 1, uniform(0.30, 0.36), uniform(0.18, 0.23))
    cx = torch.tensor([0.3, 0.5, 0.7])[f["position"]] + uniform(-0.06, 0.06)
    cy = 0.5 + uniform(-0.12, 0.12)
    r, cx, cy = radius[:, None, None], cx[:, None, None], cy[:, None, None]
    dx, dy = (u - cx) / r, (v - cy) / r
    inside = _inside(f["shape"], dx, dy)

    # Texture: stripes along the diagonal, or a grid of dots, each about a quarter of the object.
    period = 2 * radius[:, None, None] / 2.5
    stripes = torch.remainder((u + v) / period, 1.0) < 0.5
    du, dv = torch.remainder(u / period, 1.0) - 0.5, torch.remainder(v / period, 1.0) - 0.5
    dots = du * du + dv * dv < 0.09
    texture = f["texture"][:, None, None]
    lit = (texture == 0) | ((texture == 1) & stripes) | ((texture == 2) & dots)
    shade = 0.35 + 0.65 * lit.float()

    # Compose by blending (cheaper than selecting on three channels): background, object, ring.
    color = (
        torch.from_numpy(COLORS)[f["color"]] * (1.0 + uniform(-world.brightness, world.brightness))[:, None]
    )
    grey = torch.where(f["background"] == 1, uniform(0.72, 0.86), uniform(0.08, 0.22))[:, None, None, None]
    obj = color[:, :, None, None] * shade[:, None]
    image = grey + inside[:, None].float() * (obj - grey)
    ringed = torch.nonzero(f["outline"] == 1)[:, 0]  # rare: drawn for those images alone
    if len(ringed):
        outer = _inside(f["shape"][ringed], dx[ringed] / 1.3, dy[ringed] / 1.3)
        ring = (outer & ~inside[ringed])[:, None].float()
        image[ringed] += ring * (0.97 - image[ringed])

    # Occluder: a bar of random grey, horizontal or vertical, across a random part of the image.
    occluded = torch.rand(n, generator=gen) < world.occlusion
    vertical = torch.rand(n, generator=gen) < 0.5
    at = uniform(0.15, 0.85)[:, None, None]
    across = torch.where(vertical[:, None, None], (u - at).abs(), (v - at).abs()) < 0.07
    bar = (occluded[:, None, None] & across)[:, None].float()
    image += bar * (uniform(0.3, 0.6)[:, None, None, None] - image)

    image = torch.nn.functional.avg_pool2d(image, 2)
    image = image + world.noise * torch.randn(image.shape, generator=gen)
    return image.clamp_(0.0, 1.0)


def render(
    factors: dict[str, np.ndarray], seed: int, world: ShapesWorld = ShapesWorld(), *, chunk: int = 1024
) -> torch.Tensor:
    """Draw the images of ``factors`` as (n, 3, S, S) float32 in [0, 1]; nuisance from ``seed``.

    Chunk c uses its own generator seeded from ``(seed, c)``, so an image depends only on its
    factors, the seed and its index, and memory stays bounded for any n.
    """
    missing = [name for name in FACTORS if name not in factors]
    if missing:
        raise ValueError(f"factors lacks {missing}; a shapes image needs every factor of {list(FACTORS)}")
    n = len(factors["shape"])
    for name, codes in factors.items():
        codes = np.asarray(codes)
        if codes.shape != (n,) or codes.min(initial=0) < 0 or codes.max(initial=0) >= len(FACTORS[name]):
            raise ValueError(f"factors[{name!r}] must be {n} integer codes in [0, {len(FACTORS[name])})")
    seed, chunk = check_seed(seed), check_int("chunk", chunk, 1)
    out = torch.empty(n, 3, world.image_size, world.image_size)
    for c, start in enumerate(range(0, n, chunk)):
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 1, c]).generate_state(1)[0]))
        part = {
            k: torch.from_numpy(np.asarray(v[start : start + chunk], dtype=np.int64))
            for k, v in factors.items()
        }
        out[start : start + chunk] = _render_chunk(part, world, gen)
    return out


def make_shapes(n: int, seed: int, world: ShapesWorld = ShapesWorld()) -> Shapes:
    """``n`` images of the world drawn from ``seed``: factors, images and binary attributes."""
    factors = sample_factors(n, seed, world)
    return Shapes(render(factors, seed, world), factors, attributes(factors))
