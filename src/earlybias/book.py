"""``earlybias book``: execute the chapters whose inputs changed, then write the report table.

The book is built with execution off (DESIGN.md): each chapter is executed here at its
``default`` profile into ``book/chapters/<id>/``. A chapter's inputs are its notebook, its
profiles, every file of ``src/earlybias`` and the installed package versions; their hash is
stored beside the run, and a chapter whose hash is unchanged is not executed again.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from earlybias.chapters import CHAPTERS, ROOT, Chapter
from earlybias.results import RESULTS, atomic_write, load_results
from earlybias.runner import BOOK_CHAPTERS, claims_summary, execute, plan_run

STAMP = "inputs.sha256"
REPORT_TABLE = BOOK_CHAPTERS / "claims.md"
BOOK_SOURCE = ROOT / "book"


def inputs_hash(chapter: Chapter) -> str:
    """Hash of everything a chapter's executed notebook depends on."""
    h = hashlib.sha256()
    files = [chapter.notebook, chapter.profiles_path,
             *sorted((ROOT / "src" / "earlybias").rglob("*.py"))]
    for path in files:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    h.update(sys.version.encode())
    h.update("\n".join(versions).encode())
    return h.hexdigest()


def execute_chapters(progress: bool = True) -> list[str]:
    """Execute every chapter whose inputs changed; return the ids that were executed."""
    executed = []
    for chapter in CHAPTERS.values():
        out = BOOK_CHAPTERS / chapter.id
        digest = inputs_hash(chapter)
        stamp = out / STAMP
        if (out / RESULTS).exists() and stamp.exists() and stamp.read_text().strip() == digest:
            print(f"{chapter.id}: inputs unchanged, not executed")
            continue
        print(f"{chapter.id}: executing at the default profile")
        record = execute(plan_run(chapter.id, "default", out=out, for_book=True), progress=progress)
        atomic_write(stamp, digest + "\n")
        print(claims_summary(record))
        executed.append(chapter.id)
    write_report_table()
    return executed


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report_table() -> None:
    """Gather every chapter's claims into ``book/chapters/claims.md`` for the report page."""
    claim_rows = ["| chapter | claim | paper | measured | expected | result |",
                  "|---|---|---|---|---|---|"]
    run_rows = ["| chapter | claims passed | run time (s) | commit | python | torch | numpy | threads | started |",
                "|---|---|---|---|---|---|---|---|---|"]
    for chapter in CHAPTERS.values():
        path = BOOK_CHAPTERS / chapter.id / RESULTS
        if not path.exists():
            run_rows.append(f"| {chapter.id} | not executed | | | | | | | |")
            continue
        record = load_results(path)
        for c in record["claims"]:
            result = "passed" if c["passed"] else "**FAILED**"
            claim_rows.append(
                f"| [{chapter.id}](chapters/{chapter.id}/executed.ipynb) | {c['id']}: {_cell(c['statement'])} "
                f"| {{cite:p}}`{c['paper']}` | {c['measured']:.4g} | {_cell(c['expected'])} | {result} |")
        p = record["provenance"]
        passed = sum(c["passed"] for c in record["claims"])
        run_rows.append(
            f"| {chapter.id} | {passed} / {len(record['claims'])} | {record['runtime_s']:.1f} "
            f"| `{p['git_commit'][:12]}` | {p['python']} | {p['torch']} | {p['numpy']} "
            f"| {p['threads']} | {p['started_at']} |")
    text = ("### Claims\n\n" + "\n".join(claim_rows) + "\n\n### Runs\n\n" + "\n".join(run_rows) + "\n")
    BOOK_CHAPTERS.mkdir(parents=True, exist_ok=True)
    atomic_write(REPORT_TABLE, text)


def build_html(source: Path = BOOK_SOURCE, output: Path | None = None) -> Path:
    """Build the HTML book with Jupyter Book 1, warnings and broken references as errors.

    ``-W -n --keep-going``: a failing cell's traceback or a broken cross reference fails the
    build, and every such problem is listed before it does. Returns the path of index.html.
    """
    # The console script beside this interpreter: jupyter_book has no ``python -m`` entry.
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source),
           "-W", "-n", "--keep-going"]
    if output is not None:
        cmd += ["--path-output", str(output)]
    subprocess.run(cmd, check=True)
    return (output or source) / "_build" / "html" / "index.html"
