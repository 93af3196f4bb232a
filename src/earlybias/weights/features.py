"""What a detector sees of a network: features computed from its weights alone (IFBiD, Sec. 3).

Every function takes ``params``, a zoo's per-layer tensors with a leading model dimension
(``Zoo.params``: ``fc1.weight`` (M, 32, 192), ...), and works on all M models at once.

A hidden unit can be moved to another position, together with its incoming and outgoing
weights, without changing the function the network computes. A feature that changes under such a
permutation describes the arbitrary order of the units, not the network, so everything here except
``flat_weights`` is invariant to it: statistics over all entries of a layer, statistics over
units of per-unit quantities, and ``unit_sets``, the per-unit vectors a DeepSets detector pools.

The 192 inputs of the MLP (and the 3 input channels of the CNN) are 3 colour channels x 64 pixels,
in channel-major order, so the first layer's weights say how much a network listens to each colour.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "LAYER_CHOICES",
    "family_of",
    "layer_names",
    "flat_weights",
    "layer_stats",
    "summary_over_units",
    "colour_features",
    "unit_sets",
    "weight_features",
]

LAYER_CHOICES = ("first", "last", "all")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_LAYER_STATS = (
    "mean",
    "std",
    "skew",
    "kurtosis",
    *(f"q{int(q * 100):02d}" for q in QUANTILES),
    "mean_abs",
    "l2",
)
_UNIT_STATS = ("mean", "std", "min", "median", "max")
_EPS = 1e-12
N_CHANNELS = 3


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


def _n_models(params: dict) -> int:
    return len(next(iter(params.values())))


def flat_weights(params: dict) -> torch.Tensor:
    """Every parameter of each model in one row (M, n_params), in ``state_dict`` order: the raw
    baseline, which is *not* invariant to permuting hidden units."""
    family_of(params)
    return torch.cat([v.reshape(_n_models(params), -1) for v in params.values()], dim=1)


def layer_stats(w: torch.Tensor) -> torch.Tensor:
    """Moments, quantiles and norms of all entries of one parameter of each model: (M, 11).

    Columns: mean, std, skew, kurtosis (excess), the quantiles ``QUANTILES``, mean |w|, l2 norm.
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
    """Mean, std, min, median and max over the units of per-unit values u (M, units, k): (M, 5 k).

    Statistics of a set do not depend on the order of its elements: this is what makes a
    per-unit quantity a feature of the network.
    """
    u = u.double()
    out = [u.mean(1), u.std(1, correction=0), u.min(1).values, u.median(1).values, u.max(1).values]
    return torch.stack(out, dim=1).flatten(1)


def _first_by_channel(params: dict) -> torch.Tensor:
    """First-layer weights as (M, units, 3 colour channels, positions)."""
    w = params[f"{layer_names(params)[0]}.weight"].double()
    if w.dim() == 3:  # mlp: (M, units, 192), inputs in (channel, pixel) order
        return w.reshape(*w.shape[:2], N_CHANNELS, -1)
    return w.flatten(3)  # cnn: (M, out, 3, 3, 3) -> (M, out, 3, 9)


def colour_features(params: dict) -> tuple[torch.Tensor, list[str]]:
    """How the first layer listens to colour (IFBiD, Sec. 4.1: the bias is a colour shortcut).

    - ``energy_c``: share of the first layer's squared weights on colour channel c (3 columns);
    - ``unit_top_share``: per unit, the share of its squared weights on its strongest channel;
    - ``unit_contrast``: per unit, the spread over channels of its summed weights (its response to
      a flat patch of each colour) relative to its norm: large for a unit that tells colours apart
      and ignores shape;
    - ``unit_sum_c``: per unit, its summed weights on channel c;
    the per-unit values summarised over units by ``summary_over_units``.
    """
    w = _first_by_channel(params)
    energy = (w**2).sum(-1)  # (M, units, 3)
    share = energy.sum(1) / (energy.sum((1, 2))[:, None] + _EPS)
    unit_share = energy / (energy.sum(-1, keepdim=True) + _EPS)
    sums = w.sum(-1)
    contrast = sums.std(-1, correction=0) / (w.flatten(2).norm(dim=-1) + _EPS)
    per_unit = torch.cat([unit_share.max(-1, keepdim=True).values, contrast[..., None], sums], -1)
    names = [f"energy_{c}" for c in range(N_CHANNELS)]
    unit_names = ["unit_top_share", "unit_contrast", *(f"unit_sum_{c}" for c in range(N_CHANNELS))]
    names += [f"{n}_{s}" for s in _UNIT_STATS for n in unit_names]
    return torch.cat([share, summary_over_units(per_unit)], dim=1), names


