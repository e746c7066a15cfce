"""Which code made the book's numbers, and whether they reproduce (issue 29, item 6).

:func:`code_by_folder` counts, for every experiment folder the book reads, the result
files by the code that made them (:func:`mscad.provenance.made_by`: a commit, or
"unknown" for files written before results recorded their code). :func:`verify_outcomes`
reads the outcomes of ``experiments/verify_folders.py``: one result file of every folder
rerun by ``python -m mscad verify`` and compared epoch by epoch with a tolerance.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import MscadError


def _results_root(root) -> Path:
    if root is not None:
        return Path(root)
    from ..experiment.collect import results_folder

    return results_folder(".")


def code_by_folder(root: str | Path | None = None, folders=None) -> pd.DataFrame:
    """One row per experiment folder under ``root`` (default: the committed ``results/``)
    and code that made some of its result files: the number of files. ``folders``: only
    these (by name), e.g. the ones the chapters read. Folders without run files (the DN2
    grid, benchmarks) are left out."""
    import warnings

    from ..experiment.collect import load_results

    root = _results_root(root)
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folders is not None and folder.name not in folders:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a folder's unreadable files are its own report
                runs = load_results(folder)
        except MscadError:
            continue
        for code, n in runs.code.value_counts().sort_index().items():
            rows.append({"folder": folder.name, "made by code": code, "result files": int(n)})
    return pd.DataFrame(rows, columns=["folder", "made by code", "result files"])


_OUTCOME = re.compile(r"^(reproduced|NOT reproduced): largest difference ([\d.]+) points over (\d+) "
                      r"evaluated epoch")
VERIFY_COLUMNS = ["folder", "attempt", "file", "made by code", "outcome", "largest difference (points)",
                  "epochs compared", "rerun seconds"]


def _short(code: str) -> str:  # a full commit hash as made_by writes it
    return code[:7] if re.fullmatch(r"[0-9a-f]{40}", code) else code


def verify_outcomes(folder: str | Path | None = None) -> pd.DataFrame:
    """The recorded ``mscad verify`` outcomes (``results/verify/<folder>.txt``, and
    ``<folder>.<n>.txt`` for the n-th attempt: a rerun never replaces an earlier record):
    per experiment folder and attempt, the file rerun, the code that made it, the outcome,
    the largest difference in ROC-AUC points and over how many evaluated epochs, and the
    rerun's seconds. A record whose rerun failed says so in ``outcome`` with its last line."""
    folder = Path(folder) if folder is not None else _results_root(None) / "verify"
    if not folder.is_dir():
        raise MscadError(f"no verify records in {folder}; run experiments/verify_folders.py first.")
    rows = []
    for path in sorted(folder.glob("*.txt")):
        text = path.read_text()
        lines = text.splitlines()
        name, _, attempt = path.stem.partition(".")
        command = lines[0].removeprefix("$ ") if lines else ""
        exit_line = lines[1] if len(lines) > 1 else ""
        seconds = re.search(r"; (\d+) s", exit_line)
        made = re.search(r"made by code (.+?); rerun now by", text)
        outcome = next((m for m in map(_OUTCOME.match, lines) if m), None)
        rows.append({"folder": name, "attempt": int(attempt) if attempt.isdigit() else 1,
                     "file": command.split(" verify ")[-1].split(" --")[0],
                     "made by code": _short(made.group(1)) if made else "?",
                     "outcome": outcome.group(1) if outcome else
                     f"rerun failed: {lines[-1].strip() if lines else 'empty record'}",
                     "largest difference (points)": float(outcome.group(2)) if outcome else float("nan"),
                     "epochs compared": int(outcome.group(3)) if outcome else 0,
                     "rerun seconds": int(seconds.group(1)) if seconds else None})
    return pd.DataFrame(rows, columns=VERIFY_COLUMNS).sort_values(["folder", "attempt"], ignore_index=True)
