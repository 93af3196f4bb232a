"""FFW's ("finding fantastic weights") gates, temperature schedule and mutual-information penalty,
as the paper's code defines them (renahon/debiasing_surgeon_ffw: ``tools.TwoSigmoid``,
``tools.ReduceTempOnPlateau``, ``irene.core.MI``).

**The gate.** Every weight w of a conv or linear layer gets a gate parameter m, initialised at 0;
the network runs with the effective weight

    w_eff = w * g(m / T),    g(x) = min(2 sigmoid(x), 1),

so at m = 0 the network is the vanilla one (g(0) = 1), and a negative m shrinks its weight towards
0. The backward pass differentiates the unclamped 2 sigmoid(x), so a gate already at 1 still
receives a gradient and can be pushed down. As the temperature T falls to 0, g(m / T) becomes the
step m >= 0: the final binary mask (``final_mask``), applied with no fine-tuning.

**The penalty.** A linear "privacy head" reads the bias label b from the features before the
classifier; with its softmax q (N, K) and the one-hot labels B (N, K), the batch estimate of the
mutual information is

    J = B^T q / N,   I(b; b_hat) = sum_jk J_jk log(J_jk / (J_j. J_.k)) / log K,

normalised by log K so that 1 is a perfect read-out and 0 none (``mutual_information``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from earlybias.validation import check_int, check_real

__all__ = ["TwoSigmoid", "gate", "final_mask", "mutual_information", "TemperatureSchedule"]


class TwoSigmoid(torch.autograd.Function):
    """g(x) = min(2 sigmoid(x), 1) forward; d/dx of the unclamped 2 sigmoid(x) backward (the code's
    ``TwoSigmoid``)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.clamp(2 * torch.sigmoid(x), max=1.0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad_output * 2 * s * (1 - s)


def gate(m: torch.Tensor, temperature: float | torch.Tensor) -> torch.Tensor:
    """The gate values g(m / T) that multiply the frozen weights (module docstring). ``temperature``
    is one number, or one per model (M,) for gates ``m`` stacked over M models (M, ...)."""
    if isinstance(temperature, torch.Tensor):
        if temperature.ndim != 1 or len(temperature) != len(m) or not bool((temperature > 0).all()):
            raise ValueError(f"temperature must give one value > 0 per model ({len(m)}), got {temperature}")
        temperature = temperature.view(-1, *[1] * (m.ndim - 1))
    else:
        check_real("temperature", temperature, 0.0, low_open=True)
    return TwoSigmoid.apply(m / temperature)


def final_mask(m: torch.Tensor) -> torch.Tensor:
    """The binary mask of gates ``m`` at T -> 0: keep a weight where m >= 0 (g(0) = 1)."""
    return (m >= 0).to(m.dtype)


def mutual_information(bias: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Batch estimate of I(b; b_hat) / log K between bias labels ``bias`` (N,) in 0..K-1 and the
    privacy head's ``logits`` (N, K) (module docstring; the code's ``irene.core.MI``, including its
    clamping of the joint and of the product of marginals at 1e-15). For M models at once, logits
    (M, N, K) and bias labels (N,), shared, or (M, N), each model's own, give the M estimates (M,)."""
    if logits.ndim == 3 and bias.ndim == 1:
        bias = bias.expand(logits.shape[:2])
    if logits.ndim not in (2, 3) or bias.shape != logits.shape[:-1]:
        raise ValueError(
            f"bias must be (N,) or (M, N) and logits (N, K) or (M, N, K), got {tuple(bias.shape)}, "
            f"{tuple(logits.shape)}"
        )
    k = check_int("number of bias classes", logits.shape[-1], 2)
    onehot = F.one_hot(bias, num_classes=k).to(logits.dtype)
    joint = torch.clamp(onehot.transpose(-2, -1) @ torch.softmax(logits, dim=-1), min=1e-15) / bias.shape[-1]
    marginals = torch.clamp(joint.sum(dim=-1, keepdim=True) @ joint.sum(dim=-2, keepdim=True), min=1e-15)
    return (joint * torch.log(joint / marginals)).sum(dim=(-2, -1)) / math.log(k)


class TemperatureSchedule:
    """The temperature of the gates, lowered when the validation MI stops improving (the code's
    ``ReduceTempOnPlateau``): the first ``step`` sets the best MI; afterwards an MI that is not below
    ``(1 - threshold)`` times the best counts as no improvement, and more than ``patience`` such
    epochs in a row multiply T by ``factor``. ``step`` returns (T, whether it changed)."""

    def __init__(
        self, temperature: float = 1.0, factor: float = 0.1, patience: int = 5, threshold: float = 0.05
    ):
        self.temperature = check_real("temperature", temperature, 0.0, low_open=True)
        self.factor = check_real("factor", factor, 0.0, 1.0, low_open=True)
        self.patience = check_int("patience", patience, 0)
        self.threshold = check_real("threshold", threshold, 0.0, 1.0)
        self.best: float | None = None
        self.count = 0

    def step(self, mi: float) -> tuple[float, bool]:
        if self.best is None:
            self.best = mi
        elif mi >= (1.0 - self.threshold) * self.best or self.best < 0:
            self.count += 1
        else:
            self.best, self.count = mi, 0
        if self.count > self.patience:
            self.count = 0
            self.temperature *= self.factor
            return self.temperature, True
        return self.temperature, False
