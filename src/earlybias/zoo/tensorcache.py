"""A cache of trained tensors on disk: safetensors files under ``default_cache_dir()``.

A cached result is named by what produced it: ``<cache>/<kind>-<key>.safetensors`` where ``key``
hashes the configuration (every parameter that changes the tensors) together with
``FORMAT_VERSION`` and the producer's own ``version``, so a change of code never reuses a stale
file. Writes are atomic (a temporary file in the same folder, then a rename): a reader never
sees half a file, and an interrupted run leaves nothing behind but a stray temporary.
safetensors holds plain tensors only, never pickled code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from earlybias.paths import default_cache_dir

__all__ = ["FORMAT_VERSION", "cache_key", "cache_path", "save_tensors", "load_tensors", "cached"]

#: Bumped when the layout of cached files changes.
FORMAT_VERSION = 1


def cache_key(config: dict, version: int = 0) -> str:
    """16 hex digits hashing ``config`` (JSON-serialisable), ``version`` and ``FORMAT_VERSION``."""
    text = json.dumps({"config": config, "version": version, "format": FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(kind: str, config: dict, version: int = 0, cache_dir: str | Path | None = None) -> Path:
    """Where the tensors of ``kind`` produced from ``config`` are cached."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"{kind}-{cache_key(config, version)}.safetensors"


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Write ``tensors`` atomically as a safetensors file (``metadata``: JSON, kept in its header)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(
            {k: v.detach().contiguous() for k, v in tensors.items()},
            tmp,
            metadata={"json": json.dumps(metadata or {})},
        )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file."""
    return load_file(str(path))


def load_metadata(path: str | Path) -> dict:
    """The ``metadata`` that ``save_tensors`` kept in a file's header ({} when none)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("json", "{}"))


def cached(
    kind: str,
    config: dict,
    produce: Callable[[], dict[str, torch.Tensor]],
    *,
    version: int = 0,
    cache_dir: str | Path | None = None,
) -> dict[str, torch.Tensor]:
    """The tensors ``produce()`` returns for ``config``, read from the cache when there, else
    produced and written (with ``config`` in the file's header, for a reader's inspection)."""
    path = cache_path(kind, config, version, cache_dir)
    if path.is_file():
        return load_tensors(path)
    tensors = produce()
    save_tensors(path, tensors, {"kind": kind, "config": config, "version": version})
    return tensors
