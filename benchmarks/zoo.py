"""Benchmark of the zoo engine against what a PyTorch user would write, and the naive loop, in one run.

Trains the same models of one ``ZooSpec`` three ways on the same draws (same initialisation, same
batches, same numbers up to float rounding): ``train_batched`` (the engine), ``train_torch_func``
(``torch.func`` ensembling: ``stack_module_state`` + ``vmap(grad(...))`` + one Adam) and
``train_loop`` (one ``nn.Module`` at a time). Rounds alternate the three, in a rotating order,
so all see the same machine load; one large float32 matmul is timed each round as the machine's
reference speed. Last line, JSON:

    models_per_s_{batched,torch_func,loop}: median over rounds;
    speedup_vs_torch_func, speedup_vs_loop: median of each round's ratio, with [min, max] as
    *_range: engine models/s over the other way's, measured side by side;
    matmul_fraction: matmul FLOP/s achieved by the engine / FLOP/s of the large matmul;
    zoo_seconds: wall time of train_batched on --zoo-models models.

All ways run on the chapter's thread count (``EARLYBIAS_THREADS``, else every core), so the
speed-ups are the ones a chapter run sees. The default zoo is the ``weights`` chapter's: CNNs of
width 16 (``--family mlp`` for the MLP family, width 32).

Usage: python benchmarks/zoo.py [--family cnn|mlp] [--width W] [--threads N] [--rounds 3]
       [--batched-models M] [--loop-models L] [--zoo-models Z]
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from earlybias.benchmarking import matmul_flops_per_s, timed
from earlybias.session import thread_count
from earlybias.zoo import ZooSpec, train_batched, train_loop
from earlybias.zoo.nets import param_shapes
from earlybias.zoo.train import train_torch_func

# Per family: width (the weights chapter's default for the CNN), models trained batched (engine
# and torch.func), models trained one by one, models of the timed zoo.
DEFAULTS = {
    "cnn": dict(width=16, batched_models=256, loop_models=8, zoo_models=1024),
    "mlp": dict(width=32, batched_models=256, loop_models=12, zoo_models=1500),
}


def matmul_flops_per_model(spec: ZooSpec, n_test: int) -> float:
    """Multiply-add FLOPs of one model's training and evaluation, counting matrix products and
    convolutions only, as the ``nn.Module`` computes them.

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


def weight_diffs(a: dict, b: dict, n: int) -> torch.Tensor:
    """Each of the first n models' largest |weight difference| between two trainings, (n,)."""
    return torch.stack([(a[k][:n] - v[:n]).abs().flatten(1).amax(1) for k, v in b.items()]).amax(0)


