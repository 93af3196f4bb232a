"""The ``earlybias`` command: ``list``, ``run``, ``sweep``, ``book``, ``student`` and ``grade``.

Exit codes: 0 it ran; 1 execution failed (the message names the failing cell, or a sweep's
failed points); 2 bad input; 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from earlybias.params import PROFILES, ParamError


def _list(_args) -> int:
    from earlybias.chapters import CHAPTERS

    for chapter in CHAPTERS.values():
        print(f"{chapter.id}: {chapter.title}")
        width = max(len(p.name) for p in chapter.params)
        for p in chapter.params:
            default = ",".join(f"{v:g}" for v in p.default) if p.type == "floats" else p.default
            print(f"  {p.name:<{width}}  {p.type:<6} default {default!s:<10} allowed: {p.allowed()}")
            print(f"  {'':<{width}}  {p.help}")
        print()
    return 0


def _run(args) -> int:
    from earlybias.runner import ExecutionFailed, claims_summary, execute, plan_run

    try:
        plan = plan_run(args.chapter, args.profile, args.param, args.out)
    except ParamError as exc:
        print(f"earlybias run: {exc}", file=sys.stderr)
        return 2
    print(f"running {plan.chapter.id} ({plan.profile}) into {plan.out}")
    if plan.long_run_notice():
        print(plan.long_run_notice())
    try:
        record = execute(plan, progress=not args.quiet)
    except ExecutionFailed as exc:
        print(f"earlybias run: execution failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("earlybias run: stopped; nothing was written", file=sys.stderr)
        return 130
    print(claims_summary(record))
    print(plan.out)
    return 0


def _sweep(args) -> int:
    from earlybias.results import RESULTS
    from earlybias.runner import ExecutionFailed, sigterm_interrupts
    from earlybias.sweep.cluster import (
        connect,
        cores,
        failed_points,
        local_threads,
        local_workers,
        run_sweep,
    )
    from earlybias.sweep.grid import SWEEP_FILE, plan_sweep
    from earlybias.sweep.table import SUMMARY, write_outputs

    try:
        if args.collect:
            write_outputs(args.collect)
            print(f"{args.collect}/{SUMMARY}")
            return 0
        if args.chapter is None:
            raise ParamError("a chapter id is needed (or --collect DIR)")
        plan = plan_sweep(args.chapter, args.profile, args.grid, args.param, args.seeds, args.out)
        if args.workers is not None and not 1 <= args.workers <= cores():
            raise ParamError(f"--workers {args.workers}: allowed: 1 to {cores()} (the cores of this machine)")
    except ParamError as exc:
        print(f"earlybias sweep: {exc}", file=sys.stderr)
        return 2
    todo = sum(not (plan.point_dir(p) / RESULTS).is_file() for p in plan.points)
    workers = args.workers or local_workers(todo)
    where = args.scheduler or f"a local cluster of {workers} worker(s)"
    print(f"sweep {plan.chapter.id} ({plan.profile}): {len(plan.points)} points, {todo} to run, on {where}")
    print(f"into {plan.out}")
    try:
        with sigterm_interrupts(), connect(args.scheduler, workers) as client:
            threads = None if args.scheduler else local_threads(workers)
            outcome = run_sweep(plan, client, threads, progress=not args.quiet)
    except ParamError as exc:
        print(f"earlybias sweep: {exc}", file=sys.stderr)
        return 2
    except ExecutionFailed as exc:
        print(f"earlybias sweep: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if (plan.out / SWEEP_FILE).is_file():
            write_outputs(plan.out)  # the table and summary of what finished, not of a former run
        print(
            "earlybias sweep: stopped; finished points are kept, and the same command runs the rest",
            file=sys.stderr,
        )
        return 130
    write_outputs(plan.out)
    failed = failed_points(outcome)
    ran = sum(r["ran"] for r in outcome.values() if r["status"] == "done")
    print(
        f"points: {len(outcome) - len(failed)} done ({ran} run now), {len(failed)} failed; "
        f"table, figures and summary in {plan.out}"
    )
    for name, error in failed.items():
        print(f"  failed {name}: {error}", file=sys.stderr)
    return 1 if failed else 0


def _book(args) -> int:
    import subprocess

    from earlybias.book import build_html, execute_chapters
    from earlybias.runner import ExecutionFailed

    try:
        execute_chapters(progress=not args.quiet)
    except ExecutionFailed as exc:
        print(f"earlybias book: execution failed: {exc}", file=sys.stderr)
        return 1
    if args.no_build:
        return 0
    try:
        index = build_html()
    except subprocess.CalledProcessError:
        print("earlybias book: the HTML build failed (warnings are errors)", file=sys.stderr)
        return 1
    print(f"the book: {index}")
    return 0


def _student(args) -> int:
    from earlybias.grading import STUDENT_DIR, AssignmentError, write_student_versions

    try:
        written = write_student_versions(args.out or STUDENT_DIR)
    except AssignmentError as exc:
        print(f"earlybias student: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _grade(args) -> int:
    from earlybias.grading import GradingFailed, grade

    try:
        grades = grade(args.notebook, args.profile, args.param, out=args.out, progress=not args.quiet)
    except ParamError as exc:
        print(f"earlybias grade: {exc}", file=sys.stderr)
        return 2
    except GradingFailed as exc:
        print(f"earlybias grade: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("earlybias grade: stopped; nothing was written", file=sys.stderr)
        return 130
    print(f"{args.notebook}: chapter {grades.chapter} ({grades.profile})")
    if grades.restored:
        print(f"put back test cells the submission had changed or deleted: {', '.join(grades.restored)}")
    print(grades.table())
    if args.out:
        print(args.out)
    return 0


def _chapter_arguments(parser, param_help: str, out_help: str) -> None:
    """What ``run`` and ``sweep`` share: the profile, ``-p NAME=VALUE``, ``--out`` and ``-q``."""
    parser.add_argument(
        "--profile", default="default", help=f"named parameter set: {', '.join(PROFILES)} (default: default)"
    )
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help=f"{param_help}; repeatable"
    )
    parser.add_argument("--out", help=out_help)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="earlybias", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print each chapter and its parameters").set_defaults(func=_list)
    run = sub.add_parser("run", help="execute a chapter into a run directory")
    run.add_argument("chapter", help="chapter id (see `earlybias list`)")
    _chapter_arguments(
        run, "override one parameter", "run directory (default: runs/<chapter>/<profile>-<hash>/)"
    )
    run.set_defaults(func=_run)
    sweep = sub.add_parser(
        "sweep",
        help="run a chapter over a grid of parameters and seeds, as Dask tasks",
        description="Every point of the grid is one `earlybias run` into DIR/points/<point>/; a point "
        "that already has results is not run again, so an interrupted sweep resumes.",
    )
    sweep.add_argument("chapter", nargs="?", help="chapter id (see `earlybias list`)")
    _chapter_arguments(
        sweep,
        "fix one parameter for every point",
        "sweep directory (default: runs/sweeps/<chapter>/<profile>-<hash>/)",
    )
    sweep.add_argument(
        "-g",
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="vary one parameter over these values; repeatable (the grid is the product)",
    )
    sweep.add_argument("--seeds", help="seeds of every grid point: 0-4 or 0,3,7")
    cluster = sweep.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers",
        type=int,
        help="worker processes of the local cluster (default: one per core, at most one per point)",
    )
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster of this scheduler")
    sweep.add_argument(
        "--collect", metavar="DIR", help="only rebuild the table, figures and summary of the sweep in DIR"
    )
    sweep.set_defaults(func=_sweep)
    book = sub.add_parser("book", help="execute the chapters whose inputs changed, build the HTML book")
    book.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    book.add_argument("--no-build", action="store_true", help="execute only; do not build the HTML")
    book.set_defaults(func=_book)
    student = sub.add_parser(
        "student", help="write every chapter's student version (solutions and hidden tests removed)"
    )
    student.add_argument("--out", help="folder to write <chapter>.ipynb into (default: dist/student/)")
    student.set_defaults(func=_student)
    grade = sub.add_parser(
        "grade",
        help="score a submitted chapter notebook, points per exercise",
        description="The chapter is read from the notebook's exercise cells; its test cells are put "
        "back from the chapter's source notebook, and it runs with the profile's parameters. Exit 0 "
        "when it was graded, whatever the score.",
    )
    grade.add_argument("notebook", help="the submitted notebook (a student version of a chapter)")
    _chapter_arguments(
        grade, "override one parameter of the profile", "write the graded notebook to this file"
    )
    grade.set_defaults(func=_grade)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
