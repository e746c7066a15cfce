"""Execute chapters in place, each in a fresh kernel, and record their wall time.

This is how the committed outputs were made (the book itself builds with
execute_notebooks: off):

    MSCAD_PROFILE=cpu MSCAD_DATA=../shared/data .venv/bin/python book/execute.py book/0*.ipynb

``--cells 2,4`` re-runs only those code cells (0-based cell indices; include the setup
cell) of one chapter in a fresh kernel and replaces just their outputs: for a cell that
reads results which were still being produced when the whole chapter ran.

Timings are appended to book/timings.json (profile, chapter, seconds, machine, threads).
"""
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


def execute(nb, path: Path):
    NotebookClient(nb, timeout=7200, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--cells", help="comma-separated cell indices to re-run (one notebook only)")
    parser.add_argument("--scrub-only", action="store_true", help="only take stderr and absolute "
                        "paths out of the committed outputs; execute nothing")
    args = parser.parse_args(argv)
    if args.cells and len(args.notebooks) != 1:
        parser.error("--cells needs exactly one notebook")
    log = Path(__file__).with_name("timings.json")
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or None
    timings = json.loads(log.read_text()) if log.exists() else []
    root = Path(__file__).resolve().parents[1]
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.scrub_only:
            nbformat.write(scrub(nb, root), path)
            continue
        start = time.time()
        if args.cells:
            indices = [int(i) for i in args.cells.split(",")]
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
