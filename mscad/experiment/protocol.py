"""The validation protocol: each objective's learning rate and training length chosen on
the validation split, and the showcase-class rule (median validation DN2)."""
from __future__ import annotations

import pandas as pd

from ..errors import MscadError
from ..objectives import OBJECTIVES


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


def epoch_on_validation(history: list, horizon: int | None = None) -> dict:
    """The epoch a run's own validation curve picks (runs with ``--validation-images``):
    the best ``val_auroc`` over the evaluated epochs 1..``horizon`` (all by default; epoch
    0, DN2, is not a candidate, as in :func:`lr_selection`), the earliest on a tie.
    Returns the epoch, its validation ROC-AUC and the test ROC-AUC at that epoch: the
    number a table reports, chosen without reading a test image."""
    candidates = [h for h in history if h.get("epoch", 0) >= 1 and h.get("val_auroc") is not None
                  and (horizon is None or h["epoch"] <= horizon)]
    if not candidates:
        raise MscadError("this run has no validation curve (val_auroc) after epoch 0"
                         + (f" up to epoch {horizon}" if horizon else "")
                         + "; run it with --validation-images N.")
    best = max(candidates, key=lambda h: (h["val_auroc"], -h["epoch"]))
    return dict(epoch=int(best["epoch"]), val_auroc=best["val_auroc"], auroc=best.get("auroc"))
