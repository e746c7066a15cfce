"""Figures the chapters draw (matplotlib/seaborn), so notebooks stay short."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..objectives import OBJECTIVES, objective_label


# One visual language for the whole book (the key is drawn by figure_key and shown in
# the glossary):
# - an objective has one colour in every figure (its record in mscad.objectives);
# - normal and anomalous images have two colours that no objective uses;
# - settings of one objective (a learning rate, a clip, from scratch) differ by line
#   style and marker, never by colour.
NORMAL_COLOR = "tab:green"
ANOMALOUS_COLOR = "tab:purple"
PAPER_COLOR = "0.45"  # the paper's numbers: grey diamonds
SETTING_STYLES = ("-", "--", ":", "-.")
SETTING_MARKERS = ("o", "s", "^", "D")


def _objective_of(run) -> str | None:
    """The objective a run or RESULT dict was trained with, None if it does not say."""
    try:
        return run["config"]["objective"]
    except (KeyError, TypeError):
        return None


def objective_in_label(label: str) -> str | None:
    """The objective a figure label names ("MSC (lr 0.001)", "center, lr 1e-07, no clip",
    "DN2 (pretrained)", "after the contrastive loss"), None if it names none. Names match
    as whole words ("uncentered" is not "center"); the one named first wins, and the
    longest where two start together ("MSC + angular" is not "MSC"), so a margin label
    "MSC - DN2" takes MSC's colour."""
    import re

    text = str(label).lower()
    names = {(n.lower(), key) for key, o in OBJECTIVES.items()
             for n in {key, key.replace("-", " "), o.short, o.label}}
    names |= {("mean-shifted", "msc")} if "msc" in OBJECTIVES else set()
    found = [(m.start(), -len(n), key) for n, key in names if n
             for m in [re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)] if m]
    return min(found)[2] if found else None


def run_styles(objectives: list) -> list:
    """Line properties for runs in one figure: each takes its objective's colour; the
    second, third, ... run of one objective takes the next line style and marker. Runs
    without a known objective take grey, styled the same way."""
    seen: dict = {}
    styles = []
    for objective in objectives:
        n = seen.get(objective, 0)
        seen[objective] = n + 1
        styles.append(dict(color=objective_color(objective) if objective else "0.5",
                           ls=SETTING_STYLES[n % len(SETTING_STYLES)],
                           marker=SETTING_MARKERS[n % len(SETTING_MARKERS)]))
    return styles


def _objectives_of(runs: dict) -> list:
    return [_objective_of(r) or objective_in_label(label) for label, r in runs.items()]


