"""FFW's batched engine: linear heads, random masks of a given sparsity, gate training."""

import torch

from earlybias.surgeon import ffw
from earlybias.surgeon.experiment import random_masks
from earlybias.zoo import grouped


def test_train_linear_reads_a_separable_label_and_stops_at_a_plateau():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (400,), generator=g)
    h = torch.nn.functional.one_hot(labels, 4).float() + 0.1 * torch.randn(2, 400, 4, generator=g)
    head = ffw.train_linear(ffw.Linear.init(2, 4, 4, seed=1), h, labels, seed=2, max_epochs=500)
    acc = (ffw.linear_logits(head, h).argmax(-1) == labels).float().mean(dim=1)
    assert torch.all(acc > 0.97)
    assert not head.weight.requires_grad


def test_random_masks_keep_each_layers_count_at_other_places():
    g = torch.Generator().manual_seed(0)
    masks = {"a.weight": (torch.rand(3, 8, 5, generator=g) < 0.3).float(), "b.weight": torch.ones(3, 4)}
    rand = random_masks(masks, seed=4)
    for k in masks:
        torch.testing.assert_close(rand[k].flatten(1).sum(1), masks[k].flatten(1).sum(1))
    assert not torch.equal(rand["a.weight"], masks["a.weight"])
    torch.testing.assert_close(random_masks(masks, seed=4)["a.weight"], rand["a.weight"])


def test_find_masks_returns_binary_masks_and_a_history_per_model():
    net = grouped.ConvNet(3, 8, (4, 6), 10, (1, 2))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 3, 8, 8, generator=g)
    y, b = torch.randint(0, 10, (200,), generator=g), torch.randint(0, 10, (200,), generator=g)
    weights = grouped.init_params(net, [0, 1])
    out = ffw.find_masks(
        net, weights, (x, y, b), (x, y, b), mi_weight=[10.0, 0.0], epochs=2, seeds=[3, 4], head_epochs=3
    )
    assert set(out.masks) == set(net.weight_names())
    for k, mask in out.masks.items():
        assert mask.shape == weights[k].shape and set(mask.unique().tolist()) <= {0.0, 1.0}
        torch.testing.assert_close(mask, (out.gates[k] >= 0).float())
    assert out.temperatures.shape == out.val_mi.shape == (2, 2)
    assert not torch.equal(out.gates["fc.weight"], torch.zeros_like(out.gates["fc.weight"]))
