"""The four fine-tuning objectives, each a batch mean and differentiable.

``z1[i]`` and ``z2[i]`` are the features of two augmentations of the same image; inputs
need not be normalised: each loss normalises where its equation does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def center_loss(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Eq. 1 (PANDA / DeepSVDD): mean over the batch of ||z - c||^2, on features as given."""
    return ((z - center) ** 2).sum(dim=1).mean()


def angular_center_loss(z: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Eq. 6: mean of -(z/|z|) . (c/|c|), the negative cosine to the center."""
    return -(F.normalize(z, dim=1) * F.normalize(center, dim=-1)).sum(dim=1).mean()


def contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.25) -> torch.Tensor:
    """Eq. 2: NT-Xent over the 2B views with cosine similarity.

    For view i the positive is its partner i+B (mod 2B); the denominator sums over every
    m != i, the positive included.
    """
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    n = len(z1)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # the 1[i != m] of Eq. 2
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, partner)


def msc_loss(z1: torch.Tensor, z2: torch.Tensor, center: torch.Tensor,
             temperature: float = 0.25) -> torch.Tensor:
    """Eq. 4: l2-normalise each feature, subtract the center c (Eq. 3), then Eq. 2.

    The cosine similarity of Eq. 2 is taken between the mean-shifted vectors, i.e. angles
    are measured around c instead of around the origin.
    """
    shifted1 = F.normalize(z1, dim=1) - center
    shifted2 = F.normalize(z2, dim=1) - center
    return contrastive_loss(shifted1, shifted2, temperature)