def curves(results: dict, key: str = "auroc", ax=None, ylabel: str | None = None, percent: bool = True):
    """One line per run: ``key`` of the history against the epoch. ``results`` maps a
    label to a RESULT dict. Each line takes its objective's colour (the same in every
    figure); runs of one objective in several settings differ by line style and marker."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for (label, r), style in zip(results.items(), run_styles(_objectives_of(results))):
        pts = [(h["epoch"], h[key]) for h in r["history"] if h.get(key) is not None]
        x, y = zip(*pts)
        y = np.asarray(y) * (100 if percent else 1)
        ax.plot(x, y, ms=4, label=objective_label(label), **style)
    ax.set_xlabel("epoch (0 = pretrained)")
    ax.set_ylabel(ylabel or key)
    ax.grid(alpha=0.3)
    longest = max((len(objective_label(label)) for label in results), default=0)
    # below the axes: off the data, and the plot keeps its full width
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False,
              ncol=1 if longest > 30 else 2)
    return ax


def score_histograms(values, labels, ax=None, xlabel: str = "value", title: str | None = None, bins: int = 40):
    """Overlaid density histograms of ``values`` for normal (label 0) and anomalous (1)."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    values, labels = np.asarray(values), np.asarray(labels)
    edges = np.histogram_bin_edges(values, bins=bins)
    for lab, name, color in ((0, "normal", NORMAL_COLOR), (1, "anomalous", ANOMALOUS_COLOR)):
        sns.histplot(values[labels == lab], bins=edges, stat="density", alpha=0.45, color=color,
                     label=f"{name} (n={int((labels == lab).sum())})", ax=ax, element="step")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def collapse_panels(runs: dict, axes=None):
    """What the center loss does to the features, per epoch, for runs trained with the
    :class:`mscad.probes.DistanceToCenter` probe: (a) mean distance to c of the normal
    (solid) and anomalous (dashed) test images, (b) the spread of the normal train
    features around their own mean. Log scale: a collapse is a fall by orders of
    magnitude. ``runs`` maps a label to a run; one legend below both panels. Each run
    takes its objective's colour and its own marker; runs of one objective are told
    apart by shade too, since the line style here says normal or anomalous."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator

    if axes is None:
        axes = plt.subplots(1, 2, figsize=(11, 3.4))[1]
    handles = []
    objectives = _objectives_of(runs)
    for (label, run), style, color in zip(runs.items(), run_styles(objectives), _shades(objectives)):
        history = run["history"]
        epochs = [h["epoch"] for h in history]
        marker = style["marker"]
        axes[0].plot(epochs, [h["dist_normal"] for h in history], marker=marker, ms=4, color=color)
        axes[0].plot(epochs, [h["dist_anomalous"] for h in history], marker=marker, ms=4, ls="--",
                     color=color)
        axes[1].plot(epochs, [h["spread"] for h in history], marker=marker, ms=4, color=color)
        handles.append(Line2D([], [], color=color, marker=marker, ms=4, label=label))
    handles += [Line2D([], [], color="0.3", label="normal test images (a)"),
                Line2D([], [], color="0.3", ls="--", label="anomalous test images (a)")]
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 40, not 4 x 10^1
    for ax, ylabel, title in ((axes[0], "mean distance to c", "(a) test images' distance to c"),
                              (axes[1], "mean distance to their mean",
                               "(b) spread of the normal train features")):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        low, high = ax.get_ylim()
        if high / low < 1000:  # a few decades: label ticks between the powers of 10 too
            subs = (2, 3, 4, 5, 6, 8) if high / low < 10 else (2, 5)
            ax.yaxis.set_minor_locator(LogLocator(subs=subs))
            ax.yaxis.set_minor_formatter(plain)
        ax.set_xlabel("epoch (0 = pretrained)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    # below the panels: off the data
    axes[0].figure.legend(handles=handles, fontsize=8, loc="upper center", ncol=max(1, len(runs)),
                          bbox_to_anchor=(0.5, 0.02), frameon=False)
    return axes


def _shades(objectives: list) -> list:
    """The objective's colour for its first run, then paler versions of it (mixed with
    white) for the next runs of the same objective: for figures whose line style means
    something else, and for bars."""
    from matplotlib.colors import to_rgb

    seen: dict = {}
    out = []
    for objective, style in zip(objectives, run_styles(objectives)):
        n = seen.get(objective, 0)
        seen[objective] = n + 1
        white = (0.0, 0.35, 0.6, 0.75)[n % 4]
        rgb = np.array(to_rgb(style["color"]))
        out.append(tuple(float(v) for v in rgb + (1 - rgb) * white))
    return out


def sphere_panels(toy_runs: dict):
    """The 3-D toy of :mod:`mscad.toy` on the unit sphere: the starting features, then
    the features after each objective, normal (green) and anomalous (purple) held-out points,
    with each panel's kNN ROC-AUC. ``toy_runs`` maps a label to a :class:`ToyRun`; the
    first one's starting features are the first panel."""
    first = next(iter(toy_runs.values()))
    panels = [("before fine-tuning", first.normal_before, first.anomalous_before,
               first.auroc_before)]
    panels += [(f"after {label}", r.normal_after, r.anomalous_after, r.auroc_after)
               for label, r in toy_runs.items()]
    fig = plt.figure(figsize=(4 * len(panels), 4))
    u, v = np.mgrid[0:2 * np.pi:24j, 0:np.pi:12j]
    for i, (title, normal, anomalous, auroc) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), i, projection="3d")
        ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v),
                          color="0.85", lw=0.4)
        ax.scatter(*normal.T, s=5, color=NORMAL_COLOR, label="normal")
        ax.scatter(*anomalous.T, s=5, color=ANOMALOUS_COLOR, label="anomalous")
        ax.set_title(f"{title}\nkNN ROC-AUC {100 * auroc:.1f}%", fontsize=10)
        ax.set_box_aspect((1, 1, 1))
        ax.view_init(elev=20, azim=-60)
        ax.set_axis_off()
    fig.axes[0].legend(fontsize=8, loc="lower left")
    return fig


