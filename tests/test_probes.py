"""Probes during training: fine_tune(on_epoch=...) and the chapter's distance-to-c probe."""
import numpy as np

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


def test_gradient_norm_is_what_the_first_step_moves_the_weights_by(folder_dataset):
    """One SGD step (no momentum, no weight decay, no clip) moves the trainable weights by
    exactly lr x the gradient's norm; a clip at a tenth of that norm moves them a tenth."""
    import dataclasses

    import torch

    from mscad.model import FeatureModel
    from mscad.probes import gradient_norm
    from mscad.train import compute_center, experiment_data, train_epochs

    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="center",
                      profile="quick", image_size=32, device="cpu", momentum=0.0,
                      weight_decay=0.0, lr=1e-3).resolved()
    data = experiment_data(cfg)
    cfg = dataclasses.replace(cfg, batch_size=len(data.train))  # one step per epoch
    g = gradient_norm(cfg, data.train)
    assert g > 0
    for clip, expected in ((None, cfg.lr * g), (g / 10, cfg.lr * g / 10)):
        run_cfg = dataclasses.replace(cfg, clip_grad_norm=clip)
        torch.manual_seed(cfg.seed)
        model = FeatureModel(cfg.backbone)
        params = model.spec.trainable_parameters()
        before = torch.cat([p.detach().flatten().clone() for p in params])
        train_epochs(model, data.train, compute_center(model, data.train, run_cfg),
                     torch.optim.SGD(params, lr=cfg.lr), run_cfg, [dict(epoch=0)], range(1, 2))
        moved = (torch.cat([p.detach().flatten() for p in params]) - before).norm().item()
        assert abs(moved - expected) < 1e-3 * expected
