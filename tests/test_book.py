"""The book: default-profile claims (slow), and a -W build that fails on broken references."""

import shutil
import subprocess

import pytest

from conftest import ROOT
from earlybias.book import build_html, inputs_hash
from earlybias.chapters import CHAPTERS
from earlybias.results import load_results

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_default_profile_claims_all_pass(book_runs, chapter):
    record = load_results(book_runs / chapter.id / "results.json")
    assert record["profile"] == "default"
    failed = [f"{c['id']}: measured {c['measured']:.4g}, expected {c['expected']}"
              for c in record["claims"] if not c["passed"]]
    assert not failed, failed
    assert record["runtime_s"] < 240, "each chapter's default profile runs in at most 4 minutes"


def test_unchanged_inputs_execute_nothing(book_runs):
    from earlybias.book import execute_chapters

    assert execute_chapters(progress=False) == []
    for chapter in CHAPTERS.values():
        assert (book_runs / chapter.id / "inputs.sha256").read_text().strip() == inputs_hash(chapter)


def test_book_builds_with_warnings_as_errors(book_runs, tmp_path):
    index = build_html(ROOT / "book", tmp_path)
    html = index.read_text()
    assert "Decided Early" in html
    report = (index.parent / "report.html").read_text()
    assert "FAILED" not in report
    chapter = (index.parent / "chapters" / "igb" / "executed.html").read_text()
    assert "injected-parameters" in chapter


def test_broken_reference_fails_the_build(tmp_path):
    src = tmp_path / "book"
    src.mkdir()
    shutil.copy(ROOT / "book" / "_config.yml", src)
    shutil.copy(ROOT / "book" / "references.bib", src)
    (src / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (src / "intro.md").write_text("# Intro\n\nSee {doc}`no-such-page`.\n")
    with pytest.raises(subprocess.CalledProcessError):
        build_html(src, tmp_path / "out")
