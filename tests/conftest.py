import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from earlybias.paths import ROOT

EARLYBIAS = [sys.executable, "-m", "earlybias.cli"]

# Same thread count as `make`: the claims are checked on the numbers the book shows.
os.environ.setdefault("EARLYBIAS_THREADS", "2")


def earlybias(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the ``earlybias`` command as a user would, capturing its output."""
    return subprocess.run([*EARLYBIAS, *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="session")
def book_runs():
    """Execute the book's chapters at the default profile (only those whose inputs changed)."""
    from earlybias.book import execute_chapters

    execute_chapters(progress=False)
    return ROOT / "book" / "chapters"


@pytest.fixture(scope="session")
def built_book(book_runs, tmp_path_factory) -> Path:
    """The HTML book built once (``-W -n --keep-going``) from the executed chapters: its html dir."""
    from earlybias.book import build_html

    return build_html(ROOT / "book", tmp_path_factory.mktemp("book")).parent


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser that drops a connection it no longer needs is not the site's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def book_site(built_book):
    """The built book served over http from 127.0.0.1, as a site: its base URL (ends with /)."""
    server = _QuietServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(built_book)))
    thread = threading.Thread(target=server.serve_forever, name="book-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- Chromium for the browser tests (tests/test_browser.py) -------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: The words every browser-test skip carries: the terminal summary looks for them.
NO_CHROMIUM = "browser tests skipped: no Chromium"


def find_chromium() -> tuple[str | None, str]:
    """The Chromium to drive, and where it came from (or why there is none)."""
    given = os.environ.get("EARLYBIAS_CHROMIUM")
    if given:
        path = shutil.which(given)
        if path:
            return path, f"EARLYBIAS_CHROMIUM={given}"
        return None, f"{NO_CHROMIUM}: EARLYBIAS_CHROMIUM={given} is not an executable"
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path, f"{name} on PATH"
    return None, f"{NO_CHROMIUM} ({', '.join(CHROMIUM_NAMES)}) on PATH and EARLYBIAS_CHROMIUM unset"


def _browser_tests_skipped(terminalreporter) -> int:
    skipped = terminalreporter.stats.get("skipped", [])
    return sum(NO_CHROMIUM in str(getattr(r, "longrepr", "")) for r in skipped)


def pytest_terminal_summary(terminalreporter):
    skipped = _browser_tests_skipped(terminalreporter)
    if not skipped:
        return
    tr = terminalreporter
    tr.write_sep("!", f"THE BROWSER TESTS DID NOT RUN ({skipped} skipped)", red=True, bold=True)
    tr.write_line(find_chromium()[1], red=True, bold=True)
    tr.write_line(
        "The built book's pages were NOT checked in a browser (console errors, requests leaving the site,",
        red=True,
    )
    tr.write_line("math, images, glued numbers, explorers, report links, search).", red=True)
    tr.write_line(
        "Install Chromium (Debian/Ubuntu: sudo apt-get install -y chromium) or point "
        "EARLYBIAS_CHROMIUM at a Chromium or Chrome binary, then run make test again.",
        red=True,
        bold=True,
    )
    tr.write_sep("!", red=True, bold=True)


def pytest_unconfigure(config):
    # Once more after pytest's last line, where a long list of failures cannot push it out of view.
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None and _browser_tests_skipped(tr):
        tr.write_line(
            "!!! THE BROWSER TESTS DID NOT RUN: no Chromium (apt-get install chromium); see above",
            red=True,
            bold=True,
        )
