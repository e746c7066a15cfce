"""The paper's claims, one list, each tested on the committed evidence with a verdict that
states size as well as sign.

A claim says one objective ends above another ("MSC above DN2"). Ours is the margin in
ROC-AUC points: the mean over classes per seed, and its Student-t 95% interval over
seeds (:func:`mscad.report.margin_interval`). The paper's margin is read from
:mod:`mscad.paper`; nothing is typed here. Verdicts:

- **holds**: the interval excludes 0 in the paper's direction and contains or exceeds
  the paper's margin;
- **holds, smaller than the paper**: it excludes 0 and lies below the paper's margin;
- **not reproduced**: it excludes 0 the other way, or it excludes the paper's margin
  while not establishing the paper's sign;
- **unresolved**: it contains both 0 and the paper's margin;
- a claim with no number in the paper (Fig. 5's shape, the few-shot rows, whose table
  has no DN2) is judged on its sign alone, and says so; one seed gives no interval and
  no verdict.

Sizes are compared in points although the baselines differ (DN2 here is EfficientNet-
Lite0 at 64 px; the paper's is ResNet152 at 224 px): each row shows both baselines.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paper
from .errors import MscadError
from .collect import finished_seeds_of
from .stats import format_margin, interval

EPOCH0 = "dn2@epoch0"  # the pretrained model's ROC-AUC: epoch 0 of each run (DN2)


@dataclass(frozen=True)
class Claim:
    """One claim: ``better`` ends above ``worse`` on the results in ``folder``.

    ``paper_scores``: the paper's (better, worse) ROC-AUC %, or None when it gives no
    number. ``better``/``worse`` are objectives, or :data:`EPOCH0` for the epoch-0 score
    of the other side's runs (a collapse curve: where the run started)."""

    key: str
    text: str
    source: str
    folder: str
    better: str
    worse: str
    paper_scores: tuple | None = None
    paper_says: str = ""

    @property
    def paper_margin(self) -> float | None:
        return None if self.paper_scores is None else self.paper_scores[0] - self.paper_scores[1]

    @property
    def paper_text(self) -> str:
        if self.paper_scores is None:
            return self.paper_says
        return f"{self.paper_scores[0]:.1f} vs {self.paper_scores[1]:.1f}: {self.paper_margin:+.1f}"

    @property
    def objectives(self) -> list:
        return [o for o in (self.better, self.worse) if o != EPOCH0]


T3, T5, T2 = paper.TABLE3, paper.TABLE5, paper.TABLE2
CLAIMS = (
    Claim("msc>dn2", "MSC above DN2", "Table 3", "sweep-cpu", "msc", "dn2", (T3["msc"], T3["dn2"])),
    Claim("msc>center", "MSC above the center loss", "Tables 3, 7", "sweep-cpu", "msc", "center",
          (T3["msc"], T3["center"])),
    Claim("msc-angular>msc", "MSC + angular above MSC", "Table 3", "sweep-cpu", "msc-angular", "msc",
          (T3["msc-angular"], T3["msc"])),
    Claim("center>dn2", "center loss above DN2", "Table 3", "sweep-cpu", "center", "dn2",
          (T3["center"], T3["dn2"])),
    Claim("angular-center>center", "angular center above center", "Table 3", "sweep-cpu",
          "angular-center", "center", (T3["angular-center"], T3["center"])),
    Claim("dn2>contrastive", "DN2 above contrastive (each at its validation-chosen lr)", "Fig. 5",
          "sweep-cpu", "dn2", "contrastive", None, "contrastive collapses fast"),
    Claim("collapse:contrastive", "contrastive under MSC's optimizer ends below where it started",
          "Fig. 5", "collapse-cpu", EPOCH0, "contrastive", None, "a very fast collapse"),
    Claim("collapse:center", "center loss (PANDA's momentum, its chosen rate) ends below where it "
          "started", "Fig. 5",
          "collapse-cpu", EPOCH0, "center", None, "improves, then degrades"),
    Claim("collapse:msc", "MSC still above where it started after the last epoch (ours: the paper "
          "says it collapses too, much more slowly)", "Fig. 5", "collapse-cpu", "msc", EPOCH0,
          None, "collapses much more slowly"),
    Claim("collapse:msc>center", "MSC above the center loss after the last epoch", "Fig. 5",
          "collapse-cpu", "msc", "center", None, "MSC dominates PANDA at every point"),
    Claim("multiclass:msc>dn2", "multi-class: MSC above DN2", "Table 5", "multiclass-cpu", "msc",
          "dn2", (T5["msc"], T5["dn2"])),
    Claim("multiclass:dn2>center", "multi-class: DN2 above the center loss (PANDA gains nothing)",
          "Table 5", "multiclass-cpu", "dn2", "center", (T5["dn2"], T5["center"])),
    Claim("fewshot200:msc>dn2", "200 normal images: MSC above DN2", "Table 2", "fewshot-cpu/n200",
          "msc", "dn2", None, f"MSC {T2['cifar10 (200 samples)'][3]}; no DN2 in Table 2"),
    Claim("fewshot500:msc>dn2", "500 normal images: MSC above DN2", "Table 2", "fewshot-cpu/n500",
          "msc", "dn2", None, f"MSC {T2['cifar10 (500 samples)'][3]}; no DN2 in Table 2"),
)


