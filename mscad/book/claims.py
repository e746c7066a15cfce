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

from ..experiment import paper
from ..errors import MscadError
from ..experiment.collect import finished_seeds_of
from ..experiment.stats import format_margin, interval

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
    Claim("collapse:contrastive", "contrastive under MSC's optimizer: a catastrophic collapse "
          "(ends below its start, in the chance band)", "Fig. 5", "collapse-cpu", EPOCH0,
          "contrastive", None, "a very fast catastrophic collapse"),
    Claim("collapse:center", "center loss (PANDA's momentum, its chosen rate): an initial "
          "improvement, then degradation to uninformative", "Fig. 5",
          "collapse-cpu", EPOCH0, "center", None, "initial improvement, then the features degrade "
          "and become uninformative"),
    Claim("collapse:msc", "MSC collapses too, much more slowly than the center loss (per step)",
          "Fig. 5", "collapse-cpu", "msc", "center", None, "collapses much more slowly"),
    Claim("collapse:msc>center", "MSC above the center loss at every epoch", "Fig. 5",
          "collapse-cpu", "msc", "center", None, "MSC dominates PANDA at any point in the curve"),
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
    p = _part("", diff.mean(axis=1))["p"]  # one-sided: the margin above 0
    return {"claim": claim.text, "source": claim.source, "paper": claim.paper_text,
            "ours: margin [95% interval]": format_margin(margin),
            "verdict": verdict(low, high, claim.paper_margin),
            "baseline here / paper": f"{worse.auroc.mean():.1f} / {baseline_paper}",
            "classes above in every seed": int((diff > 0).all().sum()),
            "classes below in every seed": int((diff < 0).all().sum()),
            "classes x seeds": f"{diff.shape[1]} x {diff.shape[0]}",
            "mean": mean, "low": low, "high": high, "paper margin": claim.paper_margin,
            "p": p, "key": claim.key}


def claims_table(claims=CLAIMS, classes=None) -> pd.DataFrame:
    """Every claim tested on the committed evidence (seeds finished for both objectives of
    each claim); a claim whose folder has no finished seed yet is a row that says so."""
    rows, curves_cache = [], {}
    for claim in claims:
        part, status = finished_seeds_of(claim.folder, claim.objectives, classes=classes)
        if part.empty:
            rows.append({"claim": claim.text, "source": claim.source, "paper": claim.paper_text,
                         "verdict": "not tested yet",
                         "ours: margin [95% interval]": status, "key": claim.key})
            continue
        row = evaluate_claim(claim, part)
        if claim.key in FIG5_TESTS:
            row.update(_fig5_row(claim, curves_cache))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("key")
    # Holm over every tested claim: a "holds" whose adjusted p is not below 0.05 is only
    # unresolved once the table's number of claims is allowed for
    adjusted = holm(table["p"]) if "p" in table else np.full(len(table), np.nan)
    table["p (one-sided)"] = table.get("p")
    table["p, Holm over the table"] = adjusted
    table["verdict, Holm-corrected"] = [
        v if not str(v).startswith("holds") or np.isnan(a) or a < 0.05
        else f"unresolved after correction (Holm p = {a:.2g})"
        for v, a in zip(table["verdict"], adjusted)]
    for column in ("classes above in every seed", "classes below in every seed"):
        table[column] = table[column].astype("Int64")  # counts, blank where not tested
    return table.fillna({"baseline here / paper": "–", "classes x seeds": "–"})


def _fig5_row(claim: Claim, cache: dict) -> dict:
    """A Fig. 5 claim's verdict from its tested parts (:func:`fig5_tests`), and its parts
    as text; the p-value is the largest of the parts' (all must hold)."""
    if claim.folder not in cache:
        cache[claim.folder] = fig5_tests(seed_curves(claim.folder))
    parts = cache[claim.folder]
    if parts.empty:  # no objective has a seed with every class yet
        return {}
    parts = parts[parts.key == claim.key]
    if parts.empty:
        return {}
    def number(r):
        if r.unit.startswith("%"):  # a level, not a margin: no sign
            return f"{r.mean:.1f} [{r.low:.1f}, {r.high:.1f}] ({r.unit})"
        m = format_margin(dict(mean=r.mean, low=r.low, high=r.high))
        return m if r.unit == "points" else f"{m} ({r.unit})"

    text = "; ".join(f"{r.part.split(':')[0]} {number(r)}" for r in parts.itertuples())
    first = parts.iloc[0]  # the numeric columns: the claim's first part (its direction or shape)
    return {"verdict": fig5_verdict(parts), "ours: margin [95% interval]": text,
            "p": float(parts.p.max()), "mean": first["mean"], "low": first["low"], "high": first["high"]}


