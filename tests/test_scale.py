"""The DN2 scale grid's reading (issue 29): the committed grid files, read and ordered
into the steps from the book's DN2 to the paper's."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mscad.book.scale import PAPER_ROWS, data_steps, distance_steps, grid_table
from mscad.errors import MscadError

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_grid_reads_into_steps_that_add_up():
    grid = grid_table()
    lite0_64 = grid[(grid.backbone == "efficientnet_lite0") & (grid.image_size == 64)].iloc[0]
    assert lite0_64.subset_low < lite0_64.subset < lite0_64.subset_high  # three seeds: an interval
    steps = distance_steps(grid)
    first, data = steps.iloc[0], steps.iloc[1]
    assert first.dn2 == pytest.approx(lite0_64.subset) and data.dn2 == pytest.approx(lite0_64.full)
    assert data.change == pytest.approx(data.dn2 - first.dn2)
    assert data.low <= data.change <= data.high
    resolution = steps[steps.index.str.startswith("+ resolution")]
    # each resolution step is the change from the row before it (Lite0, full data)
    chain = [data.dn2] + list(resolution.dn2)
    assert np.allclose(resolution.change, np.diff(chain))
    # the paper's DN2s, each in its own form: Table 3's normalised (Ang.) DN2 is the book's
    # kind, Table 4's DN2 row is raw (its ResNet column is Table 3's Raw)
    paper = steps.loc[list(PAPER_ROWS)]
    assert paper.dn2.dropna().tolist() == [95.8] and paper.raw.dropna().tolist() == [89.3, 92.5]
    ours = steps.drop(index=list(PAPER_ROWS))
    assert (ours.raw.dropna() < ours.dn2[ours.raw.notna()]).all()  # raw kNN below normalised here
    assert data.raw == pytest.approx(lite0_64.raw)
    gained = data_steps(grid)
    assert gained.loc["lite0 @ 64 px", "change"] == pytest.approx(data.change) == pytest.approx(1.67, abs=0.01)
    assert (gained.low <= gained.change).all() and (gained.change <= gained.high).all()


def test_a_grid_without_the_books_scale_is_refused(tmp_path):
    d = dict(backbone="efficientnet_lite1", image_size=240, mean_auroc=0.9, mean_auroc_raw=0.86,
             mean_auroc_subset={"seed0": 0.89, "seed1": 0.88}, cost=dict(extract_s=1.0, images_per_s=1.0))
    (tmp_path / "efficientnet_lite1-240px.json").write_text(json.dumps(d))
    with pytest.raises(MscadError, match="64 px"):
        distance_steps(grid_table(tmp_path))
    with pytest.raises(MscadError, match="no DN2 grid files"):
        grid_table(tmp_path / "empty")


def test_a_missing_native_lite0_leaves_the_backbone_steps_without_a_change(tmp_path):
    for name, size, full in (("efficientnet_lite0", 64, 0.85), ("efficientnet_lite1", 240, 0.9)):
        d = dict(backbone=name, image_size=size, mean_auroc=full, mean_auroc_raw=0.7,
                 mean_auroc_subset={"seed0": 0.83, "seed1": 0.84}, cost=dict(extract_s=1.0, images_per_s=1.0))
        (tmp_path / f"{name}-{size}px.json").write_text(json.dumps(d))
    steps = distance_steps(grid_table(tmp_path))
    lite1 = steps.loc["backbone: Lite1 at its native 240 px, vs Lite0 at 224"]
    assert lite1.dn2 == pytest.approx(90.0) and np.isnan(lite1.change)


def test_table3_at_full_data_reads_each_run_at_its_validation_chosen_epoch(tmp_path):
    """The committed full-data MSC run on airplane, its validation curve edited so that it
    picks epoch 1 while the test curve is best at epoch 2: the table must report epoch 1's
    test ROC-AUC (chosen without a test image), and DN2 stays at epoch 0."""
    import json
    import shutil

    from mscad.book.scale import margins_beside, validation_chosen
    from mscad.experiment.collect import load_results

    source = ROOT / "results" / "datascale" / "table3" / "efficientnet_lite0"
    for kind, name in (("msc", "airplane-seed0.json"), ("dn2", "airplane-seed0.json")):
        (tmp_path / kind).mkdir()
        shutil.copy(source / kind / name, tmp_path / kind / name)
    run = json.loads((tmp_path / "msc" / "airplane-seed0.json").read_text())
    tests = {h["epoch"]: h["auroc"] for h in run["history"]}
    assert max(tests, key=tests.get) == 2  # the test curve's best epoch
    for h in run["history"]:
        h["val_auroc"] = {0: 0.5, 1: 0.99, 2: 0.6, 3: 0.6}[h["epoch"]]
    (tmp_path / "msc" / "airplane-seed0.json").write_text(json.dumps(run))
    chosen = validation_chosen(load_results(tmp_path)).set_index("objective")
    assert chosen.loc["msc", "chosen_epoch"] == 1
    assert abs(chosen.loc["msc", "auroc"] - 100 * tests[1]) < 1e-9  # epoch 1's test ROC-AUC
    assert chosen.loc["dn2", "chosen_epoch"] == 0
    table = margins_beside(validation_chosen(load_results(tmp_path)), load_results(tmp_path),
                           objectives=("msc", "center"))
    margin = 100 * (tests[1] - tests[0])  # epoch 0 of the MSC run is DN2 on the same images
    assert table.loc["msc", "paper's data"].startswith(f"{margin:+.1f} (one seed); 1 class x 1 seed")
    assert table.loc["center", "paper's data"] == "–"


def _copy_run(source, folder, objective, name, n_train=None):
    import shutil

    (folder / objective).mkdir(parents=True, exist_ok=True)
    target = folder / objective / name
    shutil.copy(source / objective / name, target)
    if n_train is not None:  # the same curve, as if it had run on more images per epoch
        run = json.loads(target.read_text())
        run["data"]["n_train"] = n_train
        target.write_text(json.dumps(run))
    return target


def test_fig5_beside_the_books_scale_compares_like_classes_and_reads_speed_per_step(tmp_path):
    """A full-data folder holding airplane only (the committed 1,000-image MSC and center
    curves relabelled as 5,000 images per epoch): the 1,000-image side is cut to airplane
    too, and the same curve read per 1,000 steps declines five times more slowly at 78
    steps an epoch than at 15, while per epoch the two are equal."""
    from mscad.book.scale import collapse_beside, collapse_speeds

    source = ROOT / "results" / "collapse-cpu" / "efficientnet_lite0"
    full, subset = tmp_path / "full", tmp_path / "subset"
    for objective in ("msc", "center"):
        _copy_run(source, full, objective, "airplane-seed0.json", n_train=5000)
        for name in ("airplane-seed0.json", "bird-seed0.json"):
            _copy_run(source, subset, objective, name)
    curves, note = collapse_beside(full, subset)
    assert note == "mean over 1 class (airplane) that every objective drawn has at both scales, seed 0"
    assert set(curves.classes) == {1}
    speeds = collapse_speeds(curves)
    for objective in ("msc", "center"):
        a = speeds.loc[(objective, "5,000 images (the paper's data)")]
        b = speeds.loc[(objective, "1,000 images (the book's scale)")]
        assert (a.steps_per_epoch, b.steps_per_epoch) == (78, 15)
        assert a.decline_per_epoch == pytest.approx(b.decline_per_epoch)
        if b.decline_per_kstep:
            assert a.decline_per_kstep == pytest.approx(b.decline_per_kstep * 15 / 78)
        # the like-for-like clock: the 300 steps both ran; the 1,000-image run's whole curve,
        # the 5,000-image run's first 300 / 78 epochs of the same curve
        assert a.shared_steps == b.shared_steps == 20 * 15
        assert b.change_in_shared_steps == pytest.approx(b.end - b.start)
        # by hand: step 300 lies between epochs 3 (234 steps) and 4 (312) of the relabelled curve
        stored = {h["epoch"]: 100 * h["auroc"] for h in json.loads(
            (source / objective / "airplane-seed0.json").read_text())["history"]}
        by_hand = stored[3] + (300 - 234) / 78 * (stored[4] - stored[3]) - stored[0]
        assert a.change_in_shared_steps == pytest.approx(by_hand)
    msc = curves[(curves.objective == "msc") & (curves.scale == "full")]
    assert msc.step.max() == 20 * 78 and msc.images.max() == 20 * 78 * 64
    # the 1,000-image side is airplane's own curve, not a mean with bird
    airplane = json.loads((source / "msc" / "airplane-seed0.json").read_text())["history"]
    book = curves[(curves.objective == "msc") & (curves.scale == "subset")].set_index("epoch").auroc
    assert book.to_dict() == pytest.approx({h["epoch"]: 100 * h["auroc"] for h in airplane})
    # the figure: the right panel's lines end at the runs' last step, with images seen on top
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mscad.book.scale import collapse_beside_figure, thousands_of_images

    axes = collapse_beside_figure(curves)
    assert max(line.get_xdata().max() for line in axes[1].lines) == 20 * 78
    assert max(line.get_xdata().max() for line in axes[0].lines) == 20
    assert "batch 64" in axes[1].get_xlabel()
    tops = [a for a in axes[1].child_axes if "images seen" in a.get_xlabel()]
    assert len(tops) == 1
    to_images, to_steps = thousands_of_images(64)
    assert to_images(1560) == pytest.approx(99.84) and to_steps(99.84) == pytest.approx(1560)
    plt.close("all")


def test_fig5_speeds_at_one_scale_or_one_point_say_so_instead_of_inventing_a_clock(tmp_path):
    """Partial data: an objective drawn at one scale has no shared steps (NaN, and its clause
    says it is not measured at both scales); curves scored at epoch 0 alone share 0 steps
    and the clause leaves the shared-steps sentence out."""
    import pandas as pd

    from mscad.book.scale import SCALE_NAMES, collapse_speeds, objective_at_scale

    def curve(scale, epochs, per_epoch):
        return pd.DataFrame(dict(scale=scale, objective="msc", epoch=epochs, step=[e * per_epoch for e in epochs],
                                 images=[e * per_epoch * 64 for e in epochs], auroc=[86.0 - e for e in epochs],
                                 classes=1, seed=0))

    one_scale = curve("full", [0, 2, 4], 78)
    speeds = collapse_speeds(one_scale)
    assert np.isnan(speeds.loc[("msc", SCALE_NAMES["full"]), "shared_steps"])
    clause = objective_at_scale("msc", pd.DataFrame(), pd.DataFrame(), one_scale, name="MSC")["fig5"]
    assert "not measured at both scales" in clause
    start_only = pd.concat([curve("full", [0], 78), curve("subset", [0], 15)])
    assert (collapse_speeds(start_only).shared_steps == 0).all()
    clause = objective_at_scale("msc", pd.DataFrame(), pd.DataFrame(), start_only, name="MSC")["fig5"]
    assert "Over the first" not in clause and "starts at 86.0%" in clause


def test_fig5_beside_keeps_only_the_epochs_both_scales_scored_and_one_setting(tmp_path):
    """Stage F scores every second epoch: a peak taken on the 1,000-image curve's odd
    epochs would lean higher, so only the shared epochs are compared; and runs of another
    learning rate are refused, not averaged in."""
    from mscad.book.scale import collapse_beside

    source = ROOT / "results" / "collapse-cpu" / "efficientnet_lite0"
    full, subset = tmp_path / "full", tmp_path / "subset"
    target = _copy_run(source, full, "msc", "airplane-seed0.json", n_train=5000)
    run = json.loads(target.read_text())
    run["history"] = [h for h in run["history"] if h["epoch"] % 2 == 0]
    target.write_text(json.dumps(run))
    _copy_run(source, subset, "msc", "airplane-seed0.json")
    curves, _ = collapse_beside(full, subset)
    assert set(curves[curves.scale == "subset"].epoch) == set(range(0, 21, 2))
    # a setting a file did not record (written before it was) is unknown, not different:
    # both sides unrecorded, or one side only, are compared on the rest
    book = subset / "msc" / "airplane-seed0.json"
    book_run = json.loads(book.read_text())
    for side, stored in ((target, run), (book, book_run)):
        stored["config"].pop("momentum")
        side.write_text(json.dumps(stored))
        curves, _ = collapse_beside(full, subset)
        assert not curves.empty
    run["config"]["momentum"] = 0.9  # recorded on one side, unknown on the other
    target.write_text(json.dumps(run))
    assert not collapse_beside(full, subset)[0].empty
    book_run["config"]["momentum"] = 0.0  # recorded on both and different: refused
    book.write_text(json.dumps(book_run))
    with pytest.raises(MscadError, match="differ in momentum"):
        collapse_beside(full, subset)
    run["config"]["momentum"] = 0.0
    run["config"]["lr"] = 0.01
    target.write_text(json.dumps(run))
    with pytest.raises(MscadError, match="differ in lr"):
        collapse_beside(full, subset)


def test_margins_at_both_scales_are_paired_on_the_same_classes_and_seeds(tmp_path):
    """Stage T's MSC has fewer classes than its DN2 while it runs: the book's side of every
    comparison is cut to the classes and seeds where the paper's data has MSC and DN2, so
    the two margins differ by the data and the protocol, not by which classes they average."""
    from mscad.book.scale import (
        full_data_evidence,
        full_table3,
        margins_beside,
        margins_by_class,
        objective_at_scale,
    )
    from mscad.experiment.collect import load_results
    from mscad.experiment.stats import margin_interval

    source = ROOT / "results" / "datascale" / "table3" / "efficientnet_lite0"
    for name in ("airplane-seed0.json", "bird-seed0.json"):
        _copy_run(source, tmp_path, "msc", name)
    for name in ("airplane-seed0.json", "bird-seed0.json", "cat-seed0.json"):
        _copy_run(source, tmp_path, "dn2", name)
    full = full_table3(tmp_path)
    _, sweep, _, _ = full_data_evidence()
    said = objective_at_scale("msc", full, sweep, name="MSC")
    two = sweep[sweep.normal_class.isin(["airplane", "bird"]) & (sweep.seed == 0)]
    expected = margin_interval(two[two.objective == "msc"], two[two.objective == "dn2"])
    assert said["table3_subset"]["classes"] == 2 and said["table3_subset"]["mean"] == pytest.approx(expected["mean"])
    assert said["table3_full"]["classes"] == 2 and said["table3"].startswith("MSC's margin over DN2 is ")
    assert "2 classes x 1 seed" in said["table3"] and "10,000 test images" in said["table3"]
    table = margins_beside(full, sweep)
    assert table.loc["msc", "cpu subset, same classes and seeds"].endswith("2 classes x 1 seed")
    assert table.loc["msc", "cpu subset, all"].endswith("10 classes x 3 seeds")
    by_class = margins_by_class(full, sweep)
    assert set(by_class.normal_class) == {"airplane", "bird"}
    assert by_class.change.to_numpy() == pytest.approx((by_class.full - by_class.subset).to_numpy())
    # a missing sweep or objective is said, never a crash
    empty = objective_at_scale("msc", full, sweep.iloc[:0], name="MSC")
    assert "no run on the same classes and seeds" in empty["table3"]
    absent = objective_at_scale("center", full, sweep, name="the center loss")
    assert absent["table3"].startswith("the center loss is not measured yet")
    assert absent["fig5"].startswith("the center loss is not measured yet")


def test_fig5_beside_says_when_there_is_nothing_to_compare(tmp_path):
    from mscad.book.scale import collapse_beside, full_table3

    curves, note = collapse_beside(tmp_path / "none", ROOT / "results" / "collapse-cpu")
    assert curves.empty and "no finished full-data Fig. 5 run" in note
    source = ROOT / "results" / "collapse-cpu" / "efficientnet_lite0"
    _copy_run(source, tmp_path / "full", "msc", "airplane-seed0.json", n_train=5000)
    _copy_run(source, tmp_path / "subset", "msc", "bird-seed0.json")
    curves, note = collapse_beside(tmp_path / "full", tmp_path / "subset")
    assert curves.empty and "share no class" in note
    assert full_table3(tmp_path / "none").empty


def test_datascale_report_prints_the_three_tables_the_closing_note_needs(tmp_path):
    """experiments/datascale_report.py on the committed results: the grid, Table 3's
    margins (the same cells the chapter's table has) and Fig. 5's speeds per scale."""
    import subprocess
    import sys

    from mscad.book.scale import full_data_evidence, margins_beside

    out = tmp_path / "report.md"
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "datascale_report.py"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.strip() == done.stdout.strip()
    for heading in ("## The DN2 grid", "## Table 3 at the paper's data", "## Fig. 5 at the paper's data"):
        assert heading in text
    full, subset, curves, note = full_data_evidence()
    cell = margins_beside(full, subset).loc["msc", "paper's data"]
    assert cell != "–" and cell in text  # stage T's seed 0 is committed
    assert note.rstrip(".") in text and ".." not in text
    assert not curves.empty and "msc, 5,000 images (the paper's data)" in text  # stage F's airplane is committed


def test_table3_at_full_data_waits_for_a_seed_to_have_every_class(tmp_path):
    """Seed 1 of stage T landing class by class: until it has every class seed 0 has, its
    runs are left out (a margin paired by class and seed would otherwise be taken over the
    one class seed 1 has finished); DN2's seed 1, complete, stays."""
    from mscad.book.scale import full_table3, margins_beside

    source = ROOT / "results" / "datascale" / "table3" / "efficientnet_lite0"

    def seed1(objective, name):  # seed 0's run, relabelled as seed 1's
        run = json.loads((source / objective / f"{name}-seed0.json").read_text())
        run["config"]["seed"] = 1
        (tmp_path / objective / f"{name}-seed1.json").write_text(json.dumps(run))

    for objective in ("msc", "dn2"):
        for name in ("airplane-seed0.json", "bird-seed0.json"):
            _copy_run(source, tmp_path, objective, name)
    for objective, names in (("msc", ["airplane"]), ("dn2", ["airplane", "bird"])):
        for name in names:
            seed1(objective, name)
    full = full_table3(tmp_path)
    assert sorted(full[full.objective == "msc"].seed.unique()) == [0]
    assert sorted(full[full.objective == "dn2"].seed.unique()) == [0, 1]
    assert margins_beside(full, full.iloc[:0]).loc["msc", "paper's data"].endswith("2 classes x 1 seed")
    seed1("msc", "bird")  # seed 1 finishes: both seeds count, on both classes
    full = full_table3(tmp_path)
    assert sorted(full[full.objective == "msc"].seed.unique()) == [0, 1]
    assert margins_beside(full, full.iloc[:0]).loc["msc", "paper's data"].endswith("2 classes x 2 seeds")
    # seeds begun on different classes (seed 1 has bird, seed 0 lost it): the fuller seed is read
    bird = tmp_path / "msc" / "bird-seed0.json"
    kept = bird.read_text()
    bird.unlink()
    (tmp_path / "msc" / "airplane-seed1.json").unlink()
    seeds = full_table3(tmp_path).query("objective == 'msc'").seed.unique()
    assert list(seeds) == [0]  # a tie (one class each): the first seed
    seed1("msc", "airplane")
    assert list(full_table3(tmp_path).query("objective == 'msc'").seed.unique()) == [1]
    bird.write_text(kept)
    # a run of another setting in the folder: kept, and the margin refuses to average it
    run = json.loads((tmp_path / "msc" / "bird-seed1.json").read_text())
    run["config"]["image_size"] = 128
    (tmp_path / "msc" / "bird-seed1.json").write_text(json.dumps(run))
    assert margins_beside(full_table3(tmp_path), full.iloc[:0]).loc["msc", "paper's data"] == "–"


def test_fig5_beside_averages_every_objective_over_the_same_classes(tmp_path):
    """Stage F mid-class: MSC has finished bird, the center loss has not. Both objectives'
    curves are then the mean over airplane alone, so the figure and the speeds compare
    the objectives on the same classes, and the note names them."""
    from mscad.book.scale import collapse_beside

    source = ROOT / "results" / "collapse-cpu" / "efficientnet_lite0"
    full, subset = tmp_path / "full", tmp_path / "subset"
    for objective, names in (("msc", ["airplane", "bird"]), ("center", ["airplane"])):
        for name in names:
            _copy_run(source, full, objective, f"{name}-seed0.json", n_train=5000)
    for objective in ("msc", "center"):
        for name in ("airplane", "bird"):
            _copy_run(source, subset, objective, f"{name}-seed0.json")
    curves, note = collapse_beside(full, subset)
    assert set(curves.classes) == {1} and "(airplane)" in note
    airplane = json.loads((source / "msc" / "airplane-seed0.json").read_text())["history"]
    msc = curves[(curves.objective == "msc") & (curves.scale == "full")].set_index("epoch").auroc
    assert msc.to_dict() == pytest.approx({h["epoch"]: 100 * h["auroc"] for h in airplane})
    _copy_run(source, full, "center", "bird-seed0.json", n_train=5000)  # the class lands
    curves, note = collapse_beside(full, subset)
    assert set(curves.classes) == {2} and "(airplane, bird)" in note
    # the chapters' clause names the classes while only some have landed
    from mscad.book.scale import objective_at_scale

    clause = objective_at_scale("msc", pd.DataFrame(), pd.DataFrame(), curves, name="MSC")["fig5"]
    assert clause.startswith("at the paper's data (2 classes: airplane, bird; seed 0) MSC starts at")
    # an objective with no class at both scales yet is not drawn, and the note names it
    _copy_run(source, full, "contrastive", "cat-seed0.json", n_train=5000)
    curves, note = collapse_beside(full, subset)
    assert set(curves.objective) == {"msc", "center"} and note.endswith("at both scales: contrastive")
    # objectives that each share a class with the book but none with each other: said
    for name in ("airplane", "bird"):
        (full / "center" / f"{name}-seed0.json").unlink()
    _copy_run(source, full, "center", "cat-seed0.json", n_train=5000)
    _copy_run(source, subset, "center", "cat-seed0.json")
    (full / "msc" / "airplane-seed0.json").unlink()
    (full / "msc" / "bird-seed0.json").unlink()
    _copy_run(source, full, "msc", "airplane-seed0.json", n_train=5000)
    curves, note = collapse_beside(full, subset)
    assert curves.empty and "share no class at both scales yet (center: cat; msc: airplane)" in note


def test_fig5_beside_says_all_classes_when_every_class_is_there():
    from mscad.book.scale import collapse_beside

    folder = ROOT / "results" / "collapse-cpu"  # the book's curves beside themselves: ten classes
    curves, note = collapse_beside(folder, folder)
    assert note == "mean over all 10 classes (every objective drawn at both scales), seed 0"
    from mscad.book.scale import collapse_speeds, objective_at_scale

    clause = objective_at_scale("contrastive", pd.DataFrame(), pd.DataFrame(), curves)["fig5"]
    assert clause.startswith("at the paper's data (10 classes, seed 0) contrastive starts at")
    # a curve whose best point is its start says so, not "peaks at its start (epoch 0)"
    speeds = collapse_speeds(curves).loc["contrastive"].iloc[0]
    assert speeds.peak_epoch == 0 and "never rises above its start" in clause
    assert "from its start it falls" in clause and "from its peak" not in clause


def _curve(objective, scale, values, steps_per_epoch, **extra):
    return pd.DataFrame(dict(scale=scale, objective=objective, epoch=range(len(values)),
                             step=[e * steps_per_epoch for e in range(len(values))],
                             images=[64 * e * steps_per_epoch for e in range(len(values))],
                             auroc=values, classes=2, **extra))


def test_the_fig5_clause_reads_each_shape_of_curve_by_its_anchor():
    """A curve that peaks later falls "from its peak"; one whose best point is its start
    "never rises above its start" and falls "from its start"; one that ends on its peak
    "does not fall"; the classes are named while only some have landed, and a curve
    without a seed column leaves no stray separator."""
    from mscad.book.scale import objective_at_scale

    def clause(full_values, **extra):
        curves = pd.concat([_curve("msc", "full", full_values, 78, **extra),
                            _curve("msc", "subset", [80.0, 81.0, 79.0], 15, **extra)])
        return objective_at_scale("msc", pd.DataFrame(), pd.DataFrame(), curves, name="MSC")["fig5"]

    named = dict(seed=0, class_names="airplane, bird")
    later_peak = clause([80.0, 84.0, 82.0], **named)
    assert later_peak.startswith("at the paper's data (2 classes: airplane, bird; seed 0) MSC starts at 80.0%, "
                                 "peaks at 84.0% (epoch 1) and ends at 82.0%")
    # 2 points over the 78 steps after the peak: 25.64 per 1,000 steps, 2.00 per epoch
    assert "from its peak it falls 25.64 points per 1,000 steps (2.00 per epoch)" in later_peak
    at_start = clause([85.0, 84.0, 81.0], seed=0, class_names="")
    assert at_start.startswith("at the paper's data (2 classes, seed 0) MSC starts at 85.0%, never rises above")
    assert "from its start it falls 25.64 points per 1,000 steps (2.00 per epoch)" in at_start
    rising = clause([80.0, 81.0, 82.0])
    assert rising.startswith("at the paper's data (2 classes) MSC starts at 80.0%, rises to its last point")
    assert "it does not fall from its peak, against" in rising


def test_the_coverage_sentence_names_every_planned_run_that_did_not_run(tmp_path, monkeypatch):
    """The chapters say what the paper-data stages cut, computed from the folders: a Fig. 5
    class counts once every objective has it, a missing seed or stage is named, and the
    hours are the runs' own clocks summed."""
    from mscad.book.scale import datascale_coverage

    monkeypatch.setenv("MSCAD_RESULTS", str(tmp_path))
    source = ROOT / "results" / "collapse-cpu" / "efficientnet_lite0"
    collapse = tmp_path / "datascale" / "collapse"
    copied = [_copy_run(source, collapse, o, "airplane-seed0.json", n_train=5000)
              for o in ("msc", "contrastive", "center")]
    copied.append(_copy_run(source, collapse, "msc", "bird-seed0.json", n_train=5000))  # bird in flight
    table, said = datascale_coverage()
    assert table.loc["collapse", "runs"] == 4 and table.loc["table3", "runs"] == 0
    hours = sum(json.loads(p.read_text())["wall_s"] for p in copied) / 3600
    assert table.hours.sum() == pytest.approx(hours)
    assert f"took {hours:.1f} hours" in said and "DN2 grid's feature extraction" not in said
    # the grid's extraction is counted once its files are there (extract_s summed)
    grid = tmp_path / "dn2-grid"
    grid.mkdir()
    for name, seconds in (("a.json", 1800.0), ("b.json", 5400.0)):
        (grid / name).write_text(json.dumps({"cost": {"extract_s": seconds}}))
    assert "the DN2 grid's feature extraction at least 2.0 hours more" in datascale_coverage()[1]
    for name in ("a.json", "b.json"):
        (grid / name).unlink()
    assert ("Fig. 5's seed 0 on 9 of its 10 classes (automobile, bird, cat, deer, dog, frog, horse, "
            "ship, truck); Fig. 5's seed 1; MSC and DN2 at Lite0's native 224 px (stage N)") in said
    # no Table 3 run in this folder: each of its planned seeds is named as not run
    assert "Table 3's seed 0; Table 3's seed 1; Table 3's seed 2; Fig. 5's seed 0" in said
    # the 224 px stage lands: it is no longer named as cut
    grid.rmdir()
    _copy_run(source, tmp_path / "datascale" / "native224", "msc", "airplane-seed0.json")
    table, said = datascale_coverage()
    assert table.loc["native224", "runs"] == 1 and "stage N" not in said and "seed 1" in said
