"""Datasets of the study. Everything is generated procedurally or ships with a package:
nothing is downloaded at run time (DESIGN.md). ``data/README.md`` documents each dataset.

The coloured digits' public names are listed once, in ``earlybias.data.colored.__all__``, and
re-exported here as they are."""

from earlybias.data import colored
from earlybias.data.colored import *  # noqa: F403 (the names of colored.__all__)
from earlybias.data.digits import digits_pools, load_digits, standardize_features
from earlybias.data.gaussian import gaussian_inputs

__all__ = ["load_digits", "digits_pools", "standardize_features", "gaussian_inputs", *colored.__all__]
