"""A chapter's book page: the executed notebook less widgets, defaults and nbgrader's hidden parts."""

import json

import nbformat

from earlybias import book
from earlybias.chapters import CHAPTERS

WIDGET = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "HBox()"}


def _executed(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "BOOK_CHAPTERS", tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {}}}}
    params = nbformat.v4.new_code_cell("seed = 0", metadata={"tags": ["parameters"]})
    bar = nbformat.v4.new_code_cell("run()")
    bar.outputs = [
        nbformat.v4.new_output("display_data", data=WIDGET),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ]
    solution = nbformat.v4.new_code_cell(
        "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
        metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "igb-ex1-solution"}},
    )
    check = nbformat.v4.new_code_cell(
        "assert isinstance(answer, int)\n### BEGIN HIDDEN TESTS\nassert answer == 42\n### END HIDDEN TESTS\n",
        metadata={"nbgrader": {"solution": False, "grade": True, "grade_id": "igb-ex1-test", "points": 1}},
    )
    nb.cells = [params, bar, solution, check]
    (tmp_path / "igb").mkdir()
    nbformat.write(nb, tmp_path / "igb" / "executed.ipynb")
    return json.loads(book.publish_chapter(CHAPTERS["igb"]).read_text())


def test_the_page_is_written_beside_the_run_directory(tmp_path, monkeypatch):
    _executed(tmp_path, monkeypatch)
    assert (tmp_path / "igb.ipynb").exists()


def test_widgets_go_and_other_outputs_stay(tmp_path, monkeypatch):
    page = _executed(tmp_path, monkeypatch)
    assert "widgets" not in page["metadata"]
    assert [o["output_type"] for o in page["cells"][1]["outputs"]] == ["stream"]


def test_the_defaults_cell_is_removed_from_the_page(tmp_path, monkeypatch):
    page = _executed(tmp_path, monkeypatch)
    assert "remove-cell" in page["cells"][0]["metadata"]["tags"]


def test_solutions_lose_their_markers_and_checks_their_hidden_tests(tmp_path, monkeypatch):
    page = _executed(tmp_path, monkeypatch)
    solution, check = page["cells"][2], page["cells"][3]
    assert "".join(solution["source"]) == "answer = 42"
    assert "".join(check["source"]) == "assert isinstance(answer, int)"
    assert solution["metadata"]["mystnb"]["code_prompt_show"] == "Show the reference solution"
    assert check["metadata"]["mystnb"]["code_prompt_show"] == "Show the check"
