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


def page_figure(o: Outputs, attributes_table, images, attribute: str, sparsity: float, n_images: int = 6):
    """One state of the in-page explorer, :func:`explore` in plotly: accuracy and bias
    amplification of ``attribute`` against the remaining weights (mean and SD over seeds, the
    chosen sparsity dotted), and test images pruning to ``sparsity`` newly got wrong."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from earlybias.inpage import image_uri, montage

    a = list(o.attributes).index(attribute)
    level = int(np.argmin(np.abs(o.sparsities - sparsity)))
    rows = attributes_table[attributes_table.attribute == attribute]
    curves = rows.groupby("sparsity")[["accuracy", "bias_amplification"]].agg(["mean", "std"])
    remaining = 100 * (1 - curves.index.to_numpy())
    hits = flipped(o, a, level)
    fig = make_subplots(
        2,
        2,
        specs=[[{}, {}], [{"colspan": 2}, None]],
        row_heights=[0.62, 0.38],
        vertical_spacing=0.16,
        subplot_titles=(
            "test accuracy",
            "bias amplification",
            f"newly wrong at {o.sparsities[level]:.1%} (seed 0)",
        ),
    )
    for col, name in enumerate(("accuracy", "bias_amplification"), start=1):
        fig.add_trace(
            go.Scatter(
                x=remaining,
                y=curves[name]["mean"],
                error_y=dict(array=curves[name]["std"].fillna(0)),
                mode="lines+markers",
                showlegend=False,
            ),
            1,
            col,
        )
        fig.add_vline(x=100 * (1 - o.sparsities[level]), line_dash="dot", line_color="grey", row=1, col=col)
        fig.update_xaxes(type="log", autorange="reversed", title_text="remaining weights (%)", row=1, col=col)
    shown = np.asarray(images[hits[:n_images]]).transpose(0, 2, 3, 1)
    if len(shown):
        big = shown.repeat(4, axis=1).repeat(4, axis=2)
        tiles = montage(big, columns=n_images, pad=4)
        fig.add_trace(go.Image(source=image_uri(tiles), hoverinfo="skip"), 2, 1)
    fig.update_xaxes(visible=False, row=2, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_layout(
        title=dict(
            text=f"{attribute}: {len(hits)} test images newly wrong at {o.sparsities[level]:.1%} sparsity",
            font_size=13,
        ),
        height=560,
        margin=dict(t=80, b=30),
    )
    return fig


def page_explorer(o: Outputs, attributes_table, images):
    """The in-page explorer: :func:`page_figure` for every attribute and pruned sparsity."""
    from earlybias.inpage import PageExplorer

    return PageExplorer(
        "pruning",
        {"attribute": [str(a) for a in o.attributes], "sparsity": [float(s) for s in o.sparsities[1:]]},
        lambda attribute, sparsity: page_figure(o, attributes_table, images, attribute, sparsity),
        sliders=["sparsity"],
        initial={"sparsity": float(o.sparsities[-1])},
    )
