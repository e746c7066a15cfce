"""mscad: deep one-class anomaly detection with the Mean-Shifted Contrastive loss.

data -> augment -> backbones/model -> losses -> train -> scoring -> metrics/report.
"""
from .errors import MscadError
from .losses import angular_center_loss, center_loss, contrastive_loss, msc_loss
from .scoring import kmeans_scores, knn_scores

__version__ = "0.1.0"
__all__ = ["MscadError", "angular_center_loss", "center_loss", "contrastive_loss", "msc_loss",
           "kmeans_scores", "knn_scores"]
