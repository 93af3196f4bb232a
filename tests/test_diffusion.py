"""Chapter diffusion: the equations, the sampler's bookkeeping, tau50 and the claims' failing cases."""

import math

import numpy as np
import pytest
import torch
from conftest import ROOT

from earlybias import diffusion
from earlybias.diffusion import experiments as ex
from earlybias.diffusion import model as dm
from earlybias.diffusion.sampling import initial_noise, sample
from earlybias.params import ParamError, load_profiles, resolve

TINY = dm.ModelConfig(
    channels=(16, 32), training=dm.Training(steps=2, batch_size=8, warmup=1), n_train_images=64
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = dm.Denoiser(TINY)
    model.eval()
    return model


def test_light_module_literals_match_the_implementation():
    from earlybias.diffusion import sampling  # noqa: F401

    assert diffusion.FACTORS == dm.FACTORS
    assert set(diffusion.SAMPLERS) == {"ddim", "ddpm"}


def test_forward_process_is_the_closed_form_of_diffusers():
    sched = dm.make_scheduler("ddpm")
    x0, eps = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    t = torch.tensor([0, 10, 500, 999])
    ours = dm.forward_process(x0, eps, sched.alphas_cumprod[t])
    assert torch.allclose(ours, sched.add_noise(x0, eps, t), atol=1e-6)
    # The marginal at t is N(sqrt(abar) x0, (1 - abar) I): abar -> 0 is pure noise.
    assert torch.allclose(dm.forward_process(x0, eps, torch.zeros(4)), eps)


def test_x0_from_eps_inverts_the_forward_process_and_matches_the_scheduler():
    x0, eps = torch.rand(2, 3, 16, 16) * 2 - 1, torch.randn(2, 3, 16, 16)
    sched = dm.make_scheduler("ddim")
    sched.set_timesteps(20)
    t = int(sched.timesteps[5])
    abar = sched.alphas_cumprod[t].expand(2)
    xt = dm.forward_process(x0, eps, abar)
    assert torch.allclose(dm.x0_from_eps(xt, eps, abar), x0, atol=1e-4)
    out = sched.step(eps, t, xt, eta=0.0)
    assert torch.allclose(out.pred_original_sample, x0, atol=1e-4)


def test_guidance_combination():
    # float64 and a fixed draw: in float32, u + 1 * (c - u) differs from c by rounding of order
    # |u| * 1e-7, beyond allclose's absolute tolerance wherever c is near 0 (an occasional failure).
    g = torch.Generator().manual_seed(0)
    u, c = (torch.randn(3, 3, 4, 4, generator=g, dtype=torch.float64) for _ in range(2))
    assert torch.allclose(dm.guide(u, c, 0.0), u)
    assert torch.allclose(dm.guide(u, c, 1.0), c)
    assert torch.allclose(dm.guide(u, c, 3.0), u + 3 * (c - u))
    per_row = dm.guide(u, c, torch.tensor([0.0, 1.0, 2.0]))
    assert torch.allclose(per_row[0], u[0]) and torch.allclose(per_row[1], c[1])


@pytest.mark.parametrize("mid", [0.12, 0.3, 0.55])
def test_tau50_recovers_the_midpoint_of_a_logistic_curve(mid):
    x = np.linspace(0, 1, 41)
    p = 1 / (1 + np.exp(-(x - mid) / 0.05))
    assert ex.tau50(x, p) == pytest.approx(mid, abs=0.01)


def test_tau50_edge_cases_and_noise():
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    assert ex.tau50(x, [0.6, 0.7, 0.8, 0.9, 1.0]) == 0.0  # decided before any step
    assert ex.tau50(x, [0.0, 0.1, 0.2, 0.3, 0.4]) == 1.0  # never decided by A
    assert ex.tau50(x, [0.0, 0.0, 1.0, 1.0, 1.0]) == pytest.approx(0.375)
    # A non-monotone dip is smoothed by the isotonic fit rather than crossing twice.
    assert 0.25 <= ex.tau50(x, [0.0, 0.6, 0.4, 1.0, 1.0]) <= 0.5
    with pytest.raises(ValueError):
        ex.tau50([0.0, 0.0, 1.0], [0, 1, 1])


def test_bootstrap_interval_covers_the_true_tau50():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 11)
    # Each sample keeps A when switched after its own decision time, drawn around 0.3.
    decide = rng.normal(0.3, 0.1, size=400)
    keep = x[None, :] > decide[:, None]
    boot = ex.bootstrap_tau50(keep, x, n_boot=300, seed=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    assert lo < 0.3 < hi and hi - lo < 0.1


def test_switched_always_changes_only_that_factor():
    cond = ex.random_conditions(500, 0)
    for f in range(len(dm.FACTORS)):
        b = ex.switched(cond, f, 1)
        assert (b[:, f] != cond[:, f]).all()
        others = [g for g in range(len(dm.FACTORS)) if g != f]
        assert (b[:, others] == cond[:, others]).all()
        assert b[:, f].max() < dm.N_VALUES[f]


def test_typical_pairs_follow_the_bias_mapping():
    a, b = ex.typical_pairs(200, 0)
    colours, shapes = dm.WORLD_FACTORS["color"], dm.WORLD_FACTORS["shape"]
    for row in a:
        assert colours[row[0]] == dm.BIAS_MAPPING[shapes[row[1]]]
    assert (a[:, 0] != b[:, 0]).all()


def test_rare_world_makes_crosses_rare_and_keeps_the_rest_balanced():
    _, cond = dm.training_data(20_000, 0, rare=0.05)
    shape = cond[:, dm.FACTORS.index("shape")]
    cross = dm.WORLD_FACTORS["shape"].index(dm.RARE_SHAPE)
    share = torch.bincount(shape, minlength=4).float() / len(shape)
    assert abs(share[cross] - 0.05) < 0.006
    assert torch.all((share[torch.arange(4) != cross] - 0.95 / 3).abs() < 0.015)
    colour = torch.bincount(cond[:, 0], minlength=5).float() / len(cond)
    assert torch.all((colour - 0.2).abs() < 0.015)
    with pytest.raises(ValueError, match="rare"):
        dm.world(rare=0.3)
    with pytest.raises(ValueError, match="balanced"):
        dm.world(balanced=False, rare=0.05)


def test_rare_pairs_switch_a_common_shape_to_the_cross_or_to_another_common_one():
    a, to_rare, to_common = ex.rare_pairs(200, 0)
    s = dm.FACTORS.index("shape")
    cross = dm.WORLD_FACTORS["shape"].index(dm.RARE_SHAPE)
    assert torch.all(a[:, s] != cross) and torch.all(to_rare[:, s] == cross)
    assert torch.all(to_common[:, s] != cross) and torch.all(to_common[:, s] != a[:, s])
    others = [f for f in range(len(dm.FACTORS)) if f != s]
    assert torch.equal(to_rare[:, others], a[:, others]) and torch.equal(to_common[:, others], a[:, others])


def test_biased_world_couples_shape_and_colour():
    _, cond = dm.training_data(2000, 0, rho=0.99)
    lookup = torch.tensor(
        [dm.WORLD_FACTORS["color"].index(dm.BIAS_MAPPING[s]) for s in dm.WORLD_FACTORS["shape"]]
    )
    assert (cond[:, 0] == lookup[cond[:, 1]]).float().mean() > 0.97
    _, free = dm.training_data(2000, 0, rho=0.0)
    assert (free[:, 0] == lookup[free[:, 1]]).float().mean() < 0.4


def test_sampler_switch_at_zero_is_running_b_and_at_the_end_is_running_a(tiny):
    x = initial_noise(6, 16, 0)
    a = ex.random_conditions(6, 1)
    b = ex.switched(a, 0, 2)
    run_a = sample(tiny, x, a, n_steps=5).final
    run_b = sample(tiny, x, b, n_steps=5).final
    both = sample(
        tiny,
        x.repeat(2, 1, 1, 1),
        a.repeat(2, 1),
        switch_cond=b.repeat(2, 1),
        switch_step=torch.tensor([0] * 6 + [5] * 6),
        n_steps=5,
    ).final
    # A batch of 12 rounds float32 convolutions differently from one of 6 (about 2e-5 on one thread).
    assert torch.allclose(both[:6], run_b, atol=1e-4)
    assert torch.allclose(both[6:], run_a, atol=1e-4)


def test_sampler_counts_the_evaluations_it_saves(tiny):
    x = initial_noise(4, 16, 0)
    cond = ex.random_conditions(4, 1)
    full = sample(tiny, x, cond, n_steps=10)
    assert full.evaluations == 4 * 10 * 2
    half = sample(tiny, x, cond, n_steps=10, stop_step=5, after_stop="condition")
    assert half.evaluations == 4 * (5 * 2 + 5)
    # Continuing from a recorded state reproduces the deterministic trajectory.
    rec = sample(tiny, x, cond, n_steps=10, record_states=True, record_x0=True)
    assert rec.states.shape[0] == 11 and rec.x0.shape[0] == 10
    cont = sample(tiny, rec.states[4], cond, n_steps=10, start_step=4)
    assert torch.allclose(cont.final, rec.final, atol=1e-5)


def test_branched_switches_equal_every_switch_run_from_the_start(tiny):
    # The switch experiment runs A once and branches to B at each switch step; with DDIM that is
    # the trajectory a row switched at that step would follow from the first step.
    x, a = initial_noise(3, 16, 0), ex.random_conditions(3, 1)
    b = ex.switched(a, 1, 2)
    ks = np.array([0, 2, 5])
    prefix, branches = ex._switched_runs(tiny, x, a, b, ks, n_steps=5, guidance=1.5, sampler="ddim", seed=0)
    direct = sample(
        tiny,
        x.repeat_interleave(3, dim=0),
        a.repeat_interleave(3, dim=0),
        switch_cond=b.repeat_interleave(3, dim=0),
        switch_step=torch.from_numpy(np.tile(ks, 3)),
        n_steps=5,
        guidance=1.5,
    )
    assert torch.allclose(branches.final, direct.final, atol=1e-4)
    assert torch.allclose(branches.final[2::3], prefix.final, atol=1e-5)  # k = 5: never switched
    assert branches.evaluations == 3 * 2 * (5 + 3 + 0) < direct.evaluations


def test_training_runs_and_is_seeded():
    m1, log = dm.train(TINY)
    m2, _ = dm.train(TINY)
    assert len(log["losses"]) == 2 and all(math.isfinite(v) for v in log["losses"])
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)


