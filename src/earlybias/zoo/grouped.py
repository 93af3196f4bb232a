"""A general batched engine: M small CNNs trained as one tensor program.

The digit zoos' engine (``earlybias.zoo.train``) is specialised and hand-tuned for its two
families. This module is the general one that the pruning, surgeon and diffusion-judge chapters
share: M convolutional networks of one architecture (``ConvNet``), each with its own weights,
initialisation and data order, run as **grouped convolutions** (``groups=M``) and batched matrix
products, so one forward pass serves every model.

- ``ConvNet``: the architecture (3x3 convolutions of stride 2, or 1 where asked, with ReLU, optional
  fully connected hidden layers, then a linear readout);
- ``init_params``: stacked parameters ``{name: (M, ...)}`` named as the ``torch.nn`` module's
  ``state_dict`` (``module(net)``), each model drawn from its own seed like PyTorch's default;
- ``forward``: outputs (M, B, n_outputs) of all models, with optional weight **masks** (pruning);
  ``features``: what the readout reads (M, B, F);
- ``fit``: trains the stacked parameters with Adam or SGD on any loss (``"bce"`` multi-label,
  ``"ce"`` classes), each model on its own shuffles; ``mask_update`` lets a schedule rewrite the
  masks during training (gradual magnitude pruning) and ``transform`` maps what is trained to the
  network's weights (e.g. learned mask scores over frozen weights, the surgeon chapter);
- ``fit_loop``: the naive reference, one ``torch.nn`` module and one optimiser per model, with the
  same draws: a test checks that both agree.

Sum of the models' mean losses is minimised: each model's gradient is its own, and Adam and SGD
act element by element, so the stacked optimiser is exactly M independent ones.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from earlybias.validation import check_choice, check_int, check_real, check_seed

__all__ = [
    "ConvNet",
    "LOSSES",
    "OPTIMIZERS",
    "init_params",
    "module",
    "forward",
    "features",
    "readout",
    "predict",
    "fit",
    "fit_loop",
    "shuffles",
]

LOSSES = ("bce", "ce")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class ConvNet:
    """A small CNN: ``len(channels)`` 3x3 convolutions of padding 1, each followed by ReLU, then
    ``len(hidden)`` fully connected layers with ReLU (none by default), then a linear readout to
    ``n_outputs``. ``strides`` gives each convolution's stride (1 or 2; default: 2 for all): a
    stride-1 first convolution keeps the image's full resolution for the fine detail (edges,
    corners) that a stride 2 averages away."""

    in_channels: int = 3
    image_size: int = 16
    channels: tuple[int, ...] = (16, 32)
    n_outputs: int = 13
    strides: tuple[int, ...] | None = None
    hidden: tuple[int, ...] = ()

    def __post_init__(self):
        check_int("in_channels", self.in_channels, 1)
        check_int("image_size", self.image_size, 4)
        check_int("n_outputs", self.n_outputs, 1)
        if not self.channels or any(isinstance(c, bool) or int(c) != c or c < 1 for c in self.channels):
            raise ValueError(
                f"channels must be a non-empty tuple of positive integers, got {self.channels!r}"
            )
        if self.strides is not None and (
            len(self.strides) != len(self.channels) or any(s not in (1, 2) for s in self.strides)
        ):
            raise ValueError(
                f"strides must give one stride (1 or 2) per convolution ({len(self.channels)}), "
                f"got {self.strides!r}"
            )
        if any(isinstance(h, bool) or int(h) != h or h < 1 for h in self.hidden):
            raise ValueError(f"hidden must be a tuple of positive integers, got {self.hidden!r}")

    @property
    def conv_strides(self) -> tuple[int, ...]:
        """Each convolution's stride (2 unless ``strides`` says otherwise)."""
        return tuple(self.strides) if self.strides is not None else (2,) * len(self.channels)

    @property
    def feature_size(self) -> int:
        """Side of the last feature map: a convolution of stride t maps s to (s - 1) // t + 1."""
        s = self.image_size
        for t in self.conv_strides:
            s = (s - 1) // t + 1
        return s

    @property
    def n_features(self) -> int:
        """Inputs of the first fully connected layer: the last feature map, flattened."""
        return self.channels[-1] * self.feature_size**2

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each parameter of one model, in ``state_dict`` order."""
        out, c_in = {}, self.in_channels
        for i, c in enumerate(self.channels):
            out[f"conv{i}.weight"] = (c, c_in, 3, 3)
            out[f"conv{i}.bias"] = (c,)
            c_in = c
        f_in = self.n_features
        for j, h in enumerate(self.hidden):
            out[f"hidden{j}.weight"] = (h, f_in)
            out[f"hidden{j}.bias"] = (h,)
            f_in = h
        out["fc.weight"] = (self.n_outputs, f_in)
        out["fc.bias"] = (self.n_outputs,)
        return out

    def weight_names(self) -> tuple[str, ...]:
        """The weight matrices and kernels (what pruning prunes; biases are kept)."""
        return tuple(k for k in self.shapes() if k.endswith(".weight"))

    def flops(self) -> int:
        """Multiply-adds of one forward pass of one image (for the benchmark's matmul share)."""
        total, s, c_in = 0, self.image_size, self.in_channels
        for c, t in zip(self.channels, self.conv_strides):
            s = (s - 1) // t + 1
            total += s * s * c * c_in * 9
            c_in = c
        dense = [
            shape for name, shape in self.shapes().items() if name[0] in "hf" and name.endswith("weight")
        ]
        return total + sum(math.prod(shape) for shape in dense)


class _Module(torch.nn.Module):
    def __init__(self, net: ConvNet):
        super().__init__()
        c_in = net.in_channels
        for i, (c, t) in enumerate(zip(net.channels, net.conv_strides)):
            self.add_module(f"conv{i}", torch.nn.Conv2d(c_in, c, 3, stride=t, padding=1))
            c_in = c
        f_in = net.n_features
        for j, h in enumerate(net.hidden):
            self.add_module(f"hidden{j}", torch.nn.Linear(f_in, h))
            f_in = h
        self.fc = torch.nn.Linear(f_in, net.n_outputs)
        self.n_conv, self.n_hidden = len(net.channels), len(net.hidden)

    def forward(self, x):
        for i in range(self.n_conv):
            x = torch.relu(getattr(self, f"conv{i}")(x))
        x = x.flatten(1)
        for j in range(self.n_hidden):
            x = torch.relu(getattr(self, f"hidden{j}")(x))
        return self.fc(x)


def module(net: ConvNet, params: dict[str, torch.Tensor] | None = None) -> torch.nn.Module:
    """One model as an ordinary ``torch.nn`` module, loaded with ``params`` (one model's, no
    leading dimension) when given."""
    m = _Module(net)
    if params is not None:
        m.load_state_dict({k: v.detach().clone() for k, v in params.items()})
    return m


def _generator(seed: int, *stream: int) -> torch.Generator:
    state = np.random.SeedSequence([check_seed(seed), *stream]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def init_params(net: ConvNet, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """Stacked parameters of ``len(seeds)`` models, model m drawn from ``seeds[m]``: every weight and
    bias uniform in +-1/sqrt(fan_in), the bound of PyTorch's default initialisation."""
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one model")
    out = {}
    for name, shape in net.shapes().items():
        fan_in = math.prod(net.shapes()[name.replace(".bias", ".weight")][1:])
        bound = 1.0 / math.sqrt(fan_in)
        draws = [
            (2 * torch.rand(shape, generator=_generator(s, 0, hash_name(name))) - 1) * bound for s in seeds
        ]
        out[name] = torch.stack(draws)
    return out


def hash_name(name: str) -> int:
    """A stable small integer for a parameter name (Python's ``hash`` of a str is salted)."""
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little") % (2**31)


def _effective(params, masks, transform):
    weights = transform(params) if transform is not None else params
    if masks:
        weights = {k: (v * masks[k] if k in masks else v) for k, v in weights.items()}
    return weights


def features(net: ConvNet, weights: dict[str, torch.Tensor], x: torch.Tensor, masks=None) -> torch.Tensor:
    """What the readout of each of the M models of ``weights`` reads, (M, B, F): the last
    feature map, flattened, after the hidden layers.
    ``x``: (B, C, H, W), the same images for every model, or (M, B, C, H, W), a batch of its
    own per model. ``masks`` (name -> (M, ...) 0/1) multiply the named weights."""
    if masks:
        weights = _effective(weights, masks, None)
    M = weights["fc.bias"].shape[0]
    if x.dim() == 4:
        x = x.unsqueeze(0).expand(M, *x.shape)
    if x.dim() != 5 or x.shape[0] != M or x.shape[2] != net.in_channels:
        raise ValueError(f"x must be (B, {net.in_channels}, H, W) or ({M}, B, {net.in_channels}, H, W)")
    B = x.shape[1]
    h = x.transpose(0, 1).reshape(B, M * net.in_channels, *x.shape[3:])
    for i, t in enumerate(net.conv_strides):
        w, b = weights[f"conv{i}.weight"], weights[f"conv{i}.bias"]
        h = F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), stride=t, padding=1, groups=M)
        h = torch.relu(h)
    h = h.reshape(B, M, -1).transpose(0, 1)  # (M, B, features): each model's map, flattened as nn does
    for j in range(len(net.hidden)):
        w, b = weights[f"hidden{j}.weight"], weights[f"hidden{j}.bias"]
        h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
    return h


def readout(weights: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
    """Outputs (M, B, n_outputs) of the linear readouts of ``weights`` on features ``h`` (M, B, F)."""
    return torch.baddbmm(weights["fc.bias"].unsqueeze(1), h, weights["fc.weight"].transpose(1, 2))


def forward(net: ConvNet, weights: dict[str, torch.Tensor], x: torch.Tensor, masks=None) -> torch.Tensor:
    """Outputs (M, B, n_outputs) of the M models of ``weights`` on ``x`` (see ``features``)."""
    if masks:
        weights = _effective(weights, masks, None)
    return readout(weights, features(net, weights, x))


@torch.no_grad()
def predict(net: ConvNet, weights, images: torch.Tensor, masks=None, batch_size: int = 2048) -> torch.Tensor:
    """Outputs (M, N, n_outputs) of every model on every image, in batches."""
    parts = [
        forward(net, weights, images[i : i + batch_size], masks) for i in range(0, len(images), batch_size)
    ]
    return torch.cat(parts, dim=1)


def _loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum over models of each model's mean loss: out (M, B, K), y (M, B, K) or (M, B)."""
    if name == "bce":
        per = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(dim=(1, 2))
    else:
        per = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(dim=1)
    return per.sum()


def shuffles(seeds: Sequence[int], n: int, epoch: int) -> torch.Tensor:
    """Data order (M, n) of epoch ``epoch``: model m's permutation from ``(seeds[m], epoch)``."""
    return torch.stack([torch.randperm(n, generator=_generator(s, 1, epoch)) for s in seeds])


def _optimizer(name, tensors, lr, momentum, weight_decay):
    if name == "adam":
        return torch.optim.Adam(tensors, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(tensors, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _check_fit(net, params, images, targets, loss, optimizer, epochs, batch_size, lr, seeds):
    check_choice("loss", loss, LOSSES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_int("epochs", epochs, 0)
    check_real("lr", lr, 0.0, low_open=True)
    n = len(images)
    M = params[next(iter(params))].shape[0]
    if len(seeds) != M:
        raise ValueError(f"seeds must give one seed per model ({M}), got {len(seeds)}")
    if images.dim() == 5:  # a set of images per model (e.g. each coloured at its own bias level)
        if images.shape[0] != M:
            raise ValueError(f"images must give one set per model ({M}), got {images.shape[0]}")
        n = images.shape[1]
    elif images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W) or ({M}, N, C, H, W), got {tuple(images.shape)}")
    if images.shape[-3] != net.in_channels:
        raise ValueError(f"images must have {net.in_channels} channels, got {tuple(images.shape)}")
    if len(targets) != n:
        raise ValueError(f"targets must have one row per image ({n}), got {len(targets)}")
    check_int("batch_size", batch_size, 1, n)
    return M, n


def _batch(images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Model m's images ``idx[m]`` (M, B, C, H, W), from shared (N, ...) or per-model (M, N, ...)
    images."""
    if images.dim() == 5:
        return images[torch.arange(len(idx)).unsqueeze(1), idx]
    return images[idx]


def fit(
    net: ConvNet,
    params: dict[str, torch.Tensor],
    images: torch.Tensor,
    targets: torch.Tensor,
    *,
    seeds: Sequence[int],
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    loss: str = "bce",
    masks: dict[str, torch.Tensor] | None = None,
    mask_update: Callable[[int, int, dict], dict | None] | None = None,
    transform: Callable[[dict], dict] | None = None,
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Train M models at once; returns ``(params, masks)``, new tensors (the inputs are untouched).

    ``params``: stacked trainable tensors (M, ...); ``images`` (N, C, H, W), or (M, N, C, H, W)
    where each model has its own version of the same N images, and ``targets``
    (N, K) floats in [0, 1] for ``bce`` or (N,) class indices for ``ce``; model m visits the
    images in the order ``shuffles(seeds, N, epoch)[m]`` in batches of ``batch_size`` (the last
    partial batch dropped). ``mask_update(step, total_steps, weights)``, called before every step
    with the current effective weights, returns new masks or None (keep). ``transform(params)``
    maps the trained tensors to the network's weights (identity by default).
    """
    M, n = _check_fit(net, params, images, targets, loss, optimizer, epochs, batch_size, lr, seeds)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    masks = None if masks is None else {k: v.detach().clone() for k, v in masks.items()}
    opt = _optimizer(optimizer, list(params.values()), lr, momentum, weight_decay)
    steps = n // batch_size
    total = epochs * steps
    targets = targets.float() if loss == "bce" else targets.long()
    bar = tqdm(total=total, disable=not progress, desc=f"training {M} models", leave=False)
    for epoch in range(epochs):
        order = shuffles(seeds, n, epoch)
        for s in range(steps):
            step = epoch * steps + s
            if mask_update is not None:
                with torch.no_grad():
                    new = mask_update(step, total, _effective(params, masks, transform))
                if new is not None:
                    masks = new
            idx = order[:, s * batch_size : (s + 1) * batch_size]
            out = forward(net, _effective(params, masks, transform), _batch(images, idx))
            opt.zero_grad(set_to_none=True)
            _loss(loss, out, targets[idx]).backward()
            opt.step()
            bar.update()
    bar.close()
    return {k: v.detach() for k, v in params.items()}, masks


def fit_loop(
    net: ConvNet, params: dict[str, torch.Tensor], images: torch.Tensor, targets: torch.Tensor, **options
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """The naive reference of :func:`fit`, with the same keyword options and defaults (bound from
    :func:`fit`'s signature, so the two cannot drift apart): a Python loop over models, each an
    ordinary ``torch.nn`` module with its own optimiser, the same data order and mask schedule
    (``mask_update`` sees one model at a time, with a leading dimension of 1). No ``transform``."""
    bound = inspect.signature(fit).bind(net, params, images, targets, **options)
    bound.apply_defaults()
    o = bound.arguments
    if o["transform"] is not None:
        raise ValueError("fit_loop has no transform: it trains the network's own weights")
    seeds, epochs, batch_size, lr = o["seeds"], o["epochs"], o["batch_size"], o["lr"]
    optimizer, momentum, weight_decay, loss = o["optimizer"], o["momentum"], o["weight_decay"], o["loss"]
    masks, mask_update = o["masks"], o["mask_update"]
    M, n = _check_fit(net, params, images, targets, loss, optimizer, epochs, batch_size, lr, seeds)
    targets = targets.float() if loss == "bce" else targets.long()
    steps = n // batch_size
    total = epochs * steps
    orders = [shuffles(seeds, n, e) for e in range(epochs)]
    out_params = {k: torch.empty_like(v) for k, v in params.items()}
    model_masks = []
    for m in range(M):
        model = module(net, {k: v[m] for k, v in params.items()})
        mask = None if masks is None else {k: v[m : m + 1].clone() for k, v in masks.items()}
        named = dict(model.named_parameters())
        opt = _optimizer(optimizer, list(named.values()), lr, momentum, weight_decay)
        for epoch in range(epochs):
            for s in range(steps):
                step = epoch * steps + s
                if mask_update is not None:
                    with torch.no_grad():
                        weights = {k: v.unsqueeze(0) for k, v in named.items()}
                        new = mask_update(step, total, _effective(weights, mask, None))
                    if new is not None:
                        mask = new
                idx = orders[epoch][m, s * batch_size : (s + 1) * batch_size]
                x = images[m][idx] if images.dim() == 5 else images[idx]
                if mask:
                    weights = {k: (v * mask[k][0] if k in mask else v) for k, v in named.items()}
                    out = torch.func.functional_call(model, weights, (x,))
                else:
                    out = model(x)
                opt.zero_grad(set_to_none=True)
                if loss == "bce":
                    value = F.binary_cross_entropy_with_logits(out, targets[idx])
                else:
                    value = F.cross_entropy(out, targets[idx])
                value.backward()
                opt.step()
        for k, v in named.items():
            out_params[k][m] = v.detach()
        model_masks.append(mask)
    if all(mask is None for mask in model_masks):
        return out_params, None
    return out_params, {k: torch.cat([mask[k] for mask in model_masks]) for k in model_masks[0]}
