"""What a chapter notebook calls to set itself up and hand its results to the runner.

Under ``earlybias run`` the runner sets ``EARLYBIAS_RUN_DIR``; the notebook then saves its
figures into ``<run dir>/figures`` and its metrics and claims into a partial file that the runner
turns into ``results.json`` once the whole notebook has run. Opened by hand in Jupyter, the same
calls only display: nothing is written.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from earlybias.claims import Claim

RUN_DIR_ENV = "EARLYBIAS_RUN_DIR"
THREADS_ENV = "EARLYBIAS_THREADS"
#: Set by the runner when it executes a chapter for the book (``earlybias book``).
BOOK_ENV = "EARLYBIAS_BOOK"
NOTEBOOK_RESULTS = "notebook-results.json"


@contextmanager
def kernel_environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (``None``: unset) environment variables for the kernel this process starts (the
    runner's run directory and threads); restore them after."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dir() -> Path | None:
    """The run directory the runner is writing, or ``None`` in an interactive session."""
    value = os.environ.get(RUN_DIR_ENV)
    return Path(value) if value else None


def for_book() -> bool:
    """Whether the chapter is executed for the book: then it also computes its in-page explorer,
    which only the book's page shows (a sweep's hundred runs need not)."""
    return os.environ.get(BOOK_ENV) == "1"


def thread_count() -> int:
    """Torch threads of a chapter: ``EARLYBIAS_THREADS`` (set by the runner), else every core."""
    return int(os.environ.get(THREADS_ENV) or os.cpu_count() or 1)


def start(seed: int) -> int:
    """Seed every generator, fix torch's thread count, apply the book's plot style.

    Returns the number of threads, ``thread_count()``, which is recorded in the results'
    provenance because a float32 reduction can round differently on another thread count.
    """
    import torch

    from earlybias.plotting import use_style

    threads = thread_count()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- the legacy global generator, for code a reader adds
    torch.manual_seed(seed)
    use_style()
    return threads


def save_figure(fig, name: str) -> None:
    """Save ``fig`` as ``figures/<name>.png`` in the run directory (nothing when interactive)."""
    out = run_dir()
    if out is None:
        return
    (out / "figures").mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "figures" / f"{name}.png", dpi=150, bbox_inches="tight")


def record(metrics: dict[str, float], claims: list[Claim]) -> None:
    """Hand the chapter's metrics and claims to the runner (nothing when interactive)."""
    out = run_dir()
    if out is None:
        return
    import torch

    payload = {
        "metrics": {k: float(v) for k, v in metrics.items()},
        "claims": [c.to_dict() for c in claims],
        "threads": torch.get_num_threads(),
    }
    (out / NOTEBOOK_RESULTS).write_text(json.dumps(payload, indent=2))


def glue(name: str, value) -> None:
    """Glue ``value`` for the prose (myst-nb), so no number in the text is typed by hand; the
    prose picks the format (``{glue:text}`name:.3f```)."""
    from myst_nb import glue as _glue

    if isinstance(value, np.generic):
        value = value.item()  # a numpy scalar's repr ("np.float64(...)") defeats glue's formats
    _glue(name, value, display=False)
