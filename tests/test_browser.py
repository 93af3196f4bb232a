"""The built book in a browser: the system's headless Chromium, driven by Playwright, over http.

Every page the build writes (found in the output, not listed here) loads with no console error, no
failed request and no request leaving the site; its math is typeset, its images load and its glued
numbers show. Each chapter's in-page explorer answers its controls, every claim has its anchor,
the report's links to chapters and claims resolve, and search finds each chapter by its title.

Skipped, with a banner in the terminal summary (conftest.py), when no Chromium is found. A failing
page's full-page screenshot is saved under build/browser-failures/ and named in the failure.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from conftest import ROOT, find_chromium
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from earlybias.chapters import CHAPTERS
from earlybias.results import load_results

CHROMIUM, CHROMIUM_FROM = find_chromium()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=CHROMIUM_FROM)]

FAILURES = ROOT / "build" / "browser-failures"
#: Milliseconds a page may take to load, typeset and answer a control.
TIMEOUT_MS = 30_000
#: The classes myst-nb gives a ``{glue}`` value pasted into the text.
GLUE = ".pasted-text, .pasted-inline"


# --- the browser and one page in it -------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    shutil.rmtree(FAILURES, ignore_errors=True)  # screenshots of this run's failures only
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A page of the site in its own browser context, and what it did on the way."""

    page: Page
    site: str
    #: requests (and websockets) to any host but the site's: blocked, recorded
    external: list[str] = field(default_factory=list)
    #: requests to the site that failed or were answered with an error status
    failed: list[str] = field(default_factory=list)
    #: console messages of type error, and uncaught exceptions
    console: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(urljoin(self.site, path), wait_until="load")
        try:
            self.page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        except PlaywrightTimeout:
            self.console.append(f"the network is still busy {TIMEOUT_MS / 1000:.0f} s after load")

    def screenshot(self, name: str) -> Path:
        path = FAILURES / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.page.screenshot(path=path, full_page=True, timeout=TIMEOUT_MS)
        except Exception as e:  # a screenshot must not hide the failure it illustrates
            return Path(f"{path} (not saved: {e})")
        return path


@contextmanager
def tab(browser: Browser, site: str) -> Iterator[Tab]:
    host = urlsplit(site).netloc
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    t = Tab(context.new_page(), site)

    def local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob", "about") or parts.netloc == host

    def route(r):
        if local(r.request.url):
            r.continue_()
        else:
            t.external.append(r.request.url)
            r.abort("blockedbyclient")

    def response(resp):
        if resp.status >= 400 and local(resp.url):
            t.failed.append(f"{resp.status} {resp.url}")

    def request_failed(req):
        if local(req.url) and not req.url.startswith(("data:", "blob:")):
            t.failed.append(f"{req.failure} {req.url}")

    def console(msg):
        if msg.type != "error":
            return
        where = msg.location.get("url", "")
        # the blocked and failed requests are reported as such, not twice
        if msg.text.startswith("Failed to load resource") and (
            where in t.external or any(f.endswith(" " + where) for f in t.failed)
        ):
            return
        t.console.append(f"{msg.text} ({where}:{msg.location.get('lineNumber')})")

    context.route("**/*", route)
    t.page.on("response", response)
    t.page.on("requestfailed", request_failed)
    t.page.on("console", console)
    t.page.on("pageerror", lambda e: t.console.append(f"uncaught {e.name}: {e.message}"))
    t.page.on("websocket", lambda ws: None if local(ws.url) else t.external.append(ws.url))
    try:
        yield t
    finally:
        context.close()


# --- the checks every page gets -----------------------------------------------------------------

