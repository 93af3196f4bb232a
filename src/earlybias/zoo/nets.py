"""The two families of small networks, written twice: batched over a leading model dimension, and
as ordinary ``torch.nn`` modules (the reference that the batched code must reproduce).

Parameters are named and shaped as in the modules' ``state_dict`` (``fc1.weight`` of shape
(width, 192), ...), with a leading model dimension M. The batched layers are batched matrix
products (``torch.baddbmm``) on a transposed copy (``to_matrices``); convolutions are lowered to
them by im2col, so a training step of the whole zoo is a handful of large kernels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from earlybias.zoo.spec import ZooSpec

__all__ = ["param_shapes", "init_params", "to_matrices", "from_matrices", "forward", "MLP", "CNN",
           "make_module"]

N_CLASSES = 10
N_INPUTS = 3 * 8 * 8


def param_shapes(spec: ZooSpec) -> dict[str, tuple[int, ...]]:
    """Name and shape of every parameter of one network of the zoo, in ``state_dict`` order."""
    w = spec.width
    if spec.family == "mlp":
        return {"fc1.weight": (w, N_INPUTS), "fc1.bias": (w,),
                "fc2.weight": (N_CLASSES, w), "fc2.bias": (N_CLASSES,)}
    return {"conv1.weight": (w // 2, 3, 3, 3), "conv1.bias": (w // 2,),
            "conv2.weight": (w, w // 2, 3, 3), "conv2.bias": (w,),
            "fc.weight": (N_CLASSES, 4 * w), "fc.bias": (N_CLASSES,)}


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


def to_matrices(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Batched parameters as the batched layers use them: weights (M, fan_in, out), biases (M, 1, out).

    Training in this layout makes every weight gradient a contiguous batched product. A
    convolution's fan-in is ordered (dy, dx, channel), the order of channels-last patches.
    """
    def matrix(v):
        if v.dim() == 5:
            v = v.permute(0, 1, 3, 4, 2)  # (M, out, C, 3, 3) -> (M, out, 3, 3, C)
        return v.flatten(2).transpose(1, 2).contiguous() if v.dim() > 2 else v.unsqueeze(1)
    return {k: matrix(v) for k, v in params.items()}


def from_matrices(spec: ZooSpec, mats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of ``to_matrices``: back to the modules' layout, (M, out, in, ...) and (M, out)."""
    out = {}
    for k, v in mats.items():
        shape = param_shapes(spec)[k]
        v = v.transpose(1, 2)
        if len(shape) == 4:
            v = v.reshape(len(v), shape[0], 3, 3, shape[1]).permute(0, 1, 4, 2, 3)
        out[k] = v.reshape(len(v), *shape).contiguous()
    return out


def _conv3x3_relu_pool(x: torch.Tensor, M: int, weight: torch.Tensor, bias: torch.Tensor):
    """3x3 convolution (padding 1), ReLU and 2x2 max-pooling of channels-last x (M * n, H, W, C)."""
    N, H, W, C = x.shape
    padded = F.pad(x, (0, 0, 1, 1, 1, 1))
    # im2col: each output pixel's 3x3 patch as one row, features in (dy, dx, channel) order.
    cols = torch.stack([padded[:, dy:dy + H, dx:dx + W] for dy in range(3) for dx in range(3)],
                       dim=3).reshape(M, -1, 9 * C)
    y = torch.relu(torch.baddbmm(bias, cols, weight)).reshape(N, H, W, -1)
    # Pool the logical NCHW view of the channels-last memory, then return to channels-last.
    return F.max_pool2d(y.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)


def forward(spec: ZooSpec, mats: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits (M, n, 10) of M networks on their own inputs x (M, n, 192), ``mats`` from ``to_matrices``.

    Each of the M networks sees only its own n inputs; there is no mixing across networks.
    """
    if spec.family == "mlp":
        h = torch.relu(torch.baddbmm(mats["fc1.bias"], x, mats["fc1.weight"]))
        return torch.baddbmm(mats["fc2.bias"], h, mats["fc2.weight"])
    M, n = x.shape[:2]
    h = x.reshape(M * n, 3, 8, 8).permute(0, 2, 3, 1)  # channels-last: a patch row is contiguous
    h = _conv3x3_relu_pool(h, M, mats["conv1.weight"], mats["conv1.bias"])
    h = _conv3x3_relu_pool(h, M, mats["conv2.weight"], mats["conv2.bias"])
    # Flatten in (channel, row, column) order, as nn.Flatten does on NCHW.
    h = h.permute(0, 3, 1, 2).reshape(M, n, -1)
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
