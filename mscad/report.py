"""Result files -> tables: ours per class and objective, beside the paper's numbers."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .config import LEGACY
from .errors import MscadError
from .paper import PER_CLASS_TABLES, paper_value
from .objectives import OBJECTIVES


# The settings that make two results comparable (results that differ in any of them are
# never averaged or compared; epochs are checked separately, since DN2 trains for 0): the
# TrainConfig fields with the "scale" role.
from .config import IMPLIED, SCALE_KEYS  # noqa: E402


def _run_seconds(result: dict):
    """A run's cost in seconds: its wall time, or the sum of its epochs' seconds when that
    is larger (a run resumed from a checkpoint records the wall time of its last part only)."""
    epochs = sum(h.get("seconds") or 0 for h in result.get("history", []))
    wall = result.get("wall_s")
    return max(wall or 0, epochs) or None


def load_results(folder: str | Path) -> pd.DataFrame:
    """One row per RESULT.json under ``folder`` (recursively). A file that is not valid
    JSON is named in a warning and left out; other JSON files (no auroc/config) are not
    results and are skipped."""
    folder = Path(folder)
    if not folder.exists():
        raise MscadError(f"no results folder {folder}; run `python -m mscad sweep --out-dir {folder}` first.")
    rows, unreadable = [], []
    for path in sorted(folder.rglob("*.json")):
        try:
            r = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            unreadable.append(path.name)
            warnings.warn(f"{path} is not valid JSON ({e}) and is left out; delete it or run that "
                          "experiment again.", stacklevel=2)
            continue
        if not isinstance(r, dict) or "auroc" not in r or "config" not in r:
            continue
        try:
            rows.append(_row(r, path))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            unreadable.append(path.name)
            warnings.warn(f"{path} is an incomplete result ({type(e).__name__}: {e}: its config or "
                          "history lacks a setting) and is left out; run that experiment again.",
                          stacklevel=2)
    if not rows:
        extra = f" ({len(unreadable)} unreadable: {', '.join(unreadable[:3])})" if unreadable else ""
        raise MscadError(f"no result files (RESULT.json with auroc and config) under {folder}{extra}.")
    return pd.DataFrame(rows)


def _row(r: dict, path: Path) -> dict:
    """One result file's row of :func:`load_results`."""
    c = dict(r["config"])
    c.update({k: table[c[k]] for k, table in LEGACY.items() if k in c and c[k] in table})
    return dict(dataset=c["dataset"], backbone=c["backbone"], objective=c["objective"],
                profile=c.get("profile"), setting="multi-class" if c.get("anomalous_class") else "one-class",
                normal_class=r.get("target_class") or c.get("normal_class") or c.get("anomalous_class"),
                auroc=100 * r["auroc"], epoch0=100 * r["history"][0]["auroc"],
                best=100 * max(h["auroc"] for h in r["history"] if h["auroc"] is not None),
                evaluated={h["epoch"]: 100 * h["auroc"] for h in r["history"]
                           if h.get("auroc") is not None and "epoch" in h},
                epochs=c["epochs"], image_size=c["image_size"], seed=c.get("seed", 0),
                lr=c.get("lr"), evaluate_on=c.get("evaluate_on", "test"),
                scale=tuple(c[k] if k in c else IMPLIED[k](c) if k in IMPLIED else None
                            for k in SCALE_KEYS)
                      + ("multi-class" if c.get("anomalous_class") else "one-class",),
                wall_s=r.get("wall_s"), run_s=_run_seconds(r), path=str(path))


def _check_no_duplicates(part: pd.DataFrame):
    """Two results for one class, objective and seed at one scale differ in some other
    setting (lr, momentum, ...): refuse rather than average them."""
    dup = part[part.duplicated(["normal_class", "objective", "seed"], keep=False)]
    if len(dup):
        first = dup.iloc[0]
        same = dup[(dup.normal_class == first.normal_class) & (dup.objective == first.objective)]
        raise MscadError(f"{len(same)} results for {first.objective} on {first.normal_class!r} (seed "
                         f"{first.seed}) at the same scale but other settings: {', '.join(same.path)}; "
                         "move all but one into another folder.")


