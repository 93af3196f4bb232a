"""Sampling: every trajectory of an experiment in one batch, each with its own condition schedule.

One call runs B trajectories side by side through the scheduler's steps i = 0 .. n_steps - 1
(step 0 is the noisiest; a trajectory's "fraction" i / n_steps is the share of the steps done).
Each row has its own:

- condition ``cond`` (B, 5), replaced by ``switch_cond`` from step ``switch_step`` on: the prompt
  switch of Park et al. (2025, Sec. 3), condition A for the first steps, then B;
- guidance: classifier-free guidance (Ho & Salimans 2022, Eq. 6) with scale ``guidance`` until
  step ``stop_step``; from there ``after_stop`` says what the one remaining evaluation is: the
  unconditional prediction (``"condition"``: the condition is dropped, as Yi et al. 2024 drop the
  text prompt after the early stage) or the conditional one (``"guidance"``: guidance stops).
  Only the evaluations a row needs are made, so the count of denoiser evaluations is real.

``sampler="ddim"`` is deterministic (eta = 0): a row's final image is a function of its starting
noise and its schedule, so a switch at another step changes nothing else. ``"ddpm"`` draws fresh
noise at every step (ancestral sampling). ``start_step`` (a number or (B,)) with ``x`` the states at
those steps continues trajectories: the resampling experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from earlybias.diffusion.model import FACTORS, guide, make_scheduler
from earlybias.validation import check_choice, check_int

__all__ = ["Trajectories", "sample", "initial_noise"]


@dataclass
class Trajectories:
    """What ``sample`` returns: ``final`` images (B, 3, S, S) in [-1, 1]; ``x0`` (n_steps, B, 3, S,
    S) the predicted clean image at each step when recorded; ``states`` (n_steps + 1, B, 3, S, S)
    x before each step (and the final) when recorded; ``evaluations`` the denoiser evaluations."""

    final: torch.Tensor
    x0: torch.Tensor | None
    states: torch.Tensor | None
    evaluations: int


def initial_noise(n: int, image_size: int, seed: int) -> torch.Tensor:
    """Starting noise x_T of ``n`` trajectories drawn from ``seed``."""
    return torch.randn(n, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))


def _per_row(value, B: int, dtype) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=dtype)
    return t.expand(B).clone() if t.dim() == 0 else t


@torch.no_grad()
def sample(
    model,
    x: torch.Tensor,
    cond: torch.Tensor,
    *,
    n_steps: int = 20,
    guidance=3.0,
    sampler: str = "ddim",
    switch_cond: torch.Tensor | None = None,
    switch_step=None,
    stop_step=None,
    after_stop: str = "condition",
    start_step=0,
    seed: int = 0,
    record_x0: bool = False,
    record_states: bool = False,
    chunk: int = 2048,
) -> Trajectories:
    """Run the B trajectories of ``x`` (noise, or states at ``start_step``) to the end (module
    docstring). ``switch_step``/``stop_step``: a step index (number or (B,)); default never."""
    check_choice("sampler", sampler, ("ddpm", "ddim"))
    check_choice("after_stop", after_stop, ("condition", "guidance"))
    n_steps = check_int("n_steps", n_steps, 1)
    B = len(x)
    start_step = _per_row(start_step, B, torch.long)
    if start_step.min() < 0 or start_step.max() > n_steps:
        raise ValueError(f"start_step must lie in [0, {n_steps}]")
    if cond.shape != (B, len(FACTORS)):
        raise ValueError(f"cond must be ({B}, {len(FACTORS)}) factor codes, got {tuple(cond.shape)}")
    switch_cond = cond if switch_cond is None else switch_cond
    switch_step = _per_row(n_steps if switch_step is None else switch_step, B, torch.long)
    stop_step = _per_row(n_steps if stop_step is None else stop_step, B, torch.long)
    scale = _per_row(guidance, B, torch.float32)
    scheduler = make_scheduler(sampler, model.config.prediction)
    scheduler.set_timesteps(n_steps)
    gen = torch.Generator().manual_seed(seed)
    null = torch.full_like(cond, -1)
    x = x.clone()
    x0s = [] if record_x0 else None
    states = [x.clone()] if record_states else None
    evaluations = 0
    for i, t in enumerate(scheduler.timesteps):
        active = i >= start_step
        if not active.any():
            continue
        c = torch.where((i < switch_step)[:, None], cond, switch_cond)
        guided = i < stop_step
        # Rows still guided need the conditional and the unconditional prediction; the others one.
        need_c = active & (guided | (after_stop == "guidance"))
        need_u = active & (guided | (after_stop == "condition"))
        rows_c, rows_u = need_c.nonzero()[:, 0], need_u.nonzero()[:, 0]
        inputs = torch.cat([x[rows_c], x[rows_u]])
        conds = torch.cat([c[rows_c], null[rows_u]])
        out = torch.cat(
            [model(inputs[j : j + chunk], t, conds[j : j + chunk]) for j in range(0, len(inputs), chunk)]
        )
        evaluations += len(inputs)
        pred_c = torch.zeros_like(x)
        pred_u = torch.zeros_like(x)
        pred_c[rows_c] = out[: len(rows_c)]
        pred_u[rows_u] = out[len(rows_c) :]
        w = torch.where(guided, scale, torch.where(torch.tensor(after_stop == "guidance"), 1.0, 0.0))
        pred = guide(pred_u, pred_c, w)
        if sampler == "ddim":
            step = scheduler.step(pred, t, x, eta=0.0)
        else:
            step = scheduler.step(pred, t, x, generator=gen)
        x = torch.where(active[:, None, None, None], step.prev_sample, x)
        if record_x0:
            x0s.append(step.pred_original_sample.clamp(-1, 1))
        if record_states:
            states.append(x.clone())
    return Trajectories(
        x.clamp(-1, 1),
        torch.stack(x0s) if record_x0 else None,
        torch.stack(states) if record_states else None,
        evaluations,
    )
