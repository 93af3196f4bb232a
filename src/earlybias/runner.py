"""``earlybias run``: validate a chapter's parameters, execute its notebook, write a run directory.

A run directory holds ``executed.ipynb``, ``params.yaml``, ``results.json`` and
``figures/*.png``. It is assembled in a sibling staging directory and renamed into place only
after the notebook ran to its end, so a directory with a ``results.json`` is always complete.
Every check of the input happens before a kernel starts. A run stopped by Ctrl-C or SIGTERM
removes its staging directory; one killed outright cannot, so every run first removes the staging
directories of runs whose process is gone (``remove_stale_staging``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from earlybias.budget import LONG_RUN_S, Estimate, check_fits
from earlybias.chapters import Chapter, get_chapter
from earlybias.claims import Claim, mark_not_reproduced
from earlybias.params import PROFILES, ParamError, parse_overrides, resolve
from earlybias.paths import ROOT
from earlybias.results import RESULTS, provenance, write_results
from earlybias.session import (
    BOOK_ENV,
    NOTEBOOK_RESULTS,
    RUN_DIR_ENV,
    THREADS_ENV,
    kernel_environment,
    thread_count,
)

#: Where the book's executed chapters live; only ``earlybias book`` writes there.
BOOK_CHAPTERS = ROOT / "book" / "chapters"

#: The hidden directories a run works in beside its run directory: ``.NAME.partial-PID@HOST``
#: while the notebook runs, ``.NAME.old-PID@HOST`` while a finished run replaces an older one. The
#: host tells runs on other machines of a shared file system (a sweep's cluster) apart: their
#: processes cannot be seen from here, so their directories are never taken for stale ones
#: (earlier versions wrote no host: theirs count as this machine's).
STAGING = re.compile(r"^\.(?P<name>.+)\.(?:partial|old)-(?P<pid>\d+)(?:@(?P<host>[^/@]+))?$")


class ExecutionFailed(RuntimeError):
    """The notebook raised; the message names the notebook and the failing cell."""


@dataclass(frozen=True)
class RunPlan:
    """A validated request: everything needed to execute, decided before any kernel starts."""

    chapter: Chapter
    profile: str
    params: dict[str, Any]
    out: Path
    estimate: Estimate
    #: Executed for the book (``earlybias book``): the notebook also computes what only the book
    #: shows, its in-page explorer (``session.for_book``).
    for_book: bool = False

    def long_run_notice(self) -> str | None:
        """A line to print before a run estimated to take more than ``LONG_RUN_S``."""
        if self.estimate.seconds <= LONG_RUN_S:
            return None
        return f"{self.chapter.id}: this run needs {self.estimate.describe()} (estimated)"


def params_hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def plan_run(
    chapter_id: str,
    profile: str = "default",
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    *,
    for_book: bool = False,
) -> RunPlan:
    """Validate everything about a run; raise :class:`ParamError` (exit 2) on bad input."""
    chapter = get_chapter(chapter_id)
    if profile not in PROFILES:
        raise ParamError(f"unknown profile '{profile}': allowed: {', '.join(PROFILES)}")
    values = parse_overrides(chapter.params, overrides or [])
    params = resolve(chapter.params, chapter.profiles()[profile], values)
    chapter.check(params)
    estimate = chapter.estimate(params)
    check_fits(chapter.id, params, estimate)
    if out is None:
        out_dir = ROOT / "runs" / chapter.id / f"{profile}-{params_hash(params)}"
    else:
        out_dir = Path(out).expanduser().resolve()
        if not for_book and _inside(out_dir, BOOK_CHAPTERS.resolve()):
            raise ParamError(
                f"--out {out}: the book's chapters are written by `earlybias book` "
                "alone; choose a directory outside book/chapters"
            )
        if out_dir.exists() and not out_dir.is_dir():
            raise ParamError(f"--out {out}: exists and is not a directory; choose a new directory")
        if not for_book and out_dir.exists() and any(out_dir.iterdir()):
            raise ParamError(
                f"--out {out}: directory exists and is not empty; choose a new directory or remove it"
            )
    return RunPlan(chapter, profile, params, out_dir, estimate, for_book)


def _failure(exc: Exception, chapter_id: str, notebook: Path) -> str:
    cell = getattr(exc, "cell_index", None)
    count = getattr(exc, "exec_count", None)
    where = f"cell {cell}" if cell is not None else "a cell"
    if count is not None:
        where += f" (execution count {count})"
    what = f"{getattr(exc, 'ename', type(exc).__name__)}: {getattr(exc, 'evalue', exc)}"
    shown = notebook.relative_to(ROOT) if _inside(notebook, ROOT) else notebook
    return f"chapter '{chapter_id}' ({shown}): {where} raised {what}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _work_dir(out: Path, kind: str) -> Path:
    """This process's ``kind`` (``partial`` or ``old``) directory beside ``out`` (``STAGING``)."""
    return out.with_name(f".{out.name}.{kind}-{os.getpid()}@{socket.gethostname()}")


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging directories (``STAGING``) in ``folder`` of runs on this machine whose
    process is no longer alive: what a run killed outright (SIGKILL) left behind. Returns them."""
    stale = []
    if folder.is_dir():
        for path in folder.iterdir():
            m = STAGING.match(path.name)
            if (
                m
                and path.is_dir()
                and m["host"] in (None, socket.gethostname())
                and int(m["pid"]) != os.getpid()
                and not _alive(int(m["pid"]))
            ):
                shutil.rmtree(path, ignore_errors=True)
                stale.append(path)
    return stale


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block SIGTERM raises KeyboardInterrupt, as Ctrl-C does, so that a stopped run
    cleans up the same way (signal handlers can only be set from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute(plan: RunPlan, *, progress: bool = True, threads: int | None = None) -> dict:
    """Execute a planned run with papermill and return its results record.

    On failure the partial directory is kept as ``<out>.failed`` (it has no results.json, so it
    cannot pass for a complete run) and :class:`ExecutionFailed` names the failing cell. Stopped
    (Ctrl-C, SIGTERM), the run removes its staging directory and raises KeyboardInterrupt.
    """
    out = plan.out
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out.parent)
    staging = _work_dir(out, "partial")
    with sigterm_interrupts():
        try:
            return _execute(plan, staging, progress, threads)
        except KeyboardInterrupt:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def _execute(plan: RunPlan, staging: Path, progress: bool, threads: int | None) -> dict:
    """``execute``'s work: the notebook run in ``staging``, then swapped into ``plan.out``."""
    import papermill

    out = plan.out
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / "params.yaml").write_text(
        yaml.safe_dump(
            {"chapter": plan.chapter.id, "profile": plan.profile, "params": plan.params}, sort_keys=False
        )
    )

    threads = threads or thread_count()
    env = {RUN_DIR_ENV: str(staging), THREADS_ENV: str(threads), BOOK_ENV: "1" if plan.for_book else None}
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        with kernel_environment(env):
            papermill.execute_notebook(
                str(plan.chapter.notebook),
                str(staging / "executed.ipynb"),
                parameters=plan.params,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(staging),
            )
    except Exception as exc:  # papermill raises PapermillExecutionError for a failing cell
        failed = out.with_name(out.name + ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        raise ExecutionFailed(
            _failure(exc, plan.chapter.id, plan.chapter.notebook) + f"; the executed notebook is in {failed}"
        ) from exc
    runtime = time.perf_counter() - t0

    partial = staging / NOTEBOOK_RESULTS
    if not partial.exists():
        raise ExecutionFailed(
            f"chapter '{plan.chapter.id}': the notebook ran but never called "
            "earlybias.session.record(), so it produced no results"
        )
    handed = json.loads(partial.read_text())
    partial.unlink()
    claims = mark_not_reproduced([Claim.from_dict(c) for c in handed["claims"]], plan.chapter.not_reproduced)
    record = write_results(
        staging / RESULTS,
        chapter=plan.chapter.id,
        profile=plan.profile,
        params=plan.params,
        metrics=handed["metrics"],
        claims=[c.to_dict() for c in claims],
        runtime_s=runtime,
        provenance=provenance(ROOT, handed["threads"], started_at),
    )

    # Swap the finished directory into place; an older run with the same name goes only now.
    if out.exists():
        old = _work_dir(out, "old")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)
    shutil.rmtree(out.with_name(out.name + ".failed"), ignore_errors=True)
    return record


def claims_summary(record: dict) -> str:
    """A few lines for the terminal: how many claims passed, failed or are listed as not
    reproduced, and every one that did not pass with its numbers."""
    claims = [Claim.from_dict(c) for c in record["claims"]]
    count = {s: sum(c.status == s for c in claims) for s in ("passed", "FAILED", "not reproduced")}
    lines = [
        f"claims: {count['passed']} passed, {count['FAILED']} failed, "
        f"{count['not reproduced']} not reproduced (runtime {record['runtime_s']:.1f} s)"
    ]
    for c in claims:
        if c.status != "passed":
            why = f" ({c.not_reproduced})" if c.not_reproduced else ""
            lines.append(
                f"  {c.status} {c.id}: measured {c.measured:.4g}, expected {c.expected} -- {c.statement}{why}"
            )
    return "\n".join(lines)
