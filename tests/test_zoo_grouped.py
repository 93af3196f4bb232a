"""The general batched engine: grouped models agree with a loop of torch.nn modules."""

import pytest
import torch

from earlybias.zoo import grouped
from earlybias.zoo.tensorcache import cache_path, cached, load_tensors

NET = grouped.ConvNet(3, 8, (4, 6), 5)
HIDDEN = grouped.ConvNet(3, 8, (4, 6), 5, (1, 2), hidden=(7,))


def _data(n=64, k=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=g), (torch.rand(n, k, generator=g) < 0.4).float()


@pytest.mark.parametrize("net", [NET, HIDDEN], ids=["readout", "hidden layer"])
def test_forward_matches_nn_module_per_model(net):
    params = grouped.init_params(net, [1, 2, 3])
    x, _ = _data()
    out = grouped.forward(net, params, x)
    for m in range(3):
        ref = grouped.module(net, {k: v[m] for k, v in params.items()})(x)
        torch.testing.assert_close(out[m], ref, atol=1e-5, rtol=1e-5)


def test_features_are_the_flattened_last_map_and_the_readout_reads_them():
    net = grouped.ConvNet(3, 8, (4, 6), 5, (1, 2))
    params = grouped.init_params(net, [1, 2])
    x, _ = _data(n=4)
    h = grouped.features(net, params, x)
    assert h.shape == (2, 4, 6 * 4 * 4) and net.n_features == 96
    m = grouped.module(net, {k: v[0] for k, v in params.items()})
    conv = torch.relu(m.conv1(torch.relu(m.conv0(x))))
    torch.testing.assert_close(h[0], conv.flatten(1), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grouped.readout(params, h), grouped.forward(net, params, x))


def test_flops_count_every_multiply_add():
    # 8x8 input: conv0 (stride 1) 8x8x4 outputs of 3x3x3, conv1 (stride 2) 4x4x6 of 3x3x4,
    # hidden 96 -> 7, readout 7 -> 5.
    assert HIDDEN.flops() == 64 * 4 * 27 + 16 * 6 * 36 + 96 * 7 + 7 * 5
    assert sum(p.numel() for p in grouped.module(HIDDEN).parameters()) == sum(
        torch.Size(s).numel() for s in HIDDEN.shapes().values()
    )


def test_init_is_deterministic_per_seed_and_in_pytorch_bounds():
    a, b = grouped.init_params(NET, [7, 8]), grouped.init_params(NET, [8])
    torch.testing.assert_close(a["conv0.weight"][1], b["conv0.weight"][0])
    assert a["conv0.weight"].abs().max() <= 1 / 27**0.5


@pytest.mark.parametrize("loss, optimizer", [("bce", "adam"), ("ce", "sgd")])
def test_batched_training_equals_the_loop(loss, optimizer):
    x, y = _data()
    if loss == "ce":
        y = y.argmax(1)
    params = grouped.init_params(NET, [0, 1])
    kw = dict(seeds=[5, 6], epochs=2, batch_size=16, lr=1e-2, loss=loss, optimizer=optimizer)
    a, _ = grouped.fit(NET, params, x, y, **kw)
    b, _ = grouped.fit_loop(NET, params, x, y, **kw)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-4)
    assert not torch.equal(a["fc.weight"], params["fc.weight"]), "training moved the weights"


def test_per_model_images_train_each_model_on_its_own_set():
    x, y = _data()
    y = y.argmax(1)
    x2 = torch.stack([x, 1 - x])  # model 1 sees the negatives of model 0's images
    params = grouped.init_params(NET, [0, 1])
    kw = dict(seeds=[5, 6], epochs=1, batch_size=16, lr=1e-2, loss="ce")
    a, _ = grouped.fit(NET, params, x2, y, **kw)
    b, _ = grouped.fit_loop(NET, params, x2, y, **kw)
    one, _ = grouped.fit(NET, {k: v[1:] for k, v in params.items()}, 1 - x, y, **{**kw, "seeds": [6]})
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a[k][1:], one[k], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one set per model"):
        grouped.fit(NET, params, x2[:1], y, **kw)


def test_masks_and_mask_schedule_agree_with_the_loop():
    from earlybias.pruning.experiment import global_magnitude_masks

    x, y = _data()
    params = grouped.init_params(NET, [0, 1])

    def update(step, total, weights):
        return global_magnitude_masks(weights, 0.5 * step / total) if step % 2 == 0 else None

    kw = dict(seeds=[5, 6], epochs=2, batch_size=16, lr=1e-2, mask_update=update)
    a, ma = grouped.fit(NET, params, x, y, **kw)
    b, mb = grouped.fit_loop(NET, params, x, y, **kw)
    for k in ma:
        torch.testing.assert_close(ma[k], mb[k])
        torch.testing.assert_close(a[k] * ma[k], b[k] * mb[k], atol=1e-4, rtol=1e-4)


def test_transform_trains_mask_scores_over_frozen_weights():
    x, y = _data()
    frozen = grouped.init_params(NET, [0])
    scores = {k: torch.zeros_like(v) for k, v in frozen.items()}

    def transform(s):
        return {k: frozen[k] * torch.sigmoid(s[k]) for k in frozen}

    out, _ = grouped.fit(NET, scores, x, y, seeds=[1], epochs=1, batch_size=16, transform=transform)
    assert any(not torch.equal(out[k], scores[k]) for k in out)


def test_fit_validates_its_arguments():
    x, y = _data()
    params = grouped.init_params(NET, [0, 1])
    with pytest.raises(ValueError, match="seeds must give one seed per model"):
        grouped.fit(NET, params, x, y, seeds=[0], epochs=1, batch_size=16)
    with pytest.raises(ValueError, match="loss must be one of"):
        grouped.fit(NET, params, x, y, seeds=[0, 1], epochs=1, batch_size=16, loss="mse")


def test_cache_is_keyed_versioned_and_reused(tmp_path):
    calls = []

    def produce():
        calls.append(1)
        return {"w": torch.arange(3.0)}

    a = cached("t", {"n": 1}, produce, cache_dir=tmp_path)
    b = cached("t", {"n": 1}, produce, cache_dir=tmp_path)
    assert len(calls) == 1 and torch.equal(a["w"], b["w"])
    assert cache_path("t", {"n": 1}, 0, tmp_path) != cache_path("t", {"n": 1}, 1, tmp_path)
    assert cache_path("t", {"n": 1}, 0, tmp_path) != cache_path("t", {"n": 2}, 0, tmp_path)
    assert torch.equal(load_tensors(cache_path("t", {"n": 1}, 0, tmp_path))["w"], a["w"])
    assert not list(tmp_path.glob(".*tmp")), "no temporary left behind"
