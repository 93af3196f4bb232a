"""What a detector sees of a network: features computed from its weights alone.

Every function takes ``params``, a zoo's per-layer tensors with a leading model dimension
(``Zoo.params``: ``conv1.weight`` (M, 8, 3, 3, 3), ...), and works on all M models at once.

A hidden unit (an MLP's hidden neuron, a CNN's filter) can be moved to another position, together
with its incoming and outgoing weights, without changing the function the network computes. A
feature that changes under such a permutation describes the arbitrary order of the units, not
the network, so everything here except ``flat_weights`` is invariant to it: statistics over all
entries of a layer, and statistics over units (or over input channels) of per-unit quantities
(chapter, equation {eq}`weights-features`), and ``unit_sets``, the per-unit vectors that a
DeepSets detector pools.

Every layer is read through the same view, :func:`layer_view`: its weight as
(models, units, input channels, positions). The first layer's input channels are the three
colour channels, so its weights say how much a network listens to each colour; a later layer's
input channels are the units of the layer before.
"""

from __future__ import annotations

import numpy as np
import torch

from earlybias.validation import check_choice

__all__ = [
    "LAYER_CHOICES",
    "family_of",
    "layer_names",
    "chosen_layers",
    "flat_weights",
    "permute_units",
    "layer_view",
    "layer_stats",
    "summary_over_units",
    "layer_features",
    "weight_features",
    "unit_sets",
    "color_energy",
]

#: Which layers a detector may read: the first (it sees the pixels), the last (the readout), all,
#: or every layer but the first (the weights beyond the colour channels).
LAYER_CHOICES = ("first", "last", "all", "beyond_first")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
LAYER_STATS = (
    "mean",
    "std",
    "skew",
    "kurtosis",
    *(f"q{int(q * 100):02d}" for q in QUANTILES),
    "mean_abs",
    "l2",
)
UNIT_STATS = ("mean", "std", "min", "median", "max")
N_CHANNELS = 3
_EPS = 1e-12


def family_of(params: dict) -> str:
    """``"mlp"`` or ``"cnn"``, read off the parameter names of ``earlybias.zoo.nets``."""
    if "fc1.weight" in params and "fc2.weight" in params:
        return "mlp"
    if all(f"{k}.weight" in params for k in ("conv1", "conv2", "fc")):
        return "cnn"
    raise ValueError(
        f"params must hold the layers of an mlp (fc1, fc2) or a cnn (conv1, conv2, fc) "
        f"of earlybias.zoo, got {sorted(params)}"
    )


def layer_names(params: dict) -> list[str]:
    """The layers of the family in order, input to output (``fc1``, ``fc2`` or ``conv1``, ...)."""
    return ["fc1", "fc2"] if family_of(params) == "mlp" else ["conv1", "conv2", "fc"]


def chosen_layers(params: dict, layers: str) -> list[str]:
    """The layer names that ``layers`` (one of ``LAYER_CHOICES``) selects."""
    names = layer_names(params)
    check_choice("layers", layers, LAYER_CHOICES)
    return {"first": names[:1], "last": names[-1:], "all": names, "beyond_first": names[1:]}[layers]


def _n_models(params: dict) -> int:
    return len(next(iter(params.values())))


def flat_weights(params: dict) -> torch.Tensor:
    """Every parameter of each model in one row (M, n_params), in ``state_dict`` order: the raw
    baseline, which is *not* invariant to permuting hidden units."""
    family_of(params)
    return torch.cat([v.reshape(_n_models(params), -1) for v in params.values()], dim=1)


def permute_units(params: dict, perm) -> dict:
    """The same networks with the units of the first hidden layer reordered by ``perm``: each unit
    keeps its incoming weights and bias, and the next layer reads it at its new place (equation
    {eq}`weights-symmetry`). The networks compute exactly the same function."""
    first, second = layer_names(params)[:2]
    perm = torch.as_tensor(perm)
    out = dict(params)
    out[f"{first}.weight"] = params[f"{first}.weight"][:, perm]
    out[f"{first}.bias"] = params[f"{first}.bias"][:, perm]
    out[f"{second}.weight"] = params[f"{second}.weight"][:, :, perm]
    return out


