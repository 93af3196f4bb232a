"""Detectors that read a network's bias from its weights, with no input (IFBiD, Sec. 3).

All three share one interface, in the manner of scikit-learn: ``fit(params, y)``, ``predict(params)``
and ``score(params, y)``, where ``params`` are a zoo's per-layer tensors (``Zoo.params``, leading
model dimension) and ``y`` one integer label per model (a bias level, or the minority group).

- ``StatsDetector``: logistic regression on ``weight_features``, permutation-invariant statistics;
- ``DeepSetsDetector``: a shared encoder applied to every hidden unit's weights, pooled over the
  units (mean and max), so invariant by construction, then an MLP head; trained with torch;
- ``FlatDetector``: logistic regression on all raw weights, the baseline that must learn that
  the order of the hidden units means nothing, and cannot.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from earlybias.validation import check_int
from earlybias.weights.features import LAYER_CHOICES, flat_weights, layer_names, unit_sets, weight_features

__all__ = ["DETECTORS", "StatsDetector", "FlatDetector", "DeepSetsDetector", "make_detector"]

DETECTORS = ("stats", "deepsets", "flat")


def _check_positive(name: str, value, integer: bool = False):
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} > 0, got {value!r}")
    return value


def _labels(y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must hold one integer label per model ({n}), got shape {y.shape}, dtype {y.dtype}"
        )
    if len(np.unique(y)) < 2:
        raise ValueError("y must hold at least two distinct labels to learn from")
    return y


class _Logistic:
    """Standardised features, then multinomial logistic regression: shared by two detectors."""

    def __init__(self, C: float, seed: int):
        self.C = _check_positive("C", C)
        self.seed = check_int("seed", seed, 0)

    def _features(self, params: dict) -> np.ndarray:
        raise NotImplementedError

    def fit(self, params: dict, y) -> _Logistic:
        X = self._features(params)
        self.model_ = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        ).fit(X, _labels(y, len(X)))
        return self

    def predict_proba(self, params: dict) -> np.ndarray:
        """Class probabilities (M, n_classes), classes in the order of ``classes_``."""
        return self.model_.predict_proba(self._features(params))

    def predict(self, params: dict) -> np.ndarray:
        return self.model_.predict(self._features(params))

    @property
    def classes_(self) -> np.ndarray:
        return self.model_.classes_

    def score(self, params: dict, y) -> float:
        """Accuracy: the share of models whose label is predicted right."""
        return float(np.mean(self.predict(params) == np.asarray(y)))


class StatsDetector(_Logistic):
    """Logistic regression on permutation-invariant weight statistics (IFBiD, Sec. 3, our features).

    ``layers``: ``"first"``, ``"last"`` or ``"all"``, which weights the features read (the ablation
    of which layers carry the bias). ``C``: inverse l2 penalty of the logistic regression.
    """

    def __init__(self, layers: str = "all", C: float = 1.0, seed: int = 0):
        if layers not in LAYER_CHOICES:
            raise ValueError(f"layers must be one of {LAYER_CHOICES}, got {layers!r}")
        self.layers = layers
        super().__init__(C, seed)

    def _features(self, params: dict) -> np.ndarray:
        return weight_features(params, self.layers)[0]


class FlatDetector(_Logistic):
    """Logistic regression on every raw weight (:func:`flat_weights`): no permutation invariance."""

    def __init__(self, C: float = 1.0, seed: int = 0):
        super().__init__(C, seed)

    def _features(self, params: dict) -> np.ndarray:
        return flat_weights(params).double().numpy()


class _DeepSets(nn.Module):
    """rho(concat over hidden layers of [mean, max] over units of phi_l(unit)) (Zaheer et al. 2017)."""

    def __init__(self, in_dims: list[int], n_global: int, hidden: int, n_classes: int):
        super().__init__()
        self.phi = nn.ModuleList(
            nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            for d in in_dims
        )
        self.rho = nn.Sequential(
            nn.Linear(2 * hidden * len(in_dims) + n_global, hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, sets: list[torch.Tensor], glob: torch.Tensor) -> torch.Tensor:
        pooled = []
        for phi, s in zip(self.phi, sets):
            h = phi(s)  # (batch, units, hidden): the same encoder for every unit
            pooled += [h.mean(1), h.amax(1)]
        return self.rho(torch.cat([*pooled, glob], dim=1))


class DeepSetsDetector:
    """A permutation-invariant network over the hidden units' weights (IFBiD, Sec. 3, DeepSets form).

    Each hidden layer's units (``unit_sets``: incoming weights, bias, outgoing weights) pass
    through one shared encoder, are pooled by mean and max over the units, the layers' pooled
    vectors and the readout bias (not permutable) are concatenated and an MLP head classifies them.
    Inputs are standardised with the training zoo's statistics; Adam with weight decay, mini-batches
    of ``batch_size`` models for ``epochs`` epochs. ``seed`` fixes initialisation and batch order.
    """

    def __init__(
        self,
        hidden: int = 64,
        epochs: int = 60,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-3,
        seed: int = 0,
    ):
        self.hidden = _check_positive("hidden", hidden, integer=True)
        self.epochs = _check_positive("epochs", epochs, integer=True)
        self.batch_size = _check_positive("batch_size", batch_size, integer=True)
        self.lr = _check_positive("lr", lr)
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, Real) or weight_decay < 0:
            raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = weight_decay
        self.seed = check_int("seed", seed, 0)

    def _inputs(self, params: dict) -> tuple[list[torch.Tensor], torch.Tensor]:
        sets = unit_sets(params)
        glob = params[f"{layer_names(params)[-1]}.bias"].double()
        return sets, glob

    def _standardise(self, sets, glob):
        sets = [((s - m) / sd).float() for s, (m, sd) in zip(sets, self.norm_[0])]
        return sets, ((glob - self.norm_[1][0]) / self.norm_[1][1]).float()

    def fit(self, params: dict, y) -> DeepSetsDetector:
        sets, glob = self._inputs(params)
        y = _labels(y, len(glob))
        self.classes_ = np.unique(y)
        target = torch.from_numpy(np.searchsorted(self.classes_, y))
        # Per input coordinate over models and units: a unit's weights keep their relative scale.
        self.norm_ = (
            [(s.mean((0, 1)), s.std((0, 1)) + 1e-8) for s in sets],
            (glob.mean(0), glob.std(0) + 1e-8),
        )
        sets, glob = self._standardise(sets, glob)
        gen = torch.Generator().manual_seed(self.seed)
        # Initialise under a forked global RNG: fitting must not move the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net_ = _DeepSets([s.shape[-1] for s in sets], glob.shape[1], self.hidden, len(self.classes_))
        opt = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n = len(target)
        self.net_.train()
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen)
            for b in range(0, n, self.batch_size):
                idx = order[b : b + self.batch_size]
                loss = nn.functional.cross_entropy(self.net_([s[idx] for s in sets], glob[idx]), target[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.net_.eval()
        return self

    def predict_proba(self, params: dict) -> np.ndarray:
        """Class probabilities (M, n_classes), classes in the order of ``classes_``."""
        sets, glob = self._standardise(*self._inputs(params))
        with torch.no_grad():
            return torch.softmax(self.net_(sets, glob), dim=1).double().numpy()

    def predict(self, params: dict) -> np.ndarray:
        return self.classes_[self.predict_proba(params).argmax(1)]

    def score(self, params: dict, y) -> float:
        """Accuracy: the share of models whose label is predicted right."""
        return float(np.mean(self.predict(params) == np.asarray(y)))


def make_detector(name: str, seed: int = 0, **kwargs):
    """A fresh detector called ``name`` (one of ``DETECTORS``), keyword arguments passed on."""
    classes = {"stats": StatsDetector, "deepsets": DeepSetsDetector, "flat": FlatDetector}
    if name not in classes:
        raise ValueError(f"detector must be one of {DETECTORS}, got {name!r}")
    return classes[name](seed=seed, **kwargs)
