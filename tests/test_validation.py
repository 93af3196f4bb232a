"""The package's one set of argument checks: each names the argument and what is allowed."""

import numpy as np
import pytest

from earlybias.validation import check_choice, check_int, check_labels, check_real, check_reals, check_seed


@pytest.mark.parametrize("value", [3, np.int64(3)])
def test_check_int_accepts_integers_in_range(value):
    assert check_int("n", value, 1, 5) == 3 and type(check_int("n", value, 1)) is int


@pytest.mark.parametrize(
    "value, fragment",
    [
        (0, "n must be an integer >= 1 and <= 5, got 0"),
        (6, ">= 1 and <= 5"),
        (True, "got True"),
        (2.0, "2.0"),
    ],
)
def test_check_int_refuses_with_the_name_and_the_range(value, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[")):
        check_int("n", value, 1, 5)


def test_check_real_bounds_open_and_closed():
    assert check_real("lr", 1e-3, 0, low_open=True) == 1e-3
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        check_real("lr", 0, 0, low_open=True)
    assert check_real("w", 0, 0) == 0.0
    for bad in (float("nan"), float("inf"), "1", False):
        with pytest.raises(ValueError, match="w must be a finite number"):
            check_real("w", bad)


def test_check_choice_lists_the_choices():
    assert check_choice("family", "cnn", ("mlp", "cnn")) == "cnn"
    with pytest.raises(ValueError, match="family must be one of mlp, cnn; got 'resnet'"):
        check_choice("family", "resnet", ("mlp", "cnn"))


def test_check_reals_length_bounds_and_order():
    assert check_reals("levels", [1, 2.5], length=2, low=0, low_open=True, increasing=True) == (1.0, 2.5)
    for bad in ([2, 1], [1, 1], [0, 1], [1], "ab", [1, None]):
        with pytest.raises(ValueError, match="levels must be 2 finite numbers > 0, strictly increasing"):
            check_reals("levels", bad, length=2, low=0, low_open=True, increasing=True)


def test_check_reals_upper_bound_open_or_closed():
    assert check_reals("rhos", [0.99, 0.999], low=0, high=1, low_open=True, high_open=True) == (0.99, 0.999)
    with pytest.raises(ValueError, match=r"rhos must be .*> 0 and < 1, got \[0.5, 1\]"):
        check_reals("rhos", [0.5, 1], low=0, high=1, low_open=True, high_open=True)
    assert check_reals("shares", [0.5, 1], high=1) == (0.5, 1.0)
    with pytest.raises(ValueError, match="<= 1"):
        check_reals("shares", [1.5], high=1)


def test_check_seed_is_a_31_bit_integer():
    assert check_seed(2**31 - 1) == 2**31 - 1
    for bad in (-1, 2**31, 1.5):
        with pytest.raises(ValueError, match="seed must be an integer >= 0 and <= 2147483647"):
            check_seed(bad)


def test_check_labels_shape_range_and_variety():
    assert check_labels("y", [0, 2, 1], 3, n_classes=3).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match=r"one integer label per sample \(4\)"):
        check_labels("y", [0, 1, 2], 4)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        check_labels("y", [0, 3], n_classes=3)
    with pytest.raises(ValueError, match="two distinct labels"):
        check_labels("y", [1, 1], at_least_two=True)
    with pytest.raises(ValueError, match="dtype float"):
        check_labels("y", [0.0, 1.0])