def scale_groups(results: pd.DataFrame) -> list:
    """The results split into groups that may share one table: the same data set, backbone,
    profile, resolution, data limits and so on, and the same number of epochs for every
    objective that trains (DN2, 0 epochs, joins each group of its scale)."""
    groups = []
    for _, sub in results.groupby("scale", sort=False):
        trained, untrained = sub[sub.epochs > 0], sub[sub.epochs == 0]
        for epochs in sorted(trained.epochs.unique()) or [None]:
            part = pd.concat([trained[trained.epochs == epochs], untrained]) if epochs else untrained
            _check_no_duplicates(part)
            groups.append(part)
    return groups


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


def finished_groups(results: pd.DataFrame) -> list:
    """:func:`scale_groups`, each cut down to its finished seeds when it has several (a
    sweep still running shows the seeds that have every class and objective); a group
    with several seeds and none finished keeps them all (its table then averages
    whatever is there, class by class)."""
    groups = []
    for part in scale_groups(results):
        if part.seed.nunique() > 1:
            done = complete_seeds(part)
            if done:
                part = part[part.seed.isin(done)]
        groups.append(part)
    return groups


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


def complete_seeded_classes(results: pd.DataFrame) -> list:
    """Classes with a result for every objective in every seed present."""
    wanted = results.objective.nunique() * results.seed.nunique()
    counts = results.drop_duplicates(["normal_class", "objective", "seed"]).groupby("normal_class").size()
    return _in_paper_order(results.dataset.iloc[0], counts[counts == wanted].index)


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


def ordering_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Each ordering claim of the paper, counted across seeds: in how many of the complete
    classes it holds in every seed, and the mean margin (ROC-AUC points, mean over classes
    per seed) with its 95% interval over seeds."""
    _one_setting(results)
    classes = complete_seeded_classes(results)
    rows = {}
    per_seed = {seed: ordering_checks(part[part.normal_class.isin(classes)])
                for seed, part in results.groupby("seed")}
    for claim in next(iter(per_seed.values())).columns:
        margins = pd.DataFrame({seed: checks[claim] for seed, checks in per_seed.items()})
        mean, low, high = interval(margins.mean())
        rows[claim] = {"classes where it holds in every seed": int((margins > 0).all(axis=1).sum()),
                       "in no seed": int((margins < 0).all(axis=1).sum()), "classes": len(margins),
                       "seeds": margins.shape[1], "mean margin": mean, "95% low": low, "95% high": high}
    return pd.DataFrame(rows).T.astype({"classes where it holds in every seed": int, "in no seed": int,
                                         "classes": int, "seeds": int})


def _in_paper_order(dataset: str, classes) -> list:
    """``classes`` sorted as the paper's per-class table lists them (unknown ones last)."""
    order = list(PER_CLASS_TABLES.get(dataset, {}).get("rows", {}))
    return sorted(classes, key=lambda c: order.index(c) if c in order else len(order))


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


def describe_scale(results: pd.DataFrame) -> str:
    """One line saying at what scale the results were produced."""
    parts = []
    trained = results[results.objective != "dn2"]  # DN2 trains for 0 epochs by definition
    extra = [f"{n} seeds" if (n := results.seed.nunique()) > 1 else f"seed {results.seed.iloc[0]}"]
    if (results.setting == "multi-class").all():
        extra.append("multi-class")
    if (results.evaluate_on == "validation").all():
        extra.append("validation split")
    for (profile, size), _ in results.groupby(["profile", "image_size"]):
        epochs = sorted(trained[(trained.profile == profile) & (trained.image_size == size)].epochs.unique())
        parts.append(f"{profile} profile, {size}px" + (f", {'/'.join(map(str, epochs))} epochs" if epochs else ""))
    return "; ".join(sorted(set(parts)) + extra)


def results_folder(name: str, start: str | Path | None = None) -> Path:
    """Where the committed results ``name`` (e.g. ``sweep-cpu``) live: ``$MSCAD_RESULTS/name``,
    else ``results/name`` in the working directory or one of its parents (a chapter runs in
    ``book/``, the results are in the repository root)."""
    if os.environ.get("MSCAD_RESULTS"):
        candidates = [Path(os.environ["MSCAD_RESULTS"]) / name]
    else:
        here = Path(start or Path.cwd()).resolve()
        candidates = [p / "results" / name for p in (here, *here.parents)]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise MscadError(f"no results folder {name!r} (looked in {candidates[0]} and above); clone the "
                     "repository (its results/ holds the committed runs) and set MSCAD_RESULTS to its "
                     f"results/ folder, or make them: `python -m mscad sweep --out-dir results/{name} ...`.")


