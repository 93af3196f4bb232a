"""The judges: one small classifier per factor, in place of the paper's CLIP.

Park et al. (2025, Sec. 3) judge each generated image with CLIP, asking whether it matches the
first prompt or the second. Here every factor of an image is known exactly when it is drawn, so
each factor gets its own classifier, trained on clean images of the world with every value
equally likely (a rare value must be judged as well as a common one). A sample "has" a value of a
factor when that factor's judge says so.

The five judges share one architecture (``earlybias.zoo.grouped.ConvNet``: three 3 x 3
convolutions, the first of stride 1 so that stripes and dots stay visible, then a linear readout)
and are trained as one tensor program (``grouped.forward`` with M = 5 models), each on its own
factor's labels: a cross-entropy over that factor's values only (the unused outputs masked).
The training images carry a little pixel noise and a wider brightness jitter than the model's
world, so that the judges are not thrown by a sample's small imperfections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from earlybias.data.shapes import FACTORS as WORLD_FACTORS
from earlybias.data.shapes import make_shapes
from earlybias.diffusion.model import FACTORS, N_VALUES, world
from earlybias.validation import check_int, check_seed
from earlybias.zoo import grouped

__all__ = ["JudgeConfig", "Judges", "train_judges", "trained_judges", "judge_world"]

JUDGES_VERSION = 1


@dataclass(frozen=True)
class JudgeConfig:
    image_size: int = 16
    channels: tuple[int, ...] = (16, 32, 32)
    n_train: int = 12000
    n_test: int = 2000
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0

    def __post_init__(self):
        check_int("n_train", self.n_train, 256)
        check_int("n_test", self.n_test, 100)
        check_int("epochs", self.epochs, 1)
        check_seed(self.seed)

    @property
    def net(self) -> grouped.ConvNet:
        return grouped.ConvNet(3, self.image_size, tuple(self.channels), max(N_VALUES), (1, 2, 2))


def judge_world(image_size: int = 16, *, noise: float = 0.0, brightness: float = 0.1):
    """The model's world with every value of the five factors equally likely."""
    uniform = {f: tuple([1 / len(WORLD_FACTORS[f])] * len(WORLD_FACTORS[f])) for f in FACTORS}
    base = world(0.0, image_size)
    return replace(base, priors={**base.priors, **uniform}, noise=noise, brightness=brightness)


def _data(n: int, seed: int, image_size: int, noise: float, brightness: float):
    d = make_shapes(n, seed, judge_world(image_size, noise=noise, brightness=brightness))
    labels = torch.from_numpy(np.stack([d.factors[f] for f in FACTORS], axis=1).astype(np.int64))
    return d.images * 2 - 1, labels


# Logits of values a factor does not have are masked out: judge m sees only its factor's values.
_MASK = torch.tensor([[0.0 if v < k else -1e9 for v in range(max(N_VALUES))] for k in N_VALUES])


class Judges:
    """The five trained judges. ``predict(images)`` (images in [-1, 1], (B, 3, S, S)) returns
    (B, 5) value codes in ``FACTORS`` order; ``accuracy`` holds each judge's held-out accuracy."""

    def __init__(self, config: JudgeConfig, weights: dict[str, torch.Tensor], accuracy: np.ndarray):
        self.config, self.weights, self.accuracy = config, weights, accuracy

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """(5, B, 5) masked logits of every judge on every image."""
        out = grouped.predict(self.config.net, self.weights, images.clamp(-1, 1))
        return out + _MASK[:, None, :]

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(images).argmax(dim=2).T.contiguous()


def train_judges(config: JudgeConfig = JudgeConfig()) -> Judges:
    """Train the five judges together (module docstring) and measure them on held-out clean images."""
    images, labels = _data(config.n_train, config.seed + 101, config.image_size, 0.04, 0.18)
    net, M = config.net, len(FACTORS)
    params = {
        k: v.requires_grad_(True)
        for k, v in grouped.init_params(net, [config.seed * 10 + m for m in range(M)]).items()
    }
    opt = torch.optim.Adam(params.values(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    steps = config.n_train // config.batch_size
    total = config.epochs * steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=total)
    for _ in range(config.epochs):
        order = torch.randperm(config.n_train, generator=gen)
        for s in range(steps):
            idx = order[s * config.batch_size : (s + 1) * config.batch_size]
            out = grouped.forward(net, params, images[idx]) + _MASK[:, None, :]  # (M, B, K)
            loss = F.cross_entropy(out.flatten(0, 1), labels[idx].T.flatten(), reduction="mean") * M
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    weights = {k: v.detach() for k, v in params.items()}
    test_x, test_y = _data(config.n_test, config.seed + 202, config.image_size, 0.0, 0.1)
    judges = Judges(config, weights, np.zeros(M))
    judges.accuracy = (judges.predict(test_x) == test_y).float().mean(dim=0).numpy()
    return judges


def trained_judges(config: JudgeConfig = JudgeConfig(), *, cache_dir=None) -> Judges:
    """The judges of ``config``, from the cache (``earlybias.zoo.tensorcache``) or trained."""
    from earlybias.zoo.tensorcache import cache_path, load_tensors, save_tensors

    path = cache_path("diffusion-judges", asdict(config), JUDGES_VERSION, cache_dir)
    if path.is_file():
        t = load_tensors(path)
        acc = t.pop("accuracy").numpy()
        return Judges(config, t, acc)
    judges = train_judges(config)
    save_tensors(
        path, {**judges.weights, "accuracy": torch.from_numpy(judges.accuracy)}, {"config": asdict(config)}
    )
    return judges
