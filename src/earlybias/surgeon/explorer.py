"""The chapter's explorer: pick a colour-label correlation rho and FFW's lambda (the paper's, or 0:
no MI term), see every method's unbiased accuracy at that rho and the mask's sparsity per layer."""

from __future__ import annotations

import numpy as np

from earlybias.surgeon.analysis import CHANCE
from earlybias.surgeon.experiment import Outputs

#: How the methods are called in the chapter's figures.
LABELS = {
    "vanilla": "vanilla",
    "ffw": "FFW",
    "no_mi": "FFW, λ = 0",
    "random_mask": "random mask",
    "last_layer": "last layer re-trained",
    "ceiling": "trained unbiased",
}


def explore(o: Outputs, rho: float, mi_weight: float) -> None:
    """Accuracies of every method at ``rho`` (one dot per seed, bar: mean) and the per-layer
    sparsity of the mask found with ``mi_weight`` (the run's lambda, or 0)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rho = float(o.setup.rhos[int(np.argmin(np.abs(np.asarray(o.setup.rhos) - rho)))])
    variant = "ffw" if mi_weight > 0 else "no_mi"
    t = o.table[np.isclose(o.table.rho, rho) | (o.table.method == "ceiling")].copy()
    t["method"] = t.method.map(LABELS)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(1.6, 1))
    order = list(LABELS.values())
    sns.barplot(data=t, y="method", x="accuracy", order=order, errorbar=None, color="0.85", ax=ax)
    sns.stripplot(data=t, y="method", x="accuracy", order=order, color="C0", size=5, ax=ax)
    ax.axvline(CHANCE, color="grey", ls=":", label="chance")
    ax.set_xlim(0, 1)
    ax.set_xlabel("unbiased test accuracy")
    ax.set_ylabel("")
    ax.legend(loc="upper right", fontsize=8)
    s = o.sparsity[(o.sparsity.method == variant) & np.isclose(o.sparsity.rho, rho)]
    sns.barplot(data=s, x="layer", y="sparsity", errorbar="sd", color="C1", ax=bx)
    bx.set_ylim(0, 1)
    bx.set_ylabel("share of weights removed")
    lam = o.setup.mi_weight if variant == "ffw" else 0.0
    bx.set_title(f"mask found with λ = {lam:g}", fontsize=10)
    fig.suptitle(
        f"ρ = {rho:g}: {int(o.n_conflicting[o.setup.rhos.index(rho)])} bias-conflicting training images"
    )
    fig.tight_layout()
    plt.show()


def explorer(o: Outputs):
    """Controls over rho and lambda, showing :func:`explore`."""
    import ipywidgets as widgets

    return widgets.interactive(
        explore,
        o=widgets.fixed(o),
        rho=widgets.SelectionSlider(options=list(o.setup.rhos), value=o.setup.rhos[-1], description="rho"),
        mi_weight=widgets.Dropdown(options=[o.setup.mi_weight, 0.0], description="lambda"),
    )


def page_figure(o: Outputs, rho: float, mi_weight: float):
    """One state of the in-page explorer, :func:`explore` in plotly: every method's unbiased
    accuracy at ``rho`` (bar: mean, dots: seeds) and the mask's sparsity per layer."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    variant = "ffw" if mi_weight > 0 else "no_mi"
    t = o.table[np.isclose(o.table.rho, rho) | (o.table.method == "ceiling")]
    order = list(LABELS)
    means = [t[t.method == m].accuracy.mean() for m in order]
    lam = o.setup.mi_weight if variant == "ffw" else 0.0
    titles = ("unbiased test accuracy", f"mask found with λ = {lam:g}")
    fig = make_subplots(1, 2, column_widths=[0.6, 0.4], subplot_titles=titles)
    names = [LABELS[m] for m in order]
    fig.add_trace(go.Bar(y=names, x=means, orientation="h", marker_color="#d9d9d9", name="mean"), 1, 1)
    fig.add_trace(
        go.Scatter(
            y=t.method.map(LABELS), x=t.accuracy, mode="markers", marker_color="#1f77b4", name="one seed"
        ),
        1,
        1,
    )
    fig.add_vline(x=CHANCE, line_dash="dot", line_color="grey", row=1, col=1)
    s = o.sparsity[(o.sparsity.method == variant) & np.isclose(o.sparsity.rho, rho)]
    per_layer = s.groupby("layer", sort=False).sparsity.agg(["mean", "std"])
    fig.add_trace(
        go.Bar(
            x=per_layer.index.astype(str),
            y=per_layer["mean"],
            error_y=dict(array=per_layer["std"].fillna(0)),
            marker_color="#ff7f0e",
            showlegend=False,
        ),
        1,
        2,
    )
    fig.update_xaxes(range=[0, 1], row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title_text="share of weights removed", row=1, col=2)
    conflicting = int(o.n_conflicting[o.setup.rhos.index(rho)])
    fig.update_layout(
        title=dict(
            text=f"ρ = {rho:g}: {conflicting} bias-conflicting training images",
            font_size=13,
        ),
        height=400,
        legend=dict(orientation="h", y=-0.15),
        margin=dict(t=70),
    )
    return fig


def page_explorer(o: Outputs):
    """The in-page explorer: :func:`page_figure` for every rho, with the run's lambda and 0."""
    from earlybias.inpage import PageExplorer

    return PageExplorer(
        "surgeon",
        {"rho": [float(r) for r in o.setup.rhos], "mi_weight": [float(o.setup.mi_weight), 0.0]},
        lambda rho, mi_weight: page_figure(o, rho, mi_weight),
        sliders=["rho"],
        labels={"rho": "ρ", "mi_weight": "λ"},
    )