# The paper's claims about the order of the objectives (Sec. 5, Table 3, Fig. 5), as
# (name, better objective, worse objective). "msc-angular best" is checked against every
# other objective.
ORDERING_CLAIMS = (("contrastive below DN2", "dn2", "contrastive"),
                   ("MSC above DN2", "msc", "dn2"),
                   ("MSC above center loss", "msc", "center"))


ORDERING_OBJECTIVES = {o for _, a, b in ORDERING_CLAIMS for o in (a, b)} | {"msc-angular"}


def _one_setting(results: pd.DataFrame):
    """Comparisons between objectives only make sense within one data set, backbone and
    scale."""
    for key in ("dataset", "backbone"):
        values = sorted(results[key].unique())
        if len(values) > 1:
            raise MscadError(f"these results mix {len(values)} {key}s ({', '.join(values)}); select "
                             f"one first, e.g. results[results.{key} == {values[0]!r}].")
    groups = scale_groups(results)
    if len(groups) > 1:
        raise MscadError(f"these results mix {len(groups)} scales ("
                         f"{'; '.join(describe_scale(g) for g in groups)}); select one first.")


def complete_classes(results: pd.DataFrame) -> list:
    """The classes that have a result for every objective present, in the paper's order."""
    _one_setting(results)
    table = results.pivot_table(index="normal_class", columns="objective", values="auroc").dropna()
    return _in_paper_order(results.dataset.iloc[0], table.index)


def ordering_checks(results: pd.DataFrame) -> pd.DataFrame:
    """Per class, the margin (ROC-AUC points) by which each claimed ordering holds:
    positive = the paper's ordering holds, negative = it is reversed by that much.
    Only classes with every objective the claims need are included."""
    _one_setting(results)
    table = results.pivot_table(index="normal_class", columns="objective", values="auroc", aggfunc="mean")
    needed = ORDERING_OBJECTIVES
    missing = needed - set(table.columns)
    if missing:
        raise MscadError(f"the ordering checks need results for {', '.join(sorted(missing))}; "
                         "run the sweep with those objectives.")
    table = table.dropna(subset=sorted(needed))
    checks = pd.DataFrame(index=table.index)
    for name, better, worse in ORDERING_CLAIMS:
        checks[name] = table[better] - table[worse]
    others = [o for o in table.columns if o != "msc-angular"]
    checks["MSC + angular best"] = table["msc-angular"] - table[others].max(axis=1)
    return checks.loc[_in_paper_order(results.dataset.iloc[0], checks.index)]


def objective_means(results: pd.DataFrame) -> pd.Series:
    """Mean final ROC-AUC % per objective over the classes that have every objective."""
    table = results.pivot_table(index="normal_class", columns="objective", values="auroc")
    table = table.loc[complete_classes(results)]
    return table[[o for o in OBJECTIVES if o in table.columns]].mean()