def mean_acc_diff(a: dict, b: dict, n: int) -> float:
    return (a["acc_unbiased"][:n] - b["acc_unbiased"][:n]).abs().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        default=thread_count(),
        help="torch threads for every way (default: the chapter's, %(default)s)",
    )
    parser.add_argument("--family", choices=sorted(DEFAULTS), default="cnn")
    parser.add_argument("--width", type=int, help="cnn: 16, mlp: 32 (the chapters' defaults)")
    parser.add_argument("--batched-models", type=int, help="models trained by the engine and by torch.func")
    parser.add_argument("--loop-models", type=int, help="the first of those, also trained one by one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zoo-models", type=int, help="time train_batched on this many models (0 to skip)")
    args = parser.parse_args()
    for k, v in DEFAULTS[args.family].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.threads < 1 or not 1 <= args.loop_models <= args.batched_models or args.rounds < 1:
        parser.error("need --threads >= 1, 1 <= --loop-models <= --batched-models, --rounds >= 1")
    torch.set_num_threads(args.threads)

    spec = ZooSpec(n_models=max(args.batched_models, args.zoo_models), family=args.family, width=args.width)
    n_test = 225  # pool A's held-out images, on which every model is evaluated twice
    flops = matmul_flops_per_model(spec, n_test)
    ways = {
        "batched": (train_batched, args.batched_models),
        "torch_func": (train_torch_func, args.batched_models),
        "loop": (train_loop, args.loop_models),
    }
    for fn, _ in ways.values():
        fn(spec, 0, 2)  # warm up the kernels once, outside the timings
    rates = {k: [] for k in ways}
    fractions, diffs = [], {"weight_torch_func": [], "weight_loop": [], "acc_torch_func": [], "acc_loop": []}
    medians = {"torch_func": [], "loop": []}
    names = list(ways)
    for r in range(args.rounds):
        reference = matmul_flops_per_s()
        out = {}
        for name in names[r % 3 :] + names[: r % 3]:  # rotate who goes first
            fn, n = ways[name]
            seconds, out[name] = timed(fn, spec, 0, n)
            rates[name].append(n / seconds)
        fractions.append(flops * rates["batched"][-1] / reference)
        # Same models every way: weights agree up to float rounding, which Adam's normalised steps
        # carry further over a run and which, in a few CNNs, flips a max-pool's choice and sends
        # the model on another path (a large largest difference, a tiny median one); the test
        # accuracies agree.
        for other, n in (("torch_func", args.batched_models), ("loop", args.loop_models)):
            per_model = weight_diffs(out["batched"][0], out[other][0], n)
            diffs[f"weight_{other}"].append(per_model.max().item())
            medians[other].append(per_model.median().item())
            diffs[f"acc_{other}"].append(mean_acc_diff(out["batched"][1], out[other][1], n))
        print(
            f"round {r + 1}: models/s batched {rates['batched'][-1]:.1f}, torch.func "
            f"{rates['torch_func'][-1]:.1f}, loop {rates['loop'][-1]:.2f}; speed-up vs torch.func "
            f"{rates['batched'][-1] / rates['torch_func'][-1]:.2f}x, vs loop "
            f"{rates['batched'][-1] / rates['loop'][-1]:.1f}x; matmul reference {reference / 1e9:.1f} "
            f"GFLOP/s, batched {flops * rates['batched'][-1] / 1e9:.1f} GFLOP/s; max |weight difference| "
            f"torch.func {diffs['weight_torch_func'][-1]:.1e}, loop {diffs['weight_loop'][-1]:.1e}",
            flush=True,
        )

    zoo_seconds = None
    if args.zoo_models:
        zoo_seconds, _ = timed(train_batched, spec, 0, args.zoo_models)
        print(
            f"{args.zoo_models} {args.family} models trained and evaluated in {zoo_seconds:.1f} s", flush=True
        )

    def ratio(other: str) -> list[float]:
        return [b / o for b, o in zip(rates["batched"], rates[other])]

    def spread(values: list[float], digits: int) -> list[float]:
        return [round(min(values), digits), round(max(values), digits)]

    print(
        json.dumps(
            {
                "models_per_s_batched": round(statistics.median(rates["batched"]), 2),
                "models_per_s_torch_func": round(statistics.median(rates["torch_func"]), 2),
                "models_per_s_loop": round(statistics.median(rates["loop"]), 3),
                "speedup_vs_torch_func": round(statistics.median(ratio("torch_func")), 2),
                "speedup_vs_torch_func_range": spread(ratio("torch_func"), 2),
                "speedup_vs_loop": round(statistics.median(ratio("loop")), 2),
                "speedup_vs_loop_range": spread(ratio("loop"), 2),
                "matmul_fraction": round(statistics.median(fractions), 3),
                "matmul_fraction_range": spread(fractions, 3),
                "max_weight_diff_vs_torch_func": float(f"{max(diffs['weight_torch_func']):.2e}"),
                "median_model_weight_diff_vs_torch_func": float(f"{max(medians['torch_func']):.2e}"),
                "max_weight_diff_vs_loop": float(f"{max(diffs['weight_loop']):.2e}"),
                "median_model_weight_diff_vs_loop": float(f"{max(medians['loop']):.2e}"),
                "mean_abs_unbiased_acc_diff_vs_torch_func": round(max(diffs["acc_torch_func"]), 4),
                "mean_abs_unbiased_acc_diff_vs_loop": round(max(diffs["acc_loop"]), 4),
                "zoo_models": args.zoo_models,
                "zoo_seconds": None if zoo_seconds is None else round(zoo_seconds, 2),
                "family": args.family,
                "width": args.width,
                "threads": args.threads,
                "rounds": args.rounds,
                "batched_models": args.batched_models,
                "loop_models": args.loop_models,
                "epochs": spec.epochs,
                "n_train": spec.n_train,
                "batch_size": spec.batch_size,
            }
        )
    )


if __name__ == "__main__":
    main()