def test_cached_model_is_the_trained_one_and_remembers_its_training_time(tmp_path):
    trained, first = dm.trained_model(TINY, cache_dir=tmp_path)
    cached, again = dm.trained_model(TINY, cache_dir=tmp_path)
    assert not first["cached"] and again["cached"] and again["seconds"] == 0.0
    assert again["train_seconds"] == pytest.approx(first["train_seconds"]) and first["train_seconds"] > 0
    for a, b in zip(trained.state_dict().values(), cached.state_dict().values()):
        assert torch.equal(a, b)


def test_model_config_rejects_bad_values():
    with pytest.raises(ValueError, match="prediction"):
        dm.ModelConfig(prediction="x")
    with pytest.raises(ValueError, match="image_size"):
        dm.ModelConfig(image_size=18)


# ---- claims: each fails on a constructed case where the finding is false ----


def test_claim_generation_works_fails_below_90_percent():
    assert ex.claim_generation_works({"color": 0.99, "shape": 0.95}).passed
    c = ex.claim_generation_works({"color": 0.99, "shape": 0.5})
    assert not c.passed and c.measured == 0.5 and "shape" in c.statement


def test_claim_colour_early_fails_when_colour_is_decided_late():
    assert ex.claim_colour_early(0.1).passed
    assert not ex.claim_colour_early(0.5).passed
    assert not ex.claim_colour_early(1.0).passed  # never decided


