"""Benchmark of the zoo engine: batched training against the naive loop over models, in one run.

Trains the same models of one ``ZooSpec`` both ways (``train_batched`` and ``train_loop``, same
draws, same numbers up to float rounding), in alternating rounds so both see the same machine
load, and times one large float32 matmul as the machine's reference speed. Last line, JSON:

    models_per_s_batched, models_per_s_loop, speedup_vs_loop (median over rounds),
    matmul_fraction: matmul FLOP/s achieved by batched training / FLOP/s of the large matmul,
    zoo_seconds: wall time of train_batched on --zoo-models models (the chapter's zoo size).

Both ways run on the chapter's thread count (``EARLYBIAS_THREADS``, else every core), so the
speed-up is the one a chapter run sees.

Usage: python benchmarks/zoo.py [--threads N] [--family mlp] [--rounds 3] [--zoo-models 1500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from earlybias.session import thread_count
from earlybias.zoo import ZooSpec, train_batched, train_loop
from earlybias.zoo.nets import param_shapes


def matmul_flops_per_model(spec: ZooSpec, n_test: int) -> float:
    """Multiply-add FLOPs of one model's training and evaluation, counting matrix products and
    convolutions only.

    Per layer with fan_in x fan_out weights applied at ``pos`` positions per image: forward
    2 fan_in fan_out pos; backward the same for the weight gradient and, except in the first
    layer (its input needs no gradient), once more for the input gradient.
    """
    shapes = [s for k, s in param_shapes(spec).items() if k.endswith("weight")]
    positions = [1, 1] if spec.family == "mlp" else [64, 16, 1]  # output pixels per image
    fwd = sum(2 * s[0] * int(torch.tensor(s[1:]).prod()) * p for s, p in zip(shapes, positions))
    first = 2 * shapes[0][0] * int(torch.tensor(shapes[0][1:]).prod()) * positions[0]
    train = spec.epochs * spec.n_train * (3 * fwd - first)
    evaluate = (spec.n_train + 2 * n_test) * fwd
    return float(train + evaluate)


def matmul_flops_per_s(n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of one n x n float32 matmul: the reference for 'as fast as this machine goes'."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=thread_count(),
        help="torch threads for both ways (default: the chapter's, %(default)s)",
    )
    parser.add_argument("--family", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--batched-models", type=int, default=256)
    parser.add_argument(
        "--loop-models",
        type=int,
        default=12,
        help="the first models of the batched set, also trained one by one",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--zoo-models", type=int, default=1500, help="time train_batched on this many models (0 to skip)"
    )
    args = parser.parse_args()
    if args.threads < 1 or args.loop_models > args.batched_models or args.rounds < 1:
        parser.error("need --threads >= 1, --loop-models <= --batched-models, --rounds >= 1")
    torch.set_num_threads(args.threads)

    spec = ZooSpec(n_models=max(args.batched_models, args.zoo_models), family=args.family)
    n_test = 225  # pool A's held-out images, on which every model is evaluated twice
    flops = matmul_flops_per_model(spec, n_test)
    train_batched(spec, 0, 2)  # warm up the kernels once, outside the timings
    rates_b, rates_l, ratios, fractions, acc_diffs = [], [], [], [], []
    for r in range(args.rounds):
        reference = matmul_flops_per_s()
        t_b, (params_b, meta_b) = timed(train_batched, spec, 0, args.batched_models)
        t_l, (params_l, meta_l) = timed(train_loop, spec, 0, args.loop_models)
        rates_b.append(args.batched_models / t_b)
        rates_l.append(args.loop_models / t_l)
        ratios.append(rates_b[-1] / rates_l[-1])
        fractions.append(flops * rates_b[-1] / reference)
        # Same models both ways: weights agree up to float rounding (which Adam's normalised steps
        # carry a little further over a run), so their test accuracies agree.
        weight_diff = max(
            (params_b[k][: args.loop_models] - v).abs().max().item() for k, v in params_l.items()
        )
        acc_diffs.append(
            (meta_b["acc_unbiased"][: args.loop_models] - meta_l["acc_unbiased"]).abs().mean().item()
        )
        print(
            f"round {r + 1}: batched {rates_b[-1]:.1f} models/s, loop {rates_l[-1]:.2f} models/s, "
            f"speed-up {ratios[-1]:.1f}x, matmul reference {reference / 1e9:.1f} GFLOP/s, "
            f"batched {flops * rates_b[-1] / 1e9:.1f} GFLOP/s, max |weight difference| "
            f"{weight_diff:.1e}",
            flush=True,
        )

    zoo_seconds = None
    if args.zoo_models:
        zoo_seconds, _ = timed(train_batched, spec, 0, args.zoo_models)
        print(
            f"{args.zoo_models} {args.family} models trained and evaluated in {zoo_seconds:.1f} s", flush=True
        )

    print(
        json.dumps(
            {
                "models_per_s_batched": round(statistics.median(rates_b), 2),
                "models_per_s_loop": round(statistics.median(rates_l), 3),
                "speedup_vs_loop": round(statistics.median(ratios), 2),
                "matmul_fraction": round(statistics.median(fractions), 3),
                "mean_abs_unbiased_acc_diff_batched_vs_loop": round(max(acc_diffs), 4),
                "zoo_models": args.zoo_models,
                "zoo_seconds": None if zoo_seconds is None else round(zoo_seconds, 2),
                "family": args.family,
                "threads": args.threads,
                "epochs": spec.epochs,
                "n_train": spec.n_train,
                "batch_size": spec.batch_size,
            }
        )
    )


if __name__ == "__main__":
    main()
