"""Benchmark: the batched simulation of untrained networks against the per-network loop.

Both engines run the same networks (same seed stream) on the same data in this one process,
alternating, and we keep the best of a few repeats of each (the machine may be shared). Two
workloads: the chapter's typical claim experiment, and many small networks, where a Python loop
pays its per-network overhead most. With 2 threads a wide network's matmuls already run at the
CPU's peak one network at a time, so batching gains least there. The last line printed is a
JSON object for the chapter's workload (DESIGN.md, ``make bench``).

    python benchmarks/igb_networks.py
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from earlybias.data import gaussian_inputs
from earlybias.igb.networks import simulate, simulate_loop

THREADS = 2
REPEATS = 5
DIM = 100
WORKLOADS = {
    # sized like depth_sweep and input_shift_sweep: width 128, 500 points
    "chapter": dict(activation="relu", depth=2, width=128, n_classes=2, n_inits=512, n_points=500),
    "small": dict(activation="relu", depth=1, width=32, n_classes=2, n_inits=1024, n_points=200),
}


def measure(workload: dict) -> dict:
    kwargs = {k: v for k, v in workload.items() if k != "n_points"}
    X = gaussian_inputs(workload["n_points"], DIM, 0.0, seed=0)
    simulate(X, **{**kwargs, "n_inits": 8})  # warm-up: first-call allocations
    times = {"batched": [], "loop": []}
    for _ in range(REPEATS):
        for name, engine in (("batched", simulate), ("loop", simulate_loop)):
            start = time.perf_counter()
            result = engine(X, **kwargs)
            times[name].append(time.perf_counter() - start)
            if name == "batched":
                batched = result
    n = workload["n_inits"]
    t_batched, t_loop = min(times["batched"]), min(times["loop"])
    return {
        "inits_per_s_batched": n / t_batched,
        "inits_per_s_loop": n / t_loop,
        "speedup_vs_loop": t_loop / t_batched,
        "seconds_batched": t_batched,
        "seconds_loop": t_loop,
        "max_abs_diff_mean": float(np.abs(batched.mean - result.mean).max()),
        "fractions_identical": float(np.mean(batched.fractions == result.fractions)),
    }


def main() -> None:
    torch.set_num_threads(THREADS)
    results = {}
    for name, workload in WORKLOADS.items():
        r = results[name] = measure(workload)
        print(
            f"{name}: {workload['n_inits']} untrained {workload['activation']} networks, depth {workload['depth']}, "
            f"width {workload['width']}, {workload['n_points']} Gaussian points of dimension {DIM}; "
            f"{THREADS} threads, best of {REPEATS}"
        )
        print(
            f"  batched engine  : {r['seconds_batched']:7.3f} s ({r['inits_per_s_batched']:8.1f} networks/s)"
        )
        print(f"  per-network loop: {r['seconds_loop']:7.3f} s ({r['inits_per_s_loop']:8.1f} networks/s)")
        print(
            f"  speed-up {r['speedup_vs_loop']:.2f}x; largest difference of output means {r['max_abs_diff_mean']:.1e}, "
            f"identical class fractions for {r['fractions_identical']:.1%} of the networks"
        )
    print(
        json.dumps(
            {
                "benchmark": "igb_networks",
                **results["chapter"],
                "workload": {**WORKLOADS["chapter"], "dim": DIM},
                "small_workload": {**results["small"], **WORKLOADS["small"]},
                "threads": THREADS,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
