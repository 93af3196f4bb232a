"""Source notebooks: committed without outputs, solutions folded."""

import json

import pytest

from earlybias.chapters import CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_committed_without_outputs(chapter):
    nb = json.loads(chapter.notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_exercises_have_folded_solutions(chapter):
    nb = json.loads(chapter.notebook.read_text())
    solutions = [c for c in nb["cells"] if "solution" in c["metadata"].get("tags", [])]
    assert 2 <= len(solutions) <= 4
    for cell in solutions:
        assert "hide-cell" in cell["metadata"]["tags"], "solutions are folded in the book"
