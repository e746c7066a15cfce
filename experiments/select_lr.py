"""The validation protocol's learning rates and training lengths, from the selection runs
in results/selection-cpu.

Every run there was measured with --evaluate-on validation: held-out normal train images
and the other classes' train images, never a test image, at epochs 0, 5 and 10
(stage A runs 10 epochs with --eval-every 5). For each
objective the (lr, epochs) pair with the best mean validation ROC-AUC over the selection
classes is chosen (epochs 5 of a 10-epoch run is a 5-epoch run: each epoch is seeded by
its number and SGD's rate is constant; epoch 0, no training, is not a candidate).

    python experiments/select_lr.py               # the table
    python experiments/select_lr.py --write       # and results/selection-cpu/CHOSEN.json
    python experiments/select_lr.py --objective msc            # its chosen lr
    python experiments/select_lr.py --objective msc --epochs   # its chosen epochs
"""
import argparse
import json
import sys
from pathlib import Path

from mscad.errors import MscadError
from mscad.report import load_results, lr_selection

FOLDER = Path(__file__).resolve().parent.parent / "results" / "selection-cpu"
CHOSEN = FOLDER / "CHOSEN.json"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true")
    p.add_argument("--objective")
    p.add_argument("--epochs", action="store_true", help="with --objective: the chosen epochs")
    args = p.parse_args()
    if args.objective:
        if not CHOSEN.exists():
            sys.exit(f"{CHOSEN} does not exist yet: run stage A of experiments/evidence.sh first.")
        chosen = json.loads(CHOSEN.read_text())["epochs" if args.epochs else "lr"]
        if args.objective not in chosen:
            sys.exit(f"no setting was selected for {args.objective!r}; selected: {', '.join(chosen)}.")
        print(chosen[args.objective])
        return
    try:
        table = lr_selection(load_results(FOLDER))
    except MscadError as e:
        sys.exit(f"mscad: error: {e}")
    print(table.round(2).to_markdown())
    if args.write:
        best = table[table.chosen].reset_index()
        CHOSEN.write_text(json.dumps(dict(
            protocol="validation split of the train images (--evaluate-on validation); mean ROC-AUC "
                     "over the selection classes; seed 0; lr and epochs (5 or 10) chosen together",
            classes=int(best.classes.min()),
            lr={r.objective: float(r.lr) for r in best.itertuples()},
            epochs={r.objective: int(r.epochs) for r in best.itertuples()},
            validation_auroc={r.objective: round(float(r.validation_auroc), 2) for r in best.itertuples()},
        ), indent=1) + "\n")
        print(f"-> {CHOSEN}")


if __name__ == "__main__":
    main()
