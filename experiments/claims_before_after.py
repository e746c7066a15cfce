"""The claims table of an earlier commit beside today's, row by row, on the same committed
results (issue 29: the verdicts before and after they tested what the paper claims).

    python experiments/claims_before_after.py --before 690f4c2^ [--out FILE.md]

The earlier commit's code is checked out into a temporary git worktree and run on this
checkout's results/ (MSCAD_RESULTS), so only the code that reads the results differs.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["verdict", "ours: margin [95% interval]"]


def table_at(ref: str, pickle: Path) -> None:
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=ROOT,
                           capture_output=True, text=True)
    if known.returncode != 0:
        raise SystemExit(f"claims_before_after: {ref!r} is not a commit of this repository "
                         "(a full clone has the history; try `git log --oneline`).")
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), ref], cwd=ROOT, check=True)
        try:
            code = ("from mscad.claims import claims_table; "
                    f"claims_table().to_pickle({str(pickle)!r})")
            subprocess.run([sys.executable, "-c", code], cwd=tree, check=True,
                           env=dict(os.environ, MSCAD_RESULTS=str(ROOT / "results"), PYTHONPATH=str(tree)))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier commit (e.g. 690f4c2^)")
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args()
    from mscad.claims import claims_table

    with tempfile.TemporaryDirectory() as tmp:
        pickle = Path(tmp) / "before.pkl"
        table_at(args.before, pickle)
        before = pd.read_pickle(pickle)
    after = claims_table()
    rows = pd.DataFrame({
        "claim then": before.claim.reindex(after.index).fillna("(no such row)"),
        "claim now": after.claim,
        f"verdict at {args.before}": before.verdict.reindex(after.index).fillna("(no such row)"),
        "margin then": before["ours: margin [95% interval]"].reindex(after.index).fillna("–"),
        "verdict now": after.verdict,
        "measured now": after["ours: margin [95% interval]"],
        "now, Holm-corrected": after["verdict, Holm-corrected"],
    })
    text = rows.to_markdown() + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
