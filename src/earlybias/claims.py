"""Claims: one finding of a paper, measured by a chapter and compared with what it predicts.

A claim is stated as a sentence, carries the measured number, the expected value with its
tolerance written out, and whether the measurement falls inside it (DESIGN.md, "Claims").
Tolerances are fixed where the claim is written; they are never widened to make a claim pass.

A finding that truly does not hold in our setting is listed by its chapter module in
``NOT_REPRODUCED = {claim_id: reason}``. :func:`mark_not_reproduced` attaches the reason to the
claim; such a claim is *expected* to fail, shown as "not reproduced" with its reason, and one that
starts passing is flagged (``status == "unexpectedly passed"``) so that the list stays true.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "Claim",
    "Experiment",
    "STATUSES",
    "within",
    "below",
    "above",
    "at_least",
    "mark_not_reproduced",
    "claims_frame",
    "show_claims",
]

#: What a claim's row says: it passed; it failed; it failed as its chapter says it does here
#: (``NOT_REPRODUCED``); or it is listed as not reproduced but passed, so the list is wrong.
STATUSES = ("passed", "FAILED", "not reproduced", "unexpectedly passed")


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claims table and of ``results.json``'s ``claims`` list."""

    id: str
    paper: str
    statement: str
    measured: float
    expected: str
    passed: bool
    #: Why the finding does not reproduce here (the chapter's ``NOT_REPRODUCED``); empty otherwise.
    not_reproduced: str = ""

    @property
    def status(self) -> str:
        """One of ``STATUSES``."""
        return status(self.passed, self.not_reproduced)

    @property
    def as_expected(self) -> bool:
        """Passed, or failed as its chapter says it does: what a test of the chapter asks."""
        return self.status in ("passed", "not reproduced")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["measured"] = float(self.measured)
        d["passed"] = bool(self.passed)
        d["status"] = self.status
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Claim:
        return cls(
            d["id"],
            d["paper"],
            d["statement"],
            float(d["measured"]),
            d["expected"],
            bool(d["passed"]),
            d.get("not_reproduced", ""),
        )


def status(passed: bool, not_reproduced: str = "") -> str:
    """The row's status (``STATUSES``) from whether it passed and its not-reproduced reason."""
    if not_reproduced:
        return "unexpectedly passed" if passed else "not reproduced"
    return "passed" if passed else "FAILED"


def mark_not_reproduced(claims: list[Claim], reasons: dict[str, str]) -> list[Claim]:
    """The claims with each listed one's reason attached (``reasons``: a chapter's
    ``NOT_REPRODUCED``). A listed id may be absent (a profile that skips the experiment)."""
    return [replace(c, not_reproduced=reasons[c.id]) if c.id in reasons else c for c in claims]


@dataclass
class Experiment:
    """What a chapter's experiment returns: ``metrics`` (name -> number, for results.json),
    ``data`` (name -> table behind its figure) and ``claims`` (tolerances fixed where written)."""

    metrics: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def add(self, other: Experiment, prefix: str) -> Experiment:
        """Gather ``other``'s claims and its metrics as ``<prefix>_<name>`` into this one (a
        chapter's running total); returns ``other`` so a notebook cell can keep it for its figure.
        Every chapter prefixes its metrics this way, so the names read alike across chapters."""
        clash = [f"{prefix}_{k}" for k in other.metrics if f"{prefix}_{k}" in self.metrics]
        if clash:
            raise ValueError(f"metrics {clash} are already recorded; use another prefix")
        self.metrics.update({f"{prefix}_{k}": float(v) for k, v in other.metrics.items()})
        self.claims += other.claims
        return other


def _finite(measured: float, name: str) -> float:
    value = float(measured)
    if math.isnan(value):
        raise ValueError(f"claim {name!r}: measured value is NaN")
    return value


def within(
    id: str,
    paper: str,
    statement: str,
    measured: float,
    target: float,
    *,
    rel_tol: float | None = None,
    abs_tol: float | None = None,
) -> Claim:
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

    return pd.DataFrame(
        [c.to_dict() for c in claims],
        columns=["id", "statement", "measured", "expected", "status", "not_reproduced", "paper"],
    )


_SHADES = {
    "passed": "#d7f0d7",
    "FAILED": "#f6d5d5",
    "not reproduced": "#f3e6c4",
    "unexpectedly passed": "#f6d5d5",
}


def show_claims(claims: list[Claim], not_reproduced: dict[str, str] | None = None):
    """A styled claims table for a notebook: passed rows green, failed red, findings the chapter
    lists as not reproduced (``not_reproduced``, its ``NOT_REPRODUCED``) amber with the reason."""
    claims = mark_not_reproduced(claims, not_reproduced or {})
    frame = claims_frame(claims).drop(columns="paper").rename(columns={"not_reproduced": "why not"})
    if not frame["why not"].any():
        frame = frame.drop(columns="why not")

    def colour(row):
        return [f"background-color: {_SHADES[row['status']]}"] * len(row)

    # Each claim's id is an anchor, ``#claim-<id>``, that the book's report links to.
    return (
        frame.style.apply(colour, axis=1)
        .format({"measured": "{:.4g}", "id": lambda c: f'<span id="{anchor(c)}">{c}</span>'})
        .hide(axis="index")
    )


def anchor(claim_id: str) -> str:
    """The HTML id of a claim's row in its chapter's claims table."""
    return f"claim-{claim_id}"
