"""The chapter's five experiments and its claims, each as one batched sampling call.

1. **Prompt switch** (Park et al. 2025, Sec. 3, their Fig. 2 protocol): condition A for the first
   fraction tau of the steps, then B, which differs from A in one factor; the factor's judge reads
   the final image. P(final keeps A) against tau; tau50 where it crosses one half (``tau50``).
2. **Reading the decision off x̂0**: the judges read the predicted clean image at every step of
   unswitched trajectories; agreement with the final image's factors against the step.
3. **Resampling**: from the state at step t, K continuations with fresh noise (ancestral DDPM
   steps) and no condition at all: how often each factor of the original final image survives.
   With the condition gone, what survives was decided by the state alone.
4. **Bias sets the timing** (Park et al. 2025, Sec. 4, bias type and strength): models trained on
   worlds where shape sets colour with probability rho; colour switched from the colour a shape
   usually has (A) to another (B): tau50(colour) and the switch success against rho. And a model
   trained on a world where one shape is rare: the shape switched to the rare one or to a common
   one (``rare_timing``).
5. **Early decisions make inference cheaper** (Yi et al. 2024, the acceleration by removing the
   text condition after the early stage): from step t on, the condition is dropped (one
   unconditional evaluation per step instead of the two of guidance); how many samples change any
   factor against the share of evaluations saved.

Every experiment batches all its trajectories (samples x switch points x factors): the
trajectories under the first condition in one batch, then every branch from them in another.
Fractions of the trajectory: tau = k / n_steps when the first k steps used A; 0 = switched before
the first step (all B), 1 = never switched (all A).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.isotonic import IsotonicRegression

from earlybias.claims import Claim, Experiment, at_least
from earlybias.data.shapes import FACTORS as WORLD_FACTORS
from earlybias.diffusion.model import BIAS_MAPPING, FACTORS, N_VALUES, RARE_SHAPE
from earlybias.diffusion.sampling import initial_noise, sample
from earlybias.validation import check_reals

__all__ = [
    "PARK",
    "YI",
    "random_conditions",
    "switched",
    "tau50",
    "bootstrap_rows",
    "bootstrap_tau50",
    "generation",
    "prompt_switch",
    "x0_readout",
    "readout_agreement",
    "resampling",
    "bias_timing",
    "rare_pairs",
    "rare_timing",
    "guidance_drop",
    "claim_generation_works",
    "claim_colour_early",
    "claim_order",
    "claim_x0_readout",
    "claim_resampling_stable",
    "claim_bias_shifts_timing",
    "claim_guidance_can_stop",
]

#: The papers' keys in book/references.bib (the report cites each claim's paper).
PARK = "park2025early"
YI = "yi2024mechanism"
#: Thresholds fixed before any run (the study's own: the papers give curves, not numbers).
GENERATION_MIN = 0.90
COLOUR_EARLY_MAX = 0.30
X0_MARGIN = 0.10
X0_MIN = 0.90
RESAMPLE_MIN = 0.90
DROP_MAX_CHANGE = 0.05
N_BOOT = 1000


def random_conditions(n: int, seed: int) -> torch.Tensor:
    """``n`` conditions (n, 5), every value of every factor equally likely."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(k, (n,), generator=g) for k in N_VALUES], dim=1)


def switched(cond: torch.Tensor, factor: int, seed: int) -> torch.Tensor:
    """``cond`` with ``factor`` moved to another value, drawn uniformly among the others."""
    g = torch.Generator().manual_seed(seed)
    k = N_VALUES[factor]
    out = cond.clone()
    out[:, factor] = (cond[:, factor] + torch.randint(1, k, (len(cond),), generator=g)) % k
    return out


def _steps(fractions, n_steps: int) -> np.ndarray:
    return np.rint(np.asarray(fractions) * n_steps).astype(int)