def layer_view(params: dict, layer: str) -> torch.Tensor:
    """The weight of ``layer`` as (M, units, input channels, positions), float64.

    MLP ``fc1``: (M, width, 3 colours, 64 pixels); ``fc2``: (M, 10, width, 1). CNN ``conv1``:
    (M, filters, 3 colours, 9 kernel positions); ``conv2``: (M, filters, conv1 filters, 9);
    ``fc``: (M, 10, conv2 filters, 4 positions), as ``nn.Flatten`` lays out (channel, row, column).
    """
    w = params[f"{layer}.weight"].double()
    M, units = w.shape[:2]
    if w.dim() == 5:  # a convolution: (M, out, in, k, k)
        return w.flatten(3)
    if layer == "fc1":  # the MLP's inputs are (colour channel, pixel)
        return w.reshape(M, units, N_CHANNELS, -1)
    if layer == "fc":  # the CNN's readout reads conv2's channels at 2 x 2 positions each
        channels = params["conv2.weight"].shape[1]
        return w.reshape(M, units, channels, -1)
    return w[..., None]  # fc2: every input is one hidden unit


def layer_stats(w: torch.Tensor) -> torch.Tensor:
    """Moments, quantiles and norms of all entries of one parameter of each model: (M, 11).

    Columns ``LAYER_STATS``: mean, std, skew, kurtosis (excess), the quantiles ``QUANTILES``,
    mean |w|, l2 norm.
    """
    x = w.reshape(len(w), -1).double()
    mean = x.mean(1, keepdim=True)
    std = x.std(1, correction=0, keepdim=True)
    z = (x - mean) / (std + _EPS)
    q = torch.quantile(x, torch.tensor(QUANTILES, dtype=x.dtype), dim=1).T
    return torch.cat(
        [
            mean,
            std,
            (z**3).mean(1, keepdim=True),
            (z**4).mean(1, keepdim=True) - 3,
            q,
            x.abs().mean(1, keepdim=True),
            x.norm(dim=1, keepdim=True),
        ],
        dim=1,
    )


def summary_over_units(u: torch.Tensor) -> torch.Tensor:
    """Mean, std, min, median and max over the units of per-unit values u (M, units, k): (M, 5 k),
    ordered (statistic, value).

    Statistics of a set do not depend on the order of its elements: this is what makes a
    per-unit quantity a feature of the network.
    """
    u = u.double()
    out = [u.mean(1), u.std(1, correction=0), u.min(1).values, u.median(1).values, u.max(1).values]
    return torch.stack(out, dim=1).flatten(1)


def layer_features(params: dict, layer: str) -> tuple[torch.Tensor, list[str]]:
    """One recipe for every layer (chapter, equation {eq}`weights-features`): (M, n) and names.

    With the layer's weight as w[unit, channel, position] (:func:`layer_view`):

    - ``layer_stats`` of the weight and of the bias (11 + 11);
    - per unit, summarised over the units (``summary_over_units``): its norm ``in_norm``; the
      share of its squared weight on its strongest input channel, ``top_share``; and
      ``contrast``, the spread over channels of its summed weights (its response to a flat input
      on each channel) relative to its norm, large for a unit that tells channels apart and
      ignores shape (3 x 5);
    - per input channel: its share of the layer's squared weight, and the mean and standard
      deviation over units of the units' summed weights on it. The first layer's channels are
      the three colours, whose order means something: its 3 x 3 values are kept as they are.
      Any other layer's channels are the previous layer's units, whose order means nothing: they
      are summarised over the channels (3 x 5).

    Every quantity is a statistic over a layer's units (and over its input channels where those
    are units themselves), so the features do not change when any hidden layer is permuted.
    """
    w = layer_view(params, layer)
    energy = (w**2).sum(-1)  # (M, units, channels)
    sums = w.sum(-1)
    norm = energy.sum(-1).sqrt()
    top_share = energy.amax(-1) / (energy.sum(-1) + _EPS)
    contrast = sums.std(-1, correction=0) / (norm + _EPS)
    per_unit = torch.stack([norm, top_share, contrast], dim=-1)
    share = energy.sum(1) / (energy.sum((1, 2))[:, None] + _EPS)
    per_channel = torch.stack([share, sums.mean(1), sums.std(1, correction=0)], dim=-1)  # (M, C, 3)
    kinds = ("share", "sum_mean", "sum_std")
    blocks = [
        layer_stats(params[f"{layer}.weight"]),
        layer_stats(params[f"{layer}.bias"]),
        summary_over_units(per_unit),
    ]
    names = [f"{layer}.weight_{s}" for s in LAYER_STATS] + [f"{layer}.bias_{s}" for s in LAYER_STATS]
    names += [f"{layer}.{q}_{s}" for s in UNIT_STATS for q in ("in_norm", "top_share", "contrast")]
    if layer == layer_names(params)[0]:
        blocks.append(per_channel.flatten(1))
        names += [f"{layer}.channel{c}_{k}" for c in range(per_channel.shape[1]) for k in kinds]
    else:
        blocks.append(summary_over_units(per_channel))
        names += [f"{layer}.channel_{k}_{s}" for s in UNIT_STATS for k in kinds]
    return torch.cat(blocks, dim=1), names


