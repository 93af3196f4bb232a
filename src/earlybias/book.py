"""``earlybias book``: execute the chapters whose inputs changed, then write the report table.

The book is built with execution off (DESIGN.md): each chapter is executed here at its
``default`` profile into ``book/chapters/<id>/``. A chapter's inputs are its notebook, its
profiles, every file of ``src/earlybias`` and the installed package versions; their hash is
stored beside the run, and a chapter whose hash is unchanged and whose inputs are no newer than
that stamp is not executed again. The page "Rerunning the study at scale" shows one real sweep
(:data:`BOOK_SWEEP`), run the same way into ``book/chapters/sweep/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from earlybias.chapters import CHAPTERS, Chapter
from earlybias.claims import Claim, anchor
from earlybias.paths import ROOT
from earlybias.results import RESULTS, atomic_write, load_results
from earlybias.runner import BOOK_CHAPTERS, ExecutionFailed, claims_summary, execute, plan_run

STAMP = "inputs.sha256"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: nbgrader's solution markers (its ClearSolutions defaults).
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
#: The sweep of the page "Rerunning the study at scale" (``earlybias sweep`` arguments): the
#: initial guessing bias gamma against depth for three activations, three seeds each, every point
#: the igb chapter at its smoke profile.
BOOK_SWEEP = {
    "chapter_id": "igb",
    "profile": "smoke",
    "grid": ["depth=1,2,4", "activation=relu,tanh,linear"],
    "seeds": "0-2",
}
SWEEP_DIR = BOOK_CHAPTERS / "sweep"
REPORT_TABLE = BOOK_CHAPTERS / "claims.md"
EXERCISE_TABLE = BOOK_CHAPTERS / "exercises.md"
EXERCISE_PROMPT = re.compile(r"\*\*Exercise (\d+) \(([^)]+?), (\d+(?:\.\d+)?) points?\)\.\*\*")
BOOK_SOURCE = ROOT / "book"
#: Scripts copied into the book at build time (``vendor_scripts``), served from its ``_static``.
VENDOR = "_vendor"


def _input_files(chapter: Chapter) -> list[Path]:
    return [chapter.notebook, chapter.profiles_path, *sorted((ROOT / "src" / "earlybias").rglob("*.py"))]


def inputs_hash(chapter: Chapter) -> str:
    """Hash of everything a chapter's executed notebook depends on."""
    h = hashlib.sha256()
    for path in _input_files(chapter):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    # The environment's own packages, not whatever sys.path holds now: importing nbgrader puts
    # setuptools' vendored packages on sys.path, which would change the hash within one process.
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    versions = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions(path=sorted(installed))
    )
    h.update(sys.version.encode())
    h.update("\n".join(versions).encode())
    return h.hexdigest()


def _sweep_hash(chapter: Chapter) -> str:
    """The book sweep's inputs: its chapter's, and what the sweep asks for."""
    return hashlib.sha256((inputs_hash(chapter) + repr(sorted(BOOK_SWEEP.items()))).encode()).hexdigest()


def is_current(chapter: Chapter, out: Path | None = None, marker: str = RESULTS, digest=inputs_hash) -> bool:
    """Whether the book's run of ``chapter`` in ``out`` (default ``book/chapters/<id>``) is
    complete (it holds the file ``marker``) and no input changed since (``digest`` of the chapter).

    Like make, an input newer than the run counts as changed (``touch`` re-executes); unlike
    make, so does any change of content or of installed versions, whatever the timestamps say.
    """
    out = BOOK_CHAPTERS / chapter.id if out is None else out
    stamp = out / STAMP
    if not (out / marker).exists() or not stamp.exists():
        return False
    newest = max(p.stat().st_mtime for p in _input_files(chapter))
    return newest <= stamp.stat().st_mtime and stamp.read_text().strip() == digest(chapter)


def execute_chapters(progress: bool = True) -> list[str]:
    """Execute every chapter whose inputs changed; return the ids that were executed."""
    executed = []
    for chapter in CHAPTERS.values():
        if is_current(chapter):
            print(f"{chapter.id}: inputs unchanged, not executed")
            continue
        print(f"{chapter.id}: executing at the default profile")
        digest = inputs_hash(chapter)  # before the run: an edit during it re-executes next time
        out = BOOK_CHAPTERS / chapter.id
        record = execute(plan_run(chapter.id, "default", out=out, for_book=True), progress=progress)
        atomic_write(out / STAMP, digest + "\n")
        print(claims_summary(record))
        executed.append(chapter.id)
    if execute_sweep(progress):
        executed.append("sweep")
    for chapter in CHAPTERS.values():
        if (BOOK_CHAPTERS / chapter.id / "executed.ipynb").exists():
            publish_chapter(chapter)
    write_report_table()
    write_exercise_table()
    return executed


