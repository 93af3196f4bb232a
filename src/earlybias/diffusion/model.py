"""The generative model: a small conditional DDPM on the shapes world, built from diffusers parts.

**The world.** ``world(rho)`` is the shapes world (``earlybias.data.shapes``) with the nuisance
that a generator need not learn switched off (no occluder, no pixel noise, large objects without
a ring), so that every pixel is the object's factors. The model is conditioned on the five
factors that still vary (``FACTORS``: colour, shape, texture, position, background). With
``rho > 0`` shape sets colour with probability ``rho`` (``BIAS_MAPPING``: circles red, squares
green, ...): the correlated worlds of experiment 4.

**The forward process** (Ho et al. 2020, Eq. 4; Park et al. 2025, Sec. 2 use the same DDPM):

    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,     eps ~ N(0, I),

with the cosine schedule of abar_t (Nichol & Dhariwal 2021), images scaled to [-1, 1].

**The denoiser** is diffusers' ``UNet2DModel`` seeing the image as 2 x 2 patches (pixel-unshuffle
16 x 16 x 3 to 8 x 8 x 12, as in "simple diffusion", Hoogeboom et al. 2023): the same detail at a
quarter of the cost. Each factor has its own embedding table with one extra "null" row; the
embeddings are summed and added to the time embedding (``class_embed_type="identity"``) and act on
every residual block through a scale and a shift (``resnet_time_scale_shift="scale_shift"``).

**The loss** is the mean squared error of the network's output against its target
(``prediction``): eps (Ho et al. 2020, Eq. 14), the clean image x_0 (the default: measured best,
``TRAINING_NOTES``), or v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022). The three
are the same loss up to a weight per timestep: ||eps - eps_hat||^2 = abar / (1 - abar) ||x_0 - x̂0||^2.

**Condition dropout**: with probability ``p_uncond``
every factor of a training example is replaced by its null row, so one network gives both the
conditional and the unconditional prediction that classifier-free guidance combines
(Ho & Salimans 2022, Eq. 6; ``guide``).

**What the training choices bought** (measured on the study's 2-core machine while designing the
chapter, generation accuracy judged on 500 samples; see the chapter's "model" section): per-factor
embeddings instead of one label for the combination, EMA weights, a warm-up and cosine decay of
the learning rate, and the scale-shift conditioning; the numbers are in ``TRAINING_NOTES``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

# No hub: nothing in this chapter is fetched (DESIGN.md, "No downloads at run time").
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

from earlybias.data.shapes import FACTORS as WORLD_FACTORS
from earlybias.data.shapes import Coupling, ShapesWorld, make_shapes
from earlybias.validation import check_choice, check_int, check_real, check_seed

__all__ = [
    "FACTORS",
    "N_VALUES",
    "BIAS_MAPPING",
    "RARE_SHAPE",
    "PREDICTIONS",
    "world",
    "training_data",
    "Training",
    "ModelConfig",
    "Denoiser",
    "make_scheduler",
    "forward_process",
    "x0_from_eps",
    "guide",
    "train",
    "trained_model",
    "TRAINING_NOTES",
]

#: The factors the model is conditioned on, in the order of a condition's columns.
FACTORS: tuple[str, ...] = ("color", "shape", "texture", "position", "background")
#: Number of values of each factor.
N_VALUES: tuple[int, ...] = tuple(len(WORLD_FACTORS[f]) for f in FACTORS)
#: The correlated worlds: shape sets colour (experiment 4).
BIAS_MAPPING = {"circle": "red", "square": "green", "triangle": "blue", "cross": "yellow"}
#: The shape made rare in the rare-value world of experiment 4 (``world(rare=...)``).
RARE_SHAPE = "cross"
PREDICTIONS = ("epsilon", "sample", "v_prediction")

#: What each training choice bought, measured while designing the chapter on the study's 2-core
#: machine (one thread, the machine shared with two other jobs; width 32, batch 128, lr 2e-3 to
#: 3e-3, EMA, warm-up and cosine decay, per-factor embeddings with scale-shift conditioning;
#: generation accuracy on 200 samples, 20 DDIM steps, in FACTORS order).
TRAINING_NOTES: dict[str, str] = {
    "cost": "a training step at batch 128 takes 0.3 s (width 32) to 0.55-0.8 s (width 48) on one "
    "loaded core: the 3 x 3 convolutions and their backward pass are 73 % of the time",
    "epsilon target": "after 1,500 steps: 0.48 / 0.45 / 0.67 / 0.77 / 0.88 at guidance 3 and "
    "0.48 / 0.36 / 0.63 / 0.78 / 0.57 at guidance 1; samples keep visible residual noise",
    "x0 target": "after 400 steps already 0.995 / 0.52 / 0.74 / 1.0 / 1.0 at guidance 1 "
    "(0.91 / 0.47 / 0.79 / 0.77 / 0.90 at guidance 3: guidance overshoots)",
    "v target": "after 400 steps 0.945 / 0.36 / 0.67 / 0.97 / 1.0 at guidance 1",
    "training steps (x0 target, width 32, the world's uneven priors, 200 samples, guidance 1.5)": (
        "300 steps: 1.0 / 0.505 / 0.645 / 1.0 / 1.0; 600: 1.0 / 0.735 / 0.825 / 1.0 / 1.0; "
        "900: 1.0 / 0.87 / 0.955 / 1.0 / 1.0; 1,200: 1.0 / 0.915 / 0.965 / 1.0 / 1.0 "
        "(0.21 s per step on one loaded core)"
    ),
    "rare values": "with the world's uneven priors the rare values come last: at 600 steps a requested "
    "cross was drawn in 0.46 of the samples and a circle in 0.96, dotted in 0.72 and solid in 1.0; "
    "at 1,200 steps square (0.83) and cross (0.90) were still the weakest. Hence the balanced world",
    "guidance scale (same model, 1,200 steps)": "w = 1: 0.995 / 0.875 / 0.95 / 0.995 / 1.0; "
    "w = 1.5: 1.0 / 0.915 / 0.965 / 1.0 / 1.0; w = 2.5: 1.0 / 0.815 / 0.94 / 0.80 / 0.99 "
    "(x0 clipped to [-1, 1] overshoots: position and shape suffer). The chapter samples at 1.5",
    "balanced world (x0 target, width 32, 1,200 steps, 500 samples, guidance 1.5)": "1.0 / 0.942 / "
    "0.988 / 1.0 / 1.0 (square 0.84 the weakest value); 0.996 / 0.928 / 0.932 / 1.0 / 1.0 with the v "
    "target; training 207 s (x0) and 318 s (v) on one loaded core",
    "EMA (balanced world, x0 target, 1,200 steps, 500 samples, 12-epoch judges, w = 1.5)": "without "
    "EMA 1.0 / 0.95 / 0.996 / 1.0 / 1.0 against 1.0 / 0.934 / 0.994 / 1.0 / 1.0 with it (the chapter's "
    "seed-0 model): at this length the EMA (decay 0.999 with warm-up) buys nothing measurable; kept "
    "as the field's default",
    "per-factor embeddings (same setting)": "one label per combination of the five factors instead: "
    "0.99 / 0.552 / 0.676 / 1.0 / 0.998: shape and texture, whose combinations each label sees "
    "rarely, are far from followed; the per-factor tables share what a value looks like across "
    "combinations. The learning-rate schedule was not ablated in the final setting",
    "judges (held-out shape accuracy, the hardest factor; the others 0.9995-1.0)": "4 epochs 0.94; "
    "8 epochs 0.9735 (seed 0) and 0.967 (seed 1, below the 0.97 required); 12 epochs 0.988 for both "
    "seeds (100 s on one loaded core): the chapter trains 12",
    "colour timing against the design (32 pairs, tau50 of colour / texture / background)": (
        "x0 target: DDIM w = 1.5, 20 steps 0.85 / 0.84 / 0.45 (the chapter's run, 64 pairs); DDIM w = 1 "
        "0.95 / 0.92 / 0.34; DDIM 50 steps 0.95 / 0.95 / 0.45; DDPM 0.95 / 0.94 / 0.54. v target: DDIM "
        "w = 1.5 0.83 / 0.68 / 0.32; w = 1 0.68 / 0.63 / 0.26; 50 steps 0.77 / 0.72 / 0.29; DDPM "
        "0.82 / 0.73 / 0.37. Colour is decided late under every target, sampler and guidance scale "
        "tried; the v target, whose x̂0 leans on x_t at low noise, decides everything earlier"
    ),
}


def world(rho: float = 0.0, image_size: int = 16, balanced: bool = True, rare: float = 0.0) -> ShapesWorld:
    """The shapes world the model learns: large objects, no occluder, ring or pixel noise; with
    ``rho > 0`` shape sets colour with probability ``rho`` (``BIAS_MAPPING``).

    ``balanced``: every value of the five factors equally likely before the coupling, so that the
    only bias of a world is the one the chapter sets (``rho``, or ``rare``: a share of ``rare``
    crosses, ``RARE_SHAPE``, the other shapes equally likely; 0 for none). With the shapes world's
    own uneven priors (crosses 8 %, dotted 15 %) the model learns the rare values far later: at 600
    training steps it drew a requested cross in 0.46 of the samples and a circle in 0.96
    (``TRAINING_NOTES``).
    """
    rho = check_real("rho", rho, 0.0, 1.0)
    shapes = WORLD_FACTORS["shape"]
    rare = check_real("rare", rare, 0.0, 1 / len(shapes))
    if rare and not balanced:
        raise ValueError("rare: a rare shape needs balanced=True (every other value equally likely)")
    couplings = (Coupling("shape", "color", rho, BIAS_MAPPING),) if rho > 0 else ()
    priors = {"size": (0.0, 1.0), "outline": (1.0, 0.0)}
    if balanced:
        priors |= {f: tuple([1 / len(WORLD_FACTORS[f])] * len(WORLD_FACTORS[f])) for f in FACTORS}
    if rare:
        common = (1 - rare) / (len(shapes) - 1)
        priors["shape"] = tuple(rare if s == RARE_SHAPE else common for s in shapes)
    return ShapesWorld(
        image_size=image_size,
        couplings=couplings,
        noise=0.0,
        occlusion=0.0,
        brightness=0.1,
        priors=priors,
    )


def training_data(
    n: int, seed: int, rho: float = 0.0, image_size: int = 16, balanced: bool = True, rare: float = 0.0
):
    """``n`` images of ``world(rho, image_size, balanced, rare)`` in [-1, 1] (n, 3, S, S) and their
    conditions (n, 5) int64."""
    data = make_shapes(n, seed, world(rho, image_size, balanced, rare))
    cond = torch.from_numpy(np.stack([data.factors[f] for f in FACTORS], axis=1).astype(np.int64))
    return data.images * 2 - 1, cond


@dataclass(frozen=True)
class Training:
    """How a denoiser is trained: AdamW ``steps`` on batches of ``batch_size``, peak learning rate
    ``lr`` reached after a linear ``warmup`` and then decayed on a cosine (``cosine``) or held, the
    EMA decay of the weights that sample (0: no EMA), and the condition dropout ``p_uncond`` that
    classifier-free guidance needs (module docstring)."""

    steps: int = 1200
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 200
    cosine: bool = True
    ema: float = 0.999
    p_uncond: float = 0.15

    def __post_init__(self):
        check_int("train_steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0.0, low_open=True)
        check_int("warmup", self.warmup, 0)
        check_real("ema", self.ema, 0.0, 1.0)
        check_real("p_uncond", self.p_uncond, 0.0, 1.0)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that sets a trained model (its cache key).

    The denoiser: image side, UNet channels per level, self-attention, patch side, prediction
    target, one embedding table per factor, scale-shift conditioning. Its training
    (``Training``). The data: images drawn, the world's shape-colour coupling, the share of the
    rare shape (0: none), equal priors, and the seed of it all."""

    image_size: int = 16
    channels: tuple[int, ...] = (32, 64)
    attention: bool = True
    patch: int = 2
    prediction: str = "sample"
    per_factor: bool = True
    scale_shift: bool = True
    training: Training = Training()
    n_train_images: int = 20000
    rho: float = 0.0
    rare: float = 0.0
    balanced: bool = True
    seed: int = 0

    def __post_init__(self):
        check_int("image_size", self.image_size, 8, 64)
        check_int("patch", self.patch, 1, 4)
        if self.image_size % (self.patch * 2 ** (len(self.channels) - 1)):
            raise ValueError(
                f"image_size ({self.image_size}) must be divisible by patch x 2^(levels - 1) "
                f"({self.patch} x {2 ** (len(self.channels) - 1)})"
            )
        check_choice("prediction", self.prediction, PREDICTIONS)
        world(self.rho, self.image_size, self.balanced, self.rare)  # validates rho and rare
        check_seed(self.seed)


