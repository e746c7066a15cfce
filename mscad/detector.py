"""A scikit-learn/PyOD-style detector around the whole method.

    det = MSCDetector(objective="msc").fit("my_normal_images/")
    scores = det.score_samples("new_images/")      # higher = more anomalous
    flags = det.predict("new_images/")             # 1 = anomalous, 0 = normal
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import OneClassData, decode_images, list_images, square_image
from .errors import MscadError
from .model import extract_features
from .scoring import knn_scores
from .train import TrainConfig, fine_tune


def as_images(x, image_size: int) -> torch.Tensor:
    """A folder, a list of PIL images, a uint8 array (N, H, W, 3) or a torch Dataset ->
    uint8 tensor (N, S, S, 3), square, at most ``image_size`` on a side."""
    if isinstance(x, (str, Path)):
        folder = Path(x)
        if not folder.is_dir():
            raise MscadError(f"image folder {folder} does not exist.")
        folders = [folder] + sorted(d for d in folder.rglob("*") if d.is_dir())  # sub-folders too
        paths = [p for sub in folders for p in list_images(sub)]
        if not paths:
            raise MscadError(f"no images (jpg/png) in {folder}; put the images there.")
        return decode_images(paths, image_size)
    if isinstance(x, np.ndarray) or isinstance(x, torch.Tensor):
        arr = torch.as_tensor(x)
        if arr.dtype != torch.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
            raise MscadError(f"an image array must be uint8 (N, H, W, 3), got {arr.dtype} {tuple(arr.shape)}.")
        pil = [Image.fromarray(a.numpy()) for a in arr]
    elif isinstance(x, torch.utils.data.Dataset) or isinstance(x, (list, tuple)):
        pil = []
        for i in range(len(x)):
            item = x[i]
            item = item[0] if isinstance(item, (tuple, list)) else item
            if isinstance(item, torch.Tensor):  # (3, H, W) float in [0, 1] or uint8
                item = item.permute(1, 2, 0)
                item = (item * 255).round().clamp(0, 255).byte() if item.is_floating_point() else item
                item = Image.fromarray(item.numpy())
            if not isinstance(item, Image.Image):
                raise MscadError(f"item {i} is a {type(item).__name__}; give PIL images, image tensors or arrays.")
            pil.append(item)
    else:
        raise MscadError(f"cannot read images from a {type(x).__name__}; give a folder, a list of PIL "
                         "images, a uint8 array (N, H, W, 3) or a torch Dataset.")
    if not pil:
        raise MscadError("no images given.")
    side = min(image_size, *(min(im.size) for im in pil))  # one size for the whole batch
    return torch.from_numpy(np.stack([square_image(im, side) for im in pil]))


class MSCDetector:
    """Fit on normal images only; score new images (Eq. 5 on the fine-tuned features).

    ``objective`` is any of mscad's objectives (``dn2`` = no fine-tuning); other keyword
    settings are those of :class:`mscad.train.TrainConfig` (epochs, image_size, lr, ...;
    unset ones come from the profile). ``threshold_percentile`` sets the threshold of
    :meth:`predict` from the training images' own scores.
    """

    def __init__(self, backbone: str = "efficientnet_lite0", objective: str = "msc",
                 threshold_percentile: float = 95.0, progress: bool = False, **settings):
        if not 0 < threshold_percentile <= 100:
            raise MscadError(f"threshold_percentile must be in (0, 100], got {threshold_percentile}.")
        self.config = TrainConfig(dataset="<in memory>", normal_class="normal", backbone=backbone,
                                  objective=objective, train_limit=0, test_limit=0, **settings).resolved()
        self.threshold_percentile = threshold_percentile
        self.progress = progress

    def fit(self, x, y=None):
        cfg = self.config
        train = as_images(x, cfg.image_size)
        if len(train) <= cfg.k:
            raise MscadError(f"fit needs more than k={cfg.k} normal images, got {len(train)}.")
        empty = train[:0]
        data = OneClassData("<in memory>", "one-class", "normal", ["normal"], train, empty,
                            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        self.result_, self.model_ = fine_tune(cfg, data=data, progress=self.progress, return_model=True)
        self.gallery_ = extract_features(self.model_, train, cfg.image_size, device=cfg.device)
        # Each training image's score against the others: k+1 neighbours, the first is itself (0).
        own = knn_scores(self.gallery_, self.gallery_, k=cfg.k + 1)
        self.threshold_ = float(np.percentile(own, self.threshold_percentile))
        return self

    def _check_fitted(self):
        if not hasattr(self, "gallery_"):
            raise MscadError("this detector is not fitted yet; call fit(normal_images) first.")

    def score_samples(self, x) -> np.ndarray:
        """Anomaly score of each image (Eq. 5): higher = more anomalous."""
        self._check_fitted()
        feats = extract_features(self.model_, as_images(x, self.config.image_size),
                                 self.config.image_size, device=self.config.device)
        return knn_scores(self.gallery_, feats, k=self.config.k)

    def decision_function(self, x) -> np.ndarray:
        """Score minus the threshold: positive = predicted anomalous."""
        return self.score_samples(x) - self.threshold_

    def predict(self, x) -> np.ndarray:
        """1 = anomalous, 0 = normal."""
        return (self.decision_function(x) > 0).astype(int)
