"""Datasets of the study. Everything is generated procedurally or ships with a package:
nothing is downloaded at run time (DESIGN.md). ``data/README.md`` documents each dataset."""

from earlybias.data.colored import (
    BIAS_LEVELS,
    CLASS_COLORS,
    GROUP_COLORS,
    LEVEL_NAMES,
    PAPER_BIAS_LEVELS,
    color_digits,
    draw_colors,
    draw_groups,
    draw_shifts,
    group_digits,
    group_shares,
    paint,
    resolve_sigma2,
    shift_digits,
    shifted_copies,
)
from earlybias.data.digits import digits_pools, load_digits, standardize_features
from earlybias.data.gaussian import gaussian_inputs

__all__ = [
    "load_digits",
    "digits_pools",
    "standardize_features",
    "gaussian_inputs",
    "LEVEL_NAMES",
    "BIAS_LEVELS",
    "PAPER_BIAS_LEVELS",
    "CLASS_COLORS",
    "GROUP_COLORS",
    "resolve_sigma2",
    "shifted_copies",
    "draw_shifts",
    "shift_digits",
    "paint",
    "draw_colors",
    "color_digits",
    "group_shares",
    "draw_groups",
    "group_digits",
]
