"""From the models' outputs (``outputs.npz``) to the chapter's tables, headline metrics and claims.

Everything here reads an ``Outputs`` alone, so anyone holding a run's ``outputs.npz`` recomputes
the chapter's numbers. The metrics themselves are ``earlybias.pruning.metrics`` (the paper's code);
this module applies them over sparsities, seeds and attributes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import f_oneway, rankdata, spearmanr

from earlybias.claims import Experiment, above, at_least, below
from earlybias.pruning import metrics as M
from earlybias.pruning.experiment import Outputs

__all__ = [
    "PAPER",
    "MODERATE",
    "bias_table",
    "per_model",
    "per_attribute",
    "threshold_fix",
    "susceptibility",
    "analyse",
]

#: The bibliography key of the paper (book/references.bib): the report cites it.
PAPER = "iofinova2023pruning"
#: Sparsities the paper calls harmless (under 10 % of weights left ... at 80 and 90 %).
MODERATE = (0.8, 0.9)
#: Dense-model uncertainty margin: |sigma(z) - 1/2| < 0.4 (the paper's code, compute_errors).
MARGIN = 0.4
#: Significance level of the attribute-level claims (``ranking_p``).
ALPHA = 0.05
#: Up to this many attributes ``ranking_p`` enumerates every ordering (8! = 40,320).
_EXACT_UP_TO = 8


def _preds(logits, thresholds=None):
    return (logits > (0.0 if thresholds is None else thresholds)).astype(np.int64)


def bias_table(o: Outputs, thresholds=None) -> np.ndarray:
    """Bias amplification (S, seeds, A, P) of every target attribute with respect to every
    protected one (``metrics.bias_amplification``, the paper's filters; NaN where skipped).
    ``thresholds`` (S, seeds, A): per-model decision thresholds (default 0 on the logits)."""
    S, n = o.test_logits.shape[:2]
    out = np.full((S, n, o.test_labels.shape[1], len(o.protected)), np.nan)
    for s in range(S):
        for i in range(n):
            preds = _preds(o.test_logits[s, i], None if thresholds is None else thresholds[s, i])
            for j, p in enumerate(o.protected):
                out[s, i, :, j] = M.bias_amplification(o.test_labels, preds, o.train_labels, int(p))
    return out


def common_pairs(*tables: np.ndarray) -> np.ndarray:
    """(A, P) pairs whose BA is defined for every model of every table: they pass the paper's
    filters (which read the labels alone) and every model predicts at least one positive of the
    target (else BA is 0 / 0). Means over these pairs compare every sparsity on the same pairs;
    a mean over whichever pairs each model defines would change with the pairs, not the bias."""
    return np.logical_and.reduce([np.isfinite(t).all(axis=(0, 1)) for t in tables])


def ba_mean(ba: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
    """Mean BA per model (S, seeds) over ``pairs`` (default: ``common_pairs(ba)``)."""
    pairs = common_pairs(ba) if pairs is None else pairs
    return ba[:, :, pairs].mean(axis=2) if pairs.any() else np.full(ba.shape[:2], np.nan)


def per_model(o: Outputs) -> pd.DataFrame:
    """One row per model (sparsity, seed): accuracy, BA, uncertain share, interdependence, ECE,
    under-prediction of rare attributes, each averaged over attributes."""
    ba = ba_mean(bias_table(o))
    train_rate, test_rate = o.train_labels.mean(0), o.test_labels.mean(0)
    rare = np.minimum(train_rate, 1 - train_rate) < 0.1
    rows = []
    for s, sparsity in enumerate(o.sparsities):
        for i in range(o.test_logits.shape[1]):
            z = o.test_logits[s, i]
            p = _preds(z)
            rows.append(
                {
                    "sparsity": float(sparsity),
                    "seed": i,
                    "accuracy": M.accuracy(p, o.test_labels).mean(),
                    "bias_amplification": ba[s, i],
                    "uncertain_share": M.uncertainty(z, MARGIN).mean(),
                    "interdependence": M.interdependence(p).mean(),
                    "calibration_error": M.calibration_error(z, o.test_labels).mean(),
                    "rare_predicted_ratio": M.rare_underprediction(p, test_rate, train_rate)[rare].mean(),
                }
            )
    return pd.DataFrame(rows)


def per_attribute(o: Outputs) -> pd.DataFrame:
    """One row per (sparsity, seed, attribute): accuracy, uncertain share, interdependence and
    BA averaged over the protected attributes it is a valid target of (NaN if none)."""
    ba = bias_table(o)
    valid = common_pairs(ba)
    rows = []
    for s, sparsity in enumerate(o.sparsities):
        for i in range(o.test_logits.shape[1]):
            z = o.test_logits[s, i]
            p = _preds(z)
            acc, unc, inter = M.accuracy(p, o.test_labels), M.uncertainty(z, MARGIN), M.interdependence(p)
            for a, name in enumerate(o.attributes):
                b = ba[s, i, a, valid[a]]
                rows.append(
                    {
                        "sparsity": float(sparsity),
                        "seed": i,
                        "attribute": str(name),
                        "accuracy": acc[a],
                        "uncertain_share": unc[a],
                        "interdependence": inter[a],
                        "bias_amplification": np.nanmean(b) if b.size and np.isfinite(b).any() else np.nan,
                    }
                )
    return pd.DataFrame(rows)


def recalibrated(o: Outputs) -> np.ndarray:
    """Per-model thresholds (S, seeds, A) re-calibrated on the validation split
    (``metrics.recalibrated_thresholds``)."""
    S, n = o.val_logits.shape[:2]
    return np.stack(
        [
            np.stack([M.recalibrated_thresholds(o.val_logits[s, i], o.val_labels) for i in range(n)])
            for s in range(S)
        ]
    )


def threshold_fix(o: Outputs) -> pd.DataFrame:
    """Mean BA per (sparsity, seed) at threshold 0 and with re-calibrated thresholds."""
    plain, fixed = bias_table(o), bias_table(o, recalibrated(o))
    pairs = common_pairs(plain, fixed)
    plain, fixed = ba_mean(plain, pairs), ba_mean(fixed, pairs)
    S, n = plain.shape
    return pd.DataFrame(
        {
            "sparsity": np.repeat(o.sparsities, n),
            "seed": np.tile(np.arange(n), S),
            "threshold 0": plain.ravel(),
            "re-calibrated": fixed.ravel(),
        }
    )


def susceptibility(o: Outputs, level: int = -1) -> dict[str, np.ndarray]:
    """Which (image, attribute) cells the dense model flags, and where pruning adds errors.

    ``flagged`` (seeds, N, A): the dense model of that seed is uncertain (|sigma - 1/2| < 0.4)
    or wrong; ``added`` (seeds, N, A): the model at sparsity index ``level`` is wrong where its
    dense model was right (the errors that pruning adds)."""
    dense, sparse = o.test_logits[0], o.test_logits[level]
    wrong_dense = _preds(dense) != o.test_labels
    flagged = (np.abs(M.sigmoid(dense) - 0.5) < MARGIN) | wrong_dense
    added = (_preds(sparse) != o.test_labels) & ~wrong_dense
    return {"flagged": flagged, "added": added}


def enrichment(flagged: np.ndarray, added: np.ndarray) -> float:
    """Share of the added errors in flagged cells over the share of flagged cells (1: no better
    than chance; NaN without added errors)."""
    if added.sum() == 0 or flagged.mean() == 0:
        return float("nan")
    return float(added[flagged].sum() / added.sum() / flagged.mean())


def _sd_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Seed standard deviation of the difference of two seed means' draws: sqrt(var a + var b)."""
    if len(a) < 2:
        return float("nan")
    return float(math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)))


