"""Detectors that read a network's bias from its weights, with no input (chapter, {ref}`weights-method`).

Every detector is a scikit-learn classifier whose input ``X`` is a zoo's ``params`` (per-layer
tensors with a leading model dimension, ``Zoo.params``) and whose labels ``y`` are one integer
per model (a bias level, or the minority group): ``fit(params, y)``, ``predict(params)``,
``predict_proba(params)``, ``score(params, y)``, ``classes_``.

- ``stats``: a Pipeline of ``WeightFeatures`` (permutation-invariant statistics, equation
  {eq}`weights-features`), standardisation and logistic regression;
- ``flat``: the same Pipeline on every raw weight (``FlatWeights``): the baseline of the same
  model class that must learn that the order of the hidden units means nothing, and cannot;
- ``deepsets``: a shared encoder applied to every hidden unit's weights, pooled over the units
  (mean and max), so invariant by construction, then an MLP head (equation {eq}`weights-deepsets`);
- ``ifbid``: the paper's design (``earlybias.weights.ifbid``), a network over the raw kernels of
  each convolution, max-pooled over kernel positions and over filters (equation {eq}`weights-ifbid`);
- ``flat_net``: a one-hidden-layer network on every raw weight, the baseline of the same model
  class as the two networks above.

``BASELINE`` pairs each invariant detector with its flat baseline of the same model class.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from earlybias.validation import check_choice, check_int, check_labels, check_real, check_seed
from earlybias.weights.features import LAYER_CHOICES, flat_weights, layer_names, unit_sets, weight_features

__all__ = [
    "DETECTORS",
    "INVARIANT",
    "BASELINE",
    "WeightFeatures",
    "FlatWeights",
    "stats_detector",
    "flat_detector",
    "flat_net_detector",
    "DeepSetsDetector",
    "make_detector",
    "fit_labels",
    "train_net",
    "one_thread",
]

DETECTORS = ("stats", "deepsets", "ifbid", "flat", "flat_net")
#: The detectors that do not depend on the order of a layer's units.
INVARIANT = ("stats", "deepsets", "ifbid")
#: Each invariant detector's flat baseline of the same model class (linear or a network).
BASELINE = {"stats": "flat", "deepsets": "flat_net", "ifbid": "flat_net"}


@contextmanager
def one_thread():
    """Run a detector's small matrices and networks on one thread (torch and BLAS alike).

    Their operations are too small to share among threads: on the study's 2-core machine, with
    other work running, a logistic regression on 2,560 models took 11.7 s on two BLAS threads and
    0.16 s on one, a DeepSets fit 51 s on two torch threads and 7.5 s on one, with identical results.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


class OneThreadPipeline(Pipeline):
    """A scikit-learn Pipeline whose every fit and prediction runs in :func:`one_thread`."""

    def fit(self, X, y=None, **params):
        with one_thread():
            return super().fit(X, y, **params)

    def predict(self, X, **params):
        with one_thread():
            return super().predict(X, **params)

    def predict_proba(self, X, **params):
        with one_thread():
            return super().predict_proba(X, **params)

    def score(self, X, y=None, **params):
        with one_thread():
            return super().score(X, y, **params)


class WeightFeatures(TransformerMixin, BaseEstimator):
    """``params`` -> ``weight_features(params, layers)``: the statistics detector's first step."""

    def __init__(self, layers: str = "all"):
        self.layers = layers

    def fit(self, params, y=None):
        check_choice("layers", self.layers, LAYER_CHOICES)
        return self

    def transform(self, params) -> np.ndarray:
        return weight_features(params, self.layers)[0]


class FlatWeights(TransformerMixin, BaseEstimator):
    """``params`` -> every raw weight of each model in one row (``flat_weights``)."""

    def fit(self, params, y=None):
        return self

    def transform(self, params) -> np.ndarray:
        return flat_weights(params).double().numpy()


def _logistic(C: float, seed: int) -> LogisticRegression:
    return LogisticRegression(
        C=check_real("C", C, 0, low_open=True), max_iter=2000, random_state=check_seed(seed)
    )


def stats_detector(layers: str = "all", C: float = 1.0, seed: int = 0) -> Pipeline:
    """Logistic regression on permutation-invariant weight statistics of ``layers``
    (``LAYER_CHOICES``); ``C``: inverse l2 penalty."""
    check_choice("layers", layers, LAYER_CHOICES)
    return OneThreadPipeline(
        [("features", WeightFeatures(layers)), ("scale", StandardScaler()), ("classify", _logistic(C, seed))]
    )


def flat_detector(C: float = 1.0, seed: int = 0) -> Pipeline:
    """Logistic regression on every raw weight: not invariant to permuting hidden units."""
    return OneThreadPipeline(
        [("features", FlatWeights()), ("scale", StandardScaler()), ("classify", _logistic(C, seed))]
    )


def flat_net_detector(width: int = 64, alpha: float = 1e-2, seed: int = 0) -> Pipeline:
    """A network with one hidden layer of ``width`` units (``alpha``: l2 penalty) on every raw weight."""
    net = MLPClassifier(
        hidden_layer_sizes=(check_int("width", width, 1),),
        alpha=check_real("alpha", alpha, 0),
        max_iter=200,
        random_state=check_seed(seed),
    )
    return OneThreadPipeline([("features", FlatWeights()), ("scale", StandardScaler()), ("classify", net)])


