import matplotlib

matplotlib.use("Agg")

from earlybias.igb import ACTIVATIONS
from earlybias.igb.explorer import INITIAL, explore, explorer


def test_explorer_offers_every_activation_and_starts_at_the_initial_state():
    widget = explorer(seed=3)
    controls = {c.description: c for c in widget.children[:-1]}
    assert tuple(controls["activation"].options) == ACTIVATIONS
    assert [controls[k].value for k in ("activation", "depth", "pool k", "shift s")] == list(INITIAL.values())


def test_explore_refuses_pooling_outside_the_theory(capsys):
    explore("relu", 1, pool_k=2, input_shift=1.0)
    assert "centred inputs" in capsys.readouterr().out
