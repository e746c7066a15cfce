import json

import numpy as np
import pytest
import torch

from mscad.data import one_class_data
from mscad.errors import MscadError
from mscad.config import TrainConfig
from mscad.train import fine_tune

TINY = dict(backbone="efficientnet_lite0", profile="quick", image_size=32, batch_size=8,
            epochs=2, device="cpu")


@pytest.fixture
def shapes_cfg(folder_dataset):
    return TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc", **TINY)


def test_profiles_fill_settings_and_flags_override():
    c = TrainConfig(objective="msc", profile="cpu").resolved()
    assert (c.image_size, c.batch_size, c.momentum, c.weight_decay, c.temperature) == (64, 64, 0.0, 5e-5, 0.25)
    p = TrainConfig(objective="msc", profile="paper", epochs=3).resolved()
    assert (p.image_size, p.lr, p.epochs, p.train_limit) == (224, 1e-5, 3, 0)  # 0 = all
    panda = TrainConfig(objective="center", profile="paper").resolved()
    assert (panda.lr, panda.momentum) == (1e-2, 0.9)
    assert TrainConfig(objective="dn2", profile="cpu").resolved().epochs == 0


@pytest.mark.parametrize("bad, message", [
    (dict(objective="svdd"), "unknown objective 'svdd'"),
    (dict(profile="laptop"), "unknown profile 'laptop'"),
    (dict(epochs=0), "epochs must be positive"),
    (dict(batch_size=-4), "batch-size must be positive"),
    (dict(lr=0.0), "lr must be positive"),
    (dict(clip_grad_norm=-1.0), "--clip-grad-norm must be 0 \\(no clipping\\) or more"),
    (dict(clip_grad_norm=float("nan")), "--clip-grad-norm must be a finite number"),
])
def test_bad_settings(bad, message):
    with pytest.raises(MscadError, match=message):
        TrainConfig(**{**dict(objective="msc", profile="quick"), **bad}).resolved()


def test_history_and_center_from_pretrained_model(shapes_cfg):
    result = fine_tune(shapes_cfg, progress=False)
    h = result["history"]
    assert [r["epoch"] for r in h] == [0, 1, 2] and h[0]["loss"] is None
    assert all(0 <= r["auroc"] <= 1 and -1 <= r["uniformity"] <= 1 for r in h)
    assert result["auroc"] == h[-1]["auroc"]
    assert result["config"]["lr"] == 1e-3 and result["config"]["profile"] == "quick"
    json.dumps(result.result.to_dict())  # the result file contract: plain JSON


def test_parameters_move_and_frozen_ones_do_not(shapes_cfg):
    model = fine_tune(shapes_cfg, progress=False).model
    from mscad.model import FeatureModel

    before = FeatureModel("efficientnet_lite0").state_dict()
    after = model.state_dict()
    assert torch.equal(before["backbone.conv_stem.weight"], after["backbone.conv_stem.weight"])  # frozen
    assert not torch.equal(before["backbone.blocks.6.0.conv_pw.weight"], after["backbone.blocks.6.0.conv_pw.weight"])
    # BatchNorm statistics are not updated (eval mode throughout)
    assert torch.equal(before["backbone.bn2.running_mean"], after["backbone.bn2.running_mean"])


def test_resume_after_a_kill_ends_with_the_same_result(shapes_cfg, tmp_path, monkeypatch):
    full = fine_tune(shapes_cfg, progress=False)
    ckpt = tmp_path / "run.ckpt"
    import mscad.train as train_module

    real_evaluate, calls = train_module.evaluate, []

    def dies_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # epoch 0, epoch 1, then the crash while evaluating epoch 2
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        fine_tune(shapes_cfg, checkpoint=ckpt, progress=False)
    monkeypatch.setattr(train_module, "evaluate", real_evaluate)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed = fine_tune(shapes_cfg, checkpoint=ckpt, resume=True, progress=False)
    assert resumed["auroc"] == pytest.approx(full["auroc"], abs=1e-6)
    np.testing.assert_allclose([h["loss"] or 0 for h in resumed["history"]],
                               [h["loss"] or 0 for h in full["history"]], rtol=1e-5)


