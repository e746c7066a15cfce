"""A toy in three dimensions that trains, in seconds, what chapter 4 explains: normal
points on a spherical cap (the pretrained features of one class), anomalies on a nearby
cap, and a small network that starts as the identity and is fine-tuned on the normal
points with the contrastive loss (Eq. 2) or the mean-shifted one (Eq. 4) of
:mod:`mscad.losses`. Nothing is drawn by hand: the figure shows where the points went."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import MscadError
from ..losses import contrastive_loss, msc_loss
from ..metrics import roc_auc
from ..scoring import knn_scores

__all__ = ["ToyRun", "cap", "train_toy"]


def cap(n: int, pole, radius_deg: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` unit vectors spread over the spherical cap of angular radius ``radius_deg``
    around ``pole``."""
    pole = F.normalize(torch.as_tensor(pole, dtype=torch.float32), dim=0)
    # uniform on the cap: cos(theta) uniform in [cos(radius), 1], azimuth uniform
    cos_t = 1 - torch.rand(n, generator=generator) * (1 - np.cos(np.radians(radius_deg)))
    phi = 2 * np.pi * torch.rand(n, generator=generator)
    sin_t = torch.sqrt(1 - cos_t ** 2)
    local = torch.stack([sin_t * torch.cos(phi), sin_t * torch.sin(phi), cos_t], dim=1)
    # rotate the z axis onto the pole (Householder reflection, then fix the orientation)
    z = torch.tensor([0.0, 0.0, 1.0])
    v = z - pole
    if v.norm() < 1e-6:
        return local
    h = torch.eye(3) - 2 * torch.outer(v, v) / (v @ v)
    return local @ h.T


class _Residual(torch.nn.Module):
    """x + g(x) with g's last layer zero: at the start the network is the identity, as a
    pretrained feature extractor is where fine-tuning starts."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.g = torch.nn.Sequential(torch.nn.Linear(3, width), torch.nn.Tanh(),
                                     torch.nn.Linear(width, 3))
        torch.nn.init.zeros_(self.g[2].weight)
        torch.nn.init.zeros_(self.g[2].bias)

    def forward(self, x):
        return x + self.g(x)


@dataclass
class ToyRun:
    """Features (unit vectors) before and after fine-tuning, and the kNN ROC-AUC of each."""
    objective: str
    normal_before: np.ndarray
    anomalous_before: np.ndarray
    normal_after: np.ndarray
    anomalous_after: np.ndarray
    auroc_before: float
    auroc_after: float
    losses: list


def _auroc(train, normal, anomalous) -> float:
    test = np.concatenate([normal, anomalous])
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    return roc_auc(labels, knn_scores(train, test, k=2))


def train_toy(objective: str, steps: int = 300, lr: float = 0.1, n: int = 256,
              radius_deg: float = 25.0, anomaly_offset_deg: float = 45.0, noise: float = 0.05,
              temperature: float = 0.25, seed: int = 0) -> ToyRun:
    """Fine-tune the identity network on normal points with ``objective`` ("contrastive"
    or "msc"); two views of a point are the point with a little Gaussian noise (the
    toy's augmentation). The kNN score (k=2) of held-out normal points and of anomalies
    is evaluated before and after, with the train points as the gallery."""
    if objective not in ("contrastive", "msc"):
        raise MscadError(f"the toy trains objective='contrastive' or 'msc', not {objective!r}.")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pole = torch.tensor([0.0, 0.0, 1.0])
    off = np.radians(anomaly_offset_deg)
    train = cap(n, pole, radius_deg, g)
    normal_test = cap(n, pole, radius_deg, g)
    anomalous = cap(n, [np.sin(off), 0.0, np.cos(off)], radius_deg, g)
    net = _Residual()
    center = F.normalize(train, dim=1).mean(0)  # Eq. 3, from the starting features

    def features(x):
        with torch.no_grad():
            return F.normalize(net(x), dim=1).numpy()

    before = [features(x) for x in (train, normal_test, anomalous)]
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        batch = train[torch.randint(0, n, (64,), generator=g)]
        v1 = batch + noise * torch.randn(batch.shape, generator=g)
        v2 = batch + noise * torch.randn(batch.shape, generator=g)
        z1, z2 = net(v1), net(v2)
        loss = (contrastive_loss(z1, z2, temperature) if objective == "contrastive"
                else msc_loss(z1, z2, center, temperature))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    after = [features(x) for x in (train, normal_test, anomalous)]
    return ToyRun(objective, before[1], before[2], after[1], after[2],
                  _auroc(before[0], before[1], before[2]), _auroc(after[0], after[1], after[2]),
                  losses)
