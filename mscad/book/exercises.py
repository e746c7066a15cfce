"""Checkers for the chapters' coding exercises: they run the student's function on small
random inputs and say whether it matches the package's, or which classic mistake it
matches instead. The lesson is the equation; the checker only says what is off."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..losses import angular_center_loss, center_loss, contrastive_loss, msc_loss
from ..metrics import uniformity
from ..scoring import knn_scores

__all__ = ["check_angular_center_loss", "check_center_loss", "check_contrastive_loss",
           "check_knn_scores", "check_msc_loss", "check_uniformity"]


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


# ------------------------------------------------------------------ one checker, every equation
def _check(student, args: tuple, variants: list, equation: str, say) -> bool:
    """Run ``student(*args)``; compare with ``variants`` ((name, value, fix); the first is
    the right one, ``fix`` None) and say which it matches."""
    try:
        got = student(*[a.clone() if isinstance(a, torch.Tensor) else np.array(a, copy=True)
                        if isinstance(a, np.ndarray) else a for a in args])
    except NotImplementedError:
        say(f"Not written yet: replace the `raise NotImplementedError` with {equation}.")
        return False
    except Exception as e:  # the student's bug: name it, do not crash the notebook
        say(f"Your function raised {type(e).__name__}: {e}")
        return False
    right = variants[0][1]
    try:
        got = torch.as_tensor(np.asarray(got.detach() if isinstance(got, torch.Tensor) else got,
                                         dtype=np.float64))
    except (TypeError, ValueError):
        say(f"Return numbers (a tensor or an array); got {type(got).__name__}.")
        return False
    want = torch.as_tensor(np.asarray(right, dtype=np.float64))
    if got.shape != want.shape:
        say(f"Return shape {tuple(want.shape)} ({'one number' if want.ndim == 0 else 'one per test image'}); "
            f"got {tuple(got.shape)}.")
        return False
    for name, value, fix in variants:
        value = torch.as_tensor(np.asarray(value, dtype=np.float64))
        if torch.allclose(got, value, rtol=1e-4, atol=1e-5):
            if fix is None:
                say(f"Right: yours matches {equation}.")
                return True
            say(f"Not yet ({name}): {fix}.")
            return False
    say(f"Not yet: yours gives {got.flatten()[:3].tolist()}, {equation} gives "
        f"{want.flatten()[:3].tolist()}, and it matches no common mistake.")
    return False


def _features(seed: int, n: int = 8, d: int = 5):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=generator, dtype=torch.float64) * 3 + 2  # off-center
    return z, generator


def _printer(verbose: bool):
    return (lambda text: print(text)) if verbose else (lambda text: None)


def check_center_loss(student, seed: int = 0, verbose: bool = True) -> bool:
    """``student(z, center)``: Eq. 1, the mean squared distance of raw features to c."""
    z, _ = _features(seed)
    c = z.mean(0)
    variants = [
        ("right", center_loss(z, c), None),
        ("no square", (z - c).norm(dim=1).mean(), "square the distance: Eq. 1 is ||phi(x) - c||^2"),
        ("sum, not mean", center_loss(z, c) * len(z), "average over the batch, do not sum"),
        ("normalised", center_loss(F.normalize(z, dim=1), F.normalize(c, dim=0)),
         "PANDA's center loss works on the raw features: do not normalise (that is Eq. 6's idea)"),
        ("mean over features too", ((z - c) ** 2).mean(),
         "sum the squares over the feature dimensions, then average over images"),
    ]
    return _check(student, (z, c), variants, "Eq. 1", _printer(verbose))


def check_angular_center_loss(student, seed: int = 0, verbose: bool = True) -> bool:
    """``student(z, center)``: Eq. 6, minus the mean cosine of each feature with c."""
    z, _ = _features(seed)
    c = F.normalize(z, dim=1).mean(0)
    variants = [
        ("right", angular_center_loss(z, c), None),
        ("wrong sign", -angular_center_loss(z, c),
         "minimise the *negative* cosine: the loss must fall as features turn towards c"),
        ("c not normalised", -(F.normalize(z, dim=1) * c).sum(1).mean(),
         "normalise c too: Eq. 6 is a cosine, both vectors of unit length"),
        ("z not normalised", -(z * F.normalize(c, dim=0)).sum(1).mean(),
         "normalise each feature: without it the loss grows the features' norms"),
        ("sum, not mean", angular_center_loss(z, c) * len(z), "average over the batch, do not sum"),
    ]
    return _check(student, (z, c), variants, "Eq. 6", _printer(verbose))


def check_contrastive_loss(student, seed: int = 0, verbose: bool = True) -> bool:
    """``student(z1, z2, temperature)``: Eq. 2, NT-Xent over the 2B views."""
    z1, generator = _features(seed)
    z2 = z1 + 0.3 * torch.randn(z1.shape, generator=generator, dtype=torch.float64)
    tau = 0.25
    both = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = both @ both.T / tau
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    with_self = F.cross_entropy(sim, partner)
    one_way = F.cross_entropy((F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T) / tau, torch.arange(n))
    variants = [
        ("right", contrastive_loss(z1, z2, tau), None),
        ("self-similarity kept", with_self,
         "leave each view's similarity with itself out of the denominator (mask the diagonal)"),
        ("no normalisation", F.cross_entropy(
            (torch.cat([z1, z2]) @ torch.cat([z1, z2]).T / tau).fill_diagonal_(float("-inf")), partner),
         "normalise the features first: Eq. 2 uses cosine similarity"),
        ("no temperature", contrastive_loss(z1, z2, 1.0), "divide the similarities by tau"),
        ("one direction only", one_way,
         "use both views as anchors: 2B rows, each view's positive is its partner"),
    ]
    return _check(student, (z1, z2, tau), variants, "Eq. 2", _printer(verbose))


def check_knn_scores(student, seed: int = 0, verbose: bool = True) -> bool:
    """``student(train, test, k)``: Eq. 5, the sum of cosine distances to the k nearest."""
    rng = np.random.default_rng(seed)
    train = rng.normal(1, 2, (20, 5))
    test = rng.normal(1, 2, (6, 5))
    k = 2
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cos = unit(test) @ unit(train).T
    raw_distance = np.linalg.norm(test[:, None] - train[None], axis=2)
    variants = [
        ("right", knn_scores(train, test, k=k), None),
        ("farthest, not nearest", np.sort(1 - cos, axis=1)[:, -k:].sum(1),
         "take the k *nearest* gallery features (the smallest distances)"),
        ("similarity, not distance", np.sort(cos, axis=1)[:, -k:].sum(1),
         "score with the distance 1 - cos: higher must mean more anomalous"),
        ("mean, not sum", knn_scores(train, test, k=k) / k, "sum the k distances (Eq. 5), do not average"),
        ("not normalised", np.sort(raw_distance, axis=1)[:, :k].sum(1),
         "normalise the features: Eq. 5 uses cosine distance on l2-normalised features"),
        ("k = 1", knn_scores(train, test, k=1), "sum over k neighbours, not only the nearest"),
    ]
    return _check(student, (train, test, k), variants, "Eq. 5", _printer(verbose))


def check_uniformity(student, seed: int = 0, verbose: bool = True) -> bool:
    """``student(features)``: the mean cosine similarity over all pairs i != j (Fig. 1a)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(1, 2, (12, 5))
    unit = z / np.linalg.norm(z, axis=1, keepdims=True)
    gram = unit @ unit.T
    n = len(z)
    raw_gram = z @ z.T
    variants = [
        ("right", uniformity(z), None),
        ("pairs with themselves", gram.mean(), "leave out i = j: each feature's similarity with itself is 1"),
        ("not normalised", (raw_gram.sum() - np.trace(raw_gram)) / (n * (n - 1)),
         "normalise the features: the measure is a mean *cosine* similarity"),
        ("divided by n^2", (gram.sum() - n) / n ** 2, "divide by the n(n - 1) pairs with i != j"),
    ]
    return _check(student, (z,), variants, "the uniformity measure (Fig. 1a)", _printer(verbose))
