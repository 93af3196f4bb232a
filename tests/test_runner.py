"""`earlybias run`: a complete run directory on success, an honest failure otherwise."""

import json
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import earlybias

from earlybias.chapters import CHAPTERS, Chapter
from earlybias.params import resolve
from earlybias.paths import ROOT
from earlybias.results import KEYS, load_results
from earlybias.runner import ExecutionFailed, RunPlan, claims_summary, execute, params_hash, plan_run


def test_default_out_is_keyed_by_profile_and_params_hash():
    plan = plan_run("igb", "smoke", ["depth=2"])
    assert plan.out.parent.name == "igb" and plan.out.parent.parent.name == "runs"
    assert plan.out.name == f"smoke-{params_hash(plan.params)}"
    assert plan_run("igb", "smoke", ["depth=3"]).out != plan.out


def _notebook_chapter(tmp_path, code: str, not_reproduced: dict[str, str]) -> tuple[Chapter, RunPlan]:
    """A chapter whose notebook is ``code`` (after an empty parameters cell), planned into tmp_path/run."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "made.ipynb"
    nbformat.write(nb, path)

    class Made(Chapter):
        @property
        def notebook(self) -> Path:
            return path

    igb = CHAPTERS["igb"]
    chapter = Made(
        "made",
        "a chapter made by the test",
        igb.params,
        igb.check,
        igb.estimate,
        not_reproduced,
        igb.headline,
    )
    params = resolve(chapter.params, {}, {})
    return chapter, RunPlan(chapter, "smoke", params, tmp_path / "run", igb.estimate(params))


def test_failing_cell_names_notebook_and_cell_and_leaves_no_results(tmp_path):
    _, plan = _notebook_chapter(tmp_path, "raise RuntimeError('boom in cell')", {})
    out = plan.out
    try:
        execute(plan, progress=False)
    except ExecutionFailed as exc:
        message = str(exc)
    else:
        raise AssertionError("a raising cell must fail the run")
    assert "made.ipynb" in message and "cell 2" in message and "boom in cell" in message
    assert not out.exists()
    assert not (tmp_path / "run.failed" / "results.json").exists()
    assert (tmp_path / "run.failed" / "executed.ipynb").exists()


def test_claims_the_chapter_lists_as_not_reproduced_carry_their_reason(tmp_path):
    code = (
        "from earlybias.claims import below\n"
        "from earlybias.session import record\n"
        "record({}, [below('gap', 'p', 's', 0.2, 0.05), below('ok', 'p', 's', 0.0, 0.05),\n"
        "            below('bad', 'p', 's', 0.2, 0.05)])\n"
    )
    _, plan = _notebook_chapter(tmp_path, code, {"gap": "the gap stays at our scale"})
    record = execute(plan, progress=False)
    status = {c["id"]: (c["status"], c["not_reproduced"]) for c in record["claims"]}
    assert status == {
        "gap": ("not reproduced", "the gap stays at our scale"),
        "ok": ("passed", ""),
        "bad": ("FAILED", ""),
    }
    summary = claims_summary(record)
    assert "1 passed, 1 failed, 1 not reproduced" in summary
    assert "not reproduced gap" in summary and "the gap stays at our scale" in summary


# Per chapter: overrides that the run must honour, and the headline metrics its results carry.
SMOKE = {
    "igb": (
        ["depth=2", "activation=tanh"],
        {"depth": 2, "activation": "tanh"},
        ["gamma_theory", "gamma_measured", "fmax_mean_theory", "fmax_mean_measured"],
    ),
    "weights": (
        ["seed=1"],
        {"seed": 1},
        [
            "levels_unbiased_acc_very_high",
            "levels_unbiased_acc_very_low",
            "binary_inpool_acc",
            "binary_cross_acc",
            "four_inpool_acc",
            "four_cross_acc",
            "group_cross_acc",
        ],
    ),
    "pruning": (
        ["protected_strength=0.5"],
        {"protected_strength": 0.5},
        [
            "dense_acc",
            "acc_drop_90",
            "acc_drop_max",
            "ba_change_90",
            "ba_change_max",
            "ba_sd_dense",
            "uncertainty_ratio_max",
            "interdependence_change_max",
            "threshold_fix_share",
            "susceptible_error_enrichment",
            "attribute_rank_corr",
        ],
    ),
    "surgeon": (
        ["mi_weight=5"],
        {"mi_weight": 5.0},
        [
            "vanilla_unbiased_acc_top",
            "ffw_unbiased_acc_top",
            "ffw_gain_top",
            "random_mask_gain_top",
            "no_mi_gain_top",
            "last_layer_unbiased_acc_top",
            "ceiling_unbiased_acc",
            "mask_sparsity",
            "probe_acc_vanilla",
            "probe_acc_ffw",
            "retrain_masked_gain",
        ],
    ),
    "diffusion": (
        ["guidance_scale=2.0"],
        {"guidance_scale": 2.0},
        [
            "judge_acc_min",
            "generation_acc_min",
            "tau50_color",
            "tau50_shape",
            "tau50_texture",
            "x0_agreement_color",
            "resample_stability",
            "tau50_shift_bias",
            "guidance_drop_change_rate",
            "guidance_drop_saving",
        ],
    ),
}


# Per chapter: files of raw material a run directory holds beside the common ones (data/README.md).
RAW_OUTPUTS = {
    "pruning": ["outputs.npz"],
    "surgeon": ["masks.safetensors", "test_set.safetensors", "vanilla.safetensors"],
}


def test_every_chapter_has_a_smoke_check():
    assert set(SMOKE) == set(CHAPTERS)


@pytest.mark.parametrize("chapter", sorted(SMOKE))
def test_smoke_run_writes_a_complete_run_directory(tmp_path, chapter):
    overrides, expected, metric_names = SMOKE[chapter]
    out = tmp_path / "run"
    args = [arg for o in overrides for arg in ("-p", o)]
    proc = earlybias("run", chapter, "--profile", "smoke", "-q", *args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    assert "claims:" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["executed.ipynb", "figures", "params.yaml", "results.json", *RAW_OUTPUTS.get(chapter, [])]
    )
    record = load_results(out / "results.json")
    assert list(record) == list(KEYS)
    assert record["chapter"] == chapter and record["profile"] == "smoke"
    assert {k: record["params"][k] for k in expected} == expected
    assert yaml.safe_load((out / "params.yaml").read_text())["params"] == record["params"]
    assert set(metric_names) <= set(record["metrics"])
    assert record["claims"] and all(
        set(c) == {"id", "paper", "statement", "measured", "expected", "passed", "not_reproduced", "status"}
        for c in record["claims"]
    )
    # The report cites each claim's paper: it must be a key of the book's bibliography.
    bib = (ROOT / "book" / "references.bib").read_text()
    assert all(f"{{{c['paper']}," in bib for c in record["claims"])
    assert record["provenance"]["torch"].startswith("2.13.0")
    assert record["provenance"]["threads"] == 2
    assert len(list((out / "figures").glob("*.png"))) >= 6
    executed = json.loads((out / "executed.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and overrides[0].replace("=", " = ") in "".join(injected[0]["source"])


def test_a_later_run_removes_staging_directories_of_dead_runs_only(tmp_path):
    import os
    import socket

    from earlybias.runner import remove_stale_staging

    here = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs
    dead = [
        tmp_path / f".a.partial-{gone.pid}@{here}",
        tmp_path / f".b.old-{gone.pid}@{here}",
        tmp_path / f".e.partial-{gone.pid}",  # as written before runs named their host
    ]
    alive = [
        tmp_path / f".c.partial-{os.getppid()}@{here}",
        tmp_path / f".d.partial-{gone.pid}@another-host",  # its process cannot be seen from here
        tmp_path / "run",
        tmp_path / f"x.partial-{gone.pid}@{here}",
    ]
    for d in dead + alive:
        d.mkdir()
    assert sorted(remove_stale_staging(tmp_path)) == sorted(dead)
    assert sorted(tmp_path.iterdir()) == sorted(alive)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_stopped_run_leaves_nothing_behind(tmp_path, sig):
    import signal
    import time

    from conftest import EARLYBIAS

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*EARLYBIAS, "run", "igb", "--profile", "smoke", "-q", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".run.partial-") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    time.sleep(2)  # the kernel is starting or running the notebook
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert "stopped; nothing was written" in err
    assert list(tmp_path.iterdir()) == []
