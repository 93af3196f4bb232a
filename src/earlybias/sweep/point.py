"""The process of one sweep point: ``earlybias run``, bound to the Dask worker that started it.

``python -m earlybias.sweep.point PARENT_PID run CHAPTER ...`` runs the ``earlybias`` command
line after asking Linux to send this process SIGTERM when its parent dies. A worker killed in
the middle of a point thus stops the point's run too, and the run removes its staging directory
as a stopped ``earlybias run`` does, instead of finishing unseen beside the task's retry.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from earlybias.cli import main as cli_main

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Receive SIGTERM when ``parent`` dies; exit at once if it already has (the race between
    its death and the ``prctl`` call). Elsewhere than Linux the point outlives its worker."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(130)


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[0]))
    return cli_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
