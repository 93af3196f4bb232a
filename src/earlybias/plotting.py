"""The book's one plot style: seaborn, readable at the book's column width."""

from __future__ import annotations

import matplotlib

PALETTE = "colorblind"


def use_style() -> None:
    """Apply the style to every later figure (called by :func:`earlybias.session.start`)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    matplotlib.rcParams.update(
        {
            "figure.figsize": (7.0, 4.2),
            "figure.dpi": 110,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.fontsize": 9,
            "savefig.bbox": "tight",
        }
    )


def theory_vs_measured(
    ax,
    frame,
    x: str,
    hue: str,
    measured: str = "gamma_measured",
    theory: str = "gamma_theory",
    ylabel: str = r"$\gamma$",
):
    """Theory as lines, simulation as points, one colour per ``hue`` value."""
    import seaborn as sns

    sns.lineplot(data=frame, x=x, y=theory, hue=hue, ax=ax, legend=False, alpha=0.8)
    sns.scatterplot(data=frame, x=x, y=measured, hue=hue, ax=ax, s=45, zorder=3)
    ax.set_ylabel(ylabel)
    # Outside the axes, so that no point hides behind it.
    ax.legend(
        title=f"{hue.replace('_', ' ')}\npoints: simulation\nlines: theory",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
    )
    return ax
