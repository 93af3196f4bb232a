"""Model zoos: many small networks trained at once, the raw material of weight-only bias detection.

IFBiD (Serna et al. 2021) trains tens of thousands of CNNs on Colored MNIST at four bias levels
(its DigitWdb database: 40,000 training and 8,000 test models, README of BiDAlab/IFBiD) and asks
whether a detector that sees only their weights can tell the levels apart. This package trains
such zoos on the coloured 8x8 digits of ``earlybias.data.colored``:

- ``spec``: ``ZooSpec``, every parameter of a zoo, and the random draws of each model, which
  depend only on ``(seed, i)``;
- ``nets``: the MLP and CNN families, batched over models and as plain ``torch.nn`` modules;
- ``train``: ``train_batched`` (one tensor program per block of models) and ``train_loop``
  (the naive per-model loop it is tested and benchmarked against);
- ``store``: ``Zoo``, ``train_zoo`` (cached, chunked, resumable) and ``load_zoo``; a zoo's chunks
  (``missing_chunks``, ``train_chunk``) can also be trained apart, as a sweep's Dask tasks do.

Typical use::

    zoo = train_zoo(ZooSpec(n_models=1000, family="cnn", width=16, pool="A", seed=0))
    zoo.params["conv1.weight"]  # (1000, 8, 3, 3, 3): the detector's input
    zoo.frame()                # bias level and accuracies of each model
"""

from earlybias.zoo.nets import CNN, MLP, param_shapes
from earlybias.zoo.spec import FAMILIES, TASKS, ZooSpec
from earlybias.zoo.store import (
    CHUNK,
    Zoo,
    default_cache_dir,
    load_zoo,
    missing_chunks,
    train_chunk,
    train_zoo,
    zoo_dir,
)
from earlybias.zoo.train import BLOCK, train_batched, train_loop

__all__ = [
    "FAMILIES",
    "TASKS",
    "BLOCK",
    "ZooSpec",
    "MLP",
    "CNN",
    "param_shapes",
    "Zoo",
    "train_zoo",
    "CHUNK",
    "missing_chunks",
    "train_chunk",
    "load_zoo",
    "zoo_dir",
    "default_cache_dir",
    "train_batched",
    "train_loop",
]
