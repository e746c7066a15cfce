"""Where the distance from our DN2 to the paper's comes from (issue 29's scale grid).

The grid (``experiments/dn2_grid.py`` -> ``results/dn2-grid/``) holds DN2 on all ten
CIFAR-10 classes at the paper's data scale (5,000 normal train images, 10,000 test
images) for each backbone and resolution, and, from the same features, at the cpu
profile's subsets (1,000 / 2,000 images; three seeds). :func:`grid_table` reads it;
:func:`distance_steps` orders it into the steps from the book's DN2 to the paper's: data,
resolution, backbone, each step's change with an interval where seeds give one.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MscadError
from ..experiment.paper import TABLE4
from ..experiment.stats import interval

GRID_FOLDER = "dn2-grid"
# The paper's backbone table (Table 4) is the like-for-like reference: its EfficientNet
# column and its ResNet152 column, one setting. (Table 3's DN2 row reads 95.8 for ResNet152.)
PAPER_EFFICIENTNET = TABLE4["dn2"][TABLE4["columns"].index("EfficientNet")]  # 89.3
PAPER_RESNET152 = TABLE4["dn2"][TABLE4["columns"].index("ResNet")]  # 92.5


def grid_table(folder: str | Path | None = None) -> pd.DataFrame:
    """One row per backbone and resolution of the grid: the mean over the ten classes at
    full data (``full``), raw (Euclidean) DN2 at full data (``raw``), and at the cpu
    profile's subset the mean over seeds with its 95% interval (``subset``, ``subset_low``,
    ``subset_high``), all in ROC-AUC %; ``extract_s`` the extraction's measured cost."""
    if folder is None:
        from ..experiment.collect import results_folder

        folder = results_folder(GRID_FOLDER)
    folder = Path(folder)
    files = sorted(folder.glob("*px.json"))
    if not files:
        raise MscadError(f"no DN2 grid files in {folder}; run experiments/dn2_grid.py first.")
    rows = []
    for path in files:
        d = json.loads(path.read_text())
        seeds = [100 * v for v in d["mean_auroc_subset"].values()]
        mean, low, high = interval(seeds)
        rows.append(dict(backbone=d["backbone"], image_size=d["image_size"], full=100 * d["mean_auroc"],
                         raw=100 * d["mean_auroc_raw"], subset=mean, subset_low=low, subset_high=high,
                         n_seeds=len(seeds), extract_s=d["cost"]["extract_s"],
                         images_per_s=d["cost"]["images_per_s"]))
    return pd.DataFrame(rows).sort_values(["backbone", "image_size"]).reset_index(drop=True)


def subset_by_seed(backbone: str, image_size: int, folder: str | Path | None = None):
    """DN2 (ROC-AUC %, mean over the ten classes) of one grid file at the cpu profile's
    subset, per seed (index 0, 1, 2, the seeds of the book's own runs), or None when that
    backbone and resolution are not in the grid yet."""
    if folder is None:
        from ..experiment.collect import results_folder

        folder = results_folder(GRID_FOLDER)
    path = Path(folder) / f"{backbone}-{image_size}px.json"
    if not path.exists():
        return None
    seeds = json.loads(path.read_text())["mean_auroc_subset"]
    return pd.Series({int(k.removeprefix("seed")): 100 * v for k, v in seeds.items()}, dtype=float)


def _row(grid, backbone, size):
    match = grid[(grid.backbone == backbone) & (grid.image_size == size)]
    return None if match.empty else match.iloc[0]


def distance_steps(grid: pd.DataFrame) -> pd.DataFrame:
    """The steps from the book's DN2 (Lite0, 64 px, the cpu subset) towards the paper's,
    each with the DN2 it reaches and the change it buys (points): more data (the subset
    -> all images, paired by class, interval over the subset's seeds), then resolution
    (64 -> 128 -> 224 px, Lite0, full data), then backbone at native resolution (Lite1 at
    240, Lite2 at 260). The paper's two DN2s close the table. A step whose grid file is
    missing is left out."""
    rows = []
    base = _row(grid, "efficientnet_lite0", 64)
    if base is None:
        raise MscadError("the grid has no EfficientNet-Lite0 64 px file: the book's own scale.")
    rows.append(dict(step="the book's scale: Lite0, 64 px, 1,000 / 2,000 images", dn2=base.subset,
                     change=np.nan, low=base.subset_low, high=base.subset_high))
    rows.append(dict(step="+ the paper's data: 5,000 / 10,000 images", dn2=base.full,
                     change=base.full - base.subset, low=base.full - base.subset_high,
                     high=base.full - base.subset_low))
    previous = base.full
    for backbone, size, what in (("efficientnet_lite0", 128, "+ resolution: 128 px"),
                                 ("efficientnet_lite0", 224, "+ resolution: 224 px (Lite0's native)"),
                                 ("efficientnet_lite1", 240, "backbone: Lite1 at its native 240 px"),
                                 ("efficientnet_lite2", 260, "backbone: Lite2 at its native 260 px")):
        row = _row(grid, backbone, size)
        if row is None:
            continue
        native_lite0 = _row(grid, "efficientnet_lite0", 224)  # the backbone steps' reference
        reference = previous if backbone == "efficientnet_lite0" else (
            native_lite0.full if native_lite0 is not None else np.nan)
        rows.append(dict(step=what, dn2=row.full, change=row.full - reference, low=np.nan, high=np.nan))
        if backbone == "efficientnet_lite0":
            previous = row.full
    rows.append(dict(step="the paper, EfficientNet (Table 4)", dn2=PAPER_EFFICIENTNET, change=np.nan,
                     low=np.nan, high=np.nan))
    rows.append(dict(step="the paper, ResNet152 (Table 4)", dn2=PAPER_RESNET152, change=np.nan,
                     low=np.nan, high=np.nan))
    return pd.DataFrame(rows).set_index("step")


