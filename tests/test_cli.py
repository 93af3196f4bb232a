"""The command line: `earlybias list`, and bad input that never starts a kernel nor leaves a trace."""

import pytest
from conftest import ROOT, earlybias

from earlybias.chapters import CHAPTERS


def test_list_shows_every_parameter_with_default_type_allowed_and_help():
    out = earlybias("list")
    assert out.returncode == 0
    for chapter in CHAPTERS.values():
        assert f"{chapter.id}: {chapter.title}" in out.stdout
        for p in chapter.params:
            assert f"  {p.name} " in out.stdout
            assert p.help in out.stdout
            assert p.allowed() in out.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "nope"], "unknown chapter 'nope'"),
        (["run", "igb", "--profile", "huge"], "unknown profile 'huge'"),
        (["run", "igb", "-p", "colour=red"], "unknown parameter 'colour'"),
        (["run", "igb", "-p", "depth=abc"], "parameter 'depth'"),
        (["run", "igb", "-p", "seed=1.5"], "parameter 'seed'"),
        (["run", "igb", "-p", "depth="], "parameter 'depth'"),
        (["run", "igb", "-p", "depth=0"], "parameter 'depth'"),
        (["run", "igb", "-p", "width=-5"], "parameter 'width'"),
        (["run", "igb", "-p", "activation=sigmoidx"], "parameter 'activation'"),
        (["run", "igb", "-p", "data=digits", "-p", "n_points=5000"], "parameter 'n_points'"),
        (["run", "igb", "-p", "pool_k=2", "-p", "input_shift=1"], "parameter 'pool_k'"),
        (["run", "igb", "-p", "pool_k=2", "-p", "activation=gelu"], "parameter 'pool_k'"),
        (["run", "igb", "--out", str(ROOT / "book" / "chapters" / "igb")], "book's chapters"),
        (["run", "weights", "-p", "family=resnet"], "parameter 'family'"),
        (["run", "weights", "-p", "sigma2_levels=0.1,0.05,0.2,0.3"], "parameter 'sigma2_levels'"),
        (["run", "weights", "-p", "sigma2_levels=0.1,0.2"], "parameter 'sigma2_levels'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_leaves_nothing(tmp_path, args, fragment):
    runs_before = sorted((ROOT / "runs").rglob("*")) if (ROOT / "runs").exists() else []
    out = earlybias(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert fragment in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
    runs_after = sorted((ROOT / "runs").rglob("*")) if (ROOT / "runs").exists() else []
    assert runs_after == runs_before


def test_out_must_not_overwrite_a_non_empty_directory(tmp_path):
    keep = tmp_path / "mine.txt"
    keep.write_text("precious")
    out = earlybias("run", "igb", "--profile", "smoke", "--out", str(tmp_path))
    assert out.returncode == 2 and "not empty" in out.stderr
    assert keep.read_text() == "precious" and list(tmp_path.iterdir()) == [keep]


def test_out_must_not_be_a_file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("precious")
    out = earlybias("run", "igb", "--profile", "smoke", "--out", str(target))
    assert out.returncode == 2 and "not a directory" in out.stderr
    assert target.read_text() == "precious"
