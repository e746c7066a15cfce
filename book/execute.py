"""Execute chapters in place, each in a fresh kernel, and record their wall time.

This is how the committed outputs were made (the book itself builds with
execute_notebooks: off):

    MSCAD_PROFILE=cpu MSCAD_DATA=../shared/data .venv/bin/python book/execute.py book/0*.ipynb

``--cells 2,4`` re-runs only those code cells (0-based cell indices; include the setup
cell) of one chapter in a fresh kernel and replaces just their outputs: for a cell that
reads results which were still being produced when the whole chapter ran.

``-p NAME VALUE`` runs a chapter with other parameters (papermill's convention): a cell
tagged ``injected-parameters`` that sets them goes right after the chapter's cell tagged
``parameters``, and the executed copy is written to ``--out``, never over the committed
chapter:

    python book/execute.py book/04_msc.ipynb -p NORMAL_CLASS '"cat"' -p EPOCHS 5 --out cat.ipynb

VALUE is a Python literal (``'"cat"'``, ``5``, ``None``); anything else is taken as a string.

Timings of the committed runs are appended to book/timings.json (profile, chapter, seconds,
machine, threads).
"""
import ast
import re
import argparse
import copy
import json
import os
import platform
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def scrub(nb, root: Path):
    """What only this machine would show, taken out of the outputs a reader sees: stderr
    (progress bars, library warnings; the rendered book drops it anyway) and absolute
    paths (the repository, the data folder, the home folder)."""
    replacements = [(str(root.resolve()), "."), (os.path.expanduser("~"), "~")]
    if os.environ.get("MSCAD_DATA"):
        replacements.insert(0, (str(Path(os.environ["MSCAD_DATA"]).resolve()), "$MSCAD_DATA"))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
        for o in cell.outputs:
            texts = [o] if o.output_type == "stream" else [o.get("data", {})]
            for holder in texts:
                key = "text" if o.output_type == "stream" else "text/plain"
                if key in holder:
                    text = "".join(holder[key])
                    for old, new in replacements:
                        text = text.replace(old, new)
                    holder[key] = text
    return nb


def inject_parameters(nb, parameters: dict):
    """Papermill's convention: the new values in a cell tagged ``injected-parameters``
    right after the cell tagged ``parameters`` (which keeps the defaults)."""
    where = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if not where:
        raise SystemExit("execute: this chapter has no cell tagged 'parameters' to override.")
    known = nb.cells[where[0]].source
    for name in parameters:
        if not re.search(rf"^{re.escape(name)}\s*=", known, re.M):  # a whole name, set there
            raise SystemExit(f"execute: {name} is not set in the parameters cell:\n{known}")
    source = "# Injected parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(where[0] + 1, cell)
    return nb


def parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def read_notebook(path: Path):
    """The notebook at ``path``, or one sentence (SystemExit) saying why it cannot be read."""
    if not path.exists():
        raise SystemExit(f"execute: no such file {path}; give a chapter, e.g. book/04_msc.ipynb.")
    if not path.is_file():
        raise SystemExit(f"execute: {path} is a folder; give a chapter's .ipynb file.")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - not JSON, not a notebook, an unreadable file
        raise SystemExit(f"execute: {path} is not a Jupyter notebook ({type(e).__name__}); give a "
                         "chapter's .ipynb file.") from None


def cell_indices(text: str, nb, path: Path) -> list:
    """``--cells`` as indices of ``nb``'s cells, or one sentence saying what is wrong."""
    try:
        indices = [int(i) for i in text.split(",")]
    except ValueError:
        raise SystemExit(f"execute: --cells {text!r} is not a comma-separated list of cell numbers.") from None
    bad = [i for i in indices if not 0 <= i < len(nb.cells)]
    if bad:
        raise SystemExit(f"execute: --cells {bad[0]} is out of range: {path} has {len(nb.cells)} cells "
                         f"(0 to {len(nb.cells) - 1}).")
    return indices


def execute(nb, path: Path):
    """Run ``nb`` as if it were at ``path``; a cell that raises stops it with one line: the
    notebook, the cell and the chapter's own message (a bad parameter says what is wrong)."""
    from nbclient.exceptions import CellExecutionError

    try:
        NotebookClient(nb, timeout=7200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as e:
        failed = next((i for i, c in enumerate(nb.cells) if any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), "?")
        message = str(getattr(e, "evalue", "") or "").strip().splitlines()
        raise SystemExit(f"execute: {path} stopped at cell {failed}: {getattr(e, 'ename', 'error')}: "
                         f"{message[-1] if message else ''}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--cells", help="comma-separated cell indices to re-run (one notebook only)")
    parser.add_argument("--scrub-only", action="store_true", help="only take stderr and absolute "
                        "paths out of the committed outputs; execute nothing")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        default=[], help="run with this parameter changed (needs --out)")
    parser.add_argument("--out", type=Path, help="where the executed copy goes (with -p)")
    args = parser.parse_args(argv)
    if args.cells and len(args.notebooks) != 1:
        parser.error("--cells needs exactly one notebook")
    if args.parameter or args.out:
        if len(args.notebooks) != 1 or not args.out or args.cells or args.scrub_only:
            parser.error("-p/--out run one notebook with other parameters into --out")
        if args.out.resolve() == args.notebooks[0].resolve():
            parser.error("--out must be another file: the committed chapter keeps its outputs")
        nb = read_notebook(args.notebooks[0])
        inject_parameters(nb, {k: parse_value(v) for k, v in args.parameter})
        start = time.time()
        execute(nb, args.notebooks[0].resolve())
        nbformat.write(nb, args.out)
        print(f"{args.out}: {round(time.time() - start)} s", flush=True)
        return
    log = Path(__file__).with_name("timings.json")
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or None
    timings = json.loads(log.read_text()) if log.exists() else []
    root = Path(__file__).resolve().parents[1]
    notebooks = [(path, read_notebook(path)) for path in args.notebooks]  # all readable, first
    for path, nb in notebooks:
        if args.scrub_only:
            nbformat.write(scrub(nb, root), path)
            continue
        start = time.time()
        if args.cells:
            indices = cell_indices(args.cells, nb, path)
            part = copy.deepcopy(nb)
            part.cells = [copy.deepcopy(nb.cells[i]) for i in indices]
            execute(part, path)
            for i, cell in zip(indices, part.cells):
                nb.cells[i] = cell
        else:
            execute(nb, path)
        seconds = round(time.time() - start)
        nbformat.write(scrub(nb, root), path)
        timings.append(dict(chapter=path.stem, profile=os.environ.get("MSCAD_PROFILE", "default"),
                            seconds=seconds, cpus=os.cpu_count(), machine=platform.machine(),
                            threads=os.environ.get("OMP_NUM_THREADS", "default"),
                            run_cache=os.environ.get("MSCAD_NO_CACHE", "").lower() not in ("1", "true", "yes"),
                            commit=commit,
                            cells=args.cells or "all", date=time.strftime("%Y-%m-%d")))
        log.write_text(json.dumps(timings, indent=1))
        print(f"{path.stem}: {seconds} s", flush=True)


if __name__ == "__main__":
    main()
