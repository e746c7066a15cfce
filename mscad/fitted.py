"""One fitted model: the fine-tuned feature model, its center, and what scoring needs.

In memory, a :class:`FittedModel` is what a fit returns (:func:`mscad.engine.fit`), what a
finished run holds (:class:`mscad.results.Run`) and what a detector keeps. A checkpoint, a run-cache entry and a saved detector all hold the same thing, a
:class:`FittedModel`, as one ``state_dict``: the feature model's weights under
``features.``, the center ``c`` (Eq. 1 or 3; absent for objectives without one), and for
a detector the gallery of normal features and the threshold. Each file adds what only it
needs around that one state (a checkpoint its optimizer and history, the detector its
settings), and every file loads with ``torch.load(weights_only=True)``: no code runs.
Files written before this module (keys ``model`` and ``center``) are read too.
"""
from __future__ import annotations

import torch
from torch import nn

from .model import FeatureModel

OPTIONAL = ("center", "gallery", "threshold")


class FittedModel(nn.Module):
    """``features`` (a :class:`mscad.model.FeatureModel`) with the optional buffers
    ``center`` (D,), ``gallery`` (N, D) and ``threshold`` (a 0-d tensor). Buffers move with
    the module (``.to(device)``) and are saved in its ``state_dict``; one that is ``None``
    is absent from it. Adding a fitted piece (k-means centroids, say) is one more name in
    :data:`OPTIONAL`."""

    def __init__(self, features: FeatureModel, center=None, gallery=None, threshold=None):
        super().__init__()
        self.features = features
        for name, value in zip(OPTIONAL, (center, gallery, threshold)):
            if value is not None and not isinstance(value, torch.Tensor):
                value = torch.as_tensor(value, dtype=torch.float64)
            self.register_buffer(name, None if value is None else value.detach())

    @classmethod
    def from_state_dict(cls, state: dict, backbone: str) -> "FittedModel":
        """The model a ``state_dict`` describes (no pretrained weights are loaded first)."""
        if "features.mean" not in state:  # a file from before: the feature model's own keys
            state = {f"features.{k}": v for k, v in state.items()}
        fitted = cls(FeatureModel(backbone, pretrained=False),
                     **{name: state.get(name) for name in OPTIONAL})
        fitted.load_state_dict(state)
        return fitted


def fitted_state(model: FeatureModel, center=None, gallery=None, threshold=None) -> dict:
    """The one ``state_dict`` a checkpoint, a cache entry and a detector file store."""
    return FittedModel(model, center, gallery, threshold).state_dict()


def read_fitted(state: dict) -> dict:
    """The fitted state of a loaded file, whichever way it was written: the current
    ``{"fitted": state_dict}``, or the older ``{"model": ..., "center": ...}``."""
    if "fitted" in state:
        return state["fitted"]
    fitted = {f"features.{k}": v for k, v in state["model"].items()}
    for name in OPTIONAL:
        if state.get(name) is not None:
            fitted[name] = state[name] if isinstance(state[name], torch.Tensor) \
                else torch.as_tensor(state[name], dtype=torch.float64)  # a float, kept exact
    return fitted


def split_fitted(fitted: dict) -> tuple[dict, dict]:
    """(the feature model's state_dict, {center/gallery/threshold: tensor or None})."""
    features = {k[len("features."):]: v for k, v in fitted.items() if k.startswith("features.")}
    return features, {name: fitted.get(name) for name in OPTIONAL}
