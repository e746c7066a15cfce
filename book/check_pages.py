"""Check the built book as a reader's browser sees it, offline.

    python book/check_pages.py _build/html            # both checks
    python book/check_pages.py _build/html --static   # the HTML check alone (no browser)

1. Static: no page loads a script, stylesheet, image, font or frame from another host
   (links to other sites are fine: a reader clicks them; loads are not), and every local
   file a page loads exists.
2. Browser: every page opened in headless Chromium (Debian's ``chromium`` and
   ``chromium-driver``; ``apt-get install chromium chromium-driver``) from the file
   system, with the network unreachable: math typeset by MathJax (no raw ``\\(`` or ``$$``
   left, no MathJax error), every image loaded, nothing in the console at level SEVERE.
   A screenshot of each page goes to ``<html>/../screenshots/``.

Exit status 1 with one line per problem.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

# (tag, attribute) pairs that make the browser fetch something while the page loads
LOADING = {("script", "src"), ("img", "src"), ("iframe", "src"), ("source", "src"),
           ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}
CSS_LOADS = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?//[^'")\s]+)""")
LOADING_LINK_RELS = {"stylesheet", "icon", "shortcut icon", "preload", "modulepreload",
                     "apple-touch-icon", "manifest"}


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__()
        self.loads = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for t, attr in LOADING:
            if tag == t and a.get(attr):
                self.loads.append((tag, a[attr]))
        if tag == "link" and a.get("href") and (a.get("rel") or "").lower() in LOADING_LINK_RELS:
            self.loads.append((f"link rel={a['rel']}", a["href"]))
        if tag == "img" and a.get("srcset"):
            self.loads += [("img srcset", part.split()[0]) for part in a["srcset"].split(",") if part.strip()]


def _pages(html_dir: Path) -> list[Path]:
    """The book's pages (not the theme's templates under _static/)."""
    return [p for p in sorted(html_dir.rglob("*.html")) if "_static" not in p.relative_to(html_dir).parts]


def static_problems(html_dir: Path) -> list[str]:
    """Loads from other hosts and missing local files, as 'page: problem' lines."""
    problems = []
    pages = _pages(html_dir)
    if not pages:
        return [f"{html_dir}: no HTML pages; build the book first (jupyter-book build .)"]
    stylesheets = set()
    for page in pages:
        parser = _Loads()
        parser.feed(page.read_text(errors="replace"))
        for tag, url in parser.loads:
            parsed = urlparse(url)
            name = page.relative_to(html_dir)
            if parsed.scheme in ("http", "https") or url.startswith("//"):
                problems.append(f"{name}: <{tag}> loads {url} from another host (not offline)")
            elif parsed.scheme in ("", "file") and not url.startswith("data:"):
                target = (page.parent / unquote(parsed.path)).resolve()
                if parsed.path and not target.exists():
                    problems.append(f"{name}: <{tag}> loads {url}, which is not in the build")
                elif target.suffix == ".css":
                    stylesheets.add(target)
    for sheet in sorted(stylesheets):  # a stylesheet's url() and @import load too
        for url in CSS_LOADS.findall(sheet.read_text(errors="replace")):
            problems.append(f"{sheet.relative_to(html_dir.resolve())}: loads {url} from another "
                            "host (not offline)")
    return problems


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        raise SystemExit("check_pages: Chromium and its driver are needed for the browser check: "
                         "apt-get install chromium chromium-driver (or run with --static).")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--allow-file-access-from-files",
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):  # no network
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


PAGE_STATE = """
const done = arguments[arguments.length - 1];
const report = () => {
  const imgs = Array.from(document.images);
  const text = document.querySelector('main') ? document.querySelector('main').innerText : '';
  done({
    mathjax: typeof window.MathJax !== 'undefined' && !!window.MathJax.startup,
    math: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
    rawMath: (text.match(/\\\\\\(|\\\\\\[|\\$\\$/g) || []).length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    images: imgs.length,
  });
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(report, report);
} else { setTimeout(report, 500); }
"""


def browser_problems(html_dir: Path, shots: Path) -> tuple[list[str], list[str]]:
    """(problems, one summary line per page) from opening every page in headless Chromium."""
    problems, lines = [], []
    shots.mkdir(parents=True, exist_ok=True)
    pages = [p for p in _pages(html_dir) if p.name not in ("genindex.html", "search.html")]
    driver = _driver()
    try:
        driver.set_script_timeout(30)
        for page in pages:
            name = str(page.relative_to(html_dir))
            driver.get(page.resolve().as_uri())
            state = driver.execute_async_script(PAGE_STATE)
            math_expected = "math notranslate" in page.read_text(errors="replace")
            if math_expected and not state["mathjax"]:
                problems.append(f"{name}: MathJax did not load")
            if math_expected and state["math"] == 0:
                problems.append(f"{name}: the page has math but none was typeset")
            if state["mathErrors"]:
                problems.append(f"{name}: {state['mathErrors']} MathJax errors")
            if state["rawMath"]:
                problems.append(f"{name}: {state['rawMath']} raw TeX delimiters left untypeset")
            for src in state["broken"]:
                problems.append(f"{name}: image {src} did not load")
            for entry in driver.get_log("browser"):
                if entry.get("level") == "SEVERE":
                    problems.append(f"{name}: console error: {entry.get('message', '')[:200]}")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(int(height), 16000))  # the whole page, for a reader
            driver.save_screenshot(str(shots / (name.replace("/", "_").removesuffix(".html") + ".png")))
            driver.set_window_size(1280, 1600)
            lines.append(f"{name}: {state['math']} math, {state['images']} images")
    finally:
        driver.quit()
    return problems, lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", type=Path, help="the built book, e.g. _build/html")
    p.add_argument("--static", action="store_true", help="the HTML check only, no browser")
    args = p.parse_args(argv)
    problems = static_problems(args.html)
    lines = []
    if not args.static and not problems:
        more, lines = browser_problems(args.html, args.html.parent / "screenshots")
        problems += more
    for line in lines:
        print(line)
    for problem in problems:
        print(f"check_pages: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_pages: {args.html}: every page offline and "
              f"{'checked in Chromium' if lines else 'statically checked'}.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
