"""mscad: deep one-class anomaly detection with the Mean-Shifted Contrastive loss.

data -> augment -> backbones/model -> objectives/losses -> train -> scoring -> report.

The names below are imported on first use, so ``python -m mscad`` starts (and answers
Ctrl-C) before torch is loaded.
"""
import importlib

__version__ = "0.2.0"
_EXPORTS = {"MscadError": "errors", "angular_center_loss": "losses", "center_loss": "losses",
            "contrastive_loss": "losses", "msc_loss": "losses", "kmeans_scores": "scoring",
            "knn_scores": "scoring", "MSCDetector": "detector", "TrainConfig": "config",
            "fine_tune": "train"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'mscad' has no attribute {name!r}")
