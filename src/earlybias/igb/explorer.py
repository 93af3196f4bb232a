"""The chapter's interactive explorer: pick an architecture, see f_0 against the theory.

:func:`explore_data` is the computation (a small headline experiment); :func:`explore` draws it;
:func:`explorer` wires ``explore`` to widgets, which run live in Jupyter. The book has no kernel:
:func:`page_explorer` computes the explorer over a grid of activations and depths when the chapter
executes, and the reader's browser switches between the results (``earlybias.inpage``).
"""

from __future__ import annotations

import numpy as np

from earlybias.claims import Experiment
from earlybias.igb import ACTIVATIONS, experiments, pooling_problem

#: The explorer's starting point, also what the book shows.
INITIAL = {"activation": "relu", "depth": 1, "pool_k": 1, "input_shift": 0.0}
#: Sizes of one explorer run: small enough to answer a slider in about a second.
SIZES = {"width": 128, "n_points": 300, "n_inits": 400}
#: The in-page explorer's grid: every activation at these depths (pooling off, centred data).
PAGE_DEPTHS = (1, 2, 4)


def explore_data(
    activation: str = "relu", depth: int = 1, pool_k: int = 1, input_shift: float = 0.0, seed: int = 0
) -> Experiment | str:
    """The explorer's computation for one setting of its controls: :func:`experiments.headline`
    at the explorer's sizes, or the reason the theory cannot predict the setting
    (:func:`earlybias.igb.pooling_problem`)."""
    problem = pooling_problem(pool_k, activation, input_shift=input_shift)
    if problem:
        return f"Max-pooling is outside the theory here: {problem}. Set pool k to 1, or change the others."
    return experiments.headline(
        activation=activation, depth=depth, pool_k=pool_k, input_shift=input_shift, seed=seed, **SIZES
    )


def explore(
    activation: str = "relu", depth: int = 1, pool_k: int = 1, input_shift: float = 0.0, seed: int = 0
) -> Experiment | str:
    """Simulate small networks with these choices and plot f_0 against the theory; returns what
    :func:`explore_data` returns (the widget keeps it as its ``result``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    exp = explore_data(activation, depth, pool_k, input_shift, seed)
    if isinstance(exp, str):
        print(exp)
        return exp
    fig, ax = plt.subplots(figsize=(6, 3.4))
    sns.histplot(exp.data["samples"]["f0"], bins=30, stat="density", ax=ax, label="simulation")
    if "density" in exp.data:
        ax.plot(exp.data["density"]["f"], exp.data["density"]["pdf"], color="k", label="theory")
    m = exp.metrics
    ax.set_title(
        f"{activation}, depth {depth}, pool {pool_k}, shift {input_shift:g}: gamma "
        f"{m['gamma_theory']:.2f} in theory, {m['gamma_measured']:.2f} measured"
    )
    ax.set_xlabel("fraction of the data put in class 0, $f_0$")
    ax.set_ylabel("density over initialisations")
    ax.legend()
    plt.show()
    return exp


def explorer(seed: int = 0):
    """The widget: a dropdown for the activation and sliders for depth, pooling and shift."""
    import ipywidgets as widgets

    controls = {
        "activation": widgets.Dropdown(
            options=ACTIVATIONS, value=INITIAL["activation"], description="activation"
        ),
        "depth": widgets.IntSlider(value=INITIAL["depth"], min=1, max=6, description="depth"),
        "pool_k": widgets.IntSlider(value=INITIAL["pool_k"], min=1, max=8, description="pool k"),
        "input_shift": widgets.FloatSlider(
            value=INITIAL["input_shift"], min=0.0, max=2.0, step=0.25, description="shift s"
        ),
    }
    return widgets.interactive(explore, **controls, seed=widgets.fixed(seed))


def page_figure(exp: Experiment, activation: str, depth: int):
    """One state of the in-page explorer: the histogram of f_0 over initialisations and, where
    the theory applies, its density."""
    import plotly.graph_objects as go

    counts, edges = np.histogram(exp.data["samples"]["f0"], bins=30, range=(0.0, 1.0), density=True)
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name="simulation"))
    if "density" in exp.data:
        d = exp.data["density"]
        fig.add_trace(go.Scatter(x=d["f"], y=d["pdf"], mode="lines", line_color="black", name="theory"))
    m = exp.metrics
    fig.update_layout(
        title=f"{activation}, depth {depth}: gamma {m['gamma_theory']:.2f} in theory, "
        f"{m['gamma_measured']:.2f} measured",
        xaxis_title="fraction of the data put in class 0, f_0",
        yaxis_title="density over initialisations",
        xaxis_range=[0, 1],
        height=380,
        margin=dict(t=50, b=50),
    )
    return fig


def page_explorer(seed: int = 0):
    """The in-page explorer: :func:`explore_data` for every activation at :data:`PAGE_DEPTHS`."""
    from earlybias.inpage import PageExplorer

    return PageExplorer(
        "igb",
        {"activation": ACTIVATIONS, "depth": PAGE_DEPTHS},
        lambda activation, depth: page_figure(explore_data(activation, depth, seed=seed), activation, depth),
        sliders=["depth"],
    )
