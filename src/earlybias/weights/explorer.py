"""Looking at a zoo: first-layer weights as colour filters, and the chapter's model explorer.

An MLP's first layer maps the 3 x 8 x 8 image to each hidden unit, so a unit's 192 weights are a
small colour image; a CNN's first convolution is a set of 3 x 3 colour filters. A colour-biased
model's filters are tinted by the class colours (IFBiD, Sec. 5.1, why the first layer carries
the bias).
"""

from __future__ import annotations

import numpy as np

from earlybias.weights.experiments import LEVEL_NAMES


def first_layer_filters(params: dict, i: int) -> np.ndarray:
    """Model ``i``'s first-layer weights as images (units, height, width, RGB) in [0, 1].

    Zero weight is mid-grey; each model is scaled by its own largest weight, so the tint, not the
    overall size, is what the eye compares.
    """
    name = next(k for k in params if k.endswith(".weight"))
    w = params[name][i].detach().cpu().numpy()
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
    if title:
        axes[0].set_title(title, loc="left", fontsize=10)


def explore(zoo, detector, i: int = 0, n_filters: int = 8) -> None:
    """Model ``i`` of ``zoo``: its filters, its accuracies, and what ``detector`` reads off it."""
    import matplotlib.pyplot as plt

    row = zoo.frame().iloc[i]
    one = {k: v[i : i + 1] for k, v in zoo.params.items()}
    proba = detector.predict_proba(one)[0]
    guess = int(np.argmax(proba))
    fig, axes = plt.subplots(1, n_filters, figsize=(1.1 * n_filters, 1.9))
    plot_filters(zoo.params, i, axes)
    level = LEVEL_NAMES[int(zoo.meta["level"][i])]
    fig.suptitle(
        f"model {i}: trained at bias level {level} (sigma2 {row['sigma2']:g}); "
        f"accuracy {row['acc_biased']:.2f} biased, {row['acc_unbiased']:.2f} unbiased\n"
        f"the detector reads level {LEVEL_NAMES[guess]} with probability "
        f"{proba[guess]:.2f}",
        fontsize=10,
        y=1.12,
    )
    plt.show()


def explorer(zoo, detector):
    """A slider over the zoo's models, showing :func:`explore` for the chosen one."""
    import ipywidgets as widgets

    return widgets.interactive(
        explore,
        zoo=widgets.fixed(zoo),
        detector=widgets.fixed(detector),
        i=widgets.IntSlider(value=0, min=0, max=len(zoo) - 1, description="model"),
        n_filters=widgets.fixed(8),
    )
