"""Result files -> tables: ours per class and objective, beside the paper's numbers."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pandas as pd

from .errors import MscadError
from .paper import PER_CLASS_TABLES, paper_value
from .objectives import OBJECTIVES


# The settings that make two results comparable: results that differ in any of them are
# never averaged or compared (epochs are checked separately, since DN2 trains for 0).
SCALE_KEYS = ("dataset", "backbone", "pretrained", "profile", "image_size", "batch_size",
              "train_limit", "test_limit", "weight_decay", "temperature", "k", "early_stop_epoch")


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
        c = r["config"]
        rows.append(dict(dataset=c["dataset"], backbone=c["backbone"], objective=c["objective"],
                         profile=c.get("profile"), setting="multi-class" if c.get("anomalous_class") else "one-class",
                         normal_class=r.get("target_class") or c.get("normal_class") or c.get("anomalous_class"),
                         auroc=100 * r["auroc"], epoch0=100 * r["history"][0]["auroc"],
                         best=100 * max(h["auroc"] for h in r["history"] if h["auroc"] is not None),
                         epochs=c["epochs"], image_size=c["image_size"], seed=c.get("seed", 0),
                         lr=c.get("lr"), scale=tuple(c.get(k) for k in SCALE_KEYS),
                         wall_s=r.get("wall_s"), path=str(path)))
    if not rows:
        extra = f" ({len(unreadable)} unreadable: {', '.join(unreadable[:3])})" if unreadable else ""
        raise MscadError(f"no result files (RESULT.json with auroc and config) under {folder}{extra}.")
    return pd.DataFrame(rows)


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
    """[(title, per-class table)] for every data set and scale in ``results``."""
    tables = []
    for part in scale_groups(results):
        ds, backbone = part.dataset.iloc[0], part.backbone.iloc[0]
        tables.append((f"{ds}, {backbone} ({describe_scale(part)})", per_class_table(part, ds)))
    return tables


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
    if ds in PER_CLASS_TABLES:
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
    for (profile, size), _ in results.groupby(["profile", "image_size"]):
        epochs = sorted(trained[(trained.profile == profile) & (trained.image_size == size)].epochs.unique())
        parts.append(f"{profile} profile, {size}px" + (f", {'/'.join(map(str, epochs))} epochs" if epochs else ""))
    return "; ".join(sorted(set(parts)))


def results_folder(name: str, start: str | Path | None = None) -> Path:
    """Where the committed results ``name`` (e.g. ``cifar10-cpu``) live: ``$MSCAD_RESULTS/name``,
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
    needed = {o for _, a, b in ORDERING_CLAIMS for o in (a, b)} | {"msc-angular"}
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
