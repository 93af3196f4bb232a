"""The benchmarks' shared measurements: the matmul reference takes the fastest repeat, timed
returns what the call returned and how long it took."""

import time

import pytest

from earlybias import benchmarking


class Clock:
    """A fake ``time.perf_counter`` that reads its values from a list."""

    def __init__(self, *values):
        self.values = list(values)

    def __call__(self):
        return self.values.pop(0)


def test_matmul_reference_counts_2n3_operations_at_the_fastest_repeat(monkeypatch):
    # Three repeats of 2 s, 0.5 s and 1 s: the reference is 2 n^3 operations in 0.5 s.
    monkeypatch.setattr(benchmarking.time, "perf_counter", Clock(0.0, 2.0, 10.0, 10.5, 20.0, 21.0))
    assert benchmarking.matmul_flops_per_s(n=4, repeats=3) == pytest.approx(2 * 4**3 / 0.5)


def test_matmul_reference_on_this_machine_is_a_positive_rate():
    assert 0 < benchmarking.matmul_flops_per_s(n=64, repeats=2) < float("inf")


@pytest.mark.parametrize("kwargs, message", [(dict(n=0), "n must be"), (dict(repeats=0), "repeats must be")])
def test_matmul_reference_names_a_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmarking.matmul_flops_per_s(**kwargs)


def test_timed_returns_the_wall_time_and_the_result():
    def nap(seconds, *, result):
        time.sleep(seconds)
        return result

    seconds, out = benchmarking.timed(nap, 0.05, result="done")
    assert out == "done"
    assert 0.05 <= seconds < 5.0
