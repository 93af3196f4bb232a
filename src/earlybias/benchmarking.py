"""What every benchmark measures the same way: the machine's matmul speed and one call's time.

DESIGN.md ("Performance budgets") asks each batched engine's benchmark for its share of the
machine's matmul speed, measured in the same run as the engine, because absolute times vary from
machine to machine. :func:`matmul_flops_per_s` is that reference for every benchmark of
``benchmarks/``: one large float32 matrix product, the best of a few repeats (the repeat least
disturbed by other work on a shared machine). :func:`timed` times one call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from earlybias.validation import check_int

__all__ = ["matmul_flops_per_s", "timed"]


def matmul_flops_per_s(n: int = 2048, repeats: int = 5) -> float:
    """Floating-point operations per second of one n x n float32 matmul (2 n^3 operations), at
    its fastest of ``repeats`` timed products after one untimed warm-up: the reference for 'as
    fast as this machine goes'. Runs on torch's current thread count."""
    import torch

    n, repeats = check_int("n", n, 1), check_int("repeats", repeats, 1)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # the first product pays for allocations and thread start-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def timed(fn: Callable, *args, **kwargs) -> tuple[float, Any]:
    """``(seconds, fn(*args, **kwargs))``: the wall time of one call, and what it returned."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out
