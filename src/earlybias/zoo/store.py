"""A trained zoo, its cache and its resumable training.

A zoo is cached under ``<cache>/zoo-<family>-<task>-<key>/`` where ``key`` hashes its
``ZooSpec``. Training runs in chunks of whole blocks; each finished chunk is written at once, so
an interrupted run keeps its chunks and the next call trains only the missing ones. Files are
written with ``torch.save`` and read with ``torch.load(weights_only=True)``: plain tensors,
numbers and strings only, never pickled code.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from earlybias.paths import default_cache_dir
from earlybias.zoo.nets import make_module
from earlybias.zoo.spec import FORMAT_VERSION, ZooSpec
from earlybias.zoo.train import BLOCK, train_batched

__all__ = [
    "CHUNK",
    "Zoo",
    "default_cache_dir",
    "zoo_dir",
    "zoo_chunks",
    "missing_chunks",
    "train_chunk",
    "train_zoo",
    "load_zoo",
]

#: Models per chunk file of a zoo's cache, by default.
CHUNK = 4 * BLOCK


@dataclass
class Zoo:
    """Trained networks and what each was trained on: a weight detector's data set.

    ``params``: one tensor per layer parameter with a leading model dimension, named and laid out
    as in the ``torch.nn`` module's ``state_dict`` (e.g. ``fc1.weight`` of shape (M, 32, 192)).
    ``meta``: per-model tensors: ``index``, ``level`` and ``sigma2`` (colour task) or
    ``minority_group`` (group task), and accuracies ``acc_train``, ``acc_biased``,
    ``acc_unbiased`` (and ``acc_group`` (M, 3) on the balanced test set, group task).
    """

    spec: ZooSpec
    params: dict[str, torch.Tensor]
    meta: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return self.spec.n_models

    def module(self, i: int) -> torch.nn.Module:
        """Model ``i`` as an ordinary ``torch.nn`` module."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"i must index one of the {len(self)} models, got {i!r}")
        return make_module(self.spec, {k: v[i] for k, v in self.params.items()})

    def frame(self):
        """One row per model: pool, zoo seed, bias level or minority group, and accuracies."""
        import pandas as pd

        spec, meta = self.spec, self.meta
        df = pd.DataFrame(
            {
                "model": meta["index"].numpy(),
                "family": spec.family,
                "task": spec.task,
                "pool": spec.pool,
                "seed": spec.seed,
            }
        )
        if spec.task == "color":
            df["level"] = [str(spec.bias[j]) for j in meta["level"].tolist()]
            df["sigma2"] = meta["sigma2"].numpy()
        else:
            df["minority_group"] = meta["minority_group"].numpy()
        for name in ("acc_train", "acc_biased", "acc_unbiased"):
            df[name] = meta[name].numpy()
        if "acc_group" in meta:
            for g in range(meta["acc_group"].shape[1]):
                df[f"acc_group_{g}"] = meta["acc_group"][:, g].numpy()
        return df

    def save(self, path: str | Path) -> None:
        """Write the zoo atomically: a reader never sees half a file."""
        _atomic_save(
            {
                "format": FORMAT_VERSION,
                "spec": self.spec.to_dict(),
                "torch": str(torch.__version__),
                "params": self.params,
                "meta": self.meta,
            },
            Path(path),
        )


def _atomic_save(obj: dict, path: Path) -> None:
    # A temporary name of this process and thread: two runs that share the cache (a sweep's
    # points) may write the same file at once, and each rename then puts a whole file in place.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_zoo(path: str | Path) -> Zoo:
    """Read a zoo written by ``Zoo.save`` (``weights_only=True``: tensors and plain values only)."""
    d = torch.load(Path(path), weights_only=True)
    if d.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{path} holds zoo format {d.get('format')!r}; this code reads format "
            f"{FORMAT_VERSION}: delete the file to retrain"
        )
    return Zoo(ZooSpec.from_dict(d["spec"]), d["params"], d["meta"])


