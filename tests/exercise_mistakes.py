"""Plausible wrong answers to one exercise per chapter, for the grading tests (tests/test_grading.py):
grading a reference notebook with this one solution replaced must lose exactly that exercise's
points. MISTAKES: chapter id -> (grade_id of the solution cell, the wrong cell source)."""

MISTAKES = {
    # gamma of a shifted linear network is s^2, not s: the shift itself is taken for the answer.
    "igb": (
        "igb-ex1-solution",
        """### BEGIN SOLUTION
s_star = float(theory.GAMMA_RELU)
check = experiments.headline(
    activation="linear", depth=1, width=128, input_shift=s_star, n_points=300, n_inits=400, seed=seed
)
### END SOLUTION""",
    ),
    # The DeepSets detector taken for order-dependent because it is a network: it pools each
    # layer's units before its network reads them, so it is as invariant as the statistics.
    "weights": (
        "weights-ex2-solution",
        """### BEGIN SOLUTION
import torch

from earlybias.weights.features import permute_units

one = {k: v[:1] for k, v in study.params("test").items()}
n_units = one[next(iter(one))].shape[1]
moved = permute_units(one, torch.randperm(n_units, generator=torch.Generator().manual_seed(seed)))
changes = {}
for name in ("stats", "deepsets", "flat"):
    before, after = fitted[name].predict_proba(one)[0], fitted[name].predict_proba(moved)[0]
    changes[name] = float(np.abs(before - after).max())
unchanged = {"stats"}
### END SOLUTION""",
    ),
    # One threshold for all the models stacked in `weights` instead of one per model: the models
    # of larger weights keep more than their share.
    "pruning": (
        "pruning-ex1-solution",
        """### BEGIN SOLUTION
def layerwise_masks(weights, sparsity):
    out = {}
    for name, w in weights.items():
        if not name.endswith(".weight"):
            continue
        flat = w.abs().flatten()
        keep = max(1, round((1 - sparsity) * flat.numel()))
        threshold = flat.sort(descending=True).values[keep - 1]
        out[name] = (w.abs() >= threshold).to(w.dtype)
    return out
### END SOLUTION""",
    ),
    # The shares of all test images that are aligned (conflicting) and right, instead of the
    # accuracy within each group.
    "surgeon": (
        "surgeon-ex1-solution",
        """### BEGIN SOLUTION
def split_accuracy(predictions, labels, colors):
    correct = np.asarray(predictions) == np.asarray(labels)
    aligned = np.asarray(colors) == np.asarray(labels)
    return (correct & aligned).mean(axis=1), (correct & ~aligned).mean(axis=1)


S = setup.n_seeds
top = slice((len(setup.rhos) - 1) * S, len(setup.rhos) * S)
labels, colors = data.test_labels.numpy(), data.test_colors.numpy()
gap = {}
for method in ("vanilla", "ffw", "no_mi"):
    aligned, conflicting = split_accuracy(outputs.predictions[method][top], labels, colors)
    gap[method] = float(np.mean(aligned - conflicting))
### END SOLUTION""",
    ),
    # The square roots of abar forgotten: x0_hat = (x_t - (1 - abar) eps) / abar.
    "diffusion": (
        "diffusion-ex1-solution",
        """### BEGIN SOLUTION
def ddim_step(x_t, eps_hat, abar_t, abar_next):
    x0_hat = (x_t - (1 - abar_t) * eps_hat) / abar_t
    return x0_hat, abar_next * x0_hat + (1 - abar_next) * eps_hat
### END SOLUTION""",
    ),
}
