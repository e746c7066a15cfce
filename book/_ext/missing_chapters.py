"""Sphinx extension: a reference to a chapter that is not in this edition of the book.

Chapters refer to each other by label (``{numref}`chapter %s <ch-msc>```), so the build
numbers them. An instructor who drops a chapter from ``_toc.yml`` would otherwise get an
"undefined label" warning, which the strict build (``-W``) turns into an error. A
reference to a chapter label (``ch-...``), a figure label (``fig-...``, a figure of a
dropped chapter) or chapter document (``NN_name``) that does not resolve reads "–" with
"(not in this edition)" instead; any other missing reference still warns.
"""
import re

from docutils import nodes

CHAPTER = re.compile(r"^((?:ch|fig)-[a-z0-9-]+|(?:.*/)?\d\d_[A-Za-z0-9_]+)$")


def _missing_chapter(app, env, node, contnode):
    if node.get("reftype") not in ("ref", "numref", "doc"):
        return None
    if not CHAPTER.match(node.get("reftarget", "")):
        return None
    return nodes.inline("", "– (not in this edition)")


def setup(app):
    app.connect("missing-reference", _missing_chapter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
