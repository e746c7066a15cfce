"""The feature model: backbone followed by l2 normalisation (paper Sec. 5).

``model(x)`` gives the normalised features ``phi(x)/|phi(x)|`` (the "semantic class");
``model.raw(x)`` gives the un-normalised ``phi(x)``, whose norm is the "confidence" of
Sec. 5.2 / Fig. 3a.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .backbones import Backbone, build_backbone


class FeatureModel(nn.Module):
    def __init__(self, backbone: Backbone | str = "efficientnet_lite0", pretrained: bool = True):
        super().__init__()
        if isinstance(backbone, str):
            backbone = build_backbone(backbone, pretrained=pretrained)
        self.spec = backbone
        self.backbone = backbone.module
        self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1))

    @property
    def feature_dim(self) -> int:
        return self.spec.feature_dim

    def train(self, mode: bool = True):
        # BatchNorm stays in eval mode throughout fine-tuning (running statistics frozen),
        # as in the paper's code; dropout is off too, since features must be deterministic.
        super().train(mode)
        self.backbone.eval()
        return self

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised features of images ``x``: float in [0, 1], shape (B, 3, H, W)."""
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw(x), dim=1)


@torch.no_grad()
def extract_features(model: FeatureModel, images, image_size: int, batch_size: int = 256,
                     device: str | torch.device | None = None, raw: bool = False,
                     progress: bool = False, desc: str = "features") -> np.ndarray:
    """Features of every image in ``images`` (a uint8 tensor (N, H, W, 3)), as float32 NumPy.

    Normalised features by default, the backbone's raw features with ``raw=True``.
    Images go through the evaluation transform (:func:`mscad.augment.eval_batch`).
    """
    from tqdm import tqdm

    from .augment import eval_batch

    device = torch.device(device or next(model.parameters()).device)
    was_training = model.training
    model.eval()
    out = np.empty((len(images), model.feature_dim), dtype=np.float32)
    starts = range(0, len(images), batch_size)
    use_amp = device.type == "cuda"
    for s in tqdm(starts, desc=desc, disable=not progress, leave=False):
        x = eval_batch(images[s:s + batch_size].to(device, non_blocking=True), image_size)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            f = model.raw(x) if raw else model(x)
        out[s:s + len(x)] = f.float().cpu().numpy()
    model.train(was_training)
    return out
