"""Parameter schemas and profiles: the one source of truth for a chapter's parameters.

A chapter declares its parameters as a tuple of :class:`Param`. The schema is printed by
``earlybias list``, checked against the notebook's ``parameters`` cell by a test, and used by
``earlybias run`` to validate every value before any kernel starts. Profiles (``smoke``,
``default``, ``paper``) live in ``notebooks/params/<chapter>.yml`` and are validated the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Param",
    "ParamError",
    "PROFILES",
    "parse_overrides",
    "split_assignment",
    "resolve",
    "load_profiles",
    "check_increasing_fractions",
]

PROFILES = ("smoke", "default", "paper")
_TYPES = ("int", "float", "bool", "str", "floats")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class ParamError(ValueError):
    """Bad input: an unknown chapter, profile or parameter, or a value that is not allowed."""


@dataclass(frozen=True)
class Param:
    """One chapter parameter: its name, type, default, what is allowed and one line of help.

    ``type`` is one of ``int``, ``float``, ``bool``, ``str`` or ``floats`` (a list of floats,
    written ``0.1,0.2`` on the command line). ``low``/``high`` bound numbers (inclusive; for
    ``floats`` every element), ``choices`` lists the allowed strings, ``length`` fixes the
    length of a ``floats`` list.
    """

    name: str
    type: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f"Param {self.name}: type must be one of {_TYPES}, got {self.type!r}")
        self.check(self.default)

    def allowed(self) -> str:
        """What the parameter accepts, in words, for error messages and ``earlybias list``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type == "bool":
            return "true or false"
        kind = {
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "floats": f"a comma-separated list of {self.length or 'any number of'} numbers",
        }[self.type]
        low, high = (
            None if b is None else (f"{int(b)}" if self.type == "int" else f"{b:g}")
            for b in (self.low, self.high)
        )
        if low is not None and high is not None:
            return f"{kind} in [{low}, {high}]"
        if low is not None:
            return f"{kind} >= {low}"
        if high is not None:
            return f"{kind} <= {high}"
        return kind

    def _fail(self, got: Any) -> ParamError:
        return ParamError(f"parameter '{self.name}': got {got!r}, allowed: {self.allowed()}")

    def parse(self, text: str) -> Any:
        """Parse a command-line value (the text after ``NAME=``) and check it."""
        raw = text.strip()
        if raw == "":
            raise self._fail(text)
        try:
            if self.type == "int":
                value = int(raw)
            elif self.type == "float":
                value = float(raw)
            elif self.type == "bool":
                if raw.lower() not in _TRUE | _FALSE:
                    raise ValueError
                value = raw.lower() in _TRUE
            elif self.type == "floats":
                value = [float(part) for part in raw.strip("[]").split(",")]
            else:
                value = raw
        except ValueError:
            raise self._fail(text) from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """Check a typed value (from a profile or a parsed override); return it normalised."""
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._fail(value)
            numbers = [value]
        elif self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._fail(value)
            value = float(value)
            numbers = [value]
        elif self.type == "bool":
            if not isinstance(value, bool):
                raise self._fail(value)
            numbers = []
        elif self.type == "floats":
            if (
                not isinstance(value, (list, tuple))
                or not value
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
            ):
                raise self._fail(value)
            if self.length is not None and len(value) != self.length:
                raise self._fail(value)
            value = [float(v) for v in value]
            numbers = value
        else:
            if not isinstance(value, str):
                raise self._fail(value)
            numbers = []
        for x in numbers:
            if not math.isfinite(x):
                raise self._fail(value)
            if (self.low is not None and x < self.low) or (self.high is not None and x > self.high):
                raise self._fail(value)
        if self.choices is not None and value not in self.choices:
            raise self._fail(value)
        return value


def check_increasing_fractions(name: str, values: list[float]) -> None:
    """A chapter's list of fractions (sparsities, correlations) must lie in (0, 1) and increase
    strictly; a list that looks like percents is refused with the fractions to write instead."""
    if any(v >= 1 for v in values) and all(0 < v < 100 for v in values):
        raise ParamError(
            f"parameter '{name}': got {values}, allowed: fractions in (0, 1), not percents "
            f"(write {[round(v / 100, 6) for v in values]})"
        )
    if any(not 0 < v < 1 for v in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise ParamError(
            f"parameter '{name}': got {values}, allowed: fractions in (0, 1), strictly increasing"
        )


def split_assignment(
    schema: tuple[Param, ...], pair: str, seen, flag: str = "-p", form: str = "NAME=VALUE"
) -> tuple[Param, str]:
    """The parameter and the text of a command line's ``NAME=TEXT`` (given with ``flag``), after
    checking its form, that the schema has the parameter and that ``seen`` does not hold it yet."""
    name, sep, text = pair.partition("=")
    name = name.strip()
    if not sep:
        raise ParamError(f"{flag} {pair!r}: expected {form}")
    by_name = {p.name: p for p in schema}
    if name not in by_name:
        raise ParamError(f"unknown parameter '{name}': allowed: {', '.join(by_name)}")
    if name in seen:
        raise ParamError(f"parameter '{name}' is given twice ({flag} {name}=...); give it once")
    return by_name[name], text


def parse_overrides(schema: tuple[Param, ...], pairs: list[str]) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` strings against ``schema``; raise :class:`ParamError` on bad input."""
    out: dict[str, Any] = {}
    for pair in pairs:
        param, text = split_assignment(schema, pair, out)
        out[param.name] = param.parse(text)
    return out


def load_profiles(path: Path, schema: tuple[Param, ...]) -> dict[str, dict[str, Any]]:
    """Read ``notebooks/params/<chapter>.yml`` and check every profile against the schema."""
    profiles = yaml.safe_load(Path(path).read_text()) or {}
    missing = [p for p in PROFILES if p not in profiles]
    if missing:
        raise ValueError(f"{path}: missing profiles {missing}; every chapter has {PROFILES}")
    by_name = {p.name: p for p in schema}
    checked = {}
    for profile, values in profiles.items():
        values = values or {}
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ValueError(f"{path}: profile {profile!r} sets unknown parameters {unknown}")
        checked[profile] = {k: by_name[k].check(v) for k, v in values.items()}
    return checked


def resolve(
    schema: tuple[Param, ...], profile_values: dict[str, Any], overrides: dict[str, Any]
) -> dict[str, Any]:
    """Schema defaults, then the profile's values, then the overrides, in schema order."""
    merged = {p.name: p.default for p in schema}
    merged.update(profile_values)
    merged.update(overrides)
    return {p.name: merged[p.name] for p in schema}
