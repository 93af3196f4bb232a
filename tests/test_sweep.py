"""`earlybias sweep` without a cluster: the grid, its validation, and the table rebuilt from run
directories. The sweeps on real Dask clusters are in test_sweep_cluster.py."""

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import earlybias

from earlybias.chapters import CHAPTERS
from earlybias.params import ParamError
from earlybias.results import write_results
from earlybias.runner import plan_run
from earlybias.sweep.grid import parse_seeds, plan_sweep
from earlybias.sweep.table import write_outputs


def test_the_grid_is_the_product_of_the_lists_and_the_seeds(tmp_path):
    plan = plan_sweep(
        "igb", "smoke", ["activation=relu,tanh", "depth=1,2,4"], ["width=32"], "0-1", tmp_path / "s"
    )
    assert len(plan.points) == 2 * 3 * 2
    assert plan.varied == ["activation", "depth", "seed"]
    first = plan.points[0]
    assert first.name == "activation=relu,depth=1,seed=0"
    # Each point is the very run `earlybias run` plans for the same overrides.
    assert (
        first.params == plan_run("igb", "smoke", ["width=32", "activation=relu", "depth=1", "seed=0"]).params
    )
    assert {p.params["width"] for p in plan.points} == {32}
    assert len({p.name for p in plan.points}) == len(plan.points)


