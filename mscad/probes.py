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

__all__ = ["DistanceToCenter"]


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
