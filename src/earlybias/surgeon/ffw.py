"""FFW, "finding fantastic weights" (Nahon et al. 2024; code renahon/debiasing_surgeon_ffw,
``gating_weights.py``), for M frozen networks at once: a gate on every weight, trained so that
the gated network keeps its task and loses the bias.

Per model, with frozen weights w and gates m (``gates``), the loss of one batch is

    L(m) = CE(f(x; w * g(m / T)), y) + lambda * I(b; b_hat),

where b_hat is the softmax of a linear **privacy head** on the features before the classifier
(the code reads its SimpleConvNet's pooled features there) and I the batch estimate of
``gates.mutual_information`` (the code's objective ``alpha * loss_task + gamma * MI`` with
alpha = 1 and gamma = 10, ``config.py``; lambda here is gamma). The head's own weights are
trained at the same time, on the detached features, to read b (cross-entropy, SGD): the MI
term's gradient reaches the gates only (``train_gating_weights_epoch``). After each gate epoch
the head is re-trained to a plateau on the gated network's features (``train_PH_double``), the
validation MI (estimated on the whole validation set at once, where the code averages its
batches' estimates) steps the temperature schedule, and a model whose T fell below
``MIN_TEMPERATURE`` stops. The mask is ``gates.final_mask`` (m >= 0), used without
fine-tuning.

``train_linear`` trains M linear classifiers on fixed features: the privacy head, the
last-layer-retraining baseline and the probes are all such classifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from earlybias.surgeon.gates import TemperatureSchedule, final_mask, gate, mutual_information
from earlybias.validation import check_int, check_real
from earlybias.zoo import grouped

__all__ = [
    "MIN_TEMPERATURE",
    "Linear",
    "train_linear",
    "linear_logits",
    "all_features",
    "gated",
    "FFWResult",
    "find_masks",
]

#: The code's ``min_temperature``: gate training stops once T falls below it.
MIN_TEMPERATURE = 1e-8


@dataclass
class Linear:
    """M linear classifiers: weight (M, K, F), bias (M, K)."""

    weight: torch.Tensor
    bias: torch.Tensor

    @classmethod
    def init(cls, n_models: int, n_features: int, n_classes: int, seed: int) -> Linear:
        """PyTorch's default initialisation of ``nn.Linear``, uniform in +-1/sqrt(F), drawn from ``seed``."""
        g = torch.Generator().manual_seed(int(seed))
        bound = 1.0 / np.sqrt(n_features)
        w = (2 * torch.rand(n_models, n_classes, n_features, generator=g) - 1) * bound
        b = (2 * torch.rand(n_models, n_classes, generator=g) - 1) * bound
        return cls(w, b)


def linear_logits(head: Linear, h: torch.Tensor) -> torch.Tensor:
    """Logits (M, N, K) of the M classifiers on features ``h`` (M, N, F)."""
    return torch.baddbmm(head.bias.unsqueeze(1), h, head.weight.transpose(1, 2))


def _sgd(head: Linear, lr: float):
    """The code's privacy-head optimiser: SGD, momentum 0.9, weight decay 1e-4."""
    head.weight.requires_grad_(True)
    head.bias.requires_grad_(True)
    return torch.optim.SGD([head.weight, head.bias], lr=lr, momentum=0.9, weight_decay=1e-4)


def train_linear(
    head: Linear,
    h: torch.Tensor,
    labels: torch.Tensor,
    *,
    seed: int,
    lr: float = 0.1,
    max_epochs: int = 200,
    patience: int = 5,
    threshold: float = 1e-3,
    batch_size: int = 100,
) -> Linear:
    """Train M linear classifiers (``head``, in place) on fixed features ``h`` (M, N, F) to read
    ``labels`` (N,), by SGD until a plateau: stop when no model's epoch loss fell by more than
    ``threshold`` (relative) for ``patience`` epochs in a row, or after ``max_epochs`` (the code's
    ``train_PH_double`` with its ``PlateauDetector``). Returns ``head``."""
    check_int("max_epochs", max_epochs, 1)
    M, n = h.shape[:2]
    batch_size = min(batch_size, n)
    opt = _sgd(head, lr)
    best = torch.full((M,), float("inf"))
    waited = torch.zeros(M, dtype=torch.long)
    g = torch.Generator().manual_seed(int(seed))
    for _ in range(max_epochs):
        order = torch.randperm(n, generator=g)
        total = torch.zeros(M)
        for s in range(0, n - batch_size + 1, batch_size):
            idx = order[s : s + batch_size]
            out = linear_logits(head, h[:, idx])
            per = F.cross_entropy(out.flatten(0, 1), labels[idx].repeat(M), reduction="none").view(M, -1)
            opt.zero_grad(set_to_none=True)
            per.mean(dim=1).sum().backward()
            opt.step()
            total += per.detach().mean(dim=1)
        improved = total < (1 - threshold) * best
        best = torch.where(improved, total, best)
        waited = torch.where(improved, torch.zeros_like(waited), waited + 1)
        if bool((waited >= patience).all()):
            break
    head.weight.requires_grad_(False)
    head.bias.requires_grad_(False)
    return head


def gated(weights: dict, gate_params: dict, temperature) -> dict:
    """The effective weights w * g(m / T) of every gated weight; biases pass unchanged."""
    return {k: (v * gate(gate_params[k], temperature) if k in gate_params else v) for k, v in weights.items()}


