"""The zoo engine: batched == torch.func == a loop over models; chunks and caches change nothing."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import earlybias.zoo.store as store
from earlybias.data.colored import paint, shifted_copies
from earlybias.data.digits import digits_pools
from earlybias.zoo import BLOCK, ZooSpec, load_zoo, train_batched, train_loop, train_zoo, zoo_dir
from earlybias.zoo.nets import BatchedCNN, forward, from_matrices, make_module, patches, to_matrices
from earlybias.zoo.train import _draws, train_torch_func

# Small, fast zoos: few images and epochs keep every test within seconds.
TINY = dict(n_train=96, epochs=2, batch_size=32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # A second thread on a shared 2-core machine makes many tiny kernels slower, not faster.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("task", ["color", "group"])
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_batched_training_equals_torch_func_and_a_loop_over_models(family, task):
    # Six Adam steps, the last on a smaller batch: enough to exercise every gradient, too few for
    # float rounding to grow (Adam's normalised steps amplify last-bit differences of tiny
    # gradients over long runs).
    spec = ZooSpec(n_models=3, family=family, task=task, n_train=80, epochs=2, batch_size=32)
    params_b, meta_b = train_batched(spec)
    for params, meta in (train_torch_func(spec), train_loop(spec)):
        for k in params_b:
            torch.testing.assert_close(params_b[k], params[k], rtol=1e-4, atol=2e-5)
        for k in ("acc_train", "acc_biased", "acc_unbiased"):
            torch.testing.assert_close(meta_b[k], meta[k], rtol=0, atol=2 / 225)


@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_batched_forward_is_each_module_on_its_own_inputs(family):
    spec = ZooSpec(n_models=5, family=family, width=8, **TINY)
    init, _ = _draws(spec, range(5))
    _assert_same(from_matrices(spec, to_matrices(init)), init)
    x = torch.rand(5, 70, 192)  # more images than one call of the CNN's buffers holds
    logits = forward(spec, to_matrices(init), x)
    for m in range(5):
        module = make_module(spec, {k: v[m] for k, v in init.items()})
        torch.testing.assert_close(logits[m], module(x[m]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("planes", [1, 2, 3])
@pytest.mark.parametrize("width", [16, 6])
def test_batched_cnn_gradients_are_each_modules_gradients(planes, width):
    # Images as J planes mixed into colours: a digit and its colour (1), a digit on a background
    # (2), any RGB image (3). Fewer images than the buffers hold, as in an epoch's last batch.
    M, n = 4, 5
    spec = ZooSpec(n_models=M, family="cnn", width=width, **TINY)
    init, _ = _draws(spec, range(M))
    mats = to_matrices(init)
    gen = torch.Generator().manual_seed(planes)
    grey = torch.rand(M * n, planes, 64, generator=gen) * (torch.rand(M * n, planes, 64, generator=gen) > 0.4)
    mix = torch.randn(n, M, planes, 3, generator=gen)
    rows = torch.arange(M * n).reshape(M, n).T
    y = torch.randint(0, 10, (M, n), generator=gen)
    net = BatchedCNN(M, width, planes, max_batch=n + 3)
    grads = {k: torch.full_like(v, float("nan")) for k, v in mats.items()}
    with torch.no_grad():
        logits = net.forward(mats, patches(grey), rows, mix)
        dlogits = (torch.softmax(logits, -1) - F.one_hot(y, 10)) / n  # of each model's mean loss
        net.backward(mats, grads, dlogits)
    grads = from_matrices(spec, grads)
    for m in range(M):
        module = make_module(spec, {k: v[m] for k, v in init.items()})
        x = torch.einsum("bjc,bjp->bcp", mix[:, m], grey[rows[:, m]])  # image b's channels
        out = module(x.flatten(1))
        torch.testing.assert_close(logits[m], out, rtol=1e-5, atol=1e-5)
        F.cross_entropy(out, y[m]).backward()
        for k, p in module.named_parameters():
            torch.testing.assert_close(grads[k][m], p.grad, rtol=1e-4, atol=1e-6, msg=k)


def test_chunked_training_is_bit_identical_to_one_chunk(tmp_path):
    spec = ZooSpec(n_models=2 * BLOCK + 5, n_train=48, epochs=1, batch_size=16)
    one = train_zoo(spec, chunk_size=3 * BLOCK, cache_dir=tmp_path / "one", progress=False)
    three = train_zoo(spec, chunk_size=BLOCK, cache_dir=tmp_path / "three", progress=False)
    _assert_same(one.params, three.params)
    _assert_same(one.meta, three.meta)


def test_runs_sharing_the_cache_may_build_the_same_zoo_at_once(tmp_path):
    """Two runs (a sweep's points) training and joining one zoo at the same time: both get the
    zoo, and the cache ends with it whole and nothing else."""
    from concurrent.futures import ThreadPoolExecutor

    spec = ZooSpec(n_models=2 * BLOCK, n_train=32, epochs=1, batch_size=16)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(
            lambda _: train_zoo(spec, chunk_size=BLOCK, cache_dir=tmp_path, progress=False), range(2)
        )
    _assert_same(a.params, b.params)
    left = [p.name for p in zoo_dir(spec, tmp_path).iterdir()]
    assert "zoo.pt" in left and not [n for n in left if n.endswith(".tmp")]
    _assert_same(load_zoo(zoo_dir(spec, tmp_path) / "zoo.pt").params, a.params)


def test_a_models_draws_depend_only_on_seed_and_index():
    small, large = ZooSpec(n_models=8, **TINY), ZooSpec(n_models=80, **TINY)
    init_s, data_s = _draws(small, range(5, 6))
    init_l, data_l = _draws(large, range(3, 8))
    _assert_same(init_s, {k: v[2:3] for k, v in init_l.items()})
    shared = ("digits", "test_grey", "y_test")  # the pool's digits, the same for every model
    _assert_same(
        {k: v for k, v in data_s.items() if k not in shared},
        {k: v[2:3] for k, v in data_l.items() if k not in shared},
    )
    other, _ = _draws(ZooSpec(n_models=8, seed=1, **TINY), range(5, 6))
    assert not torch.equal(other["fc1.weight"], init_s["fc1.weight"])
    # Different models differ in initialisation, training subset, colours and order.
    assert not torch.equal(init_l["fc1.weight"][0], init_l["fc1.weight"][1])
    for k in ("train_rows", "y_train", "train_scale", "test_unbiased_scale", "order"):
        assert not torch.equal(data_l[k][0], data_l[k][1]), k


@pytest.mark.parametrize("shift", [False, True])
def test_a_models_training_digits_are_its_own_subset_of_the_pool(shift):
    spec = ZooSpec(n_models=2, shift=shift, **TINY)
    _, data = _draws(spec, range(2))
    pool = digits_pools(seed=spec.split_seed)[spec.pool]
    rows = data["train_rows"]
    subset = rows % len(pool["y_train"])
    assert all(len(set(r.tolist())) == spec.n_train for r in subset)  # drawn without replacement
    np.testing.assert_array_equal(data["y_train"], pool["y_train"][subset.numpy()])
    images = data["digits"][rows].numpy()
    originals = pool["X_train"][subset.numpy()]
    if not shift:
        np.testing.assert_array_equal(images, originals)
        return
    # Row k * n_pool + j is pool digit j under offset k (shifted_copies' order).
    offsets = (rows // len(pool["y_train"])).numpy().ravel()
    expected = shifted_copies(originals.reshape(-1, 64))[offsets, np.arange(len(offsets))]
    np.testing.assert_array_equal(images.reshape(-1, 64), expected)
    assert (offsets != 4).mean() > 0.5  # most digits moved: (0, 0) is one offset in nine


def test_training_is_deterministic():
    spec = ZooSpec(n_models=4, **TINY)
    a, b = train_batched(spec), train_batched(spec)
    _assert_same(a[0], b[0])
    _assert_same(a[1], b[1])


def test_interrupted_training_resumes_from_finished_chunks(tmp_path, monkeypatch):
    spec = ZooSpec(n_models=3 * BLOCK, n_train=32, epochs=1, batch_size=16)
    trained = []

    def interrupted_after_two(spec_, start, stop):
        if len(trained) == 2:
            raise KeyboardInterrupt
        trained.append(start)
        return train_batched(spec_, start, stop)

    monkeypatch.setattr(store, "train_batched", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_zoo(spec, chunk_size=BLOCK, cache_dir=tmp_path, progress=False)
    assert trained == [0, BLOCK]
    assert len(list(zoo_dir(spec, tmp_path).glob("chunk-*.pt"))) == 2

    def counting(spec_, start, stop):
        trained.append(start)
        return train_batched(spec_, start, stop)

    monkeypatch.setattr(store, "train_batched", counting)
    resumed = train_zoo(spec, chunk_size=BLOCK, cache_dir=tmp_path, progress=False)
    assert trained == [0, BLOCK, 2 * BLOCK]  # only the missing chunk was trained
    assert not list(zoo_dir(spec, tmp_path).glob("chunk-*.pt"))  # merged into zoo.pt

    fresh = train_zoo(spec, chunk_size=3 * BLOCK, cache_dir=tmp_path / "fresh", progress=False)
    _assert_same(resumed.params, fresh.params)
    _assert_same(resumed.meta, fresh.meta)

    monkeypatch.setattr(store, "train_batched", None)  # a cached zoo trains nothing
    _assert_same(train_zoo(spec, cache_dir=tmp_path, progress=False).params, resumed.params)


def test_saved_zoo_loads_weights_only(tmp_path):
    spec = ZooSpec(n_models=4, **TINY)
    zoo = train_zoo(spec, cache_dir=tmp_path, progress=False)
    path = zoo_dir(spec, tmp_path) / "zoo.pt"
    raw = torch.load(path, weights_only=True)  # raises if the file needs unpickling code
    assert raw["spec"] == spec.to_dict()
    loaded = load_zoo(path)
    assert loaded.spec == spec
    _assert_same(loaded.params, zoo.params)


def test_zoo_exposes_per_layer_weights_modules_and_a_frame(tmp_path):
    spec = ZooSpec(n_models=8, **TINY)
    zoo = train_zoo(spec, cache_dir=tmp_path, progress=False)
    assert zoo.params["fc1.weight"].shape == (8, 32, 192)
    x = torch.rand(8, 5, 192)
    batched = forward(spec, to_matrices(zoo.params), x)
    torch.testing.assert_close(zoo.module(3)(x[3]), batched[3], rtol=1e-5, atol=1e-5)
    df = zoo.frame()
    assert len(df) == 8 and df["level"].tolist()[:4] == ["very_high", "high", "low", "very_low"]
    assert {"pool", "seed", "sigma2", "acc_biased", "acc_unbiased"} <= set(df.columns)


@pytest.mark.parametrize("task", ["color", "group"])
@pytest.mark.parametrize("family", ["mlp", "cnn"])
def test_recorded_accuracies_are_each_modules_accuracies(family, task):
    # Recomputed independently: each trained model as an nn.Module on its images, painted here.
    spec = ZooSpec(n_models=6, family=family, task=task, minority_share=0.1, **TINY)
    params, meta = train_batched(spec)
    _, data = _draws(spec, range(6))
    for m in range(6):
        module = make_module(spec, {k: v[m] for k, v in params.items()})
        for name, grey, y in (
            ("train", data["digits"][data["train_rows"][m]], data["y_train"][m]),
            ("biased", data["test_grey"], data["y_test"]),
            ("unbiased", data["test_grey"], data["y_test"]),
        ):
            prefix = name if name == "train" else f"test_{name}"
            offset = data.get(f"{prefix}_offset")
            images = paint(grey, data[f"{prefix}_scale"][m], None if offset is None else offset[m])
            with torch.no_grad():
                hit = (module(images.flatten(1)).argmax(1) == y).float()
            assert meta[f"acc_{name}"][m].item() == pytest.approx(hit.mean().item(), abs=1e-6), name
        if task == "group":
            assert meta["minority_group"][m].item() == m % 3
            groups = data["g_test"][m]
            expected = [hit[groups == g].mean().item() for g in range(3)]
            np.testing.assert_allclose(meta["acc_group"][m].numpy(), expected, atol=1e-6)


def test_unbiased_accuracy_rises_with_sigma2_over_the_bias_levels():
    # The four named levels at the default training recipe, 8 models each.
    spec = ZooSpec(n_models=32)
    _, meta = train_batched(spec)
    acc = [meta["acc_unbiased"][meta["level"] == j].mean().item() for j in range(4)]
    assert np.all(np.diff(acc) > 0.03), acc
    assert acc[-1] - acc[0] > 0.25, acc
    biased = [meta["acc_biased"][meta["level"] == j].mean().item() for j in range(4)]
    assert all(b > u for b, u in zip(biased, acc))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_models=0), "n_models must be an integer >= 1"),
        (dict(n_models=2, family="resnet"), "family must be one of"),
        (dict(n_models=2, task="shape"), "task must be one of"),
        (dict(n_models=2, bias=("huge",)), "bias must be one of"),
        (dict(n_models=2, bias=()), "bias must name at least one level"),
        (dict(n_models=2, pool="C"), "pool must be .*A.*B"),
        (dict(n_models=2, n_train=5000), "n_train must be <="),
        (dict(n_models=2, minority_share=0.5), r"minority_share must be .*(1/3|0\.333)"),
        (dict(n_models=2, lr=0), "lr must be a (finite )?number > 0"),
        (dict(n_models=2, shift=1), "shift must be True or False"),
    ],
)
def test_bad_spec_names_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZooSpec(**kwargs)


def test_bad_chunk_size_and_range_are_rejected(tmp_path):
    spec = ZooSpec(n_models=4, **TINY)
    with pytest.raises(ValueError, match=f"chunk_size must be a positive multiple of {BLOCK}"):
        train_zoo(spec, chunk_size=BLOCK + 1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="start and stop must satisfy"):
        train_batched(spec, 2, 9)
