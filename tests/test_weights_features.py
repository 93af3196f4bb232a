"""Weight features: hand-computed values, and invariance to permuting hidden units."""

import math

import numpy as np
import pytest
import torch

from earlybias.weights import features as ft
from earlybias.zoo import Zoo, ZooSpec
from earlybias.zoo.nets import make_module

torch.set_num_threads(1)


def mlp_params(M=5, H=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {"fc1.weight": (M, H, 192), "fc1.bias": (M, H), "fc2.weight": (M, 10, H), "fc2.bias": (M, 10)}
    return {k: torch.randn(s, generator=g) for k, s in shapes.items()}


def cnn_params(M=3, W=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {
        "conv1.weight": (M, W // 2, 3, 3, 3),
        "conv1.bias": (M, W // 2),
        "conv2.weight": (M, W, W // 2, 3, 3),
        "conv2.bias": (M, W),
        "fc.weight": (M, 10, 4 * W),
        "fc.bias": (M, 10),
    }
    return {k: torch.randn(s, generator=g) for k, s in shapes.items()}


def permute_mlp(p, perm):
    """The same networks with hidden units reordered: each unit keeps its in- and outgoing weights."""
    return {
        "fc1.weight": p["fc1.weight"][:, perm],
        "fc1.bias": p["fc1.bias"][:, perm],
        "fc2.weight": p["fc2.weight"][:, :, perm],
        "fc2.bias": p["fc2.bias"],
    }


def permute_cnn(p, perm1, perm2):
    M, W = p["fc.weight"].shape[0], p["conv2.weight"].shape[1]
    fc = p["fc.weight"].reshape(M, 10, W, 4)[:, :, perm2].reshape(M, 10, 4 * W)
    return {
        "conv1.weight": p["conv1.weight"][:, perm1],
        "conv1.bias": p["conv1.bias"][:, perm1],
        "conv2.weight": p["conv2.weight"][:, perm2][:, :, perm1],
        "conv2.bias": p["conv2.bias"][:, perm2],
        "fc.weight": fc,
        "fc.bias": p["fc.bias"],
    }


def test_permutations_leave_the_networks_unchanged():
    # The helpers above must be true symmetries, or the invariance tests below prove nothing.
    x = torch.rand(7, 192)
    p, perm = mlp_params(M=1), torch.randperm(8)
    q = permute_mlp(p, perm)
    spec = ZooSpec(n_models=1, width=8)
    out = [make_module(spec, {k: v[0] for k, v in d.items()})(x) for d in (p, q)]
    torch.testing.assert_close(out[0], out[1])
    p = cnn_params(M=1)
    q = permute_cnn(p, torch.randperm(4), torch.randperm(8))
    spec = ZooSpec(n_models=1, family="cnn", width=8)
    out = [make_module(spec, {k: v[0] for k, v in d.items()})(x) for d in (p, q)]
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_permute_units_leaves_the_networks_unchanged(family):
    p = mlp_params(M=2) if family == "mlp" else cnn_params(M=2)
    perm = torch.randperm(
        p[ft.layer_names(p)[0] + ".weight"].shape[1], generator=torch.Generator().manual_seed(0)
    )
    q = ft.permute_units(p, perm)
    spec = ZooSpec(n_models=1, family=family, width=8)
    x = torch.rand(5, 192)
    for i in range(2):
        out = [make_module(spec, {k: v[i] for k, v in d.items()})(x) for d in (p, q)]
        torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-5)
    assert not torch.equal(q[ft.layer_names(p)[0] + ".weight"], p[ft.layer_names(p)[0] + ".weight"])


def test_layer_stats_by_hand():
    row = ft.layer_stats(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))[0].numpy()
    sd = math.sqrt(1.25)
    z = (np.array([1, 2, 3, 4]) - 2.5) / sd
    expected = [2.5, sd, 0.0, (z**4).mean() - 3, 1.15, 1.75, 2.5, 3.25, 3.85, 2.5, math.sqrt(30)]
    np.testing.assert_allclose(row, expected, atol=1e-9)


def test_summary_over_units_by_hand():
    out = ft.summary_over_units(torch.tensor([[[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]]]))[0].numpy()
    # Ordered (statistic, value): mean, std, min, median, max of each column.
    np.testing.assert_allclose(out, [2, 20, math.sqrt(2 / 3), 10 * math.sqrt(2 / 3), 1, 10, 2, 20, 3, 30])


def test_layer_features_by_hand():
    # Two hidden units: unit 0 is all red (64 weights of 1 on channel 0), unit 1 green and blue.
    p = mlp_params(M=1, H=2)
    w = torch.zeros(1, 2, 3, 64)
    w[0, 0, 0], w[0, 1, 1], w[0, 1, 2] = 1.0, 1.0, 1.0
    p["fc1.weight"] = w.reshape(1, 2, 192)
    values, names = ft.layer_features(p, "fc1")
    got = dict(zip(names, values[0].tolist()))
    assert len(names) == values.shape[1] == len(set(names))
    assert [got[f"fc1.in_norm_{s}"] for s in ("min", "max")] == pytest.approx([8.0, math.sqrt(128)])
    assert [got[f"fc1.top_share_{s}"] for s in ("min", "max")] == pytest.approx([0.5, 1.0])
    contrast = sorted([np.std([64, 0, 0]) / 8, np.std([0, 64, 64]) / math.sqrt(128)])
    assert [got["fc1.contrast_min"], got["fc1.contrast_max"]] == pytest.approx(contrast)
    # The first layer's channels are the colours, kept in order: each holds a third of the energy.
    assert [got[f"fc1.channel{c}_share"] for c in range(3)] == pytest.approx([1 / 3] * 3)
    assert [got[f"fc1.channel{c}_sum_mean"] for c in range(3)] == pytest.approx([32.0] * 3)
    np.testing.assert_allclose(ft.color_energy(p).numpy(), [[1 / 3, 1 / 3, 1 / 3]])


def test_every_layer_gets_the_same_kinds_of_features():
    def kinds(names):
        return {n.split(".", 1)[1].split("_")[0] for n in names}

    c = cnn_params()
    first, deeper, last = (ft.layer_features(c, layer)[1] for layer in ("conv1", "conv2", "fc"))
    # Only the channel block differs: kept per colour in the first layer, summarised beyond it.
    assert (
        kinds(first) - {"channel0", "channel1", "channel2"}
        == kinds(deeper) - {"channel"}
        == kinds(last) - {"channel"}
    )


def test_flat_weights_follow_the_state_dict_and_are_not_invariant():
    p = mlp_params(M=4, H=8)
    zoo = Zoo(ZooSpec(n_models=4, width=8), p, {})
    row = torch.cat([v.reshape(-1) for v in zoo.module(2).state_dict().values()])
    torch.testing.assert_close(ft.flat_weights(p)[2], row)
    q = permute_mlp(p, torch.tensor([1, 0, 2, 3, 4, 5, 6, 7]))
    assert not torch.allclose(ft.flat_weights(p), ft.flat_weights(q))


@pytest.mark.parametrize("layers", ft.LAYER_CHOICES)
def test_weight_features_invariant_to_hidden_permutations(layers):
    p = mlp_params()
    X, names = ft.weight_features(p, layers)
    assert X.shape == (5, len(names)) and len(set(names)) == len(names) and np.isfinite(X).all()
    X_perm, _ = ft.weight_features(permute_mlp(p, torch.randperm(8)), layers)
    np.testing.assert_allclose(X_perm, X, rtol=1e-9, atol=1e-9)
    c = cnn_params()
    Xc, names_c = ft.weight_features(c, layers)
    assert Xc.shape == (3, len(names_c))
    Xc_perm, _ = ft.weight_features(permute_cnn(c, torch.randperm(4), torch.randperm(8)), layers)
    np.testing.assert_allclose(Xc_perm, Xc, rtol=1e-9, atol=1e-9)


def test_chosen_layers():
    assert ft.chosen_layers(cnn_params(), "beyond_first") == ["conv2", "fc"]
    assert ft.chosen_layers(mlp_params(), "last") == ["fc2"]


def test_weight_features_read_only_the_chosen_layers():
    p, q = mlp_params(seed=0), mlp_params(seed=1)
    first_changed = {**p, "fc1.weight": q["fc1.weight"], "fc1.bias": q["fc1.bias"]}
    last_changed = {**p, "fc2.weight": q["fc2.weight"], "fc2.bias": q["fc2.bias"]}
    np.testing.assert_array_equal(
        ft.weight_features(p, "first")[0], ft.weight_features(last_changed, "first")[0]
    )
    np.testing.assert_array_equal(
        ft.weight_features(p, "last")[0], ft.weight_features(first_changed, "last")[0]
    )
    assert not np.allclose(ft.weight_features(p, "all")[0], ft.weight_features(last_changed, "all")[0])


def test_unit_sets_follow_the_units():
    p, perm = mlp_params(), torch.randperm(8)
    (s,) = ft.unit_sets(p)
    assert s.shape == (5, 8, 192 + 1 + 10)
    torch.testing.assert_close(
        s[2, 3], torch.cat([p["fc1.weight"][2, 3], p["fc1.bias"][2, 3:4], p["fc2.weight"][2, :, 3]]).double()
    )
    torch.testing.assert_close(ft.unit_sets(permute_mlp(p, perm))[0], s[:, perm])
    c, perm1, perm2 = cnn_params(), torch.randperm(4), torch.randperm(8)
    sets = ft.unit_sets(c)
    assert [tuple(x.shape) for x in sets] == [(3, 4, 27 + 1 + 4), (3, 8, 4 + 1 + 40)]
    moved = ft.unit_sets(permute_cnn(c, perm1, perm2))
    torch.testing.assert_close(moved[0], sets[0][:, perm1])
    torch.testing.assert_close(moved[1], sets[1][:, perm2])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="params must hold"):
        ft.weight_features({"w": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="layers must be one of first, last, all, beyond_first"):
        ft.weight_features(mlp_params(), "middle")