def _unit_summary(w: torch.Tensor, dim: int) -> torch.Tensor:
    """Order-free summary of each unit's weights along ``dim`` of (M, units, n): mean, std, rms, max |w|."""
    return torch.stack(
        [w.mean(dim), w.std(dim, correction=0), w.pow(2).mean(dim).sqrt(), w.abs().amax(dim)], dim=-1
    )


def unit_sets(params: dict) -> list[torch.Tensor]:
    """One set per hidden layer: each unit's incoming weights, bias and outgoing weights (M, units, d).

    The DeepSets detector's input (IFBiD, Sec. 3, read permutation-invariantly). Weights from the
    input (fixed pixel and channel order) and to the output (fixed class order) are kept raw;
    weights to or from another hidden layer, whose units can also be permuted, enter as an
    order-free summary (``_unit_summary``). MLP: one set of 32 units x (192 + 1 + 10). CNN: conv1's
    channels (27 + 1 + summary of their conv2 weights) and conv2's channels (summary of their
    conv1 weights + 1 + their 10 x 4 readout weights).
    """
    p = {k: v.double() for k, v in params.items()}
    if family_of(p) == "mlp":
        w1, b1, w2 = p["fc1.weight"], p["fc1.bias"], p["fc2.weight"]
        return [torch.cat([w1, b1[..., None], w2.transpose(1, 2)], dim=-1)]
    c1, c2, fc = p["conv1.weight"], p["conv2.weight"], p["fc.weight"]
    M, n1, n2 = len(c1), c1.shape[1], c2.shape[1]
    out1 = c2.transpose(1, 2).reshape(M, n1, -1)  # conv1 unit j: all conv2 weights reading it
    in2 = c2.reshape(M, n2, -1)
    # fc's inputs are conv2's channels in (channel, row, column) order, 2 x 2 positions each.
    read2 = fc.reshape(M, fc.shape[1], n2, -1).permute(0, 2, 1, 3).reshape(M, n2, -1)
    return [
        torch.cat([c1.reshape(M, n1, -1), p["conv1.bias"][..., None], _unit_summary(out1, -1)], -1),
        torch.cat([_unit_summary(in2, -1), p["conv2.bias"][..., None], read2], -1),
    ]


def _check_layers(layers: str) -> None:
    if layers not in LAYER_CHOICES:
        raise ValueError(f"layers must be one of {LAYER_CHOICES}, got {layers!r}")


def weight_features(params: dict, layers: str = "all") -> tuple[np.ndarray, list[str]]:
    """The statistics detector's input: permutation-invariant features of each model (IFBiD, Sec. 3).

    ``layers`` selects which weights are read: ``"first"`` (the layer that sees the pixels),
    ``"last"`` (the readout) or ``"all"``. Returns (M, n_features) float64 and the feature names:
    ``layer_stats`` of every weight and bias of the selected layers (a bias's entries are already
    one value per unit), ``summary_over_units`` of each hidden unit's incoming and outgoing weight
    norms (where that layer is selected) and, with the first layer, ``colour_features``.
    """
    _check_layers(layers)
    names = layer_names(params)
    chosen = {"first": names[:1], "last": names[-1:], "all": names}[layers]
    blocks, cols = [], []
    for layer in chosen:
        for part in ("weight", "bias"):
            blocks.append(layer_stats(params[f"{layer}.{part}"]))
            cols += [f"{layer}.{part}_{s}" for s in _LAYER_STATS]
    # Hidden layer l sits between layers l (incoming) and l + 1 (outgoing).
    for incoming, outgoing in zip(names[:-1], names[1:]):
        w_in = params[f"{incoming}.weight"].double()
        w_out = params[f"{outgoing}.weight"].double()
        M, units = w_in.shape[:2]
        per_unit, unit_cols = [], []
        if incoming in chosen:
            per_unit.append(w_in.reshape(M, units, -1).norm(dim=-1))
            unit_cols.append(f"{incoming}.in_norm")
        if outgoing in chosen:
            # Outgoing weights of unit j: the slice of the next layer that reads channel j.
            w_out = w_out.reshape(M, w_out.shape[1], units, -1) if w_out.dim() == 3 else w_out
            per_unit.append(w_out.transpose(1, 2).reshape(M, units, -1).norm(dim=-1))
            unit_cols.append(f"{incoming}.out_norm")
        if per_unit:
            blocks.append(summary_over_units(torch.stack(per_unit, dim=-1)))
            cols += [f"{c}_{s}" for s in _UNIT_STATS for c in unit_cols]
    if names[0] in chosen:
        colour, colour_cols = colour_features(params)
        blocks.append(colour)
        cols += colour_cols
    return torch.cat(blocks, dim=1).numpy(), cols
