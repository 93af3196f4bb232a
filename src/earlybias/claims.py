"""Claims: one finding of a paper, measured by a chapter and compared with what it predicts.

A claim is stated as a sentence, carries the measured number, the expected value with its
tolerance written out, and whether the measurement falls inside it (DESIGN.md, "Claims").
Tolerances are fixed where the claim is written; they are never widened to make a claim pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Claim", "Experiment", "within", "below", "above", "at_least", "claims_frame", "show_claims"]


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claims table and of ``results.json``'s ``claims`` list."""

    id: str
    paper: str
    statement: str
    measured: float
    expected: str
    passed: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        d["measured"] = float(self.measured)
        d["passed"] = bool(self.passed)
        return d


@dataclass
class Experiment:
    """What a chapter's experiment returns: ``metrics`` (name -> number, for results.json),
    ``data`` (name -> table behind its figure) and ``claims`` (tolerances fixed where written)."""

    metrics: dict[str, float]
    data: dict[str, Any]
    claims: list[Claim] = field(default_factory=list)


def _finite(measured: float, name: str) -> float:
    value = float(measured)
    if math.isnan(value):
        raise ValueError(f"claim {name!r}: measured value is NaN")
    return value


def within(id: str, paper: str, statement: str, measured: float, target: float, *,
           rel_tol: float | None = None, abs_tol: float | None = None) -> Claim:
    """Claim that ``measured`` equals ``target`` within a relative or an absolute tolerance."""
    if (rel_tol is None) == (abs_tol is None):
        raise ValueError("within(): give exactly one of rel_tol= or abs_tol=")
    value = _finite(measured, id)
    if rel_tol is not None:
        bound = rel_tol * abs(target)
        expected = f"{target:.4g} ± {rel_tol:.0%}"
    else:
        bound = abs_tol
        expected = f"{target:.4g} ± {abs_tol:.4g}"
    return Claim(id, paper, statement, value, expected, abs(value - target) <= bound)


def below(id: str, paper: str, statement: str, measured: float, bound: float) -> Claim:
    """Claim that ``measured`` is strictly below ``bound``."""
    value = _finite(measured, id)
    return Claim(id, paper, statement, value, f"< {bound:.4g}", value < bound)


def above(id: str, paper: str, statement: str, measured: float, bound: float) -> Claim:
    """Claim that ``measured`` is strictly above ``bound``."""
    value = _finite(measured, id)
    return Claim(id, paper, statement, value, f"> {bound:.4g}", value > bound)


def at_least(id: str, paper: str, statement: str, measured: float, bound: float) -> Claim:
    """Claim that ``measured`` is at least ``bound`` (for a paper's inclusive thresholds)."""
    value = _finite(measured, id)
    return Claim(id, paper, statement, value, f">= {bound:.4g}", value >= bound)


def claims_frame(claims: list[Claim]):
    """The claims as a pandas DataFrame, one row per claim, in the column order of results.json."""
    import pandas as pd

    return pd.DataFrame([c.to_dict() for c in claims],
                        columns=["id", "statement", "measured", "expected", "passed", "paper"])


def show_claims(claims: list[Claim]):
    """A styled claims table for a notebook: passed rows green, failed rows red."""
    frame = claims_frame(claims).drop(columns="paper")

    def colour(row):
        shade = "#d7f0d7" if row["passed"] else "#f6d5d5"
        return [f"background-color: {shade}"] * len(row)

    return (frame.style.apply(colour, axis=1)
            .format({"measured": "{:.4g}", "passed": lambda p: "passed" if p else "FAILED"})
            .hide(axis="index"))
