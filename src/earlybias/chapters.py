"""The book's chapters: id, title, parameter schema, source notebook and profiles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earlybias import diffusion, igb, pruning, surgeon, weights
from earlybias.budget import Estimate
from earlybias.params import Param, ParamError, load_profiles
from earlybias.paths import ROOT


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    params: tuple[Param, ...]
    check: Callable[[dict[str, Any]], None]
    estimate: Callable[[dict[str, Any]], Estimate]
    #: Findings that do not hold in our setting, with the reason (DESIGN.md, "Not reproduced").
    not_reproduced: dict[str, str]
    #: The metrics a sweep plots against its varied parameters (each chapter's ``HEADLINE``).
    headline: tuple[str, ...]
    #: The cached model zoos a run with given parameters trains (``earlybias.zoo``): a sweep
    #: trains their chunks on its cluster first. Chapters without zoos list none.
    zoo_specs: Callable[[dict[str, Any]], list] = lambda params: []

    @property
    def notebook(self) -> Path:
        return ROOT / "notebooks" / f"{self.id}.ipynb"

    @property
    def profiles_path(self) -> Path:
        return ROOT / "notebooks" / "params" / f"{self.id}.yml"

    def profiles(self) -> dict[str, dict[str, Any]]:
        return load_profiles(self.profiles_path, self.params)


CHAPTERS: dict[str, Chapter] = {
    c.id: c
    for c in (
        Chapter(
            m.__name__.rsplit(".", 1)[-1],
            m.TITLE,
            m.PARAMS,
            m.check_params,
            m.estimate,
            m.NOT_REPRODUCED,
            m.HEADLINE,
            *([m.zoo_specs] if hasattr(m, "zoo_specs") else []),
        )
        for m in (igb, weights, pruning, surgeon, diffusion)
    )
}


def get_chapter(chapter_id: str) -> Chapter:
    """The chapter called ``chapter_id``, or a :class:`ParamError` naming the known ones."""
    try:
        return CHAPTERS[chapter_id]
    except KeyError:
        raise ParamError(f"unknown chapter '{chapter_id}': allowed: {', '.join(CHAPTERS)}") from None