def execute_sweep(progress: bool = True) -> bool:
    """Run :data:`BOOK_SWEEP` on a local cluster of every core, unless its inputs are unchanged,
    and move the finished sweep to ``book/chapters/sweep/``; return whether it ran. A sweep
    writes outside the book like any run (``runs/book-sweep/``), started afresh, so the book never
    shows a point computed by older code nor half a sweep."""
    from earlybias.sweep.cluster import connect, failed_points, local_threads, local_workers, run_sweep
    from earlybias.sweep.grid import plan_sweep
    from earlybias.sweep.table import SUMMARY, write_outputs

    chapter = CHAPTERS[BOOK_SWEEP["chapter_id"]]
    if is_current(chapter, SWEEP_DIR, SUMMARY, _sweep_hash):
        print("sweep: inputs unchanged, not executed")
        return False
    digest = _sweep_hash(chapter)
    work = ROOT / "runs" / "book-sweep"
    shutil.rmtree(work, ignore_errors=True)
    plan = plan_sweep(**BOOK_SWEEP, out=work)
    print(f"sweep: {len(plan.points)} points of chapter {chapter.id}")
    workers = local_workers(len(plan.points))
    with connect(None, workers) as client:
        outcome = run_sweep(plan, client, local_threads(workers), progress=progress)
    failed = failed_points(outcome)
    if failed:
        raise ExecutionFailed(
            f"the book's sweep: {len(failed)} points failed, such as {next(iter(failed.items()))}"
        )
    write_outputs(work)
    atomic_write(work / STAMP, digest + "\n")
    shutil.rmtree(SWEEP_DIR, ignore_errors=True)
    work.rename(SWEEP_DIR)
    return True


def publish_chapter(chapter: Chapter) -> Path:
    """Write the book's page of ``chapter``, ``book/chapters/<id>.ipynb`` (``chapters/<id>.html``),
    from its executed notebook.

    The page is the executed notebook less what a book page cannot or must not show: ipywidgets
    (progress bars, live explorers: they need a kernel, and their state would make the page load
    a widget manager from a CDN; the in-page explorer replaces the live one), the parameters
    cell's defaults (the injected parameters follow them), nbgrader's solution markers and its
    hidden tests (graded exercises are for students too: the solution stays, folded, the hidden
    checks do not).
    """
    nb = json.loads((BOOK_CHAPTERS / chapter.id / "executed.ipynb").read_text())
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "parameters" in cell["metadata"].get("tags", []):
            # The defaults: papermill's injected cell below them shows what the run used.
            cell["metadata"]["tags"] = [*cell["metadata"]["tags"], "remove-cell"]
        cell["outputs"] = [o for o in cell["outputs"] if WIDGET_VIEW not in o.get("data", {})]
        grader = cell["metadata"].get("nbgrader")
        if grader:
            cell["source"] = _without_markers(cell)
            folded = "Show the reference solution" if grader.get("solution") else "Show the check"
            cell["metadata"].setdefault("mystnb", {})["code_prompt_show"] = folded
    page = BOOK_CHAPTERS / f"{chapter.id}.ipynb"
    atomic_write(page, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return page


def _without_markers(cell: dict) -> str:
    """A cell's source without its hidden tests (as students see it) and without nbgrader's
    solution marker lines."""
    import nbformat

    from earlybias.grading import shown_source

    source = shown_source(nbformat.from_dict({**cell, "source": "".join(cell["source"])}))
    kept = [line for line in source.splitlines() if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)]
    return "\n".join(kept).strip("\n")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _result(claim: Claim) -> str:
    """The report's result cell: passed, **FAILED**, or *not reproduced* with its reason."""
    if claim.status == "not reproduced":
        return f"*not reproduced*: {_cell(claim.not_reproduced)}"
    return claim.status if claim.passed and not claim.not_reproduced else f"**{claim.status}**"


def exercise_kinds(nb: dict, chapter_id: str) -> dict[str, tuple[str, float]]:
    """Each exercise's kind and points as its prompt states them, ``<chapter>-ex<k>`` ->
    (kind, points), from prompts "**Exercise k (kind, N points).**" (a test keeps the stated
    points equal to nbgrader's)."""
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return {f"{chapter_id}-ex{k}": (kind, float(p)) for k, kind, p in EXERCISE_PROMPT.findall(text)}