class Denoiser(torch.nn.Module):
    """``UNet2DModel`` on 2 x 2 patches, conditioned on the factors (module docstring).

    ``forward(x, t, cond)``: x (B, 3, S, S) noisy images, t the timestep (a number or (B,)),
    cond (B, 5) factor codes with -1 for "no condition" (the null row). Returns the prediction of
    ``config.prediction`` (B, 3, S, S).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        from diffusers import UNet2DModel

        self.config = config
        c, p = config.channels, config.patch
        dim = 4 * c[0]  # UNet2DModel's time-embedding width
        down = ["DownBlock2D"] * len(c)
        up = ["UpBlock2D"] * len(c)
        if config.attention:  # self-attention at the coarsest level only: 16 tokens, cheap
            down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
        self.unet = UNet2DModel(
            sample_size=config.image_size // p,
            in_channels=3 * p * p,
            out_channels=3 * p * p,
            block_out_channels=tuple(c),
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            layers_per_block=1,
            norm_num_groups=16,
            attention_head_dim=32,
            class_embed_type="identity",
            resnet_time_scale_shift="scale_shift" if config.scale_shift else "default",
        )
        if config.per_factor:
            self.embed = torch.nn.ModuleList(torch.nn.Embedding(k + 1, dim) for k in N_VALUES)
        else:  # the naive baseline: one label per combination of the five factors
            self.embed = torch.nn.Embedding(int(np.prod(N_VALUES)) + 1, dim)
        for e in self.embed.modules():
            if isinstance(e, torch.nn.Embedding):
                torch.nn.init.normal_(e.weight, std=0.5)

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The condition's embedding (B, dim): the sum of each factor's row (the null row for -1)."""
        if self.config.per_factor:
            return sum(
                table(torch.where(cond[:, f] < 0, N_VALUES[f], cond[:, f]))
                for f, table in enumerate(self.embed)
            )
        null = (cond < 0).any(dim=1)
        code = torch.zeros(len(cond), dtype=torch.long)
        for f, k in enumerate(N_VALUES):
            code = code * k + cond[:, f].clamp(min=0)
        return self.embed(torch.where(null, int(np.prod(N_VALUES)), code))

    def forward(self, x: torch.Tensor, t, cond: torch.Tensor) -> torch.Tensor:
        p = self.config.patch
        h = F.pixel_unshuffle(x, p) if p > 1 else x
        out = self.unet(h, t, class_labels=self.condition(cond)).sample
        return F.pixel_shuffle(out, p) if p > 1 else out


