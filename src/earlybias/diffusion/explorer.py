"""The chapter's explorer: pick a condition A, a condition B and a switch point tau, see the samples.

The prompt switch of Park et al. (2025, Sec. 3) for any pair the reader picks: ``N_NOISES``
starting noises are sampled with A for the first fraction tau of the steps and with B for the
rest (one batched call of ``sampling.sample``), next to the same noises under A alone and B alone,
and the judges say which value of each factor the switched samples ended with.
:func:`explore_data` is the computation, :func:`explore` draws it and :func:`explorer` wires it to
widgets. The widgets run live in Jupyter; the book, built offline, shows one state.
"""

from __future__ import annotations

import numpy as np
import torch

from earlybias.claims import Experiment
from earlybias.data.shapes import FACTORS as WORLD_FACTORS
from earlybias.diffusion.model import FACTORS
from earlybias.diffusion.sampling import initial_noise, sample
from earlybias.validation import check_real

__all__ = ["INITIAL", "N_NOISES", "condition", "explore_data", "explore", "explorer"]

#: The explorer's starting point, also what the book shows: a colour switch at 90 % of the steps.
INITIAL = {
    "a": {"color": "red", "shape": "circle", "texture": "solid", "position": "middle", "background": "dark"},
    "b": {"color": "blue", "shape": "circle", "texture": "solid", "position": "middle", "background": "dark"},
    "tau": 0.9,
}
#: Starting noises per setting: small enough to answer a control in about a second.
N_NOISES = 8


def condition(values: dict[str, str]) -> torch.Tensor:
    """The (1, 5) condition of named factor values, e.g. ``{"color": "red", ...}``; every factor
    of ``FACTORS`` must be given one of its values."""
    codes = []
    for f in FACTORS:
        if values.get(f) not in WORLD_FACTORS[f]:
            raise ValueError(f"condition[{f!r}]: got {values.get(f)!r}, allowed: {WORLD_FACTORS[f]}")
        codes.append(WORLD_FACTORS[f].index(values[f]))
    return torch.tensor([codes], dtype=torch.long)


def explore_data(
    model, judges, a: dict, b: dict, tau: float, *, n_steps: int, guidance: float, sampler: str, seed: int = 0
) -> Experiment:
    """``N_NOISES`` samples under A alone, switched from A to B after the fraction ``tau`` of the
    steps, and B alone, in one batch. ``data["images"]`` (3, N, 3, S, S) in that order;
    ``data["judged"]`` (3, N, 5) the judges' codes; ``metrics["keep_<factor>"]``: share of the
    switched samples that kept A's value of each factor where A and B differ."""
    tau = check_real("tau", tau, 0.0, 1.0)
    ca, cb = condition(a), condition(b)
    n = N_NOISES
    x = initial_noise(n, model.config.image_size, seed).repeat(3, 1, 1, 1)
    k = int(round(tau * n_steps))
    switch_step = torch.tensor([n_steps] * n + [k] * n + [0] * n)
    out = sample(
        model,
        x,
        ca.expand(3 * n, -1),
        switch_cond=cb.expand(3 * n, -1),
        switch_step=switch_step,
        n_steps=n_steps,
        guidance=guidance,
        sampler=sampler,
        seed=seed,
    )
    judged = judges.predict(out.final).view(3, n, len(FACTORS))
    metrics = {
        f"keep_{f}": float((judged[1, :, i] == ca[0, i]).float().mean())
        for i, f in enumerate(FACTORS)
        if ca[0, i] != cb[0, i]
    }
    return Experiment(
        metrics, {"images": out.final.view(3, n, *out.final.shape[1:]), "judged": judged, "tau": k / n_steps}
    )


def explore(model, judges, a: dict, b: dict, tau: float, *, n_steps: int, guidance: float, sampler: str):
    """Draw :func:`explore_data`: rows A alone, switched at tau, B alone; each image titled with
    the judged value of the factors where A and B differ."""
    import matplotlib.pyplot as plt

    exp = explore_data(model, judges, a, b, tau, n_steps=n_steps, guidance=guidance, sampler=sampler)
    images, judged = exp.data["images"], exp.data["judged"]
    differ = [i for i, f in enumerate(FACTORS) if a[f] != b[f]] or list(range(len(FACTORS)))
    fig, axes = plt.subplots(3, N_NOISES, figsize=(N_NOISES * 0.95, 3 * 1.2))
    rows = ("A only", f"switch at {exp.data['tau']:.2f}", "B only")
    for r in range(3):
        for c in range(N_NOISES):
            ax = axes[r, c]
            ax.imshow(((images[r, c].clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(
                "\n".join(WORLD_FACTORS[FACTORS[i]][int(judged[r, c, i])] for i in differ), fontsize=6
            )
        axes[r, 0].set_ylabel(rows[r], fontsize=8)
    kept = ", ".join(f"{k[5:]} {v:.0%}" for k, v in exp.metrics.items()) or "A = B"
    fig.suptitle(f"switched samples keeping A's value: {kept}", fontsize=9)
    fig.tight_layout()
    plt.show()
    return exp


def explorer(model, judges, *, n_steps: int, guidance: float, sampler: str, switch_points=None):
    """The widget: a dropdown per factor for A and for B, and a slider for tau."""
    import ipywidgets as widgets

    points = [float(p) for p in (switch_points if switch_points is not None else np.linspace(0, 1, 11))]
    controls = {}
    for which in ("a", "b"):
        for f in FACTORS:
            controls[f"{which}_{f}"] = widgets.Dropdown(
                options=WORLD_FACTORS[f], value=INITIAL[which][f], description=f"{which.upper()} {f}"
            )
    controls["tau"] = widgets.SelectionSlider(
        options=points, value=min(points, key=lambda p: abs(p - INITIAL["tau"])), description="tau"
    )

    def show(tau, **values):
        a = {f: values[f"a_{f}"] for f in FACTORS}
        b = {f: values[f"b_{f}"] for f in FACTORS}
        return explore(model, judges, a, b, tau, n_steps=n_steps, guidance=guidance, sampler=sampler)

    return widgets.interactive(show, **controls)
