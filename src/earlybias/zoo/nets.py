"""The two families of small networks, written twice: batched over a leading model dimension, and
as ordinary ``torch.nn`` modules (the reference that the batched code must reproduce).

Parameters are named and shaped as in the modules' ``state_dict`` (``fc1.weight`` of shape
(width, 192), ...), with a leading model dimension M. The batched linear layers are batched
matrix products (``torch.baddbmm``) on a transposed copy of their weights (``to_matrices``); the
batched convolutions are one grouped convolution over all M networks (``groups=M``), so a
training step of the whole zoo is a handful of large kernels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from earlybias.zoo.spec import ZooSpec

__all__ = [
    "param_shapes",
    "init_params",
    "to_matrices",
    "from_matrices",
    "forward",
    "MLP",
    "CNN",
    "make_module",
]

N_CLASSES = 10
N_INPUTS = 3 * 8 * 8


def param_shapes(spec: ZooSpec) -> dict[str, tuple[int, ...]]:
    """Name and shape of every parameter of one network of the zoo, in ``state_dict`` order."""
    w = spec.width
    if spec.family == "mlp":
        return {
            "fc1.weight": (w, N_INPUTS),
            "fc1.bias": (w,),
            "fc2.weight": (N_CLASSES, w),
            "fc2.bias": (N_CLASSES,),
        }
    return {
        "conv1.weight": (w // 2, 3, 3, 3),
        "conv1.bias": (w // 2,),
        "conv2.weight": (w, w // 2, 3, 3),
        "conv2.bias": (w,),
        "fc.weight": (N_CLASSES, 4 * w),
        "fc.bias": (N_CLASSES,),
    }


def init_params(spec: ZooSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Initial parameters of one network: PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    shapes = param_shapes(spec)
    out = {}
    for name, shape in shapes.items():
        # A bias shares the fan-in of the weight of its layer, as in nn.Linear and nn.Conv2d.
        weight_shape = shapes[name.replace(".bias", ".weight")]
        bound = 1.0 / np.sqrt(np.prod(weight_shape[1:]))
        out[name] = rng.uniform(-bound, bound, size=shape).astype(np.float32)
    return out


def _is_linear(name: str) -> bool:
    return name.startswith("fc")


def to_matrices(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Batched parameters as the batched layers use them.

    Linear layers: weights (M, fan_in, out) and biases (M, 1, out), so that every weight gradient
    is a contiguous batched product. Convolutions keep the modules' layout, weights
    (M, out, in, 3, 3) and biases (M, out): flattened over models, they are a grouped
    convolution's weights and biases.
    """

    def batched(name, v):
        if not _is_linear(name):
            return v.contiguous()
        return v.transpose(1, 2).contiguous() if v.dim() == 3 else v.unsqueeze(1)

    return {k: batched(k, v) for k, v in params.items()}


def from_matrices(spec: ZooSpec, mats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of ``to_matrices``: back to the modules' layout, (M, out, in, ...) and (M, out)."""
    out = {}
    for k, v in mats.items():
        if _is_linear(k):
            v = v.transpose(1, 2)
        out[k] = v.reshape(len(v), *param_shapes(spec)[k]).contiguous()
    return out


def forward(spec: ZooSpec, mats: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits (M, n, 10) of M networks on their own inputs x (M, n, 192), ``mats`` from ``to_matrices``.

    Each of the M networks sees only its own n inputs; there is no mixing across networks.
    """
    if spec.family == "mlp":
        h = torch.relu(torch.baddbmm(mats["fc1.bias"], x, mats["fc1.weight"]))
        return torch.baddbmm(mats["fc2.bias"], h, mats["fc2.weight"])
    M, n = x.shape[:2]
    # The M networks side by side in the channels, (model, channel): a grouped convolution with
    # groups=M then applies each network's filters to its own channels only.
    h = x.reshape(M, n, 3, 8, 8).transpose(0, 1).reshape(n, M * 3, 8, 8)
    for layer in ("conv1", "conv2"):
        weight, bias = mats[f"{layer}.weight"], mats[f"{layer}.bias"]
        h = F.conv2d(h, weight.flatten(0, 1), bias.flatten(), padding=1, groups=M)
        h = F.max_pool2d(torch.relu(h), 2)
    # Each network's (channel, row, column) block, flattened in nn.Flatten's order.
    h = h.reshape(n, M, -1).transpose(0, 1)
    return torch.baddbmm(mats["fc.bias"], h, mats["fc.weight"])


class MLP(nn.Module):
    """One network of the ``mlp`` family: 192 -> width -> 10 with a ReLU."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.fc1 = nn.Linear(N_INPUTS, width)
        self.fc2 = nn.Linear(width, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class CNN(nn.Module):
    """One network of the ``cnn`` family: two conv3x3-ReLU-maxpool2 stages, then a linear layer."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(width // 2, width, 3, padding=1)
        self.fc = nn.Linear(4 * width, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(torch.relu(self.conv1(x.reshape(-1, 3, 8, 8))), 2)
        h = F.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc(h.flatten(1))


def make_module(spec: ZooSpec, params: dict | None = None) -> nn.Module:
    """A ``torch.nn`` network of the zoo's family, loaded with one model's ``params`` if given."""
    module = MLP(spec.width) if spec.family == "mlp" else CNN(spec.width)
    if params is not None:
        module.load_state_dict({k: torch.as_tensor(v) for k, v in params.items()})
    return module