def claim_phrase(table: pd.DataFrame, key: str) -> str:
    """One claim's row of :func:`claims_table` as prose: "+0.0 [-0.5, +0.5] points,
    unresolved; the paper: 96.2 vs 95.8: +0.4"."""
    row = table.loc[key]
    if row["verdict"] == "not tested yet":
        return f"not tested yet ({row['ours: margin [95% interval]']})"
    margin = row["ours: margin [95% interval]"].replace(" (one seed)", "")  # the verdict says it
    unit = "" if ";" in margin else " points"  # a Fig. 5 row names each part's unit itself
    return f"{margin}{unit}, {row['verdict']}; the paper: {row['paper']}"


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


def course_word(end: float, change: tuple) -> str:
    """One phrase for a curve's course: "collapses to chance" (ends in the chance band);
    "improves" / "degrades" only when the change's 95% interval (over seeds) lies beyond
    the ±LEVEL band; "holds" when it lies inside it; otherwise which side it ends on and
    that the interval reaches the band. ``change``: (mean, low, high) of end minus start."""
    mean, low, high = change
    if end <= CHANCE_BAND:
        return "collapses to chance"
    if np.isnan(low):  # one seed: the mean alone, said
        word = "degrades" if mean < -LEVEL else "improves" if mean > LEVEL else "holds"
        return f"{word} (one seed)"
    if low > LEVEL:
        return "improves"
    if high < -LEVEL:
        return "degrades"
    if low >= -LEVEL and high <= LEVEL:
        return "holds"
    side = "above" if mean > 0 else "below"
    return f"ends {side} its start, not clear of the ±{LEVEL:g}-point level band"


def paired_change(before, after) -> dict:
    """``after`` - ``before`` (ROC-AUC points), paired by index (the seed), with its 95%
    interval over the pairs: {"mean", "low", "high", "pairs", "word"}. The word follows the
    book's one rule for a trend: "rises" / "falls" only when the interval lies beyond the
    ±LEVEL band, "level" when it lies inside it, "unresolved" when it reaches the band,
    and "one pair" (the mean alone) without an interval."""
    change = (pd.Series(after, dtype=float) - pd.Series(before, dtype=float)).dropna()
    if change.empty:
        raise MscadError("no seed has both sides of the comparison.")
    mean, low, high = interval(change)
    if np.isnan(low):
        word = "one pair"
    elif low > LEVEL:
        word = "rises"
    elif high < -LEVEL:
        word = "falls"
    elif low >= -LEVEL and high <= LEVEL:
        word = "level"
    else:
        word = "unresolved"
    return dict(mean=mean, low=low, high=high, pairs=len(change), word=word)


def change_phrase(change: dict, rises: str = "rises", falls: str = "falls") -> str:
    """A :func:`paired_change` as prose with its size: "grows by +1.2 [+0.7, +1.7] points",
    "stays level (+0.1 [-0.3, +0.4] points)", "changes by +0.5 [-0.1, +1.1] points, not
    clear of the ±0.5-point level band"."""
    size = format_margin(dict(change, seeds=change["pairs"]))
    if change["word"] == "rises":
        return f"{rises} by {size} points"
    if change["word"] == "falls":  # "falls by 2.0 [1.5, 2.5]", not "falls by -2.0"
        fall = format_margin(dict(mean=-change["mean"], low=-change["high"], high=-change["low"]))
        return f"{falls} by {fall.replace('+', '')} points"
    if change["word"] == "level":
        return f"stays level ({size} points)"
    if change["word"] == "one pair":
        return f"changes by {round(change['mean'], 1) + 0.0:+.1f} points (one seed, so no interval)"
    return f"changes by {size} points, not clear of the ±{LEVEL:g}-point level band"


def curve_verdicts(curves: pd.DataFrame, shapes: dict | None = None) -> pd.DataFrame:
    """Per objective of :func:`mscad.plots.epoch_curves`: where the mean curve starts
    (epoch 0, DN2), its best epoch, where it ends, and a phrase for its course here
    (:func:`course_word`, from the per-seed changes in ``shapes``, :func:`curve_shape`;
    without them, the mean's change alone), beside the paper's reading."""
    rows = {}
    for objective, part in curves.groupby("objective", sort=False):
        part = part.sort_values("epoch")
        start, end = float(part["mean"].iloc[0]), float(part["mean"].iloc[-1])
        best = part.loc[part["mean"].idxmax()]
        change = end - start
        per_seed = (interval(-shapes[objective].fall_from_start) if shapes and objective in shapes
                    else (change, float("nan"), float("nan")))
        word = course_word(end, per_seed)
        rows[objective] = {"the paper (Fig. 5)": FIG5_READING.get(objective, "–"),
                           "epoch 0": start, "best": float(best["mean"]), "at epoch": int(best["epoch"]),
                           "last epoch": int(part["epoch"].iloc[-1]), "at the end": end,
                           "change, points": change,
                           "change [95% interval]": format_margin(dict(mean=per_seed[0], low=per_seed[1],
                                                                       high=per_seed[2])),
                           "here": word, "seeds": int(part["seeds"].min())}
    return pd.DataFrame(rows).T


