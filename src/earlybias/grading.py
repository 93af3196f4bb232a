"""Chapters as graded assignments: the student version of a chapter, and the grading of one.

Every chapter notebook writes its exercises in nbgrader's format (DESIGN.md, "Exercises"), so a
teacher's nbgrader or JupyterHub takes it as it is. This module serves a teacher without either:
no course directory, no database, no nbgrader configuration, only nbgrader's own pieces.

- :func:`student_version` applies the preprocessors of ``nbgrader generate_assignment`` that need
  no database: solutions become stubs, hidden tests and outputs go, graded cells are locked.
- :func:`grade` scores a submission as ``nbgrader autograde`` would: the chapter's test cells are
  put back from its source notebook (by grade id), the notebook is executed with a profile's
  parameters, the way ``earlybias run`` executes it, and every test cell is scored by
  ``nbgrader.utils.determine_grade``.

Grade ids read ``<chapter>-ex<k>-<role>``: the prefix names the chapter, so a submission renamed
by a student (``igb-alice.ipynb``) is still graded against the right chapter, and ``<chapter>-ex<k>``
is the exercise a test cell's points count towards.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from earlybias.chapters import CHAPTERS, Chapter, get_chapter
from earlybias.params import ParamError
from earlybias.paths import ROOT
from earlybias.results import atomic_write
from earlybias.session import RUN_DIR_ENV, THREADS_ENV, kernel_environment, thread_count

__all__ = [
    "AssignmentError",
    "GradingFailed",
    "Grades",
    "STUDENT_DIR",
    "chapter_of",
    "exercises",
    "grade",
    "grade_against",
    "restore_cells",
    "student_version",
    "write_student_versions",
]

#: Where ``earlybias student`` (``make student``) writes the student notebooks.
STUDENT_DIR = ROOT / "dist" / "student"

#: ``<chapter>-ex<k>-<role>``, the grade id of every exercise cell (role: solution, test).
GRADE_ID = re.compile(r"^(?P<chapter>[a-z][a-z0-9_]*)-ex(?P<k>[1-9][0-9]*)-")

#: The kernel every chapter runs in, as under ``earlybias run``.
KERNEL = "python3"


class AssignmentError(RuntimeError):
    """A chapter notebook that nbgrader refuses as an assignment (a solution region outside a
    solution cell, malformed metadata): a fault of the chapter, not of the user's input."""


class GradingFailed(RuntimeError):
    """The submission could not be executed to its end (the kernel died): no score exists."""


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or None


def _is_grade(cell: NotebookNode) -> bool:
    from nbgrader.utils import is_grade

    return bool(is_grade(cell))


def _is_protected(cell: NotebookNode) -> bool:
    """A cell the student may not change: a test cell, or a cell nbgrader marks as locked."""
    from nbgrader.utils import is_grade, is_locked

    return bool(_grade_id(cell) and (is_grade(cell) or is_locked(cell)))


def _exercise(grade_id: str) -> tuple[str, int] | None:
    m = GRADE_ID.match(grade_id)
    return (f"{m['chapter']}-ex{m['k']}", int(m["k"])) if m else None


def exercises(nb: NotebookNode) -> dict[str, float]:
    """The notebook's exercises, ``<chapter>-ex<k>`` -> points (the sum of its test cells'
    points), in the order of ``k``."""
    points: dict[tuple[int, str], float] = {}
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid and _is_grade(cell) and _exercise(gid):
            name, k = _exercise(gid)
            points[k, name] = points.get((k, name), 0.0) + float(cell.metadata["nbgrader"]["points"])
    return {name: p for (_, name), p in sorted(points.items())}


def chapter_of(nb: NotebookNode, name: str = "the notebook") -> Chapter:
    """The chapter a notebook is a copy of, read from its grade ids' prefix (not its file name,
    which a student may change); :class:`ParamError` when it is no chapter's notebook."""
    found = {m["chapter"] for c in nb.cells if (gid := _grade_id(c)) and (m := GRADE_ID.match(gid))}
    if not found:
        raise ParamError(
            f"{name}: not a chapter notebook: it has no exercise cells (nbgrader grade ids "
            f"'<chapter>-ex<k>-...' of a chapter: {', '.join(CHAPTERS)})"
        )
    if len(found) > 1:
        raise ParamError(f"{name}: its exercises belong to several chapters ({', '.join(sorted(found))})")
    (chapter_id,) = found
    try:
        return get_chapter(chapter_id)
    except ParamError as exc:
        raise ParamError(f"{name}: its exercises name {exc}") from None


