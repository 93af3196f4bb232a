"""Batched training of many networks: the numbers of torch.nn + SGD one network at a time."""

import numpy as np
import pytest
import torch

from earlybias.igb import dynamics

rng = np.random.default_rng(0)
X_TRAIN, X_TEST = rng.standard_normal((120, 6)) + 0.5, rng.standard_normal((40, 6)) + 0.5
Y_TRAIN, Y_TEST = (X_TRAIN[:, 0] > 0.5).astype(int), (X_TEST[:, 0] > 0.5).astype(int)
DATA = (X_TRAIN, Y_TRAIN, X_TEST, Y_TEST)


@pytest.mark.parametrize("activation", dynamics.TRAIN_ACTIVATIONS)
def test_batched_training_gives_the_numbers_of_the_module_loop(activation):
    kwargs = dict(activation=activation, depth=2, width=8, n_inits=5, n_steps=12, batch_size=16, lr=0.1)
    batched = dynamics.train(*DATA, dtype=torch.float64, n_evals=5, seed=3, **kwargs)
    loop = dynamics.train_loop(*DATA, dtype=torch.float64, n_evals=5, seed=3, **kwargs)
    np.testing.assert_array_equal(batched.steps, loop.steps)
    np.testing.assert_array_equal(batched.favoured, loop.favoured)
    for field in ("share_favoured", "acc_favoured", "acc_other", "accuracy", "init_mean", "init_var"):
        np.testing.assert_allclose(getattr(batched, field), getattr(loop, field), atol=1e-12, err_msg=field)


def test_training_learns_and_step_zero_is_the_untrained_network():
    run = dynamics.train(*DATA, depth=2, width=16, n_inits=8, n_steps=200, lr=0.2, seed=1)
    assert run.steps[0] == 0 and run.steps[-1] == 200
    assert run.accuracy[:, -1].mean() > 0.85
    # At step 0 the favoured class is where the network sends most training points, so the
    # share of test predictions on it is mostly above one half.
    assert np.mean(run.share_favoured[:, 0] >= 0.5) >= 0.75
    fewer = dynamics.train(*DATA, depth=2, width=16, n_inits=3, n_steps=200, lr=0.2, seed=1)
    np.testing.assert_allclose(fewer.accuracy, run.accuracy[:3])  # a network does not depend on n_inits


def test_zero_learning_rate_keeps_the_initial_predictions():
    run = dynamics.train(*DATA, depth=1, width=8, n_inits=4, n_steps=30, lr=0.0, seed=2)
    for field in (run.share_favoured, run.acc_favoured, run.acc_other):
        np.testing.assert_array_equal(field, field[:, :1].repeat(field.shape[1], axis=1))


def test_eval_steps_are_logarithmic_and_start_at_initialisation():
    steps = dynamics.eval_steps(300, 20)
    assert steps[:5].tolist() == [0, 1, 2, 3, 4] and steps[-1] == 300
    assert np.all(np.diff(steps) > 0) and np.diff(steps)[-1] > np.diff(steps)[5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(activation="centered_relu"), "activation must be one of"),
        (dict(batch_size=500), "batch_size must be an integer"),
        (dict(lr=-1.0), "lr must be a finite number >= 0"),
        (dict(n_steps=0), "n_steps must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dynamics.train(*DATA, n_inits=2, **kwargs)
    with pytest.raises(ValueError, match="y_train must hold"):
        dynamics.train(X_TRAIN, Y_TRAIN[:-1], X_TEST, Y_TEST, n_inits=2)
