"""Check the built docs site as a reader would meet it (the last step of `make docs`).

- Every internal link (href and src) resolves: the file exists and its #anchor is an id there.
- No page is empty: each has a title and real text in its body.
- With Chromium (Debian's package) present: each page is loaded at 1280 and 800 px wide, served
  on 127.0.0.1; a page wider than the window, or a table wider than its column, fails; and a
  screenshot of each page at each width is written to .build/docsite/screenshots/ to look at.
  Without Chromium, this part is skipped with a message.

Usage: python scripts/check_docsite.py BUILD_HTML_DIR SCREENSHOT_DIR
Standard library only.
"""

import concurrent.futures
import functools
import html.parser
import http.server
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

WIDTHS = (1280, 800)
MAX_SHOT_HEIGHT = 16000  # px: taller pages are cut in their screenshot
MIN_TEXT = 80  # characters of body text, title included, below which a page counts as empty
SKIP = ("_static/", "_sources/", "genindex.html", "search.html")  # Sphinx's own pages and assets


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.title, self.text = set(), [], "", []
        self._in_body = 0
        self._in_title = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])
        if tag == "title":
            self._in_title = True
        if attrs.get("itemprop") == "articleBody" or attrs.get("role") == "main":
            self._in_body += 1
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif self._in_body and not self._skip:
            self.text.append(data)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def check_links(root, pages):
    problems = []
    parsed = {path: parse(path) for path in pages}
    for path, page in parsed.items():
        rel = path.relative_to(root)
        for link in page.links:
            url = urllib.parse.urlsplit(link)
            if url.scheme or link.startswith(("//", "mailto:")):
                continue  # external: not checked, the build is offline
            target = (path.parent / urllib.parse.unquote(url.path)).resolve() if url.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append("%s: broken link %s" % (rel, link))
                continue
            if url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if urllib.parse.unquote(url.fragment) not in ids:
                    problems.append("%s: link %s: no anchor #%s in %s" % (rel, link, url.fragment, target.relative_to(root)))
        text = re.sub(r"\s+", " ", "".join(page.text)).strip()
        if not page.title.strip() or len(text) < MIN_TEXT:
            problems.append("%s: empty page (title %r, %d characters of text)" % (rel, page.title.strip(), len(text)))
    return problems