def _read(path: Path, name: str) -> NotebookNode:
    if not path.is_file():
        raise ParamError(f"{name}: no such notebook")
    try:
        return nbformat.read(path, as_version=4)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # NotJSONError is a ValueError
        raise ParamError(f"{name}: not a Jupyter notebook ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------------------------
# The student version


def student_version(chapter_id: str) -> NotebookNode:
    """The chapter as handed to students, made by the preprocessors of nbgrader's
    ``generate_assignment`` in its order, less those that need a course database (``SaveCells``)
    or a course's files (``IncludeHeaderFooter``, ``InstantiateTests``): solution regions become
    ``raise NotImplementedError()`` stubs, hidden tests, outputs and marking schemes go, test and
    solution cells cannot be deleted and carry their checksums. The ``parameters`` cell stays, so
    ``earlybias grade`` (papermill) can still set the profile's parameters."""
    from nbgrader.nbgraderformat import ValidationError
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    notebook = get_chapter(chapter_id).notebook
    nb = nbformat.read(notebook, as_version=4)
    resources: dict[str, Any] = {}
    try:
        for step in (
            LockCells,
            ClearSolutions,
            ClearOutput,
            CheckCellMetadata,
            ComputeChecksums,
            ClearHiddenTests,  # after the first checksums, as in generate_assignment
            ClearMarkScheme,
            ComputeChecksums,
            CheckCellMetadata,
        ):
            nb, resources = step().preprocess(nb, resources)
    except (RuntimeError, ValidationError) as exc:
        shown = notebook.relative_to(ROOT) if ROOT in notebook.parents else notebook
        raise AssignmentError(f"chapter '{chapter_id}' ({shown}): nbgrader refuses it: {exc}") from exc
    return nb


def write_student_versions(dest: str | Path = STUDENT_DIR) -> list[Path]:
    """Write ``<dest>/<chapter>.ipynb``, the student version of every chapter; return the paths.
    Every version is made before the first is written, so a chapter nbgrader refuses
    (:class:`AssignmentError`) leaves no half-written folder."""
    versions = {chapter_id: student_version(chapter_id) for chapter_id in CHAPTERS}  # all, or none
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter_id, nb in versions.items():
        path = dest / f"{chapter_id}.ipynb"
        nbformat.write(nb, path)  # handed out: the usual file mode (atomic_write leaves 0600)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Grading


def _fresh(cell: NotebookNode) -> NotebookNode:
    out = copy.deepcopy(cell)
    if out.cell_type == "code":
        out.outputs, out.execution_count = [], None
    return out


def shown_source(cell: NotebookNode) -> str:
    """What a student sees of a source cell: its text less the hidden tests (nbgrader's own
    ``ClearHiddenTests``; the book's pages show the same, ``book.publish_chapter``)."""
    from nbgrader.preprocessors import ClearHiddenTests

    shown = _fresh(cell)
    ClearHiddenTests()._remove_hidden_test_region(shown)
    return shown.source


def restore_cells(submission: NotebookNode, source: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """The submission with the chapter's protected cells (``source``'s test and locked cells)
    put back, and the grade ids of those the student had changed or deleted.

    As ``nbgrader autograde`` does: a test cell is replaced by the source's, hidden tests
    included, so a student can neither edit nor see what grades them; a deleted one is put back
    after the cell that preceded it in the source (deleting a test does not dodge it: it scores
    what the answer deserves). Solution cells keep the student's code under the source's
    metadata; nbgrader metadata the source does not have (a second copy of a grade id, a cell
    marked graded by hand) is dropped, so only the chapter's own tests carry points.
    """
    known = {gid: c for c in source.cells if (gid := _grade_id(c))}
    protected = {gid: c for gid, c in known.items() if _is_protected(c)}
    nb = copy.deepcopy(submission)
    cells, kept, restored = [], set(), []
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in kept or ("nbgrader" in cell.metadata and gid not in known):
            del cell.metadata["nbgrader"]
        elif gid in protected:
            original = protected[gid]
            if cell.cell_type != original.cell_type or cell.source not in (
                original.source,
                shown_source(original),
            ):
                restored.append(gid)
            cell_id, cell = cell.get("id"), _fresh(original)
            if cell_id:
                cell["id"] = cell_id  # the submission's cell ids stay unique
        elif gid in known:
            cell.metadata["nbgrader"] = copy.deepcopy(known[gid].metadata["nbgrader"])
        if gid in known:
            kept.add(gid)
        cells.append(cell)

    order = list(known)
    for gid in protected:
        if gid in kept:
            continue
        restored.append(gid)
        at = {_grade_id(c): i for i, c in enumerate(cells) if _grade_id(c)}
        i = order.index(gid)
        before = [at[g] for g in order[:i] if g in at]
        after = [at[g] for g in order[i + 1 :] if g in at]
        where = before[-1] + 1 if before else after[0] if after else len(cells)
        cells.insert(where, _fresh(protected[gid]))
        kept.add(gid)
    nb.cells = cells
    nb.metadata["kernelspec"] = copy.deepcopy(source.metadata.get("kernelspec", {}))
    return nb, sorted(restored, key=order.index)


@dataclass
class Grades:
    """A graded submission: points earned and possible per exercise, and the executed notebook."""

    chapter: str
    profile: str
    params: dict[str, Any]
    exercises: dict[str, tuple[float, float]]
    #: Test cells the submission had changed or deleted, put back before it ran.
    restored: list[str] = field(default_factory=list)
    notebook: NotebookNode | None = field(default=None, repr=False)

    @property
    def total(self) -> float:
        return sum(earned for earned, _ in self.exercises.values())

    @property
    def possible(self) -> float:
        return sum(points for _, points in self.exercises.values())

    def table(self) -> str:
        """Points per exercise and the total, one line each, for the terminal."""
        rows = [(name, f"{e:g} / {p:g}") for name, (e, p) in self.exercises.items()]
        rows.append(("total", f"{self.total:g} / {self.possible:g}"))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {points}" for name, points in [("exercise", "points"), *rows])


def score(nb: NotebookNode) -> dict[str, tuple[float, float]]:
    """Points earned and possible per exercise of an executed notebook: each test cell scored by
    ``nbgrader.utils.determine_grade`` (an error, or anything written to stderr, scores 0)."""
    from nbgrader.utils import determine_grade

    out = {name: [0.0, 0.0] for name in exercises(nb)}
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid and _is_grade(cell) and _exercise(gid):
            earned, possible = determine_grade(cell)
            name = _exercise(gid)[0]
            out[name][0] += float(earned or 0.0)  # None: needs a human; the format has no such cell
            out[name][1] += float(possible)
    return {name: (e, p) for name, (e, p) in out.items()}


def _executor(timeout: int, progress: bool, total: int):
    """nbgrader's ``Execute`` (every cell runs, errors recorded in the outputs), with a
    progress bar over the code cells."""
    from nbgrader.preprocessors import Execute
    from tqdm.auto import tqdm

    class _Execute(Execute):
        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)
            if self.bar is not None:
                self.bar.update()

    ex = _Execute(timeout=timeout, allow_errors=True, kernel_name=KERNEL)
    ex.bar = tqdm(total=total, unit="cell", desc="grading", leave=False) if progress else None
    return ex


def grade_against(
    submission: NotebookNode,
    source: NotebookNode,
    parameters: dict[str, Any],
    *,
    timeout: int = 600,
    threads: int | None = None,
    progress: bool = False,
) -> tuple[dict[str, tuple[float, float]], list[str], NotebookNode]:
    """Grade ``submission`` against its ``source`` notebook with ``parameters`` injected.

    Returns the points per exercise, the test cells put back (:func:`restore_cells`) and the
    executed notebook. The parameters reach it as under ``earlybias run`` (papermill's loader and
    injected cell, the ``python3`` kernel, ``EARLYBIAS_THREADS``), but ``EARLYBIAS_RUN_DIR`` is
    unset: the notebook runs as in the student's own Jupyter session, where the answers were
    written, and skips what only the book needs (figure files, results, the precomputed
    in-page explorers, a minute of the smoke run). So it writes nothing; its working directory
    is a temporary one all the same, so nothing a student's code writes lands beside the
    submission or in the book. ``timeout`` bounds each cell (a student's endless loop scores 0,
    it does not hang the grader). :class:`GradingFailed` when the kernel dies.
    """
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import ClearOutput
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb, restored = restore_cells(submission, source)
    nb, _ = ClearOutput().preprocess(nb, {})  # a submission may have been run already
    with tempfile.TemporaryDirectory(prefix="earlybias-grade-") as work:
        # Through a file and papermill's own loader and parameterizer, as `earlybias run` does.
        nbformat.write(nb, Path(work) / "submission.ipynb")
        nb = load_notebook_node(str(Path(work) / "submission.ipynb"))
        nb = parameterize_notebook(nb, parameters, kernel_name=KERNEL, language="python")
        total = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)
        env = {RUN_DIR_ENV: None, THREADS_ENV: str(threads or thread_count())}
        executor = _executor(timeout, progress, total)
        try:
            with kernel_environment(env):
                nb, _ = executor.preprocess(nb, {"metadata": {"path": work}})
        except DeadKernelError as exc:
            raise GradingFailed(f"the kernel died while running the submission: {exc}") from exc
        finally:
            if executor.bar is not None:
                executor.bar.close()
    return score(nb), restored, nb


