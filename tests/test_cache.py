"""Train-or-load: a stored run is served only for exactly the same settings, data and code."""
import dataclasses
import json

import pytest
import torch

from mscad import cache
from mscad.config import TrainConfig
from mscad.data import one_class_data
from mscad.train import fine_tune


@pytest.fixture
def shapes(folder_dataset):
    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc", profile="quick",
                      image_size=32, batch_size=3, epochs=1, device="cpu")
    return cfg, one_class_data(str(folder_dataset), "circle", image_size=32)


# A different, valid value for every setting.
OTHER = dict(dataset="elsewhere", normal_class="square", anomalous_class="noise", objective="contrastive",
             backbone="resnet18", pretrained=False, profile="cpu", epochs=2, image_size=48, batch_size=2,
             lr=0.5, momentum=0.9, weight_decay=0.0, temperature=0.5, k=1, seed=1, train_limit=3,
             test_limit=5, eval_every=2, early_stop_epoch=1, similarity_images=7, device="cuda",
             precision="fp16", evaluate_on="validation", clip_grad_norm=1e-3, validation_images=100)


def test_every_setting_data_and_code_are_in_the_key(shapes, monkeypatch):
    cfg, data = shapes
    cfg = cfg.resolved()
    base = cache.run_key(cfg, data)
    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(OTHER)  # a new setting needs a line
    for name, value in OTHER.items():
        assert getattr(cfg, name) != value
        assert cache.run_key(dataclasses.replace(cfg, **{name: value}), data) != base, name
    changed = dataclasses.replace(data, train=data.train.clone())
    changed.train[0, 0, 0, 0] ^= 1  # one pixel of one image
    assert cache.run_key(cfg, changed) != base
    flipped = dataclasses.replace(data, test_labels=1 - data.test_labels)
    assert cache.run_key(cfg, flipped) != base
    monkeypatch.setattr(cache, "code_identity", lambda: "edited source")
    assert cache.run_key(cfg, data) != base


def test_a_second_identical_run_is_loaded_with_its_model(shapes, monkeypatch):
    cfg, data = shapes
    monkeypatch.setenv("MSCAD_NO_CACHE", "0")
    first = fine_tune(cfg, data=data, progress=False)
    second = fine_tune(cfg, data=data, progress=False)
    assert not first.from_cache and second.from_cache
    assert second.result.to_dict() == json.loads(json.dumps(first.result.to_dict()))
    assert torch.equal(second.center, first.center)
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name
    other = fine_tune(dataclasses.replace(cfg, seed=1), data=data, progress=False)
    assert not other.from_cache  # another setting: trained
    assert not fine_tune(cfg, data=data, progress=False, cache=False).from_cache  # forced fresh


def test_no_cache_switches(shapes, monkeypatch, tmp_path):
    from mscad.cli import main

    cfg, data = shapes
    monkeypatch.setenv("MSCAD_NO_CACHE", "1")
    fine_tune(cfg, data=data, progress=False)
    assert not fine_tune(cfg, data=data, progress=False).from_cache  # the variable turns it off
    monkeypatch.setenv("MSCAD_NO_CACHE", "0")
    args = ["run", "--dataset", cfg.dataset, "--normal-class", "circle", "--profile", "quick", "--epochs", "1",
            "--batch-size", "3", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a.json")]) == 0
    assert list((tmp_path / "run-cache" / "runs").iterdir())
    assert main(args + ["--out", str(tmp_path / "b.json"), "--no-cache"]) == 0
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["auroc"] == b["auroc"]  # trained afresh, same numbers


def test_a_registered_extension_s_code_is_in_the_key(shapes, monkeypatch):
    """Editing a registered objective's loss changes the key, as editing mscad would."""
    import dataclasses as dc

    from mscad.objectives import OBJECTIVES

    cfg, data = shapes
    cfg = cfg.resolved()
    base = cache.run_key(cfg, data)
    record = OBJECTIVES["msc"]

    def edited_loss(views, center, temperature):  # a user's edit of the loss
        return 2 * record.loss(views, center, temperature)

    monkeypatch.setitem(OBJECTIVES, "msc", dc.replace(record, loss=edited_loss))
    assert cache.run_key(cfg, data) != base
    monkeypatch.setitem(OBJECTIVES, "msc", record)
    assert cache.run_key(cfg, data) == base
