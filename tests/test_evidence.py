"""The evidence machinery: a validation split that never reads test images, learning
rates chosen on it, seeds in sweeps, intervals and ordering claims counted across seeds,
and the mechanism statistics around the center c."""
import json

import numpy as np
import pytest

from mscad import data as data_module
from mscad.cli import main
from mscad.errors import MscadError
from mscad.metrics import around, uniformity, uniformity_loss
from mscad.report import interval, load_results, lr_selection, ordering_summary, seed_table


def test_validation_split_reads_no_test_image_and_holds_out_train_images(folder_dataset, monkeypatch):
    real = data_module.load_split
    asked = []

    def spy(dataset, split, image_size=224):
        asked.append(split)
        return real(dataset, split, image_size)

    monkeypatch.setattr(data_module, "load_split", spy)
    d = data_module.one_class_data(str(folder_dataset), "circle", image_size=24, train_limit=4,
                                   evaluate_on="validation", seed=0)
    assert asked == ["train"]  # the test split is never opened
    assert d.evaluate_on == "validation" and "validation" in d.summary()
    # 6 circles in train: 4 train, the other 2 are the validation normals; 12 other images
    assert len(d.train) == 4 and len(d.test) == 2 + 12
    assert (d.test_labels == 0).sum() == 2 and (d.test_labels == 1).sum() == 12
    assert set(d.test_classes[d.test_labels == 0]) == {d.classes.index("circle")}
    # no validation image is a training image (generated images are all distinct)
    train = {bytes(x.numpy()) for x in d.train}
    assert not any(bytes(x.numpy()) in train for x in d.test)


def test_validation_split_needs_held_out_normal_images(folder_dataset):
    with pytest.raises(MscadError, match="train-limit below 6"):
        data_module.one_class_data(str(folder_dataset), "circle", image_size=24, evaluate_on="validation")
    with pytest.raises(MscadError, match="evaluate_on"):
        data_module.one_class_data(str(folder_dataset), "circle", image_size=24, evaluate_on="train")


def test_validation_multi_class_uses_the_anomalous_class_train_images(folder_dataset):
    d = data_module.one_class_data(str(folder_dataset), anomalous_class="noise", image_size=24,
                                   train_limit=8, evaluate_on="validation")
    assert len(d.train) == 8 and (d.test_labels == 1).sum() == 6  # noise's 6 train images
    assert (d.test_labels == 0).sum() == 12 - 8


def write(folder, objective, cls, seed, auroc, **config):
    path = folder / objective / f"{cls}-seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    c = dict(dataset="cifar10", backbone="efficientnet_lite0", objective=objective, profile="cpu",
             normal_class=cls, anomalous_class=None, epochs=0 if objective == "dn2" else 10,
             image_size=64, seed=seed, **config)
    history = ([dict(epoch=0, auroc=auroc)] if c["epochs"] == 0
               else [dict(epoch=0, auroc=0.5), dict(epoch=c["epochs"], auroc=auroc)])
    path.write_text(json.dumps(dict(auroc=auroc, config=c, target_class=cls, history=history)))


def test_lr_selection_picks_the_best_mean_and_refuses_test_results(tmp_path):
    for lr, aurocs in ((1e-3, (0.80, 0.70)), (1e-4, (0.78, 0.74))):
        for cls, a in zip(("airplane", "bird"), aurocs):
            write(tmp_path / f"lr{lr}", "msc", cls, 0, a, lr=lr, evaluate_on="validation")
    table = lr_selection(load_results(tmp_path))
    assert table.loc[("msc", 1e-4, 10), "chosen"] and not table.loc[("msc", 1e-3, 10), "chosen"]
    assert table.loc[("msc", 1e-3, 10), "validation_auroc"] == pytest.approx(75.0)  # 76 > 75
    write(tmp_path / "test", "msc", "airplane", 1, 0.9, lr=1e-2)  # evaluate_on absent = test
    with pytest.raises(MscadError, match="test images"):
        lr_selection(load_results(tmp_path))


