"""Execute chapters in place, each in a fresh kernel, and record their wall time.

This is how the committed outputs were made (the book itself builds with
execute_notebooks: off):

    MSCAD_PROFILE=cpu MSCAD_DATA=../shared/data .venv/bin/python book/execute.py book/0*.ipynb

Timings are appended to book/timings.json (profile, chapter, seconds, machine).
"""
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(paths):
    log = Path(__file__).with_name("timings.json")
    timings = json.loads(log.read_text()) if log.exists() else []
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        start = time.time()
        NotebookClient(nb, timeout=7200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = round(time.time() - start)
        nbformat.write(nb, path)
        timings.append(dict(chapter=path.stem, profile=os.environ.get("MSCAD_PROFILE", "default"),
                            seconds=seconds, cpus=os.cpu_count(), machine=platform.machine(),
                            date=time.strftime("%Y-%m-%d")))
        log.write_text(json.dumps(timings, indent=1))
        print(f"{path.stem}: {seconds} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
