"""`earlybias sweep` on real Dask clusters (no mock): a local cluster of two worker processes, a
scheduler and a worker started as separate processes, a worker killed in the middle of a point,
the sweep itself interrupted and rerun, and a large zoo's chunks trained as tasks.

The points are the `weights` chapter at its smoke profile (about 10 s each), with the model cache
in a fresh directory, so that the sweep also trains the chapter's zoos on the cluster.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import EARLYBIAS

from earlybias.runner import STAGING
from earlybias.zoo import ZooSpec, load_zoo, missing_chunks, train_zoo, zoo_dir

pytestmark = pytest.mark.slow

SWEEP = ["sweep", "weights", "--profile", "smoke", "-q"]


#: The threads of each point of a local cluster of two workers: the cores shared out.
HALF = str(max(1, (os.cpu_count() or 1) // 2))


@pytest.fixture
def env(tmp_path):
    """The environment of a sweep with its own model cache, and of the plain runs compared with
    its points: as many threads as a point of a two-worker local cluster gets."""
    return {**os.environ, "EARLYBIAS_CACHE_DIR": str(tmp_path / "cache"), "EARLYBIAS_THREADS": HALF}


def _run(args, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([*EARLYBIAS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "table.parquet").set_index("point")


def _leftovers(out: Path) -> list[str]:
    """Anything in the points folder that is not a finished run directory."""
    return sorted(
        p.name
        for p in (out / "points").iterdir()
        if STAGING.match(p.name) or not (p / "results.json").is_file()
    )


def _point_processes(out: Path) -> dict[int, int]:
    """The live point processes of the sweep in ``out``: pid -> the pid of the worker that started it."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"earlybias.sweep.point" in argv and str(out).encode() in b" ".join(argv):
            found[int(proc.name)] = int(argv[argv.index(b"earlybias.sweep.point") + 1])
    return found