def roc_panels(scores: dict, labels, axes=None):
    """ROC curves (left) and score histograms (one panel each, right) for several
    scorings of the same test images: ``scores`` maps a label to anomaly scores; a label
    that names an objective ("DN2 (pretrained)", "MSC") draws in its colour."""
    from sklearn.metrics import roc_curve

    from ..metrics import roc_auc

    labels = np.asarray(labels)
    if axes is None:
        axes = plt.subplots(1, 1 + len(scores), figsize=(4.2 * (1 + len(scores)), 3.4))[1]
    axes[0].plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
    styles = run_styles([objective_in_label(label) for label in scores])
    for (label, s), ax, style in zip(scores.items(), axes[1:], styles):
        fpr, tpr, _ = roc_curve(labels, s)
        axes[0].plot(fpr, tpr, color=style["color"], ls=style["ls"],
                     label=f"{label} ({100 * roc_auc(labels, s):.1f}%)")
        score_histograms(s, labels, ax=ax, xlabel="kNN score (cosine distance)", title=label)
    low = min(np.min(s) for s in scores.values())
    high = max(np.max(s) for s in scores.values())
    for ax in axes[1:]:  # one score axis, so the panels compare
        ax.set_xlim(low, high)
    axes[0].set_xlabel("false positive rate (normal flagged)")
    axes[0].set_ylabel("true positive rate (anomalies caught)")
    axes[0].set_title("ROC curves", fontsize=10)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].grid(alpha=0.3)
    return axes


def projection_panels(features: dict, labels, n: int = 600, seed: int = 0):
    """Each model's test features projected to 2-D (PCA fitted on that model's features),
    normal (green) and anomalous (purple), one panel per model: a picture of how the
    objectives rearrange the same images. ``n`` images per group are drawn, the same
    ones in every panel."""
    from sklearn.decomposition import PCA

    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.permutation(np.flatnonzero(labels == lab))[:n] for lab in (0, 1)])
    fig, axes = plt.subplots(1, len(features), figsize=(4 * len(features), 3.8), squeeze=False)
    for ax, (title, f) in zip(axes[0], features.items()):
        xy = PCA(n_components=2, random_state=seed).fit_transform(np.asarray(f)[pick])
        for lab, name, color in ((1, "anomalous", ANOMALOUS_COLOR), (0, "normal", NORMAL_COLOR)):
            ax.scatter(*xy[labels[pick] == lab].T, s=4, alpha=0.5, color=color, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("first principal component")
        ax.set_ylabel("second principal component")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, markerscale=3, ncol=2, frameon=False,
               loc="upper center", bbox_to_anchor=(0.5, 0.02))  # below: off the data
    return fig


