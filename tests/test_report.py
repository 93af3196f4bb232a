"""The report page's table: every chapter's runs and claims, not-reproduced findings with their reason."""

from datetime import UTC, datetime

from earlybias import book
from earlybias.claims import below, mark_not_reproduced
from earlybias.results import load_results, provenance, write_results


def test_report_shows_passed_failed_and_not_reproduced_claims(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "BOOK_CHAPTERS", tmp_path)
    monkeypatch.setattr(book, "REPORT_TABLE", tmp_path / "claims.md")
    claims = mark_not_reproduced(
        [below("ok", "francazi2024igb", "s1", 0.0, 1.0), below("gap", "francazi2024igb", "s2", 2.0, 1.0)],
        {"gap": "does not hold | at 8x8"},
    )
    (tmp_path / "igb").mkdir()
    write_results(
        tmp_path / "igb" / "results.json",
        chapter="igb",
        profile="default",
        params={},
        metrics={},
        claims=[c.to_dict() for c in claims],
        runtime_s=1.0,
        provenance=provenance(tmp_path, 2, datetime.now(UTC)),
    )
    book.write_report_table()
    text = (tmp_path / "claims.md").read_text()
    assert "| 1 / 2 (1 listed as not reproduced) |" in text
    # Each claim links to its row in its chapter's page (the anchor show_claims writes).
    assert '| <a href="chapters/igb.html#claim-ok">ok</a> | s1 | 0 | < 1 | passed |' in text
    gap = '| <a href="chapters/igb.html#claim-gap">gap</a> | s2 | 2 | < 1 |'
    assert gap + " *not reproduced*: does not hold \\| at 8x8 |" in text
    assert "| weights | not executed |" in text


def test_undefined_metrics_are_written_as_null_so_results_json_stays_json(tmp_path):
    path = tmp_path / "results.json"
    write_results(
        path,
        chapter="igb",
        profile="smoke",
        params={},
        metrics={"defined": 0.5, "undefined": float("nan")},
        claims=[],
        runtime_s=1.0,
        provenance={},
    )
    assert "NaN" not in path.read_text()
    assert load_results(path)["metrics"] == {"defined": 0.5, "undefined": None}
