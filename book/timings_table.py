"""The intro's cost table, from measurements: each chapter's latest full `cpu` run in
book/timings.json (written by book/execute.py) and the `gpu` estimate of
benchmarks/gpu_cost_estimate.py, between the markers in book/intro.md.

    .venv/bin/python book/timings_table.py           # print the table
    .venv/bin/python book/timings_table.py --write   # and put it into book/intro.md
"""
import argparse
import importlib.util
import json
import re
from pathlib import Path

BOOK = Path(__file__).resolve().parent
START, END = "<!-- timings:start -->", "<!-- timings:end -->"


def latest_cpu_runs() -> dict:
    runs = {}
    for entry in json.loads((BOOK / "timings.json").read_text()):
        if entry["profile"] == "cpu" and entry.get("cells", "all") == "all":
            runs[entry["chapter"]] = entry  # later entries win
    return runs


def gpu_minutes() -> dict:
    spec = importlib.util.spec_from_file_location(
        "gpu_cost_estimate", BOOK.parent / "benchmarks" / "gpu_cost_estimate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name.split(".")[0]: minutes for name, minutes in module.chapter_minutes().items()}


def table() -> str:
    toc = [line.split("book/")[1].strip() for line in (BOOK.parent / "_toc.yml").read_text().splitlines()
           if "file: book/0" in line]
    runs, gpu = latest_cpu_runs(), gpu_minutes()
    rows = ["| chapter | `cpu` profile, 2-core CPU (measured) | commit | run cache | "
            "`gpu` profile, Colab T4 (estimate) |", "|---|---|---|---|---|"]
    total = 0
    for chapter in toc:
        number = str(int(chapter[:2]))
        run = runs.get(chapter)
        measured = f"{run['seconds']} s" if run else "not measured"
        if run and run.get("load"):  # measured while other work shared the machine
            measured += f" ({run['load']})"
        total += run["seconds"] if run else 0
        cache = ("shared" if run and run.get("run_cache") else "off") if run else ""
        estimate = f"{gpu[number]:.1f} min" if number in gpu else "–"
        rows.append(f"| {chapter} | {measured} | {run.get('commit') if run else ''} | {cache} | "
                    f"{estimate} |")
    rows.append(f"| all, in book order | {total / 60:.1f} min | | | |")
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    text = table()
    print(text)
    if args.write:
        intro = BOOK / "intro.md"
        source = intro.read_text()
        if START not in source or END not in source:
            raise SystemExit(f"{intro} has no {START} ... {END} markers")
        intro.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}",
                                f"{START}\n{text}\n{END}", source, flags=re.S))


if __name__ == "__main__":
    main()