def lr_selection(results: pd.DataFrame) -> pd.DataFrame:
    """The validation protocol's choice of learning rate and training length: per
    objective, lr and number of epochs (each evaluated epoch after 0 of a run stands for a
    run of that length: an epoch's batches and augmentations are seeded by the epoch alone,
    and SGD's rate is constant), the mean validation ROC-AUC % over the classes that have
    every (lr, epochs) pair of that objective, and ``chosen`` marking the best pair of each
    objective. Epoch 0 (DN2, no training) is not a candidate. Results measured on test images are refused:
    settings are never chosen on them."""
    if results.empty:
        raise MscadError("no selection results to choose from.")
    on_test = results[results.evaluate_on != "validation"]
    if len(on_test):
        raise MscadError(f"{len(on_test)} of these results were measured on test images (e.g. "
                         f"{on_test.path.iloc[0]}); choose settings on --evaluate-on validation runs only.")
    rows = []
    for objective, part in results[results.objective != "dn2"].groupby("objective"):
        if part.scale.nunique() > 1 or part.duplicated(["normal_class", "lr", "seed"]).any():
            raise MscadError(f"the selection results of {objective} mix scales or hold two runs "
                             "of one class, lr and seed; keep one setting per lr.")
        long = pd.DataFrame([dict(normal_class=r.normal_class, lr=r.lr, epochs=e, auroc=a)
                             for r in part.itertuples() for e, a in r.evaluated.items() if e > 0])
        table = long.pivot_table(index="normal_class", columns=["lr", "epochs"],
                                 values="auroc").dropna()
        if table.empty:
            raise MscadError(f"no class has a validation result for every lr of {objective}.")
        means = table.mean()
        for (lr, epochs), value in means.items():
            rows.append(dict(objective=objective, lr=lr, epochs=int(epochs),
                             validation_auroc=value, classes=len(table),
                             chosen=bool((lr, epochs) == means.idxmax())))
    return pd.DataFrame(rows).set_index(["objective", "lr", "epochs"])


