"""The chapters as plain notebooks: what a chapter's Colab badge opens, and what JupyterLab shows.

The source chapters (``book/*.ipynb``) are written in MyST for the HTML book: glued
numbers (``{glue:text}``), citations (``{cite}``), admonitions, numbered exercises and
folded solutions. Colab and JupyterLab render CommonMark, where all of that would show
as raw markup. This script writes a plain edition of every chapter (``colab/``) in which

- every ``{glue:text}`key:fmt``` becomes the number the committed run glued, formatted as
  the book formats it (a note at the top says the prose's numbers are the committed
  run's, and that the code cells recompute them for the reader's own run);
- ``{cite}`key``` becomes "(Author, year)" linked to the bibliography in the repository;
- an admonition becomes a quoted block with its title in bold; an exercise becomes
  "**Exercise N.** title" (numbered as in the HTML book, chapter by chapter); a solution
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
TITLE = re.compile(r"^# (?!\d+\. )", re.M)
LABEL = re.compile(r"^\([A-Za-z0-9_-]+\)=[ \t]*\n", re.M)
BADGE = re.compile(r"\(images/colab-badge\.svg\)")
# What a plain front end would show as raw MyST: the test fails on any of these.
RAW_MYST = re.compile(r"\{(glue:[a-z]+|cite(:[a-z]+)?|numref|ref|doc|eq|download)\}`|^(`{3,}|:{3,})\{[a-z-]+\}"
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


def _xref(match, numbers: dict) -> str:
    target = (match["target"] or match["bare"]).strip()
    text = match["text"] if match["target"] else None
    n = numbers.get(target, numbers.get(Path(target).name))
    if match["role"] == "numref":
        shown = "–" if n is None else str(n)
        return (text or "%s").replace("%s", shown) + ("" if n is not None else " (not in this edition)")
    return text or target


def plain_markdown(source: str, values: dict, cites: dict, counter: list, chapter: str,
                   bib_url: str, solutions: bool = True, numbers: dict | None = None) -> str:
    """One markdown cell's MyST as CommonMark (+ ``<details>``); ``counter`` holds the
    chapter's exercise number so far (updated in place) and, second, the chapter's number."""

    def fence(m):
        kind, arg, body = m["kind"], m["arg"].strip(), m["body"]
        body = OPTION.sub("", body).strip("\n")
        body = FENCE.sub(fence, body + "\n").rstrip("\n")  # nested fences
        if kind == "solution":
            if not solutions:
                return ""
            return f"<details>\n<summary>Solution</summary>\n\n{body}\n\n</details>\n"
        if kind == "exercise":
            counter[0] += 1
            number = f"{counter[1]}.{counter[0]}" if len(counter) > 1 else str(counter[0])
            return f"**Exercise {number}.** {arg}\n\n{body}\n"
        title = arg or kind.capitalize()
        quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        return f"> **{title}**\n>\n{quoted}\n"

    text = FENCE.sub(fence, source)
    text = LABEL.sub("", text)
    text = GLUE.sub(lambda m: _glue_text(m, values, chapter), text)
    text = CITE.sub(lambda m: _cite(m, cites, bib_url), text)
    text = XREF.sub(lambda m: _xref(m, numbers or {}), text)
    return BADGE.sub("(../book/images/colab-badge.svg)", text)


def repository() -> tuple[str, str]:
    sys.path.insert(0, str(BOOK))
    from set_repository import configured

    return configured()


def edition_note(url: str, solutions: bool = True) -> str:
    return ("> **Reading this notebook in Colab or JupyterLab.** This is the plain edition of the "
            f"chapter (the HTML book renders the same text with cross-links: {url}). The numbers "
            "in the prose are those of the committed run at the `cpu` profile; the code cells "
            "recompute every one of them for your run, so where a sentence and an output "
            "differ, your output is the one to read. "
            + ("Solutions are folded: click to open.\n" if solutions else
               "This copy has no solutions.\n"))


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
    bib_url = f"{url}/blob/{branch}/book/references.bib"
    out = copy.deepcopy(nb)
    numbers = chapter_numbers()
    own = numbers.get(path.stem)
    counter = [0] if own is None else [0, own]  # exercises numbered as the HTML book: 4.1, 4.2
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    labels = re.findall(r"^`{3,}\{exercise\}[^\n]*\n:label:\s*(\S+)", markdown, re.M)
    numbers.update({label: f"{own}.{k}" if own else str(k) for k, label in enumerate(labels, 1)})
    cells = []
    for i, cell in enumerate(out["cells"]):
        if cell["cell_type"] == "markdown":
            text = plain_markdown("".join(cell["source"]), values, cites, counter, path.name,
                                  bib_url, solutions, numbers)
            if i == 0 and own is not None:  # the number the HTML book gives the chapter
                text = TITLE.sub(f"# {own}. ", text, count=1)
            if not text.strip():
                continue  # a cell that held only a solution (student edition)
            lines = text.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
        cells.append(cell)
        if i == 0:
            cells.append(dict(cell_type="markdown", id="edition-note", metadata={},  # nbformat 4.5: ids
                              source=edition_note(url, solutions)))
    out["cells"] = cells
    out["metadata"]["mscad_edition"] = dict(source=f"book/{path.name}", solutions=solutions)
    return out


def raw_myst(nb: dict) -> list:
    """The raw MyST tokens a plain front end would show, one string each."""
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            found += [m.group(0) for m in RAW_MYST.finditer("".join(cell["source"]))]
    return found


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
