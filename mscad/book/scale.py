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
from ..experiment.paper import TABLE3, TABLE4
from ..experiment.stats import interval

GRID_FOLDER = "dn2-grid"
# The paper's DN2 comes in two forms (Table 3): "Raw", Euclidean kNN on the backbone's
# features (the original DN2; Table 4's DN2 row is this one, inferred, since the paper
# does not say: its ResNet entries equal Table 3's Raw 92.5 and center loss 96.2), and
# "Ang.", kNN on l2-normalised features, which is the book's DN2
# (Eq. 5). A distance is read only between like forms: the book's DN2 against Table 3's
# Ang. (ResNet152; the paper gives no normalised DN2 for another backbone), the grid's
# raw DN2 against Table 4's raw ones.
PAPER_NORMALISED_RESNET152 = TABLE3["dn2"]  # 95.8
PAPER_RAW_EFFICIENTNET = TABLE4["dn2"][TABLE4["columns"].index("EfficientNet")]  # 89.3
PAPER_RAW_RESNET152 = TABLE4["dn2"][TABLE4["columns"].index("ResNet")]  # 92.5
PAPER_ROWS = {  # the closing rows of distance_steps: (normalised, raw)
    "the paper, ResNet152, normalised (Table 3, Ang.)": (PAPER_NORMALISED_RESNET152, np.nan),
    "the paper, EfficientNet, raw (Table 4)": (np.nan, PAPER_RAW_EFFICIENTNET),
    "the paper, ResNet152, raw (Tables 3, 4)": (np.nan, PAPER_RAW_RESNET152),
}


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
    each with the DN2 it reaches (``dn2``: normalised features, the book's DN2; ``raw``:
    Euclidean kNN on raw features, at full data) and the change in ``dn2`` it buys
    (points): more data (the subset -> all images, paired by class, interval over the
    subset's seeds), then resolution (64 -> 128 -> 224 px, Lite0, full data), then backbone
    at native resolution (Lite1 at 240, Lite2 at 260, each against Lite0 at 224). The
    paper's DN2s close the table, each in its own form (:data:`PAPER_ROWS`). A step whose
    grid file is missing is left out."""
    rows = []
    base = _row(grid, "efficientnet_lite0", 64)
    if base is None:
        raise MscadError("the grid has no EfficientNet-Lite0 64 px file: the book's own scale.")
    rows.append(dict(step="the book's scale: Lite0, 64 px, 1,000 / 2,000 images", dn2=base.subset,
                     raw=np.nan, change=np.nan, low=base.subset_low, high=base.subset_high))
    rows.append(dict(step="+ the paper's data: 5,000 / 10,000 images", dn2=base.full, raw=base.raw,
                     change=base.full - base.subset, low=base.full - base.subset_high,
                     high=base.full - base.subset_low))
    previous = base.full
    native_lite0 = _row(grid, "efficientnet_lite0", 224)  # the backbone steps' reference
    for backbone, size, what in (("efficientnet_lite0", 128, "+ resolution: 128 px"),
                                 ("efficientnet_lite0", 224, "+ resolution: 224 px (Lite0's native)"),
                                 ("efficientnet_lite1", 240, "backbone: Lite1 at its native 240 px, vs Lite0 at 224"),
                                 ("efficientnet_lite2", 260, "backbone: Lite2 at its native 260 px, vs Lite0 at 224")):
        row = _row(grid, backbone, size)
        if row is None:
            continue
        reference = previous if backbone == "efficientnet_lite0" else (
            native_lite0.full if native_lite0 is not None else np.nan)
        rows.append(dict(step=what, dn2=row.full, raw=row.raw, change=row.full - reference,
                         low=np.nan, high=np.nan))
        if backbone == "efficientnet_lite0":
            previous = row.full
    for step, (normalised, raw) in PAPER_ROWS.items():
        rows.append(dict(step=step, dn2=normalised, raw=raw, change=np.nan, low=np.nan, high=np.nan))
    return pd.DataFrame(rows).set_index("step")


def grid_labels(grid: pd.DataFrame) -> pd.Series:
    """A grid row's name as the tables print it: "lite0 @ 64 px"."""
    return grid.backbone.str.replace("efficientnet_", "") + " @ " + grid.image_size.astype(str) + " px"


def data_steps(grid: pd.DataFrame) -> pd.DataFrame:
    """What the paper's data buys at each backbone and resolution of the grid: DN2 at full
    data minus the cpu subset's (points), with the interval over the subset's seeds."""
    return pd.DataFrame({"change": grid.full - grid.subset, "low": grid.full - grid.subset_high,
                         "high": grid.full - grid.subset_low}).set_index(grid_labels(grid))


def distance_figure(steps: pd.DataFrame, ax=None):
    """The steps as points of DN2 (ROC-AUC %; points, not bars, since the axis does not
    start at 0): the book's DN2 (normalised features) filled, raw DN2 hollow, ours in
    DN2's colour with each step's change beside it, the paper's as grey diamonds (the
    book's one visual language); the book's scale with its interval over seeds."""
    import matplotlib.pyplot as plt

    from .plots import PAPER_COLOR, objective_color

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(steps) + 1.2))
    paper = np.asarray(steps.index.str.startswith("the paper"))
    y = np.arange(len(steps))[::-1]
    values = pd.concat([steps.dn2, steps.raw]).dropna()
    left, right_edge = float(np.floor(values.min() - 3)), float(np.ceil(values.max() + 4))
    ax.hlines(y, left, steps[["dn2", "raw"]].max(axis=1), color="0.85", lw=1)
    ours = objective_color("dn2")
    for form, filled in (("dn2", True), ("raw", False)):
        for mask, color, marker, who in ((~paper, ours, "o", "this book's runs"),
                                         (paper, PAPER_COLOR, "D", "the paper")):
            v = steps[form].to_numpy()[mask]
            keep = ~np.isnan(v)
            form_name = ("normalised features" + (" (the book's DN2)" if who == "this book's runs" else "")
                         if filled else "raw features")
            label = f"{who}, {form_name}"
            ax.scatter(v[keep], y[mask][keep], marker=marker, zorder=3, s=30, label=label,
                       color=color if filled else "white", edgecolors=color)
    first = steps.iloc[0]
    right = steps.dn2.copy()
    if not np.isnan(first.low):
        ax.errorbar(first.dn2, y[0], xerr=[[first.dn2 - first.low], [first.high - first.dn2]],
                    color=ours, capsize=3, lw=1)
        right.iloc[0] = first.high
    for yi, (_, row), r in zip(y, steps.iterrows(), right):
        if not np.isnan(row.dn2):
            text = f"{row.dn2:.1f}" + ("" if np.isnan(row.change) else f"  ({row.change:+.1f})")
            ax.text(r + 0.3, yi, text, va="center", fontsize=9)
        if not np.isnan(row.raw):  # raw lies below the normalised DN2 here: its value on the left
            ax.text(row.raw - 0.4, yi, f"{row.raw:.1f}", va="center", ha="right", fontsize=8, color="0.35")
    ax.set_yticks(y, steps.index, fontsize=9)
    ax.set_xlim(left, right_edge)
    ax.set_xlabel("DN2, mean ROC-AUC over the ten CIFAR-10 classes (%)")
    ax.set_title("From the book's DN2 to the paper's: data, resolution, backbone", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
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
    (``subset``: the sweep) on the same classes and seeds (those where ``full`` has the
    objective and the baseline), and the cpu scale's on all its classes and seeds. The
    classes and seeds behind each column are counted, so a partial full-data run says how
    partial it is."""
    from ..experiment.stats import format_margin, margin_interval

    def margin(runs, objective):
        mine, base = runs[runs.objective == objective], runs[runs.objective == baseline]
        if mine.empty or base.empty:
            return "–"
        try:
            m = margin_interval(mine, base)
        except MscadError:
            return "–"
        return f"{format_margin(m)}; {_count(m['classes'], 'class')} x {_count(m['seeds'], 'seed')}"

    rows = {}
    for objective in objectives:
        mine = full[full.objective == objective] if not full.empty else full
        pairs = mine.merge(full[full.objective == baseline][["normal_class", "seed"]],
                           on=["normal_class", "seed"]) if not mine.empty else mine
        rows[objective] = {"paper's data": margin(full, objective),
                           "cpu subset, same classes and seeds": margin(same_runs(subset, pairs), objective)
                           if not pairs.empty else "–",
                           "cpu subset, all": margin(subset, objective)}
    return pd.DataFrame(rows).T.rename_axis(f"margin over {baseline}")


# ------------------------------------------------------------------ Fig. 5 at the paper's data
FULL_COLLAPSE_FOLDER = "datascale/collapse"
SCALE_NAMES = {"full": "5,000 images (the paper's data)", "subset": "1,000 images (the book's scale)"}


def class_curves(runs: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Long frame of the test ROC-AUC curves of ``runs`` (:func:`mscad.report.load_results`):
    one row per run and evaluated epoch with its optimizer steps and images seen
    (each run's ``steps_per_epoch`` and ``batch_size``), tagged ``scale``."""
    rows = []
    for run in runs.itertuples():
        batch = int(run.batch_size or 64)  # 64: files that did not record it used the default
        for epoch, auroc in run.evaluated.items():
            steps = int(epoch) * int(run.steps_per_epoch)
            rows.append(dict(scale=scale, objective=run.objective, normal_class=run.normal_class,
                             seed=int(run.seed), epoch=int(epoch), step=steps, images=steps * batch,
                             auroc=float(auroc)))
    return pd.DataFrame(rows, columns=["scale", "objective", "normal_class", "seed", "epoch", "step",
                                       "images", "auroc"])


def collapse_beside(full_folder: str | Path = FULL_COLLAPSE_FOLDER, subset_folder: str | Path = "collapse-cpu",
                    dataset: str = "cifar10", seed: int = 0, objectives=None) -> tuple[pd.DataFrame, str]:
    """Fig. 5's curves at the paper's data scale beside the book's 1,000-image curves, on the
    classes every objective drawn has finished at both scales (the same classes and seed on
    both sides and for every objective, so scales and objectives are compared like for
    like; an objective with no such class yet is left out, and the note names it). Returns
    ``(curves, note)``: the mean over those classes per objective, scale and evaluated
    epoch (with ``step`` and ``images``), and a sentence naming the classes and seed behind
    it, or why it is empty."""
    from ..experiment.collect import load_results, results_folder

    def runs_in(folder):
        try:
            folder = Path(folder) if Path(folder).is_absolute() else results_folder(str(folder))
            runs = load_results(folder)
        except MscadError:
            return None
        runs = runs[(runs.dataset == dataset) & (runs.seed == seed) & (runs.epochs > 0)]
        return runs if objectives is None else runs[runs.objective.isin(objectives)]

    full, subset = runs_in(full_folder), runs_in(subset_folder)
    empty = pd.DataFrame(columns=["scale", "objective", "epoch", "step", "images", "auroc", "classes"])
    if full is None or full.empty:
        return empty, (f"no finished full-data Fig. 5 run of seed {seed} yet (results/{full_folder}; "
                       "stage F of experiments/datascale.sh).")
    if subset is None or subset.empty:
        return empty, f"no 1,000-image Fig. 5 run of seed {seed} in results/{subset_folder}."
    shared = {objective: set(mine.normal_class) & set(subset[subset.objective == objective].normal_class)
              for objective, mine in full.groupby("objective")}
    drawn = {objective: classes for objective, classes in shared.items() if classes}
    left_out = sorted(set(shared) - set(drawn))  # an objective with no class at both scales yet
    if not drawn:
        return empty, "the full-data and 1,000-image Fig. 5 runs share no class yet."
    # the classes every objective drawn has at both scales: stage F runs class by class, so
    # while a class is in flight the objectives that finished it are not averaged over one
    # class more than the others (the figure compares objectives as well as scales)
    common = set.intersection(*drawn.values())
    if not common:
        each = "; ".join(f"{o}: {', '.join(sorted(c))}" for o, c in drawn.items())
        return empty, f"the objectives' Fig. 5 runs share no class at both scales yet ({each})."
    parts, classes = [], sorted(common)
    for objective, mine in full[full.objective.isin(list(drawn))].groupby("objective"):
        theirs = subset[subset.objective == objective]
        mine, theirs = mine[mine.normal_class.isin(classes)], theirs[theirs.normal_class.isin(classes)]
        # Fig. 5 compares one optimizer at two data sizes: every setting but the data agrees
        for setting in ("lr", "momentum", "weight_decay", "epochs", "batch_size", "image_size"):
            # a setting an older file did not record is unknown, not different (NaN != NaN)
            ours, other = (set(x[setting].dropna()) if setting in x else set() for x in (mine, theirs))
            if ours and other and ours != other:
                raise MscadError(f"{objective}'s Fig. 5 runs differ in {setting} between the two scales "
                                 f"({sorted(ours)} against {sorted(other)}); "
                                 "compare runs of one setting.")
        for scale_runs in (mine, theirs):  # one clock per scale: an epoch is one number of steps
            if scale_runs.steps_per_epoch.nunique() > 1:
                raise MscadError(f"{objective}'s Fig. 5 runs at one scale have different numbers of "
                                 f"steps per epoch ({sorted(set(scale_runs.steps_per_epoch))}): their "
                                 "curves cannot be averaged per step; compare runs of one data size.")
        curves = {scale: class_curves(runs, scale) for scale, runs in (("full", mine), ("subset", theirs))}
        # only the epochs both scales scored (stage F scores every second epoch): a peak
        # taken on a denser grid would lean higher
        epochs = set(curves["full"].epoch) & set(curves["subset"].epoch)
        for c in curves.values():
            c = c[c.epoch.isin(epochs)]
            mean = c.groupby(["scale", "objective", "epoch", "step", "images"], as_index=False).auroc.mean()
            parts.append(mean.assign(classes=c.groupby("epoch").normal_class.nunique().min(), seed=seed))
    from ..experiment.collect import dataset_classes

    n = len(common)  # every objective drawn is averaged over these
    every_class = set(dataset_classes(dataset) or ()) == common
    # the classes named in each row while only some have landed ("" once all have)
    parts = [p.assign(class_names="" if every_class else ", ".join(classes)) for p in parts]
    if every_class:
        said = f"mean over all {n} classes (every objective drawn at both scales), seed {seed}"
    else:
        said = (f"mean over {_count(n, 'class')} ({', '.join(classes)}) that every objective drawn has "
                f"at both scales, seed {seed}")
    if left_out:
        said += f"; not drawn yet, with no class at both scales: {', '.join(left_out)}"
    return pd.concat(parts, ignore_index=True), said


def collapse_speeds(curves: pd.DataFrame) -> pd.DataFrame:
    """Per objective and scale (:func:`collapse_beside`): ROC-AUC % at epoch 0, at its peak
    and at the end, and the decline from the peak to the end per epoch and per 1,000
    optimizer steps: the two clocks the paper's "very fast" and "much more slowly" can be
    read on. (The peak is the maximum of a noisy curve, so it leans high; said, not hidden.)

    ``shared_steps`` is the number of optimizer steps every scale of the objective ran (the
    shorter run's last step) and ``change_in_shared_steps`` the change from epoch 0 at that
    step, read on the curve by linear interpolation between scored epochs: the like-for-
    like clock, since the two runs' peaks and ends lie at different steps (both NaN for an
    objective drawn at one scale only)."""
    rows = []
    last = curves.groupby(["objective", "scale"]).step.max()
    both = last.groupby("objective").size() > 1  # an objective at one scale has no shared clock
    shared = last.groupby("objective").min().where(both)
    for (objective, scale), c in curves.groupby(["objective", "scale"]):
        c = c.sort_values(["epoch", "step"]).reset_index(drop=True)
        at_shared = (float(np.interp(shared[objective], c.step, c.auroc))
                     if not np.isnan(shared[objective]) else np.nan)
        peak_at = int(c.auroc.idxmax())
        peak, end = c.auroc[peak_at], c.auroc.iloc[-1]
        epochs, steps = c.epoch.iloc[-1] - c.epoch[peak_at], c.step.iloc[-1] - c.step[peak_at]
        rows.append(dict(objective=objective, scale=SCALE_NAMES.get(scale, scale), start=c.auroc.iloc[0],
                         peak=peak, peak_epoch=int(c.epoch[peak_at]), end=end, last_epoch=int(c.epoch.iloc[-1]),
                         steps_per_epoch=int(c.step.iloc[1] / c.epoch.iloc[1]) if len(c) > 1 and c.epoch.iloc[1] else 0,
                         decline_per_epoch=(peak - end) / epochs if epochs else 0.0,
                         decline_per_kstep=1000 * (peak - end) / steps if steps else 0.0,
                         shared_steps=shared[objective],
                         change_in_shared_steps=at_shared - c.auroc.iloc[0],
                         classes=int(c.classes.iloc[0])))
    return pd.DataFrame(rows).set_index(["objective", "scale"])


def thousands_of_images(batch: int):
    """The steps <-> images-seen (thousands) conversion of the steps panel's second axis."""
    return (lambda steps: np.asarray(steps) * batch / 1000, lambda k: np.asarray(k) * 1000 / batch)


def collapse_beside_figure(curves: pd.DataFrame, axes=None):
    """Two panels of :func:`collapse_beside`: against epochs and against optimizer steps.
    An objective keeps its colour (the book's visual language); the paper's data is drawn
    solid with dots, the 1,000-image curve dashed and paler. If the two scales collapse at
    the same speed per step, their curves coincide in the right panel and not in the left."""
    import matplotlib.pyplot as plt

    from .plots import objective_color

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for (objective, scale), c in curves.groupby(["objective", "scale"]):
        c = c.sort_values("epoch")
        full = scale == "full"
        style = dict(color=objective_color(objective), lw=1.8 if full else 1.2, ls="-" if full else "--",
                     marker="o" if full else None, ms=3, alpha=1.0 if full else 0.6,
                     label=f"{objective}, {SCALE_NAMES.get(scale, scale)}")
        axes[0].plot(c.epoch, c.auroc, **style)
        axes[1].plot(c.step, c.auroc, **style)
    axes[0].set_xlabel("epoch")
    scored = sorted(set(curves.epoch))  # ticks where the curves were scored (every 2nd in stage F)
    axes[0].set_xticks(scored[:: max(1, int(np.ceil(len(scored) / 11)))])
    trained = curves[curves.step > 0]
    batch = int(round((trained.images / trained.step).median())) if len(trained) else 64
    axes[1].set_xlabel(f"optimizer steps (batch {batch})")
    if len(trained) and (trained.images == trained.step * batch).all():  # one batch size: one clock
        top = axes[1].secondary_xaxis("top", functions=thousands_of_images(batch))
        top.set_xlabel("images seen (thousands)", fontsize=8)
        top.tick_params(labelsize=7)
    axes[0].set_ylabel("test ROC-AUC (%), mean over the classes")
    # beside the panels: inside, a collapsing curve runs under it
    axes[1].legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.02, 0.5))
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes


