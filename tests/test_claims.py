import math

import pytest

from earlybias.claims import (
    Claim,
    Experiment,
    above,
    at_least,
    below,
    claims_frame,
    mark_not_reproduced,
    within,
)


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


def test_a_listed_claim_that_fails_is_not_reproduced_and_one_that_passes_is_flagged():
    failing, passing = below("gap", "p", "s", 0.2, 0.05), below("ok", "p", "s", 0.01, 0.05)
    marked = mark_not_reproduced([failing, passing], {"gap": "too few models here", "ok": "listed wrongly"})
    assert [c.status for c in marked] == ["not reproduced", "unexpectedly passed"]
    assert [c.as_expected for c in marked] == [True, False]
    assert marked[0].not_reproduced == "too few models here"
    assert failing.status == "FAILED" and not failing.as_expected
    assert passing.status == "passed" and passing.as_expected


def test_a_claim_survives_results_json():
    claim = mark_not_reproduced([above("x", "paper", "stmt", 0.3, 0.5)], {"x": "why"})[0]
    d = claim.to_dict()
    assert d["status"] == "not reproduced" and Claim.from_dict(d) == claim


def test_an_infinite_measurement_survives_results_json(tmp_path):
    from earlybias.results import load_results, write_results

    claim = above("x", "paper", "stmt", math.inf, 1.0)
    write_results(
        tmp_path / "results.json",
        chapter="c",
        profile="smoke",
        params={},
        metrics={},
        claims=[claim.to_dict()],
        runtime_s=1.0,
        provenance={},
    )
    back = Claim.from_dict(load_results(tmp_path / "results.json")["claims"][0])
    assert back.measured == math.inf and back.passed


def test_experiment_add_prefixes_metrics_and_gathers_claims():
    total = Experiment()
    part = Experiment({"gamma": 1.0}, {"t": 1}, [below("a", "p", "s", 0.0, 1.0)])
    assert total.add(part, "relu") is part
    total.add(Experiment({"gamma": 2.0}, {}, [below("b", "p", "s", 0.0, 1.0)]), "tanh")
    assert total.metrics == {"relu_gamma": 1.0, "tanh_gamma": 2.0}
    assert [c.id for c in total.claims] == ["a", "b"]
    with pytest.raises(ValueError, match="relu_gamma"):
        total.add(part, "relu")


def test_claims_table_shows_the_reason():
    frame = claims_frame(mark_not_reproduced([above("x", "p", "s", 0.3, 0.5)], {"x": "why not"}))
    assert frame.loc[0, "status"] == "not reproduced" and frame.loc[0, "not_reproduced"] == "why not"
