"""Chapters as graded assignments: nbgrader metadata, the student version, grading.

The fast tests read notebooks only (and run one tiny synthetic notebook); the slow ones execute
every chapter at the smoke profile: the untouched student version scores 0, the reference with
one plausible wrong answer (tests/exercise_mistakes.py) loses exactly that exercise's points.
"""

import json
import os
import re
import time

import nbformat
import pytest
from conftest import earlybias
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from earlybias import grading
from earlybias.chapters import CHAPTERS
from earlybias.grading import GRADE_ID, exercises, restore_cells, student_version
from earlybias.params import ParamError

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def _chapters(slow: bool = False):
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if slow else []) for c in CHAPTERS.values()]


def _read(chapter):
    return nbformat.read(chapter.notebook, as_version=4)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _regions(source: str, begin: str, end: str) -> list[str]:
    """The stripped, non-empty lines between the ``begin`` and ``end`` markers."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _lines(cells) -> set[str]:
    return {line.strip() for c in cells for line in c.source.splitlines() if line.strip()}


# --- the chapters' nbgrader metadata --------------------------------------------------------


@pytest.mark.parametrize("chapter", _chapters())
def test_exercise_metadata_is_consistent(chapter):
    nb = _read(chapter)
    cells = [c for c in nb.cells if "nbgrader" in c.metadata]
    ids = [_nbgrader(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"
    for cell, gid in zip(cells, ids):
        m = GRADE_ID.match(gid)
        assert m and m["chapter"] == chapter.id, f"{gid}: expected '{chapter.id}-ex<k>-...'"
        meta = _nbgrader(cell)
        assert meta["schema_version"] == 3 and cell.cell_type == "code"
        if meta["solution"]:
            assert not meta["grade"] and not meta["locked"]
            assert gid.endswith("-solution")
            src = cell.source.splitlines()
            assert src.count(BEGIN) == 1 and src.count(END) == 1 and src.index(BEGIN) < src.index(END)
        else:
            assert meta["grade"] and meta["locked"], f"{gid}: a test cell is graded and locked"
            assert meta["points"] > 0
            assert gid.endswith("-test")
            assert BEGIN not in cell.source
    points = exercises(nb)
    assert len(points) >= 2
    assert list(points) == [f"{chapter.id}-ex{k}" for k in range(1, len(points) + 1)], "contiguous ids"
    solutions = {GRADE_ID.match(g)[0] for g, c in zip(ids, cells) if _nbgrader(c)["solution"]}
    assert solutions == {f"{e}-" for e in points}, "every exercise has a solution and a test"


@pytest.mark.parametrize("chapter", _chapters())
def test_nbgrader_accepts_the_notebook(chapter):
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.preprocessors import CheckCellMetadata

    nb = _read(chapter)
    MetadataValidator().validate_nb(nb)
    CheckCellMetadata().preprocess(nb, {})
    assert exercises(nb)


# --- the student version --------------------------------------------------------------------


@pytest.mark.parametrize("chapter", _chapters())
def test_student_version_has_no_solution_no_hidden_test_no_output(chapter):
    source = _read(chapter)
    student = student_version(chapter.id)
    assert exercises(student) == exercises(source)
    # Secret lines: those of a solution or hidden-test region that appear nowhere else in the
    # source notebook (an import or `m = check.metrics` shown elsewhere gives nothing away).
    secret, public = set(), []
    for cell in source.cells:
        regions = _regions(cell.source, BEGIN, END) + _regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
        secret |= set(regions)
        public += [line.strip() for line in cell.source.splitlines() if line.strip() not in regions]
    secret -= set(public)
    assert secret, "the chapter has solutions and hidden tests to remove"
    leaked = secret & _lines(student.cells)
    assert not leaked, f"solution or hidden-test lines left in the student version: {sorted(leaked)[:3]}"
    text = "\n".join(c.source for c in student.cells)
    for marker in (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in text
    assert text.count("raise NotImplementedError()") == len(exercises(source))
    code = [c for c in student.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    params = [c for c in student.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert (
        params[0].source == next(c for c in source.cells if "parameters" in c.metadata.get("tags", [])).source
    )
    for cell in student.cells:
        if _nbgrader(cell).get("grade"):
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False


@pytest.mark.parametrize("chapter", _chapters())
def test_chapter_is_recognised_from_a_renamed_copy(chapter, tmp_path):
    renamed = tmp_path / "my homework (final).ipynb"
    nbformat.write(student_version(chapter.id), renamed)
    assert grading.chapter_of(nbformat.read(renamed, as_version=4)).id == chapter.id
    # Through the command line: the parameter is checked against that chapter's schema, and
    # bad input stops before a kernel starts.
    out = earlybias("grade", str(renamed), "-p", "no_such_param=1", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown parameter 'no_such_param'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [renamed.name]


def test_write_student_versions(tmp_path):
    written = grading.write_student_versions(tmp_path / "student")
    assert sorted(p.name for p in written) == sorted(f"{c}.ipynb" for c in CHAPTERS)
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))


# --- bad input ------------------------------------------------------------------------------


def _no_exercises(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), path)
    return path


def _not_json(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ not json")
    return path


@pytest.mark.parametrize(
    "make, args, fragment",
    [
        (lambda d: d / "missing.ipynb", [], "no such notebook"),
        (_not_json, [], "not a Jupyter notebook"),
        (_no_exercises, [], "not a chapter notebook"),
    ],
)
def test_grade_bad_notebook_exits_2_with_one_line(tmp_path, make, args, fragment):
    path = make(tmp_path)
    out = earlybias("grade", str(path), *args, cwd=tmp_path)
    assert out.returncode == 2
    assert fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_grade_checks_the_profile_and_parameter_values_before_any_kernel():
    with pytest.raises(ParamError, match="unknown profile 'huge'"):
        grading.grade(CHAPTERS["igb"].notebook, "huge")
    with pytest.raises(ParamError, match="parameter 'depth'"):
        grading.grade(CHAPTERS["igb"].notebook, "smoke", {"depth": 0})
    with pytest.raises(ParamError, match="parameter 'width'"):
        grading.grade(CHAPTERS["igb"].notebook, "smoke", ["width=abc"])


# --- grading a tiny synthetic assignment (no chapter) ----------------------------------------


def _meta(gid, *, solution=False, points=None):
    meta = {"grade": points is not None, "grade_id": gid, "locked": not solution, "schema_version": 3}
    meta |= {"solution": solution, "task": False} | ({"points": points} if points else {})
    return {"nbgrader": meta}


def _synthetic():
    """Two exercises on a parameter ``n``: the sum 1..n (2 points), and its parity (1 point)."""
    cells = [
        new_code_cell("n = 3", metadata={"tags": ["parameters"]}),
        new_markdown_cell("**Exercise 1.** Set `total`, the sum of 1..n."),
        new_code_cell(
            f"{BEGIN}\ntotal = sum(range(n + 1))\n{END}", metadata=_meta("syn-ex1-solution", solution=True)
        ),
        new_code_cell(
            f"assert isinstance(total, int)\n{BEGIN_HIDDEN}\nassert total == n * (n + 1) // 2\n{END_HIDDEN}",
            metadata=_meta("syn-ex1-test", points=2),
        ),
        new_markdown_cell("**Exercise 2.** Set `even`, whether the sum is even."),
        new_code_cell(
            f"{BEGIN}\neven = total % 2 == 0\n{END}", metadata=_meta("syn-ex2-solution", solution=True)
        ),
        new_code_cell(
            f"{BEGIN_HIDDEN}\nassert even == (n * (n + 1) // 2 % 2 == 0)\n{END_HIDDEN}",
            metadata=_meta("syn-ex2-test", points=1),
        ),
    ]
    return new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )


def _set(nb, gid, source):
    next(c for c in nb.cells if _nbgrader(c).get("grade_id") == gid).source = source
    return nb


def test_restore_puts_back_changed_and_deleted_tests_and_drops_forged_points():
    source = _synthetic()
    nb = _set(_synthetic(), "syn-ex1-test", "pass  # no test here")
    del nb.cells[6]  # syn-ex2-test
    forged = new_code_cell("pass", metadata=_meta("syn-ex9-test", points=100))
    nb.cells.append(forged)
    restored, put_back = restore_cells(nb, source)
    assert put_back == ["syn-ex1-test", "syn-ex2-test"]
    assert [c.source for c in restored.cells[:7]] == [c.source for c in source.cells]
    assert "nbgrader" not in restored.cells[7].metadata and exercises(restored) == {
        "syn-ex1": 2,
        "syn-ex2": 1,
    }


def test_grade_against_scores_each_exercise_with_the_injected_parameters():
    """One small kernel run: exercise 2 is right only for the injected n (odd total for n=5,
    even for the notebook's own n=3), so a 3 / 3 shows that the parameter reached the kernel;
    the student stub of exercise 1 fails its test and the dependent exercise 2 with it."""
    source = _synthetic()
    submission = _set(_synthetic(), "syn-ex2-solution", "even = False")
    where = "import json, os\nprint(json.dumps([os.getcwd(), dict(os.environ)]))"
    submission.cells.insert(1, new_code_cell(where))  # a student's own cell
    points, restored, executed = grading.grade_against(submission, source, {"n": 5}, timeout=60, threads=1)
    assert points == {"syn-ex1": (2.0, 2.0), "syn-ex2": (1.0, 1.0)} and restored == []
    assert "injected-parameters" in executed.cells[1].metadata["tags"]
    cwd, env = json.loads(executed.cells[2].outputs[0]["text"])
    assert env["EARLYBIAS_THREADS"] == "1" and "EARLYBIAS_RUN_DIR" not in env, "as in Jupyter"
    assert "earlybias-grade-" in cwd and not os.path.exists(cwd), "a temporary directory, gone"
    stub = _set(_synthetic(), "syn-ex1-solution", "raise NotImplementedError()")
    points, _, _ = grading.grade_against(stub, source, {"n": 5}, timeout=60)
    assert points == {"syn-ex1": (0.0, 2.0), "syn-ex2": (0.0, 1.0)}


# --- slow: every chapter graded at the smoke profile ----------------------------------------


@pytest.mark.parametrize("chapter", _chapters(slow=True))
def test_untouched_student_version_runs_to_its_end_and_scores_zero(chapter, tmp_path):
    path = tmp_path / "submission.ipynb"
    nbformat.write(student_version(chapter.id), path)
    t0 = time.perf_counter()
    grades = grading.grade(path, "smoke")
    print(f"\n{chapter.id}: graded the student version at smoke in {time.perf_counter() - t0:.1f} s")
    assert grades.chapter == chapter.id and grades.restored == []
    assert {name: earned for name, (earned, _) in grades.exercises.items()} == dict.fromkeys(
        grades.exercises, 0.0
    )
    assert grades.possible == sum(exercises(_read(chapter)).values())
    code = [c for c in grades.notebook.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in code), "every cell ran"
    failed = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert failed and all("nbgrader" in c.metadata for c in failed), (
        "only the exercise cells fail: "
        + ", ".join(c.source.splitlines()[0] for c in failed if "nbgrader" not in c.metadata)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.ipynb"], "nothing written beside it"


@pytest.mark.parametrize("chapter", _chapters(slow=True))
def test_one_wrong_answer_loses_exactly_its_exercise(chapter, tmp_path):
    from exercise_mistakes import MISTAKES

    if chapter.id not in MISTAKES:
        pytest.fail(f"tests/exercise_mistakes.py: no plausible wrong answer for chapter '{chapter.id}'")
    gid, wrong = MISTAKES[chapter.id]
    nb = _set(_read(chapter), gid, wrong)
    path, graded = tmp_path / "submission.ipynb", tmp_path / "graded.ipynb"
    nbformat.write(nb, path)
    t0 = time.perf_counter()
    out = earlybias("grade", str(path), "--profile", "smoke", "--out", str(graded), "-q", cwd=tmp_path)
    print(f"\n{chapter.id}: graded one wrong answer at smoke in {time.perf_counter() - t0:.1f} s")
    assert out.returncode == 0, out.stderr
    rows = dict(re.findall(r"^(\S+)\s+([\d.]+ / [\d.]+)$", out.stdout, re.MULTILINE))
    possible = exercises(nb)
    wrong_exercise = GRADE_ID.match(gid)[0].rstrip("-")
    expected = {e: f"{0 if e == wrong_exercise else p:g} / {p:g}" for e, p in possible.items()}
    total = sum(possible.values())
    expected["total"] = f"{total - possible[wrong_exercise]:g} / {total:g}"
    assert rows == expected, out.stdout
    saved = json.loads(graded.read_text())["metadata"]["earlybias"]
    assert saved["chapter"] == chapter.id and saved["profile"] == "smoke"
    assert saved["grades"][wrong_exercise]["earned"] == 0


@pytest.mark.parametrize("chapter", _chapters(slow=True))
def test_reference_solutions_score_full_marks_in_the_books_run(book_runs, chapter):
    """The book executes each source notebook, reference solutions and hidden tests included, at
    the default profile: scored as nbgrader scores, every exercise earns all its points."""
    executed = nbformat.read(book_runs / chapter.id / "executed.ipynb", as_version=4)
    scores = grading.score(executed)
    assert scores == {name: (points, points) for name, points in exercises(_read(chapter)).items()}
