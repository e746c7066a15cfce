"""The chapters as plain notebooks: what a chapter's Colab badge opens, and what JupyterLab shows.

The source chapters (``book/*.ipynb``) are written in MyST for the HTML book: glued
numbers (``{glue:text}``), citations (``{cite}``), admonitions, numbered exercises and
folded solutions. Colab and JupyterLab render CommonMark, where all of that would show
as raw markup. This script writes a plain edition of every chapter (``colab/``) in which

- a paragraph with glued numbers (``{glue:text}`key:fmt```) becomes live prose: a folded
  code cell that shows the paragraph as Markdown with the numbers of the reader's own
  run (:func:`mscad.book.notebook.prose`), the committed run's value in brackets where
  the two differ; until it runs, its stored output is the committed run's text. The
  chapter ends with a table of every glued number, the reader's run beside the book's;
- ``{cite}`key``` becomes "(Author, year)" linked to the bibliography in the repository;
- an admonition becomes a quoted block with its title in bold (a ``dropdown`` one, such
  as a recall question, is folded in ``<details>``); an exercise becomes
  "**Exercise N.** title" (numbered 1, 2, ... within the chapter); a solution
  is folded in ``<details>`` (or left out: the student edition); a target label
  ``(name)=`` disappears.

Code cells and their outputs are copied unchanged, so the notebook runs as the source
does. ``python book/editions.py`` writes ``colab/``; ``--check`` only says which edition is
stale (exit status 1), which the tests run; ``book/student_edition.py`` uses the same
functions without solutions.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
EDITION = ROOT / "colab"
GLUE_MIME = "application/papermill.record/text/plain"

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>admonition|exercise|solution|note|tip|warning|"
                   r"important|seealso)\}[ \t]*(?P<arg>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
                   re.M | re.S)
OPTION = re.compile(r"^:(?P<key>[a-z-]+):[ \t]*(?P<value>[^\n]*)\n", re.M)
GLUE = re.compile(r"\{glue:text\}`(?P<key>[^`:]+)(?::(?P<fmt>[^`]*))?`")
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`(?P<keys>[^`]+)`")
XREF = re.compile(r"\{(?P<role>numref|ref|doc)\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")
TERM = re.compile(r"\{term\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")
TITLE = re.compile(r"^# (?!\d+\. )", re.M)
LABEL = re.compile(r"^\([A-Za-z0-9_-]+\)=[ \t]*\n", re.M)
BADGE = re.compile(r"\(images/colab-badge\.svg\)")
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"  # Colab's own, absolute
# What a plain front end would show as raw MyST: the test fails on any of these.
RAW_MYST = re.compile(r"\{(glue:[a-z]+|cite(:[a-z]+)?|numref|ref|doc|eq|download|term)\}`|^(`{3,}|:{3,})\{[a-z-]+\}"
                      r"|^:(label|class|name):", re.M)


def glued_values(nb: dict) -> dict:
    """Every value a chapter glued, as the Python object its committed output recorded."""
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            text = out.get("data", {}).get(GLUE_MIME)
            if name and text is not None:
                text = "".join(text) if isinstance(text, list) else text
                try:
                    values[name] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    values[name] = text.strip("'\"")
    return values


def bibliography() -> dict:
    """key -> "Author, year" (two authors: "A & B"; more: "A et al.") from references.bib."""
    from pybtex.database import parse_file

    data = parse_file(str(BOOK / "references.bib"))
    cites = {}
    for key, entry in data.entries.items():
        people = [p.last_names[0].strip("{}") for p in entry.persons.get("author", [])]
        who = (people[0] if len(people) == 1 else f"{people[0]} & {people[1]}" if len(people) == 2
               else f"{people[0]} et al." if people else key)
        cites[key] = f"{who}, {entry.fields.get('year', 'n.d.')}"
    return cites


class EditionError(Exception):
    """A chapter that cannot be made into an edition; the message says which and why."""


def _glue_text(match, values: dict, chapter: str) -> str:
    key, fmt = match["key"], match["fmt"]
    if key not in values:
        raise EditionError(f"{chapter}: the prose uses {{glue:text}}`{key}` but no cell glued {key!r}; "
                           "execute the chapter (book/execute.py) before writing the editions.")
    value = values[key]
    return format(value, fmt) if fmt else str(value)


def _cite(match, cites: dict, url: str) -> str:
    names = [cites.get(k.strip(), k.strip()) for k in match["keys"].split(",")]
    return f"([{'; '.join(names)}]({url}))"


def chapter_pages() -> dict:
    """label (``ch-...``, ``fig-...``, an exercise label) and page name -> the HTML book's
    page (``book/04_msc.html``) that holds it."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = {}
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            file = chapter["file"]
            stem = Path(file).name
            pages[stem] = f"{file}.html"
            path = ROOT / f"{file}.ipynb"
            if path.exists():
                text = path.read_text()
                for label in re.findall(r"\((?:ch|fig)[A-Za-z0-9_-]*\)=", text):
                    pages[label[1:-2]] = f"{file}.html"
                for label in re.findall(r"(?:figure|name)\\?\"?: *\\?\"(fig-[A-Za-z0-9_-]+)", text):
                    pages[label] = f"{file}.html"
                for label in re.findall(r":label: *([A-Za-z0-9_-]+)", text):
                    pages[label] = f"{file}.html"
    return pages