def write_exercise_table() -> None:
    """The "For teachers" page's table, ``book/chapters/exercises.md``: every chapter's graded
    exercises with their kind, points, and the seconds their solution and checks took in the
    book's run (papermill's cell durations)."""
    import nbformat

    from earlybias.grading import GRADE_ID, exercises

    rows = ["| chapter | exercise | kind | points | computer time (s) |", "|---|---|---|---|---|"]
    for chapter in CHAPTERS.values():
        source = nbformat.read(chapter.notebook, as_version=4)
        kinds = exercise_kinds(source, chapter.id)
        executed = BOOK_CHAPTERS / chapter.id / "executed.ipynb"
        seconds: dict[str, float] = {}
        for cell in nbformat.read(executed, as_version=4).cells if executed.exists() else []:
            m = GRADE_ID.match(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
            if m:
                name = f"{m['chapter']}-ex{m['k']}"
                seconds[name] = seconds.get(name, 0.0) + cell.metadata.get("papermill", {}).get(
                    "duration", 0.0
                )
        for name, points in exercises(source).items():
            time = f"{seconds[name]:.1f}" if name in seconds else "not executed"
            rows.append(
                f"| {{doc}}`{chapter.id} <chapters/{chapter.id}>` | {{ref}}`{name[len(chapter.id) + 1 :]} "
                f"<{chapter.id}-exercises>` | {kinds[name][0]} | {points:g} | {time} |"
            )
    atomic_write(EXERCISE_TABLE, "\n".join(rows) + "\n")


def write_report_table() -> None:
    """Gather every chapter's runs and claims into ``book/chapters/claims.md`` (the report page)."""
    runs = [
        "| chapter | claims passed | run time (s) | commit | python | torch | numpy | threads "
        "| started (UTC) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    sections = []
    for chapter in CHAPTERS.values():
        path = BOOK_CHAPTERS / chapter.id / RESULTS
        link = f"[{chapter.id}](chapters/{chapter.id}.ipynb)"
        if not path.exists():
            runs.append(f"| {chapter.id} | not executed | | | | | | | |")
            continue
        record = load_results(path)
        claims = [Claim.from_dict(c) for c in record["claims"]]
        p = record["provenance"]
        listed = sum(bool(c.not_reproduced) for c in claims)
        runs.append(
            f"| {link} | {sum(c.passed for c in claims)} / {len(claims)}"
            f"{f' ({listed} listed as not reproduced)' if listed else ''} "
            f"| {record['runtime_s']:.1f} | `{p['git_commit'][:12]}` | {p['python']} "
            f"| {p['torch']} | {p['numpy']} | {p['threads']} | {p['started_at']} |"
        )
        papers = sorted({c.paper for c in claims})
        rows = [
            f"### {chapter.title}",
            "",
            f"Chapter {link}, reproducing {{cite:t}}`{','.join(papers)}`.",
            "",
            "| claim | statement | measured | expected | result |",
            "|---|---|---|---|---|",
        ]
        rows += [
            f'| <a href="chapters/{chapter.id}.html#{anchor(c.id)}">{c.id}</a> | {_cell(c.statement)} '
            f"| {c.measured:.4g} | {_cell(c.expected)} | {_result(c)} |"
            for c in claims
        ]
        sections.append("\n".join(rows))
    text = "## Runs\n\n" + "\n".join(runs) + "\n\n## Claims\n\n" + "\n\n".join(sections) + "\n"
    BOOK_CHAPTERS.mkdir(parents=True, exist_ok=True)
    atomic_write(REPORT_TABLE, text)


def vendor_scripts(source: Path = BOOK_SOURCE) -> None:
    """Copy the scripts the pages load into ``source/_vendor`` (served as ``_static``): the book
    loads nothing from outside the site. plotly.js comes from the plotly package, which ships it."""
    import plotly

    vendor = source / VENDOR
    vendor.mkdir(exist_ok=True)
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", vendor / "plotly.min.js")


def build_html(source: Path = BOOK_SOURCE, output: Path | None = None) -> Path:
    """Build the HTML book with Jupyter Book 1, warnings and broken references as errors.

    ``-W -n --keep-going``: a failing cell's traceback or a broken cross reference fails the
    build, and every such problem is listed before it does. Returns the path of index.html.
    """
    vendor_scripts(source)
    # The console script beside this interpreter: jupyter_book has no ``python -m`` entry.
    cmd = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(source),
        "-W",
        "-n",
        "--keep-going",
    ]
    if output is not None:
        cmd += ["--path-output", str(output)]
    build = (output or source) / "_build"
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError:
        # Sphinx rebuilds only changed pages and would not repeat this build's warnings: forget
        # its saved state so that the next build reads every page and fails again until fixed.
        shutil.rmtree(build / ".doctrees", ignore_errors=True)
        raise
    return build / "html" / "index.html"
