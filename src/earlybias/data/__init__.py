"""Datasets of the study. Everything is generated procedurally or ships with a package:
nothing is downloaded at run time (DESIGN.md). ``data/README.md`` documents each dataset."""

from earlybias.data.digits import load_digits, digits_pools
from earlybias.data.gaussian import gaussian_inputs

__all__ = ["load_digits", "digits_pools", "gaussian_inputs"]
