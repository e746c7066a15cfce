"""The paper's orderings of the objectives checked class by class (the per-class view
behind ``mscad table`` and the benchmarks chapter's heatmap). The verdicts with size are
in :mod:`mscad.claims`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MscadError
from .collect import _in_paper_order, _one_setting, complete_seeded_classes
from .stats import format_margin, interval


# The paper's claims about the order of the objectives (Sec. 5, Table 3, Fig. 5), as
# (name, better objective, worse objective). "msc-angular best" is checked against every
# other objective.
ORDERING_CLAIMS = (("contrastive below DN2", "dn2", "contrastive"),
                   ("MSC above DN2", "msc", "dn2"),
                   ("MSC above center loss", "msc", "center"))


ORDERING_OBJECTIVES = {o for _, a, b in ORDERING_CLAIMS for o in (a, b)} | {"msc-angular"}


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


def claim_row(claim: str, paper: str, m: dict) -> dict:
    """One row of a "what reproduces" table."""
    return {"the paper's claim": claim, "paper": paper,
            "ours: margin, points [95% interval]": format_margin(m),
            "classes x seeds": f"{m['classes']} x {m['seeds']}", "verdict": verdict(m)}
