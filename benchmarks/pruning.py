"""Benchmark of the batched engine (``earlybias.zoo.grouped``) on the pruning chapter's models.

Trains the same M = seeds x sparsities masked CNNs (the chapter's architecture, gradual global
magnitude pruning) two ways on the same draws: ``grouped.fit`` (one tensor program) and
``grouped.fit_loop`` (one ``torch.nn`` module and optimiser per model), alternating in rounds so
both see the same machine load. One large float32 matmul is timed each round as the machine's
reference speed. Last line, JSON:

    models_per_s_batched, models_per_s_loop: models trained per second (median over rounds);
    speedup_vs_loop (with its [min, max] over rounds): batched over loop, measured side by side;
    matmul_fraction: FLOP/s the engine achieves (forward + backward ~ 3x forward) over the
    large matmul's FLOP/s.

Usage: python benchmarks/pruning.py [--threads N] [--rounds 3] [--images 1024] [--width W] [--hidden H]
(width and hidden default to the chapter's)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from earlybias.benchmarking import matmul_flops_per_s
from earlybias.data.shapes import make_shapes
from earlybias.pruning.experiment import Setup, global_magnitude_masks, gmp_sparsity
from earlybias.session import thread_count
from earlybias.zoo import grouped


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=thread_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--width", type=int, default=Setup.width)
    ap.add_argument("--hidden", type=int, default=Setup.hidden)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    setup = Setup(width=args.width, hidden=args.hidden, n_images=args.images)
    net = setup.net
    d = make_shapes(args.images, 0, setup.world)
    y = torch.from_numpy(d.attributes).float()
    targets = [s for s in setup.sparsities for _ in range(setup.n_seeds)]
    seeds = list(range(len(targets)))
    params = grouped.init_params(net, seeds)

    def update(step, total, weights):
        n = weights["fc.bias"].shape[0]
        ts = targets if n == len(targets) else [targets[update.model]]
        return global_magnitude_masks(weights, [gmp_sparsity(step, total, t) for t in ts])

    kw = dict(seeds=seeds, epochs=1, batch_size=128, lr=5e-4, mask_update=update)
    batched, loop, speedups, fractions, peaks = [], [], [], [], []
    M = len(targets)
    for _ in range(args.rounds):
        peaks.append(matmul_flops_per_s())
        t = time.perf_counter()
        grouped.fit(net, params, d.images, y, **kw)
        tb = time.perf_counter() - t
        t = time.perf_counter()
        for m in range(M):  # the loop over models, each with its own target sparsity
            update.model = m
            grouped.fit_loop(
                net, {k: v[m : m + 1] for k, v in params.items()}, d.images, y, **{**kw, "seeds": [seeds[m]]}
            )
        tl = time.perf_counter() - t
        batched.append(M / tb)
        loop.append(M / tl)
        speedups.append(tl / tb)
        steps = args.images // 128 * 128
        fractions.append(3 * 2 * net.flops() * steps * M / tb / peaks[-1])
    print(
        json.dumps(
            {
                "benchmark": "pruning",
                "threads": args.threads,
                "models": M,
                "images": args.images,
                "width": args.width,
                "hidden": args.hidden,
                "models_per_s_batched": statistics.median(batched),
                "models_per_s_loop": statistics.median(loop),
                "speedup_vs_loop": statistics.median(speedups),
                "speedup_vs_loop_range": [min(speedups), max(speedups)],
                "matmul_fraction": statistics.median(fractions),
                "matmul_gflops": statistics.median(peaks) / 1e9,
            }
        )
    )


if __name__ == "__main__":
    main()