@torch.no_grad()
def all_features(net: grouped.ConvNet, weights: dict, images: torch.Tensor, masks=None) -> torch.Tensor:
    """``grouped.features`` (M, N, F) of every image, in batches of 2048."""
    parts = [grouped.features(net, weights, images[i : i + 2048], masks) for i in range(0, len(images), 2048)]
    return torch.cat(parts, dim=1)


@dataclass
class FFWResult:
    """What ``find_masks`` returns: the binary masks {name: (M, ...)}, the gate parameters, and
    per gate epoch each model's temperature and validation MI (epochs, M)."""

    masks: dict[str, torch.Tensor]
    gates: dict[str, torch.Tensor]
    temperatures: np.ndarray
    val_mi: np.ndarray


def find_masks(
    net: grouped.ConvNet,
    weights: dict[str, torch.Tensor],
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    mi_weight: Sequence[float],
    epochs: int,
    seeds: Sequence[int],
    batch_size: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    head_lr: float = 0.1,
    head_epochs: int = 200,
    progress: bool = False,
) -> FFWResult:
    """FFW on the M frozen networks ``weights`` (module docstring). ``train`` and ``val`` are
    bias-balanced (images (N, C, H, W), labels (N,), bias labels (N,)); ``mi_weight`` gives each
    model its lambda (0: the control without the MI term); ``seeds`` each model's data order.
    Gates: Adam (``lr``, ``weight_decay``: the code's defaults 1e-3 and 1e-4), at most ``epochs``
    gate epochs."""
    check_int("epochs", epochs, 1)
    M = weights["fc.bias"].shape[0]
    lam = torch.tensor([check_real("mi_weight", v, 0.0) for v in mi_weight], dtype=torch.float32)
    if len(lam) != M or len(seeds) != M:
        raise ValueError(f"mi_weight and seeds must give one value per model ({M})")
    images, labels, bias = train
    val_images, _, val_bias = val
    k = int(bias.max()) + 1
    gates = {name: torch.zeros_like(weights[name], requires_grad=True) for name in net.weight_names()}
    opt = torch.optim.Adam(list(gates.values()), lr=lr, weight_decay=weight_decay)
    temperature = torch.ones(M)
    schedules = [TemperatureSchedule() for _ in range(M)]
    head = Linear.init(M, net.n_features, k, seeds[0])

    def refine_head(epoch):
        with torch.no_grad():
            h = all_features(net, gated(weights, gates, temperature), images)
        train_linear(head, h, bias, seed=seeds[0] + 7919 * (epoch + 1), lr=head_lr, max_epochs=head_epochs)

    refine_head(-1)
    head_opt = _sgd(head, head_lr)
    n = len(images)
    steps = n // batch_size
    temperatures, val_mi = [], []
    bar = tqdm(total=epochs, disable=not progress, desc=f"FFW gates of {M} models", leave=False)
    for epoch in range(epochs):
        stopped = temperature < MIN_TEMPERATURE
        frozen = {name: g.detach().clone() for name, g in gates.items()}
        order = grouped.shuffles(seeds, n, epoch)
        for s in range(steps):
            idx = order[:, s * batch_size : (s + 1) * batch_size]
            eff = gated(weights, gates, temperature)
            h = grouped.features(net, eff, images[idx])
            task = F.cross_entropy(
                grouped.readout(eff, h).flatten(0, 1), labels[idx].flatten(), reduction="none"
            ).view(M, -1)
            frozen_head = Linear(head.weight.detach(), head.bias.detach())  # the MI moves the gates only
            mi = mutual_information(bias[idx], linear_logits(frozen_head, h))
            opt.zero_grad(set_to_none=True)
            (task.mean(dim=1) + lam * mi).sum().backward()
            opt.step()
            with torch.no_grad():  # a stopped model keeps its gates (the code stops its training)
                for name, g in gates.items():
                    g[stopped] = frozen[name][stopped]
            private = F.cross_entropy(
                linear_logits(head, h.detach()).flatten(0, 1), bias[idx].flatten(), reduction="none"
            )
            head_opt.zero_grad(set_to_none=True)
            (private.view(M, -1).mean(dim=1).sum()).backward()
            head_opt.step()
        head.weight.requires_grad_(False)
        head.bias.requires_grad_(False)
        refine_head(epoch)
        with torch.no_grad():
            hv = all_features(net, gated(weights, gates, temperature), val_images)
            mi_val = mutual_information(val_bias, linear_logits(head, hv)).numpy()
        changed = False
        for m in range(M):
            if temperature[m] >= MIN_TEMPERATURE:
                t, c = schedules[m].step(float(mi_val[m]))
                temperature[m] = t
                changed |= c
        if changed:  # the code re-trains the head for the new temperature
            refine_head(epoch)
        head_opt = _sgd(head, head_lr)
        temperatures.append(temperature.numpy().copy())
        val_mi.append(mi_val)
        bar.update()
        if bool((temperature < MIN_TEMPERATURE).all()):
            break
    bar.close()
    g = {name: v.detach() for name, v in gates.items()}
    return FFWResult(
        {name: final_mask(v) for name, v in g.items()}, g, np.array(temperatures), np.array(val_mi)
    )