def fit_labels(y, n: int) -> np.ndarray:
    """Labels to learn from: one integer per model, at least two distinct ones."""
    return check_labels("y", y, n, at_least_two=True)


def train_net(
    net: nn.Module,
    inputs: list[torch.Tensor],
    target: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> nn.Module:
    """Minimise the cross-entropy of ``net(*[x[batch] for x in inputs])`` against ``target`` with
    AdamW, in mini-batches of ``batch_size`` models drawn in a seeded order; returns ``net``."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(target)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(0, n, batch_size):
            idx = order[b : b + batch_size]
            loss = nn.functional.cross_entropy(net(*[x[idx] for x in inputs]), target[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each coordinate of the last dimension over all others."""
    dims = tuple(range(x.dim() - 1))
    return x.mean(dims), x.std(dims) + 1e-8


@dataclass(repr=False, eq=False, kw_only=True)
class _NetDetector(ClassifierMixin, BaseEstimator):
    """What the two torch detectors share: their training settings, label handling, seeded
    training, prediction.

    The settings are the estimator's keyword parameters: ``dataclass`` writes the explicit
    ``__init__`` from which scikit-learn's ``get_params``, ``set_params`` and ``clone`` read them
    (``repr`` and equality stay scikit-learn's). A subclass declares ``width``, the size of its
    network, with its own default, and sets ``_inputs(params) -> list of float64 tensors`` and
    ``_network(dims, n_classes)``. Inputs are standardised per coordinate of their last dimension
    with the training zoo's statistics (over models and set elements).
    """

    epochs: int = 40
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = 0

    def fit(self, params, y):
        with one_thread():
            return self._fit(params, y)

    def _fit(self, params, y):
        self._check()
        inputs = self._inputs(params)
        y = fit_labels(y, len(inputs[0]))
        self.classes_ = np.unique(y)
        target = torch.from_numpy(np.searchsorted(self.classes_, y))
        self.norm_ = [_moments(x) for x in inputs]
        inputs = self._standardise(inputs)
        # Initialise under a forked global RNG: fitting must not move the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._network([x.shape[-1] for x in inputs], len(self.classes_))
        self.net_ = train_net(
            net,
            inputs,
            target,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=self.seed,
        )
        return self

    def _check(self):
        check_int("width", self.width, 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0, low_open=True)
        check_real("weight_decay", self.weight_decay, 0)
        check_seed(self.seed)

    def _standardise(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [((x - m) / sd).float() for x, (m, sd) in zip(inputs, self.norm_)]

    def predict_proba(self, params) -> np.ndarray:
        """Class probabilities (M, n_classes), classes in the order of ``classes_``."""
        with one_thread(), torch.no_grad():
            return torch.softmax(self.net_(*self._standardise(self._inputs(params))), dim=1).double().numpy()

    def predict(self, params) -> np.ndarray:
        return self.classes_[self.predict_proba(params).argmax(1)]


class _DeepSets(nn.Module):
    """rho(concat over hidden layers of [mean, max] over units of phi_l(unit), readout bias)
    (Zaheer et al. 2017)."""

    def __init__(self, in_dims: list[int], width: int, n_classes: int):
        super().__init__()
        *set_dims, n_global = in_dims
        self.phi = nn.ModuleList(
            nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
            for d in set_dims
        )
        self.rho = nn.Sequential(
            nn.Linear(2 * width * len(set_dims) + n_global, width), nn.ReLU(), nn.Linear(width, n_classes)
        )

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *sets, glob = inputs
        pooled = []
        for phi, s in zip(self.phi, sets):
            h = phi(s)  # (batch, units, width): the same encoder for every unit
            pooled += [h.mean(1), h.amax(1)]
        return self.rho(torch.cat([*pooled, glob], dim=1))


@dataclass(repr=False, eq=False, kw_only=True)
class DeepSetsDetector(_NetDetector):
    """A permutation-invariant network over the hidden units' weights (equation {eq}`weights-deepsets`).

    Each hidden layer's units (``unit_sets``: incoming weights, bias, outgoing weights) pass
    through one shared encoder of ``width`` units, are pooled by mean and max over the units, the
    layers' pooled vectors and the readout bias (not permutable) are concatenated and an MLP head
    classifies them. AdamW with ``weight_decay``, mini-batches of ``batch_size`` models for
    ``epochs`` epochs; ``seed`` fixes initialisation and batch order.
    """

    width: int = 64

    def _inputs(self, params) -> list[torch.Tensor]:
        return [*unit_sets(params), params[f"{layer_names(params)[-1]}.bias"].double()]

    def _network(self, dims: list[int], n_classes: int) -> nn.Module:
        return _DeepSets(dims, self.width, n_classes)


def make_detector(name: str, seed: int = 0, **kwargs):
    """A fresh, unfitted detector called ``name`` (one of ``DETECTORS``), keyword arguments passed on."""
    from earlybias.weights.ifbid import IFBiDDetector

    factories = {
        "stats": stats_detector,
        "deepsets": DeepSetsDetector,
        "ifbid": IFBiDDetector,
        "flat": flat_detector,
        "flat_net": flat_net_detector,
    }
    return factories[check_choice("detector", name, DETECTORS)](seed=seed, **kwargs)
