"""The book's input hash (``book.inputs_hash``): what must not make a chapter re-execute. What
must is tested on the executed book (test_book.py, slow)."""

import sys

from earlybias.book import inputs_hash
from earlybias.chapters import CHAPTERS


def test_the_hash_ignores_packages_put_on_sys_path_at_run_time(tmp_path, monkeypatch):
    """Importing nbgrader puts setuptools' vendored packages on sys.path: the hash of the same
    inputs must not change within one process (``earlybias book`` would re-execute everything)."""
    chapter = CHAPTERS["igb"]
    before = inputs_hash(chapter)
    dist = tmp_path / "vendored_thing-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vendored-thing\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert str(tmp_path) in sys.path
    assert inputs_hash(chapter) == before
