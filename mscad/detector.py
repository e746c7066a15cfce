"""A scikit-learn/PyOD-style detector around the whole method.

    det = MSCDetector(objective="msc").fit("my_normal_images/")
    scores = det.score_samples("new_images/")      # higher = more anomalous
    flags = det.predict("new_images/")             # 1 = anomalous, 0 = normal
    det.save("detector.pt"); det = MSCDetector.load("detector.pt")
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .errors import MscadError
from .images import as_images
from .model import FeatureModel, extract_features
from .results import check_writable
from .scoring import knn_scores
from .train import fine_tune

FORMAT = "mscad-detector/1"


class MSCDetector:
    """Fit on normal images only; score new images (Eq. 5 on the fine-tuned features).

    ``objective`` is any of mscad's objectives (``dn2`` = no fine-tuning); other keyword
    settings are those of :class:`mscad.config.TrainConfig` (epochs, image_size, lr, ...;
    unset ones come from the profile). ``threshold_percentile`` sets the threshold of
    :meth:`predict` from the training images' own scores. Images may be a folder or an
    image file, a list of PIL images, a uint8 array (N, H, W, 3) or a torch Dataset.
    """

    def __init__(self, backbone: str | None = None, objective: str = "msc",
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
        run = fine_tune(cfg, data=train, progress=self.progress)
        self.result_, self.model_ = run.result, run.model
        self.gallery_ = extract_features(self.model_, train, cfg.image_size, device=cfg.device,
                                         precision=cfg.precision)
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
                                 self.config.image_size, device=self.config.device,
                                 precision=self.config.precision)
        return knn_scores(self.gallery_, feats, k=self.config.k, device=self.config.device)

    def decision_function(self, x) -> np.ndarray:
        """Score minus the threshold: positive = predicted anomalous."""
        return self.score_samples(x) - self.threshold_

    def predict(self, x) -> np.ndarray:
        """1 = anomalous, 0 = normal."""
        return (self.decision_function(x) > 0).astype(int)

    # ------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Weights, gallery, threshold and settings in one file that loads without pickle
        (``torch.load(weights_only=True)``): safe to share."""
        self._check_fitted()
        path = check_writable(path, flag="the path")
        state = dict(format=FORMAT, model=self.model_.state_dict(),
                     gallery=torch.from_numpy(self.gallery_), threshold=self.threshold_,
                     config=json.dumps(self.config.as_dict()),
                     threshold_percentile=self.threshold_percentile,
                     result=json.dumps(self.result_))
        torch.save(state, path)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "MSCDetector":
        """A detector saved by :meth:`save`; scores equal those before saving."""
        path = Path(path)
        if not path.is_file():
            raise MscadError(f"no detector file {path}; save one with detector.save(path).")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if state.get("format") != FORMAT:
                raise ValueError(state.get("format"))
            settings = json.loads(state["config"])
        except Exception as e:
            raise MscadError(f"{path} is not an mscad detector file ({type(e).__name__}); "
                             "save one with detector.save(path).") from None
        settings["device"] = device
        det = cls.__new__(cls)
        det.config = TrainConfig.from_dict(settings).resolved()
        det.threshold_percentile = state["threshold_percentile"]
        det.progress = False
        det.model_ = FeatureModel(det.config.backbone, pretrained=False)
        det.model_.load_state_dict(state["model"])
        det.model_.to(det.config.device).eval()
        det.gallery_ = state["gallery"].numpy()
        det.threshold_ = float(state["threshold"])
        det.result_ = json.loads(state["result"])
        return det
