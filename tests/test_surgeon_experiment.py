"""The surgeon experiment's data and parameters."""

import numpy as np
import pytest
import torch

from earlybias.surgeon.experiment import Setup, make_data


def test_data_has_ten_five_three_and_one_conflicting_digits_per_class_at_the_papers_levels():
    data = make_data(Setup())
    assert data.train_images.shape[:2] == (4, len(data.train_labels))
    assert data.n_conflicting.tolist() == [100, 50, 30, 10]  # 970 images per class, shifted ninefold
    assert len(data.gate_labels) == 2000
    # the test set and the balanced sets colour every class with every colour alike
    for colors, labels in ((data.test_colors, data.test_labels), (data.gate_colors, data.gate_labels)):
        counts = np.zeros((10, 10))
        np.add.at(counts, (labels.numpy(), colors.numpy()), 1)
        assert (counts > 0).all() and counts.max() <= 2.5 * counts.min()
    again = make_data(Setup())
    assert torch.equal(again.train_images, data.train_images) and torch.equal(
        again.test_images, data.test_images
    )
    other = make_data(Setup(seed=1))
    assert not torch.equal(other.test_images, data.test_images)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("rhos", (0.99, 1.0), "rhos must be"),
        ("rhos", (0.999, 0.99), "strictly increasing"),
        ("n_seeds", 1, "n_seeds"),
        ("balanced_size", 50, "balanced_size"),
        ("mi_weight", -1.0, "mi_weight"),
    ],
)
def test_setup_refuses_bad_values_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        Setup(**{field: value})
