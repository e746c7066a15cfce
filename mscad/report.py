"""Result files -> tables: ours per class and objective, beside the paper's numbers."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .errors import MscadError
from .paper import PER_CLASS_TABLES, paper_value
from .train import OBJECTIVES


def load_results(folder: str | Path) -> pd.DataFrame:
    """One row per RESULT.json under ``folder`` (recursively)."""
    folder = Path(folder)
    if not folder.exists():
        raise MscadError(f"no results folder {folder}; run `python -m mscad sweep --out-dir {folder}` first.")
    rows = []
    for path in sorted(folder.rglob("*.json")):
        try:
            r = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        if "auroc" not in r or "config" not in r:
            continue
        c = r["config"]
        rows.append(dict(dataset=c["dataset"], backbone=c["backbone"], objective=c["objective"],
                         profile=c.get("profile"), setting="multi-class" if c.get("anomalous_class") else "one-class",
                         normal_class=r.get("target_class") or c.get("normal_class") or c.get("anomalous_class"),
                         auroc=100 * r["auroc"], epoch0=100 * r["history"][0]["auroc"],
                         best=100 * max(h["auroc"] for h in r["history"] if h["auroc"] is not None),
                         epochs=c["epochs"], image_size=c["image_size"], wall_s=r.get("wall_s"), path=str(path)))
    if not rows:
        raise MscadError(f"no result files (RESULT.json with auroc and config) under {folder}.")
    return pd.DataFrame(rows)


def per_class_table(results: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """Classes x objectives (ours, final ROC-AUC %) plus the paper's PANDA and MSC columns."""
    df = results if dataset is None else results[results.dataset == dataset]
    if df.empty:
        raise MscadError(f"no results for data set {dataset!r}.")
    table = df.pivot_table(index="normal_class", columns="objective", values="auroc", aggfunc="mean")
    table = table[[o for o in OBJECTIVES if o in table.columns]]
    table.columns = [f"{c} (ours)" for c in table.columns]
    ds = df.dataset.iloc[0]
    if ds in PER_CLASS_TABLES:
        for objective, label in (("center", "PANDA (paper)"), ("msc", "MSC (paper)")):
            table[label] = [paper_value(ds, cls, objective) for cls in table.index]
        order = list(PER_CLASS_TABLES[ds]["rows"])
        table = table.loc[sorted(table.index, key=lambda c: order.index(c) if c in order else len(order))]
    # Average only over classes that have every column, so a partial sweep's mean compares
    # like with like.
    complete = table.dropna()
    table.loc[f"mean ({len(complete)} complete classes)" if len(complete) < len(table) else "mean"] = \
        complete.mean(numeric_only=True)
    return table.round(1)


def describe_scale(results: pd.DataFrame) -> str:
    """One line saying at what scale the results were produced."""
    parts = []
    for (profile, size, epochs), _ in results.groupby(["profile", "image_size", "epochs"]):
        parts.append(f"{profile} profile, {size}px, {epochs} epochs")
    return "; ".join(sorted(set(parts)))
