"""Benchmark of ``earlybias sweep`` on a local Dask cluster.

Runs the same sweep of smoke runs (chapter igb at its smoke profile, two depths and two seeds:
four points) on a local cluster of 1 worker and of 2 workers, each from a new sweep directory,
timing the whole command as a user sees it (cluster start, points, table, figures). Then times one
point both ways: a plain ``earlybias run``, and a one-point sweep on one worker with the same
thread count. Last line, JSON:

    points, points_per_min_1_worker, points_per_min_2_workers: points over the sweep's wall time;
    speedup_2_workers: the ratio of the two; run_s, sweep_point_s: one point as a plain run and as
    a one-point sweep; overhead_s, overhead_ratio: the sweep's cost over the plain run.

Usage: python benchmarks/sweep.py [--chapter igb] [--profile smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EARLYBIAS = [sys.executable, "-m", "earlybias.cli"]


def wall(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([*EARLYBIAS, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chapter", default="igb")
    ap.add_argument("--profile", default="smoke")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    env = {**os.environ, "EARLYBIAS_THREADS": str(cores)}
    grid = ["-g", "depth=1,2", "--seeds", "0-1"]
    points = 4
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = ["sweep", args.chapter, "--profile", args.profile, "-q"]
        per_min = {}
        for workers in (1, 2):
            seconds = wall([*base, *grid, "--workers", str(workers), "--out", str(tmp / f"w{workers}")], env)
            per_min[workers] = points / seconds * 60
        run_s = wall(["run", args.chapter, "--profile", args.profile, "-q", "--out", str(tmp / "run")], env)
        sweep_s = wall([*base, "--workers", "1", "--out", str(tmp / "one")], env)
    print(
        json.dumps(
            {
                "benchmark": "sweep",
                "chapter": args.chapter,
                "profile": args.profile,
                "cores": cores,
                "points": points,
                "points_per_min_1_worker": round(per_min[1], 2),
                "points_per_min_2_workers": round(per_min[2], 2),
                "speedup_2_workers": round(per_min[2] / per_min[1], 2),
                "run_s": round(run_s, 1),
                "sweep_point_s": round(sweep_s, 1),
                "overhead_s": round(sweep_s - run_s, 1),
                "overhead_ratio": round(sweep_s / run_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
