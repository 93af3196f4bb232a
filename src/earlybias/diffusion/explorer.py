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

__all__ = ["INITIAL", "N_NOISES", "condition", "explore_data", "explore", "explorer", "page_explorer"]

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


#: Switch points the in-page explorer offers at most (spread over the run's switch points).
PAGE_TAUS = 6


def _switched_to(f: str) -> dict:
    """The in-page explorer's B for factor ``f``: :data:`INITIAL`'s A with only ``f`` changed
    (to INITIAL's B value where that differs, else to the next value of the factor)."""
    a, b = INITIAL["a"], INITIAL["b"]
    values = WORLD_FACTORS[f]
    new = b[f] if b[f] != a[f] else values[(values.index(a[f]) + 1) % len(values)]
    return {**a, f: new}


def page_grid(model, judges, taus, *, n_steps: int, guidance: float, sampler: str, seed: int = 0) -> dict:
    """Every state of the in-page explorer in one batched call of ``sampling.sample``: for each
    factor f, :data:`N_NOISES` noises under A alone, switched to B_f (:func:`_switched_to`) after
    each fraction of ``taus``, and under B_f alone. Returns ``{(f, tau): (images (3, N, 3, S, S),
    share of switched samples keeping A's value of f)}``."""
    n, a = N_NOISES, condition(INITIAL["a"])
    ks = [int(round(t * n_steps)) for t in taus]
    rows = [(f, k) for f in FACTORS for k in (*ks, 0)]  # (factor, switch step); k = 0: B alone
    switch = torch.cat([condition(_switched_to(f)) for f, _ in rows]).repeat_interleave(n, 0)
    steps = torch.tensor([n_steps] * n + [k for _, k in rows for _ in range(n)])
    x = initial_noise(n, model.config.image_size, seed).repeat(len(rows) + 1, 1, 1, 1)
    out = sample(
        model,
        x,
        a.expand(len(x), -1),
        switch_cond=torch.cat([a.expand(n, -1), switch]),
        switch_step=steps,
        n_steps=n_steps,
        guidance=guidance,
        sampler=sampler,
        seed=seed,
    )
    images = out.final.view(len(rows) + 1, n, *out.final.shape[1:])
    judged = judges.predict(out.final).view(len(rows) + 1, n, len(FACTORS))
    grid = {}
    for r, (f, k) in enumerate(rows, start=1):
        if k == 0:
            continue
        i = FACTORS.index(f)
        b_row = 1 + rows.index((f, 0))
        keep = float((judged[r, :, i] == a[0, i]).float().mean())
        grid[f, taus[ks.index(k)]] = (torch.stack([images[0], images[r], images[b_row]]), keep)
    return grid


def page_figure(images: torch.Tensor, keep: float, f: str, tau: float):
    """One state of the in-page explorer: rows A alone, switched at ``tau``, B alone."""
    import plotly.graph_objects as go

    from earlybias.inpage import image_uri, montage

    tiles = ((images.clamp(-1, 1) + 1) / 2).permute(0, 1, 3, 4, 2).flatten(0, 1).numpy()
    big = tiles.repeat(3, axis=1).repeat(3, axis=2)
    fig = go.Figure(go.Image(source=image_uri(montage(big, columns=N_NOISES, pad=4)), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    b = _switched_to(f)[f]
    a = INITIAL["a"][f]
    fig.update_layout(
        title=dict(
            text=f"top: A ({f} {a}); bottom: B ({f} {b}); middle: A for the first {tau:.2f} of the steps, "
            f"then B: {keep:.0%} keep {a}",
            font_size=13,
        ),
        height=340,
        margin=dict(t=60, b=10, l=10, r=10),
    )
    return fig


def page_explorer(
    model, judges, switch_points, *, n_steps: int, guidance: float, sampler: str, seed: int = 0
):
    """The in-page explorer: :func:`page_grid` at up to :data:`PAGE_TAUS` of the run's switch
    points strictly inside (0, 1), one figure per factor and switch point."""
    from earlybias.inpage import PageExplorer

    inside = [float(p) for p in switch_points if 0.0 < p < 1.0] or [float(p) for p in switch_points]
    taus = [inside[int(i)] for i in np.unique(np.linspace(0, len(inside) - 1, PAGE_TAUS).round())]
    grid = page_grid(model, judges, taus, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed)
    return PageExplorer(
        "diffusion",
        {"factor": list(FACTORS), "tau": taus},
        lambda factor, tau: page_figure(*grid[factor, tau], factor, tau),
        sliders=["tau"],
        labels={"factor": "factor switched", "tau": "switch point τ"},
        initial={"tau": taus[-1]},
    )
