"""The igb chapter's cost model (igb.estimate) against measured runs and the runner's refusals."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from earlybias import igb
from earlybias.budget import check_fits
from earlybias.params import ParamError
from earlybias.runner import plan_run

GIB = 2**30


def test_an_absurd_run_is_announced_as_taking_hours():
    plan = plan_run("igb", "default", ["n_points=200000", "n_inits=200000"])
    assert plan.estimate.seconds > 24 * 3600
    notice = plan.long_run_notice()
    assert notice is not None and notice.endswith("h (estimated)")


def test_a_run_that_cannot_fit_is_refused_naming_what_drives_it():
    params = dict(plan_run("igb", "default", []).params)
    params.update(width=8192, depth=32, n_classes=1000, n_inits=200_000)
    estimate = igb.estimate(params)
    assert estimate.memory_bytes > 16 * GIB
    with pytest.raises(ParamError, match=r"n_inits=200000.*width=8192.*depth=32"):
        check_fits("igb", params, estimate, available=16 * GIB)


def test_profiles_are_ordered_and_the_default_fits_its_budget():
    est = {p: plan_run("igb", p, []).estimate for p in ("smoke", "default", "paper")}
    assert est["smoke"].seconds < 40 < est["default"].seconds < 240 < est["paper"].seconds
    assert max(e.memory_bytes for e in est.values()) < 4 * GIB


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from /proc (Linux)")
def test_memory_model_against_a_measured_headline():
    # One wide network per block: the weights dominate. Measure the peak resident memory the
    # headline adds in a fresh process and compare it with the model's headline terms. The peak is
    # the process's own (VmHWM): ru_maxrss keeps the parent's resident size from before the exec,
    # which a large test process makes larger than a fresh interpreter's.
    params = dict(plan_run("igb", "default", []).params)
    params.update(width=4096, depth=4, n_inits=2, n_points=50)
    model = igb.estimate(params).memory_bytes - igb._BASE_BYTES
    code = (
        "import json, torch\n"
        "from earlybias.igb import experiments\n"
        "def peak():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "torch.set_num_threads(1)\n"
        "experiments.headline(width=64, n_inits=2, n_points=50)\n"  # imports and first allocations
        "before = peak()\n"
        "experiments.headline(width=4096, depth=4, n_inits=2, n_points=50)\n"
        "print(json.dumps(1024 * (peak() - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert model / 2 < measured < model * 2, (measured, model)


@pytest.mark.slow
def test_time_model_against_the_default_profile_run(book_runs):
    record = json.loads((book_runs / "igb" / "results.json").read_text())
    estimate = igb.estimate(record["params"]).seconds
    assert estimate / 2 < record["runtime_s"] < estimate * 2, (record["runtime_s"], estimate)
