import math

import numpy as np
import pytest
import torch

from mscad.losses import angular_center_loss, center_loss, contrastive_loss, msc_loss


def ntxent_reference(z1, z2, tau):
    """Eq. 2 written out term by term in NumPy, independent of the implementation."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    b = n2 // 2
    total = 0.0
    for i in range(n2):
        pos = (i + b) % n2
        denom = sum(math.exp(z[i] @ z[m] / tau) for m in range(n2) if m != i)
        total += -math.log(math.exp(z[i] @ z[pos] / tau) / denom)
    return total / n2


@pytest.fixture
def views():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 7, generator=g) * 3, torch.randn(5, 7, generator=g) * 3


def test_contrastive_matches_term_by_term_formula(views):
    z1, z2 = views
    for tau in (0.1, 0.25, 1.0):
        got = contrastive_loss(z1, z2, tau).item()
        assert got == pytest.approx(ntxent_reference(z1.numpy(), z2.numpy(), tau), rel=1e-5)


def test_contrastive_hand_computed_two_pairs():
    # Two images, orthogonal; each view equals its image. For view 0 the positive has
    # cos 1, the other two candidates cos 0: loss = -log(e^(1/t) / (e^(1/t) + 2)).
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    tau = 0.5
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert contrastive_loss(z1, z1.clone(), tau).item() == pytest.approx(expected, rel=1e-6)


def test_contrastive_is_scale_invariant_and_prefers_aligned_views(views):
    z1, z2 = views
    assert contrastive_loss(z1 * 10, z2 * 0.1).item() == pytest.approx(contrastive_loss(z1, z2).item(), rel=1e-5)
    # identical views are better than random ones: catches a wrong sign or a wrong partner
    assert contrastive_loss(z1, z1.clone()).item() < contrastive_loss(z1, z2).item()


def test_msc_is_contrastive_around_the_center(views):
    z1, z2 = views
    c = torch.nn.functional.normalize(torch.randn(50, 7), dim=1).mean(0)
    u1 = (z1 / z1.norm(dim=1, keepdim=True) - c).numpy()
    u2 = (z2 / z2.norm(dim=1, keepdim=True) - c).numpy()
    assert msc_loss(z1, z2, c, 0.25).item() == pytest.approx(ntxent_reference(u1, u2, 0.25), rel=1e-5)
    # normalisation before the shift: raw scale of the input must not matter (Fig. 4)
    assert msc_loss(z1 * 7, z2 * 0.3, c).item() == pytest.approx(msc_loss(z1, z2, c).item(), rel=1e-5)
    # with c = 0 it is the plain contrastive loss
    assert msc_loss(z1, z2, torch.zeros(7)).item() == pytest.approx(contrastive_loss(z1, z2).item(), rel=1e-6)


def test_msc_differs_from_contrastive_when_features_are_compact():
    # Features bunched around one direction: around the origin all look alike, around
    # their mean they are spread out, so the two losses must disagree.
    g = torch.Generator().manual_seed(1)
    base = torch.tensor([1.0, 0, 0, 0])
    z1 = base + 0.05 * torch.randn(8, 4, generator=g)
    z2 = z1 + 0.01 * torch.randn(8, 4, generator=g)
    c = torch.nn.functional.normalize(z1, dim=1).mean(0)
    assert msc_loss(z1, z2, c).item() < contrastive_loss(z1, z2).item() - 0.5


def test_center_loss_hand_computed():
    z = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    c = torch.tensor([1.0, 0.0])
    assert center_loss(z, c).item() == pytest.approx((4 + 4) / 2)  # ||(0,2)||^2, ||(2,0)||^2


def test_angular_center_loss_hand_computed():
    z = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-3.0, 0.0]])
    c = torch.tensor([10.0, 0.0])  # not unit: Eq. 6 uses the normalised center
    assert angular_center_loss(z, c).item() == pytest.approx(-(1 + 0 - 1) / 3)
    assert angular_center_loss(z[:1], c).item() == pytest.approx(-1.0)


def test_losses_are_differentiable(views):
    z1, z2 = (v.clone().requires_grad_() for v in views)
    c = torch.randn(7)
    for loss in (center_loss(z1, c), angular_center_loss(z1, c), contrastive_loss(z1, z2), msc_loss(z1, z2, c)):
        z1.grad = None
        loss.backward()
        assert z1.grad is not None and torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0