#: MathJax 3 has typeset every math node Sphinx wrote, and no TeX is left in the text.
MATH_JS = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const problems = [];
  for (const el of document.querySelectorAll('.math')) {
    if (!el.querySelector('mjx-container'))
      problems.push('not typeset: ' + el.textContent.trim().slice(0, 80));
  }
  const tex = /\$[^$\s]([^$]*[^$\s])?\$|\\\(|\\\[/;
  const skip = 'code, pre, kbd, samp, script, style, textarea, noscript, .highlight, .math, mjx-container';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!tex.test(n.nodeValue) || (n.parentElement && n.parentElement.closest(skip))) continue;
    problems.push('raw TeX in the text: ' + n.nodeValue.trim().slice(0, 120));
  }
  return problems;
}"""

#: Scroll through the page (lazy images load), then every <img> must have loaded.
IMAGES_JS = """async () => {
  const pause = ms => new Promise(r => setTimeout(r, ms));
  for (let y = 0; y < document.documentElement.scrollHeight; y += window.innerHeight) {
    window.scrollTo(0, y);
    await pause(30);
  }
  const images = Array.from(document.images);
  for (const img of images) img.loading = 'eager';
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done, {once: true});
    img.addEventListener('error', done, {once: true});
    setTimeout(done, 15000);
  })));
  window.scrollTo(0, 0);
  return images.filter(img => !(img.complete && img.naturalWidth > 0))
               .map(img => 'does not load: ' + (img.getAttribute('src') || img.outerHTML.slice(0, 120)));
}"""

#: Every glued value shows something, and a number rather than a missing one or a Python repr.
GLUE_JS = """sel => Array.from(document.querySelectorAll(sel)).flatMap(el => {
  const text = el.textContent.trim();
  const around = (el.closest('p, li, td, th, dd, figcaption') || el.parentElement).textContent
                   .trim().replace(/\\s+/g, ' ').slice(0, 100);
  if (!text && !el.querySelector('img, svg, canvas, mjx-container, table'))
    return ['empty glue in: ' + around];
  if (/^(nan|-?inf|none|null|undefined)$/i.test(text)) return [`glue reads '${text}' in: ${around}`];
  if (/^(['"]).*\\1$/.test(text)) return [`glue shows a Python string's quotes ${text} in: ${around}`];
  return [];
})"""


@dataclass
class PageReport:
    external: list[str]
    failed: list[str]
    console: list[str]
    math: list[str]
    images: list[str]
    glue: list[str]
    screenshot: Path | None = None


def _listing(items: list[str], indent: str, limit: int = 10) -> list[str]:
    more = [f"{indent}... and {len(items) - limit} more"] if len(items) > limit else []
    return [f"{indent}{x}" for x in items[:limit]] + more


def _redirect(html: str) -> str | None:
    m = re.search(r'<meta\s+http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', html, re.I)
    return m and m.group(1)


@pytest.fixture(scope="session")
def pages(built_book) -> list[str]:
    """Every page of the build, as a path relative to its root (not its assets)."""
    found = (p.relative_to(built_book).as_posix() for p in built_book.rglob("*.html"))
    return sorted(p for p in found if p.split("/")[0] not in ("_static", "_sources"))


@pytest.fixture(scope="session")
def page_reports(browser, book_site, built_book, pages) -> dict[str, PageReport]:
    """Each page visited once; what each check found on it (empty lists: all well)."""
    reports = {}
    for path in pages:
        target = _redirect((built_book / path).read_text(encoding="utf-8"))
        if target is not None:  # index.html: a redirect to the root page, checked in its own right
            missing = [] if urljoin(path, target) in pages else [f"redirects to a missing page: {target}"]
            reports[path] = PageReport([], missing, [], [], [], [])
            continue
        with tab(browser, book_site) as t:
            t.goto(path)
            math = t.page.evaluate(MATH_JS)
            images = t.page.evaluate(IMAGES_JS)
            glue = t.page.evaluate(GLUE_JS, GLUE)
            t.page.wait_for_timeout(200)  # errors of what scrolling loaded
            report = PageReport(t.external, t.failed, t.console, math, images, glue)
            if any((report.external, report.failed, report.console, math, images, glue)):
                report.screenshot = t.screenshot(path.removesuffix(".html"))
        reports[path] = report
    return reports


CHECKS = {
    "no-request-leaves-the-site": "external",
    "every-request-to-the-site-succeeds": "failed",
    "no-console-error": "console",
    "math-is-typeset": "math",
    "every-image-loads": "images",
    "every-glued-value-shows": "glue",
}


@pytest.mark.parametrize("check", CHECKS)
def test_every_page(page_reports, check):
    bad = {page: r for page, r in page_reports.items() if getattr(r, CHECKS[check])}
    lines = []
    for page, r in bad.items():
        found = getattr(r, CHECKS[check])
        lines.append(f"{page}: {len(found)} (screenshot: {r.screenshot})")
        lines += _listing(found, "    ")
    assert not bad, f"{check} fails on {len(bad)} of {len(page_reports)} pages:\n" + "\n".join(lines)


def test_the_books_pages_exist(pages):
    expected = [f"chapters/{c}.html" for c in CHAPTERS] + ["report.html", "teachers.html", "search.html"]
    missing = [p for p in expected if p not in pages]
    assert not missing, f"missing pages {missing}; the build has {pages}"


# --- the chapters -------------------------------------------------------------------------------


def _chapter_page(chapter: str, pages: list[str]) -> str:
    path = f"chapters/{chapter}.html"
    assert path in pages, f"no page {path}; the build has {pages}"
    return path


def _fail(t: Tab, name: str, message: str):
    pytest.fail(f"{message}\n(screenshot: {t.screenshot(name)})", pytrace=False)


#: Choose another value of a control as a reader would: returns {from, to} or null when there is none.
OTHER_VALUE_JS = """el => {
  if (el.tagName === 'SELECT') {
    const other = Array.from(el.options).find(o => !o.disabled && o.value !== el.value);
    return other ? {from: el.value, to: other.value} : null;
  }
  const min = parseFloat(el.min || '0'), max = parseFloat(el.max || '100'), v = parseFloat(el.value);
  return min === max ? null : {from: el.value, to: String(v < max ? max : min)};
}"""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_chapters_explorer_answers_every_control(browser, book_site, pages, chapter):
    path = _chapter_page(chapter, pages)
    shot = f"chapters/{chapter}.explorer"  # the screenshot on failure
    with tab(browser, book_site) as t:
        t.goto(path)
        explorers = t.page.locator("div.earlybias-explorer")
        if not explorers.count():
            _fail(t, shot, f"{path} has no <div class='earlybias-explorer'>")
        dead, loaded = [], len(t.console)  # the page's own errors are test_every_page's
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            plot = explorer.locator("div.earlybias-explorer-plot")
            controls = explorer.locator("select[data-control], input[type=range][data-control]")
            if plot.count() != 1 or not controls.count():
                _fail(
                    t,
                    shot,
                    f"explorer {i} of {path}: {plot.count()} plots (div.earlybias-explorer-plot), "
                    f"{controls.count()} controls (select or range input with data-control)",
                )
            graph = plot.element_handle()
            try:
                t.page.wait_for_function("el => Array.isArray(el.data) && el.data.length > 0", arg=graph)
            except PlaywrightTimeout:
                _fail(t, shot, f"explorer {i} of {path}: the plot never gets its traces")
            for j in range(controls.count()):
                control = controls.nth(j)
                name = control.get_attribute("data-control")
                change = control.evaluate(OTHER_VALUE_JS)
                if change is None:
                    dead.append(f"{name}: has no other value to choose")
                    continue
                if not control.is_visible():
                    dead.append(f"{name}: is not visible, a reader cannot use it")
                    continue
                before = plot.evaluate("el => JSON.stringify(el.data)")
                try:  # as a reader does: the value changes, input and change are fired
                    if control.evaluate("el => el.tagName") == "SELECT":
                        control.select_option(change["to"], timeout=10_000)
                    else:
                        control.fill(change["to"], timeout=10_000)
                except PlaywrightTimeout as e:
                    dead.append(f"{name}: cannot be set to {change['to']}: {e.message.splitlines()[0]}")
                    continue
                try:
                    t.page.wait_for_function(
                        "([el, old]) => JSON.stringify(el.data) !== old", arg=[graph, before], timeout=10_000
                    )
                except PlaywrightTimeout:
                    dead.append(f"{name}: {change['from']} -> {change['to']} leaves the plot's data alone")
        problems = dead + t.console[loaded:]
        if problems:
            _fail(t, shot, f"{path}'s explorer:\n  " + "\n  ".join(problems))


def _claim_ids(book_runs: Path, chapter: str) -> list[str]:
    return [c["id"] for c in load_results(book_runs / chapter / "results.json")["claims"]]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_claim_has_its_anchor_on_the_chapter_page(browser, book_site, book_runs, pages, chapter):
    path = _chapter_page(chapter, pages)
    ids = [f"claim-{c}" for c in _claim_ids(book_runs, chapter)]
    with tab(browser, book_site) as t:
        t.goto(path)
        missing = t.page.evaluate("ids => ids.filter(id => !document.getElementById(id))", ids)
        if missing:
            head = f"{path}: {len(missing)} of {len(ids)} claims have no anchor"
            _fail(t, f"chapters/{chapter}.claims", "\n".join([head, *_listing(missing, "  no id=")]))


def test_the_reports_links_to_chapters_and_claims_resolve(browser, book_site, book_runs, pages):
    assert "report.html" in pages, f"no report.html; the build has {pages}"
    with tab(browser, book_site) as t:
        t.goto("report.html")
        hrefs = t.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        links = set()  # (page, fragment) of every link to a chapter page
        for href in hrefs:
            if href.startswith(book_site):
                page, _, fragment = href.removeprefix(book_site).partition("#")
                page = page.split("?")[0]
                if re.fullmatch(r"chapters/.+\.html", page):
                    links.add((page, unquote(fragment)))
        expected = {(f"chapters/{c}.html", "") for c in CHAPTERS} | {
            (f"chapters/{c}.html", f"claim-{cid}") for c in CHAPTERS for cid in _claim_ids(book_runs, c)
        }
        missing = sorted(f"{p}#{f}" if f else p for p, f in expected - links)
        linked_pages = {p for p, _ in links}
        broken = []
        for page in sorted(linked_pages):
            fragments = sorted({f for p, f in links if p == page and f})
            if page not in pages:
                broken.append(f"{page}: no such page ({len(fragments)} links)")
                continue
            t.goto(page)
            gone = t.page.evaluate("ids => ids.filter(id => !document.getElementById(id))", fragments)
            broken += [f"{page}#{f}: no such element" for f in gone]
        if missing or broken:
            t.goto("report.html")
            _fail(
                t,
                "report.links",
                f"report.html: {len(missing)} links missing, {len(broken)} broken "
                f"(of {len(links)} links to chapter pages)\n"
                + "\n".join(_listing(missing, "  missing: ", 30) + _listing(broken, "  broken: ", 30)),
            )


STOPWORDS = {"about", "already", "does", "from", "have", "into", "that", "their", "there", "this", "what"}
STOPWORDS |= {"when", "which", "with", "your"}


def _title_word(title: str) -> str:
    """The longest word of a title that is not a common one: what a reader would search for."""
    words = [w for w in re.findall(r"[^\W\d_]{4,}", title) if w.lower() not in STOPWORDS]
    return max(words, key=len) if words else title.split()[0]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_search_finds_the_chapter_by_a_word_of_its_title(browser, book_site, pages, chapter):
    path = _chapter_page(chapter, pages)
    with tab(browser, book_site) as t:
        t.goto(path)
        title = t.page.locator("main h1, h1").first.text_content().strip().rstrip("#").strip()
        word = _title_word(title)
        t.goto(f"search.html?q={word}")
        target = urljoin(book_site, path)
        try:
            t.page.wait_for_function(
                """target => Array.from(document.querySelectorAll('#search-results a[href]'))
                       .some(a => a.href.split(/[?#]/)[0] === target)""",
                arg=target,
            )
        except PlaywrightTimeout:
            found = t.page.eval_on_selector_all("#search-results a[href]", "links => links.map(a => a.href)")
            _fail(
                t,
                f"search.chapters-{chapter}",
                f"searching '{word}' (from the title '{title}') finds no link to {path}; it finds {found}",
            )
