"""The book's one plot style: seaborn, readable at the book's column width."""

from __future__ import annotations

import matplotlib

PALETTE = "colorblind"


def use_style() -> None:
    """Apply the style to every later figure (called by :func:`earlybias.session.start`)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    matplotlib.rcParams.update({
        "figure.figsize": (7.0, 4.2),
        "figure.dpi": 110,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 9,
        "savefig.bbox": "tight",
    })
