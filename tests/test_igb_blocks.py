"""Seeded blocks of networks, shared by the igb engines: the blocks a run touches, their random
streams, and the choice of engine named in errors."""

import numpy as np
import pytest
import torch

from earlybias.igb import blocks, convnets, dynamics, networks


def test_a_run_touches_whole_blocks_and_part_of_the_last():
    assert list(blocks.blocks(70, 32)) == [(0, 32), (1, 32), (2, 6)]
    assert list(blocks.blocks(64, 32)) == [(0, 32), (1, 32)]
    assert list(blocks.blocks(1, 128)) == [(0, 1)]


def test_each_block_has_its_own_reproducible_stream():
    def draw(seed, b):
        return torch.randn(5, generator=blocks.block_generator(seed, b))

    torch.testing.assert_close(draw(3, 1), draw(3, 1))
    assert not torch.equal(draw(3, 1), draw(3, 2))  # the next block of the same run
    assert not torch.equal(draw(3, 1), draw(4, 1))  # the same block of the next seed


@pytest.mark.parametrize(
    "run",
    [
        lambda **kw: networks.simulate(np.ones((4, 3)), n_inits=2, **kw),
        lambda **kw: convnets.simulate_conv(np.ones((4, 8, 8)), n_inits=2, **kw),
        lambda **kw: dynamics.train(
            np.ones((8, 3)), np.arange(8) % 2, np.ones((4, 3)), np.arange(4) % 2, batch_size=4, **kw
        ),
    ],
    ids=["simulate", "simulate_conv", "train"],
)
def test_every_engine_names_a_bad_engine_and_dtype(run):
    with pytest.raises(ValueError, match="engine must be one of batched, loop; got 'gpu'"):
        run(engine="gpu")
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        run(dtype=torch.float16)
