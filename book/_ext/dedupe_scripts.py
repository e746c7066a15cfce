"""Sphinx extension: each script once per page.

sphinx-thebe (part of Jupyter Book) adds its inline configuration script at every
``env-before-read-docs``, which fires more than once per build, so pages declared
``const THEBE_JS_URL`` twice and the browser logged a SyntaxError (book/check_pages.py
fails on console errors). This drops the repeats before the page is written.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # an inline script is added with filename None once and '' the other time
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept  # in place: handlers after this one (MathJax) add to the same list


def setup(app):
    app.connect("html-page-context", _dedupe, priority=1)  # first: a handler returning a template ends the event
    return {"parallel_read_safe": True, "parallel_write_safe": True}
