"""A copy of the book to hand out without solutions.

    python book/student_edition.py OUT_DIR

writes OUT_DIR/ with the book's sources (``_config.yml``, ``_toc.yml``, ``book/``) in which
every ``{solution}`` block is removed from the chapters (the exercises stay, numbered as
before), and ``OUT_DIR/colab/`` with the plain editions (book/editions.py) without their
folded solutions. Build the student HTML book there with ``jupyter-book build OUT_DIR``,
or publish OUT_DIR as its own repository (point its badges at it with
``python book/set_repository.py`` run inside it). The package, results and tests are not
copied: students install ``mscad`` from the course repository as the chapters' first cell
does.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import editions

ROOT = editions.ROOT


def without_solutions(nb: dict) -> tuple[dict, int]:
    """A chapter with every solution directive cut from its markdown (and cells left empty
    by that dropped); returns the notebook and how many solutions were removed."""
    removed = 0
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])

            def cut(m):
                nonlocal removed
                if m["kind"] != "solution":
                    return m.group(0)
                removed += 1
                return ""

            new = editions.FENCE.sub(cut, text)
            if new != text:
                if not new.strip():
                    continue
                lines = new.split("\n")
                cell = dict(cell, source=[line + "\n" for line in lines[:-1]] + [lines[-1]])
        cells.append(cell)
    return dict(nb, cells=cells), removed


def write(out: Path) -> dict:
    """Write the student edition into ``out``; returns {chapter: solutions removed}."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"student_edition: {out} is a file; give a new folder.")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"student_edition: {out} is not empty; give a new folder.")
    shutil.copytree(ROOT / "book", out / "book",
                    ignore=shutil.ignore_patterns("_build", "*.pyc", "__pycache__", ".ipynb_checkpoints"))
    for name in ("_config.yml", "_toc.yml", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, out / name)
    # the instructors' page (how to adapt and grade the lessons) is not the students'
    toc = out / "_toc.yml"
    toc.write_text("".join(line for line in toc.read_text().splitlines(keepends=True)
                           if "book/instructors" not in line))
    (out / "book" / "instructors.md").unlink(missing_ok=True)
    counts = {}
    for path in sorted((out / "book").glob("[0-9]*.ipynb")):
        nb, counts[path.name] = without_solutions(json.loads(path.read_text()))
        path.write_text(editions.dumps(nb))
    editions.write_all(out / "colab", solutions=False)
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="a new folder for the student edition")
    a = p.parse_args(argv)
    try:
        counts = write(Path(a.out))
    except editions.EditionError as e:
        raise SystemExit(f"student_edition: {e}") from None
    print(f"student edition in {a.out}: {sum(counts.values())} solutions removed from "
          f"{len(counts)} chapters; build it with `jupyter-book build {a.out}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
