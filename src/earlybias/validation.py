"""Argument checks shared by the package: each names the argument and what is allowed.

One place for every check of a public function's input (scikit-learn's habit): integers, real
numbers, choices among names, lists of numbers and seeds. Each returns the value normalised
(``int``, ``float``, ``tuple``) or raises ``ValueError`` with a message a student can act on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

__all__ = ["SEED_MAX", "check_int", "check_real", "check_choice", "check_reals", "check_seed", "check_labels"]

#: Seeds are 31-bit so that numpy, torch and Python's ``random`` all accept them.
SEED_MAX = 2**31 - 1


def _bounds(low, high, low_open: bool = False, high_open: bool = False) -> str:
    def show(x) -> str:
        return str(x) if isinstance(x, Integral) else f"{x:g}"

    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {show(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {show(high)}")
    return " and ".join(parts)


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int if it is an integer in ``[low, high]`` (bools are not integers here)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Integral)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        bounds = _bounds(low, high)
        raise ValueError(f"{name} must be an integer{' ' + bounds if bounds else ''}, got {value!r}")
    return int(value)


def check_real(
    name: str, value, low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> float:
    """``value`` as a float if it is a finite number in ``[low, high]`` (``(low, high]`` with
    ``low_open``)."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = _bounds(low, high, low_open)
        raise ValueError(f"{name} must be a finite number{' ' + bounds if bounds else ''}, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_reals(
    name: str,
    values,
    *,
    length: int | None = None,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
    increasing: bool = False,
) -> tuple[float, ...]:
    """``values`` as a tuple of finite floats, each above ``low`` and below ``high`` (the bounds
    excluded with ``low_open``, ``high_open``), of ``length`` elements, strictly increasing when
    ``increasing``."""
    try:
        items = tuple(values)
    except TypeError:
        items = None
    what = (
        f"{length if length is not None else 'a list of'} finite numbers"
        + (f" {_bounds(low, high, low_open, high_open)}" if low is not None or high is not None else "")
        + (", strictly increasing" if increasing else "")
    )
    if (
        items is None
        or not items
        or (length is not None and len(items) != length)
        or any(isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) for v in items)
        or (low is not None and any((v <= low) if low_open else (v < low) for v in items))
        or (high is not None and any((v >= high) if high_open else (v > high) for v in items))
        or (increasing and any(b <= a for a, b in zip(items, items[1:])))
    ):
        raise ValueError(f"{name} must be {what}, got {values!r}")
    return tuple(float(v) for v in items)


def check_seed(value, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**31 - 1]``."""
    return check_int(name, value, 0, SEED_MAX)


def check_labels(
    name: str, y, n: int | None = None, *, n_classes: int | None = None, at_least_two: bool = False
):
    """Integer class labels of shape ``(n,)`` (``n`` unchecked when None), each in
    ``[0, n_classes)`` when ``n_classes`` is given; ``at_least_two`` asks for two distinct labels
    (something to learn from). Returns a numpy array."""
    import numpy as np

    y = np.asarray(y)
    if y.ndim != 1 or (n is not None and y.shape[0] != n) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{name} must hold one integer label per sample"
            f"{f' ({n})' if n is not None else ''}, got shape {y.shape}, dtype {y.dtype}"
        )
    if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must hold labels in [0, {n_classes}), got {y.min()}..{y.max()}")
    if at_least_two and len(np.unique(y)) < 2:
        raise ValueError(f"{name} must hold at least two distinct labels to learn from")
    return y
