"""Benchmark of FFW's batched gate training (``earlybias.surgeon.ffw.find_masks``).

Trains the gates of the chapter's M = 2 x rhos x seeds frozen vanilla networks (FFW and its
lambda = 0 control) two ways on the same draws: one call over all M models (one tensor program)
and M calls of one model each (the naive loop), alternating in rounds so both see the same
machine load. One large float32 matmul is timed each round as the machine's reference speed.
Last line, JSON:

    steps_per_s_batched, steps_per_s_loop: model gate steps (one model, one batch) per second
    (median over rounds); speedup_vs_loop (with its [min, max] over rounds): batched over loop;
    matmul_fraction: FLOP/s of the batched gate steps (forward + backward ~ 3x forward) over the
    large matmul's FLOP/s.

Usage: python benchmarks/surgeon.py [--threads N] [--rounds 2] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from earlybias.benchmarking import matmul_flops_per_s
from earlybias.session import thread_count
from earlybias.surgeon import ffw
from earlybias.surgeon.experiment import Setup, make_data
from earlybias.zoo import grouped


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=thread_count())
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    setup = Setup()
    net, data = setup.net, make_data(setup)
    M = 2 * len(setup.rhos) * setup.n_seeds
    weights = grouped.init_params(net, list(range(M)))  # frozen networks: trained or not, same cost
    lam = [setup.mi_weight] * (M // 2) + [0.0] * (M // 2)
    sets = dict(
        train=(data.gate_images, data.gate_labels, data.gate_colors),
        val=(data.val_images, data.val_labels, data.val_colors),
    )
    kw = dict(epochs=args.epochs, head_epochs=setup.head_epochs, batch_size=setup.batch_size)
    steps = args.epochs * (len(data.gate_labels) // setup.batch_size)
    batched, loop, speedups, fractions = [], [], [], []
    for _ in range(args.rounds):
        peak = matmul_flops_per_s()
        t = time.perf_counter()
        ffw.find_masks(net, weights, sets["train"], sets["val"], mi_weight=lam, seeds=list(range(M)), **kw)
        tb = time.perf_counter() - t
        t = time.perf_counter()
        for m in range(M):
            one = {k: v[m : m + 1] for k, v in weights.items()}
            ffw.find_masks(net, one, sets["train"], sets["val"], mi_weight=lam[m : m + 1], seeds=[m], **kw)
        tl = time.perf_counter() - t
        batched.append(M * steps / tb)
        loop.append(M * steps / tl)
        speedups.append(tl / tb)
        fractions.append(3 * 2 * net.flops() * setup.batch_size * steps * M / tb / peak)
    print(
        json.dumps(
            {
                "benchmark": "surgeon",
                "threads": args.threads,
                "models": M,
                "steps_per_s_batched": round(statistics.median(batched), 1),
                "steps_per_s_loop": round(statistics.median(loop), 1),
                "speedup_vs_loop": round(statistics.median(speedups), 2),
                "speedup_range": [round(min(speedups), 2), round(max(speedups), 2)],
                "matmul_fraction": round(statistics.median(fractions), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
