"""``results.json``: the record of one chapter run (DESIGN.md, "Contracts").

``{"chapter", "profile", "params", "metrics", "claims", "runtime_s", "provenance"}``; the file
is written atomically so that a reader never sees half of it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = "results.json"
KEYS = ("chapter", "profile", "params", "metrics", "claims", "runtime_s", "provenance")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git_commit(root: Path) -> str:
    """The checkout's commit, with ``-dirty`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"


def provenance(root: Path, threads: int, started_at: datetime) -> dict[str, Any]:
    return {
        "git_commit": git_commit(root),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "numpy": metadata.version("numpy"),
        "threads": threads,
        "started_at": started_at.astimezone(UTC).isoformat(timespec="seconds"),
    }


def write_results(
    path: Path,
    *,
    chapter: str,
    profile: str,
    params: dict,
    metrics: dict,
    claims: list[dict],
    runtime_s: float,
    provenance: dict,
) -> dict:
    record = {
        "chapter": chapter,
        "profile": profile,
        "params": params,
        # A metric that is undefined in a run (NaN: say a bias of an attribute no model predicts)
        # is written as null: JSON has no NaN, and other readers' parsers refuse it.
        "metrics": {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()},
        # A claim measured as infinite (a change over a zero spread) is written as "inf" / "-inf":
        # JSON has no infinity, and Claim.from_dict reads the string back with float().
        "claims": [
            {**c, "measured": c["measured"] if math.isfinite(c["measured"]) else str(float(c["measured"]))}
            for c in claims
        ],
        "runtime_s": round(runtime_s, 2),
        "provenance": provenance,
    }
    atomic_write(path, json.dumps(record, indent=2, allow_nan=False) + "\n")
    return record


def load_results(path: Path) -> dict:
    """Read a ``results.json`` and check it has every key of the contract."""
    record = json.loads(Path(path).read_text())
    missing = [k for k in KEYS if k not in record]
    if missing:
        raise ValueError(f"{path}: results.json lacks {missing}")
    return record
