"""Checkers for the chapters' coding exercises: they run the student's function on small
random inputs and say whether it matches the package's, or which classic mistake it
matches instead. The lesson is the equation; the checker only says what is off."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import contrastive_loss, msc_loss

__all__ = ["check_msc_loss"]


def _msc_variants(z1, z2, center, raw_center, temperature):
    """Eq. 4 and the ways it is commonly got wrong, each with what to fix."""
    return [
        ("right", msc_loss(z1, z2, center, temperature), None),
        ("no normalisation", contrastive_loss(z1 - center, z2 - center, temperature),
         "normalise each feature (F.normalize(z, dim=1)) before subtracting c: Eq. 4 shifts "
         "unit vectors"),
        ("no shift", contrastive_loss(z1, z2, temperature),
         "subtract the center c from the normalised features: without it this is Eq. 2, the "
         "plain contrastive loss"),
        ("raw center", contrastive_loss(F.normalize(z1, dim=1) - raw_center,
                                        F.normalize(z2, dim=1) - raw_center, temperature),
         "c is the mean of the *normalised* features (Eq. 3), not of the raw ones"),
        ("shift before normalising", contrastive_loss(z1 - raw_center, z2 - raw_center,
                                                      temperature),
         "normalise first, then shift (Fig. 4: shifting un-normalised features makes the "
         "angle depend on their norms)"),
        ("wrong sign", -msc_loss(z1, z2, center, temperature),
         "the loss is the *negative* log of the softmax: it must go down as views agree"),
        ("sum, not mean", msc_loss(z1, z2, center, temperature) * 2 * len(z1),
         "average over the 2B views (a batch mean), do not sum"),
    ]


def check_msc_loss(student, seed: int = 0, verbose: bool = True) -> bool:
    """Run ``student(z1, z2, center, temperature)`` on random features (un-normalised, as
    the model gives them) and compare with :func:`mscad.losses.msc_loss`. Prints one line:
    right, or the mistake it matches and how to fix it. Returns whether it is right."""
    generator = torch.Generator().manual_seed(seed)
    z1 = torch.randn(8, 5, generator=generator) * 3 + 2  # far from unit norm, off-center
    z2 = z1 + 0.3 * torch.randn(8, 5, generator=generator)
    raw_center = torch.cat([z1, z2]).mean(0)
    center = F.normalize(torch.cat([z1, z2]), dim=1).mean(0)  # Eq. 3
    temperature = 0.25

    def say(text):
        if verbose:
            print(text)

    try:
        got = student(z1.clone(), z2.clone(), center.clone(), temperature)
    except NotImplementedError:
        say("Not written yet: replace the `raise NotImplementedError` with Eq. 4.")
        return False
    except Exception as e:  # the student's bug: name it, do not crash the notebook
        say(f"Your function raised {type(e).__name__}: {e}")
        return False
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        say(f"Return one number (a 0-d tensor, the batch mean); got {type(got).__name__} "
            f"{tuple(getattr(got, 'shape', ()))}.")
        return False
    for name, value, fix in _msc_variants(z1, z2, center, raw_center, temperature):
        if torch.allclose(got.float(), value, rtol=1e-4, atol=1e-5):
            if fix is None:
                say(f"Right: your loss matches Eq. 4 ({got.item():.4f}).")
                return True
            say(f"Not yet ({name}): {fix}.")
            return False
    right = msc_loss(z1, z2, center, temperature).item()
    say(f"Not yet: your loss gives {got.item():.4f}, Eq. 4 gives {right:.4f}, and it matches "
        "no common mistake; check the normalisation, the shift by c and the temperature.")
    return False