def test_resume_with_other_settings_names_them(shapes_cfg, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fine_tune(shapes_cfg, checkpoint=ckpt, progress=False)
    other = TrainConfig(**{**shapes_cfg.__dict__, "lr": 0.5, "seed": 3})
    with pytest.raises(MscadError, match=r"settings differ: lr .*; seed"):
        fine_tune(other, checkpoint=ckpt, resume=True, progress=False)


def test_nan_loss_stops_with_the_step(shapes_cfg, tmp_path):
    cfg = TrainConfig(**{**shapes_cfg.__dict__, "objective": "center", "lr": 1e30})
    with pytest.raises(MscadError, match=r"became .* at epoch \d+, step \d+.*lower --lr"):
        fine_tune(cfg, checkpoint=tmp_path / "c.ckpt", progress=False)


def test_each_objective_runs(folder_dataset):
    data = one_class_data(str(folder_dataset), "square", image_size=32)
    for objective in ("dn2", "center", "angular-center", "contrastive", "msc-angular"):
        cfg = TrainConfig(dataset=str(folder_dataset), normal_class="square", objective=objective,
                          **{**TINY, "epochs": 1})
        result = fine_tune(cfg, data=data, progress=False)
        assert len(result["history"]) == (1 if objective == "dn2" else 2)
        assert np.isfinite(result["auroc"])


def test_msc_improves_over_dn2_on_real_cifar10(shared_data):
    """The method's claim at a small real scale: fine-tuning with Eq. 4 raises ROC-AUC."""
    cfg = TrainConfig(dataset="cifar10", normal_class="automobile", objective="msc", profile="quick",
                      image_size=32, batch_size=32, epochs=3, train_limit=256, test_limit=500, device="cpu")
    result = fine_tune(cfg, progress=False)
    assert result["auroc"] > result["history"][0]["auroc"]


@pytest.mark.parametrize("objective", ["msc", "center"])  # no momentum / momentum 0.9
def test_a_shorter_run_is_the_start_of_a_longer_one(shapes_cfg, objective):
    # The validation protocol reads epoch 2 of a 3-epoch run as a 2-epoch run (it chooses
    # the training length with the lr): each epoch is seeded by its number, SGD's rate is
    # constant, and evaluating more often must not change the training.
    import dataclasses

    cfg = dataclasses.replace(shapes_cfg, objective=objective,
                              lr=1e-3 if objective == "msc" else 1e-5)
    longer = fine_tune(dataclasses.replace(cfg, epochs=3, eval_every=1), progress=False)
    shorter = fine_tune(dataclasses.replace(cfg, epochs=2, eval_every=2), progress=False)
    at2 = [h for h in longer.history if h["epoch"] == 2][0]
    assert shorter.auroc == pytest.approx(at2["auroc"], abs=1e-6)
    assert shorter.history[-1]["loss"] == pytest.approx(at2["loss"], rel=1e-5)
    assert longer.history[1]["loss"] != pytest.approx(at2["loss"], rel=1e-4)  # it trained


def test_an_uninstrumented_run_trains_the_same_weights_without_the_statistics(shapes_cfg):
    """The detector's fit skips the mechanism statistics (and, without a test set, every
    evaluation); the weights it trains are the instrumented run's."""
    from mscad.train import experiment_data

    data = experiment_data(shapes_cfg)
    full = fine_tune(shapes_cfg, data=data.train, progress=False, cache=False)
    lean = fine_tune(shapes_cfg, data=data.train, progress=False, cache=False, instrument=False)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, lean.model.state_dict()[key]), key
    assert "uniformity" in full.history[0] and all("uniformity" not in h for h in lean.history)
    assert lean.auroc is None and len(lean.history) == len(full.history)
    labelled = fine_tune(shapes_cfg, data=data, progress=False, cache=False, instrument=False)
    assert labelled.auroc == fine_tune(shapes_cfg, data=data, progress=False, cache=False).auroc


def test_validation_curve_reads_only_train_images(shared_data):
    """--validation-images: every evaluated epoch gets a val_auroc from other classes'
    train images and the normal train images (leave-one-out); no test image is among them."""
    from mscad.train import experiment_data

    cfg = TrainConfig(dataset="cifar10", normal_class="cat", objective="msc", profile="quick",
                      epochs=1, train_limit=40, test_limit=100, validation_images=60, device="cpu")
    data = experiment_data(cfg)
    assert data.validation.shape[0] == 60
    test_set = {t.numpy().tobytes() for t in data.test}
    train_set = {t.numpy().tobytes() for t in data.train}
    assert not any(v.numpy().tobytes() in test_set | train_set for v in data.validation)
    run = fine_tune(cfg, progress=False, data=data, cache=False)
    values = [h["val_auroc"] for h in run.result.history]
    assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    assert run.result.config["validation_images"] == 60
    bare = one_class_data("cifar10", "cat", image_size=32, train_limit=40, test_limit=100)
    again = fine_tune(cfg, progress=False, data=bare, cache=False)  # data handed in: same curve
    assert [h["val_auroc"] for h in again.result.history] == values
    with pytest.raises(MscadError, match="already a validation run"):
        TrainConfig(objective="msc", profile="quick", validation_images=10,
                    evaluate_on="validation").resolved()


def test_a_resolved_config_is_checked_however_it_is_made():
    import dataclasses

    cfg = TrainConfig(objective="msc", profile="quick", device="cpu").resolved()
    with pytest.raises(MscadError, match="batch-size must be positive"):
        dataclasses.replace(cfg, batch_size=0)
    with pytest.raises(MscadError, match="momentum must be below 1"):
        dataclasses.replace(cfg, momentum=1.5)
    fitted = cfg.for_train_set(10)  # the batch rule belongs to the settings
    assert fitted.batch_size == 10 and type(fitted) is type(cfg)
    with pytest.raises(MscadError, match="k=3 is larger than the 2 normal train images"):
        dataclasses.replace(cfg, k=3).for_train_set(2)