def _wait(condition, timeout: float, what: str):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_local_cluster_gives_the_same_numbers_as_runs_one_by_one_and_resumes(tmp_path, env):
    out = tmp_path / "sweep"
    result = _run([*SWEEP, "-g", "detector=stats,flat", "--workers", "2", "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    assert "2 done (2 run now), 0 failed" in result.stdout
    table = _table(out)
    assert list(table.index) == ["detector=stats", "detector=flat"] and (table.status == "done").all()
    assert set(table.threads) == {int(HALF)}
    for detector in ("stats", "flat"):
        single = tmp_path / f"single-{detector}"
        run = _run(
            ["run", "weights", "--profile", "smoke", "-p", f"detector={detector}", "--out", str(single)], env
        )
        assert run.returncode == 0, run.stderr
        metrics = json.loads((single / "results.json").read_text())["metrics"]
        swept = table.loc[f"detector={detector}"]
        assert {k: swept[k] for k in metrics} == metrics
    assert _leftovers(out) == []
    # The zoos the sweep trained on the cluster are those its runs read: the cache holds no other
    # CNN zoo (the chapter's small MLP comparison zoos are trained by the runs themselves).
    from earlybias.chapters import CHAPTERS
    from earlybias.params import resolve

    chapter = CHAPTERS["weights"]
    params = resolve(chapter.params, chapter.profiles()["smoke"], {})
    cached = {d.name for d in (tmp_path / "cache").glob("zoo-cnn-*")}
    assert cached == {zoo_dir(s, tmp_path / "cache").name for s in chapter.zoo_specs(params)}

    # Rerun: every point has its results, so nothing runs and nothing changes.
    stamps = {p: (out / "points" / p / "results.json").stat().st_mtime_ns for p in table.index}
    again = _run([*SWEEP, "-g", "detector=stats,flat", "--workers", "2", "--out", str(out)], env)
    assert again.returncode == 0 and "2 done (0 run now)" in again.stdout
    assert stamps == {p: (out / "points" / p / "results.json").stat().st_mtime_ns for p in table.index}


def test_a_failing_point_is_recorded_the_others_go_on_and_a_rerun_finishes(tmp_path, env):
    """The seed-1 point reads a corrupt zoo from the cache: it fails, seed 0 does not."""
    from earlybias.chapters import CHAPTERS
    from earlybias.params import resolve

    chapter = CHAPTERS["weights"]
    params = resolve(chapter.params, chapter.profiles()["smoke"], {"seed": 1})
    spec = chapter.zoo_specs(params)[0]
    bad = zoo_dir(spec, tmp_path / "cache") / "zoo.pt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a zoo")

    out = tmp_path / "sweep"
    result = _run([*SWEEP, "--seeds", "0-1", "--out", str(out)], env)
    assert result.returncode == 1
    assert "failed seed=1: earlybias run: execution failed" in result.stderr
    table = _table(out)
    assert table.loc["seed=0", "status"] == "done" and table.loc["seed=1", "status"] == "failed"
    assert "execution failed" in table.loc["seed=1", "error"]
    assert "seed=1" in (out / "summary.md").read_text()

    bad.unlink()
    again = _run([*SWEEP, "--seeds", "0-1", "--out", str(out)], env)
    assert again.returncode == 0, again.stderr
    assert "2 done (1 run now), 0 failed" in again.stdout
    assert (_table(out).status == "done").all() and _leftovers(out) == []


def test_a_sweep_runs_on_a_scheduler_and_a_worker_started_as_separate_processes(tmp_path, env):
    dask = str(Path(sys.executable).with_name("dask"))
    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        _wait(file.is_file, 60, "the scheduler file")
        address = json.loads(file.read_text())["address"]
        worker = subprocess.Popen(
            [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out = tmp_path / "sweep"
        result = _run([*SWEEP, "-g", "detector=stats,flat", "--scheduler", address, "--out", str(out)], env)
        assert result.returncode == 0, result.stderr
        assert f"on {address}" in result.stdout
        table = _table(out)
        assert (table.status == "done").all() and len(table) == 2
        assert _leftovers(out) == []
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(60)


def test_a_scheduler_without_workers_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    from earlybias.params import ParamError
    from earlybias.sweep import cluster

    file = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(file.is_file, 60, "the scheduler file")
        address = json.loads(file.read_text())["address"]
        monkeypatch.setattr(cluster, "WORKERS_TIMEOUT_S", 2)
        with pytest.raises(ParamError, match=f"--scheduler {address}: the scheduler has no worker after 2 s"):
            with cluster.connect(address):
                pass
    finally:
        scheduler.terminate()
        scheduler.wait(60)


def test_a_worker_killed_in_the_middle_of_a_point_loses_nothing_and_counts_nothing_twice(tmp_path, env):
    out = tmp_path / "sweep"
    args = [*SWEEP, "-g", "detector=stats,flat,deepsets", "--workers", "2", "--out", str(out)]
    sweep = subprocess.Popen(
        [*EARLYBIAS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        running = _wait(lambda: _point_processes(out), 300, "a point to start")
        point, worker = next(iter(running.items()))
        # Into the notebook: the point's staging directory (named after its process) exists.
        staged = _wait(
            lambda: [
                m["name"]
                for p in (out / "points").iterdir()
                if (m := STAGING.match(p.name)) and int(m["pid"]) == point
            ],
            120,
            "the point's staging directory",
        )
        killed_at = time.time()
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = sweep.communicate(timeout=600)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, stderr
    assert "3 done (3 run now), 0 failed" in stdout
    # The killed worker's point process went with it, and Dask ran its point again elsewhere.
    assert not Path(f"/proc/{point}").exists()
    table = _table(out)
    assert len(table) == 3 and (table.status == "done").all()
    assert _leftovers(out) == [] and not list(out.glob("points/*.failed"))
    # The point that was killed ran again from its start, after the kill.
    assert pd.Timestamp(table.loc[staged[0], "started_at"]).timestamp() > killed_at - 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_sweep_reruns_only_its_missing_points(tmp_path, env, sig):
    out = tmp_path / "sweep"
    args = [*SWEEP, "-g", "detector=stats,flat,deepsets", "--workers", "1", "--out", str(out)]
    sweep = subprocess.Popen(
        [*EARLYBIAS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait(lambda: list(out.glob("points/*/results.json")), 300, "the first point to finish")
        sweep.send_signal(sig)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        sweep.kill()
    assert sweep.returncode == 130, stderr
    assert "stopped; finished points are kept" in stderr
    _wait(lambda: not _point_processes(out), 60, "the point processes to stop")
    done = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("points/*/results.json")}
    assert 1 <= len(done) < 3
    assert not [p for p in (out / "points").iterdir() if STAGING.match(p.name)]

    again = _run(args, env)
    assert again.returncode == 0, again.stderr
    assert f"3 done ({3 - len(done)} run now)" in again.stdout
    assert done == {p: (out / "points" / p / "results.json").stat().st_mtime_ns for p in done}


def test_a_zoos_chunks_train_as_tasks_on_a_cluster_exactly_as_on_one_machine(tmp_path, monkeypatch):
    from dask.distributed import Client, LocalCluster

    from earlybias.sweep.cluster import train_zoos
    from earlybias.zoo import BLOCK

    spec = ZooSpec(n_models=2 * BLOCK, family="mlp", width=8, epochs=1, pool="A", seed=5)
    monkeypatch.setenv("EARLYBIAS_CACHE_DIR", str(tmp_path / "shared"))  # the workers inherit it
    assert len(missing_chunks(spec, BLOCK)) == 2
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        assert train_zoos(c, [spec, spec], 1, chunk_size=BLOCK, progress=False) == 2
        assert train_zoos(c, [spec], 1, chunk_size=BLOCK, progress=False) == 0  # all there: nothing to do
    # The workers trained the chunks and joined them into the cached zoo, which a run then reads.
    assert missing_chunks(spec, BLOCK) == [] and not list(zoo_dir(spec).glob("chunk-*.pt"))
    cluster_zoo = load_zoo(zoo_dir(spec) / "zoo.pt")
    assert cluster_zoo.spec == spec
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each worker trained its chunk (threads=1 above)
    try:
        local = train_zoo(spec, chunk_size=BLOCK, cache_dir=tmp_path / "local", progress=False)
    finally:
        torch.set_num_threads(threads)
    for k in local.params:
        torch.testing.assert_close(cluster_zoo.params[k], local.params[k], rtol=0, atol=0)
