"""The chapter's explorer: pick an attribute and a sparsity, see its accuracy and bias
amplification against sparsity, and test images on which pruning flipped the prediction."""

from __future__ import annotations

import numpy as np

from earlybias.pruning.experiment import Outputs


def flipped(o: Outputs, attribute: int, level: int, seed: int = 0) -> np.ndarray:
    """Indices of test images whose prediction of ``attribute`` is right for the dense model and
    wrong at sparsity index ``level`` (seed ``seed``), most confident dense prediction first."""
    dense, sparse = o.test_logits[0, seed, :, attribute], o.test_logits[level, seed, :, attribute]
    truth = o.test_labels[:, attribute]
    hits = np.flatnonzero(((dense > 0) == truth) & ((sparse > 0) != truth))
    return hits[np.argsort(-np.abs(dense[hits]))]


def show_images(images, indices, axes, titles=None) -> None:
    """Draw test images (N, 3, S, S) ``indices`` on ``axes``; blank axes where there are fewer."""
    for k, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(indices):
            ax.imshow(np.asarray(images[indices[k]]).transpose(1, 2, 0), interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
        else:
            ax.axis("off")


def explore(o: Outputs, attributes_table, images, attribute: str, sparsity: float, n_images: int = 6) -> None:
    """Accuracy and bias amplification of ``attribute`` against sparsity (``attributes_table``:
    ``analysis.per_attribute``), and images that pruning to ``sparsity`` got newly wrong."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    a = list(o.attributes).index(attribute)
    level = int(np.argmin(np.abs(o.sparsities - sparsity)))
    rows = attributes_table[attributes_table.attribute == attribute].copy()
    rows["remaining weights (%)"] = 100 * (1 - rows.sparsity)
    fig = plt.figure(figsize=(10, 4.6))
    grid = fig.add_gridspec(2, max(n_images, 4), height_ratios=(2.2, 1))
    for col, (name, label) in enumerate(
        [("accuracy", "test accuracy"), ("bias_amplification", "bias amplification")]
    ):
        ax = fig.add_subplot(grid[0, 2 * col : 2 * col + 2] if n_images >= 4 else grid[0, col])
        sns.lineplot(data=rows, x="remaining weights (%)", y=name, marker="o", errorbar="sd", ax=ax)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.axvline(100 * (1 - o.sparsities[level]), color="grey", ls=":")
        ax.set_ylabel(label)
    hits = flipped(o, a, level)[:n_images]
    axes = [fig.add_subplot(grid[1, k]) for k in range(n_images)]
    truth = o.test_labels[hits, a]
    show_images(images, hits, axes, [f"truth {t}" for t in truth])
    fig.suptitle(
        f"{attribute}: {len(flipped(o, a, level))} test images newly wrong at "
        f"{o.sparsities[level]:.1%} sparsity (seed 0); the first {len(hits)}",
        fontsize=10,
    )
    plt.show()


def explorer(o: Outputs, attributes_table, images):
    """Dropdowns over attributes and sparsities, showing :func:`explore`."""
    import ipywidgets as widgets

    return widgets.interactive(
        explore,
        o=widgets.fixed(o),
        attributes_table=widgets.fixed(attributes_table),
        images=widgets.fixed(images),
        attribute=widgets.Dropdown(options=[str(a) for a in o.attributes], description="attribute"),
        sparsity=widgets.SelectionSlider(
            options=[float(s) for s in o.sparsities[1:]],
            value=float(o.sparsities[-1]),
            description="sparsity",
        ),
        n_images=widgets.fixed(6),
    )
