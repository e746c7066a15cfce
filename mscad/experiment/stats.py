"""Statistics over seeds: per-class means and standard deviations, the mean over classes
with a Student-t interval over seeds, and paired margins between two sides."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MscadError
from ..objectives import OBJECTIVES
from ..config import SCALE_KEYS
from .paper import PER_CLASS_TABLES, paper_value
from .collect import (_in_paper_order, _one_setting, _without, complete_classes, complete_seeded_classes,
                      complete_seeds, describe_scale, finished_groups)


def interval(values, level: float = 0.95) -> tuple:
    """(mean, low, high): Student's t interval of the mean of ``values`` (one per seed);
    low = high = NaN with fewer than two values."""
    from scipy import stats

    values = pd.Series(values, dtype=float).dropna()
    mean = float(values.mean()) if len(values) else float("nan")
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5
    return mean, mean - half, mean + half


def seed_means(results: pd.DataFrame) -> pd.DataFrame:
    """Seeds x objectives: each seed's mean ROC-AUC % over the classes complete in every
    seed (the quantity whose spread the intervals describe)."""
    _one_setting(results)
    classes = complete_seeded_classes(results)
    if not classes:
        raise MscadError("no class has every objective in every seed; finish the sweep first.")
    part = results[results.normal_class.isin(classes)]
    table = part.pivot_table(index="seed", columns="objective", values="auroc", aggfunc="mean")
    return table[[o for o in OBJECTIVES if o in table.columns]]


def seed_table(results: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """Classes x objectives as "mean ± sd over seeds" (ROC-AUC %), the paper's columns, and a
    last row: the mean over the complete classes with its 95% interval over seeds."""
    df = results if dataset is None else results[results.dataset == dataset]
    stats = df.groupby(["normal_class", "objective"]).auroc.agg(["mean", "std", "count"])
    objectives = [o for o in OBJECTIVES if o in set(df.objective)]
    classes = _in_paper_order(df.dataset.iloc[0], df.normal_class.unique())
    cell = lambda r: f"{r['mean']:.1f} ± {r['std']:.1f}" if r["count"] > 1 else f"{r['mean']:.1f}"  # noqa: E731
    table = pd.DataFrame({f"{o} (ours)": [cell(stats.loc[(c, o)]) if (c, o) in stats.index else "–"
                                          for c in classes] for o in objectives}, index=classes)
    ds = df.dataset.iloc[0]
    if ds in PER_CLASS_TABLES and (df.setting == "one-class").all():
        for objective, label in (("center", "PANDA (paper)"), ("msc", "MSC (paper)")):
            table[label] = [f"{paper_value(ds, c, objective):.1f}" if paper_value(ds, c, objective)
                            is not None else "–" for c in classes]
    per_seed = seed_means(df)
    n = len(complete_seeded_classes(df))
    row = {}
    for o in objectives:
        mean, low, high = interval(per_seed[o])
        row[f"{o} (ours)"] = (f"{mean:.1f} (one seed)" if np.isnan(low)
                              else f"{mean:.1f} [{low:.1f}, {high:.1f}]")
    for label in ("PANDA (paper)", "MSC (paper)"):
        if label in table:
            row[label] = f"{pd.to_numeric(table[label], errors='coerce').mean():.1f}"
    label = "mean [95% interval]" + (f" ({n} complete classes)" if n < len(classes) else "")
    table.loc[label] = row
    table.index.name = "normal_class"
    return table


def per_class_table(results: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    """Classes x objectives (ours, final ROC-AUC %) plus the paper's PANDA and MSC columns."""
    df = results if dataset is None else results[results.dataset == dataset]
    if df.empty:
        raise MscadError(f"no results for data set {dataset!r}.")
    table = df.pivot_table(index="normal_class", columns="objective", values="auroc", aggfunc="mean")
    table = table[[o for o in OBJECTIVES if o in table.columns]]
    table.columns = [f"{c} (ours)" for c in table.columns]
    ds = df.dataset.iloc[0]
    if ds in PER_CLASS_TABLES and (df.setting == "one-class").all():
        for objective, label in (("center", "PANDA (paper)"), ("msc", "MSC (paper)")):
            table[label] = [paper_value(ds, cls, objective) for cls in table.index]
        table = table.loc[_in_paper_order(ds, table.index)]
    # Average only over classes that have every column, so a partial sweep's mean compares
    # like with like.
    complete = table.dropna()
    table.loc[f"mean ({len(complete)} complete classes)" if len(complete) < len(table) else "mean"] = \
        complete.mean(numeric_only=True)
    return table.round(1)


def objective_means(results: pd.DataFrame) -> pd.Series:
    """Mean final ROC-AUC % per objective over the classes that have every objective."""
    table = results.pivot_table(index="normal_class", columns="objective", values="auroc")
    table = table.loc[complete_classes(results)]
    return table[[o for o in OBJECTIVES if o in table.columns]].mean()


def objective_intervals(results: pd.DataFrame) -> pd.DataFrame:
    """Per objective: the mean ROC-AUC % over the classes complete in every seed, its 95%
    interval over seeds, and the counts behind it (the rows of Tables 2, 3 and 5)."""
    per_seed = seed_means(results)
    n_classes = len(complete_seeded_classes(results))
    rows = {}
    for objective in per_seed.columns:
        mean, low, high = interval(per_seed[objective])
        rows[objective] = {"mean": mean, "95% low": low, "95% high": high,
                           "seeds": int(per_seed[objective].notna().sum()), "classes": n_classes}
    return pd.DataFrame(rows).T.astype({"seeds": int, "classes": int})