def mistakes_gallery(images, scores, labels, class_names, n: int = 8, title: str = ""):
    """Four rows of test images under one scoring: the most and the least anomalous, the
    false alarms (normal images with the highest scores) and the misses (anomalous images
    with the lowest), each row titled with the images' classes."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    images = np.asarray(images)
    order = np.argsort(scores)
    normal, anomalous = order[labels[order] == 0], order[labels[order] == 1]
    rows = (("most anomalous", order[::-1][:n]), ("least anomalous", order[:n]),
            ("false alarms: normal, highest scores", normal[::-1][:n]),
            ("misses: anomalous, lowest scores", anomalous[:n]))
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * 0.95, 1.45 * len(rows)))
    for ax, (name, idx) in zip(axes, rows):
        classes = ", ".join(str(class_names[i]) for i in idx)
        image_grid(images[idx], n=n, title=f"{name} ({classes})", ax=ax)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def margin_plot(margins, ax=None, title: str = ""):
    """Margins in ROC-AUC points with their 95% intervals (bars), beside the paper's
    margins (grey diamonds), one row each, each bar in its objective's colour: on a margin axis a 1-point effect and its interval
    can be seen, where on a 50-100 ROC-AUC axis they cannot. ``margins``: a frame with
    columns mean, low, high and paper (NaN where the paper has none), indexed by label."""
    ax = ax or plt.subplots(figsize=(7, 0.55 * len(margins) + 1.2))[1]
    y = np.arange(len(margins))
    low = (margins["mean"] - margins["low"]).fillna(0).clip(lower=0)
    high = (margins["high"] - margins["mean"]).fillna(0).clip(lower=0)
    colors = [style["color"] for style in run_styles([objective_in_label(m) for m in margins.index])]
    ax.barh(y, margins["mean"], xerr=[low, high], color=colors, alpha=0.6, capsize=3,
            label="ours, 95% interval over seeds")
    ax.scatter(margins["paper"], y, color=PAPER_COLOR, marker="D", zorder=3, label="the paper")
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, margins.index)
    ax.invert_yaxis()
    ax.set_xlabel("margin, ROC-AUC points")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.patches import Patch

    # the bars take their objectives' colours, so the legend's bar is a neutral one
    handles = [Patch(color="0.6", alpha=0.6, label="ours (each objective's colour), 95% interval over seeds"),
               plt.Line2D([], [], color=PAPER_COLOR, marker="D", ls="", label="the paper")]
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2,
              frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def per_class_bars(table, ax=None, ylabel: str = "ROC-AUC (%)", objective: str | None = None):
    """Grouped bars: rows = classes, columns = methods (a pandas DataFrame). A column takes
    the colour of the objective it names, or of ``objective`` when every column is a
    variant of one (chapter 1's scorings of DN2: black, then greys)."""
    ax = ax or plt.subplots(figsize=(9, 3.5))[1]
    long = table.reset_index().melt(id_vars=table.index.name or "index", var_name="method", value_name="v")
    objectives = [objective or objective_in_label(c) for c in table.columns]
    sns.barplot(long, x=table.index.name or "index", y="v", hue="method", ax=ax,
                palette=dict(zip(table.columns, _shades(objectives))))
    lo = np.nanmin(table.values)
    ax.set_ylim(max(0, lo - 10), 100)
    ax.set_xlabel("normal class")
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8, ncols=3)
    return ax


def image_grid(images, n: int = 8, title: str | None = None, ax=None):
    """The first ``n`` uint8 images (N, H, W, 3) side by side."""
    images = np.asarray(images[:n])
    ax = ax or plt.subplots(figsize=(n * 0.9, 1.2))[1]
    ax.imshow(np.concatenate(list(images), axis=1))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return ax


def arc_span(angles) -> float:
    """Degrees of the smallest arc of the circle that holds every angle (radians): 360
    minus the largest gap between neighbouring angles, so that angles on both sides of
    +-180 degrees are not read as nearly a full turn (as max - min would)."""
    a = np.sort(np.mod(np.asarray(angles, dtype=float), 2 * np.pi))
    if len(a) < 2:
        return 0.0
    gaps = np.diff(np.concatenate([a, a[:1] + 2 * np.pi]))
    return float(np.degrees(2 * np.pi - gaps.max()))


