"""The paper's data scale (issue 29) in three tables, from the committed result files:
the DN2 grid and the distance it decomposes, Table 3's margins at both scales with the
epochs the validation curves chose, and Fig. 5's speeds per epoch and per step beside the
1,000-image curves. What chapter 6 shows, as plain markdown for a note or a diff.

    python experiments/datascale_report.py [--out FILE.md]

Each table says which classes and seeds are behind it, so a report made while the
background runs are still landing says how partial it is.
"""
import argparse
from pathlib import Path

import pandas as pd

from mscad.book.scale import (
    collapse_speeds,
    data_steps,
    distance_steps,
    full_data_evidence,
    grid_labels,
    grid_table,
    margins_beside,
)


def markdown(frame: pd.DataFrame, digits: int = 1) -> str:
    blanks = frame.astype(object).where(frame.notna(), None)  # tabulate prints None, not NaN, as missing
    return blanks.to_markdown(floatfmt=f".{digits}f", missingval="–")


def grid_section() -> list[str]:
    grid = grid_table()
    shown = grid.assign(at=grid_labels(grid))
    shown["cpu subset [95%]"] = [f"{m:.1f} [{lo:.1f}, {hi:.1f}]" for m, lo, hi in
                                 zip(grid.subset, grid.subset_low, grid.subset_high)]
    shown = shown.set_index("at")[["full", "raw", "cpu subset [95%]", "extract_s"]].rename(columns={
        "full": "DN2, full data", "raw": "raw DN2, full data", "extract_s": "extraction (s)"})
    return ["## The DN2 grid: mean over ten classes, ROC-AUC %", "",
            "Made by `experiments/dn2_grid.py` (results/dn2-grid/).", "", markdown(shown), "",
            "### The steps from the book's DN2 towards the paper's", "", markdown(distance_steps(grid)), "",
            "### What the paper's data buys at each backbone and resolution (points)", "",
            markdown(data_steps(grid)), ""]


def table3_section(full: pd.DataFrame, subset: pd.DataFrame) -> list[str]:
    if full.empty:
        return ["## Table 3 at the paper's data", "", "No stage T run is committed yet.", ""]
    trained = full[full.epochs > 0]
    if trained.empty:
        epochs = "No trained run yet: DN2 alone."
    else:
        chosen = trained.groupby(["objective", "chosen_epoch"]).size().unstack(fill_value=0)
        chosen.columns = [f"epoch {e}" for e in chosen.columns]
        epochs = chosen.to_markdown()
    runs = full.groupby("objective").agg(classes=("normal_class", "nunique"),
                                         seeds=("seed", lambda s: ", ".join(map(str, sorted(set(s))))))
    return ["## Table 3 at the paper's data: margins over DN2 (points, 95% interval over seeds)", "",
            "Stage T of `experiments/datascale.sh` (results/datascale/table3/), each trained run read at "
            "the epoch its own validation curve chose; the cpu subset is the book's sweep "
            "(results/sweep-cpu/).", "", markdown(margins_beside(full, subset)), "",
            "Runs read per objective (a seed still landing counts once it has every class):", "", runs.to_markdown(), "",
            "The epoch each trained run's validation curve chose (runs):", "", epochs, ""]


def fig5_section(curves: pd.DataFrame, note: str) -> list[str]:
    head = ["## Fig. 5 at the paper's data beside the 1,000-image curves", "",
            "Stage F of `experiments/datascale.sh` (results/datascale/collapse/) and the book's "
            f"results/collapse-cpu/: {note.rstrip('.')}.", ""]
    if curves.empty:
        return head
    speeds = collapse_speeds(curves)
    speeds.index = [f"{objective}, {scale}" for objective, scale in speeds.index]
    for column in ("peak_epoch", "last_epoch", "steps_per_epoch", "shared_steps", "classes"):
        speeds[column] = speeds[column].astype("Int64")  # counts, not measurements (NaN stays <NA>)
    return head + [markdown(speeds, 2), "",
                   "decline_* is from the peak to the end (positive: fell); change_in_shared_steps is "
                   "the change from epoch 0 over the steps both scales ran.", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the report here")
    args = parser.parse_args()
    full, subset, curves, note = full_data_evidence()
    text = "\n".join(["# The paper's data scale (issue 29), from the committed result files", ""]
                     + grid_section() + table3_section(full, subset) + fig5_section(curves, note))
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