def _in_2sd(diff: float, sd: float) -> float:
    """A change in units of 2 seed SDs; with no spread at all, 0 for no change and +-inf else."""
    if sd > 0:
        return diff / (2 * sd)
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _or_zero(x: float) -> float:
    """A correlation or enrichment that cannot be measured (no variation, no added errors) is no
    evidence for the finding: 0."""
    return 0.0 if not np.isfinite(x) else float(x)


def _index(o: Outputs, sparsity: float) -> int | None:
    hits = np.flatnonzero(np.isclose(o.sparsities, sparsity))
    return int(hits[0]) if hits.size else None


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(spearmanr(x[ok], y[ok]).statistic)


def growth_by_seed(attrs: pd.DataFrame, sparsity: float) -> pd.DataFrame:
    """Per attribute (rows) and seed (columns): bias amplification at ``sparsity`` minus the dense
    model's of the same seed; attributes undefined for some seed dropped."""

    def at(s):
        return attrs[np.isclose(attrs.sparsity, s)].set_index(["seed", "attribute"]).bias_amplification

    return (at(sparsity) - at(0.0)).unstack("seed").dropna()


def growth_differs_p(growth: pd.DataFrame) -> float:
    """One-way ANOVA p-value of "all attributes grow alike", the seeds as replicates: small when
    the attributes' growths differ beyond the seeds' spread. Only then is there a ranking of
    attributes for another quantity to predict (NaN for fewer than two attributes or seeds)."""
    if len(growth) < 2 or growth.shape[1] < 2:
        return float("nan")
    p = f_oneway(*growth.to_numpy()).pvalue
    return float(p) if np.isfinite(p) else float("nan")


