"""The book: default-profile claims (slow), and a -W build that fails on broken references."""

import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

from earlybias.book import build_html, inputs_hash, is_current
from earlybias.chapters import CHAPTERS
from earlybias.claims import Claim
from earlybias.results import load_results

pytestmark = pytest.mark.slow

#: DESIGN.md, "Performance budgets": 8 minutes from an empty cache, the diffusion chapter (which
#: trains a generative model) 20.
COLD_BUDGET_S = {"diffusion": 1200}


@pytest.mark.parametrize("chapter", CHAPTERS.values(), ids=lambda c: c.id)
def test_default_profile_claims_pass_or_fail_as_listed(book_runs, chapter):
    """Every claim passes, except those the chapter lists in NOT_REPRODUCED, which must fail: one
    that starts passing fails this test, so the list stays true."""
    record = load_results(book_runs / chapter.id / "results.json")
    assert record["profile"] == "default"
    claims = [Claim.from_dict(c) for c in record["claims"]]
    wrong = [
        f"{c.id} {c.status}: measured {c.measured:.4g}, expected {c.expected}"
        for c in claims
        if not c.as_expected
    ]
    assert not wrong, wrong
    assert set(chapter.not_reproduced) <= {c.id for c in claims}, "NOT_REPRODUCED names no claim"
    # A sweep plots the chapter's headline metrics: each is one the notebook records.
    assert set(chapter.headline) <= set(record["metrics"]), "HEADLINE names a metric never recorded"
    # CI executes the book from an empty cache: the cold budgets of DESIGN.md.
    budget = COLD_BUDGET_S.get(chapter.id, 480)
    assert record["runtime_s"] < budget, f"{chapter.id} runs in at most {budget / 60:.0f} minutes cold"


def test_unchanged_inputs_execute_nothing(book_runs):
    from earlybias.book import execute_chapters

    assert execute_chapters(progress=False) == []
    for chapter in CHAPTERS.values():
        assert (book_runs / chapter.id / "inputs.sha256").read_text().strip() == inputs_hash(chapter)


def test_touching_an_input_makes_the_chapter_stale(book_runs):
    chapter = CHAPTERS["igb"]
    path = ROOT / "src" / "earlybias" / "claims.py"
    before = path.stat()
    stamped = (book_runs / chapter.id / "inputs.sha256").stat().st_mtime
    assert is_current(chapter)
    try:
        os.utime(path, (before.st_atime, stamped + 10))
        assert not is_current(chapter)
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert is_current(chapter)


def test_book_builds_with_warnings_as_errors(built_book):
    """The session's one -W build (conftest.py's ``built_book``, also what the browser tests load)."""
    assert "intro.html" in (built_book / "index.html").read_text()  # index redirects to the root page
    assert "Decided Early" in (built_book / "intro.html").read_text()
    report = (built_book / "report.html").read_text()
    assert "FAILED" not in report and "unexpectedly passed" not in report
    chapter = (built_book / "chapters" / "igb.html").read_text()  # DESIGN.md: chapters/<id>.html
    assert "injected-parameters" in chapter