def make_scheduler(sampler: str = "ddim", prediction: str = "epsilon", n_train_timesteps: int = 1000):
    """A diffusers scheduler with the cosine schedule: ``DDPMScheduler`` (ancestral sampling,
    Ho et al. 2020, Alg. 2) or ``DDIMScheduler`` (Song et al. 2021, Eq. 12 with eta = 0: one
    deterministic path per starting noise). Its ``step`` returns ``pred_original_sample`` = x̂0."""
    from diffusers import DDIMScheduler, DDPMScheduler

    check_choice("sampler", sampler, ("ddpm", "ddim"))
    check_choice("prediction", prediction, PREDICTIONS)
    cls = DDIMScheduler if sampler == "ddim" else DDPMScheduler
    return cls(
        num_train_timesteps=n_train_timesteps,
        beta_schedule="squaredcos_cap_v2",
        prediction_type=prediction,
        clip_sample=True,
        clip_sample_range=1.0,
    )


def forward_process(x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. 2020, Eq. 4); ``abar`` (B,)."""
    a = abar.reshape(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


def x0_from_eps(xt: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor) -> torch.Tensor:
    """x̂0 = (x_t - sqrt(1 - abar_t) epŝ) / sqrt(abar_t) (Ho et al. 2020, Eq. 15): the clean image
    the denoiser predicts at step t, what the scheduler returns as ``pred_original_sample``."""
    a = abar.reshape(-1, *([1] * (xt.dim() - 1)))
    return (xt - (1 - a).sqrt() * eps) / a.sqrt()


def guide(uncond: torch.Tensor, cond: torch.Tensor, scale) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022, Eq. 6): u + w (c - u). ``scale`` w is a number
    or a (B,) tensor (one per sample); w = 1 is the conditional prediction, w = 0 the unconditional."""
    w = torch.as_tensor(scale, dtype=cond.dtype)
    if w.dim() == 1:
        w = w.reshape(-1, *([1] * (cond.dim() - 1)))
    return uncond + w * (cond - uncond)