def ranking_p(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """One-sided permutation p-value of Spearman's correlation of x with y: the share of the
    orderings of y under which x ranks with y at least as well as observed, that is the chance of
    so good a ranking when x is unrelated to y. Exact (every ordering) up to ``_EXACT_UP_TO``
    values, beyond it a Monte Carlo of 20,000 seeded orderings ((hits + 1) / (20,000 + 1)). NaN
    when either does not vary."""
    if np.isnan(_rank_corr(x, y)):
        return float("nan")
    ok = np.isfinite(x) & np.isfinite(y)
    rx, ry = rankdata(x[ok]), rankdata(y[ok])
    n = len(rx)
    if n <= _EXACT_UP_TO:
        orders = np.array(list(itertools.permutations(range(n))))
    else:
        orders = np.random.default_rng(seed).permuted(np.tile(np.arange(n), (20_000, 1)), axis=1)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    scale = np.sqrt((rx**2).sum() * (ry**2).sum())
    observed, null = rx @ ry / scale, ry[orders] @ rx / scale
    hits = int((null >= observed - 1e-12).sum())
    return hits / len(orders) if n <= _EXACT_UP_TO else (hits + 1) / (len(orders) + 1)


def analyse(o: Outputs) -> Experiment:
    """The chapter's headline metrics, the tables behind its figures, and its eight claims."""
    models = per_model(o)
    attrs = per_attribute(o)
    fix = threshold_fix(o)
    top = float(o.sparsities[-1])

    def col(name, s):
        return models.loc[np.isclose(models.sparsity, s), name].to_numpy()

    acc_d, ba_d = col("accuracy", 0.0), col("bias_amplification", 0.0)
    acc_t, ba_t = col("accuracy", top), col("bias_amplification", top)
    i90 = _index(o, 0.9)
    m = {
        "dense_acc": acc_d.mean(),
        "acc_drop_max": acc_d.mean() - acc_t.mean(),
        "ba_change_max": ba_t.mean() - ba_d.mean(),
        "ba_sd_dense": np.std(ba_d, ddof=1) if len(ba_d) > 1 else float("nan"),
        "acc_drop_90": acc_d.mean() - col("accuracy", 0.9).mean() if i90 is not None else float("nan"),
        "ba_change_90": col("bias_amplification", 0.9).mean() - ba_d.mean()
        if i90 is not None
        else float("nan"),
    }
    # Where bias amplification peaks, and how far the top sparsity silences the rare attributes.
    changes = {float(x): col("bias_amplification", x).mean() - ba_d.mean() for x in o.sparsities[1:]}
    peak = max(changes, key=changes.get)
    m["ba_change_peak"], m["ba_peak_sparsity"] = changes[peak], peak
    m["rare_predicted_ratio_dense"] = col("rare_predicted_ratio", 0.0).mean()
    m["rare_predicted_ratio_max"] = col("rare_predicted_ratio", top).mean()
    unc_d, unc_t = col("uncertain_share", 0.0), col("uncertain_share", top)
    m["uncertainty_ratio_max"] = unc_t.mean() / unc_d.mean() if unc_d.mean() > 0 else float("inf")
    int_d, int_t = col("interdependence", 0.0), col("interdependence", top)
    m["interdependence_change_max"] = int_t.mean() - int_d.mean()

    # Per attribute: growth from dense to the top sparsity (mean over seeds).
    by = attrs.groupby(["sparsity", "attribute"], sort=False).mean(numeric_only=True)
    dense_a, top_a = by.loc[0.0], by.loc[top]
    growth = pd.DataFrame(
        {
            "ba_growth": top_a.bias_amplification - dense_a.bias_amplification,
            "interdependence_growth": top_a.interdependence - dense_a.interdependence,
            "uncertainty_growth": top_a.uncertain_share - dense_a.uncertain_share,
            "dense_uncertain_share": dense_a.uncertain_share,
            "dense_accuracy": dense_a.accuracy,
        }
    )
    m["interdependence_bias_corr"] = _rank_corr(
        growth.interdependence_growth.to_numpy(), growth.ba_growth.to_numpy()
    )
    m["uncertainty_bias_corr"] = _rank_corr(growth.uncertainty_growth.to_numpy(), growth.ba_growth.to_numpy())
    m["attribute_rank_corr"] = _rank_corr(
        growth.dense_uncertain_share.to_numpy(), growth.ba_growth.to_numpy()
    )
    # The attribute-level claims rank attributes by their growth of bias. That ranking must exist
    # (the attributes differ beyond the seeds' spread) and be matched better than chance would.
    m["ba_growth_differs_p"] = growth_differs_p(growth_by_seed(attrs, top))
    m["n_ranked_attributes"] = float(growth.ba_growth.notna().sum())
    for name, x in (
        ("interdependence_bias", growth.interdependence_growth),
        ("attribute_rank", growth.dense_uncertain_share),
    ):
        p = ranking_p(x.to_numpy(), growth.ba_growth.to_numpy())
        m[f"{name}_p"] = p
        m[f"{name}_evidence_p"] = p if m["ba_growth_differs_p"] < ALPHA and np.isfinite(p) else 1.0

    sus = susceptibility(o)
    m["susceptible_share"] = sus["flagged"].mean()
    m["susceptible_error_enrichment"] = enrichment(sus["flagged"], sus["added"])

    claims = []
    # 1. harmless-moderate
    worst, moderate = 0.0, [s for s in MODERATE if _index(o, s) is not None]
    for s in moderate:
        da = abs(acc_d.mean() - col("accuracy", s).mean())
        ba_s = col("bias_amplification", s)
        db = abs(ba_s.mean() - ba_d.mean())
        # A BA change no pair lets us measure confirms nothing: the claim fails (inf).
        bz = abs(_in_2sd(db, _sd_diff(ba_d, ba_s))) if np.isfinite(db) else math.inf
        worst = max(worst, da / 0.01, bz)
    m["moderate_worst_tolerance_share"] = worst if moderate else float("nan")
    if moderate:
        claims.append(
            below(
                "harmless-moderate",
                PAPER,
                "At 80 % and 90 % sparsity mean accuracy stays within 1 point of the dense model's and mean "
                "bias amplification within 2 seed standard deviations (of the difference); measured: the "
                "largest of |accuracy change| / 1 point and |BA change| / 2 SD",
                worst,
                1.0,
            )
        )
    # 2. harmful-extreme
    increase = ba_t.mean() - ba_d.mean()
    acc_z = _in_2sd(acc_d.mean() - acc_t.mean(), _sd_diff(acc_d, acc_t))
    # No pair defined for every model (tiny runs): no measured change, no evidence (0).
    ba_z = _in_2sd(increase, _sd_diff(ba_d, ba_t)) if np.isfinite(increase) else 0.0
    m["acc_drop_max_in_2sd"], m["ba_change_max_in_2sd"] = acc_z, ba_z
    fixed_t = fix.loc[np.isclose(fix.sparsity, top), "re-calibrated"].to_numpy()
    m["ba_recalibrated_max"] = fixed_t.mean()
    # Only an increase beyond seed spread can be partly removed; within the spread the share is
    # noise over noise, and with none nothing was fixed (0): a run with no effect cannot pass.
    m["threshold_fix_share"] = (ba_t.mean() - fixed_t.mean()) / increase if ba_z > 1 else 0.0
    claims.append(
        above(
            "harmful-extreme",
            PAPER,
            f"At the top sparsity ({top:.1%}) accuracy falls and bias amplification grows, each by more "
            "than 2 seed standard deviations; measured: the smaller of the two changes in units of 2 SD",
            min(acc_z, ba_z),
            1.0,
        )
    )
    claims.append(
        at_least(
            "uncertainty-grows",
            PAPER,
            "The share of uncertain outputs (|sigmoid - 1/2| < 0.4) at the top sparsity is at least "
            "1.5 times the dense model's",
            m["uncertainty_ratio_max"],
            1.5,
        )
    )
    int_z = _in_2sd(m["interdependence_change_max"], _sd_diff(int_d, int_t))
    m["interdependence_change_max_in_2sd"] = int_z
    claims.append(
        above(
            "interdependence-grows",
            PAPER,
            "Interdependence (R^2 of each attribute's predictions on the others') at the top sparsity "
            "exceeds the dense model's by more than 2 seed standard deviations; measured in units of 2 SD",
            int_z,
            1.0,
        )
    )
    claims.append(
        below(
            "interdependence-links-bias",
            PAPER,
            "Across attributes, the growth of interdependence ranks with the growth of bias amplification "
            f"better than chance (Spearman, one-sided permutation p below {ALPHA}); measured: that p, "
            f"counted as 1 unless the attributes' growths of bias differ beyond the seeds' spread "
            f"(one-way ANOVA p below {ALPHA})",
            m["interdependence_bias_evidence_p"],
            ALPHA,
        )
    )
    claims.append(
        at_least(
            "threshold-fix",
            PAPER,
            "Re-calibrated thresholds remove at least 30 % of the top sparsity's increase in bias "
            "amplification (0 unless that increase exceeds 2 seed standard deviations)",
            m["threshold_fix_share"],
            0.3,
        )
    )
    claims.append(
        at_least(
            "dense-predicts-samples",
            PAPER,
            "Cells (image, attribute) that the dense model is uncertain about or gets wrong take at least "
            "3 times their share of the errors pruning adds at the top sparsity",
            _or_zero(m["susceptible_error_enrichment"]),
            3.0,
        )
    )
    claims.append(
        below(
            "dense-predicts-attributes",
            PAPER,
            "Across attributes, the dense model's uncertain share ranks with the growth of bias "
            f"amplification under pruning better than chance (Spearman, one-sided permutation p below "
            f"{ALPHA}); measured: that p, counted as 1 unless the attributes' growths of bias differ "
            f"beyond the seeds' spread (one-way ANOVA p below {ALPHA})",
            m["attribute_rank_evidence_p"],
            ALPHA,
        )
    )
    data = {"models": models, "attributes": attrs, "growth": growth.reset_index(), "threshold_fix": fix}
    return Experiment({k: float(v) for k, v in m.items()}, data, claims)