@pytest.mark.parametrize(
    ("text", "seeds"), [("0-4", (0, 1, 2, 3, 4)), ("3", (3,)), ("0,3,7", (0, 3, 7)), (" 2 - 3 ", (2, 3))]
)
def test_seeds_are_a_range_or_a_list(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["4-0", "a-b", "", "1,1", "-1", "0-"])
def test_bad_seeds_are_refused(text):
    with pytest.raises(ParamError, match="--seeds"):
        parse_seeds(text)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-g", "depth=1,40"], "-g depth: parameter 'depth': got 40"),
        (["-g", "depht=1,2"], "unknown parameter 'depht': allowed: activation"),
        (["-g", "depth="], "-g depth: got '', allowed: a non-empty list"),
        (["-g", "depth=1,,2"], "no empty value"),
        (["-g", "depth=1,1"], "each value once"),
        (["-g", "depth=1,01"], "each value once"),
        (["-g", "depth=1", "-g", "depth=2"], "parameter 'depth' is given twice (-g depth=...)"),
        (["-g", "depth"], "expected NAME=V1,V2"),
        (["-g", "depth=1,2", "-p", "depth=3"], "also fixed by -p depth"),
        (["--seeds", "0-2", "-g", "seed=4,5"], "give the seeds once"),
        # A value every parameter allows alone, refused by the chapter for one point only:
        (["-g", "activation=relu,gelu", "-p", "pool_k=2"], "point activation=gelu: "),
        (["--workers", str(os.cpu_count() + 1)], f"--workers {os.cpu_count() + 1}: allowed: 1 to"),
        (["--workers", "0"], "--workers 0: allowed: 1 to"),
        (["--profile", "huge"], "unknown profile 'huge'"),
    ],
)
def test_bad_input_exits_2_names_the_point_and_parameter_and_leaves_nothing(tmp_path, args, fragment):
    out = tmp_path / "sweep"
    result = earlybias("sweep", "igb", "--profile", "smoke", *args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert not out.exists()


def test_a_list_parameter_cannot_be_a_grid_axis():
    with pytest.raises(ParamError, match="'rhos' is a list parameter"):
        plan_sweep("surgeon", "smoke", ["rhos=0.9,0.99"])


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path):
    out = tmp_path / "sweep"
    t0 = time.perf_counter()
    result = earlybias(
        "sweep", "igb", "--profile", "smoke", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered within" in result.stderr
    assert time.perf_counter() - t0 < 30  # the connection timeout is 10 s
    assert not out.exists()


def test_the_sweep_directory_must_be_new_or_the_same_sweep(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ParamError, match="holds no sweep"):
        plan_sweep("igb", "smoke", ["depth=1,2"], out=taken)
    plan = plan_sweep("igb", "smoke", ["depth=1,2"], out=tmp_path / "s")
    plan.out.mkdir()
    (plan.out / "sweep.yaml").write_text(yaml.safe_dump(plan.request(), sort_keys=False))
    assert plan_sweep("igb", "smoke", ["depth=1,2"], out=tmp_path / "s").points == plan.points  # resumes
    with pytest.raises(ParamError, match="holds another sweep"):
        plan_sweep("igb", "smoke", ["depth=1,3"], out=tmp_path / "s")
    with pytest.raises(ParamError, match="written by `earlybias book` alone"):
        plan_sweep("igb", "smoke", ["depth=1,2"], out=Path("book/chapters/s"))


def _fake_point(plan, point, gamma: float, runtime: float = 1.0) -> None:
    """A run directory as `earlybias run` writes it, with made-up numbers."""
    out = plan.point_dir(point)
    out.mkdir(parents=True)
    claims = [
        {"id": "a", "paper": "p", "statement": "s", "measured": 1.0, "expected": "> 0", "passed": True},
        {"id": "b", "paper": "p", "statement": "s", "measured": 0.0, "expected": "> 0", "passed": False},
    ]
    write_results(
        out / "results.json",
        chapter=plan.chapter.id,
        profile=plan.profile,
        params=point.params,
        metrics={"gamma_measured": gamma, "gamma_theory": gamma, "fmax_mean_measured": 0.5 + gamma / 10},
        claims=claims,
        runtime_s=runtime,
        provenance={
            "git_commit": "abc",
            "python": "3",
            "torch": "2",
            "numpy": "1",
            "threads": 1,
            "started_at": "2026-01-01T00:00:00+00:00",
        },
    )


def test_collect_rebuilds_table_figures_and_summary_from_the_run_directories_alone(tmp_path):
    plan = plan_sweep("igb", "smoke", ["activation=relu,tanh", "depth=1,2"], seeds="0-1", out=tmp_path / "s")
    plan.out.mkdir()
    (plan.out / "sweep.yaml").write_text(yaml.safe_dump(plan.request(), sort_keys=False))
    (plan.out / "failures.yaml").write_text(yaml.safe_dump({plan.points[1].name: "cell 3 raised boom"}))
    for i, point in enumerate(plan.points[2:]):
        _fake_point(plan, point, gamma=point.params["depth"] / 10 + i / 1000)

    frame = write_outputs(plan.out)
    assert list(frame.point) == [p.name for p in plan.points]
    assert list(frame.status[:2]) == ["missing", "failed"] and frame.error[1] == "cell 3 raised boom"
    assert (frame.status[2:] == "done").all()
    assert (frame.claims_passed[2:] == 1).all() and (frame.claims_failed[2:] == 1).all()
    done = frame[frame.status == "done"].set_index("point")
    for point in plan.points[2:]:
        assert done.loc[point.name, "depth"] == point.params["depth"]
        assert done.loc[point.name, "git_commit"] == "abc"
    pd.testing.assert_frame_equal(pd.read_parquet(plan.out / "table.parquet"), frame)
    assert len(pd.read_csv(plan.out / "table.csv")) == len(plan.points)
    # One figure per headline metric against each varied parameter (the other one the colour,
    # the seeds the spread), in the grid's order.
    figures = [f"{m}-vs-{x}.png" for x in ("activation", "depth") for m in CHAPTERS["igb"].headline]
    assert sorted(p.name for p in (plan.out / "figures").glob("*.png")) == sorted(figures)
    text = (plan.out / "summary.md").read_text()
    assert "8 points, 6 done, 1 failed, 1 missing" in text
    assert "cell 3 raised boom" in text
    assert [line[line.index("(") + 9 : -1] for line in text.splitlines() if line.startswith("![")] == figures
    # Relu at depth 1 has no point done, so no row; at depth 2 both seeds are done.
    assert "| relu | 2 | 2 | 0.2" in text and "| relu | 1 |" not in text

    # The same from the command line, and a directory that is no sweep is bad input.
    (plan.out / "table.csv").unlink()
    assert earlybias("sweep", "--collect", str(plan.out)).returncode == 0
    assert (plan.out / "table.csv").is_file()
    result = earlybias("sweep", "--collect", str(tmp_path))
    assert result.returncode == 2 and "not a sweep directory" in result.stderr


def test_the_books_sweep_is_a_valid_sweep(tmp_path):
    from earlybias.book import BOOK_SWEEP

    plan = plan_sweep(**BOOK_SWEEP, out=tmp_path / "sweep")
    assert len(plan.points) >= 2 * len(plan.seeds) and len(plan.seeds) >= 2  # a spread per point


def test_the_scale_page_shows_the_books_own_sweep_on_a_machine_and_on_a_cluster():
    """The commands of the page "Rerunning the study at scale" are those of the sweep it shows."""
    from earlybias.book import BOOK_SWEEP
    from earlybias.paths import ROOT

    command = " ".join(
        [
            "earlybias sweep",
            BOOK_SWEEP["chapter_id"],
            "--profile",
            BOOK_SWEEP["profile"],
            *(f"-g {g}" for g in BOOK_SWEEP["grid"]),
            f"--seeds {BOOK_SWEEP['seeds']}",
        ]
    )
    page = (ROOT / "book" / "scale.md").read_text()
    assert page.count(command) == 2  # on this machine, then with --scheduler
    assert f"{command} --scheduler" in page
