"""Image transforms, batched on whatever device the images are on.

Images are uint8 tensors (B, H, W, 3), decoded once by :mod:`mscad.data`. Both
transforms return float tensors (B, 3, S, S) in [0, 1]; the backbone's own input
normalisation (mean/std) is the first step of :class:`mscad.model.FeatureModel`, so every
path into the model (training views, evaluation, the detector) gets it and none can
forget it.

The two-view transform is MoCo v2's (paper A.3), done with kornia so each image of the
batch gets its own random parameters and the work runs on the GPU when there is one,
instead of per image in PIL.
"""
from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn

from .errors import MscadError


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1]."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise MscadError(f"expected uint8 images (B, H, W, 3), got {images.dtype} {tuple(images.shape)}.")
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def eval_batch(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """The evaluation transform: the whole (square, stored) image resized to ``image_size``."""
    x = to_float(images)
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear",
                          align_corners=False, antialias=x.shape[-1] > image_size)
    return x


class TwoViewAugment(nn.Module):
    """MoCo v2 augmentation (Chen et al. 2020b) at any output size.

    RandomResizedCrop(scale 0.2-1) -> ColorJitter(0.4, 0.4, 0.4, 0.1) p=0.8 ->
    grayscale p=0.2 -> Gaussian blur sigma 0.1-2 p=0.5 -> horizontal flip. The blur
    kernel is ~10% of the image side (23 px at 224, as MoCo v2 reimplementations use).
    """

    def __init__(self, image_size: int = 224):
        super().__init__()
        kernel = max(3, int(0.1 * image_size) // 2 * 2 + 1)
        self.image_size = image_size
        self.pipeline = nn.Sequential(
            K.RandomResizedCrop((image_size, image_size), scale=(0.2, 1.0)),
            K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
            K.RandomGrayscale(p=0.2),
            K.RandomGaussianBlur((kernel, kernel), (0.1, 2.0), p=0.5),
            K.RandomHorizontalFlip(),
        )

    @torch.no_grad()
    def view(self, images: torch.Tensor) -> torch.Tensor:
        """One random augmentation of each image: uint8 (B, H, W, 3) -> float (B, 3, S, S)."""
        return self.pipeline(to_float(images)).clamp_(0.0, 1.0)

    def forward(self, images: torch.Tensor):
        """Two independent views of each image, as a pair of (B, 3, S, S) tensors."""
        return self.view(images), self.view(images)
