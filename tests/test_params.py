"""The parameter schema: parsing, validation messages, profiles, and the notebook's parameters cell."""

import ast
import json

import pytest

from earlybias.chapters import CHAPTERS, get_chapter
from earlybias.params import PROFILES, Param, ParamError, parse_overrides, resolve

IGB = CHAPTERS["igb"].params


@pytest.mark.parametrize(
    "pair, value",
    [
        ("depth=6", 6),
        ("activation=tanh", "tanh"),
        ("input_shift=-0.5", -0.5),
        ("standardize=true", True),
        ("standardize=0", False),
        ("seed=12", 12),
    ],
)
def test_parse_good_values(pair, value):
    name = pair.split("=")[0]
    assert parse_overrides(IGB, [pair]) == {name: value}


@pytest.mark.parametrize(
    "pair, fragment",
    [
        ("depth=abc", "parameter 'depth'"),
        ("seed=1.5", "parameter 'seed'"),
        ("depth=", "parameter 'depth'"),
        ("depth=0", "an integer in [1, 32]"),
        ("width=-5", "parameter 'width'"),
        ("activation=sigmoidx", "one of relu, tanh, linear, centered_relu, gelu, sigmoid"),
        ("colour=red", "unknown parameter 'colour'"),
        ("depth", "expected NAME=VALUE"),
        ("standardize=maybe", "true or false"),
        ("input_shift=nan", "parameter 'input_shift'"),
    ],
)
def test_parse_bad_values_name_the_parameter(pair, fragment):
    with pytest.raises(ParamError) as err:
        parse_overrides(IGB, [pair])
    assert fragment in str(err.value)


def test_floats_type_checks_length_and_bounds():
    p = Param("levels", "floats", [0.1, 0.2], "two variances", low=0.0, length=2)
    assert p.parse("0.3,0.4") == [0.3, 0.4]
    for bad in ("0.3", "0.3,-1", "a,b"):
        with pytest.raises(ParamError, match="parameter 'levels'"):
            p.parse(bad)


def test_schema_default_must_itself_be_allowed():
    with pytest.raises(ParamError):
        Param("depth", "int", 0, "bad default", low=1)


def test_overrides_beat_profile_beat_defaults():
    merged = resolve(IGB, {"depth": 2, "width": 8}, {"width": 16})
    assert merged["depth"] == 2 and merged["width"] == 16
    assert merged["activation"] == "relu"
    assert list(merged) == [p.name for p in IGB]


def test_unknown_chapter_is_bad_input():
    with pytest.raises(ParamError, match="unknown chapter 'nope': allowed: igb"):
        get_chapter("nope")


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_every_profile_is_valid(chapter):
    profiles = chapter.profiles()
    assert set(PROFILES) <= set(profiles)
    for values in profiles.values():
        params = resolve(chapter.params, values, {})
        if chapter.check:
            chapter.check(params)


def _parameters_cell(chapter) -> dict:
    nb = json.loads(chapter.notebook.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged `parameters`"
    values = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds plain assignments only"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_notebook_parameters_cell_agrees_with_schema(chapter):
    cell = _parameters_cell(chapter)
    assert cell == {p.name: p.default for p in chapter.params}
