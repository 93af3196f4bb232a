"""Argument checks shared by the package: each names the argument and what is allowed."""

from __future__ import annotations

from numbers import Integral


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int if it is an integer >= ``low`` (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