def full_table3(folder: str | Path = "datascale/table3", dataset: str = "cifar10") -> pd.DataFrame:
    """Table 3's runs at the paper's data scale (stage T), each trained run read at the
    epoch its own validation curve picks (:func:`validation_chosen`); empty when stage T
    has not committed a run yet. A seed still landing is left out of an objective until
    it has every class that objective has in another seed (as the book's sweep is read,
    :func:`mscad.experiment.collect.complete_seeds`): a margin paired by class and seed
    would otherwise shrink to the few classes the new seed has finished. Should no seed
    have them all (seeds begun on different classes), the seed with the most classes is
    read."""
    from ..experiment.collect import complete_seeds, load_results, results_folder

    try:
        folder = Path(folder) if Path(folder).is_absolute() else results_folder(str(folder))
        runs = load_results(folder)
    except MscadError:
        return pd.DataFrame()
    runs = runs[runs.dataset == dataset]
    if runs.empty:
        return runs

    def finished(objective, part):
        try:
            seeds = complete_seeds(part, [objective])
        except MscadError:  # runs of two settings: kept, and the margins refuse them ("–")
            return part
        if not seeds:  # no seed has every class: the fullest (the first of a tie)
            per_seed = part.groupby("seed").normal_class.nunique()
            seeds = [per_seed.idxmax()]
        return part[part.seed.isin(seeds)]

    runs = pd.concat([finished(objective, part) for objective, part in runs.groupby("objective")])
    return validation_chosen(runs)


