"""What the chapter's three engines share: many networks, drawn and run in seeded blocks.

:func:`earlybias.igb.networks.simulate`, :func:`earlybias.igb.convnets.simulate_conv` and
:func:`earlybias.igb.dynamics.train` each follow ``n_inits`` independent networks of one
architecture (Francazi et al. 2024 measure IGB over thousands of initialisations). They draw the
networks in blocks: block b of a run with seed ``seed`` takes its weights from its own generator
(:func:`block_generator`), so a network depends only on the seed, the architecture and its index,
not on ``n_inits``: the first 100 networks of a run with 1000 are the 100 networks of a run with
100.

Each engine computes a block two ways (``engine``, one of :data:`ENGINES`): ``batched``, all the
block's networks as one tensor program, and ``loop``, the naive reference that runs the same
networks one ``torch.nn`` network at a time; the tests and the benchmarks compare the two.

Every engine takes its keyword arguments in one order: after its data (and, for training, the
schedule) come ``n_inits`` and ``seed``, which networks; then what the networks are; last
``dtype``, ``engine`` and ``progress``, how to compute them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from earlybias.validation import check_choice, check_int, check_seed

__all__ = ["ENGINES", "DTYPES", "block_generator", "check_run", "block_runner", "blocks"]

ENGINES = ("batched", "loop")
DTYPES = (torch.float32, torch.float64)


def block_generator(seed: int, b: int) -> torch.Generator:
    """The random stream of block ``b`` of a run with seed ``seed``: a generator seeded from
    ``(seed, b)`` through numpy's SeedSequence, so that nearby seeds and blocks give unrelated
    streams."""
    state = np.random.SeedSequence([seed, b]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def check_run(n_inits: int, seed: int, dtype: torch.dtype) -> int:
    """Check what every engine's run takes: how many networks (``n_inits``), their ``seed`` and
    the ``dtype`` they compute in (one of :data:`DTYPES`); returns ``n_inits``."""
    n_inits = check_int("n_inits", n_inits, 1)
    check_seed(seed)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return n_inits


def block_runner(engine: str, batched, loop):
    """The block function of ``engine`` (one of :data:`ENGINES`): ``batched`` or ``loop``."""
    return {"batched": batched, "loop": loop}[check_choice("engine", engine, ENGINES)]


def blocks(
    n_inits: int, size: int, progress: bool = False, desc: str = "networks"
) -> Iterator[tuple[int, int]]:
    """``(b, needed)`` for every block of ``size`` networks that a run of ``n_inits`` touches:
    the block's index and how many of its networks the run asks for (the last block may be
    partial). With ``progress``, a tqdm bar counts the blocks."""
    indices = range(math.ceil(n_inits / size))
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=desc, unit="block")
    for b in indices:
        yield b, min(size, n_inits - b * size)
