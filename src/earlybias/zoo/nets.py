"""The two families of small networks, written twice: batched over a leading model dimension, and
as ordinary ``torch.nn`` modules (the reference that the batched code must reproduce).

Parameters are named and shaped as in the modules' ``state_dict`` (``fc1.weight`` of shape
(width, 192), ...), with a leading model dimension M, and converted by ``to_matrices`` into the
layouts the batched layers use. The batched MLP is two batched matrix products
(``torch.baddbmm``), differentiated by autograd. The batched CNN (``BatchedCNN``) writes its
forward and backward passes out by hand into buffers allocated once: per-image first-layer
filters on the digits' patches, channels-last pools, and the second convolution as one grouped
convolution over all M networks (``groups=M``), so a training step of the whole zoo is a
handful of large kernels.
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
    "patches",
    "BatchedCNN",
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
    """Batched parameters in the layouts the batched layers use (``from_matrices`` inverts it).

    Linear layers: weights (M, fan_in, out) and biases (M, 1, out), so that every product is a
    contiguous batched matrix product. ``conv1.weight`` (M, 27, c1), rows (colour, ky, kx): the
    per-image filters of ``BatchedCNN`` are products with it. ``conv2`` keeps the module's layout,
    which flattened over models is a grouped convolution's; biases of convolutions are (M, c).
    """

    def batched(name, v):
        if name == "conv1.weight":
            return v.flatten(2).transpose(1, 2).contiguous()
        if not _is_linear(name):
            return v.contiguous()
        return v.transpose(1, 2).contiguous() if v.dim() == 3 else v.unsqueeze(1)

    return {k: batched(k, v) for k, v in params.items()}


def from_matrices(spec: ZooSpec, mats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of ``to_matrices``: back to the modules' layout, (M, out, in, ...) and (M, out)."""
    out = {}
    for k, v in mats.items():
        if _is_linear(k) or k == "conv1.weight":
            v = v.transpose(1, 2)
        out[k] = v.reshape(len(v), *param_shapes(spec)[k]).contiguous()
    return out


def patches(planes: torch.Tensor) -> torch.Tensor:
    """The 3x3 neighbourhoods of every pixel of 8x8 images, zero-padded: the columns of a convolution.

    ``planes`` (n, J, 64): J grey planes per image. Returns (n, 64, 9 J): row p is pixel p
    (row-major), column ``9 j + 3 ky + kx`` is plane j at offset (ky - 1, kx - 1) from it.
    """
    n, J = planes.shape[:2]
    padded = F.pad(planes.reshape(n, J, 8, 8), (1, 1, 1, 1))
    cols = padded.unfold(2, 3, 1).unfold(3, 3, 1)  # (n, J, 8, 8, 3, 3)
    return cols.permute(0, 2, 3, 1, 4, 5).reshape(n, 64, 9 * J).contiguous()


def forward(spec: ZooSpec, mats: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits (M, n, 10) of M networks on their own inputs x (M, n, 192), ``mats`` from ``to_matrices``.

    Each of the M networks sees only its own n inputs; there is no mixing across networks. The
    MLP is differentiable by autograd; the CNN runs ``BatchedCNN``'s forward pass (no autograd),
    its images given as three planes (the colour channels) mixed by the identity.
    """
    if spec.family == "mlp":
        h = torch.relu(torch.baddbmm(mats["fc1.bias"], x, mats["fc1.weight"]))
        return torch.baddbmm(mats["fc2.bias"], h, mats["fc2.weight"])
    M, n = x.shape[:2]
    table = patches(x.reshape(M * n, 3, 64))
    rows = torch.arange(M * n).reshape(M, n).T  # image b of model m is row m n + b
    mix = torch.eye(3).expand(n, M, 3, 3)
    chunk = min(n, _CHUNK)
    net = BatchedCNN(M, spec.width, 3, chunk)
    with torch.no_grad():
        return torch.cat(
            [net.forward(mats, table, rows[s : s + chunk], mix[s : s + chunk]) for s in range(0, n, chunk)], 1
        )


_CHUNK = 64  # images per network and call of ``forward``: bounds the CNN's buffers


def _pool(x, out, indices):
    torch.ops.aten.max_pool2d_with_indices.out(
        x, [2, 2], [2, 2], [0, 0], [1, 1], False, out=out, indices=indices
    )


def _unpool(grad, x, indices, out):
    torch.ops.aten.max_pool2d_with_indices_backward.grad_input(
        grad, x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices, grad_input=out
    )


def _relu_backward(grad, out, grad_input):
    """``grad`` where the relu's output ``out`` is positive, else 0, written into ``grad_input``."""
    torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad_input)


