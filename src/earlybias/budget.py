"""What a run will cost, estimated from its parameters before any kernel starts.

Each chapter module defines ``estimate(params) -> Estimate``: its peak memory and, roughly, its
run time, from the sizes its parameters set (a cost model calibrated on this study's 2-core
machine). The runner refuses a run whose peak memory exceeds what the machine has available
(exit 2, naming the parameters that drive it) and prints the time estimate of a long run, so a
researcher never waits an hour for a run that could not finish.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from earlybias.params import ParamError

__all__ = ["Estimate", "available_memory", "check_fits", "LONG_RUN_S"]

#: Runs estimated to take longer than this get their estimate printed before they start.
LONG_RUN_S = 60.0


@dataclass(frozen=True)
class Estimate:
    """Peak memory in bytes and run time in seconds of one chapter run, and the parameters that
    drive them (named in the refusal)."""

    memory_bytes: float
    seconds: float
    drivers: tuple[str, ...]

    def describe(self) -> str:
        return f"about {_gib(self.memory_bytes)} of memory and {_duration(self.seconds)}"


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def available_memory() -> float:
    """Bytes the machine can give a run now: ``MemAvailable`` of /proc/meminfo, else the total."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits(chapter_id: str, params: dict, estimate: Estimate, available: float | None = None) -> None:
    """Raise :class:`ParamError` when the run cannot fit in memory (``available`` bytes, default
    :func:`available_memory`)."""
    available = available_memory() if available is None else available
    if estimate.memory_bytes > available:
        names = ", ".join(f"{n}={params[n]}" for n in estimate.drivers)
        raise ParamError(
            f"chapter '{chapter_id}' with {names} needs {estimate.describe()}, but this "
            f"machine has {_gib(available)} available; reduce {', '.join(estimate.drivers)}"
        )