def _as_overrides(params: Mapping[str, Any] | Iterable[str] | None) -> list[str]:
    """``NAME=VALUE`` strings, as on the command line, so one code path (the runner's) checks
    them; a mapping's values are written back as text (lists with commas)."""
    if params is None:
        return []
    if isinstance(params, Mapping):

        def text(v: Any) -> str:
            if isinstance(v, bool):
                return str(v).lower()
            if isinstance(v, (list, tuple)):
                return ",".join(repr(float(x)) for x in v)
            return repr(v) if isinstance(v, float) else str(v)

        return [f"{name}={text(value)}" for name, value in params.items()]
    return list(params)


def grade(
    notebook: str | Path,
    profile: str = "default",
    params: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    out: str | Path | None = None,
    timeout: int | None = None,
    progress: bool = False,
) -> Grades:
    """Grade a submitted chapter notebook; return its points per exercise.

    The chapter is recognised from the notebook's grade ids, its parameters are the chapter's
    ``profile`` (``default``: the book's; ``smoke``: seconds) with ``params`` overriding it
    (``{"width": 64}`` or ``["width=64"]``), checked exactly as ``earlybias run`` checks them,
    before any kernel starts (:class:`ParamError` names the parameter). The test cells come from
    the chapter's source notebook, not from the submission (:func:`restore_cells`). ``out``, if
    given, receives the executed notebook with its grades in ``metadata.earlybias``. The
    per-cell ``timeout`` defaults to three times the chapter's estimated run time plus 2 min.
    """
    from earlybias.runner import BOOK_CHAPTERS, plan_run

    path = Path(notebook).expanduser()
    submission = _read(path, str(notebook))
    chapter = chapter_of(submission, str(notebook))
    plan = plan_run(chapter.id, profile, _as_overrides(params))  # validates; its directory is not used
    if out is not None:
        out = Path(out).expanduser()
        target = out.resolve()
        if target == path.resolve():
            raise ParamError(f"--out {out}: is the submission itself; choose another file")
        if target.is_dir():
            raise ParamError(f"--out {out}: is a directory; give a notebook file name")
        if BOOK_CHAPTERS.resolve() in target.parents:
            raise ParamError(f"--out {out}: the book's chapters are written by `earlybias book` alone")
        if not target.parent.is_dir():
            raise ParamError(f"--out {out}: folder {out.parent} does not exist")
    source = nbformat.read(chapter.notebook, as_version=4)
    if not exercises(source):
        raise ParamError(f"chapter '{chapter.id}': its notebook has no graded exercises yet")
    timeout = timeout or int(120 + 3 * plan.estimate.seconds)
    points, restored, executed = grade_against(
        submission, source, plan.params, timeout=timeout, progress=progress
    )
    grades = Grades(chapter.id, profile, plan.params, points, restored, executed)
    if out is not None:
        executed.metadata["earlybias"] = {
            "chapter": chapter.id,
            "profile": profile,
            "params": plan.params,
            "grades": {name: {"earned": e, "possible": p} for name, (e, p) in points.items()},
            "restored": restored,
        }
        atomic_write(out, nbformat.writes(executed))
    return grades
