"""Looking at a zoo: first-layer weights as colour filters, and the chapter's model explorer.

A CNN's first convolution is a set of small colour filters (3 x 3 pixels x 3 channels); an MLP's
first layer maps the 3 x 8 x 8 image to each hidden unit, so a unit's 192 weights are a small
colour image. A filter of one flat colour responds to colour and ignores shape: where a biased
model's shortcut shows first (chapter, equation {eq}`weights-features`, the contrast).
"""

from __future__ import annotations

import numpy as np

from earlybias.weights.features import layer_names


def first_layer_filters(params: dict, i: int) -> np.ndarray:
    """Model ``i``'s first-layer weights as images (units, height, width, RGB) in [0, 1].

    Zero weight is mid-grey; each model is scaled by its own largest weight, so the tint, not the
    overall size, is what the eye compares.
    """
    w = params[f"{layer_names(params)[0]}.weight"][i].detach().cpu().numpy()
    if w.ndim == 2:  # MLP: (units, 3 * 8 * 8)
        w = w.reshape(w.shape[0], 3, 8, 8)
    images = np.moveaxis(w, 1, -1)
    return 0.5 + images / (2.0 * np.abs(images).max())


def plot_filters(params: dict, i: int, axes, title: str | None = None) -> None:
    """Draw the first ``len(axes)`` filters of model ``i`` on ``axes`` (a flat sequence)."""
    images = first_layer_filters(params, i)
    for ax, image in zip(axes, images):
        ax.imshow(image, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(images) :]:
        ax.axis("off")
    if title:
        axes[0].set_title(title, loc="left", fontsize=10)


def reading(task, detector, i: int = 0, role: str = "test") -> dict:
    """What we know of model ``i`` of ``task``'s ``role`` models (``experiments.Task``) and what
    the fitted ``detector`` reads off its weights: its level, sigma2 and accuracies, the level
    read and the probability the detector gives it."""
    row = task.frames[role].iloc[i]
    proba = detector.predict_proba({k: v[i : i + 1] for k, v in task.params(role).items()})[0]
    guess = int(np.argmax(proba))
    return {
        "level": str(row["level"]),
        "sigma2": float(row["sigma2"]),
        "acc_biased": float(row["acc_biased"]),
        "acc_unbiased": float(row["acc_unbiased"]),
        "read": str(task.classes[guess]),
        "probability": float(proba[guess]),
    }


def explore(task, detector, i: int = 0, n_filters: int = 8, role: str = "test") -> None:
    """Model ``i`` of ``task``'s ``role`` models: its first-layer filters, its accuracies, and the
    level that the fitted ``detector`` reads off its weights (:func:`reading`)."""
    import matplotlib.pyplot as plt

    r = reading(task, detector, i, role)
    fig, axes = plt.subplots(1, n_filters, figsize=(1.1 * n_filters, 1.9))
    plot_filters(task.params(role), i, np.atleast_1d(axes))
    fig.suptitle(
        f"model {i}: trained at bias level {r['level']} (sigma2 {r['sigma2']:g}); "
        f"accuracy {r['acc_biased']:.2f} biased, {r['acc_unbiased']:.2f} unbiased\n"
        f"the detector reads level {r['read']} with probability {r['probability']:.2f}",
        fontsize=10,
        y=1.12,
    )
    plt.show()


def explorer(task, detector, role: str = "test"):
    """A slider over ``task``'s ``role`` models, showing :func:`explore` for the chosen one."""
    import ipywidgets as widgets

    return widgets.interactive(
        explore,
        task=widgets.fixed(task),
        detector=widgets.fixed(detector),
        i=widgets.IntSlider(value=0, min=0, max=task.n(role) - 1, description="model"),
        n_filters=widgets.fixed(8),
        role=widgets.fixed(role),
    )


#: Test models the in-page explorer offers (the first ones of the test zoo).
PAGE_MODELS = 16


def page_figure(task, detector, i: int, n_filters: int = 8, role: str = "test"):
    """One state of the in-page explorer: model ``i``'s first-layer filters (as in
    :func:`explore`) and the probability the detector gives each level."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from earlybias.inpage import image_uri, montage

    r = reading(task, detector, i, role)
    filters = first_layer_filters(task.params(role), i)[:n_filters]
    big = filters.repeat(12, axis=1).repeat(12, axis=2)  # nearest-neighbour: one weight, one block
    proba = detector.predict_proba({k: v[i : i + 1] for k, v in task.params(role).items()})[0]
    fig = make_subplots(1, 2, column_widths=[0.62, 0.38], subplot_titles=("first-layer filters", "detector"))
    fig.add_trace(go.Image(source=image_uri(montage(big, columns=4, pad=4)), hoverinfo="skip"), 1, 1)
    levels = [str(c) for c in task.classes]
    colours = ["#2a7ab0" if c == r["level"] else "#b9c7d3" for c in levels]
    fig.add_trace(go.Bar(x=levels, y=proba, marker_color=colours, showlegend=False), 1, 2)
    fig.update_xaxes(visible=False, row=1, col=1)
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_xaxes(title_text="bias level (dark: the true one)", type="category", row=1, col=2)
    fig.update_yaxes(title_text="probability read off the weights", range=[0, 1], row=1, col=2)
    fig.update_layout(
        title=dict(
            text=f"model {i}: trained at level {r['level']}, accuracy {r['acc_biased']:.2f} biased, "
            f"{r['acc_unbiased']:.2f} unbiased; read as {r['read']} ({r['probability']:.2f})",
            font_size=13,
        ),
        height=360,
        margin=dict(t=70, b=50),
    )
    return fig


def page_explorer(task, detector, role: str = "test"):
    """The in-page explorer: :func:`page_figure` for each of the first :data:`PAGE_MODELS`
    models of ``task``'s ``role`` zoo, on a slider."""
    from earlybias.inpage import PageExplorer

    return PageExplorer(
        "weights",
        {"model": range(min(PAGE_MODELS, task.n(role)))},
        lambda model: page_figure(task, detector, model, role=role),
        sliders=["model"],
    )