def margin_interval(better: pd.DataFrame, worse: pd.DataFrame, across=()) -> dict:
    """Mean over classes of ``better`` - ``worse`` (ROC-AUC points) per seed, for the
    classes and seeds both have, and its 95% interval over seeds: {"mean", "low", "high",
    "seeds", "classes", "per_seed"}. The two sides must share one setting, except the
    settings named in ``across`` (e.g. ``("temperature",)`` to pair MSC at two
    temperatures class by class and seed by seed)."""
    for key in across:
        if key not in SCALE_KEYS:
            raise MscadError(f"{key!r} is not a setting that separates results; "
                             f"use one of {', '.join(SCALE_KEYS)}.")
    if across:
        for side in (better, worse):
            _one_setting(side)
        scales = set(_without(better, across).scale) | set(_without(worse, across).scale)
        # the training length and each objective's lr are not in the scale: check them too
        training = {(o, e, lr) for side in (better, worse)
                    for o, e, lr in zip(side.objective, side.epochs, side.lr) if e > 0}
        if len(scales) > 1 or len(training) > len({o for o, _, _ in training}):
            raise MscadError(f"the two sides differ in more than {', '.join(across)}; "
                             "select results of one setting first.")
    else:
        _one_setting(pd.concat([better, worse]))
    a = better.pivot_table(index="seed", columns="normal_class", values="auroc")
    b = worse.pivot_table(index="seed", columns="normal_class", values="auroc")
    diff = (a - b).dropna(how="all").dropna(axis=1)
    if diff.empty:
        raise MscadError("no class and seed have results on both sides of the comparison.")
    per_seed = diff.mean(axis=1)
    mean, low, high = interval(per_seed)
    return dict(mean=mean, low=low, high=high, seeds=len(per_seed), classes=diff.shape[1],
                per_seed=per_seed)


def format_margin(m: dict) -> str:
    """A margin as "+1.2 [+0.3, +2.1]", or "+1.2 (one seed)" without an interval. A bound
    that would round to 0.0 gets two decimals ("[+0.05, +0.3]"), so an interval that
    excludes 0 never reads as if it touched it."""
    def signed(x, digits=1):  # rounded first, so -0.04 reads +0.0, never -0.0
        return f"{round(x, digits) + 0.0:+.{digits}f}"

    if np.isnan(m["low"]):
        return f"{signed(m['mean'])} (one seed)"
    bound = lambda x: signed(x, 2) if x != 0 and round(x, 1) == 0 else signed(x)  # noqa: E731
    return f"{signed(m['mean'])} [{bound(m['low'])}, {bound(m['high'])}]"


def sweep_beside(results: pd.DataFrame, objectives, dataset: str = "cifar10") -> pd.DataFrame:
    """The sweep's ten classes for a few objectives, as a chapter shows them beside its
    single-class deep dive: "mean ± sd over seeds" per class and the mean over classes
    with its 95% interval (``seed_table`` restricted to ``objectives``)."""
    part = results[(results.dataset == dataset) & results.objective.isin(objectives)]
    part = part[part.seed.isin(complete_seeds(part, objectives))]
    if part.empty:
        raise MscadError(f"no seed of the sweep has {', '.join(objectives)} for every class yet.")
    table = seed_table(part, dataset)
    return table[[c for c in table.columns if c.endswith("(ours)")]]


def scale_tables(results: pd.DataFrame) -> list:
    """[(title, per-class table)] for every data set and scale in ``results``; with several
    seeds the cells read "mean ± sd" and the mean row "mean [95% interval]"."""
    tables = []
    for part in finished_groups(results):
        ds, backbone = part.dataset.iloc[0], part.backbone.iloc[0]
        several = part.seed.nunique() > 1 and complete_seeds(part)
        table = seed_table(part, ds) if several else per_class_table(part, ds)
        tables.append((f"{ds}, {backbone} ({describe_scale(part)})", table))
    return tables


def class_values(results: pd.DataFrame, objective: str, baseline: str | None = None) -> pd.Series:
    """Per class: ``objective``'s final ROC-AUC % averaged over seeds or, with ``baseline``,
    its margin over ``baseline`` paired seed by seed (points), averaged over the seeds both
    have. What a chapter's showcase class is ranked on among the ten."""
    mine = results[results.objective == objective].pivot_table(index="seed", columns="normal_class",
                                                               values="auroc")
    if mine.empty:
        raise MscadError(f"no results for objective {objective!r}.")
    if baseline is not None:
        other = results[results.objective == baseline].pivot_table(index="seed", columns="normal_class",
                                                                   values="auroc")
        if other.empty:
            raise MscadError(f"no results for the baseline {baseline!r}, so no margin over it.")
        mine = (mine - other).dropna(how="all").dropna(axis=1, how="all")
        if mine.empty:
            raise MscadError(f"no class and seed have both {objective!r} and {baseline!r}.")
    return mine.mean(axis=0).dropna().rename(objective if baseline is None else f"{objective} - {baseline}")


def class_rank(values: pd.Series, normal_class: str) -> tuple[int, int]:
    """(rank, classes): 1 is the highest value among the classes."""
    if normal_class not in values.index:
        raise MscadError(f"{normal_class!r} is not among the classes ranked ({', '.join(values.index)}).")
    return int((values > values[normal_class]).sum()) + 1, len(values)
