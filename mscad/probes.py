"""Probes: what the model's features do during training, measured after every epoch.

A probe is a callable ``probe(epoch, model) -> dict`` given to
:func:`mscad.train.fine_tune` as ``on_epoch``; its numbers join the run's history. The
chapters use them to show a mechanism while it happens (chapter 2: the center loss
pulling every image towards c).
"""
from __future__ import annotations

import numpy as np

from .config import TrainConfig
from .data import OneClassData
from .model import FeatureModel, extract_features

__all__ = ["DistanceToCenter", "gradient_norm"]


class DistanceToCenter:
    """Euclidean distances to c in the space the center loss works in (un-normalised
    features, Eq. 1), for the normal and the anomalous test images, and the spread of the
    normal train features around their own current mean.

    c is taken at epoch 0 from the model as it then is (the pretrained one), as the
    center loss takes it. ``distances[epoch]`` keeps every test image's distance, for
    histograms; the history gets the means (``dist_normal``, ``dist_anomalous``) and
    ``spread`` (mean distance of the train features to their mean: it goes to 0 when all
    features collapse to one point, wherever that point is).
    """

    def __init__(self, data: OneClassData, cfg: TrainConfig):
        self.data, self.cfg = data, cfg.resolved()
        self.center = None
        self.distances: dict[int, np.ndarray] = {}

    def _features(self, model: FeatureModel, images):
        return extract_features(model, images, self.cfg.image_size, device=self.cfg.device,
                                raw=True, precision=self.cfg.precision)

    def __call__(self, epoch: int, model: FeatureModel) -> dict:
        train = self._features(model, self.data.train)
        if self.center is None:
            self.center = train.mean(axis=0)  # Eq. 1's c, from the pretrained model
        test = np.linalg.norm(self._features(model, self.data.test) - self.center, axis=1)
        self.distances[epoch] = test
        normal = self.data.test_labels == 0
        spread = np.linalg.norm(train - train.mean(axis=0), axis=1).mean()
        return dict(dist_normal=float(test[normal].mean()),
                    dist_anomalous=float(test[~normal].mean()), spread=float(spread))


def gradient_norm(cfg: TrainConfig, images) -> float:
    """The norm of the objective's gradient over the trainable weights, on the first batch
    of ``images`` (uint8) with the pretrained model: one SGD step without momentum moves
    the weights by lr times this, and a gradient clip (PANDA's code clips at 1e-3)
    compares its threshold with it."""
    import torch

    from .augment import TwoViewAugment
    from .train import compute_center, objective_inputs, objective_loss

    cfg = cfg.resolved()
    torch.manual_seed(cfg.seed)
    model = FeatureModel(cfg.backbone, pretrained=cfg.pretrained).to(cfg.device)
    center = compute_center(model, images, cfg)
    model.train()
    batch = images[: cfg.batch_size].to(cfg.device)
    inputs = objective_inputs(batch, TwoViewAugment(cfg.image_size), cfg)
    grads = torch.autograd.grad(objective_loss(model, inputs, center, cfg),
                                model.spec.trainable_parameters())
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