def same_runs(subset: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """The runs of ``subset`` on the (class, seed) pairs ``full`` has, so that a margin at
    the book's scale is computed on the same classes and seeds as one at the paper's data."""
    if subset.empty or full.empty:
        return subset.iloc[:0]
    keys = pd.MultiIndex.from_frame(full[["normal_class", "seed"]])
    return subset[pd.MultiIndex.from_frame(subset[["normal_class", "seed"]]).isin(keys)]


def possessive(name: str) -> str:
    return name + "'s"  # "the center loss's", as the chapters write it


def _horizon(full: pd.DataFrame) -> str:
    trained = full[full.epochs > 0]
    if trained.empty:
        return "no trained run"
    chosen = sorted({int(e) for e in trained.chosen_epoch}) if "chosen_epoch" in trained else []
    said = " or ".join(map(str, chosen)) or "?"
    return (f"{int(trained.epochs.max())} epochs of {int(trained.steps_per_epoch.median())} steps, "
            f"{int(trained.n_test.max()):,} test images, each run read at the epoch its validation "
            f"curve chose: {said}")


def objective_at_scale(objective: str, full: pd.DataFrame, subset: pd.DataFrame,
                       curves: pd.DataFrame | None = None, baseline: str = "dn2",
                       name: str | None = None) -> dict:
    """What the paper's data scale says of one objective, as whole clauses a chapter can
    glue (``name`` is the objective's name in the sentence, e.g. "the center loss").

    ``table3``: its margin over ``baseline`` at the paper's data (``full``, from
    :func:`full_table3`: each run at its validation-chosen epoch) beside the margin of the
    book's sweep (``subset``) on the same classes and seeds. The two differ in more than the
    data (the horizon, the epoch read, the test set), and the clause says how. ``fig5``:
    its Fig. 5 curve at the paper's data (``curves`` from :func:`collapse_beside`): start,
    peak and end, and the change from the peak per 1,000 optimizer steps and per epoch
    beside the 1,000-image curve of the same classes. A side without runs says so."""
    from ..experiment.stats import format_margin, margin_interval

    name = name or objective
    out = {"table3_full": None, "table3_subset": None, "fig5_speeds": None}
    mine = full[full.objective == objective] if not full.empty else full
    base = full[full.objective == baseline] if not full.empty else full
    m_full = m_sub = None
    if not (mine.empty or base.empty):
        try:
            m_full = margin_interval(mine, base)
        except MscadError:
            m_full = None
    if m_full is None:
        out["table3"] = (f"{name} is not measured yet at the paper's data (stage T of "
                         "experiments/datascale.sh has no run of it beside DN2)")
    else:
        both = mine.merge(base[["normal_class", "seed"]], on=["normal_class", "seed"])  # pairs with DN2
        same = same_runs(subset, both)
        try:
            m_sub = margin_interval(same[same.objective == objective], same[same.objective == baseline])
        except MscadError:
            m_sub = None
        where = f"{_count(m_full['classes'], 'class')} x {_count(m_full['seeds'], 'seed')}"
        out["table3_full"], out["table3_subset"] = m_full, m_sub

        def points(m):  # the count of seeds is said beside it
            return format_margin(m).replace(" (one seed)", "") + " points"

        trained = same[(same.objective == objective)]
        book = (f"{int(trained.epochs.max())} epochs of {int(trained.steps_per_epoch.median())} steps, "
                f"{int(trained.n_test.max()):,} test images, read at the last epoch"
                if not trained.empty else "")
        out["table3"] = (f"{possessive(name)} margin over {baseline.upper()} is {points(m_full)} at the paper's data "
                         f"({where}; {_horizon(mine)})"
                         + (f", against {points(m_sub)} at the book's 1,000 images on the same classes and "
                            f"seeds ({book})" if m_sub is not None else
                            "; the book's sweep has no run on the same classes and seeds"))
    part = None if curves is None or curves.empty else curves[curves.objective == objective]
    if part is None or part.empty:
        out["fig5"] = (f"{name} is not measured yet at the paper's data (stage F of "
                       "experiments/datascale.sh has not finished a class of it)")
        return out
    speeds = collapse_speeds(part).loc[objective]
    if not {SCALE_NAMES["full"], SCALE_NAMES["subset"]} <= set(speeds.index):
        out["fig5"] = (f"{name} is not measured at both scales on a shared class yet (stage F of "
                       "experiments/datascale.sh and results/collapse-cpu)")
        return out
    f, s = speeds.loc[SCALE_NAMES["full"]], speeds.loc[SCALE_NAMES["subset"]]
    out["fig5_speeds"] = speeds

    at_start = f.peak <= f.start  # its best point is where it started
    anchor = "start" if at_start else "peak"
    if f.decline_per_kstep == 0:
        fall = f"it does not fall from its {anchor}"
    else:  # the peak is the curve's maximum, so it can only fall from there
        fall = (f"from its {anchor} it falls {f.decline_per_kstep:.2f} points per 1,000 steps "
                f"({f.decline_per_epoch:.2f} per epoch)")
    peak = ("never rises above its start" if at_start
            else f"peaks at {f.peak:.1f}% (epoch {int(f.peak_epoch)})" if f.peak_epoch < f.last_epoch
            else "rises to its last point")
    named = part.class_names.dropna().iloc[0] if "class_names" in part and part.class_names.notna().any() else ""
    said = [_count(int(f.classes), "class") + (f": {named}" if named else "")]  # a partial state names them
    if "seed" in part:
        said.append(f"seed {int(part.seed.iloc[0])}")
    out["fig5"] = (f"at the paper's data ({('; ' if named else ', ').join(said)}) {name} starts at "
                   f"{f.start:.1f}%, {peak} and ends at {f.end:.1f}% after {int(f.last_epoch)} epochs "
                   f"({int(f.last_epoch * f.steps_per_epoch):,} steps); {fall}, "
                   f"against {s.decline_per_kstep:.2f} per 1,000 steps ({s.decline_per_epoch:.2f} per epoch) "
                   f"at 1,000 images on the same classes, each scale from its own peak")
    if f.shared_steps > 0:  # a curve scored at epoch 0 alone shares no steps
        out["fig5"] += (f". Over the first {int(f.shared_steps):,} steps, which both scales ran, it moves "
                        f"{f.change_in_shared_steps:+.1f} points from its start at the paper's data and "
                        f"{s.change_in_shared_steps:+.1f} at 1,000 images")
    return out


def margins_by_class(full: pd.DataFrame, subset: pd.DataFrame, objectives=("center", "contrastive", "msc"),
                     baseline: str = "dn2") -> pd.DataFrame:
    """Each objective's margin over ``baseline`` class by class (points) at the paper's
    data (``full``: :func:`full_table3`) and at the book's scale (``subset``: the sweep) for
    the same class and seed, in long form: objective, normal_class, seed, full, subset,
    and ``change`` = full - subset (what the data buys the margin)."""
    rows = []
    for objective in objectives:
        sides = {}
        for name, runs in (("full", full), ("subset", subset)):
            if runs.empty:
                break
            mine = runs[runs.objective == objective].set_index(["normal_class", "seed"]).auroc
            base = runs[runs.objective == baseline].set_index(["normal_class", "seed"]).auroc
            sides[name] = (mine - base).dropna()
        if len(sides) < 2:
            continue
        both = pd.concat(sides, axis=1, join="inner").dropna()
        for (cls, seed), r in both.iterrows():
            rows.append(dict(objective=objective, normal_class=cls, seed=int(seed), full=r["full"],
                             subset=r["subset"], change=r["full"] - r["subset"]))
    return pd.DataFrame(rows, columns=["objective", "normal_class", "seed", "full", "subset", "change"])


def margins_by_class_figure(by_class: pd.DataFrame, classes=None, ax=None):
    """:func:`margins_by_class` as dots per class: filled at the paper's data, hollow at the
    book's 1,000 images (same seed), joined by a line, one colour per objective."""
    import matplotlib.pyplot as plt

    from .plots import objective_color

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.6))
    classes = list(classes or dict.fromkeys(by_class.normal_class))
    objectives = list(dict.fromkeys(by_class.objective))
    width = 0.8 / max(1, len(objectives))
    for i, objective in enumerate(objectives):
        part = by_class[by_class.objective == objective].groupby("normal_class")[["full", "subset"]].mean()
        x = np.array([classes.index(c) for c in part.index]) + (i - (len(objectives) - 1) / 2) * width
        color = objective_color(objective)
        ax.vlines(x, part.subset, part.full, color=color, lw=1, alpha=0.6)
        ax.scatter(x, part.subset, facecolors="white", edgecolors=color, s=28, zorder=3,
                   label=f"{objective}, 1,000 images")
        ax.scatter(x, part.full, color=color, s=28, zorder=3, label=f"{objective}, 5,000 images")
    ax.axhline(0, color="0.5", lw=0.8, ls="--")
    ax.set_xticks(range(len(classes)), classes, fontsize=8)
    ax.set_ylabel("margin over DN2 (points)")
    # below the axes: inside them it can cover a class's dots wherever the margins fall
    ax.legend(fontsize=7, frameon=False, ncol=2 * max(1, len(objectives)), loc="upper center",
              bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    return ax


def full_data_evidence(dataset: str = "cifar10", sweep: str = "sweep-cpu", collapse: str = "collapse-cpu"):
    """Everything a chapter needs to read the paper's data scale beside the book's:
    ``(full, subset, curves, note)`` = Table 3 at the paper's data (:func:`full_table3`),
    the book's sweep (``results/<sweep>``, the seeds that have every class), Fig. 5 at both
    scales on the classes they share (:func:`collapse_beside`) and the sentence that says
    which classes those are. Frames are empty where the runs are not committed yet."""
    from ..experiment.collect import complete_seeds, dataset_classes, load_results, results_folder

    try:
        subset = load_results(results_folder(sweep))
        subset = subset[subset.dataset == dataset]
        subset = subset[subset.seed.isin(complete_seeds(subset, classes=dataset_classes(dataset)))]
    except MscadError:
        subset = pd.DataFrame(columns=["objective", "normal_class", "seed", "auroc"])
    curves, note = collapse_beside(subset_folder=collapse, dataset=dataset)
    return full_table3(dataset=dataset), subset, curves, note


# Issue 29's plan for the paper-data runs, in the order they ran (a budget cut falls on the
# last): Table 3 (three seeds), Fig. 5 seed 0, then Lite0 at 224 px and Fig. 5 seed 1.
PLANNED_BUDGET_HOURS = 16
PLANNED_TABLE3 = dict(objectives=("dn2", "center", "contrastive", "msc"), seeds=(0, 1, 2))
PLANNED_FIG5 = dict(objectives=("contrastive", "msc", "center"), seeds=(0, 1))


def grid_extraction_hours(folder: str | Path | None = None) -> float:
    """The DN2 grid's recorded extraction time, in hours, summed over its files (0 without
    the grid): a lower bound, since a resumed extraction records only its last process."""
    from ..experiment.collect import results_folder

    try:
        base = Path(folder) if folder else results_folder(GRID_FOLDER)
    except MscadError:
        return 0.0
    seconds = 0.0
    for path in sorted(base.glob("*.json")):
        seconds += float(json.loads(path.read_text()).get("cost", {}).get("extract_s") or 0)
    return seconds / 3600


def datascale_coverage(dataset: str = "cifar10", folder: str = "datascale") -> tuple[pd.DataFrame, str]:
    """What the paper-data stages ran, and what they did not: per stage (``table3``,
    ``collapse``, ``native224``) the finished runs, their classes and seeds, and the hours on
    their own clocks (``wall_s``: pauses and a shared machine included, so an upper bound
    on the compute). Returns ``(table, sentence)``; the sentence names every planned run
    that has no file, computed from the folders, never typed."""
    from ..experiment.collect import dataset_classes, load_results, results_folder

    every_class = list(dataset_classes(dataset) or ())
    rows = []
    for stage in ("table3", "collapse", "native224"):
        try:
            runs = load_results(results_folder(f"{folder}/{stage}"))
            runs = runs[runs.dataset == dataset]
        except MscadError:  # a stage that never ran has no folder
            runs = pd.DataFrame(columns=["normal_class", "seed", "wall_s", "objective"])
        rows.append(dict(stage=stage, runs=len(runs), classes=runs.normal_class.nunique(),
                         seeds=", ".join(map(str, sorted(set(runs.seed.astype(int))))) or "–",
                         hours=float(pd.to_numeric(runs.wall_s, errors="coerce").sum()) / 3600))
        rows[-1]["frame"] = runs
    table = pd.DataFrame(rows).set_index("stage")
    missing = []
    for stage, name, plan in (("table3", "Table 3", PLANNED_TABLE3), ("collapse", "Fig. 5", PLANNED_FIG5)):
        runs = table.loc[stage, "frame"]
        for seed in plan["seeds"]:
            # a class counts once every planned objective of the stage has it at this seed
            done = set.intersection(*(set(runs.normal_class[(runs.seed == seed) & (runs.objective == o)])
                                      for o in plan["objectives"]))
            if not done:
                missing.append(f"{name}'s seed {seed}")
            elif len(done) < len(every_class):
                left = [c for c in every_class if c not in done]
                missing.append(f"{name}'s seed {seed} on {len(left)} of its {len(every_class)} classes "
                               f"({', '.join(left)})")
    table = table.drop(columns="frame")
    if table.loc["native224", "runs"] == 0:
        missing.append("MSC and DN2 at Lite0's native 224 px (stage N)")
    hours = table.hours.sum()
    said = (f"the paper-data training runs took {hours:.1f} hours on their own clocks (two cores, "
            "pauses and a shared machine included)")
    grid = grid_extraction_hours()
    if grid:
        said += (f", and the DN2 grid's feature extraction at least {grid:.1f} hours more (a resumed "
                 "extraction records only its last process)")
    said += f"; the plan gave about {PLANNED_BUDGET_HOURS} hours to both together"
    if missing:
        said += (". The budget was cut from the end of the plan, so these were not finished: "
                 + "; ".join(missing) + ". Running experiments/datascale.sh F N resumes them and skips "
                 "the finished runs")
    return table, said
