"""Evaluation and analysis metrics: ROC-AUC and the feature statistics of Figs. 1 and 3."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from .errors import MscadError


def _unit(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def roc_auc(anomaly_labels, scores) -> float:
    """ROC-AUC with label 1 = anomalous and higher score = more anomalous."""
    labels = np.asarray(anomaly_labels)
    if len(np.unique(labels)) != 2:
        raise MscadError("ROC-AUC needs both normal (0) and anomalous (1) test images; "
                         "the test set has only one kind.")
    return float(roc_auc_score(labels, np.asarray(scores)))


def uniformity(features) -> float:
    """Mean cosine similarity over all pairs i != j of train features (Fig. 1a; 0 = uniform).

    Uses |sum z|^2 = n + sum_{i != j} z_i . z_j, so it costs O(n d), not O(n^2 d).
    """
    z = _unit(features)
    n = len(z)
    if n < 2:
        raise MscadError("uniformity needs at least two features.")
    total = z.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def around(features, center) -> np.ndarray:
    """The l2-normalised features seen from ``center`` instead of the origin: z - c, the
    frame of the mean-shifted loss (Eq. 3). Pass the result to the statistics here to
    measure them around c."""
    return _unit(features) - np.asarray(center, dtype=np.float64)


def uniformity_loss(features, t: float = 2.0, max_features: int = 2000) -> float:
    """Wang & Isola's uniformity, log mean exp(-t |u - v|^2) over pairs of normalised
    features: -4 (t=2) when spread over the whole sphere, 0 when all are one point. Lower
    = more uniform. The first ``max_features`` features only (O(n^2))."""
    z = _unit(features)[:max_features]
    n = len(z)
    if n < 2:
        raise MscadError("uniformity needs at least two features.")
    sq = np.maximum(2 - 2 * (z @ z.T), 0)[~np.eye(n, dtype=bool)]
    m = (-t * sq).max()
    return float(m + np.log(np.mean(np.exp(-t * sq - m))))


def augmentation_similarity(features, augmented_features) -> float:
    """Mean cosine similarity between each image's features and its augmentation's
    (Fig. 1b/c)."""
    a, b = _unit(features), _unit(augmented_features)
    if a.shape != b.shape:
        raise MscadError(f"feature shapes differ: {a.shape} vs {b.shape}.")
    return float((a * b).sum(axis=1).mean())


def angular_distance_to_center(features, center) -> np.ndarray:
    """Angle, in degrees, between each feature and the center, seen from the origin
    (Fig. 3b/c)."""
    cos = _unit(features) @ _unit(center)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def feature_center(normalised_features) -> np.ndarray:
    """Eq. 3: the mean of the l2-normalised features (not normalised again)."""
    return _unit(normalised_features).mean(axis=0)
