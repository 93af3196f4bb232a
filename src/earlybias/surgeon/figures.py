"""The chapter's figures, one function each; every one returns its matplotlib figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from earlybias.surgeon.analysis import CHANCE, REBIAS_VANILLA
from earlybias.surgeon.experiment import Data, Outputs
from earlybias.surgeon.explorer import LABELS


def _show(ax, image, title=None):
    ax.imshow(np.asarray(image).transpose(1, 2, 0).clip(0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def data_examples(data: Data, rho_index: int = -1, n: int = 10):
    """Top: training images at one rho, one per class (bias-aligned); middle: that level's
    bias-conflicting training images; bottom: unbiased test images."""
    fig, axes = plt.subplots(3, n, figsize=(n * 0.9, 3.3))
    y = data.train_labels.numpy()
    colors = data.train_colors[rho_index]
    aligned = [int(np.flatnonzero((y == c) & (colors == c))[0]) for c in range(n)]
    conflicting = np.flatnonzero(colors != y)[:n]
    for k in range(n):
        _show(axes[0, k], data.train_images[rho_index, aligned[k]], f"{y[aligned[k]]}")
        if k < len(conflicting):
            _show(axes[1, k], data.train_images[rho_index, conflicting[k]], f"{y[conflicting[k]]}")
        else:
            axes[1, k].axis("off")
        _show(axes[2, k], data.test_images[k * 37], f"{int(data.test_labels[k * 37])}")
    for ax, label in zip(axes[:, 0], ("aligned", "conflicting", "test")):
        ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_curves(o: Outputs):
    """Unbiased test accuracy against rho for every method (mean over seeds, band: one SD), with
    the model trained on unbiased colours and chance as horizontal lines, and ReBias' vanilla
    models on MNIST (its Table 1) at the levels it reports."""
    t = o.table[o.table.method != "ceiling"].copy()
    t["method"] = t.method.map(LABELS)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = {r: i for i, r in enumerate(o.setup.rhos)}
    t["level"] = t.rho.map(x)
    sns.lineplot(data=t, x="level", y="accuracy", hue="method", marker="o", errorbar="sd", ax=ax)
    known = [(x[r], REBIAS_VANILLA[r]) for r in o.setup.rhos if r in REBIAS_VANILLA]
    if known:
        ax.plot(*zip(*known), color="grey", ls="--", marker="s", label="vanilla on MNIST (ReBias, Table 1)")
    ceiling = o.table[o.table.method == "ceiling"].accuracy.mean()
    ax.axhline(ceiling, color="black", ls="--", lw=1, label=f"{LABELS['ceiling']} ({ceiling:.2f})")
    ax.axhline(CHANCE, color="grey", ls=":", lw=1, label="chance")
    ax.set_xticks(list(x.values()), [f"{r:g}" for r in x])
    ax.set_xlabel("colour-label correlation ρ of the training set")
    ax.set_ylabel("unbiased test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def mask_figure(o: Outputs):
    """Left: share of each layer's weights that FFW's mask (and the lambda = 0 mask) removes, at
    every rho. Right: the gate training's validation MI against the epoch (one line per model)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    s = o.sparsity.copy()
    s["mask"] = s.method.map({"ffw": f"FFW, λ = {o.setup.mi_weight:g}", "no_mi": "FFW, λ = 0"})
    s["rho"] = s.rho.map(lambda r: f"{r:g}")
    sns.barplot(data=s, x="layer", y="sparsity", hue="rho", errorbar="sd", ax=ax, palette="Blues")
    sns.stripplot(
        data=s[s.method == "no_mi"], x="layer", y="sparsity", color="C3", size=3, ax=ax, legend=False
    )
    ax.set_ylabel("share of weights removed")
    ax.set_ylim(0, 1)
    ax.legend(title="ρ (bars: λ > 0;\nred dots: λ = 0)", fontsize=7, title_fontsize=7)
    M = len(o.setup.rhos) * o.setup.n_seeds
    epochs = np.arange(1, len(o.val_mi) + 1)
    for m in range(2 * M):
        bx.plot(epochs, o.val_mi[:, m], color="C0" if m < M else "C3", alpha=0.5, lw=1)
    bx.plot([], [], color="C0", label=f"λ = {o.setup.mi_weight:g}")
    bx.plot([], [], color="C3", label="λ = 0")
    bx.set_xlabel("gate epoch")
    bx.set_ylabel("validation MI(colour; head) / log 10")
    bx.set_ylim(0, 1.05)
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


def probe_figure(o: Outputs):
    """Accuracy of linear probes for the colour (left) and the digit (right) on the vanilla and
    the sub-network's features, against rho; chance dotted."""
    p = o.probe.copy()
    p["features"] = p.features.map({"vanilla": "vanilla", "ffw": "FFW sub-network"})
    p["rho"] = p.rho.map(lambda r: f"{r:g}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, target in zip(axes, ("colour", "digit")):
        sns.barplot(data=p[p.target == target], x="rho", y="accuracy", hue="features", errorbar="sd", ax=ax)
        ax.axhline(CHANCE, color="grey", ls=":", lw=1)
        ax.set_title(f"linear probe for the {target}", fontsize=10)
        ax.set_xlabel("ρ")
        ax.set_ylabel("probe accuracy (unbiased test set)")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rescued(o: Outputs, data: Data, method: str, rho_index: int, seed: int = 0) -> np.ndarray:
    """Indices of bias-conflicting test digits that ``method``'s model (seed ``seed``) gets right
    and the vanilla model gets wrong at the rho of ``rho_index``."""
    m = rho_index * o.setup.n_seeds + seed
    y, b = data.test_labels.numpy(), data.test_colors.numpy()
    right = o.predictions[method][m] == y
    return np.flatnonzero((b != y) & right & (o.predictions["vanilla"][m] != y))


def rescued_examples(o: Outputs, data: Data, method: str, rho_index: int, n: int = 12):
    """Bias-conflicting test digits that ``method`` gets right and vanilla wrong, titled with the
    vanilla prediction -> the sub-network's."""
    hits = rescued(o, data, method, rho_index)[:n]
    fig, axes = plt.subplots(1, n, figsize=(n * 0.85, 1.4))
    m = rho_index * o.setup.n_seeds
    for k, ax in enumerate(axes):
        if k < len(hits):
            i = hits[k]
            _show(ax, data.test_images[i], f"{o.predictions['vanilla'][m, i]}->{o.predictions[method][m, i]}")
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def retrain_figure(o: Outputs):
    """Unbiased accuracy of FFW's architecture and the dense one, both re-initialised and trained
    on the top rho's biased data (one dot per seed)."""
    fig, ax = plt.subplots(figsize=(5, 3))
    sns.barplot(data=o.retrain, x="architecture", y="accuracy", errorbar=None, color="0.85", ax=ax)
    sns.stripplot(data=o.retrain, x="architecture", y="accuracy", color="C0", size=6, ax=ax)
    ax.axhline(CHANCE, color="grey", ls=":", lw=1, label="chance")
    ax.set_ylim(0, 1)
    ax.set_ylabel("unbiased test accuracy")
    ax.set_xlabel(f"re-trained at ρ = {o.setup.rhos[-1]:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
