import math

import pytest

from earlybias.claims import above, at_least, below, claims_frame, within


def test_within_relative_and_absolute():
    assert within("a", "p", "s", 1.14, 1.0, rel_tol=0.15).passed
    assert not within("a", "p", "s", 1.16, 1.0, rel_tol=0.15).passed
    assert within("a", "p", "s", 0.52, 0.5, abs_tol=0.03).passed
    assert not within("a", "p", "s", 0.54, 0.5, abs_tol=0.03).passed
    assert within("a", "p", "s", 0.5, 0.5, abs_tol=0.03).expected == "0.5 ± 0.03"
    assert within("a", "p", "s", 1.0, 1.0, rel_tol=0.15).expected == "1 ± 15%"


def test_bounds_are_strict():
    assert below("a", "p", "s", 0.01, 0.02).passed and not below("a", "p", "s", 0.02, 0.02).passed
    assert above("a", "p", "s", 0.9, 0.85).passed and not above("a", "p", "s", 0.85, 0.85).passed


def test_nan_is_an_error_not_a_failed_claim():
    with pytest.raises(ValueError, match="NaN"):
        below("a", "p", "s", math.nan, 1.0)


def test_within_needs_exactly_one_tolerance():
    with pytest.raises(ValueError):
        within("a", "p", "s", 1.0, 1.0)


def test_frame_has_the_results_columns():
    frame = claims_frame([below("x", "paper", "stmt", 0.1, 1.0)])
    assert list(frame.columns) == [
        "id",
        "statement",
        "measured",
        "expected",
        "status",
        "not_reproduced",
        "paper",
    ]


def test_at_least_is_inclusive():
    assert at_least("a", "p", "s", 0.99, 0.99).passed
    assert not at_least("a", "p", "s", 0.989, 0.99).passed
    assert at_least("a", "p", "s", 0.99, 0.99).expected == ">= 0.99"
