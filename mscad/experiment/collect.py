"""Collecting results: reading every RESULT.json under a folder into one table, finding
the committed results folders, and the comparability rules (one data set, backbone and
scale per comparison; which seeds and classes are complete)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from ..config import IMPLIED, LEGACY, SCALE_KEYS
from ..errors import MscadError
from ..provenance import made_by
from .paper import PER_CLASS_TABLES


def _run_seconds(result: dict):
    """A run's cost in seconds: its wall time, or the sum of its epochs' seconds when that
    is larger (a run resumed from a checkpoint records the wall time of its last part only)."""
    epochs = sum(h.get("seconds") or 0 for h in result.get("history", []))
    wall = result.get("wall_s")
    return max(wall or 0, epochs) or None


def load_results(folder: str | Path) -> pd.DataFrame:
    """One row per result file under ``folder`` (recursively), each read through the
    result type (:class:`mscad.results.RunResult`: one migration path for every schema
    version). What is not a usable result is left out *and named* in a warning: a file
    that is not valid JSON or holds a non-finite number, a result of a newer schema, a
    folder named like a result; other JSON files (no auroc/config/history) are not
    results and are skipped."""
    from ..results import CorruptResultError, RunResult, is_result, strict_json

    folder = Path(folder)
    if not folder.exists():
        raise MscadError(f"no results folder {folder}; run `python -m mscad sweep --out-dir {folder}` first.")
    rows, unreadable = [], []

    def left_out(path, why):
        unreadable.append(path.name)
        warnings.warn(f"{path} {why} and is left out; delete it or run that experiment again.",
                      stacklevel=3)

    for path in sorted(folder.rglob("*.json")):
        if not path.is_file():
            left_out(path, "is not a file (a folder named like a result)")
            continue
        try:
            raw = strict_json(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            left_out(path, f"is not valid JSON ({e})")
            continue
        except OSError as e:
            left_out(path, f"cannot be read ({e.strerror or e})")
            continue
        if not is_result(raw):
            continue
        try:
            rows.append(_row(RunResult.from_dict(raw), path))
        except CorruptResultError as e:
            left_out(path, f"is not a result this mscad can read ({e})")
        except (KeyError, TypeError, ValueError, IndexError) as e:
            left_out(path, f"is an incomplete result ({type(e).__name__}: {e}: its config or history "
                     "lacks a setting)")
    if not rows:
        extra = f" ({len(unreadable)} unreadable: {', '.join(unreadable[:3])})" if unreadable else ""
        raise MscadError(f"no result files (RESULT.json with auroc and config) under {folder}{extra}.")
    return pd.DataFrame(rows)


def _row(r, path: Path) -> dict:
    """One result's row of :func:`load_results` (``r``: a :class:`mscad.results.RunResult`)."""
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
                lr=c.get("lr"), momentum=c.get("momentum"), weight_decay=c.get("weight_decay"),
                evaluate_on=c.get("evaluate_on", "test"),
                scale=tuple(c[k] if k in c else IMPLIED[k](c) if k in IMPLIED else None
                            for k in SCALE_KEYS)
                      + ("multi-class" if c.get("anomalous_class") else "one-class",),
                steps_per_epoch=_steps_per_epoch(r, c), batch_size=c.get("batch_size"),
                n_test=(r.get("data") or {}).get("n_test"),
                wall_s=r.get("wall_s"), run_s=_run_seconds(r), code=made_by(r.code), path=str(path))


def _steps_per_epoch(r: dict, c: dict) -> int | None:
    """Optimizer steps per epoch: the loop drops the ragged last batch (mscad.train)."""
    n_train = (r.get("data") or {}).get("n_train") or c.get("train_limit")
    batch = c.get("batch_size")
    if not n_train or not batch:
        return None
    return max(1, int(n_train) // int(batch))


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
        # name only the objectives that hold the seeds back
        every = sorted(set(results.normal_class) | set(classes or ()))  # any objective's
        behind = [o for o in objectives
                  if not complete_seeds(results[results.objective == o], [o], every)] or objectives
        return results.iloc[:0], f"results/{name} has no finished seed of {', '.join(behind)} yet"
    done = results[results.seed.isin(seeds)]
    return done, f"results/{name}: {describe_scale(done)}"


def dataset_classes(dataset: str) -> list | None:
    """The whole class list of a registered data set whose classes are fixed (CIFAR-10,
    CIFAR-100 superclasses), without reading any image; None for the others."""
    from ..data import CIFAR10_CLASSES, CIFAR100_SUPERCLASSES

    return {"cifar10": list(CIFAR10_CLASSES),
            "cifar100-coarse": list(CIFAR100_SUPERCLASSES)}.get(dataset)


def _in_paper_order(dataset: str, classes) -> list:
    """``classes`` sorted as the paper's per-class table lists them (unknown ones last)."""
    order = list(PER_CLASS_TABLES.get(dataset, {}).get("rows", {}))
    return sorted(classes, key=lambda c: order.index(c) if c in order else len(order))


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


def complete_seeded_classes(results: pd.DataFrame) -> list:
    """Classes with a result for every objective in every seed present."""
    wanted = results.objective.nunique() * results.seed.nunique()
    counts = results.drop_duplicates(["normal_class", "objective", "seed"]).groupby("normal_class").size()
    return _in_paper_order(results.dataset.iloc[0], counts[counts == wanted].index)


def complete_classes(results: pd.DataFrame) -> list:
    """The classes that have a result for every objective present, in the paper's order."""
    _one_setting(results)
    table = results.pivot_table(index="normal_class", columns="objective", values="auroc").dropna()
    return _in_paper_order(results.dataset.iloc[0], table.index)


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