def _target(scheduler, x0, eps, t, prediction):
    if prediction == "epsilon":
        return eps
    if prediction == "sample":
        return x0
    return scheduler.get_velocity(x0, eps, t)


def train(
    config: ModelConfig, *, progress: bool = False, log_every: int = 0, evaluate=None, eval_every: int = 0
) -> tuple[Denoiser, dict]:
    """Train a ``Denoiser`` from ``config.seed``; returns the EMA model and a log (seconds, losses).

    One step: a batch of the fixed training set, a uniform timestep and fresh noise per image,
    condition dropout, the MSE of the prediction (module docstring); AdamW with a linear warm-up
    and cosine decay of the learning rate; an exponential moving average of the weights
    (diffusers' ``EMAModel``) gives the model that samples. ``evaluate(model)``, called every
    ``eval_every`` steps with the EMA weights in place, returns a dict kept in the log (``evals``).
    """
    from diffusers.optimization import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    run = config.training
    torch.manual_seed(config.seed)
    model = Denoiser(config)
    images, cond = training_data(
        config.n_train_images, config.seed, config.rho, config.image_size, config.balanced, config.rare
    )
    scheduler = make_scheduler("ddpm", config.prediction)
    abar = scheduler.alphas_cumprod
    gen = torch.Generator().manual_seed(config.seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, weight_decay=0.0)
    sched = (
        get_cosine_schedule_with_warmup(opt, run.warmup, run.steps)
        if run.cosine
        else get_constant_schedule_with_warmup(opt, run.warmup)
    )
    ema = EMAModel(model.parameters(), decay=run.ema, use_ema_warmup=True, power=3 / 4) if run.ema else None
    losses, evals = [], []
    start = time.perf_counter()
    for step in tqdm(range(run.steps), disable=not progress, desc="training the denoiser"):
        idx = torch.randint(len(images), (run.batch_size,), generator=gen)
        x0, c = images[idx], cond[idx].clone()
        drop = torch.rand(run.batch_size, generator=gen) < run.p_uncond
        c[drop] = -1
        t = torch.randint(scheduler.config.num_train_timesteps, (run.batch_size,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        xt = forward_process(x0, eps, abar[t])
        loss = F.mse_loss(model(xt, t, c), _target(scheduler, x0, eps, t, config.prediction))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if ema is not None:
            ema.step(model.parameters())
        losses.append(loss.item())
        if evaluate is not None and eval_every and (step + 1) % eval_every == 0:
            if ema is not None:
                ema.store(model.parameters())
                ema.copy_to(model.parameters())
            model.eval()
            evals.append({"step": step + 1, "seconds": time.perf_counter() - start, **evaluate(model)})
            model.train()
            if ema is not None:
                ema.restore(model.parameters())
        if log_every and (step + 1) % log_every == 0:
            seconds = time.perf_counter() - start
            print(f"step {step + 1}: loss {np.mean(losses[-log_every:]):.4f} ({seconds:.0f} s)")
    if ema is not None:
        ema.copy_to(model.parameters())
    model.eval()
    return model, {"seconds": time.perf_counter() - start, "losses": losses, "evals": evals}


#: Bumped whenever training changes what a config produces.
MODEL_VERSION = 1


def trained_model(config: ModelConfig, *, cache_dir=None, progress: bool = False) -> tuple[Denoiser, dict]:
    """The model of ``config`` from the cache (``earlybias.zoo.tensorcache``), trained and cached
    when absent. Returns the model and ``{"seconds": training seconds spent now (0 from the
    cache), "train_seconds": what training it took, now or when it was cached, "cached": bool}``."""
    from earlybias.zoo.tensorcache import cache_path, load_metadata, load_tensors, save_tensors

    key = asdict(config)
    path = cache_path("diffusion-model", key, MODEL_VERSION, cache_dir)
    if path.is_file():
        model = Denoiser(config)
        model.load_state_dict(load_tensors(path))
        model.eval()
        recorded = load_metadata(path).get("train_seconds", float("nan"))
        return model, {"seconds": 0.0, "train_seconds": recorded, "cached": True}
    model, log = train(config, progress=progress)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_tensors(path, state, {"kind": "diffusion-model", "config": key, "train_seconds": log["seconds"]})
    return model, {
        "seconds": log["seconds"],
        "train_seconds": log["seconds"],
        "cached": False,
        "final_loss": float(np.mean(log["losses"][-100:])),
    }


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