def ordering_text(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`ordering_summary` as readable cells: "7 of 10" classes, "+1.9 [+0.8, +3.0]"."""
    def margin(r):
        if pd.isna(r["95% low"]):
            return f"{r['mean margin']:+.1f} (one seed: no interval)"
        return format_margin(dict(mean=r["mean margin"], low=r["95% low"], high=r["95% high"]))

    n = int(summary.seeds.iloc[0])
    return pd.DataFrame({
        "holds in every seed": [f"{int(r['classes where it holds in every seed'])} of {int(r['classes'])} classes"
                                for _, r in summary.iterrows()],
        "reversed in every seed": [f"{int(r['in no seed'])} of {int(r['classes'])}" for _, r in summary.iterrows()],
        f"mean margin, points [95% interval over {n} seed{'s' if n != 1 else ''}]":
            [margin(r) for _, r in summary.iterrows()],
    }, index=summary.index).rename_axis("the paper's claim")


def showcase_class(dn2_validation: pd.DataFrame) -> str:
    """The normal class every single-class deep dive of the book shows, by a rule: the
    class with the median DN2 ROC-AUC on the *validation* split (with an even number of
    classes, the lower of the two middle ones), so the demonstrations are neither the
    easiest class nor the hardest, and no test image takes part in the choice. Said
    truthfully: the rule was committed (675bba4) after the first one-seed sweep on test
    images existed (5b6ef27), in which the class it picks (horse) already had the largest
    MSC - center margin; the rule uses validation data only, but it was not written blind
    to those results (book/methods.md)."""
    df = dn2_validation[dn2_validation.objective == "dn2"]
    if df.empty:
        raise MscadError("the showcase rule needs DN2 results on the validation split.")
    if (df.evaluate_on != "validation").any():
        raise MscadError("the showcase class is chosen on validation results only, never on test images.")
    by_class = df.groupby("normal_class").auroc.mean().sort_values(kind="stable")
    return str(by_class.index[(len(by_class) - 1) // 2])


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


def complete_seeds(results: pd.DataFrame, objectives=None, classes=None) -> list:
    """The seeds in which every class has a result for every objective (all the results'
    objectives, or ``objectives``): a sweep still running shows only finished seeds. The
    classes are those present in any seed, plus ``classes`` (e.g. the data set's whole
    class list), so that a seed begun on a few classes is not taken for a finished one."""
    if results.empty:
        return []
    _one_setting(results)
    objectives = list(objectives or results.objective.unique())
    wanted_classes = set(results.normal_class.unique()) | set(classes or ())
    wanted = len(wanted_classes) * len(objectives)
    done = []
    for seed, part in results[results.objective.isin(objectives)].groupby("seed"):
        if len(part.groupby(["normal_class", "objective"])) == wanted:
            done.append(seed)
    return sorted(done)


def _without(results: pd.DataFrame, keys) -> pd.DataFrame:
    """``results`` with the settings ``keys`` (names in SCALE_KEYS) blanked in their scale."""
    blank = {SCALE_KEYS.index(k) for k in keys}
    out = results.copy()
    out["scale"] = [tuple(None if i in blank else v for i, v in enumerate(s)) for s in out.scale]
    return out


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


def verdict(m: dict) -> str:
    """'holds' when the whole 95% interval of a claimed positive margin is above 0,
    'reversed' when it is below 0, else 'unresolved' (one seed: no interval, unresolved)."""
    if np.isnan(m["low"]):
        return "unresolved (one seed)"
    if m["low"] > 0:
        return "holds"
    if m["high"] < 0:
        return "reversed"
    return "unresolved"


def format_margin(m: dict) -> str:
    """A margin as "+1.2 [+0.3, +2.1]", or "+1.2 (one seed)" without an interval. A bound
    that would round to 0.0 gets two decimals ("[+0.05, +0.3]"), so an interval that
    excludes 0 never reads as if it touched it."""
    if np.isnan(m["low"]):
        return f"{m['mean']:+.1f} (one seed)"
    bound = lambda x: f"{x:+.2f}" if x != 0 and round(x, 1) == 0 else f"{x:+.1f}"  # noqa: E731
    return f"{m['mean']:+.1f} [{bound(m['low'])}, {bound(m['high'])}]"


def claim_row(claim: str, paper: str, m: dict) -> dict:
    """One row of a "what reproduces" table."""
    return {"the paper's claim": claim, "paper": paper,
            "ours: margin, points [95% interval]": format_margin(m),
            "classes x seeds": f"{m['classes']} x {m['seeds']}", "verdict": verdict(m)}


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


def finished_seeds_of(name: str, objectives, classes=None) -> tuple[pd.DataFrame, str]:
    """The committed results ``name`` (e.g. ``sweep-cpu``) restricted to ``objectives`` and
    to the seeds that are finished for every class (those present, plus ``classes``), and
    one line saying what that is. A sweep still running (or not started: no folder yet)
    gives an empty frame and says so, so a chapter can show its table when the evidence
    exists and a plain sentence before."""
    objectives = list(objectives)
    try:
        results = load_results(results_folder(name))
    except MscadError:
        return pd.DataFrame(), f"results/{name} is not committed yet: no finished seed to show."
    results = results[results.objective.isin(objectives)]
    seeds = complete_seeds(results, objectives, classes) if len(results) else []
    if not seeds:
        return results.iloc[:0], f"results/{name} has no finished seed of {', '.join(objectives)} yet."
    done = results[results.seed.isin(seeds)]
    return done, f"results/{name}: {describe_scale(done)}"


def dataset_classes(dataset: str) -> list | None:
    """The whole class list of a registered data set whose classes are fixed (CIFAR-10,
    CIFAR-100 superclasses), without reading any image; None for the others."""
    from .data import CIFAR10_CLASSES, CIFAR100_SUPERCLASSES

    return {"cifar10": list(CIFAR10_CLASSES),
            "cifar100-coarse": list(CIFAR100_SUPERCLASSES)}.get(dataset)


def lr_choices(selection: pd.DataFrame) -> pd.DataFrame:
    """Per objective, the validation protocol's choice: the lr grid and the training
    lengths it searched, the chosen lr and epochs, the mean validation ROC-AUC % there, and
    where the lr sits in its grid ("inside", "smallest" or "largest": at an edge, a rate
    beyond the grid might have done better)."""
    table = lr_selection(selection).reset_index()
    rows = {}
    for objective, part in table.groupby("objective"):
        grid = sorted(part.lr.unique())
        best = part[part.chosen].iloc[0]
        edge = ("smallest" if best.lr == grid[0] else "largest" if best.lr == grid[-1]
                else "inside")
        rows[objective] = {"lr grid": ", ".join(f"{lr:.0e}" for lr in grid),
                           "epochs tried": ", ".join(map(str, sorted(part.epochs.unique()))),
                           "chosen lr": f"{best.lr:.0e}", "chosen epochs": int(best.epochs),
                           "validation ROC-AUC (%)": float(best.validation_auroc),
                           "classes": int(best.classes), "lr in the grid": edge}
    order = [o for o in OBJECTIVES if o in rows]
    table = pd.DataFrame(rows).T.loc[order].rename_axis("objective")
    return table.astype({"chosen epochs": int, "validation ROC-AUC (%)": float, "classes": int})