def mean_shift_geometry(n: int = 7, spread_deg: float = 25.0, seed: int = 0):
    """Fig. 2 drawn from a small 2-D example: normal features on a narrow arc of the unit
    circle. Left: angles seen from the origin (what Eq. 2 spreads apart, pushing points
    away from the center c). Right: the same points after subtracting c (Eq. 4): seen
    from c they already span all directions, so there is little left to spread."""
    rng = np.random.default_rng(seed)
    angles = np.radians(90 + rng.uniform(-spread_deg, spread_deg, n))
    z = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    c = z.mean(axis=0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    t = np.linspace(0, 2 * np.pi, 200)
    for ax, origin, title in ((axes[0], np.zeros(2), "around the origin (contrastive, Eq. 2)"),
                              (axes[1], c, "around the center c (mean-shifted, Eq. 4)")):
        ax.plot(np.cos(t), np.sin(t), color="0.85", lw=1)
        for p in z:
            ax.annotate("", p, origin, arrowprops=dict(arrowstyle="->", color=NORMAL_COLOR, lw=1.2))
        ax.scatter(*z.T, color=NORMAL_COLOR, zorder=3, label="normal features z/|z|")
        ax.scatter(*c, color="k", marker="*", s=160, zorder=4, label="center c (Eq. 3)")
        ax.scatter(0, 0, color="k", s=15)
        directions = z - origin
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        spread = arc_span(np.arctan2(directions[:, 1], directions[:, 0]))
        ax.set_title(f"{title}\nangular spread of the points: {spread:.0f} deg", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-0.3, 1.2)
        ax.set_xlabel("feature 1")
        ax.set_ylabel("feature 2")
        ax.legend(fontsize=9, loc="lower left")
    fig.tight_layout()
    return fig


def margin_heatmap(checks, ax=None, title: str = "margin in ROC-AUC points (positive = the paper's ordering holds)"):
    """Classes x claims, coloured by the signed margin (blue holds, red reversed)."""
    ax = ax or plt.subplots(figsize=(7, 0.35 * len(checks) + 1.2))[1]
    limit = float(np.nanmax(np.abs(checks.values))) or 1.0
    labels = np.vectorize(lambda v: f"{v + 0.0:.1f}".replace("-0.0", "0.0"))(np.asarray(checks, float))
    sns.heatmap(checks, annot=labels, fmt="", cmap="RdBu", vmin=-limit, vmax=limit, center=0,
                cbar=False, ax=ax, linewidths=0.5)
    ax.set_ylabel("normal class")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=0, labelsize=8)
    ax.set_title(title, fontsize=9)
    return ax


MECHANISM_PANELS = (
    ("uniformity", "mean pair similarity", "(a) pairs of train images"),
    ("uniformity_loss", "log E exp(-2|u - v|^2)", "(b) uniformity loss (lower = more uniform)"),
    ("augmentation_similarity", "cosine, image vs augmentation", "(c) augmentation similarity"),
)


def mechanism_panels(runs: dict, uniform_reference: float | None = -4.0):
    """The paper's Sec. 4.3 measured: for each run (label -> result), each statistic per
    epoch around the origin (solid) and around the pretrained center c (dashed), in three
    panels. ``uniform_reference``: the uniformity loss of unit vectors spread over a
    high-dimensional sphere (|u - v|^2 = 2 for almost every pair: -4), drawn in (b)."""
    fig, grid = plt.subplots(2, 2, figsize=(10, 7))
    axes, legend_ax = grid.flat[:3], grid.flat[3]
    objectives = _objectives_of(runs)
    colors = dict(zip(runs, _shades(objectives)))  # the line style here: origin or c
    markers = {label: style["marker"] for label, style in zip(runs, run_styles(objectives))}
    for ax, (key, ylabel, title) in zip(axes, MECHANISM_PANELS):
        for label, r in runs.items():
            for suffix, style, frame in (("", "-", "around the origin"), ("_c", "--", "around c")):
                pts = [(h["epoch"], h[key + suffix]) for h in r["history"]
                       if h.get(key + suffix) is not None]
                if pts:
                    x, y = zip(*pts)
                    ax.plot(x, y, style, marker=markers[label], ms=4, color=colors[label],
                            label=f"{objective_label(label)}, {frame}")
        if key == "uniformity_loss" and uniform_reference is not None:
            ax.axhline(uniform_reference, color="0.5", lw=0.8, ls=":", label="uniform on the sphere")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch (0 = pretrained)")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[1].get_legend_handles_labels()
    legend_ax.axis("off")
    legend_ax.legend(handles, labels, loc="center", fontsize=10, frameon=False)
    fig.tight_layout()
    return fig


