"""Probes during training: fine_tune(on_epoch=...) and the chapter's distance-to-c probe."""
import numpy as np
import pytest

from mscad.config import TrainConfig
from mscad.data import one_class_data
from mscad.model import FeatureModel, extract_features
from mscad.probes import DistanceToCenter
from mscad.train import fine_tune


def shapes(folder_dataset, **settings):
    settings = dict(dict(image_size=32, batch_size=3, epochs=2, device="cpu"), **settings)
    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="center",
                      profile="quick", **settings).resolved()
    return cfg, one_class_data(str(folder_dataset), "circle", image_size=32)


def test_the_probe_sees_every_epoch_and_its_numbers_join_the_history(folder_dataset, monkeypatch):
    cfg, data = shapes(folder_dataset)
    monkeypatch.setenv("MSCAD_NO_CACHE", "0")  # a probed run must train even with the cache on
    seen = []

    def probe(epoch, model):
        seen.append(epoch)
        return dict(marker=10 * epoch)

    run = fine_tune(cfg, data=data, progress=False, on_epoch=probe)
    assert seen == [0, 1, 2] and not run.from_cache
    assert [h["marker"] for h in run.history] == [0, 10, 20]


def test_distances_at_epoch_0_are_those_of_the_pretrained_features(folder_dataset):
    cfg, data = shapes(folder_dataset)
    probe = DistanceToCenter(data, cfg)
    pretrained = FeatureModel(cfg.backbone)
    numbers = probe(0, pretrained)
    raw_train = extract_features(pretrained, data.train, 32, raw=True)
    center = raw_train.mean(axis=0)  # Eq. 1, un-normalised
    expected = np.linalg.norm(extract_features(pretrained, data.test, 32, raw=True) - center, axis=1)
    normal = data.test_labels == 0
    assert np.allclose(probe.distances[0], expected, rtol=1e-4)
    assert np.isclose(numbers["dist_normal"], expected[normal].mean(), rtol=1e-4)
    assert np.isclose(numbers["dist_anomalous"], expected[~normal].mean(), rtol=1e-4)
    # raw features are far from the unit sphere: a normalised distance would be below 2
    assert numbers["dist_anomalous"] > 2 and numbers["spread"] > 0


def test_a_collapsing_run_sends_normal_and_anomalous_images_to_one_point(folder_dataset):
    # Measured on these images: at lr 1e-3 with momentum 0.9 the spread falls 100-fold in
    # three epochs, and the point everything lands on overshoots c (distances grow).
    cfg, data = shapes(folder_dataset, lr=1e-3, momentum=0.9, epochs=3)
    probe = DistanceToCenter(data, cfg)
    run = fine_tune(cfg, data=data, progress=False, on_epoch=probe, cache=False)
    first, last = run.history[0], run.history[-1]
    assert last["spread"] < 0.1 * first["spread"]
    gap = lambda h: abs(h["dist_anomalous"] - h["dist_normal"])  # noqa: E731
    assert first["dist_anomalous"] > 2 * first["dist_normal"]  # separated before
    assert gap(last) < 0.05 * gap(first)  # anomalies land where the normal images do
    assert sorted(probe.distances) == [0, 1, 2, 3]


def test_first_step_is_the_step_training_takes(folder_dataset):
    """The measured first step equals the displacement of the loop's first step (one batch
    per epoch), with momentum, weight decay and PANDA's clip all in play; with the clip,
    weight decay is most of it (the clipped gradient moves the weights by lr x clip)."""
    import dataclasses

    import torch

    from mscad.model import FeatureModel
    from mscad.probes import first_step
    from mscad.train import compute_center, experiment_data, make_optimizer, train_epochs

    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="center",
                      profile="quick", image_size=32, device="cpu", momentum=0.9,
                      weight_decay=5e-5, lr=1e-2).resolved()
    data = experiment_data(cfg)
    cfg = dataclasses.replace(cfg, batch_size=len(data.train))  # one step per epoch
    for clip in (0.0, 1e-3):
        run_cfg = dataclasses.replace(cfg, clip_grad_norm=clip)
        measured = first_step(run_cfg, data.train)
        torch.manual_seed(cfg.seed)
        model = FeatureModel(cfg.backbone)
        params = model.spec.trainable_parameters()
        before = torch.cat([p.detach().flatten().clone() for p in params])
        train_epochs(model, data.train, compute_center(model, data.train, run_cfg),
                     make_optimizer(model, run_cfg), run_cfg, [dict(epoch=0)], range(1, 2))
        moved = (torch.cat([p.detach().flatten() for p in params]) - before).norm().item()
        assert abs(measured["step"] - moved) < 1e-3 * moved, clip
        if clip:
            assert measured["gradient_part"] == pytest.approx(cfg.lr * clip)
            assert measured["gradient_norm"] > 10 * clip  # the clip is active
            assert measured["step"] > 3 * measured["gradient_part"]  # decay dominates
            assert measured["step"] == pytest.approx(
                (measured["gradient_part"] ** 2 + measured["decay_part"] ** 2) ** 0.5, rel=0.5)
        else:
            assert measured["step"] == pytest.approx(measured["gradient_part"], rel=0.05)