def distance_figure(steps: pd.DataFrame, ax=None):
    """The steps as points of DN2 (ROC-AUC %; points, not bars, since the axis does not
    start at 0): ours in DN2's colour with each step's change beside it, the paper's as
    grey diamonds (the book's one visual language); the book's scale with its interval
    over seeds."""
    import matplotlib.pyplot as plt

    from .plots import PAPER_COLOR, objective_color

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(steps) + 1))
    paper = np.asarray(steps.index.str.startswith("the paper"))
    y = np.arange(len(steps))[::-1]
    ax.hlines(y, float(np.floor(steps.dn2.min() - 2)), steps.dn2, color="0.85", lw=1)
    ours = objective_color("dn2")
    ax.scatter(steps.dn2[~paper], y[~paper], color=ours, zorder=3, label="this book's runs")
    ax.scatter(steps.dn2[paper], y[paper], color=PAPER_COLOR, marker="D", zorder=3, label="the paper")
    first = steps.iloc[0]
    right = steps.dn2.copy()
    if not np.isnan(first.low):
        ax.errorbar(first.dn2, y[0], xerr=[[first.dn2 - first.low], [first.high - first.dn2]],
                    color=ours, capsize=3, lw=1)
        right.iloc[0] = first.high
    for yi, (_, row), r in zip(y, steps.iterrows(), right):
        text = f"{row.dn2:.1f}" + ("" if np.isnan(row.change) else f"  ({row.change:+.1f})")
        ax.text(r + 0.25, yi, text, va="center", fontsize=9)
    ax.set_yticks(y, steps.index, fontsize=9)
    ax.set_xlim(float(np.floor(steps.dn2.min() - 2)), float(np.ceil(steps.dn2.max() + 3)))
    ax.set_xlabel("DN2, mean ROC-AUC over the ten CIFAR-10 classes (%)")
    ax.set_title("From the book's DN2 to the paper's: data, resolution, backbone", fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def validation_chosen(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` (:func:`mscad.report.load_results` of runs made with
    ``--validation-images``) with each trained run's ``auroc`` replaced by its test
    ROC-AUC % at the epoch its own validation curve picks
    (:func:`mscad.protocol.epoch_on_validation`; never a test image), and that epoch in
    ``chosen_epoch``. DN2 (no training) keeps its ROC-AUC, epoch 0. How Table 3 at the
    paper's data scale reads its short-horizon runs (issue 29)."""
    from ..experiment.protocol import epoch_on_validation
    from ..results import load_result

    chosen = results.copy()
    epochs, aurocs = [], []
    for row in chosen.itertuples():
        if row.epochs == 0:
            epochs.append(0)
            aurocs.append(row.auroc)
            continue
        pick = epoch_on_validation(load_result(row.path).history)
        epochs.append(pick["epoch"])
        aurocs.append(100 * pick["auroc"])
    chosen["chosen_epoch"] = epochs
    chosen["auroc"] = aurocs
    return chosen


def margins_beside(full: pd.DataFrame, subset: pd.DataFrame, objectives=("center", "contrastive", "msc"),
                   baseline: str = "dn2") -> pd.DataFrame:
    """Each objective's margin over ``baseline`` (points, paired by class and seed, 95%
    interval over seeds; :func:`mscad.stats.margin_interval`) at the paper's data scale
    (``full``: validation-chosen, :func:`validation_chosen`) beside the cpu scale's
    (``subset``: the sweep), for the objectives both have; the classes and seeds behind
    each side are counted, so a partial full-data run says how partial it is."""
    from ..experiment.stats import format_margin, margin_interval

    rows = {}
    for objective in objectives:
        row = {}
        for name, runs in (("paper's data", full), ("cpu subset", subset)):
            mine, base = runs[runs.objective == objective], runs[runs.objective == baseline]
            if mine.empty or base.empty:
                row[name] = "–"
                continue
            try:
                m = margin_interval(mine, base)
            except MscadError:
                row[name] = "–"
                continue
            row[name] = f"{format_margin(m)}; {_count(m['classes'], 'class')} x {_count(m['seeds'], 'seed')}"
        rows[objective] = row
    return pd.DataFrame(rows).T.rename_axis(f"margin over {baseline}")