def objective_color(name: str, default: str = "tab:gray") -> str:
    """The one colour of an objective in every figure (from its record, so a registered
    objective brings its own)."""
    return OBJECTIVES[name].color if name in OBJECTIVES else default


def epoch_curves(results, objectives=None, level: float = 0.95, classes=None):
    """Per objective and epoch: the mean ROC-AUC % over the classes of each seed (seeds in
    which every class has a run), then the mean over seeds and its Student-t interval.
    ``results``: a frame of :func:`mscad.report.load_results` (one setting); ``classes``:
    the data set's whole class list (default: the classes present), so a seed still
    running is left out. Returns a long frame: objective, epoch, mean, low, high, seeds,
    classes."""
    import pandas as pd

    from ..experiment.stats import interval

    rows = []
    wanted = set(classes) if classes is not None else set(results.normal_class)
    n_classes = len(wanted)
    for objective, part in results.groupby("objective"):
        if objectives is not None and objective not in objectives:
            continue
        per_seed = {}
        for seed, runs in part.groupby("seed"):
            if not wanted <= set(runs.normal_class):
                continue  # a seed still running: its mean would cover other classes
            runs = runs[runs.normal_class.isin(wanted)]
            curves_ = pd.DataFrame(list(runs.evaluated))  # runs x epochs, ROC-AUC %
            per_seed[seed] = curves_.mean(axis=0)
        if not per_seed:
            continue
        table = pd.DataFrame(per_seed)  # epochs x seeds
        for epoch, values in table.iterrows():
            mean, low, high = interval(values.dropna(), level)
            rows.append(dict(objective=objective, epoch=int(epoch), mean=mean, low=low, high=high,
                             seeds=int(values.notna().sum()), classes=n_classes))
    return pd.DataFrame(rows)