def chapter_numbers() -> dict:
    """label (``ch-...``) and file stem -> chapter number, and figure label (``fig-...``) ->
    its number ("6.1"), from ``_toc.yml``'s numbered part (the order the HTML book numbers
    them in; figures in the order of their cells)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [c["file"] for part in toc.get("parts", []) if part.get("numbered")
                for c in part["chapters"]]
    numbers = {}
    for n, file in enumerate(numbered, start=1):
        stem = Path(file).name
        numbers[stem] = n
        path = ROOT / f"{file}.ipynb"
        if path.exists():
            cells = json.loads(path.read_text())["cells"]
            label = re.match(r"^\(([A-Za-z0-9_-]+)\)=", "".join(cells[0]["source"]))
            if label:
                numbers[label.group(1)] = n
            # a figure cell that drew nothing (a guarded plot) takes no number, as in HTML
            figures = [c["metadata"].get("mystnb", {}).get("figure", {}).get("name") for c in cells
                       if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
            for k, name in enumerate([f for f in figures if f], start=1):
                numbers[name] = f"{n}.{k}"
    return numbers


def _xref(match, numbers: dict, pages: dict | None = None, site: str = "") -> str:
    """A cross-reference as the HTML book numbers it, linked to the page that holds it."""
    target = (match["target"] or match["bare"]).strip()
    text = match["text"] if match["target"] else None
    n = numbers.get(target, numbers.get(Path(target).name))
    page = (pages or {}).get(target, (pages or {}).get(Path(target).name))
    if match["role"] == "numref":
        shown = "–" if n is None else str(n)
        if n is None:
            return (text or "%s").replace("%s", shown) + " (not in this edition)"
        label = (text or "%s").replace("%s", shown)
    else:
        label = text or ("the methods page" if Path(target).name == "methods" else target)
    return f"[{label}]({site}/{page})" if page and site else label


def _term(match, site: str = "") -> str:
    """A glossary term (``{term}`uniformity``` or ``{term}`spread <uniformity>```) as a
    link to its entry on the HTML book's glossary page, by the id Sphinx gives it (its own
    ``_make_id``, which keeps capitals: ``term-kNN-score``)."""
    from sphinx.util.nodes import _make_id

    target = (match["target"] or match["bare"]).strip()
    text = (match["text"] or match["bare"]).strip()
    return f"[{text}]({site}/book/glossary.html#{_make_id('term-' + target)})" if site else text


def plain_markdown(source: str, values: dict, cites: dict, counter: list, chapter: str,
                   bib_url: str, solutions: bool = True, numbers: dict | None = None,
                   live: bool = False) -> str:
    """One markdown cell's MyST as CommonMark (+ ``<details>``); ``counter`` holds the
    chapter's exercise number so far (updated in place).
    ``live``: glue references are kept (checked, not replaced) for :func:`live_cell`."""

    def fence(m):
        kind, arg, body = m["kind"], m["arg"].strip(), m["body"]
        folded = re.search(r"^:class:.*\bdropdown\b", body, re.M) is not None
        body = OPTION.sub("", body).strip("\n")
        body = FENCE.sub(fence, body + "\n").rstrip("\n")  # nested fences
        if kind == "solution":
            if not solutions:
                return ""
            return f"<details>\n<summary>Solution</summary>\n\n{body}\n\n</details>\n"
        if kind == "exercise":
            counter[0] += 1  # numbered within the chapter: the notebook is one chapter
            return f"**Exercise {counter[0]}.** {arg}\n\n{body}\n"
        title = arg or kind.capitalize()
        if folded:  # a dropdown admonition (a recall question): its answer stays folded
            return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>\n"
        quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        return f"> **{title}**\n>\n{quoted}\n"

    text = FENCE.sub(fence, source)
    text = LABEL.sub("", text)
    if live:
        for m in GLUE.finditer(text):
            _glue_text(m, values, chapter)  # a missing value is refused here too
    else:
        text = GLUE.sub(lambda m: _glue_text(m, values, chapter), text)
    text = CITE.sub(lambda m: _cite(m, cites, bib_url), text)
    site = _site()
    text = XREF.sub(lambda m: _xref(m, numbers or {}, _pages(), site), text)
    text = TERM.sub(lambda m: _term(m, site), text)
    return BADGE.sub(f"({COLAB_BADGE})", text)


_CACHE: dict = {}


def _site() -> str:
    if "site" not in _CACHE:
        sys.path.insert(0, str(BOOK))
        from set_repository import book_url

        _CACHE["site"] = book_url()
    return _CACHE["site"]


def _pages() -> dict:
    if "pages" not in _CACHE:
        _CACHE["pages"] = chapter_pages()
    return _CACHE["pages"]


def repository() -> tuple[str, str]:
    sys.path.insert(0, str(BOOK))
    from set_repository import configured

    return configured()


def edition_note(url: str, solutions: bool = True) -> str:
    return ("> **Reading this notebook in Colab or JupyterLab.** This is the plain edition of the "
            f"chapter (the HTML book renders the same text with cross-links: {_site()}). Before you "
            "run it, the numbers in the prose are the book's committed run (the `cpu` profile). "
            "Run it, and every paragraph with numbers is shown again with *your* run's numbers; "
            "where yours differ, the book's follows in brackets. The last table sets your run "
            "beside the book's. "
            + ("Solutions are folded: click to open.\n" if solutions else
               "This copy has no solutions.\n"))


def _literal(text: str) -> str:
    """``text`` as a Python string literal that reads as the paragraph it is."""
    if "'''" not in text and not text.endswith(("\\", "'")):
        return "r'''" + text + "'''"
    return repr(text)


def blocks(text: str) -> list:
    """``text`` cut at blank lines into blocks, never inside a ``<details>`` element or a
    code fence, so each block renders on its own as it did in the whole."""
    out, current, depth, fence = [], [], 0, False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            fence = not fence
        depth += line.count("<details>") - line.count("</details>")
        if not line.strip() and depth == 0 and not fence and current:
            out.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def prose_cells(text: str, values: dict, chapter: str, cell_id: str) -> list:
    """A converted markdown cell as cells: its blocks without glued numbers as markdown
    (headings stay in the notebook's table of contents), each run of blocks with glued
    numbers as one live prose cell (:func:`live_cell`)."""
    groups = []  # (live?, [blocks])
    for block in blocks(text):
        live = bool(GLUE.search(block))
        if groups and groups[-1][0] == live:
            groups[-1][1].append(block)
        else:
            groups.append((live, [block]))
    cells = []
    for n, (live, parts) in enumerate(groups):
        body = "\n\n".join(parts)
        if live:
            cells.append(dict(live_cell(body, values, chapter), id=f"{cell_id}-{n}"))
        else:
            lines = body.split("\n")
            cells.append(dict(cell_type="markdown", id=f"{cell_id}-{n}", metadata={},
                              source=[line + "\n" for line in lines[:-1]] + [lines[-1]]))
    return cells


def live_cell(text: str, values: dict, chapter: str) -> dict:
    """A paragraph with glued numbers as a folded code cell that shows it with the
    reader's numbers (:func:`mscad.book.notebook.prose`); its stored output is the
    committed run's text, so the notebook reads whole before it runs."""
    keys = list(dict.fromkeys(m["key"] for m in GLUE.finditer(text)))
    book = "{" + ", ".join(f"{k!r}: {values[k]!r}" for k in keys) + "}"
    committed = GLUE.sub(lambda m: _glue_text(m, values, chapter), text)
    lines = committed.split("\n")
    # an execution count, since the stored output is a run's (nbval refuses outputs of
    # a cell that never ran)
    return dict(cell_type="code", execution_count=1,
                metadata={"cellView": "form", "jupyter": {"source_hidden": True},
                          "tags": ["live-prose", "hide-input"]},
                source=("#@title (prose: the numbers of your run)\n"
                        "from mscad.book.notebook import prose\n"
                        f"prose({_literal(text)},\n      book={book})"),
                outputs=[dict(output_type="display_data", metadata={},
                              data={"text/markdown": [line + "\n" for line in lines[:-1]] + [lines[-1]],
                                    "text/plain": ["<IPython.core.display.Markdown object>"]})])


def closing_table(values: dict, formats: dict | None = None) -> list:
    """The cells that end an edition: every glued number, the reader's run beside the
    book's, each printed with the format the prose uses for it (``formats``)."""
    if not values:
        return []
    book = "{" + ", ".join(f"{k!r}: {v!r}" for k, v in values.items()) + "}"
    shown = {k: f for k, f in (formats or {}).items() if f and k in values}
    return [dict(cell_type="markdown", id="your-run-beside-the-book", metadata={},
                 source="## Your run beside the book's\n\nEvery number this chapter glued into its "
                        "prose: your run, the book's committed run (`cpu` profile), and whether "
                        "they agree as printed. At another profile or seed they differ: that is "
                        "the point of running it."),
            dict(cell_type="code", execution_count=None, id="beside-the-book",
                 metadata={"tags": ["live-prose"]}, outputs=[],
                 source="from mscad.book.notebook import beside_the_book\n"
                        f"beside_the_book({book},\n                {shown!r})")]


def exercise_numbers(nb: dict, own=None) -> dict:
    """label -> the number of each exercise of the chapter in its plain edition (1, 2, ...),
    in the order of the cells (each cell read on its own: a cell need not end in a newline).
    An edition is one chapter, so its exercises are numbered within it; the HTML book's
    "4.2" would read in plain Markdown like a measured number. (``own``, the chapter's
    number, is accepted and not used.)"""
    labels = [label for c in nb["cells"] if c["cell_type"] == "markdown"
              for label in re.findall(r"^`{3,}\{exercise\}[^\n]*\n:label:\s*(\S+)", "".join(c["source"]), re.M)]
    return {label: str(k) for k, label in enumerate(labels, 1)}


def plain_notebook(path: Path, solutions: bool = True, cites: dict | None = None) -> dict:
    """The plain edition of one chapter (a new notebook dict; the source is not changed)."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):  # an edition never shows a failed run as the book's
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise EditionError(f"{path.name}: cell {i} has an error output ({output.get('ename')}: "
                                   f"{str(output.get('evalue'))[:200]}); fix it and execute the "
                                   "chapter again (book/execute.py) before writing the editions.")
    values = glued_values(nb)
    cites = bibliography() if cites is None else cites
    url, branch = repository()
    bib_url = f"{_site()}/book/references.html"  # the HTML bibliography (full entries, DOIs)
    out = copy.deepcopy(nb)
    numbers = chapter_numbers()
    own = numbers.get(path.stem)
    counter = [0]  # exercises numbered within the chapter: 1, 2, ...
    numbers.update(exercise_numbers(nb, own))
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    cells = []
    for i, cell in enumerate(out["cells"]):
        if cell["cell_type"] == "markdown":
            live = bool(GLUE.search("".join(cell["source"])))
            text = plain_markdown("".join(cell["source"]), values, cites, counter, path.name,
                                  bib_url, solutions, numbers, live=live)
            if i == 0 and own is not None:  # the number the HTML book gives the chapter
                text = TITLE.sub(f"# {own}. ", text, count=1)
            if not text.strip():
                continue  # a cell that held only a solution (student edition)
            if live:
                cells.extend(prose_cells(text, values, path.name, cell.get("id", f"cell-{i}")))
            else:
                lines = text.split("\n")
                cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
                cells.append(cell)
        else:
            cells.append(cell)
        if i == 0:
            cells.append(dict(cell_type="markdown", id="edition-note", metadata={},  # nbformat 4.5: ids
                              source=edition_note(url, solutions)))
    formats = {}
    for m in GLUE.finditer(markdown):  # the first format the prose gives each value
        formats.setdefault(m["key"], m["fmt"])
    out["cells"] = cells + closing_table(values, formats)
    out["metadata"]["mscad_edition"] = dict(source=f"book/{path.name}", solutions=solutions)
    return out


def raw_myst(nb: dict) -> list:
    """The raw MyST tokens a plain front end would show, one string each."""
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            found += [m.group(0) for m in RAW_MYST.finditer("".join(cell["source"]))]
    return found


def _without_book_brackets(text: str) -> str:
    """``text`` without each "(the book's run...)" bracket, matched to its own closing
    parenthesis (a value such as "contrastive (Eq. 2)" holds brackets of its own)."""
    out, i = [], 0
    while (start := text.find("(the book's run", i)) >= 0:
        out.append(text[i:start])
        depth, j = 0, start
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    return "".join(out) + text[i:]


def _shown(value, fmt: str | None) -> str:
    return format(value, fmt) if fmt else str(value)


def prose_disagreements(nb, committed: dict, glued: dict) -> tuple[list, int]:
    """Every glue reference of an executed edition's prose cells against the values its run
    glued: (problems, references checked). A problem is a value of this run missing from
    the prose, or a differing committed value shown outside "(the book's run: ...)"."""
    problems, checked = [], 0
    for index, cell in enumerate(nb.cells):
        if "live-prose" not in cell.metadata.get("tags", []) or "prose(" not in cell.source:
            continue
        shown = "".join(o["data"]["text/markdown"] for o in cell.outputs if "data" in o)
        outside = _without_book_brackets(shown)
        # the prose as this run should read, brackets aside: a committed value may appear
        # in it as often as the static text and this run's own values put it there
        text = re.split(r",\s*book=", cell.source)[0]  # the paragraph, not the book's values
        expected = GLUE.sub(lambda m: _shown(glued[m["key"]], m["fmt"]) if m["key"] in glued else "", text)
        for m in GLUE.finditer(cell.source):
            key, fmt = m["key"], m["fmt"]
            if key not in glued:
                problems.append((index, key, "this run did not glue it"))
                continue
            yours = _shown(glued[key], fmt)
            later = key in committed and re.search(
                rf"{re.escape(_shown(committed[key], fmt))}\S* \(the book's run; yours is computed "
                r"further down\)", shown)
            if later:  # a value glued below its paragraph: the prose says whose it shows
                checked += 1
                continue
            # a value found only as a whole number ("9" is not in "2019" or "0.9")
            if not re.search(rf"(?<![\d.]){re.escape(yours)}(?![\d])", outside):
                problems.append((index, key, f"this run's {yours!r} is not in the prose"))
            checked += 1
            if key not in committed:  # nothing of the book's to compare
                continue
            ours = _shown(committed[key], fmt)
            book_value = rf"(?<![\d.]){re.escape(ours)}(?![\d])"
            if ours != yours and len(re.findall(book_value, outside)) > len(re.findall(book_value, expected)):
                problems.append((index, key, f"the book's {ours!r} is stated as the reader's"))
    return problems, checked


def run_edition(name: str, folder: Path = EDITION, timeout: int = 3600):
    """Execute one plain edition top to bottom as a student's "Run all" does (in the
    edition's folder, at whatever MSCAD_PROFILE the environment sets, else the book's) and
    check its prose against its own outputs: (executed notebook, seconds, problems,
    references checked)."""
    import time

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(folder / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\nfrom mscad.book.notebook import GLUED\nprint('GLUED=' + json.dumps(GLUED, default=str))"))
    started = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    seconds = time.perf_counter() - started
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    glued = json.loads(printed.split("GLUED=", 1)[1].splitlines()[0])
    committed = glued_values(json.loads((BOOK / name).read_text()))
    problems, checked = prose_disagreements(nb, committed, glued)
    return nb, seconds, problems, checked


def chapters() -> list:
    return sorted(BOOK.glob("[0-9]*.ipynb"))


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write_all(folder: Path = EDITION, solutions: bool = True, check: bool = False) -> list:
    """Write (or with ``check`` compare) every chapter's plain edition; returns the stale ones."""
    cites = bibliography()
    stale = []
    for path in chapters():
        text = dumps(plain_notebook(path, solutions, cites))
        target = folder / path.name
        if not target.exists() or target.read_text() != text:
            stale.append(target.name)
            if not check:
                folder.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return stale


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="only list stale editions (exit 1 if any)")
    a = p.parse_args(argv)
    try:
        stale = write_all(check=a.check)
    except EditionError as e:
        print(f"editions: {e}", file=sys.stderr)
        return 2
    if a.check:
        for name in stale:
            print(f"colab/{name} is stale: run python book/editions.py")
        return 1 if stale else 0
    print(f"{len(stale)} plain edition(s) written to {EDITION.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
