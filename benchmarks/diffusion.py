"""Benchmark of the diffusion chapter's batched sampler, measured side by side in one run.

Prints, as JSON on its last line: images per second of the switch experiment batched (every
pair x switch point in one batch) against a loop over samples and switch points (one trajectory
at a time, what a first implementation does), training steps per second, and the share of the
machine's matmul speed the batched sampler reaches (its convolution multiply-adds, counted by
torch's FLOP counter, per second over a large float32 matmul's).
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from earlybias.diffusion import experiments as ex
from earlybias.diffusion.model import Denoiser, ModelConfig, Training, train
from earlybias.diffusion.sampling import initial_noise, sample


def main(n_pairs: int = 16, n_steps: int = 10, points=(0.0, 0.2, 0.5, 1.0), loop_rows: int = 8) -> dict:
    torch.set_num_threads(int(os.environ.get("EARLYBIAS_THREADS", "2")))
    torch.manual_seed(0)
    model = Denoiser(ModelConfig()).eval()
    a = ex.random_conditions(n_pairs, 0)
    b = ex.switched(a, 0, 1)
    ks = torch.tensor([round(p * n_steps) for p in points])
    S = len(ks)
    x = initial_noise(n_pairs, 16, 2).repeat_interleave(S, dim=0)
    A, B = a.repeat_interleave(S, dim=0), b.repeat_interleave(S, dim=0)
    step = ks.repeat(n_pairs)
    run = dict(n_steps=n_steps, guidance=1.5)

    t = time.perf_counter()
    batched = sample(model, x, A, switch_cond=B, switch_step=step, **run)
    batched_s = time.perf_counter() - t
    rows = len(x)

    t = time.perf_counter()  # the loop: one trajectory at a time, a subset of rows, scaled up
    for i in range(loop_rows):
        sample(
            model, x[i : i + 1], A[i : i + 1], switch_cond=B[i : i + 1], switch_step=step[i : i + 1], **run
        )
    loop_s = (time.perf_counter() - t) * rows / loop_rows

    with FlopCounterMode(display=False) as counter:
        model(x[:64], 500, A[:64])
    flops_per_eval = counter.get_total_flops() / 64
    size = 1024
    m1, m2 = torch.randn(size, size), torch.randn(size, size)
    m1 @ m2
    t = time.perf_counter()
    for _ in range(10):
        m1 @ m2
    matmul_flops = 10 * 2 * size**3 / (time.perf_counter() - t)
    sampler_flops = batched.evaluations * flops_per_eval / batched_s

    config = ModelConfig(training=Training(steps=5), n_train_images=512)  # the chapter's default width
    t = time.perf_counter()
    train(config)
    train_steps_per_s = 5 / (time.perf_counter() - t)

    return {
        "benchmark": "diffusion",
        "threads": torch.get_num_threads(),
        "images_per_s_batched": rows / batched_s,
        "images_per_s_loop": rows / loop_s,
        "speedup_over_loop": loop_s / batched_s,
        "evaluations_per_s_batched": batched.evaluations / batched_s,
        "training_steps_per_s": train_steps_per_s,
        "matmul_share": sampler_flops / matmul_flops,
    }


if __name__ == "__main__":
    small = "--small" in sys.argv
    print(json.dumps(main(n_pairs=4, n_steps=4, loop_rows=2) if small else main()))
