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


def _figure_names(srcdir) -> set:
    """Every figure label a chapter defines (myst-nb figure metadata), in the book or not:
    a reference to one of them that does not resolve points at a dropped chapter; any
    other ``fig-`` target is a typo and still warns."""
    import json
    from pathlib import Path

    names = set()
    for path in Path(srcdir).glob("book/*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            name = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names.add(name)
    return names


def _missing_chapter(app, env, node, contnode):
    if node.get("reftype") not in ("ref", "numref", "doc"):
        return None
    target = node.get("reftarget", "")
    if not CHAPTER.match(target):
        return None
    if target.startswith("fig-") and target not in app.config.mscad_figure_names:
        return None
    return nodes.inline("", "– (not in this edition)")


def _collect_figures(app):
    app.config.mscad_figure_names = _figure_names(app.srcdir)


def setup(app):
    app.add_config_value("mscad_figure_names", set(), "env")
    app.connect("builder-inited", _collect_figures)
    app.connect("missing-reference", _missing_chapter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