# Loaded into each page by the layout check: what is wider than it should be.
MEASURE = r"""
(function () {
  var out = {width: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
             height: document.documentElement.scrollHeight, tables: []};
  document.querySelectorAll('table').forEach(function (t) {
    var box = t.parentElement, wide = t.getBoundingClientRect().width > box.clientWidth + 2;
    var scrolls = t.scrollWidth > t.clientWidth + 2;
    if (wide || scrolls) {
      var head = t.querySelector('th, td');
      out.tables.push({width: Math.round(Math.max(t.scrollWidth, t.getBoundingClientRect().width)), room: box.clientWidth,
                       scrolls: scrolls && !wide, first: head ? head.textContent.trim().slice(0, 60) : ''});
    }
  });
  // Anything that runs past the right edge of the text column, unless it scrolls in a box of
  // its own (a code block, a wide table on a narrow screen): cut off or overlapping.
  var column = document.querySelector('.rst-content') || document.body;
  var right = column.getBoundingClientRect().right;
  var cut = [];
  column.querySelectorAll('*').forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width === 0) return;
    // Its box runs past the column, or its content (a long word) runs out of its box.
    var spills = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 2 && getComputedStyle(el).overflowX === 'visible';
    if (box.right <= right + 2 && !spills) return;
    for (var up = el.parentElement; up && up !== column; up = up.parentElement) {
      var style = getComputedStyle(up).overflowX;
      if (style === 'auto' || style === 'scroll' || style === 'hidden') return;
    }
    cut.push(el);
  });
  // Name the innermost: a spilling heading, not also its section and the page around it.
  out.cut = cut.filter(function (el) { return !cut.some(function (o) { return o !== el && el.contains(o); }); })
    .slice(0, 5).map(function (el) { return el.tagName.toLowerCase() + ': ' + el.textContent.trim().slice(0, 50); });
  var pre = 0;
  document.querySelectorAll('pre').forEach(function (p) { if (p.scrollWidth > p.clientWidth + 2) pre++; });
  out.pre = pre;
  document.title = 'MEASURED ' + JSON.stringify(out);
})();
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser(binary, profile, *args):
    # The flags of a closed network: no background connections, no first-run, no GPU; as root, no sandbox.
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", "--user-data-dir=" + profile] + list(args),
                          capture_output=True, text=True, timeout=120, check=False)


def check_layout(root, pages, shots):
    binary = chromium()
    if not binary:
        print("docs: Chromium not found (Debian: apt-get install chromium): no screenshots, no layout check")
        return []
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    # A copy of the site in which each page measures itself: served over HTTP on 127.0.0.1, so
    # that scripts run as on a real site (file:// pages are each an origin of their own).
    work = pathlib.Path(tempfile.mkdtemp(prefix="docsite-check-"))
    site = work / "site"
    shutil.copytree(root, site)
    (site / "_measure.js").write_text(MEASURE, encoding="utf-8")
    for path in pages:
        copy = site / path.relative_to(root)
        depth = len(path.relative_to(root).parts) - 1
        text = copy.read_text(encoding="utf-8")
        copy.write_text(text.replace("</body>", '<script src="%s_measure.js"></script></body>' % ("../" * depth)),
                        encoding="utf-8")
    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d/" % server.server_address[1]
    problems, notes = [], []

    def one(path, width):
        rel = path.relative_to(root).as_posix()
        url = base + rel
        name = "%s-%d.png" % (rel[:-5].replace("/", "_"), width)
        profile = tempfile.mkdtemp(dir=work)
        dom = browser(binary, profile, "--window-size=%d,900" % width, "--virtual-time-budget=3000", "--dump-dom", url)
        found = re.search(r"<title>MEASURED (.*?)</title>", dom.stdout, re.S)
        if not found:
            return ["%s at %d px: Chromium could not load it (%s)" % (rel, width, dom.stderr[-300:])], []
        measured = json.loads(html.unescape(found.group(1)))
        # The whole page in one picture: a window as tall as the page (up to a limit).
        height = min(max(measured["height"], 600), MAX_SHOT_HEIGHT)
        shot = browser(binary, profile, "--window-size=%d,%d" % (width, height), "--screenshot=" + str(shots / name), url)
        if shot.returncode:
            return ["%s at %d px: Chromium could not take a screenshot (%s)" % (rel, width, shot.stderr[-300:])], []
        out, info = [], []
        if measured["page"] > measured["width"] + 2:
            out.append("%s at %d px: the page is %d px wide" % (rel, width, measured["page"]))
        for table in measured["tables"]:
            text = "%s at %d px: a table (%r...) is %d px wide in %d px" % (rel, width, table["first"], table["width"], table["room"])
            # On a narrow screen a wide table may scroll in its own box; on a wide one nothing may.
            if table["scrolls"] and width < max(WIDTHS):
                info.append(text + ", and scrolls in its box")
            else:
                out.append(text)
        for cut in measured["cut"]:
            out.append("%s at %d px: runs past the text column: %s" % (rel, width, cut))
        if measured["pre"]:
            info.append("%s at %d px: %d code blocks scroll sideways" % (rel, width, measured["pre"]))
        return out, info

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for out, info in pool.map(lambda job: one(*job), [(p, w) for p in pages for w in WIDTHS]):
                problems += out
                notes += info
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    for note in notes:
        print("docs: note: " + note)
    print("docs: %d screenshots in %s (%s px wide): look at them" % (len(pages) * len(WIDTHS), shots, " and ".join(map(str, WIDTHS))))
    return problems


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    root, shots = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2]).resolve()
    pages = sorted(p for p in root.rglob("*.html") if not p.relative_to(root).as_posix().startswith(SKIP))
    problems = check_links(root, pages)
    print("docs: %d pages, every internal link and anchor checked" % len(pages))
    if os.environ.get("SIGCALCLOUD_DOCS_NO_BROWSER") == "1":
        print("docs: SIGCALCLOUD_DOCS_NO_BROWSER=1: no layout check, no screenshots")
    elif not problems:
        problems = check_layout(root, pages, shots)
    for problem in problems:
        print("docs: " + problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
