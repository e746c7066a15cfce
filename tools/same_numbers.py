"""Compare two folders written by tools/same_numbers.sh: every number of every result
(the ROC-AUC, each epoch's loss, ROC-AUC and statistics) must be identical; only the
timings, the code provenance and the environment may differ.

    .venv/bin/python tools/same_numbers.py BEFORE_DIR AFTER_DIR
"""
import json
import sys
from pathlib import Path

TIMINGS = {"seconds", "wall_s"}


def numbers(result: dict) -> dict:
    out = {"auroc": result["auroc"], "config": result["config"]}
    for record in result["history"]:
        for key, value in record.items():
            if key not in TIMINGS:
                out[f"epoch {record['epoch']} {key}"] = value
    return out


def main(before: str, after: str) -> int:
    differ = 0
    for path in sorted(Path(before).glob("*.json")):
        a, b = (numbers(json.loads(p.read_text())) for p in (path, Path(after) / path.name))
        changed = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
        differ += bool(changed)
        print(f"{path.stem:15s} {len(a):3d} numbers: "
              + ("identical" if not changed else f"{len(changed)} differ: {sorted(changed)[:4]}"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