def weight_features(params: dict, layers: str = "all") -> tuple[np.ndarray, list[str]]:
    """The statistics detector's input: ``layer_features`` of each layer that ``layers`` selects
    (``LAYER_CHOICES``), side by side. Returns (M, n_features) float64 and the feature names.

    Every layer gets the same kind of features, so a detector reading one layer and a detector
    reading another differ in the layer only, never in the recipe.
    """
    blocks, names = zip(*(layer_features(params, layer) for layer in chosen_layers(params, layers)))
    return torch.cat(blocks, dim=1).numpy(), [n for block in names for n in block]


def color_energy(params: dict) -> torch.Tensor:
    """Share of the first layer's squared weight on each colour channel: (M, 3), rows sum to 1.

    Not a detector's input (the channel order is meaningful here, so it is a feature of the first
    layer only); the chapter plots it to show how the colour shortcut is written into the weights.
    """
    energy = (layer_view(params, layer_names(params)[0]) ** 2).sum((1, 3))
    return energy / (energy.sum(1, keepdim=True) + _EPS)


def _unit_summary(w: torch.Tensor, dim: int) -> torch.Tensor:
    """Order-free summary of each unit's weights along ``dim`` of (M, units, n): mean, std, rms, max |w|."""
    return torch.stack(
        [w.mean(dim), w.std(dim, correction=0), w.pow(2).mean(dim).sqrt(), w.abs().amax(dim)], dim=-1
    )


def unit_sets(params: dict) -> list[torch.Tensor]:
    """One set per hidden layer: each unit's incoming weights, bias and outgoing weights (M, units, d).

    The DeepSets detector's input (equation {eq}`weights-deepsets`). Weights from the input (fixed
    pixel and colour order) and to the output (fixed class order) are kept raw; weights to or from
    another hidden layer, whose units can also be permuted, enter as an order-free summary
    (``_unit_summary``). MLP: one set of ``width`` units x (192 + 1 + 10). CNN: conv1's filters
    (27 + 1 + summary of their conv2 weights) and conv2's filters (summary of their conv1 weights +
    1 + their 10 x 4 readout weights).
    """
    p = {k: v.double() for k, v in params.items()}
    if family_of(p) == "mlp":
        w1, b1, w2 = p["fc1.weight"], p["fc1.bias"], p["fc2.weight"]
        return [torch.cat([w1, b1[..., None], w2.transpose(1, 2)], dim=-1)]
    c1, c2 = p["conv1.weight"], p["conv2.weight"]
    M, n1, n2 = len(c1), c1.shape[1], c2.shape[1]
    out1 = c2.transpose(1, 2).reshape(M, n1, -1)  # conv1 filter j: all conv2 weights reading it
    in2 = c2.reshape(M, n2, -1)
    read2 = layer_view(p, "fc").transpose(1, 2).reshape(M, n2, -1)  # conv2 filter j: its readout
    return [
        torch.cat([c1.reshape(M, n1, -1), p["conv1.bias"][..., None], _unit_summary(out1, -1)], -1),
        torch.cat([_unit_summary(in2, -1), p["conv2.bias"][..., None], read2], -1),
    ]