def get_claim(key: str) -> Claim:
    for claim in CLAIMS:
        if claim.key == key:
            return claim
    raise MscadError(f"unknown claim {key!r}; known claims: {', '.join(c.key for c in CLAIMS)}.")


def verdict(low: float, high: float, paper_margin: float | None) -> str:
    """The verdict of an interval [low, high] for a claimed positive margin (see the module)."""
    if np.isnan(low):
        return "unresolved (one seed)"
    if paper_margin is None:
        sign = "holds" if low > 0 else "not reproduced" if high < 0 else "unresolved"
        return f"{sign} (sign only: no paper number)"
    if low > 0:
        return "holds" if high >= paper_margin else "holds, smaller than the paper"
    if high < 0 or high < paper_margin:
        return "not reproduced"
    return "unresolved"


def _side(results: pd.DataFrame, name: str, other: str) -> pd.DataFrame:
    if name != EPOCH0:
        return results[results.objective == name]
    start = results[results.objective == other].copy()
    start["auroc"] = start["epoch0"]
    return start


def claim_margins(results: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    """Seeds x classes: better - worse in ROC-AUC points (classes both sides have)."""
    better = _side(results, claim.better, claim.worse).pivot_table(
        index="seed", columns="normal_class", values="auroc")
    worse = _side(results, claim.worse, claim.better).pivot_table(
        index="seed", columns="normal_class", values="auroc")
    diff = (better - worse).dropna(how="all").dropna(axis=1)
    if diff.empty:
        raise MscadError(f"no class and seed have results on both sides of {claim.text!r}.")
    return diff


def evaluate_claim(claim: Claim, results: pd.DataFrame) -> dict:
    """One claim on ``results`` (one setting): the row of :func:`claims_table`."""
    diff = claim_margins(results, claim)
    mean, low, high = interval(diff.mean(axis=1))
    worse = _side(results, claim.worse, claim.better)
    worse = worse[worse.normal_class.isin(diff.columns) & worse.seed.isin(diff.index)]
    baseline_paper = f"{claim.paper_scores[1]:.1f}" if claim.paper_scores else "–"
    margin = dict(mean=mean, low=low, high=high)
    return {"claim": claim.text, "source": claim.source, "paper": claim.paper_text,
            "ours: margin [95% interval]": format_margin(margin),
            "verdict": verdict(low, high, claim.paper_margin),
            "baseline here / paper": f"{worse.auroc.mean():.1f} / {baseline_paper}",
            "classes above in every seed": int((diff > 0).all().sum()),
            "classes below in every seed": int((diff < 0).all().sum()),
            "classes x seeds": f"{diff.shape[1]} x {diff.shape[0]}",
            "mean": mean, "low": low, "high": high, "paper margin": claim.paper_margin,
            "key": claim.key}


def claims_table(claims=CLAIMS, classes=None) -> pd.DataFrame:
    """Every claim tested on the committed evidence (seeds finished for both objectives of
    each claim); a claim whose folder has no finished seed yet is a row that says so."""
    rows = []
    for claim in claims:
        part, status = finished_seeds_of(claim.folder, claim.objectives, classes=classes)
        if part.empty:
            rows.append({"claim": claim.text, "source": claim.source, "paper": claim.paper_text,
                         "verdict": "not tested yet",
                         "ours: margin [95% interval]": status, "key": claim.key})
            continue
        rows.append(evaluate_claim(claim, part))
    table = pd.DataFrame(rows).set_index("key")
    for column in ("classes above in every seed", "classes below in every seed"):
        table[column] = table[column].astype("Int64")  # counts, blank where not tested
    return table.fillna({"baseline here / paper": "–", "classes x seeds": "–"})


def claim_phrase(table: pd.DataFrame, key: str) -> str:
    """One claim's row of :func:`claims_table` as prose: "+0.0 [-0.5, +0.5] points,
    unresolved; the paper: 96.2 vs 95.8: +0.4"."""
    row = table.loc[key]
    if row["verdict"] == "not tested yet":
        return f"not tested yet ({row['ours: margin [95% interval]']})"
    margin = row["ours: margin [95% interval]"].replace(" (one seed)", "")  # the verdict says it
    return f"{margin} points, {row['verdict']}; the paper: {row['paper']}"


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader needs (the numeric ones stay in the frame for glue)."""
    columns = ["claim", "source", "paper", "ours: margin [95% interval]", "verdict",
               "baseline here / paper", "classes above in every seed", "classes below in every seed",
               "classes x seeds"]
    return table[[c for c in columns if c in table.columns]].set_index("claim")


# The paper's reading of its Fig. 5 (Appendix B), objective by objective: the text beside
# our curves. (Its PANDA curves are PANDA-ES and PANDA-EWC; ours is the center loss with
# PANDA's optimizer at its validation-chosen rate, without early stopping or EWC.)
FIG5_READING = {  # the paper's words (Appendix B), quoted exactly
    "contrastive": "the contrastive loss is unsuitable for OCC feature adaptation as it results "
                   "in very fast catastrophic collapse",
    "center": "PANDA-ES (early-stopping) results in initial improvement in accuracy, but after "
              "few epochs the features degrade and become uninformative. PANDA-EWC postpones "
              "the collapse, but does not prevent it.",
    "msc": "the mean-shifted contrastive loss dominates PANDA at any point in the curve and "
           "collapses much more slowly",
}
# How the collapse runs (stage F, results/collapse-cpu) are labelled wherever they are
# shown: two regimes, each named (the mechanism under MSC's optimizer; the center loss
# with PANDA's momentum at its own validation-chosen rate, without PANDA's gradient clip).
COLLAPSE_LABELS = {"contrastive": "contrastive (MSC's SGD, lr 1e-3)",
                   "msc": "MSC (SGD, lr 1e-3)",
                   "center": "center loss (PANDA's momentum 0.9, lr 1e-7, no clip)"}
# How a curve is described, in ROC-AUC points of the mean over classes: the end within
# LEVEL of the start "holds"; ending at or below CHANCE_BAND is "collapses to chance".
LEVEL, CHANCE_BAND = 0.5, 55.0


def curve_verdicts(curves: pd.DataFrame) -> pd.DataFrame:
    """Per objective of :func:`mscad.plots.epoch_curves`: where the mean curve starts
    (epoch 0, DN2), its best epoch, where it ends, and one word for its course here
    ("improves", "holds", "degrades", "collapses to chance"), beside the paper's reading."""
    rows = {}
    for objective, part in curves.groupby("objective", sort=False):
        part = part.sort_values("epoch")
        start, end = float(part["mean"].iloc[0]), float(part["mean"].iloc[-1])
        best = part.loc[part["mean"].idxmax()]
        change = end - start
        word = ("collapses to chance" if end <= CHANCE_BAND else "degrades" if change < -LEVEL
                else "improves" if change > LEVEL else "holds")
        rows[objective] = {"the paper (Fig. 5)": FIG5_READING.get(objective, "–"),
                           "epoch 0": start, "best": float(best["mean"]), "at epoch": int(best["epoch"]),
                           "last epoch": int(part["epoch"].iloc[-1]), "at the end": end,
                           "change, points": change, "here": word, "seeds": int(part["seeds"].min())}
    return pd.DataFrame(rows).T


def collapse_curves(folder: str = "collapse-cpu", dataset: str = "cifar10", objectives=None):
    """The Fig. 5 curves of the committed collapse runs: :func:`mscad.plots.epoch_curves`
    over the data set's classes (a seed counts once all its classes are done), and
    :func:`curve_verdicts` of them. Returns ``(curves, verdicts, note)``; with nothing
    finished yet the frames are empty and ``note`` says why."""
    from .collect import dataset_classes, load_results, results_folder
    from .errors import MscadError
    from .plots import epoch_curves

    objectives = list(objectives or COLLAPSE_LABELS)
    try:
        runs = load_results(results_folder(folder))
    except MscadError as e:  # the folder is not there yet
        return pd.DataFrame(), pd.DataFrame(), str(e)
    runs = runs[runs.dataset == dataset]
    curves = epoch_curves(runs, objectives=objectives, classes=dataset_classes(dataset))
    if curves.empty:
        return curves, pd.DataFrame(), (f"results/{folder} has no objective with a finished seed "
                                        "(all classes) yet.")
    seeds = curves.groupby("objective").seeds.min()
    note = "; ".join(f"{o}: {n} seed{'s' if n != 1 else ''}" for o, n in seeds.items())
    return curves, curve_verdicts(curves), f"mean over {int(curves.classes.max())} classes ({note})"