def collapse_curves(folder: str = "collapse-cpu", dataset: str = "cifar10", objectives=None):
    """The Fig. 5 curves of the committed collapse runs: :func:`mscad.plots.epoch_curves`
    over the data set's classes (a seed counts once all its classes are done), and
    :func:`curve_verdicts` of them. Returns ``(curves, verdicts, note)``; with nothing
    finished yet the frames are empty and ``note`` says why."""
    from ..experiment.collect import dataset_classes, load_results, results_folder
    from ..errors import MscadError
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
    per_seed = seed_curves(folder, dataset, objectives)
    shapes = {o: curve_shape(per_seed, o) for o in set(per_seed.objective)}
    return (curves, curve_verdicts(curves, shapes),
            f"mean over {int(curves.classes.max())} classes ({note})")



# ------------------------------------------------------------------ Fig. 5, tested on content
# The paper's Fig. 5 claims are about shape and speed ("very fast catastrophic collapse",
# "initial improvement, then degradation", "collapses much more slowly", "dominates at
# any point"), so each is tested on that, part by part, on the per-seed curves (the mean
# over the ten classes of each seed), each number with its 95% interval over seeds:
#   direction   the sign the claim needs (an end below the start, a fall from the peak)
#   size        "catastrophic" / "uninformative": the curve ends in the chance band
#   speed       decline from the peak per 1,000 optimizer steps (runs with different
#               numbers of images per epoch are compared per step, never per epoch)
#   shape       an early rise (best of the first EARLY_FRACTION of epochs minus epoch 0)
#   every point the smallest margin over epochs 1..last
# A claim holds in full only when every part holds; "partly reproduced" names the parts
# that do not. The peak of a noisy curve is its maximum, which leans high: said, not hidden.
EARLY_FRACTION = 0.25  # "initial": the first quarter of the run's epochs (5 of 20)
FIG5_TESTS = {  # claim key -> (objective(s), the parts tested)
    "collapse:contrastive": ("contrastive", ("direction", "size")),
    "collapse:center": ("center", ("shape", "direction", "size")),
    "collapse:msc": ("msc", ("direction", "speed")),
    "collapse:msc>center": ("msc", ("every point",)),
}


def seed_curves(folder: str = "collapse-cpu", dataset: str = "cifar10", objectives=None) -> pd.DataFrame:
    """Long frame of the Fig. 5 runs in ``folder``: objective, seed, epoch, step, auroc
    (ROC-AUC % averaged over the data set's classes, for seeds where every class has a run)."""
    from ..experiment.collect import dataset_classes, load_results, results_folder

    runs = load_results(results_folder(folder))
    runs = runs[runs.dataset == dataset]
    wanted = set(dataset_classes(dataset))
    rows = []
    for (objective, seed), part in runs.groupby(["objective", "seed"]):
        if objectives is not None and objective not in objectives:
            continue
        if not wanted <= set(part.normal_class):
            continue  # a seed still running
        part = part[part.normal_class.isin(wanted)]
        curve = pd.DataFrame(list(part.evaluated)).mean(axis=0)
        per_epoch = int(part.steps_per_epoch.median())
        rows += [dict(objective=objective, seed=int(seed), epoch=int(e), step=int(e) * per_epoch,
                      auroc=float(v)) for e, v in curve.items()]
    return pd.DataFrame(rows, columns=["objective", "seed", "epoch", "step", "auroc"])