def _nchw(t: torch.Tensor) -> torch.Tensor:
    """(n, H, W, C) memory seen as an (n, C, H, W) tensor in channels-last layout."""
    return t.permute(0, 3, 1, 2)


class BatchedCNN:
    """M networks of the ``cnn`` family as one program: forward and backward written out by hand.

    Each network computes ``fc(flat(pool(relu(conv2(pool(relu(conv1(x))))))))`` as ``CNN`` does
    (relu and a 2x2 max-pool commute, so each pool here comes first and the bias is added after
    it, on a quarter of the values). An image is J grey planes mixed into colours,
    ``x_c = sum_j mix[j, c] plane_j`` (a digit and its colour: J = 1, ``mix`` the colour; a
    digit on a background: J = 2, the second plane ones), so the first convolution is the
    image's own filter, ``sum_c mix[j, c] conv1.weight[:, c]``, applied to the planes' patches:
    a product of 9 J columns instead of 27, and no coloured image is ever built.

    Why by hand: autograd allocates every intermediate afresh at each step, and on a small VM the
    page faults of fresh memory cost more than the arithmetic; every buffer here is allocated
    once, for ``max_batch`` images per network, and reused. Each layer runs in the layout its
    kernel is fastest in: the 8x8 and 4x4 max-pools channels-last (the NCHW kernel is ten times
    slower on such small planes), the second convolution as one grouped convolution over all M
    networks (oneDNN), forward on channels-last input and backward on NCHW.
    Images are ordered (image, network) throughout: row ``b * M + m`` is image b of network m.
    """

    def __init__(self, M: int, width: int, planes: int, max_batch: int):
        c1, c2, J, B = width // 2, width, planes, max_batch
        self.M, self.c1, self.c2, self.J = M, c1, c2, J
        e = torch.empty
        self.cols = e(B * M, 64, 9 * J)  # the planes' patches
        self.y1 = e(B * M, 8, 8, c1)  # conv1 before bias, channels last
        self.p1, self.i1 = e(B * M, 4, 4, c1), e(B * M, 4, 4, c1, dtype=torch.int64)
        self.h1_cl = e(B, 4, 4, M * c1)  # relu(pool + bias): conv2's input, channels last ...
        self.h1 = e(B, M * c1, 4, 4)  # ... and NCHW, for its backward
        self.p2, self.i2 = e(B, 2, 2, M * c2), e(B, 2, 2, M * c2, dtype=torch.int64)
        self.h2 = e(B, M, c2, 4)  # the linear layer's input, nn.Flatten's order
        self.dp2 = e(B, 2, 2, M * c2)
        self.dy2_cl, self.dy2 = e(B, 4, 4, M * c2), e(B, M * c2, 4, 4)
        self.dp1, self.dy1 = e(B * M, 4, 4, c1), e(B * M, 8, 8, c1)
        self.dfilters = e(B * M, 9 * J, c1)

    def forward(self, mats, table, rows, mix) -> torch.Tensor:
        """Logits (M, n, 10) of images ``table[rows]`` (rows (n, M)) mixed by ``mix`` (n, M, J, 3).

        ``table``: patches (``patches``) of the planes of all images; n <= ``max_batch``.
        Call under ``no_grad``; ``backward`` then gives the gradients of this call.
        """
        M, c1, c2, J = self.M, self.c1, self.c2, self.J
        n = len(rows)
        if not 1 <= n <= len(self.h1):
            raise ValueError(f"rows must hold 1 to max_batch={len(self.h1)} images per network, got {n}")
        N = n * M
        self.n, self.mix = n, mix
        cols = torch.index_select(table, 0, rows.reshape(-1), out=self.cols[:N])
        # Each image's own first-layer filters (9 J, c1): its mix of the colour filters.
        w1 = mats["conv1.weight"].view(M, 3, 9 * c1)
        filters = torch.bmm(mix.transpose(0, 1).reshape(M, n * J, 3), w1).view(M, n, 9 * J, c1)
        y1 = self.y1[:N]
        torch.bmm(cols, filters.transpose(0, 1).reshape(N, 9 * J, c1), out=y1.view(N, 64, c1))
        p1 = self.p1[:N]
        _pool(_nchw(y1), _nchw(p1), _nchw(self.i1[:N]))
        # Elementwise work where the memory is contiguous, then a plain copy into the next
        # layer's layout: an elementwise op that reads a permuted tensor is several times slower.
        p1 = p1.view(n, M, 16, c1).add_(mats["conv1.bias"].unsqueeze(1)).relu_()
        h1_cl = self.h1_cl[:n]
        h1_cl.view(n, 16, M, c1).copy_(p1.transpose(1, 2))
        w2 = mats["conv2.weight"].flatten(0, 1)
        self.y2 = F.conv2d(_nchw(h1_cl), w2, None, padding=1, groups=M)
        p2 = self.p2[:n]
        _pool(self.y2, _nchw(p2), _nchw(self.i2[:n]))
        p2 = p2.view(n, 4, M, c2).add_(mats["conv2.bias"]).relu_()
        h2 = self.h2[:n]
        h2.copy_(p2.permute(0, 2, 3, 1))
        self.flat = h2.view(n, M, 4 * c2).transpose(0, 1)
        self.logits = torch.baddbmm(mats["fc.bias"], self.flat, mats["fc.weight"])
        return self.logits

    def backward(self, mats, grads, dlogits) -> None:
        """Gradients of the last ``forward`` given ``dlogits`` (M, n, 10), written into ``grads``."""
        M, c1, c2, J, n = self.M, self.c1, self.c2, self.J, self.n
        N = n * M
        torch.bmm(self.flat.transpose(1, 2), dlogits, out=grads["fc.weight"])
        torch.sum(dlogits, 1, keepdim=True, out=grads["fc.bias"])
        # Through relu in place (threshold_backward: one pass, no mask tensor), then into the
        # pool's layout.
        dh2 = torch.bmm(dlogits, mats["fc.weight"].transpose(1, 2)).view(M, n, c2, 4)
        _relu_backward(dh2, self.h2[:n].transpose(0, 1), dh2)
        torch.sum(dh2, (1, 3), out=grads["conv2.bias"])
        self.dp2[:n].view(n, 4, M, c2).copy_(dh2.permute(1, 3, 0, 2))
        dy2_cl = self.dy2_cl[:n]
        _unpool(_nchw(self.dp2[:n]), self.y2, _nchw(self.i2[:n]), _nchw(dy2_cl))
        # conv2's backward on NCHW tensors, where oneDNN is fastest.
        dy2, h1 = self.dy2[:n], self.h1[:n]
        dy2.copy_(_nchw(dy2_cl))
        h1.copy_(_nchw(self.h1_cl[:n]))
        w2 = mats["conv2.weight"]
        dh1, dw2, _ = torch.ops.aten.convolution_backward(
            dy2, h1, w2.flatten(0, 1), None, [1, 1], [1, 1], [1, 1], False, [0, 0], M, [True, True, False]
        )
        grads["conv2.weight"].copy_(dw2.view_as(grads["conv2.weight"]))
        dh1 = dh1.view(n, M, c1, 16)
        _relu_backward(dh1, h1.view(n, M, c1, 16), dh1)
        torch.sum(dh1, (0, 3), out=grads["conv1.bias"])
        self.dp1[:N].view(n, M, 16, c1).copy_(dh1.transpose(2, 3))
        dy1 = self.dy1[:N]
        _unpool(_nchw(self.dp1[:N]), _nchw(self.y1[:N]), _nchw(self.i1[:N]), _nchw(dy1))
        dfilters = torch.bmm(self.cols[:N].transpose(1, 2), dy1.view(N, 64, c1), out=self.dfilters[:N])
        # Back through each image's mix: conv1.weight[c] collects mix[j, c] times its filters' gradient.
        mix = self.mix.transpose(0, 1).reshape(M, n * J, 3)
        dfilters = dfilters.view(n, M, J * 9 * c1).transpose(0, 1).reshape(M, n * J, 9 * c1)
        torch.bmm(mix.transpose(1, 2), dfilters, out=grads["conv1.weight"].view(M, 3, 9 * c1))


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
