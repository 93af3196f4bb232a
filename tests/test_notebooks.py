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


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_exercise_prompts_state_their_kind_and_nbgraders_points(chapter):
    """Each prompt says "**Exercise k (kind, N points).**", N equal to its checks' points: the
    teachers' page lists the kinds, and a student reads the points where the task is."""
    import nbformat

    from earlybias.book import exercise_kinds
    from earlybias.grading import exercises

    nb = nbformat.read(chapter.notebook, as_version=4)
    stated = exercise_kinds(nb, chapter.id)
    assert {k: p for k, (_, p) in stated.items()} == exercises(nb)
    assert all(kind for kind, _ in stated.values())


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_every_cell_has_an_id(chapter):
    """nbformat 4.5 requires cell ids (a missing one will be an error), and nbgrader keys on them."""
    nb = json.loads(chapter.notebook.read_text())
    ids = [c.get("id") for c in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids)
