import os
import subprocess
import sys
from pathlib import Path

import pytest

from earlybias.paths import ROOT

EARLYBIAS = [sys.executable, "-m", "earlybias.cli"]

# Same thread count as `make`: the claims are checked on the numbers the book shows.
os.environ.setdefault("EARLYBIAS_THREADS", "2")


def earlybias(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the ``earlybias`` command as a user would, capturing its output."""
    return subprocess.run([*EARLYBIAS, *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="session")
def book_runs():
    """Execute the book's chapters at the default profile (only those whose inputs changed)."""
    from earlybias.book import execute_chapters

    execute_chapters(progress=False)
    return ROOT / "book" / "chapters"