def test_selection_chooses_the_training_length_with_the_rate(tmp_path):
    # a run evaluated at epochs 5 and 10 stands for a 5-epoch and a 10-epoch run
    for lr, curves in ((1e-3, ((0.82, 0.79), (0.72, 0.70))), (1e-4, ((0.80, 0.81), (0.71, 0.72)))):
        for cls, (at5, at10) in zip(("airplane", "bird"), curves):
            write(tmp_path / f"lr{lr}", "msc", cls, 0, at10, lr=lr, evaluate_on="validation")
            path = tmp_path / f"lr{lr}" / "msc" / f"{cls}-seed0.json"
            r = json.loads(path.read_text())
            r["history"] = [dict(epoch=0, auroc=0.6), dict(epoch=5, auroc=at5),
                            dict(epoch=10, auroc=at10)]
            path.write_text(json.dumps(r))
    table = lr_selection(load_results(tmp_path))
    assert len(table) == 4  # 2 rates x 2 lengths; epoch 0 (DN2) is not a candidate
    assert table[table.chosen].index.tolist() == [("msc", 1e-3, 5)]  # 77 beats 76.5
    assert table.loc[("msc", 1e-4, 10), "validation_auroc"] == pytest.approx(76.5)


def test_interval_is_students_t():
    mean, low, high = interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert high - mean == pytest.approx(4.3027 / np.sqrt(3), rel=1e-3)  # t(0.975, 2) * sd / sqrt(n)
    assert np.isnan(interval([5.0])[1])


MARGINS = {  # seed -> class -> (dn2, contrastive, msc): contrastive below DN2 fails on bird in seed 2
    0: {"airplane": (80, 75, 85), "bird": (70, 65, 72)},
    1: {"airplane": (81, 76, 84), "bird": (71, 66, 73)},
    2: {"airplane": (79, 77, 86), "bird": (70, 72, 71)},
}


def seeded_results(folder):
    for seed, rows in MARGINS.items():
        for cls, (dn2, con, msc) in rows.items():
            for objective, a in (("dn2", dn2), ("contrastive", con), ("msc", msc), ("center", 60),
                                 ("msc-angular", msc - 1)):
                write(folder, objective, cls, seed, a / 100)
    return load_results(folder)


def test_orderings_are_counted_in_every_seed_with_an_interval(tmp_path):
    summary = ordering_summary(seeded_results(tmp_path))
    row = summary.loc["contrastive below DN2"]
    assert row["classes where it holds in every seed"] == 1  # airplane; bird reverses in seed 2
    assert row["in no seed"] == 0 and row["classes"] == 2 and row["seeds"] == 3
    per_seed = [(5 + 5) / 2, (5 + 5) / 2, (2 - 2) / 2]
    assert row["mean margin"] == pytest.approx(np.mean(per_seed))
    assert (row["95% low"], row["95% high"]) == pytest.approx(interval(per_seed)[1:])
    assert summary.loc["MSC above DN2", "classes where it holds in every seed"] == 2


def test_seed_table_shows_spread_and_the_interval_of_the_mean(tmp_path):
    table = seed_table(seeded_results(tmp_path), "cifar10")
    assert table.loc["airplane", "dn2 (ours)"] == "80.0 ± 1.0"
    mean_row = table.loc["mean [95% interval]", "msc (ours)"]
    m, lo, hi = interval([(85 + 72) / 2, (84 + 73) / 2, (86 + 71) / 2])
    assert mean_row == f"{m:.1f} [{lo:.1f}, {hi:.1f}]"


