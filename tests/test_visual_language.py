"""One visual language across the book's figures (issue 33): an objective keeps its colour
in every figure, normal/anomalous images have colours no objective uses, and settings of
one objective differ by style, not colour."""
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import rgb_to_hsv, to_rgb  # noqa: E402

from mscad.book import plots  # noqa: E402
from mscad.objectives import OBJECTIVES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(objective, values=(0.8, 0.7, 0.6)):
    return {"config": {"objective": objective},
            "history": [{"epoch": e, "auroc": v, "dist_normal": 1 + v, "dist_anomalous": 2 + v,
                         "spread": v} for e, v in enumerate(values)]}


def same(a, b):
    return np.allclose(to_rgb(a), to_rgb(b))


def test_no_objective_shares_a_colour_with_another_or_with_the_image_colours():
    colours = [o.color for o in OBJECTIVES.values()]
    reserved = [plots.NORMAL_COLOR, plots.ANOMALOUS_COLOR, plots.PAPER_COLOR]
    for i, a in enumerate(colours + reserved):
        for b in (colours + reserved)[i + 1:]:
            assert not same(a, b), (a, b)


def test_curves_colour_by_objective_and_style_by_setting():
    ax = plots.curves({"MSC, lr 1e-3": run("msc"), "MSC, from scratch": run("msc"),
                       "contrastive": run("contrastive")})
    first, second, other = ax.get_lines()
    assert same(first.get_color(), OBJECTIVES["msc"].color)
    assert same(second.get_color(), OBJECTIVES["msc"].color)
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_marker() != second.get_marker()
    assert same(other.get_color(), OBJECTIVES["contrastive"].color)
    plt.close("all")


def test_a_label_names_its_objective():
    read = plots.objective_in_label
    assert read("angular-center (validation-chosen)") == "angular-center"  # not "center"
    assert read("contrastive, MSC's optimizer (lr 0.001)") == "contrastive"
    assert read("DN2 (pretrained)") == "dn2" and read("MSC + angular") == "msc-angular"
    assert read("after 20 epochs") is None and read("uncentered features") is None
    assert read("MSC - DN2, points") == "msc" and read("DN2 - MSC") == "dn2"  # the first named
    assert read("mean-shifted contrastive (MSC)") == "msc"


def test_roc_and_histograms_use_the_shared_colours():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(50), np.ones(50)]
    scores = {"DN2 (pretrained)": rng.normal(size=100) + labels, "MSC": rng.normal(size=100) + 2 * labels}
    axes = plots.roc_panels(scores, labels)
    roc_lines = axes[0].get_lines()[1:]  # the first is the chance diagonal
    assert [same(line.get_color(), OBJECTIVES[o].color) for line, o in zip(roc_lines, ("dn2", "msc"))] == [True, True]
    hist = plots.score_histograms(scores["MSC"], labels)
    faces = [c[:3] for coll in hist.collections for c in coll.get_facecolor()]
    assert any(np.allclose(f, to_rgb(plots.NORMAL_COLOR)) for f in faces)
    assert any(np.allclose(f, to_rgb(plots.ANOMALOUS_COLOR)) for f in faces)
    assert not any(np.allclose(f, to_rgb(o.color)) for f in faces for o in OBJECTIVES.values())
    plt.close("all")


def test_settings_of_one_objective_keep_its_hue_where_line_style_means_something_else():
    axes = plots.collapse_panels({"center, chosen lr": run("center"), "center, PANDA's lr": run("center"),
                                  "center, clipped": run("center")})
    colours = [line.get_color() for line in axes[1].get_lines()]
    hue = rgb_to_hsv(to_rgb(OBJECTIVES["center"].color))[0]
    assert len({tuple(np.round(to_rgb(c), 3)) for c in colours}) == 3  # told apart
    assert all(abs(rgb_to_hsv(to_rgb(c))[0] - hue) < 0.02 for c in colours)  # all orange
    plt.close("all")


def test_the_figure_key_shows_every_objective_and_the_glossary_names_its_colours():
    fig = plots.figure_key()
    labels = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert all(o.label in labels for o in OBJECTIVES.values())
    assert {"normal images", "anomalous images", "the paper's number"} <= set(labels)
    plt.close(fig)
    key = (ROOT / "book" / "glossary.md").read_text().split("## How to read the figures")[1]
    words = set(re.findall(r"[a-z]+", key.lower()))
    for o in OBJECTIVES.values():
        word = o.color.removeprefix("tab:")
        assert word in words, (o.name, word)  # a whole word ("red", not "measured")
    assert (ROOT / "book" / "images" / "figure_key.png").exists()


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("0*.ipynb")), ids=lambda p: p.name)
def test_no_chapter_picks_its_own_colours(path):
    """Colours come from the one map: a chapter may draw grey reference lines, nothing
    else by name."""
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "".join(cell["source"])
        for m in re.finditer(r"colou?r=(\"[^\"]*\"|'[^']*')", code):
            value = m.group(1).strip("\"'")
            assert re.fullmatch(r"0?\.\d+|gray|grey", value), (path.name, m.group(0))
        assert not re.search(r"palette\s*=\s*[\"']", code), path.name


def test_class_values_pair_seeds_and_rank_counts_from_the_top():
    import pandas as pd

    from mscad.errors import MscadError
    from mscad.experiment.stats import class_rank, class_values

    rows = [dict(objective=o, normal_class=c, seed=s, auroc=v + s)
            for o, base in (("msc", {"a": 90, "b": 80, "c": 85}), ("dn2", {"a": 89, "b": 70, "c": 86}))
            for c, v in base.items() for s in (0, 1)]
    rows = [r for r in rows if not (r["objective"] == "dn2" and r["normal_class"] == "a" and r["seed"] == 1)]
    results = pd.DataFrame(rows)
    auc = class_values(results, "msc")
    assert auc.to_dict() == {"a": 90.5, "b": 80.5, "c": 85.5}  # mean over seeds
    margin = class_values(results, "msc", "dn2")
    # msc - dn2, not reversed; paired by seed: class a has dn2 for seed 0 only, so its
    # margin is seed 0's (90 - 89), where unpaired means would give 90.5 - 89 = 1.5
    assert margin.to_dict() == {"a": 1.0, "b": 10.0, "c": -1.0}
    assert class_rank(margin, "b") == (1, 3) and class_rank(margin, "c") == (3, 3)
    with pytest.raises(MscadError, match="'horse' is not among"):
        class_rank(margin, "horse")
    with pytest.raises(MscadError, match="no results for the baseline 'center'"):
        class_values(results, "msc", "center")
    axes = plots.class_strip({"MSC - DN2, points": (margin, "msc")}, "b")
    bold = [t.get_text() for t in axes[0].get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == ["b (1 of 3)"]
    plt.close("all")
