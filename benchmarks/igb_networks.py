"""Benchmark: the batched simulations of untrained networks against the per-network loop.

All ways run the same networks (same seed stream) on the same data in this one process,
in alternating rounds, and we keep the best of a few rounds of each (the machine may be shared). Three
workloads: the chapter's typical claim experiment (MLPs), many small MLPs, where a Python loop
pays its per-network overhead most, and the convolutional networks of the chapter's section 10
on the digits. For the MLPs a third way is what a PyTorch user would write for many small
models: ``torch.func`` ensembling (``stack_module_state`` + ``vmap(functional_call)``). With two
threads a wide network's matmuls already run near the CPU's peak one network at a time, so
batching gains least there. The last line printed is a JSON object (DESIGN.md, ``make bench``):
the chapter workload's numbers at the top level, the others nested.

    python benchmarks/igb_networks.py [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time

import numpy as np
import torch
from torch import nn

from earlybias.data import gaussian_inputs, load_digits
from earlybias.igb import networks
from earlybias.igb.convnets import simulate_conv, simulate_conv_loop
from earlybias.igb.networks import simulate, simulate_loop
from earlybias.session import thread_count

REPEATS = 3
DIM = 100
WORKLOADS = {
    # sized like depth_sweep and input_shift_sweep: width 128, 500 points
    "chapter": dict(activation="relu", depth=2, width=128, n_classes=2, n_inits=512, n_points=500),
    "small": dict(activation="relu", depth=1, width=32, n_classes=2, n_inits=1024, n_points=200),
}
CONV = dict(activation="relu", pooling="max", channels=(16, 32), n_classes=2, n_inits=64, n_points=500)


def simulate_torch_func(X, *, activation, depth, width, n_classes, n_inits, seed=0) -> np.ndarray:
    """The same MLPs with torch.func ensembling, one block of networks at a time: output
    data-means (returned), data-variances and class counts, as the engine computes them."""
    from torch.func import functional_call, stack_module_state, vmap

    setup = networks._setup(X, activation, depth, width, 1, n_classes, n_inits, seed, torch.float32)
    means = []
    with torch.no_grad():
        for b in range(math.ceil(n_inits / setup.block)):
            weights = networks._block_weights(setup, b)
            modules = []
            for i in range(min(setup.block, n_inits - b * setup.block)):
                layers = []
                for k, w in enumerate(weights):
                    linear = nn.Linear(w.shape[2], w.shape[1], bias=False)
                    linear.weight.data = w[i]
                    layers += [linear, nn.ReLU()] if k < len(weights) - 1 else [linear]
                modules.append(nn.Sequential(*layers))
            params, buffers = stack_module_state(modules)
            base = copy.deepcopy(modules[0]).to("meta")

            def forward(p, bu, x, base=base):
                return functional_call(base, (p, bu), (x,))

            out = vmap(forward, in_dims=(0, 0, None))(params, buffers, setup.X)
            # The same statistics as the engine: data-mean, data-variance, class counts.
            var, mean = torch.var_mean(out, dim=1, correction=0)
            torch.nn.functional.one_hot(out.argmax(dim=-1), n_classes).sum(dim=1)
            means.append(mean.double().numpy())
    return np.concatenate(means)


def alternating(ways: dict, *args, **kwargs) -> dict:
    """Best time and last result of each way, run in alternating rounds so that all see the same
    machine load."""
    times, results = {k: [] for k in ways}, {}
    for _ in range(REPEATS):
        for name, fn in ways.items():
            start = time.perf_counter()
            results[name] = fn(*args, **kwargs)
            times[name].append(time.perf_counter() - start)
    return {k: (min(v), results[k]) for k, v in times.items()}


def measure(workload: dict) -> dict:
    kwargs = {k: v for k, v in workload.items() if k != "n_points"}
    X = gaussian_inputs(workload["n_points"], DIM, 0.0, seed=0)
    simulate(X, **{**kwargs, "n_inits": 8})  # warm-up: first-call allocations
    runs = alternating(
        {"batched": simulate, "loop": simulate_loop, "torch_func": simulate_torch_func}, X, **kwargs
    )
    (t_batched, batched), (t_loop, loop), (t_func, func_means) = runs.values()
    n = workload["n_inits"]
    return {
        "inits_per_s_batched": n / t_batched,
        "inits_per_s_loop": n / t_loop,
        "inits_per_s_torch_func": n / t_func,
        "speedup_vs_loop": t_loop / t_batched,
        "speedup_vs_torch_func": t_func / t_batched,
        "seconds_batched": t_batched,
        "seconds_loop": t_loop,
        "seconds_torch_func": t_func,
        "max_abs_diff_mean": float(np.abs(batched.mean - loop.mean).max()),
        "max_abs_diff_mean_torch_func": float(np.abs(batched.mean - func_means).max()),
        "fractions_identical": float(np.mean(batched.fractions == loop.fractions)),
    }


def measure_conv() -> dict:
    images = load_digits(standardize=True)[0][: CONV["n_points"]].reshape(-1, 8, 8)
    kwargs = {k: v for k, v in CONV.items() if k != "n_points"}
    simulate_conv(images, **{**kwargs, "n_inits": 4})
    runs = alternating({"batched": simulate_conv, "loop": simulate_conv_loop}, images, **kwargs)
    (t_batched, batched), (t_loop, loop) = runs.values()
    return {
        "inits_per_s_batched": CONV["n_inits"] / t_batched,
        "inits_per_s_loop": CONV["n_inits"] / t_loop,
        "speedup_vs_loop": t_loop / t_batched,
        "max_abs_diff_mean": float(np.abs(batched.mean - loop.mean).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=thread_count(), help="torch threads (default %(default)s)"
    )
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    results = {}
    for name, workload in WORKLOADS.items():
        r = results[name] = measure(workload)
        print(
            f"{name}: {workload['n_inits']} untrained {workload['activation']} networks, depth "
            f"{workload['depth']}, width {workload['width']}, {workload['n_points']} Gaussian points of "
            f"dimension {DIM}; {threads} threads, best of {REPEATS}"
        )
        for way in ("batched", "loop", "torch_func"):
            print(f"  {way:10s}: {r[f'seconds_{way}']:7.3f} s ({r[f'inits_per_s_{way}']:8.1f} networks/s)")
        print(
            f"  speed-up {r['speedup_vs_loop']:.2f}x over the loop, {r['speedup_vs_torch_func']:.2f}x over "
            f"torch.func; largest difference of output means {r['max_abs_diff_mean']:.1e}"
        )
    conv = measure_conv()
    print(
        f"conv: {CONV['n_inits']} untrained conv nets ({CONV['activation']}, {CONV['pooling']}-pooling, "
        f"channels {CONV['channels']}) on {CONV['n_points']} digits: {conv['speedup_vs_loop']:.2f}x over "
        f"the loop of torch.nn modules ({conv['inits_per_s_batched']:.1f} against "
        f"{conv['inits_per_s_loop']:.1f} networks/s)"
    )
    print(
        json.dumps(
            {
                "benchmark": "igb_networks",
                **results["chapter"],
                "workload": {**WORKLOADS["chapter"], "dim": DIM},
                "small_workload": {**results["small"], **WORKLOADS["small"]},
                "conv_workload": {**conv, **CONV},
                "threads": threads,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
