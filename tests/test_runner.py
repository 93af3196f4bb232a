"""`earlybias run`: a complete run directory on success, an honest failure otherwise."""

import json
from pathlib import Path

import nbformat
import yaml

from conftest import earlybias
from earlybias.chapters import CHAPTERS, Chapter
from earlybias.params import resolve
from earlybias.results import KEYS, load_results
from earlybias.runner import ExecutionFailed, RunPlan, execute, params_hash, plan_run


def test_default_out_is_keyed_by_profile_and_params_hash():
    plan = plan_run("igb", "smoke", ["depth=2"])
    assert plan.out.parent.name == "igb" and plan.out.parent.parent.name == "runs"
    assert plan.out.name == f"smoke-{params_hash(plan.params)}"
    assert plan_run("igb", "smoke", ["depth=3"]).out != plan.out


def test_failing_cell_names_notebook_and_cell_and_leaves_no_results(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("raise RuntimeError('boom in cell')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)

    class Broken(Chapter):
        @property
        def notebook(self) -> Path:
            return path

    chapter = Broken("broken", "a chapter that raises", CHAPTERS["igb"].params)
    out = tmp_path / "run"
    plan = RunPlan(chapter, "smoke", resolve(chapter.params, {}, {}), out)
    try:
        execute(plan, progress=False)
    except ExecutionFailed as exc:
        message = str(exc)
    else:
        raise AssertionError("a raising cell must fail the run")
    assert "broken.ipynb" in message and "cell 2" in message and "boom in cell" in message
    assert not out.exists()
    assert not (tmp_path / "run.failed" / "results.json").exists()
    assert (tmp_path / "run.failed" / "executed.ipynb").exists()


def test_smoke_run_writes_a_complete_run_directory(tmp_path):
    out = tmp_path / "run"
    proc = earlybias("run", "igb", "--profile", "smoke", "-q", "-p", "depth=2",
                     "-p", "activation=tanh", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    assert "claims:" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["executed.ipynb", "figures", "params.yaml",
                                                    "results.json"]
    record = load_results(out / "results.json")
    assert list(record) == list(KEYS)
    assert record["params"]["depth"] == 2 and record["params"]["activation"] == "tanh"
    assert yaml.safe_load((out / "params.yaml").read_text())["params"] == record["params"]
    for key in ("gamma_theory", "gamma_measured", "fmax_mean_theory", "fmax_mean_measured"):
        assert key in record["metrics"]
    assert record["claims"] and all(set(c) == {"id", "paper", "statement", "measured", "expected",
                                               "passed"} for c in record["claims"])
    assert record["provenance"]["torch"].startswith("2.13.0")
    assert record["provenance"]["threads"] == 2
    assert len(list((out / "figures").glob("*.png"))) >= 6
    executed = json.loads((out / "executed.ipynb").read_text())
    injected = [c for c in executed["cells"]
                if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "depth = 2" in "".join(injected[0]["source"])