def collapse_figure(curves, dn2: float, paper_reading: dict | None = None, ax=None,
                    labels: dict | None = None):
    """The paper's Fig. 5 at our scale: mean ROC-AUC % per epoch for each objective (a
    95% band over seeds where there are two or more), DN2 as a horizontal line."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    labels = labels or {}
    for objective, part in curves.groupby("objective", sort=False):
        color = objective_color(objective)
        ax.plot(part.epoch, part["mean"], marker="o", ms=3, color=color,
                label=labels.get(objective, objective))
        if part["low"].notna().any():
            ax.fill_between(part.epoch, part["low"], part["high"], color=color, alpha=0.2, lw=0)
    ax.axhline(dn2, color=objective_color("dn2"), ls="--", lw=1, label="DN2 (epoch 0)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch (0 = pretrained)")
    ax.set_ylabel("mean ROC-AUC % over classes")
    ax.grid(alpha=0.3)
    # below the axes: off the data, and the plot keeps its full width
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    return ax


def lr_landscape(selection, epochs=(0, 5, 10), ax=None):
    """Validation ROC-AUC % (mean over the selection classes) per learning rate, one panel
    per objective and one line per evaluated epoch: where each loss can gain, without a
    test image. ``selection``: :func:`mscad.report.load_results` of the selection runs."""
    import pandas as pd

    trained = selection[selection.epochs > 0]
    objectives = [o for o in ("center", "angular-center", "contrastive", "msc", "msc-angular")
                  if o in set(trained.objective)]
    fig, axes = plt.subplots(1, len(objectives), figsize=(2.6 * len(objectives), 3), sharey=True,
                             squeeze=False)
    rows = []
    for _, r in trained.iterrows():
        for epoch in epochs:
            if epoch in r.evaluated:
                rows.append(dict(objective=r.objective, lr=r.lr, epoch=epoch, auroc=r.evaluated[epoch],
                                 normal_class=r.normal_class))
    long = pd.DataFrame(rows)
    means = long.groupby(["objective", "lr", "epoch"]).auroc.mean().reset_index()
    styles = dict(zip(epochs, (":", "--", "-")))
    for ax, objective in zip(axes[0], objectives):
        part = means[means.objective == objective]
        for epoch in epochs:
            line = part[part.epoch == epoch].sort_values("lr")
            ax.plot(line.lr, line.auroc, marker="o" if epoch else None, ms=4,
                    color=objective_color(objective), ls=styles.get(epoch, "-"))
        ax.set_xscale("log")
        ax.set_title(objective, fontsize=9)
        ax.set_xlabel("learning rate")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation ROC-AUC %")
    handles = [plt.Line2D([], [], color="gray", ls=styles.get(e, "-"),
                          label="epoch 0 (pretrained)" if e == 0 else f"after {e} epochs")
               for e in epochs]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig, means


def figure_key():
    """The book's visual language on one figure (the glossary's key): each objective's
    colour, the two colours of normal and anomalous images, the paper's marker, and the
    line styles that tell settings of one objective apart."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    columns = [
        ("objectives (one colour each, in every figure)",
         [Line2D([], [], color=o.color, lw=3, label=o.label) for o in OBJECTIVES.values()]),
        ("images and references",
         [Patch(color=NORMAL_COLOR, alpha=0.6, label="normal images"),
          Patch(color=ANOMALOUS_COLOR, alpha=0.6, label="anomalous images"),
          Line2D([], [], color=PAPER_COLOR, marker="D", ls="", label="the paper's number"),
          Line2D([], [], color=objective_color("dn2"), ls="--", label="DN2 (epoch 0) as a reference line")]),
        ("settings of one objective",
         [Line2D([], [], color="0.3", ls=ls, marker=m, label=text) for ls, m, text in zip(
             SETTING_STYLES, SETTING_MARKERS,
             ("first setting", "second (e.g. another lr)", "third", "fourth"))]),
    ]
    fig, axes = plt.subplots(1, len(columns), figsize=(12, 1.75))
    for ax, (title, handles) in zip(axes, columns):
        ax.axis("off")
        ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=9, title=title,
                  title_fontsize=9, alignment="left")
    return fig


def class_strip(rows: dict, highlight: str, axes=None):
    """Where one class sits among the others: one small panel per quantity (``rows`` maps a
    title to a Series indexed by class, or to ``(series, objective)`` for its colour; a title
    with " - " is a margin, drawn against 0), the
    classes sorted top (highest) to bottom, the highlighted class in the objective's colour
    and named with its rank (1 = highest)."""
    from ..experiment.stats import class_rank

    if axes is None:
        axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 2.9), squeeze=False)[1][0]
    for ax, (title, entry) in zip(axes, rows.items()):
        values, objective = entry if isinstance(entry, tuple) else (entry, None)
        values = values.sort_values()
        rank, n = class_rank(values, highlight)
        y = np.arange(len(values))
        mine = np.asarray(values.index == highlight)
        margin = " - " in title  # "MSC - DN2": a margin, read against 0
        span = float(values.max() - values.min()) or 1.0
        start = min(0.0, values.min()) if margin else values.min() - 0.1 * span
        ax.hlines(y, start, values, color="0.85", lw=1)
        ax.scatter(values[~mine], y[~mine], color="0.55", s=20, zorder=2)
        ax.scatter(values[mine], y[mine], color=objective_color(objective) if objective else "k",
                   s=60, marker="D", zorder=3)
        ax.set_yticks(y, [f"{c} ({rank} of {n})" if c == highlight else c for c in values.index],
                      fontsize=8)
        for label in ax.get_yticklabels():
            if label.get_text().startswith(f"{highlight} ("):
                label.set_fontweight("bold")
        if margin:
            ax.axvline(0, color="0.3", lw=0.8, ls=":")
        else:
            ax.set_xlim(left=start)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].figure.tight_layout()
    return axes
