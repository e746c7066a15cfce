"""Probes: what the model's features do during training, measured after every epoch.

A probe is a callable ``probe(epoch, model) -> dict`` given to
:func:`mscad.train.fine_tune` as ``on_epoch``; its numbers join the run's history. The
chapters use them to show a mechanism while it happens (chapter 2: the center loss
pulling every image towards c).
"""
from __future__ import annotations

import numpy as np

from ..config import TrainConfig
from ..data import OneClassData
from ..model import FeatureModel, extract_features

__all__ = ["DistanceToCenter", "first_step"]


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


def first_step(cfg: TrainConfig, images) -> dict:
    """The pretrained model's first optimiser step as training takes it (the objective's
    loss on the first ``batch_size`` of ``images``, uint8, in the order given; SGD with the
    run's rate, momentum and weight decay; the gradient clip if set). Returns
    ``gradient_norm`` (the loss's gradient over the trainable weights), ``step`` (how far
    the step moved them, Euclidean norm), ``gradient_part`` (lr times the gradient's
    norm after the clip) and ``decay_part`` (lr x weight decay x the weights' norm): once
    a clip makes the gradient's part small, weight decay can be most of the step."""
    import torch

    from ..augment import TwoViewAugment
    from ..experiment.train import (apply_step, compute_center, grad_scaler, make_optimizer,
                        objective_inputs, objective_loss)

    cfg = cfg.resolved()
    torch.manual_seed(cfg.seed)
    model = FeatureModel(cfg.backbone, pretrained=cfg.pretrained).to(cfg.device)
    center = compute_center(model, images, cfg)
    model.train()
    params = model.spec.trainable_parameters()
    inputs = objective_inputs(images[: cfg.batch_size].to(cfg.device),
                              TwoViewAugment(cfg.image_size), cfg)
    grads = torch.autograd.grad(objective_loss(model, inputs, center, cfg), params)
    gradient = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    before = torch.cat([p.detach().flatten().clone() for p in params])
    apply_step(objective_loss(model, inputs, center, cfg), model, make_optimizer(model, cfg),
               grad_scaler(cfg), cfg)
    after = torch.cat([p.detach().flatten() for p in params])
    clipped = min(gradient, cfg.clip_grad_norm) if cfg.clip_grad_norm else gradient
    return dict(gradient_norm=gradient, step=float((after - before).norm()),
                gradient_part=cfg.lr * clipped,
                decay_part=cfg.lr * cfg.weight_decay * float(before.norm()))
