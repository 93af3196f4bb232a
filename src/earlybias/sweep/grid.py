"""A sweep's points: the product of the ``-g`` lists and the seeds, each validated as a run.

Every point is planned exactly as ``earlybias run`` plans a run (:func:`earlybias.runner.plan_run`:
types, ranges, the chapter's own checks, the run-time budget), so one bad value anywhere stops
the sweep before anything starts, naming the point and the parameter.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from earlybias.chapters import Chapter, get_chapter
from earlybias.params import PROFILES, ParamError, parse_overrides, split_assignment
from earlybias.paths import ROOT
from earlybias.runner import BOOK_CHAPTERS, plan_run

#: What a sweep directory records of the request; a rerun with the same request resumes it.
SWEEP_FILE = "sweep.yaml"
POINTS = "points"
#: Characters a point's directory name keeps as they are; any other value is named by its hash.
_SAFE = re.compile(r"^[A-Za-z0-9._+-]+$")
#: How ``--seeds`` is written: ``0-4`` (a range, both ends included) or ``0,3,7``.
_SEED_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its directory name (the varied values), its command-line overrides
    (``NAME=VALUE``, as ``earlybias run -p`` takes them) and its resolved parameters."""

    name: str
    overrides: tuple[str, ...]
    params: dict[str, Any]


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the chapter, the profile, the grid (parameter -> values as written), the
    fixed overrides, the seeds, the sweep directory and every point, in grid order."""

    chapter: Chapter
    profile: str
    grid: dict[str, list[str]]
    fixed: tuple[str, ...]
    seeds: tuple[int, ...]
    out: Path
    points: tuple[Point, ...]

    @property
    def varied(self) -> list[str]:
        """The parameters that differ between points: the grid's, then ``seed`` if seeds vary."""
        return [*self.grid, *(["seed"] if self.seeds else [])]

    def point_dir(self, point: Point) -> Path:
        return self.out / POINTS / point.name

    def request(self) -> dict[str, Any]:
        """What ``sweep.yaml`` records: enough to recognise the same sweep and to collect it."""
        return {
            "chapter": self.chapter.id,
            "profile": self.profile,
            "grid": self.grid,
            "fixed": list(self.fixed),
            "seeds": list(self.seeds),
            "varied": self.varied,
            "points": {p.name: p.params for p in self.points},
        }


def parse_seeds(text: str) -> tuple[int, ...]:
    """``--seeds``: ``0-4`` (both ends included) or a comma-separated list, each seed once."""
    m = _SEED_RANGE.match(text)
    try:
        if m:
            a, b = int(m[1]), int(m[2])
            if b < a:
                raise ValueError
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ParamError(
            f"--seeds {text!r}: allowed: a range A-B with A <= B (0-4) or a comma-separated list (0,3,7)"
        ) from None
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ParamError(f"--seeds {text!r}: allowed: distinct seeds >= 0")
    return tuple(seeds)


def parse_grid(chapter: Chapter, pairs: list[str]) -> dict[str, list[str]]:
    """``-g NAME=V1,V2,...``: each value checked against the parameter's schema; the values are
    kept as written (they become ``-p NAME=VALUE`` of each point)."""
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        param, text = split_assignment(chapter.params, pair, grid, "-g", "NAME=V1,V2,...")
        name = param.name
        if param.type == "floats":
            raise ParamError(
                f"-g {name}: '{name}' is a list parameter and cannot be varied by a grid; set it with -p"
            )
        values = [v.strip() for v in text.split(",")]
        if not text.strip() or any(v == "" for v in values):
            raise ParamError(
                f"-g {name}: got {text!r}, allowed: a non-empty list V1,V2,... with no empty value"
            )
        try:
            parsed = [json.dumps(param.parse(v)) for v in values]
        except ParamError as exc:
            raise ParamError(f"-g {name}: {exc}") from None
        if len(set(parsed)) != len(parsed):  # 1 and 01 are one value
            raise ParamError(f"-g {name}: got {text!r}, allowed: each value once")
        grid[name] = values
    return grid


