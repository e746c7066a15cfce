import dataclasses
import json

import pandas as pd
import pytest

from mscad.errors import MscadError
from mscad.report import (complete_classes, load_results, objective_means, ordering_checks,
                          per_class_table, results_folder)
from mscad.config import TrainConfig

AUROC = {  # class -> objective -> ROC-AUC (fractions, as result files store them)
    "airplane": dict(dn2=0.80, center=0.82, **{"angular-center": 0.81}, contrastive=0.78, msc=0.88,
                     **{"msc-angular": 0.90}),
    "bird": dict(dn2=0.70, center=0.75, **{"angular-center": 0.71}, contrastive=0.72, msc=0.74,
                 **{"msc-angular": 0.73}),
    "cat": dict(dn2=0.60),  # incomplete class: left out of means and checks
}


def write_results(folder):
    for cls, row in AUROC.items():
        for objective, auroc in row.items():
            path = folder / "efficientnet_lite0" / objective / f"{cls}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            config = dict(dataset="cifar10", backbone="efficientnet_lite0", objective=objective,
                          profile="cpu", normal_class=cls, anomalous_class=None, epochs=10, image_size=64)
            path.write_text(json.dumps(dict(auroc=auroc, config=config, target_class=cls,
                                            history=[dict(auroc=0.5), dict(auroc=auroc)])))
    return folder


def test_ordering_checks_sign_and_margin(tmp_path):
    checks = ordering_checks(load_results(write_results(tmp_path)))
    assert list(checks.index) == ["airplane", "bird"]  # cat lacks objectives; paper's class order
    air, bird = checks.loc["airplane"], checks.loc["bird"]
    assert air["contrastive below DN2"] == pytest.approx(2.0)  # 80 - 78: holds
    assert bird["contrastive below DN2"] == pytest.approx(-2.0)  # 70 - 72: reversed by 2 points
    assert air["MSC above DN2"] == pytest.approx(8.0)
    assert bird["MSC above center loss"] == pytest.approx(-1.0)
    assert air["MSC + angular best"] == pytest.approx(2.0)  # 90 vs the best other, 88
    assert bird["MSC + angular best"] == pytest.approx(-2.0)  # 73 vs center's 75


def test_means_use_complete_classes_only(tmp_path):
    results = load_results(write_results(tmp_path))
    means = objective_means(results)
    assert means["dn2"] == pytest.approx(75.0)  # (80 + 70) / 2, cat's 60 left out
    assert list(means.index)[:2] == ["dn2", "center"]
    table = per_class_table(results, "cifar10")
    assert table.loc["mean (2 complete classes)", "dn2 (ours)"] == pytest.approx(75.0)
    assert table.loc["airplane", "MSC (paper)"] == 97.0


def test_ordering_checks_name_missing_objectives(tmp_path):
    folder = write_results(tmp_path)
    for f in (folder / "efficientnet_lite0" / "msc-angular").iterdir():
        f.unlink()
    with pytest.raises(MscadError, match="msc-angular"):
        ordering_checks(load_results(folder))


def test_results_folder_search(tmp_path, monkeypatch):
    monkeypatch.delenv("MSCAD_RESULTS", raising=False)
    (tmp_path / "results" / "sweep").mkdir(parents=True)
    (tmp_path / "book").mkdir()
    assert results_folder("sweep", start=tmp_path / "book") == tmp_path / "results" / "sweep"
    with pytest.raises(MscadError, match="MSCAD_RESULTS"):
        results_folder("other", start=tmp_path / "book")
    monkeypatch.setenv("MSCAD_RESULTS", str(tmp_path / "results"))
    assert results_folder("sweep") == tmp_path / "results" / "sweep"


def test_describe_scale_ignores_dn2_epochs(tmp_path):
    from mscad.report import describe_scale

    assert describe_scale(load_results(write_results(tmp_path))) == "cpu profile, 64px, 10 epochs; seed 0"


def test_mixed_backbones_are_refused_and_complete_classes(tmp_path):
    results = load_results(write_results(tmp_path))
    assert complete_classes(results) == ["airplane", "bird"]
    other = results[results.normal_class == "airplane"].assign(backbone="resnet18")
    mixed = pd.concat([results, other])
    with pytest.raises(MscadError, match="mix 2 backbones"):
        ordering_checks(mixed)
    with pytest.raises(MscadError, match="mix 2 backbones"):
        objective_means(mixed)


def test_config_from_a_result_file_rebuilds_the_experiment():
    cfg = TrainConfig(objective="msc", normal_class="cat", profile="cpu", train_limit=200).resolved()
    saved = dict(dataclasses.asdict(cfg), added_by_a_newer_version=1)
    assert TrainConfig.from_dict(saved) == cfg
    assert TrainConfig.from_dict(saved).resolved() == cfg  # resolving again changes nothing


def test_the_validation_curve_picks_the_epoch_never_the_test_curve():
    from mscad.errors import MscadError
    from mscad.protocol import epoch_on_validation

    history = [dict(epoch=0, auroc=0.80, val_auroc=0.70),  # DN2: not a candidate
               dict(epoch=1, auroc=0.95, val_auroc=0.72),  # the test curve's best
               dict(epoch=2, auroc=0.85, val_auroc=0.75),
               dict(epoch=3, auroc=0.84, val_auroc=0.75),  # a tie: the earlier wins
               dict(epoch=4, auroc=0.83, val_auroc=0.90)]  # beyond a horizon of 3
    assert epoch_on_validation(history, horizon=3) == dict(epoch=2, val_auroc=0.75, auroc=0.85)
    assert epoch_on_validation(history)["epoch"] == 4
    with pytest.raises(MscadError, match="--validation-images"):
        epoch_on_validation([dict(epoch=0, auroc=0.8), dict(epoch=1, auroc=0.9)])