def test_claim_order_fails_for_equal_or_reversed_timing():
    rng = np.random.default_rng(0)
    early, late = rng.normal(0.1, 0.02, 1000), rng.normal(0.4, 0.02, 1000)
    assert ex.claim_order(late, early).passed
    assert not ex.claim_order(early, late).passed
    assert not ex.claim_order(early, rng.normal(0.1, 0.02, 1000)).passed  # no difference


def test_claim_x0_readout_fails_when_x0_disagrees():
    assert ex.claim_x0_readout(0.95).passed
    assert not ex.claim_x0_readout(0.6).passed
    agreement = np.linspace(0.2, 1.0, 20)[:, None].repeat(5, axis=1)
    assert ex.agreement_at(agreement, 0.0) == pytest.approx(0.2)
    assert ex.agreement_at(agreement, 0.5) == pytest.approx(agreement[10, 0])


def test_x0_readout_counts_nothing_at_the_last_step():
    # 20 steps: tau50 0.3 + margin 0.1 reads step 8. A colour decided at 0.9 would be read at the
    # last step, where x̂0 is the sample itself and agrees by construction: that is no evidence.
    agreement = np.linspace(0.2, 1.0, 20)[:, None].repeat(5, axis=1)
    assert ex.readout_agreement(agreement, 0.3) == pytest.approx(agreement[8, 0])
    assert ex.readout_agreement(agreement, 0.85) == 0.0
    assert not ex.claim_x0_readout(ex.readout_agreement(np.ones((20, 5)), 0.9)).passed


def test_claim_resampling_stable_fails_when_a_factor_is_lost():
    assert ex.claim_resampling_stable({"color": 0.97, "shape": 0.93}).passed
    assert not ex.claim_resampling_stable({"color": 0.97, "shape": 0.6}).passed
    survival = np.array([[0.2] * 5, [0.5] * 5, [0.95] * 5])
    got = ex.survival_past(survival, [0.0, 0.3, 0.6], {"color": 0.1, "texture": 0.5})
    assert got == {"color": 0.5, "texture": 0.95}