def _mini_book(tmp_path, text: str):
    """A one-page book with the study's configuration (and its local extension)."""
    src = tmp_path / "book"
    src.mkdir()
    shutil.copy(ROOT / "book" / "_config.yml", src)
    shutil.copy(ROOT / "book" / "references.bib", src)
    shutil.copytree(ROOT / "book" / "_ext", src / "_ext")
    (src / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (src / "intro.md").write_text(f"# Intro\n\n{text}\n")
    return src


def test_broken_reference_fails_the_build(tmp_path):
    with pytest.raises(subprocess.CalledProcessError):
        build_html(_mini_book(tmp_path, "See {doc}`no-such-page`."), tmp_path / "out")
    # The same book with its reference fixed builds: the failure above was the reference's.
    shutil.rmtree(tmp_path / "book")
    assert build_html(_mini_book(tmp_path, "See {doc}`intro`."), tmp_path / "out").exists()


#: Attributes through which a page makes the browser fetch something: scripts, stylesheets and
#: other links, images, media, frames.
FETCHED = re.compile(
    r"<(script|link|img|source|iframe|video|audio|embed)\b[^>]*?\b(src|href|srcset)=\"([^\"]*)\"", re.I
)


def test_no_page_references_an_outside_script_stylesheet_or_image(built_book):
    """Offline means no reference at all, not only no request a browser happened to make: every
    script, stylesheet and image of every page is the site's own (citation links are <a>)."""
    outside = []
    for page in sorted(built_book.rglob("*.html")):
        for tag, attribute, url in FETCHED.findall(page.read_text(encoding="utf-8")):
            if re.match(r"(https?:)?//", url.strip(), re.I):
                outside.append(f"{page.relative_to(built_book)}: <{tag} {attribute}={url}>")
    assert not outside, "\n".join(outside[:30])


def test_surgeon_subnetwork_accuracy_recomputes_from_its_files_alone(book_runs):
    """The surgeon run directory's safetensors files (data/README.md, "The surgeon chapter's run
    outputs") give its headline accuracies to code that knows only the documented architecture."""
    import json

    import torch
    import torch.nn.functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file

    run = book_runs / "surgeon"
    weights, masks, test = (
        load_file(str(run / f"{n}.safetensors")) for n in ("vanilla", "masks", "test_set")
    )
    with safe_open(str(run / "vanilla.safetensors"), framework="pt") as f:
        meta = f.metadata()
    rhos, n_seeds = json.loads(meta["rhos"]), int(meta["n_seeds"])
    top = slice((len(rhos) - 1) * n_seeds, len(rhos) * n_seeds)

    def accuracy(m, masked):
        w = {
            k: v[m] * (masks[f"ffw/{k}"][m] if masked and f"ffw/{k}" in masks else 1)
            for k, v in weights.items()
        }
        h = test["images"]
        for i, stride in enumerate((1, 2, 2)):
            h = torch.relu(F.conv2d(h, w[f"conv{i}.weight"], w[f"conv{i}.bias"], stride=stride, padding=1))
        logits = F.linear(h.flatten(1), w["fc.weight"], w["fc.bias"])
        return (logits.argmax(1) == test["labels"]).float().mean().item()

    metrics = load_results(run / "results.json")["metrics"]
    ffw = sum(accuracy(m, True) for m in range(top.start, top.stop)) / n_seeds
    vanilla = sum(accuracy(m, False) for m in range(top.start, top.stop)) / n_seeds
    assert ffw == pytest.approx(metrics["ffw_unbiased_acc_top"], abs=1e-6)
    assert vanilla == pytest.approx(metrics["vanilla_unbiased_acc_top"], abs=1e-6)
    # the colours are those of an unbiased test set: a tenth of the images on their class's colour
    assert (test["colors"] == test["labels"]).float().mean().item() == pytest.approx(0.1, abs=0.02)


def test_the_books_sweep_has_every_point_and_its_figures(book_runs, tmp_path):
    """The page "Rerunning the study at scale" shows a real sweep: every point ran, and its table
    is what `earlybias sweep --collect` rebuilds from the points' run directories."""
    import pandas as pd

    from earlybias.book import BOOK_SWEEP, SWEEP_DIR
    from earlybias.sweep.grid import plan_sweep
    from earlybias.sweep.table import collect

    plan = plan_sweep(**BOOK_SWEEP, out=tmp_path / "sweep")
    table = pd.read_parquet(SWEEP_DIR / "table.parquet")
    assert list(table.point) == [p.name for p in plan.points] and (table.status == "done").all()
    pd.testing.assert_frame_equal(collect(SWEEP_DIR), table)
    figures = {p.name for p in (SWEEP_DIR / "figures").glob("*.png")}
    assert "gamma_measured-vs-depth.png" in figures
    assert all(f"figures/{name}" in (SWEEP_DIR / "summary.md").read_text() for name in figures)
    # What the page says of the figure: ReLU's bias grows with depth (the chapter's theory).
    relu = table[table.activation == "relu"].groupby("depth").gamma_measured.mean()
    assert relu.is_monotonic_increasing and relu.iloc[-1] > relu.iloc[0]