def curve_shape(curves: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Per seed, the quantities the Fig. 5 tests read (ROC-AUC points; steps)."""
    part = curves[curves.objective == objective]
    if part.empty:
        raise MscadError(f"no finished seed of {objective!r} in these curves.")
    rows = {}
    for seed, c in part.groupby("seed"):
        c = c.sort_values("epoch")
        start, end = c.auroc.iloc[0], c.auroc.iloc[-1]
        peak_at = c.auroc.idxmax()
        peak, peak_step = c.auroc[peak_at], c.step[peak_at]
        last_step = c.step.iloc[-1]
        early = c[(c.epoch >= 1) & (c.epoch <= max(1, round(EARLY_FRACTION * c.epoch.max())))]
        rows[seed] = dict(start=start, end=end, fall_from_start=start - end, peak=peak,
                          peak_epoch=int(c.epoch[peak_at]), fall_from_peak=peak - end,
                          early_rise=early.auroc.max() - start,
                          decline_per_kstep=(peak - end) / (last_step - peak_step) * 1000
                          if last_step > peak_step else 0.0,
                          last_step=int(last_step), steps_per_epoch=int(c.step.iloc[1] - c.step.iloc[0])
                          if len(c) > 1 else 0)
    return pd.DataFrame(rows).T.astype(float)


def _part(name, values, positive: bool = True, bound: float = 0.0, unit="points"):
    """One tested part: the interval of ``values`` (one per seed) against ``bound``;
    holds when it lies wholly above it (``positive``) or wholly below it."""
    from scipy import stats

    mean, low, high = interval(values)
    if np.isnan(low):
        verdict = "unresolved (one seed)"
    elif (low > bound) if positive else (high < bound):
        verdict = "holds"
    elif (high < bound) if positive else (low > bound):
        verdict = "not reproduced"
    else:
        verdict = "unresolved"
    values = pd.Series(values, dtype=float).dropna()
    p = float("nan")
    if len(values) >= 2 and values.std(ddof=1) > 0:
        p = float(stats.ttest_1samp(values - bound, 0.0,
                                    alternative="greater" if positive else "less").pvalue)
    elif len(values) >= 2:  # no spread at all: the sign decides
        p = 0.0 if ((values.iloc[0] > bound) if positive else (values.iloc[0] < bound)) else 1.0
    return dict(part=name, mean=mean, low=low, high=high, verdict=verdict, p=p, unit=unit)


def fig5_tests(curves: pd.DataFrame) -> pd.DataFrame:
    """Every part of every Fig. 5 claim (:data:`FIG5_TESTS`) tested on ``curves``
    (:func:`seed_curves`): one row per part, with the number, its interval, the part's
    verdict and its one-sided p-value (for the multiplicity correction)."""
    rows = []
    shapes = {o: curve_shape(curves, o) for o in set(curves.objective)}
    for key, (objective, parts) in FIG5_TESTS.items():
        if objective not in shapes:
            continue
        s = shapes[objective]
        for part in parts:
            if part == "direction" and key == "collapse:msc":
                row = _part("direction: falls from its peak", s.fall_from_peak)
            elif part == "direction" and key == "collapse:center":
                row = _part("then degrades: falls from its peak", s.fall_from_peak)
            elif part == "direction":
                row = _part("direction: ends below its start", s.fall_from_start)
            elif part == "size":
                row = _part(f"size: ends in the chance band (<= {CHANCE_BAND:.0f}%)", s.end,
                            positive=False, bound=CHANCE_BAND, unit="% at the end")
            elif part == "shape":
                row = _part(f"initial improvement: best of epochs 1-{max(1, round(EARLY_FRACTION * curves.epoch.max()))} "
                            "above epoch 0", s.early_rise)
            elif part == "speed":
                if "center" not in shapes:
                    continue
                both = shapes["center"].decline_per_kstep.align(s.decline_per_kstep, join="inner")
                row = _part("speed: declines more slowly than the center loss (center's decline "
                            "minus MSC's, per 1,000 steps)", both[0] - both[1],
                            unit="points per 1,000 steps")
                row["detail"] = (f"MSC {s.decline_per_kstep.mean():.2f}, center "
                                 f"{shapes['center'].decline_per_kstep.mean():.2f} points per 1,000 steps")
            elif part == "every point":
                if "center" not in set(curves.objective):
                    continue
                a = curves[curves.objective == "msc"].pivot_table(index="epoch", columns="seed", values="auroc")
                b = curves[curves.objective == "center"].pivot_table(index="epoch", columns="seed", values="auroc")
                margins = (a - b).dropna(how="all").loc[lambda d: d.index >= 1].dropna(axis=1)
                worst = margins.mean(axis=1).idxmin()
                row = _part(f"at every point: the smallest margin over epochs 1-{int(margins.index.max())} "
                            f"(epoch {int(worst)})", margins.loc[worst])
                row["detail"] = f"{int((margins.gt(0).all(axis=1)).sum())} of {len(margins)} epochs above in every seed"
            rows.append(dict(key=key, objective=objective, **row))
    return pd.DataFrame(rows, columns=["key", "objective", "part", "mean", "low", "high", "verdict", "p",
                                       "unit", "detail"])


def fig5_verdict(parts: pd.DataFrame) -> str:
    """A claim's verdict from its parts: holds only where every part holds."""
    held = parts[parts.verdict == "holds"]
    if len(held) == len(parts):
        return "holds"
    failed = parts[parts.verdict != "holds"]
    named = "; ".join(f"{p.split(':')[0]} {v}" for p, v in zip(failed.part, failed.verdict))
    if held.empty:
        return f"not reproduced ({named})" if (failed.verdict == "not reproduced").all() \
            else f"unresolved ({named})"
    return f"partly reproduced ({', '.join(p.split(':')[0] for p in held.part)} holds; {named})"


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment of one-sided p-values (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok])]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
