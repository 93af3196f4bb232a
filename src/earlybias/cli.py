"""The ``earlybias`` command: ``list``, ``run`` and ``book``.

Exit codes: 0 it ran; 1 execution failed (the message names the failing cell); 2 bad input.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="earlybias", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print each chapter and its parameters").set_defaults(func=_list)
    run = sub.add_parser("run", help="execute a chapter into a run directory")
    run.add_argument("chapter", help="chapter id (see `earlybias list`)")
    run.add_argument(
        "--profile", default="default", help=f"named parameter set: {', '.join(PROFILES)} (default: default)"
    )
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one parameter; repeatable",
    )
    run.add_argument("--out", help="run directory (default: runs/<chapter>/<profile>-<hash>/)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    book = sub.add_parser("book", help="execute the chapters whose inputs changed, build the HTML book")
    book.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    book.add_argument("--no-build", action="store_true", help="execute only; do not build the HTML")
    book.set_defaults(func=_book)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