def test_claim_bias_shifts_timing_needs_monotone_and_significant():
    rng = np.random.default_rng(0)
    boots = {r: rng.normal(m, 0.02, 500) for r, m in ((0.0, 0.1), (0.9, 0.2), (0.99, 0.3))}
    assert ex.claim_bias_shifts_timing({0.0: 0.1, 0.9: 0.2, 0.99: 0.3}, boots).passed
    # not monotone
    assert not ex.claim_bias_shifts_timing({0.0: 0.1, 0.9: 0.35, 0.99: 0.3}, boots).passed
    # no effect: the interval of the change covers 0
    flat = {r: rng.normal(0.2, 0.05, 500) for r in boots}
    assert not ex.claim_bias_shifts_timing({0.0: 0.19, 0.9: 0.2, 0.99: 0.21}, flat).passed


def test_claim_guidance_can_stop_fails_when_samples_change():
    assert ex.claim_guidance_can_stop(0.02, 0.3, 0.5).passed
    assert not ex.claim_guidance_can_stop(0.2, 0.3, 0.5).passed
    assert ex.drop_point([0.1, 0.3, 0.5, 0.7], {"color": 0.1, "texture": 0.32}, 0.1) == 2
    assert ex.drop_point([0.1, 0.3], {"color": 0.9}, 0.1) == -1


# ---- parameters ----


def _profiles():
    return load_profiles(ROOT / "notebooks" / "params" / "diffusion.yml", diffusion.PARAMS)


def test_profiles_validate_and_the_default_fits_the_budget():
    profiles = _profiles()
    for values in profiles.values():
        params = resolve(diffusion.PARAMS, values, {})
        diffusion.check_params(params)
    default = resolve(diffusion.PARAMS, profiles["default"], {})
    assert diffusion.estimate(default).seconds < 20 * 60  # DESIGN.md: the diffusion chapter's budget
    smoke = resolve(diffusion.PARAMS, profiles["smoke"], {})
    assert diffusion.estimate(smoke).seconds < diffusion.estimate(default).seconds


@pytest.mark.parametrize(
    "override, match",
    [
        ({"switch_points": [0.0, 0.5, 0.4]}, "switch_points"),
        ({"switch_points": [0.0, 1.0]}, "switch_points"),
        ({"image_size": 18}, "image_size"),
        ({"width": 40}, "width"),
        ({"bias_rho": [0.9, 0.5]}, "bias_rho"),
        ({"bias_rho": [0.0, 1.0]}, "bias_rho"),
    ],
)
def test_check_params_names_the_parameter(override, match):
    params = resolve(diffusion.PARAMS, {}, override)
    with pytest.raises(ParamError, match=match):
        diffusion.check_params(params)


def test_params_reject_bad_types_and_ranges():
    by_name = {p.name: p for p in diffusion.PARAMS}
    for name, text in (("sampler", "euler"), ("n_steps", "2"), ("guidance_scale", "-1"), ("bias_rho", "0,2")):
        with pytest.raises(ParamError, match=name):
            by_name[name].parse(text)


def test_survival_past_counts_an_undecided_factor_as_unstable():
    survival = np.array([[0.99] * 5, [0.99] * 5])
    got = ex.survival_past(survival, [0.0, 0.5], {"color": 0.9})
    assert got == {"color": 0.0}
    assert not ex.claim_resampling_stable(got).passed


def test_balanced_world_has_only_the_bias_we_set():
    w = dm.world(0.0)
    for f, k in zip(dm.FACTORS, dm.N_VALUES):
        assert np.allclose(w.prior(f), 1 / k)
    assert not np.allclose(dm.world(0.0, balanced=False).prior("shape"), 0.25)


def test_explorer_switches_the_middle_row_and_names_bad_values(tiny):
    from earlybias.diffusion import explorer

    class AlwaysA:  # a judge that reads every image as A: the switched row keeps A
        def predict(self, images):
            return explorer.condition(explorer.INITIAL["a"]).expand(len(images), -1)

    a, b = explorer.INITIAL["a"], explorer.INITIAL["b"]
    exp = explorer.explore_data(tiny, AlwaysA(), a, b, 0.5, n_steps=4, guidance=1.5, sampler="ddim")
    images = exp.data["images"]
    assert images.shape[:2] == (3, explorer.N_NOISES) and exp.data["tau"] == 0.5
    assert set(exp.metrics) == {"keep_color"} and exp.metrics["keep_color"] == 1.0
    # Row 0 is A alone and row 2 B alone: the same noise under different conditions.
    assert not torch.allclose(images[0], images[2])
    with pytest.raises(ValueError, match="color"):
        explorer.condition({**a, "color": "pink"})


def test_not_reproduced_names_claims_of_the_chapter_with_a_reason():
    ids = {
        "generation-works",
        "colour-early",
        "order",
        "x0-readout",
        "resampling-stable",
        "bias-shifts-timing",
        "guidance-can-stop",
    }
    assert set(diffusion.NOT_REPRODUCED) <= ids
    assert "generation-works" not in diffusion.NOT_REPRODUCED  # the precondition is never waived
    assert all(len(reason) > 40 for reason in diffusion.NOT_REPRODUCED.values())
