"""Run estimates: a run that cannot fit in memory is refused before a kernel starts."""

import pytest
from conftest import earlybias

from earlybias.budget import Estimate, available_memory, check_fits
from earlybias.params import ParamError


def test_a_run_larger_than_the_memory_is_refused_naming_its_parameters():
    estimate = Estimate(8 * 2**30, 10.0, ("n_inits", "width"))
    check_fits("igb", {"n_inits": 10, "width": 4}, estimate, available=16 * 2**30)
    with pytest.raises(ParamError, match=r"n_inits=10, width=4 needs about 8.0 GiB .* 4.0 GiB available"):
        check_fits("igb", {"n_inits": 10, "width": 4}, estimate, available=4 * 2**30)


def test_available_memory_is_read_from_the_machine():
    assert 2**28 < available_memory() < 2**50


def test_duplicated_parameter_exits_2(tmp_path):
    out = earlybias("run", "igb", "-p", "seed=1", "-p", "seed=2", cwd=tmp_path)
    assert out.returncode == 2 and "parameter 'seed' is given twice" in out.stderr
    assert list(tmp_path.iterdir()) == []