def _point_name(values: dict[str, str]) -> str:
    """The directory name of a point: ``depth=4,seed=0``; a value that is not a plain word is
    replaced by its hash, so a name is always one safe path component."""
    if not values:
        return "point"
    parts = []
    for k, v in values.items():
        shown = v if _SAFE.match(v) else hashlib.sha256(v.encode()).hexdigest()[:8]
        parts.append(f"{k}={shown}")
    return ",".join(parts)


def default_out(chapter_id: str, profile: str, grid: dict, fixed: list[str], seeds: tuple[int, ...]) -> Path:
    # In the order given: the order of -g and -p names the points, so another order is another sweep.
    key = json.dumps({"grid": list(grid.items()), "fixed": fixed, "seeds": list(seeds)})
    return (
        ROOT / "runs" / "sweeps" / chapter_id / f"{profile}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    )


def plan_sweep(
    chapter_id: str,
    profile: str = "default",
    grid: list[str] | None = None,
    fixed: list[str] | None = None,
    seeds: str | None = None,
    out: str | Path | None = None,
) -> SweepPlan:
    """Validate a whole sweep; raise :class:`ParamError` (exit 2) naming the first bad point.

    ``grid``: ``NAME=V1,V2`` strings; ``fixed``: ``NAME=VALUE`` strings applied to every point;
    ``seeds``: ``--seeds`` as written. ``out`` may be a new directory, or the directory of the
    same sweep (which then resumes), never another sweep's or another run's."""
    chapter = get_chapter(chapter_id)
    if profile not in PROFILES:
        raise ParamError(f"unknown profile '{profile}': allowed: {', '.join(PROFILES)}")
    fixed = list(fixed or [])
    fixed_names = list(parse_overrides(chapter.params, fixed))
    lists = parse_grid(chapter, list(grid or []))
    seed_list = parse_seeds(seeds) if seeds is not None else ()
    if seed_list:
        if "seed" not in {p.name for p in chapter.params}:
            raise ParamError(f"--seeds: chapter '{chapter.id}' has no parameter 'seed'")
        if "seed" in lists or "seed" in fixed_names:
            raise ParamError("--seeds: 'seed' is also given by -g or -p; give the seeds once")
    both = sorted(set(lists) & set(fixed_names))
    if both:
        raise ParamError(f"-g {both[0]}: also fixed by -p {both[0]}=...; give it once")

    axes = [[(k, v) for v in vs] for k, vs in lists.items()]
    if seed_list:
        axes.append([("seed", str(s)) for s in seed_list])
    points = []
    for combo in itertools.product(*axes):
        values = dict(combo)
        overrides = [*fixed, *(f"{k}={v}" for k, v in values.items())]
        name = _point_name(values)
        try:
            run = plan_run(chapter.id, profile, overrides)
        except ParamError as exc:
            raise ParamError(f"point {name}: {exc}") from None
        points.append(Point(name, tuple(overrides), run.params))

    sweep_out = default_out(chapter.id, profile, lists, fixed, seed_list) if out is None else Path(out)
    plan = SweepPlan(
        chapter, profile, lists, tuple(fixed), seed_list, sweep_out.expanduser().resolve(), tuple(points)
    )
    _check_out(plan, out)
    return plan


def _check_out(plan: SweepPlan, given: str | Path | None) -> None:
    """The sweep directory must be new, empty, or hold this very sweep (a resume)."""
    out = plan.out
    shown = given if given is not None else out
    book = BOOK_CHAPTERS.resolve()
    if out == book or book in out.parents:
        raise ParamError(
            f"--out {shown}: the book's pages are written by `earlybias book` alone; "
            "choose a directory outside book/chapters"
        )
    if out.exists() and not out.is_dir():
        raise ParamError(f"--out {shown}: exists and is not a directory; choose a new directory")
    if not out.is_dir() or not any(out.iterdir()):
        return
    recorded = out / SWEEP_FILE
    if not recorded.is_file():
        raise ParamError(f"--out {shown}: directory exists, is not empty and holds no sweep; choose another")
    if yaml.safe_load(recorded.read_text()) != plan.request():
        raise ParamError(
            f"--out {shown}: holds another sweep (its {SWEEP_FILE} differs); choose another directory "
            "or rerun that sweep's own command to resume it"
        )