def zoo_dir(spec: ZooSpec, cache_dir: str | Path | None = None) -> Path:
    """The cache folder of the zoo ``spec``."""
    root = default_cache_dir() if cache_dir is None else Path(cache_dir)
    return root / f"zoo-{spec.family}-{spec.task}-{spec.key()}"


def _check_chunk_size(chunk_size: int) -> None:
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or chunk_size < BLOCK
        or (chunk_size % BLOCK)
    ):
        raise ValueError(f"chunk_size must be a positive multiple of {BLOCK}, got {chunk_size!r}")


def zoo_chunks(spec: ZooSpec, chunk_size: int = CHUNK) -> list[tuple[int, int]]:
    """The model ranges ``(start, stop)`` that ``spec``'s zoo is trained and cached in."""
    _check_chunk_size(chunk_size)
    return [(a, min(a + chunk_size, spec.n_models)) for a in range(0, spec.n_models, chunk_size)]


def _chunk_file(folder: Path, a: int, b: int) -> Path:
    return folder / f"chunk-{a:06d}-{b:06d}.pt"


def missing_chunks(
    spec: ZooSpec, chunk_size: int = CHUNK, cache_dir: str | Path | None = None
) -> list[tuple[int, int]]:
    """The chunks of ``spec``'s zoo still to train: none once the zoo is cached whole."""
    folder = zoo_dir(spec, cache_dir)
    if (folder / "zoo.pt").is_file():
        return []
    return [(a, b) for a, b in zoo_chunks(spec, chunk_size) if not _chunk_file(folder, a, b).is_file()]


def train_chunk(spec: ZooSpec, start: int, stop: int, cache_dir: str | Path | None = None) -> Path:
    """Train models ``start..stop-1`` of ``spec`` and write them as one chunk file of its cache.

    A chunk depends on nothing but ``spec`` and its range, so chunks can be trained anywhere that
    sees the cache (a sweep's Dask workers, :func:`earlybias.sweep.cluster.train_zoos`) and in any
    order; the file appears atomically, whole or not at all.
    """
    folder = zoo_dir(spec, cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    file = _chunk_file(folder, start, stop)
    if not file.is_file():
        params, meta = train_batched(spec, start, stop)
        _atomic_save({"spec": spec.to_dict(), "params": params, "meta": meta}, file)
    return file


def train_zoo(
    spec: ZooSpec, chunk_size: int = CHUNK, cache_dir: str | Path | None = None, progress: bool = True
) -> Zoo:
    """The zoo ``spec``: loaded from the cache, or trained chunk by chunk (resuming) and cached.

    ``chunk_size`` (a multiple of ``BLOCK``) sets how many models are trained between two writes
    to disk; it does not change the result: chunked and unchunked training agree bit for bit.
    A rerun after an interruption reuses the finished chunks of the same ``chunk_size``.
    """
    ranges = zoo_chunks(spec, chunk_size)
    folder = zoo_dir(spec, cache_dir)
    final = folder / "zoo.pt"
    if final.is_file():
        return load_zoo(final)
    with tqdm(
        total=spec.n_models,
        unit="model",
        disable=not progress,
        desc=f"zoo {spec.family}/{spec.task} pool {spec.pool}",
    ) as bar:
        files = []
        for a, b in ranges:
            if final.is_file():  # another run sharing the cache finished this zoo meanwhile
                return load_zoo(final)
            files.append(train_chunk(spec, a, b, cache_dir))
            bar.update(b - a)
    try:
        chunks = [torch.load(f, weights_only=True) for f in files]
    except FileNotFoundError:
        if final.is_file():  # it did so, and removed its chunks, while we were reading them
            return load_zoo(final)
        raise
    for f, c in zip(files, chunks):
        if c["spec"] != spec.to_dict():
            raise ValueError(f"{f} was trained for another spec; delete {folder} to retrain")
    zoo = Zoo(
        spec,
        *(
            {k: torch.cat([c[part][k] for c in chunks]) for k in chunks[0][part]}
            for part in ("params", "meta")
        ),
    )
    zoo.save(final)
    for f in folder.glob("chunk-*.pt"):
        f.unlink(missing_ok=True)  # another run joining the same zoo may have removed it first
    return zoo
