"""The pruning chapter's parameters: percents refused by name, profiles valid, estimate sane."""

import pytest

from earlybias import pruning
from earlybias.params import ParamError, load_profiles, resolve
from earlybias.paths import ROOT
from earlybias.pruning.experiment import Setup, gmp_sparsity


def _params(**kw):
    return resolve(pruning.PARAMS, {}, kw)


def test_percent_sparsities_are_refused_with_the_fractions_to_write():
    with pytest.raises(ParamError, match=r"fractions in \(0, 1\), not percents \(write \[0.8, 0.9\]\)"):
        pruning.check_params(_params(sparsities=[80.0, 90.0]))


@pytest.mark.parametrize("bad", [[0.9, 0.8], [0.0, 0.5], [0.5, 1.0], [-0.1]])
def test_sparsities_must_be_increasing_fractions(bad):
    with pytest.raises(ParamError, match="parameter 'sparsities'"):
        pruning.check_params(_params(sparsities=bad))


def test_profiles_are_valid_and_the_default_fits_the_budget():
    profiles = load_profiles(ROOT / "notebooks" / "params" / "pruning.yml", pruning.PARAMS)
    for values in profiles.values():
        pruning.check_params(resolve(pruning.PARAMS, values, {}))
    default = pruning.estimate(_params())
    assert 30 < default.seconds < 8 * 60 and default.memory_bytes < 4 * 2**30
    assert pruning.estimate(resolve(pruning.PARAMS, profiles["smoke"], {})).seconds < default.seconds


def test_setup_refuses_what_the_schema_would():
    with pytest.raises(ValueError, match="sparsities"):
        Setup(sparsities=(0.9, 0.8))
    with pytest.raises(ValueError, match="fractions in"):
        Setup(sparsities=(0.5, 1.5))


def test_gradual_schedule_starts_low_and_holds_the_target():
    assert gmp_sparsity(0, 1000, 0.99) == pytest.approx(0.05)
    assert gmp_sparsity(750, 1000, 0.99) == pytest.approx(0.99)
    assert gmp_sparsity(999, 1000, 0.99) == pytest.approx(0.99)
    values = [gmp_sparsity(t, 1000, 0.99) for t in range(0, 1000, 10)]
    assert all(b >= a for a, b in zip(values, values[1:]))
