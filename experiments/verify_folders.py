"""Rerun one result file of every experiment folder with ``mscad verify`` and record the
outcome (issue 29, item 6: a student can check any number of the book).

Which file: in each folder, the trained runs (epochs > 0) with the fewest epochs, then the
first in path order (``airplane``, seed 0, the first objective by name). The rule looks
at settings and cost only, never at a file's numbers. A folder with no trained run
verifies its first DN2 run. Files that are not runs (the DN2 grid, the DN2 benchmark, the
selection summary) are listed with the script that remakes them.

Each outcome is its own file, ``results/verify/<folder>.txt`` (the command, the exit
status and verify's output), so an interrupted pass resumes where it stopped. ``--redo``
verifies again into ``<folder>.2.txt``, ``<folder>.3.txt``, ...: an earlier record, a
failed one included, is never replaced.

    python experiments/verify_folders.py [--results results] [--folders a,b] [--redo]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

NOT_RUNS = {
    "dn2-grid": "python experiments/dn2_grid.py (DN2 features, not a training run)",
    "dn2": "python benchmarks/dn2_cifar10.py (the DN2 benchmark, not a training run)",
    "benchmarks": "the scripts in benchmarks/ (timings, not runs)",
    "verify": "this script",
}


def run_files(folder: Path) -> list[tuple[int, Path]]:
    """(epochs, path) of every result file of a run under ``folder``."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and isinstance(d.get("config"), dict) and "history" in d:
            found.append((int(d["config"].get("epochs") or 0), path))
    return found


def pick(folder: Path) -> Path | None:
    files = run_files(folder)
    trained = [f for f in files if f[0] > 0]
    pool = trained or files
    if not pool:
        return None
    fewest = min(e for e, _ in pool)
    return next(p for e, p in pool if e == fewest)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--folders", help="only these folders (comma-separated)")
    parser.add_argument("--redo", action="store_true",
                        help="verify again where an outcome exists (a new record beside the old)")
    parser.add_argument("--tolerance", default="0.1")
    args = parser.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        print(f"verify_folders: no results folder {results}; run it from the repository root or "
              "pass --results PATH.", file=sys.stderr)
        return 2
    out_dir = results / "verify"
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = sorted(p for p in results.iterdir() if p.is_dir())
    if args.folders:
        wanted = set(args.folders.split(","))
        folders = [p for p in folders if p.name in wanted]
    for folder in folders:
        record = out_dir / f"{folder.name}.txt"
        if folder.name in NOT_RUNS:
            print(f"{folder.name}: not run files; remade by {NOT_RUNS[folder.name]}")
            continue
        if record.exists():
            if not args.redo:
                print(f"{folder.name}: already verified ({record})")
                continue
            attempt = 2
            while (out_dir / f"{folder.name}.{attempt}.txt").exists():
                attempt += 1
            record = out_dir / f"{folder.name}.{attempt}.txt"
        chosen = pick(folder)
        if chosen is None:
            print(f"{folder.name}: no result file of a run")
            continue
        command = [sys.executable, "-m", "mscad", "verify", str(chosen), "--quiet",
                   "--tolerance", args.tolerance]
        print(f"{folder.name}: {' '.join(command[1:])}", flush=True)
        start = time.time()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.time() - start
        lines = [ln for ln in (done.stderr + done.stdout).splitlines()
                 if not ln.startswith("W1") and "cpp_extension" not in ln]
        text = (f"$ python -m mscad verify {chosen} --quiet --tolerance {args.tolerance}\n"
                f"exit {done.returncode}; {seconds:.0f} s\n\n" + "\n".join(lines) + "\n")
        tmp = record.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(record)
        print(f"  exit {done.returncode}, {seconds:.0f} s; {lines[-1] if lines else ''}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
