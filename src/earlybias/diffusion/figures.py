"""The chapter's figures: sample grids, the film strip of x̂0, switch curves, tau50 against rho.

Each function takes what an experiment returned and draws one figure; the captions live in the
notebook next to them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from earlybias.data.shapes import FACTORS as WORLD_FACTORS
from earlybias.diffusion.model import FACTORS

__all__ = [
    "sample_grid",
    "switch_curves",
    "switch_grid",
    "film_strip",
    "agreement",
    "survival",
    "bias_curves",
    "rare_curves",
    "drop_curve",
]


def _rgb(image: torch.Tensor) -> np.ndarray:
    return ((image.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def _label(cond, factors=("color", "shape", "texture")) -> str:
    return "\n".join(WORLD_FACTORS[f][int(cond[FACTORS.index(f)])] for f in factors)


def sample_grid(images: torch.Tensor, cond: torch.Tensor, n: int = 24, cols: int = 12):
    n = min(n, len(images))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.25))
    for i, ax in enumerate(np.atleast_1d(axes).flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_rgb(images[i]), interpolation="nearest")
            ax.set_title(_label(cond[i]), fontsize=6)
    fig.suptitle("samples and their requested colour, shape, texture", fontsize=9)
    return fig


def switch_curves(data: dict, boots: dict):
    x = data["fractions"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for f in FACTORS:
        keep = data["keep"][f].astype(float)
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(keep), size=(500, len(keep)))
        lo, hi = np.quantile(keep[idx].mean(axis=1), [0.025, 0.975], axis=0)
        (line,) = ax.plot(x, keep.mean(axis=0), "o-", label=f)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
        tau = float(np.median(boots[f]))
        ax.axvline(tau, color=line.get_color(), ls="--", lw=1)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xlabel("switch point tau (fraction of the steps run with A)")
    ax.set_ylabel("P(final image keeps A's value)")
    ax.legend(title="factor switched", fontsize=8)
    return fig


def switch_grid(data: dict, factor: str = "color", n: int = 8):
    j = list(data["keep"]).index(factor)
    images = data["images"][j]  # (n_pairs, S, 3, H, W)
    x = data["fractions"]
    n = min(n, images.shape[0])
    fig, axes = plt.subplots(len(x), n, figsize=(n * 0.9, len(x) * 0.9))
    for s in range(len(x)):
        for i in range(n):
            ax = axes[s, i]
            ax.imshow(_rgb(images[i, s]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(f"{x[s]:.2f}", fontsize=7)
    fig.supylabel("switch point tau", fontsize=8)
    fig.suptitle(f"{factor} switched from A to B (columns: pairs)", fontsize=9)
    return fig


def film_strip(x0: torch.Tensor, final: torch.Tensor, index: int = 0):
    steps = x0.shape[0]
    fig, axes = plt.subplots(1, steps + 1, figsize=((steps + 1) * 0.7, 1.2))
    for i in range(steps):
        axes[i].imshow(_rgb(x0[i, index]), interpolation="nearest")
        axes[i].set_title(f"{i / steps:.2f}", fontsize=6)
        axes[i].axis("off")
    axes[-1].imshow(_rgb(final[index]), interpolation="nearest")
    axes[-1].set_title("final", fontsize=6)
    axes[-1].axis("off")
    return fig


def _shares(ax, xlabel: str, ylabel: str) -> None:
    """Label an axis whose y is a share in [0, 1] of samples, one line per curve."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)


def agreement(agree: np.ndarray, metrics: dict):
    steps = len(agree)
    x = np.arange(steps) / steps
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for j, f in enumerate(FACTORS):
        (line,) = ax.plot(x, agree[:, j], "-", label=f)
        tau = metrics.get(f"tau50_{f}")
        if tau is not None:
            ax.plot([tau], [np.interp(tau, x, agree[:, j])], "x", color=line.get_color(), ms=9)
    _shares(ax, "fraction of the steps done", "share of samples: x̂0 has the final value")
    return fig


def survival(data: dict, taus: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for j, f in enumerate(FACTORS):
        (line,) = ax.plot(data["fractions"], data["survival"][:, j], "o-", label=f)
        ax.axvline(taus[f], color=line.get_color(), ls="--", lw=1)
    ax.axhline(0.9, color="grey", lw=0.8)
    _shares(ax, "resampling point t (fraction of the steps done)", "share of continuations keeping the value")
    return fig


def bias_curves(data: dict, taus: dict, success: dict):
    """Left: P(final keeps the usual colour) against the switch point per rho. Middle: tau50
    against rho; right: the switch success against rho; each with its bootstrap 95 % interval."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    x = data["fractions"]
    rhos = sorted(data["curves"])
    for r in rhos:
        a.plot(x, data["curves"][r], "o-", label=f"rho = {r:g}")
    a.axhline(0.5, color="grey", lw=0.8)
    a.set_xlabel("switch point tau")
    a.set_ylabel("P(final keeps the usual colour)")
    a.legend(fontsize=8)
    pos = np.arange(len(rhos))
    for ax, values, boots, label in (
        (b, taus, data["boot"], "tau50(colour)"),
        (c, success, data["success_boot"], "switch success (new colour imposed)"),
    ):
        lo = [values[r] - np.quantile(boots[r], 0.025) for r in rhos]
        hi = [np.quantile(boots[r], 0.975) - values[r] for r in rhos]
        y = [values[r] for r in rhos]
        ax.errorbar(pos, y, yerr=[np.maximum(lo, 0), np.maximum(hi, 0)], fmt="o-", capsize=4)
        ax.set_xticks(pos, [f"{r:g}" for r in rhos])
        ax.set_xlabel("rho (shape-colour correlation)")
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig


def rare_curves(data: dict):
    """P(final has B's shape) against the switch point: to the rare shape (solid) or to a common
    one (dashed), for each training world (one colour per world)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    names = sorted({name for _, name in data["follow"]})
    for name, color in zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        for to, style in (("rare", "o-"), ("common", "s--")):
            ax.plot(
                data["fractions"],
                data["follow"][(to, name)],
                style,
                color=color,
                label=f"{name} world, to {to}",
            )
    _shares(ax, "switch point tau (fraction of the steps run with A)", "P(final image has B's shape)")
    return fig


def drop_curve(data: dict, at: float):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(data["fractions"], data["change"], "o-", label="samples with a factor changed")
    ax.plot(data["fractions"], data["saving"], "s--", label="share of evaluations saved")
    ax.axvline(at, color="grey", ls=":", lw=1)
    ax.axhline(0.05, color="grey", lw=0.8)
    _shares(ax, "condition dropped from this fraction of the steps on", "share")
    return fig