def test_sweep_seeds_name_files_and_refuse_conflicts(folder_dataset, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--dataset", str(folder_dataset), "--classes", "circle", "--objectives", "dn2",
            "--image-size", "32", "--profile", "quick", "--quiet", "--out-dir", str(out)]
    assert main(args + ["--seeds", "0,3"]) == 0
    files = sorted(p.name for p in out.rglob("*.json"))
    assert files == ["circle-seed0.json", "circle-seed3.json"]
    assert json.loads((out / "efficientnet_lite0" / "dn2" / "circle-seed3.json").read_text())["config"]["seed"] == 3
    assert main(args + ["--seeds", "0,1", "--seed", "2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(args + ["--seeds", "a,b"]) == 2


def test_uniformity_around_the_center():
    rng = np.random.default_rng(0)
    c0 = np.zeros(16)
    c0[0] = 1.0
    features = c0 + 0.3 * rng.normal(size=(400, 16))  # a cap around one direction
    assert uniformity(features) > 0.3  # around the origin: all in one cap
    center = (features / np.linalg.norm(features, axis=1, keepdims=True)).mean(axis=0)
    assert abs(uniformity(around(features, center))) < 0.05  # around c: spread evenly
    assert uniformity_loss(around(features, center)) < uniformity_loss(features) - 1
    assert uniformity_loss(np.ones((5, 3))) == pytest.approx(0.0)  # one point: not uniform at all
    assert uniformity_loss(np.eye(8)) == pytest.approx(-4.0)  # orthogonal: |u - v|^2 = 2


def test_arc_span_does_not_wrap_at_180_degrees():
    from mscad.plots import arc_span

    assert arc_span(np.radians([170, -170])) == pytest.approx(20)  # max - min would say 340
    assert arc_span(np.radians([-30, 0, 40])) == pytest.approx(70)
    assert arc_span(np.radians([0, 90, 180, 270])) == pytest.approx(270)


def test_a_running_sweep_shows_only_its_finished_seeds(tmp_path):
    results = seeded_results(tmp_path)
    partial = results[~((results.seed == 2) & (results.objective == "msc")
                        & (results.normal_class == "bird"))]
    from mscad.report import complete_seeds, sweep_beside

    assert complete_seeds(results) == [0, 1, 2]
    assert complete_seeds(partial) == [0, 1]
    assert complete_seeds(partial, ["dn2", "contrastive"]) == [0, 1, 2]
    table = sweep_beside(partial, ["dn2", "msc"])
    assert table.loc["airplane", "msc (ours)"] == "84.5 ± 0.7"  # seeds 0 and 1 only


def test_margin_interval_and_verdict(tmp_path):
    from mscad.report import margin_interval, verdict

    r = seeded_results(tmp_path)
    m = margin_interval(r[r.objective == "msc"], r[r.objective == "dn2"])
    per_seed = [(5 + 2) / 2, (3 + 2) / 2, (7 + 1) / 2]
    assert m["mean"] == pytest.approx(np.mean(per_seed)) and m["seeds"] == 3 and m["classes"] == 2
    assert (m["low"], m["high"]) == pytest.approx(interval(per_seed)[1:])
    assert verdict(m) == "holds"
    assert verdict(dict(low=-1.0, high=2.0)) == "unresolved"
    assert verdict(dict(low=-3.0, high=-1.0)) == "reversed"
    assert verdict(dict(low=float("nan"), high=float("nan"))).startswith("unresolved")


def test_objective_intervals_are_over_seed_means(tmp_path):
    from mscad.report import objective_intervals

    table = objective_intervals(seeded_results(tmp_path))
    msc_per_seed = [(85 + 72) / 2, (84 + 73) / 2, (86 + 71) / 2]
    assert table.loc["msc", "mean"] == pytest.approx(np.mean(msc_per_seed))
    assert table.loc["msc", "95% high"] == pytest.approx(interval(msc_per_seed)[2])
    assert table.loc["msc", "seeds"] == 3 and table.loc["msc", "classes"] == 2


def test_finished_seeds_of_a_sweep_not_there_or_running(tmp_path, monkeypatch):
    from mscad.report import finished_seeds_of

    monkeypatch.setenv("MSCAD_RESULTS", str(tmp_path))
    empty, status = finished_seeds_of("sweep", ["dn2", "msc"])
    assert empty.empty and "not committed yet" in status
    results = seeded_results(tmp_path / "sweep")
    (tmp_path / "sweep" / "msc" / "bird-seed2.json").unlink()
    done, status = finished_seeds_of("sweep", ["dn2", "msc"])
    assert sorted(done.seed.unique()) == [0, 1] and "2 seeds" in status
    assert set(done.objective) == {"dn2", "msc"} and len(results) > len(done)


def test_table_of_a_running_sweep_shows_its_finished_seeds(tmp_path, capsys):
    seeded_results(tmp_path)
    (tmp_path / "msc" / "bird-seed2.json").unlink()  # seed 2 still running
    assert main(["table", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 seeds" in out and "holds in every seed" in out
    for f in tmp_path.rglob("*-seed[12].json"):
        f.unlink()
    (tmp_path / "msc" / "bird-seed0.json").unlink()  # one seed, not even finished
    assert main(["table", str(tmp_path)]) == 0
    assert "seed 0" in capsys.readouterr().out


def test_results_of_two_settings_are_never_pooled_into_one_interval(tmp_path):
    from mscad.report import seed_means

    seeded_results(tmp_path)
    write(tmp_path / "tau", "msc", "airplane", 0, 0.9, temperature=0.5)  # another scale
    with pytest.raises(MscadError, match="scales"):
        seed_means(load_results(tmp_path))
    (tmp_path / "tau" / "msc" / "airplane-seed0.json").unlink()
    write(tmp_path / "lr", "msc", "airplane", 0, 0.9, lr=0.5)  # same scale, another lr
    with pytest.raises(MscadError, match="other settings"):
        seed_means(load_results(tmp_path))


def test_the_cpu_profile_uses_the_validation_chosen_learning_rates_and_epochs():
    from pathlib import Path

    from mscad.config import PROFILES

    chosen = json.loads((Path(__file__).resolve().parents[1] / "results" / "selection-cpu"
                         / "CHOSEN.json").read_text())
    assert PROFILES["cpu"]["lr_by_objective"] == chosen["lr"]
    assert "validation" in chosen["protocol"]
    assert PROFILES["gpu"]["lr_by_objective"] == chosen["lr"]  # the gpu lesson uses them too
    # one training length for all: if the objectives' chosen lengths ever differ, the
    # profiles need an epochs_by_objective
    assert set(chosen["epochs"].values()) == {PROFILES["cpu"]["epochs"]}
    assert PROFILES["gpu"]["epochs"] == PROFILES["cpu"]["epochs"]


def test_a_seed_begun_on_a_few_classes_is_not_finished(tmp_path):
    from mscad.report import complete_seeds

    results = seeded_results(tmp_path)  # airplane and bird, every objective, seeds 0-2
    assert complete_seeds(results) == [0, 1, 2]
    # against the data set's whole class list, no seed has every class
    assert complete_seeds(results, classes=["airplane", "bird", "cat"]) == []
    write(tmp_path, "dn2", "cat", 0, 0.8)
    write(tmp_path, "msc", "cat", 0, 0.9)
    cat = load_results(tmp_path)
    assert complete_seeds(cat, ["dn2", "msc"], classes=["airplane", "bird", "cat"]) == [0]


def test_the_status_names_only_the_objective_that_holds_the_seeds_back(tmp_path, monkeypatch):
    from mscad.collect import finished_seeds_of

    seeded_results(tmp_path / "runs")
    write(tmp_path / "runs", "dn2", "cat", 0, 0.8)  # dn2 has cat, center does not
    monkeypatch.setenv("MSCAD_RESULTS", str(tmp_path))
    part, status = finished_seeds_of("runs", ["dn2", "center"], classes=["airplane", "bird", "cat"])
    assert part.empty and status.endswith("no finished seed of center yet")


def test_margin_across_a_named_setting_pairs_class_and_seed(tmp_path):
    from mscad.report import format_margin, margin_interval

    for seed in (0, 1):
        for cls, (low, high) in {"airplane": (0.80, 0.83), "bird": (0.70, 0.71)}.items():
            write(tmp_path / "t25", "msc", cls, seed, low + seed / 100, temperature=0.25)
            write(tmp_path / "t50", "msc", cls, seed, high + seed / 100, temperature=0.5)
    a, b = load_results(tmp_path / "t50"), load_results(tmp_path / "t25")
    with pytest.raises(MscadError, match="mix"):
        margin_interval(a, b)  # two temperatures are two settings
    m = margin_interval(a, b, across=("temperature",))
    assert m["mean"] == pytest.approx((3 + 1) / 2) and m["classes"] == 2 and m["seeds"] == 2
    assert m["low"] == pytest.approx(m["high"])  # the same margin in both seeds
    write(tmp_path / "e5", "msc", "airplane", 0, 0.8, temperature=0.5, train_limit=200)
    with pytest.raises(MscadError, match="more than temperature"):
        margin_interval(load_results(tmp_path / "e5"), b, across=("temperature",))
    with pytest.raises(MscadError, match="not a setting"):
        margin_interval(a, b, across=("colour",))
    write(tmp_path / "lr", "msc", "airplane", 0, 0.9, temperature=0.5, lr=1e-2)
    write(tmp_path / "lr", "msc", "bird", 0, 0.9, temperature=0.5, lr=1e-2)
    with pytest.raises(MscadError, match="more than temperature"):  # another lr
        margin_interval(load_results(tmp_path / "lr"), b, across=("temperature",))
    assert format_margin(dict(mean=1.23, low=0.5, high=2.0)) == "+1.2 [+0.5, +2.0]"
    assert format_margin(dict(mean=-1.0, low=float("nan"), high=float("nan"))) == "-1.0 (one seed)"
    # a bound that rounds to zero keeps the side of zero it is on
    assert format_margin(dict(mean=0.2, low=0.049, high=0.3)) == "+0.2 [+0.05, +0.3]"
    assert format_margin(dict(mean=-0.2, low=-0.4, high=-0.014)) == "-0.2 [-0.4, -0.01]"


def test_a_resumed_run_costs_its_epochs_not_its_last_part(tmp_path):
    from mscad.collect import _run_seconds

    whole = dict(wall_s=100.0, history=[dict(seconds=10.0), dict(seconds=80.0)])
    resumed = dict(wall_s=30.0, history=[dict(seconds=10.0), dict(seconds=40.0),
                                         dict(seconds=40.0)])
    assert _run_seconds(whole) == 100.0 and _run_seconds(resumed) == 90.0
    assert _run_seconds(dict(history=[dict(auroc=0.5)])) is None


def test_lr_choices_say_where_the_choice_sits_in_its_grid(tmp_path):
    from mscad.report import lr_choices

    for cls in ("airplane", "bird"):
        for lr, auc in ((1e-2, 0.70), (1e-3, 0.80), (1e-4, 0.75)):
            write(tmp_path / f"msc{lr}", "msc", cls, 0, auc, lr=lr, evaluate_on="validation")
        for lr, auc in ((1e-2, 0.60), (1e-3, 0.70), (1e-4, 0.75)):
            write(tmp_path / f"con{lr}", "contrastive", cls, 0, auc, lr=lr,
                  evaluate_on="validation")
    table = lr_choices(load_results(tmp_path))
    assert table.loc["msc", "chosen lr"] == "1e-03" and table.loc["msc", "lr in the grid"] == "inside"
    assert table.loc["contrastive", "lr in the grid"] == "smallest"
    assert table.loc["msc", "chosen epochs"] == 10 and table.loc["msc", "epochs tried"] == "10"
    assert table.loc["contrastive", "validation ROC-AUC (%)"] == pytest.approx(75)
    write(tmp_path / "again", "msc", "airplane", 0, 0.9, lr=1e-3, evaluate_on="validation",
          train_limit=500)  # another scale beside the selection runs
    with pytest.raises(MscadError, match="mix scales"):
        lr_choices(load_results(tmp_path))
