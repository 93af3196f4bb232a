"""Running a sweep on Dask: the cluster, one task per point, and a large zoo's chunks as tasks.

A point runs as ``earlybias run`` in a process of its own (:mod:`earlybias.sweep.point`),
started by a Dask task: the runner sets process-wide environment variables for its kernel, so
two points must not share a process, and a point's process dies with its worker. Its run
directory appears whole or not at all (``earlybias.runner``), which is what makes a sweep
resumable: a point whose directory holds a ``results.json`` is done and never runs again, and a
worker lost in the middle of a point leaves nothing that looks done, so Dask's retry of the task
on another worker gives the point one complete run directory. (On Linux the lost worker's point
process stops with it; elsewhere, and for points already running on a remote cluster when the
sweep is stopped, the process finishes its run, and the later of two runs of a point replaces
the earlier one whole.)
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from earlybias.params import ParamError
from earlybias.results import RESULTS, atomic_write
from earlybias.runner import ExecutionFailed, remove_stale_staging
from earlybias.session import THREADS_ENV
from earlybias.sweep.grid import POINTS, SWEEP_FILE, SweepPlan

#: Seconds to wait for a scheduler given by ``--scheduler`` before giving up with a clear error.
CONNECT_TIMEOUT_S = 10
#: Seconds to wait for that scheduler's first worker.
WORKERS_TIMEOUT_S = 60
#: Dask's nanny sets these to 1 in its workers; a point sets them to its own share of the cores,
#: for the BLAS of numpy and scipy, as ``EARLYBIAS_THREADS`` does for torch.
_BLAS_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Where a sweep records the points that failed in its last invocation, with their errors.
FAILURES = "failures.yaml"


def cores() -> int:
    return os.cpu_count() or 1


@contextmanager
def connect(scheduler: str | None = None, workers: int = 1) -> Iterator:
    """A Dask client: of the cluster at ``scheduler`` (once it has a worker), or of a local
    cluster of ``workers`` worker processes with one task slot each, closed on leaving the block.

    An address that does not answer within ``CONNECT_TIMEOUT_S``, or whose scheduler has no
    worker within ``WORKERS_TIMEOUT_S``, is bad input (:class:`ParamError`).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParamError(
                f"--scheduler {scheduler}: no Dask scheduler answered within {CONNECT_TIMEOUT_S} s "
                f"({type(exc).__name__}: {exc}); allowed: the address of a running scheduler, "
                "such as tcp://host:8786"
            ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            except TimeoutError:
                raise ParamError(
                    f"--scheduler {scheduler}: the scheduler has no worker after {WORKERS_TIMEOUT_S} s; "
                    f"start one with `dask worker {scheduler}`"
                ) from None
            yield client
        finally:
            client.close()
        return
    # One slot per worker process: points never share a process, and no worker is left over.
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def local_workers(points: int) -> int:
    """Workers of a local cluster for ``points`` points to run: one per core, at most one per point."""
    return max(1, min(cores(), points))


def local_threads(workers: int) -> int:
    """Threads of each point on a local cluster of ``workers`` workers: the cores shared out."""
    return max(1, cores() // workers)


def slots_by_host(client) -> dict[str, int]:
    """The task slots of the cluster's workers, added up per host (several workers can share one)."""
    slots: dict[str, int] = {}
    for info in client.scheduler_info(n_workers=-1)["workers"].values():
        slots[info["host"]] = slots.get(info["host"], 0) + info["nthreads"]
    return slots


def point_threads(share: int | dict[str, int]) -> int:
    """Threads of a point or zoo chunk on the worker running it: ``share`` itself (a local
    cluster), or this machine's cores divided by the task slots of all workers on this host
    (``slots_by_host``; a worker that joined later counts its own slots)."""
    if isinstance(share, int):
        return share
    from urllib.parse import urlparse

    from dask.distributed import get_worker

    worker = get_worker()
    slots = share.get(urlparse(worker.address).hostname, worker.state.nthreads)
    return max(1, cores() // max(1, slots))


def _error(stderr: str, returncode: int) -> str:
    """The runner's own message (``earlybias run: ...``), else the last line it printed."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("earlybias run:")]
    return (ours or lines or [f"exit status {returncode}"])[-1]


def run_point(
    chapter: str, profile: str, overrides: list[str], out: str, threads: int | dict[str, int]
) -> dict:
    """The Dask task of one point: ``earlybias run`` into ``out`` in a process of its own, on
    ``point_threads(threads)`` threads.

    Returns ``{"status": "done" | "failed", "ran", "seconds", "error"}``, where ``ran`` says
    whether this task's run produced the results (not an earlier one); a point that fails is
    reported, not raised, so that Dask does not retry a run that fails the same way.
    """
    target = Path(out)
    if (target / RESULTS).is_file():
        return {"status": "done", "ran": False, "seconds": 0.0, "error": None}
    cmd = [sys.executable, "-m", "earlybias.sweep.point", str(os.getpid()), "run", chapter]
    cmd += ["--profile", profile, "--out", str(target), "-q"]
    for pair in overrides:
        cmd += ["-p", pair]
    n = str(point_threads(threads))
    env = {**os.environ, THREADS_ENV: n, **dict.fromkeys(_BLAS_THREADS, n)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if (target / RESULTS).is_file():
        return {"status": "done", "ran": proc.returncode == 0, "seconds": seconds, "error": None}
    return {
        "status": "failed",
        "ran": True,
        "seconds": seconds,
        "error": _error(proc.stderr, proc.returncode),
    }


def _task_key(prefix: str, path: Path) -> str:
    """A Dask key that names the work, so two sweeps that ask for the same output share a task."""
    return f"earlybias-{prefix}-{hashlib.sha256(str(path).encode()).hexdigest()[:16]}"


def _train_chunk(spec, start: int, stop: int, threads: int | dict[str, int]) -> None:
    """The Dask task of one chunk of a zoo, trained on ``point_threads(threads)`` threads."""
    import torch

    from earlybias.zoo import train_chunk

    torch.set_num_threads(point_threads(threads))
    train_chunk(spec, start, stop)


def _assemble(spec, chunk_size: int, *chunks_done) -> None:
    """The Dask task that joins a zoo's chunks into its cached ``zoo.pt`` (once they all exist:
    ``chunks_done`` are their tasks' results), so that no two points assemble it at once."""
    from earlybias.zoo import train_zoo

    train_zoo(spec, chunk_size, progress=False)


def train_zoos(
    client, specs: list, threads: int | dict[str, int], chunk_size: int | None = None, progress: bool = True
) -> int:
    """Train the missing chunks of every zoo of ``specs`` as Dask tasks writing to the shared
    cache (``earlybias.zoo.train_chunk``), in chunks of ``chunk_size`` models (default: the
    cache's own), then join each zoo's chunks into its ``zoo.pt``: the chapter then reads each zoo
    from the cache as usual. Returns the number of chunks trained; a chunk that cannot be trained
    raises :class:`ExecutionFailed`, since every point that reads the zoo would fail."""
    from dask.distributed import as_completed

    from earlybias.zoo import CHUNK, missing_chunks, zoo_dir

    chunk_size = chunk_size or CHUNK
    chunks, joins = [], []
    for spec in {s.key(): s for s in specs}.values():
        folder = zoo_dir(spec)
        if (folder / "zoo.pt").is_file():
            continue
        mine = [
            client.submit(_train_chunk, spec, a, b, threads, key=_task_key("chunk", folder / f"{a}-{b}"))
            for a, b in missing_chunks(spec, chunk_size)
        ]
        chunks += mine
        joins.append(client.submit(_assemble, spec, chunk_size, *mine, key=_task_key("zoo", folder)))
    with tqdm(total=len(chunks), unit="chunk", desc="zoo chunks", disable=not progress or not chunks) as bar:
        chunk_keys = {f.key for f in chunks}
        for future in as_completed(chunks + joins):
            try:
                future.result()
            except Exception as exc:
                raise ExecutionFailed(
                    f"training a zoo for the sweep failed: {type(exc).__name__}: {exc}"
                ) from exc
            bar.update(future.key in chunk_keys)
    return len(chunks)


def failed_points(outcome: dict[str, dict]) -> dict[str, str]:
    """The points of a sweep's outcome that failed, with their errors."""
    return {name: r["error"] for name, r in outcome.items() if r["status"] == "failed"}


def run_sweep(plan: SweepPlan, client, threads: int | None = None, progress: bool = True) -> dict[str, dict]:
    """Run every point of ``plan`` that has no results yet, as Dask tasks on ``client``, each on
    ``threads`` threads (default: its machine's cores shared by the task slots there).

    Writes ``sweep.yaml`` first and ``failures.yaml`` last; returns each point's outcome by name.
    Points already done are not run again; a failing point is recorded and the others go on.
    """
    from dask.distributed import as_completed

    points_dir = plan.out / POINTS
    points_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(plan.out / SWEEP_FILE, yaml.safe_dump(plan.request(), sort_keys=False))
    (plan.out / FAILURES).unlink(missing_ok=True)  # this invocation runs those points again
    remove_stale_staging(points_dir)
    share = threads or slots_by_host(client)

    outcome = {
        p.name: {"status": "done", "ran": False, "seconds": 0.0, "error": None}
        for p in plan.points
        if (plan.point_dir(p) / RESULTS).is_file()
    }
    todo = [p for p in plan.points if p.name not in outcome]
    if todo:
        train_zoos(
            client, [s for p in todo for s in plan.chapter.zoo_specs(p.params)], share, progress=progress
        )
    futures = {
        client.submit(
            run_point,
            plan.chapter.id,
            plan.profile,
            list(p.overrides),
            str(plan.point_dir(p)),
            share,
            key=_task_key("point", plan.point_dir(p)),
            pure=False,
        ): p
        for p in todo
    }
    with tqdm(
        total=len(plan.points),
        initial=len(outcome),
        unit="point",
        desc=f"sweep {plan.chapter.id}",
        disable=not progress,
    ) as bar:
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the task itself was lost, e.g. its workers kept dying
                result = {
                    "status": "failed",
                    "ran": True,
                    "seconds": 0.0,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            outcome[futures[future].name] = result
            failed = len(failed_points(outcome))
            bar.set_postfix(
                done=len(outcome) - failed, failed=failed, remaining=len(plan.points) - len(outcome)
            )
            bar.update()
    remove_stale_staging(points_dir)
    atomic_write(plan.out / FAILURES, yaml.safe_dump(failed_points(outcome), sort_keys=False))
    return outcome
