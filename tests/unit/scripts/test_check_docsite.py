# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs site's link and empty-page check (scripts/check_docsite.py, run by make docs)
finds what a reader would trip over, and passes a sound site."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("check_docsite", ROOT / "scripts" / "check_docsite.py")
check_docsite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_docsite)

TEXT = "Words a reader came for. " * 10


def page(title, body):
    return ('<html><head><title>%s</title></head><body><div role="main">%s</div>'
            '<a href="https://example.invalid/">external, not checked</a></body></html>' % (title, body))


def site(tmp_path, pages):
    for name, text in pages.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(tmp_path.rglob("*.html"))


def test_a_sound_site_passes(tmp_path):
    pages = site(tmp_path, {
        "index.html": page("Home", '<p>%s</p><a href="guides/a.html#usage">Usage</a><a href="#top">top</a>'
                                   '<span id="top"></span>' % TEXT),
        "guides/a.html": page("A", '<h2 id="usage">Usage</h2><p>%s</p><a href="../index.html">home</a>'
                                   '<img src="../_static/logo.png">' % TEXT),
        "_static/logo.png": "png",
    })
    assert check_docsite.check_links(tmp_path, pages) == []


def test_broken_links_missing_anchors_and_empty_pages_are_named(tmp_path):
    pages = site(tmp_path, {
        "index.html": page("Home", '<p>%s</p><a href="guides/gone.html">gone</a><a href="guides/a.html#nowhere">x</a>'
                                   '<a href="/">the server root</a>' % TEXT),
        "guides/a.html": page("A", "<p>%s</p>" % TEXT),
        "guides/empty.html": page("Empty", "<p>Soon.</p>"),
    })
    problems = check_docsite.check_links(tmp_path, pages)
    assert "index.html: broken link guides/gone.html" in problems
    assert "index.html: link guides/a.html#nowhere: no anchor #nowhere in guides/a.html" in problems
    assert "index.html: broken link /" in problems
    assert any(p.startswith("guides/empty.html: empty page") for p in problems)
    assert not any(p.startswith("guides/a.html") for p in problems)