def tau50(fractions, p_keep) -> float:
    """The switch point where half the samples keep A: the increasing (isotonic) fit of P(keep A)
    against tau, crossed at one half by linear interpolation. 0 when the fit starts at or above
    one half; 1 when it never reaches it (the first condition never decided the factor)."""
    x = np.asarray(fractions, dtype=float)
    y = np.asarray(p_keep, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ValueError("fractions must be strictly increasing and match p_keep (at least two points)")
    fit = IsotonicRegression(increasing=True).fit_transform(x, y)
    if fit[0] >= 0.5:
        return float(x[0])
    above = np.nonzero(fit >= 0.5)[0]
    if not len(above):
        return 1.0
    k = above[0]
    x0, x1, y0, y1 = x[k - 1], x[k], fit[k - 1], fit[k]
    return float(x0 + (0.5 - y0) * (x1 - x0) / (y1 - y0))


def bootstrap_rows(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """Row indices (n_boot, n) of ``n_boot`` resamplings with replacement of ``n`` rows; the same
    ``seed`` gives the same resamplings, which pairs the bootstraps of several conditions."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_tau50(keep: np.ndarray, fractions, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """tau50 of ``n_boot`` resamplings (with replacement) of the rows of ``keep`` (n, S): each row
    one starting noise, its outcome at every switch point (the curve's samples are paired)."""
    keep = np.asarray(keep, dtype=float)
    idx = bootstrap_rows(len(keep), n_boot, seed)
    curves = keep[idx].mean(axis=1)
    return np.array([tau50(fractions, c) for c in curves])


def generation(
    model, judges, *, n: int, n_steps: int, guidance: float, sampler: str, seed: int
) -> Experiment:
    """Generation accuracy: ``n`` samples of random conditions; the share whose judged factor is
    the requested one, per factor (the precondition of every other experiment)."""
    cond = random_conditions(n, seed)
    x = initial_noise(n, model.config.image_size, seed + 1)
    out = sample(model, x, cond, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed)
    judged = judges.predict(out.final)
    acc = (judged == cond).float().mean(dim=0).numpy()
    metrics = {f"acc_{f}": float(a) for f, a in zip(FACTORS, acc)}
    metrics["acc_min"] = float(acc.min())
    return Experiment(metrics, {"cond": cond, "judged": judged, "images": out.final, "accuracy": acc})


def _switched_runs(model, x, a, b, ks, *, n_steps, guidance, sampler, seed, stop=False):
    """Every row of ``x`` (P, 3, S, S) run under condition ``a`` (P, 5), branched at every step of
    ``ks``: from the state before step k, condition ``b`` to the end (``stop``: no condition, one
    unconditional evaluation a step). Returns the unbranched run (``a`` to the end) and the
    branches, rows (P x len(ks)) in the order row, k.

    The trajectories that switch at k and at k' > k share their first k steps, so the A
    trajectories run once and each branch only from its switch on: with switch points spread
    over the trajectory this costs about half the evaluations of running every row from the
    start. With DDIM the result is the same trajectory; with DDPM the branches share the prefix's
    noise and draw their own after it."""
    P, S = len(x), len(ks)
    prefix = sample(
        model, x, a, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed, record_states=True
    )
    k = torch.from_numpy(np.tile(ks, P))
    rows = torch.arange(P).repeat_interleave(S)
    return prefix, sample(
        model,
        prefix.states[k, rows],
        b.repeat_interleave(S, dim=0),
        n_steps=n_steps,
        guidance=guidance,
        sampler=sampler,
        start_step=k,
        stop_step=k if stop else None,
        after_stop="condition",
        seed=seed + 1,
    )


def prompt_switch(
    model,
    judges,
    *,
    factors=FACTORS,
    n: int,
    n_steps: int,
    switch_points,
    guidance: float,
    sampler: str,
    seed: int,
    cond_a: torch.Tensor | None = None,
    cond_b: dict | None = None,
) -> Experiment:
    """Experiment 1: for each factor, ``n`` pairs (A, B) differing in that factor, each run with
    the switch at every point of ``switch_points``, all in one batch. ``data["keep"][f]`` (n, S):
    the final image keeps A's value; ``data["follow"][f]``: it has B's. ``cond_a``/``cond_b``
    (factor -> (n, 5)) replace the random pairs (experiment 4)."""
    fractions = check_reals("switch_points", switch_points, increasing=True)
    ks = _steps(fractions, n_steps)
    S, idx = len(ks), [FACTORS.index(f) for f in factors]
    base = random_conditions(n, seed) if cond_a is None else cond_a
    As, Bs = [], []
    for j, f in enumerate(idx):
        a = base if cond_a is not None else random_conditions(n, seed + 10 * j)
        b = cond_b[FACTORS[f]] if cond_b is not None else switched(a, f, seed + 10 * j + 1)
        As.append(a)
        Bs.append(b)
    A = torch.cat(As).repeat_interleave(S, dim=0)  # rows: factor, pair, switch point
    B = torch.cat(Bs).repeat_interleave(S, dim=0)
    noise = initial_noise(n, model.config.image_size, seed + 2)  # one noise per pair, every point
    _, out = _switched_runs(
        model,
        noise.repeat(len(idx), 1, 1, 1),
        torch.cat(As),
        torch.cat(Bs),
        ks,
        n_steps=n_steps,
        guidance=guidance,
        sampler=sampler,
        seed=seed,
    )
    judged = judges.predict(out.final).view(len(idx), n, S, len(FACTORS))
    A, B = A.view(len(idx), n, S, -1), B.view(len(idx), n, S, -1)
    keep, follow, metrics = {}, {}, {}
    for j, f in enumerate(idx):
        name = FACTORS[f]
        keep[name] = (judged[j, :, :, f] == A[j, :, :, f]).numpy()
        follow[name] = (judged[j, :, :, f] == B[j, :, :, f]).numpy()
        metrics[f"tau50_{name}"] = tau50(fractions, keep[name].mean(axis=0))
    return Experiment(
        metrics,
        {
            "fractions": np.array(fractions),
            "keep": keep,
            "follow": follow,
            "images": out.final.view(len(idx), n, S, *out.final.shape[1:]),
            "A": A[:, :, 0],
            "B": B[:, :, 0],
        },
    )


def x0_readout(
    model, judges, *, n: int, n_steps: int, guidance: float, sampler: str, seed: int
) -> Experiment:
    """Experiment 2: ``n`` unswitched trajectories; the judges read x̂0 at every step.
    ``data["agreement"]`` (n_steps, 5): share of samples whose x̂0 at step i has the final image's
    value of each factor; step i's fraction is i / n_steps (i steps done before it)."""
    cond = random_conditions(n, seed + 3)
    x = initial_noise(n, model.config.image_size, seed + 4)
    out = sample(
        model, x, cond, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed, record_x0=True
    )
    final = judges.predict(out.final)
    steps = judges.predict(out.x0.flatten(0, 1)).view(n_steps, n, len(FACTORS))
    agreement = (steps == final[None]).float().mean(dim=1).numpy()
    return Experiment({}, {"agreement": agreement, "x0": out.x0, "final": out.final, "cond": cond})


def agreement_at(agreement: np.ndarray, fraction: float, factor: str = "color") -> float:
    """x̂0's agreement for ``factor`` at the last step whose fraction i / n_steps <= ``fraction``."""
    n_steps = len(agreement)
    i = min(n_steps - 1, max(0, math.floor(fraction * n_steps + 1e-9)))
    return float(agreement[i, FACTORS.index(factor)])


def readout_agreement(agreement: np.ndarray, tau50_colour: float) -> float:
    """The x0-readout claim's value: x̂0's colour agreement at tau50(colour) + ``X0_MARGIN``, or 0
    when that point is the last step (or beyond): the last x̂0 is the sample itself, so agreement
    there is certain and says nothing about when colour could be read."""
    n_steps = len(agreement)
    if math.floor((tau50_colour + X0_MARGIN) * n_steps + 1e-9) >= n_steps - 1:
        return 0.0
    return agreement_at(agreement, tau50_colour + X0_MARGIN, "color")


def resampling(
    model, judges, *, n: int, k: int, n_steps: int, points, guidance: float, sampler: str, seed: int
) -> Experiment:
    """Experiment 3: ``n`` trajectories with guidance to the end (their final images are the
    reference); from the state after a fraction t of the steps (``points``), ``k`` continuations
    with fresh noise and no condition, all in one batch. ``data["survival"]`` (len(points), 5):
    share of continuations that end with the reference's value of each factor."""
    fractions = check_reals("points", points, increasing=True)
    ks = _steps(fractions, n_steps)
    if ks.max() >= n_steps:
        raise ValueError("resampling points must lie before the last step (fractions < 1)")
    cond = random_conditions(n, seed + 5)
    x = initial_noise(n, model.config.image_size, seed + 6)
    ref = sample(
        model, x, cond, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed, record_states=True
    )
    judged_ref = judges.predict(ref.final)
    R = len(ks)
    states = ref.states[torch.from_numpy(ks)]  # (R, n, 3, S, S)
    x_all = states[:, :, None].expand(R, n, k, *states.shape[2:]).reshape(R * n * k, *states.shape[2:])
    start = torch.from_numpy(np.repeat(ks, n * k))
    cond_all = cond.repeat(R, 1).repeat_interleave(k, dim=0)
    out = sample(
        model,
        x_all,
        cond_all,
        n_steps=n_steps,
        guidance=guidance,
        sampler="ddpm",
        start_step=start,
        stop_step=0,
        after_stop="condition",
        seed=seed + 7,
    )
    judged = judges.predict(out.final).view(R, n, k, len(FACTORS))
    survival = (judged == judged_ref[None, :, None]).float().mean(dim=(1, 2)).numpy()
    return Experiment({}, {"fractions": np.array(fractions), "survival": survival})


def survival_past(survival: np.ndarray, fractions, taus: dict[str, float]) -> dict[str, float]:
    """Each factor's survival at the first resampling point at or past its tau50; 0 for a factor
    whose tau50 lies past every point (not decided before the last one: not shown stable)."""
    fractions = np.asarray(fractions)
    out = {}
    for f, t in taus.items():
        later = np.nonzero(fractions >= t - 1e-9)[0]
        out[f] = float(survival[later[0], FACTORS.index(f)]) if len(later) else 0.0
    return out


def typical_pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Experiment 4's pairs: A has the colour its shape has in the correlated worlds
    (``BIAS_MAPPING``), B another colour; the other factors random."""
    a = random_conditions(n, seed)
    colour, shape = FACTORS.index("color"), FACTORS.index("shape")
    lookup = torch.tensor(
        [WORLD_FACTORS["color"].index(BIAS_MAPPING[s]) for s in WORLD_FACTORS["shape"]], dtype=torch.long
    )
    a[:, colour] = lookup[a[:, shape]]
    return a, switched(a, colour, seed + 1)


def bias_timing(
    models: dict[float, object], judges, *, n: int, n_steps: int, switch_points, guidance, sampler, seed
) -> Experiment:
    """Experiment 4: for each rho, the colour switch from a shape's usual colour to another, the
    same pairs and noises for every rho. ``metrics``: ``tau50_rho<rho>``, ``switch_success_rho<rho>``
    (P(final has B's colour), mean over switch points), ``tau50_shift`` and
    ``switch_success_shift`` (largest rho minus smallest); ``data["boot"][rho]`` bootstrap tau50s
    and ``data["success_boot"][rho]`` bootstrap switch successes, the same resampled rows for every
    rho (the design is paired)."""
    a, b = typical_pairs(n, seed + 20)
    sampling = dict(n_steps=n_steps, switch_points=switch_points, guidance=guidance, sampler=sampler)
    metrics, data = {}, {"curves": {}, "boot": {}, "follow": {}, "success_boot": {}}
    for rho, model in models.items():
        exp = prompt_switch(
            model, judges, factors=("color",), n=n, cond_a=a, cond_b={"color": b}, seed=seed + 21, **sampling
        )
        keep = exp.data["keep"]["color"]
        metrics[f"tau50_rho{rho:g}"] = exp.metrics["tau50_color"]
        metrics[f"switch_success_rho{rho:g}"] = float(exp.data["follow"]["color"].mean())
        data["curves"][rho] = keep.mean(axis=0)
        data["follow"][rho] = exp.data["follow"]["color"].mean(axis=0)
        data["boot"][rho] = bootstrap_tau50(keep, exp.data["fractions"], seed=seed)
        rows = bootstrap_rows(n, seed=seed)  # the rows of the tau50 bootstrap: paired
        data["success_boot"][rho] = exp.data["follow"]["color"].mean(axis=1)[rows].mean(axis=1)
        data["fractions"] = exp.data["fractions"]
    rhos = sorted(models)
    for name in ("tau50", "switch_success"):
        metrics[f"{name}_shift"] = metrics[f"{name}_rho{rhos[-1]:g}"] - metrics[f"{name}_rho{rhos[0]:g}"]
    return Experiment(metrics, data)


def rare_pairs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pairs for the rare-value half of experiment 4: A with a common shape (not ``RARE_SHAPE``),
    B_rare = A with the rare shape, B_common = A with another common shape; the rest random."""
    a = random_conditions(n, seed)
    s, rare = FACTORS.index("shape"), WORLD_FACTORS["shape"].index(RARE_SHAPE)
    common = torch.tensor([i for i in range(N_VALUES[s]) if i != rare])
    g = torch.Generator().manual_seed(seed + 1)
    pos = torch.randint(len(common), (n,), generator=g)
    a[:, s] = common[pos]
    to_rare, to_common = a.clone(), a.clone()
    to_rare[:, s] = rare
    to_common[:, s] = common[(pos + torch.randint(1, len(common), (n,), generator=g)) % len(common)]
    return a, to_rare, to_common


def rare_timing(
    models: dict[str, object], judges, *, n: int, n_steps: int, switch_points, guidance, sampler, seed
) -> Experiment:
    """Experiment 4, the rare value (Park et al. 2025, Sec. 4: bias of another type): for each model
    of ``models`` (name -> model, e.g. the balanced world's and the rare-value world's), the shape
    switched from a common one (A) to the rare one or to another common one (B), the same pairs and
    noises for every model. ``metrics``: ``switch_success_<to>_<name>`` (P(final has B's shape),
    mean over switch points) and ``tau50_<to>_<name>`` for ``to`` in rare, common;
    ``data["follow"][(to, name)]``: P(final has B's shape) at each switch point."""
    a, b_rare, b_common = rare_pairs(n, seed + 30)
    sampling = dict(n_steps=n_steps, switch_points=switch_points, guidance=guidance, sampler=sampler)
    metrics, data = {}, {"follow": {}}
    for name, model in models.items():
        for to, b in (("rare", b_rare), ("common", b_common)):
            exp = prompt_switch(
                model,
                judges,
                factors=("shape",),
                n=n,
                cond_a=a,
                cond_b={"shape": b},
                seed=seed + 31,
                **sampling,
            )
            follow = exp.data["follow"]["shape"]
            metrics[f"switch_success_{to}_{name}"] = float(follow.mean())
            metrics[f"tau50_{to}_{name}"] = exp.metrics["tau50_shape"]
            data["follow"][(to, name)] = follow.mean(axis=0)
            data["fractions"] = exp.data["fractions"]
    return Experiment(metrics, data)


def guidance_drop(
    model, judges, *, n: int, n_steps: int, stops, guidance: float, sampler: str, seed: int
) -> Experiment:
    """Experiment 5: ``n`` samples guided to the end (the reference) and the same starting noise
    with the condition dropped from each step of ``stops`` (fractions) on, in one batch.
    ``data["change"]``: share of samples with any factor changed; ``data["saving"]``: share of the
    reference's denoiser evaluations saved."""
    fractions = check_reals("stops", stops, increasing=True)
    ks = _steps(fractions, n_steps)
    cond = random_conditions(n, seed + 8)
    x = initial_noise(n, model.config.image_size, seed + 9)
    ref, out = _switched_runs(
        model, x, cond, cond, ks, n_steps=n_steps, guidance=guidance, sampler=sampler, seed=seed, stop=True
    )
    R = len(ks) + 1  # row block 0: the reference, guided to the end; block r: dropped at ks[r - 1]
    final = torch.cat([ref.final, out.final.view(n, len(ks), *x.shape[1:]).transpose(0, 1).flatten(0, 1)])
    judged = judges.predict(final).view(R, n, len(FACTORS))
    change = (judged[1:] != judged[0][None]).any(dim=2).float().mean(dim=1).numpy()
    per_factor = (judged[1:] != judged[0][None]).float().mean(dim=1).numpy()
    saving = (n_steps - ks) / (2 * n_steps)  # two evaluations per guided step, one after
    return Experiment(
        {}, {"fractions": np.array(fractions), "change": change, "per_factor": per_factor, "saving": saving}
    )


def drop_point(fractions, taus: dict[str, float], margin: float) -> int:
    """Index of the first stop point at or past every factor's tau50 plus ``margin`` (-1: none)."""
    need = max(taus.values()) + margin
    later = np.nonzero(np.asarray(fractions) >= need - 1e-9)[0]
    return int(later[0]) if len(later) else -1


# ---- claims: each can fail, and a unit test shows it failing on a constructed case ----


def claim_generation_works(accuracy: dict[str, float]) -> Claim:
    worst = min(accuracy, key=accuracy.get)
    return at_least(
        "generation-works",
        PARK,
        f"Precondition of every experiment (below it a switch measures the model's failures, not its "
        f"decisions): generation accuracy (judged factor = requested factor) is at least 90 % for "
        f"every factor; the worst is {worst}.",
        accuracy[worst],
        GENERATION_MIN,
    )


def claim_colour_early(tau50_color: float) -> Claim:
    return Claim(
        "colour-early",
        PARK,
        "Colour is fixed in the first steps (Park et al., Sec. 4): its tau50 lies in the first 30 % "
        "of the steps.",
        float(tau50_color),
        f"<= {COLOUR_EARLY_MAX:g}",
        bool(tau50_color <= COLOUR_EARLY_MAX),
    )


def claim_order(boot_texture: np.ndarray, boot_colour: np.ndarray) -> Claim:
    """Bootstrap 95 % interval of tau50(texture) - tau50(colour), independent samples per factor;
    measured is its lower end, which must lie above 0."""
    diff = np.asarray(boot_texture) - np.asarray(boot_colour)
    lo = float(np.quantile(diff, 0.025))
    return Claim(
        "order",
        PARK,
        "Colour is decided before material (Park et al., Sec. 4), here texture: the lower end of the "
        "bootstrap 95 % interval of tau50(texture) - tau50(colour) is above 0.",
        lo,
        "> 0",
        bool(lo > 0),
    )


def claim_x0_readout(agreement_color: float) -> Claim:
    return at_least(
        "x0-readout",
        YI,
        "The decision can be read off the predicted clean image soon after it is made (Yi et al.: the "
        "main content is visible in the early x̂0): x̂0's colour agrees with the final colour for at "
        "least 90 % of samples by step tau50(colour) + 10 % of the steps, a point before the last "
        "step (past it x̂0 is the final image, and agreement proves nothing: counted as 0).",
        agreement_color,
        X0_MIN,
    )


def claim_resampling_stable(survival: dict[str, float]) -> Claim:
    worst = min(survival, key=lambda f: survival[f])
    return at_least(
        "resampling-stable",
        PARK,
        f"Once decided, a property stays (Park et al.): past each factor's tau50, the factor "
        f"survives resampling (fresh noise, no condition) in at least 90 % of the continuations; "
        f"the worst is {worst}.",
        survival[worst],
        RESAMPLE_MIN,
    )


def claim_bias_shifts_timing(success: dict[float, float], boots: dict[float, np.ndarray]) -> Claim:
    """Monotone in rho over the levels, and the bootstrap 95 % interval of the change from the
    smallest to the largest rho excludes 0. ``success``: switch success per rho (``bias_timing``),
    ``boots``: its paired bootstrap draws.

    Timing is measured by the switch success rather than tau50: where a factor is
    decided in the last steps for every rho, tau50 is the crossing of nearly flat curves near the
    end, and a change of a hundredth decides its monotonicity; the switch success averages the
    whole curve, how far into the trajectory the factor can still be changed."""
    rhos = sorted(success)
    values = np.array([success[r] for r in rhos])
    steps = np.diff(values)
    monotone = bool(np.all(steps > 0) or np.all(steps < 0))
    diff = np.asarray(boots[rhos[-1]]) - np.asarray(boots[rhos[0]])
    lo, hi = np.quantile(diff, [0.025, 0.975])
    shift = float(values[-1] - values[0])
    return Claim(
        "bias-shifts-timing",
        PARK,
        f"The timing depends on the strength of bias (Park et al., Sec. 4): the switch success of the "
        f"correlated factor (colour; the share of switched samples that end with the new colour, "
        f"averaged over the switch points) moves monotonically with rho over "
        f"{', '.join(f'{r:g}' for r in rhos)}, and the bootstrap 95 % interval of its change from "
        f"rho = {rhos[0]:g} to {rhos[-1]:g} excludes 0 (interval [{lo:.3f}, {hi:.3f}]).",
        shift,
        "monotone, interval excludes 0",
        bool(monotone and (lo > 0 or hi < 0)),
    )


def claim_guidance_can_stop(change_rate: float, saving: float, at: float) -> Claim:
    return Claim(
        "guidance-can-stop",
        YI,
        f"Removing the condition after the early stage barely changes the output (Yi et al.): "
        f"dropping the condition from tau = {at:.2f} on (every factor past its tau50 plus the margin) "
        f"changes a factor in at most 5 % of samples, saving {saving:.0%} of the "
        "denoiser evaluations.",
        float(change_rate),
        f"<= {DROP_MAX_CHANGE:g}",
        bool(change_rate <= DROP_MAX_CHANGE),
    )


def chapter_models(
    *,
    seed: int,
    train_steps: int,
    image_size: int,
    width: int,
    bias_rho,
    rare_share: float = 0.0,
    progress: bool = True,
):
    """The judges and the trained models, from the cache or trained: one per rho of ``bias_rho``
    (rho = 0: the main model) and, when ``rare_share`` > 0, one on the rare-value world (crosses a
    share ``rare_share`` of the images). Returns ``(judges, {rho: model}, rare model or None,
    {"seconds": training seconds spent now, "train_seconds": what training the models took, now
    or when cached, "n_params"})``."""
    from earlybias.diffusion.judges import JudgeConfig, trained_judges
    from earlybias.diffusion.model import ModelConfig, Training, n_parameters, trained_model

    judges = trained_judges(JudgeConfig(image_size=image_size, seed=seed))
    worlds = [{"rho": rho} for rho in sorted({0.0, *map(float, bias_rho)})]
    if rare_share > 0:
        worlds.append({"rare": float(rare_share)})
    trained, seconds, recorded = [], 0.0, 0.0
    for w in worlds:
        config = ModelConfig(
            image_size=image_size,
            channels=(width, 2 * width),
            training=Training(steps=train_steps),
            seed=seed,
            **w,
        )
        model, info = trained_model(config, progress=progress)
        trained.append(model)
        seconds += info["seconds"]
        recorded += info["train_seconds"]
    models = {w["rho"]: m for w, m in zip(worlds, trained) if "rho" in w}
    rare = trained[-1] if rare_share > 0 else None
    info = {"seconds": seconds, "train_seconds": recorded, "n_params": n_parameters(models[0.0])}
    return judges, models, rare, info
