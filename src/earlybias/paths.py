"""Where the study's files are: the repository root (the package is installed editable from
``src/``) and the cache of trained models under it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "default_cache_dir"]

#: The repository root.
ROOT = Path(__file__).resolve().parents[2]


def default_cache_dir() -> Path:
    """``$EARLYBIAS_CACHE_DIR`` if set, else ``data/cache`` of the repository (git-ignored)."""
    if os.environ.get("EARLYBIAS_CACHE_DIR"):
        return Path(os.environ["EARLYBIAS_CACHE_DIR"])
    if (ROOT / "pyproject.toml").is_file():
        return ROOT / "data" / "cache"
    # An installed (non-editable) package has no repository around it.
    return Path.home() / ".cache" / "earlybias"
