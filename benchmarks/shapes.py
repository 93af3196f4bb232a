"""Benchmark: drawing the shapes world, vectorised over a chunk of images, against one image at a
time (the same renderer with chunks of one image, which a per-image loop would cost).

Both run in this one process, alternating, best of a few repeats (the machine may be shared), at
the chapters' thread count. The issue asks for at least 20,000 images/s at 16 x 16. The last line
printed is a JSON object (DESIGN.md, ``make bench``).

    python benchmarks/shapes.py
"""

from __future__ import annotations

import json
import time

import torch

from earlybias.data.shapes import ShapesWorld, protected_couplings, render, sample_factors
from earlybias.session import thread_count

REPEATS = 3
N_BATCHED, N_LOOP = 20_000, 500


def best_rate(n: int, chunk: int, world: ShapesWorld) -> float:
    factors = sample_factors(n, 0, world)
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        render(factors, 0, world, chunk=chunk)
        times.append(time.perf_counter() - t0)
    return n / min(times)


def main() -> None:
    threads = thread_count()
    torch.set_num_threads(threads)
    world = ShapesWorld(couplings=protected_couplings(0.5))
    batched = best_rate(N_BATCHED, 1024, world)
    loop = best_rate(N_LOOP, 1, world)
    print(f"vectorised: {batched:,.0f} images/s; one at a time: {loop:,.0f} images/s")
    print(
        json.dumps(
            {
                "benchmark": "shapes",
                "image_size": world.image_size,
                "threads": threads,
                "images_per_s": round(batched),
                "loop_images_per_s": round(loop),
                "speedup_vs_loop": round(batched / loop, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
