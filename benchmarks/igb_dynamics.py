"""Benchmark of the igb training engine: many networks trained as one program, against the loop.

Trains the same networks on the same mini-batches three ways, in alternating rounds so that all
see the same machine load:

* ``batched``: :func:`earlybias.igb.dynamics.train`, the chapter's engine (stacked weights, one
  backward pass of the summed losses, one SGD update of all networks);
* ``loop``: :func:`earlybias.igb.dynamics.train_loop`, one ``torch.nn`` network and
  ``torch.optim.SGD`` at a time;
* ``torch_func``: what a PyTorch user would write for many small models, ``torch.func`` model
  ensembling (``stack_module_state`` + ``vmap(grad(...))``) with the same SGD update.

It also times one large float32 matmul as the machine's reference speed. Last line, JSON:
networks_per_s of each way, speedup_vs_loop and speedup_vs_torch_func (median over rounds),
matmul_fraction (matmul FLOP/s achieved by the engine / FLOP/s of the large matmul).

    python benchmarks/igb_dynamics.py [--threads N] [--networks 128] [--loop-networks 16]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from earlybias.benchmarking import matmul_flops_per_s, timed
from earlybias.igb import dynamics
from earlybias.igb.experiments import digit_task
from earlybias.session import thread_count

WORKLOAD = dict(activation="relu", depth=3, width=64, n_steps=300, batch_size=64, lr=0.02, n_evals=30, seed=0)


def train_torch_func(X_train, y_train, X_test, y_test, *, n_inits: int, **kw) -> float:
    """The same training with torch.func ensembling; returns the mean final test accuracy."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    Xtr, ytr = torch.as_tensor(X_train, dtype=torch.float32), torch.as_tensor(y_train)
    Xte, yte = torch.as_tensor(X_test, dtype=torch.float32), torch.as_tensor(y_test)
    shapes = dynamics._shapes(Xtr.shape[1], kw["depth"], kw["width"], 2)
    block = dynamics._init_block(shapes, kw["seed"], 0, n_inits, torch.float32)
    modules = [dynamics.make_module([p[i] for p in block], kw["activation"]) for i in range(n_inits)]
    params, buffers = stack_module_state(modules)
    base = copy.deepcopy(modules[0]).to("meta")

    def loss(p, b, x, y):
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    step_grad = vmap(grad(loss), in_dims=(0, 0, None, None))
    batches = dynamics._batches(kw["seed"], len(Xtr), kw["n_steps"], kw["batch_size"])
    steps = set(dynamics.eval_steps(kw["n_steps"], kw["n_evals"]).tolist())
    evaluate = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))
    for step in range(kw["n_steps"] + 1):
        if step in steps:
            with torch.no_grad():
                accuracy = (evaluate(params, buffers, Xte).argmax(-1) == yte).float().mean()
        if step == kw["n_steps"]:
            break
        idx = torch.from_numpy(batches[step])
        grads = step_grad(params, buffers, Xtr[idx], ytr[idx])
        with torch.no_grad():
            for k in params:
                params[k] -= kw["lr"] * grads[k]
    return float(accuracy)


def engine_flops(dim: int, n_test: int, n_train: int, n_inits: int) -> float:
    """Matrix-product FLOPs of training and evaluating ``n_inits`` networks: forward 2 fan_in
    fan_out per point and layer, backward twice that (the first layer's input needs no gradient)."""
    shapes = dynamics._shapes(dim, WORKLOAD["depth"], WORKLOAD["width"], 2)
    fwd = sum(2 * a * b for a, b in shapes)
    first = 2 * shapes[0][0] * shapes[0][1]
    train = WORKLOAD["n_steps"] * WORKLOAD["batch_size"] * (3 * fwd - first)
    evals = len(dynamics.eval_steps(WORKLOAD["n_steps"], WORKLOAD["n_evals"])) * n_test * fwd
    return float(n_inits * (train + evals + n_train * fwd))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=int, default=thread_count(), help="torch threads (default %(default)s)"
    )
    parser.add_argument("--networks", type=int, default=128, help="networks trained by the batched ways")
    parser.add_argument("--loop-networks", type=int, default=16, help="networks trained one at a time")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, y_train, X_test, y_test = digit_task(0)["raw"]
    data = (X_train, y_train, X_test, y_test)
    rates = {"batched": [], "loop": [], "torch_func": []}
    for _ in range(args.rounds):
        t, batched = timed(dynamics.train, *data, n_inits=args.networks, **WORKLOAD)
        rates["batched"].append(args.networks / t)
        t, loop = timed(dynamics.train_loop, *data, n_inits=args.loop_networks, **WORKLOAD)
        rates["loop"].append(args.loop_networks / t)
        t, func_acc = timed(train_torch_func, *data, n_inits=args.networks, **WORKLOAD)
        rates["torch_func"].append(args.networks / t)
    same = np.abs(batched.accuracy[: args.loop_networks, -1] - loop.accuracy[:, -1]).max()
    rate = {k: statistics.median(v) for k, v in rates.items()}
    achieved = engine_flops(X_train.shape[1], len(X_test), len(X_train), 1) * rate["batched"]
    peak = matmul_flops_per_s()
    print(
        f"{args.networks} MLPs (depth {WORKLOAD['depth']}, width {WORKLOAD['width']}) trained for "
        f"{WORKLOAD['n_steps']} SGD steps on the digits task; {args.threads} threads, median of {args.rounds}"
    )
    for k, v in rate.items():
        print(f"  {k:10s}: {v:8.1f} networks/s")
    print(
        f"  batched vs loop: {rate['batched'] / rate['loop']:.1f}x, vs torch.func: "
        f"{rate['batched'] / rate['torch_func']:.2f}x; engine at {achieved / peak:.1%} of the matmul "
        f"speed; largest final-accuracy difference batched vs loop {same:.3g}; torch.func mean accuracy "
        f"{func_acc:.3f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "igb_dynamics",
                "networks_per_s_batched": rate["batched"],
                "networks_per_s_loop": rate["loop"],
                "networks_per_s_torch_func": rate["torch_func"],
                "speedup_vs_loop": rate["batched"] / rate["loop"],
                "speedup_vs_torch_func": rate["batched"] / rate["torch_func"],
                "matmul_fraction": achieved / peak,
                "max_final_accuracy_diff_vs_loop": float(same),
                "workload": {**WORKLOAD, "networks": args.networks, "loop_networks": args.loop_networks},
                "threads": args.threads,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
