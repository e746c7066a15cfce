"""The exercise checker names each classic mistake of Eq. 4; the 3-D toy trains for real."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mscad.exercises import check_msc_loss
from mscad.losses import contrastive_loss
from mscad.toy import cap, train_toy


def right(z1, z2, c, t):
    return contrastive_loss(F.normalize(z1, dim=1) - c, F.normalize(z2, dim=1) - c, t)


MISTAKES = {
    "normalise each feature": lambda z1, z2, c, t: contrastive_loss(z1 - c, z2 - c, t),
    "subtract the center c": lambda z1, z2, c, t: contrastive_loss(F.normalize(z1, dim=1),
                                                                   F.normalize(z2, dim=1), t),
    "negative": lambda z1, z2, c, t: -right(z1, z2, c, t),
    "average over the 2B views": lambda z1, z2, c, t: right(z1, z2, c, t) * 2 * len(z1),
    "matches no common mistake": lambda z1, z2, c, t: right(z1, z2, c, 0.5),
}


def test_the_right_loss_passes(capsys):
    assert check_msc_loss(right)
    assert capsys.readouterr().out.startswith("Right")


@pytest.mark.parametrize("hint", list(MISTAKES))
def test_each_mistake_is_named_with_its_fix(hint, capsys):
    assert not check_msc_loss(MISTAKES[hint])
    assert hint in capsys.readouterr().out


def test_unwritten_broken_and_wrongly_shaped_answers_do_not_crash(capsys):
    def todo(*a):
        raise NotImplementedError

    assert not check_msc_loss(todo)
    assert not check_msc_loss(lambda z1, z2, c, t: z1.foo)
    assert not check_msc_loss(lambda z1, z2, c, t: (z1 - z2).sum(1))  # one loss per image
    out = capsys.readouterr().out
    assert "Not written yet" in out and "AttributeError" in out and "one number" in out


def test_a_cap_stays_within_its_radius_around_its_pole():
    g = torch.Generator().manual_seed(0)
    pole = F.normalize(torch.tensor([1.0, 1.0, 0.0]), dim=0)
    points = cap(500, pole, 25.0, g)
    assert torch.allclose(points.norm(dim=1), torch.ones(500), atol=1e-5)
    angles = torch.rad2deg(torch.arccos((points @ pole).clamp(-1, 1)))
    assert angles.max() <= 25.0 + 1e-3 and angles.max() > 20.0  # fills the cap


def test_the_toy_shows_the_mechanism():
    """Measured: the contrastive loss spreads the normal cap (pair similarity ~0.9 -> ~0.1)
    and loses ROC-AUC; MSC keeps the cap together and its ROC-AUC. A sign error in either
    loss, or a missing shift, would change these."""
    con, msc = train_toy("contrastive", steps=150), train_toy("msc", steps=150)
    pair = lambda a: float((a @ a.T).mean())  # noqa: E731
    assert np.isclose(con.auroc_before, msc.auroc_before)  # the same starting features
    assert pair(con.normal_after) < pair(con.normal_before) - 0.3
    assert pair(msc.normal_after) > pair(msc.normal_before) - 0.05
    assert con.auroc_after < con.auroc_before - 0.01
    assert msc.auroc_after > con.auroc_after
    with pytest.raises(ValueError, match="contrastive"):
        train_toy("center")


# ------------------------------------------------------------------ a checker for every equation
def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


CASES = {
    "check_center_loss": [
        (lambda z, c: ((z - c) ** 2).sum(1).mean(), "Right"),
        (lambda z, c: (z - c).norm(dim=1).mean(), "no square"),
        (lambda z, c: ((z - c) ** 2).sum(1).sum(), "sum, not mean"),
        (lambda z, c: ((torch.nn.functional.normalize(z, dim=1)
                        - torch.nn.functional.normalize(c, dim=0)) ** 2).sum(1).mean(), "normalised"),
    ],
    "check_angular_center_loss": [
        (lambda z, c: -(torch.nn.functional.normalize(z, dim=1)
                        * torch.nn.functional.normalize(c, dim=0)).sum(1).mean(), "Right"),
        (lambda z, c: (torch.nn.functional.normalize(z, dim=1)
                       * torch.nn.functional.normalize(c, dim=0)).sum(1).mean(), "wrong sign"),
        (lambda z, c: -(torch.nn.functional.normalize(z, dim=1) * c).sum(1).mean(), "c not normalised"),
    ],
    "check_contrastive_loss": [
        (lambda a, b, t: __import__("mscad.losses", fromlist=["x"]).contrastive_loss(a, b, t), "Right"),
        (lambda a, b, t: __import__("mscad.losses", fromlist=["x"]).contrastive_loss(a, b, 1.0), "no temperature"),
    ],
    "check_knn_scores": [
        (lambda tr, te, k: np.sort(1 - _unit(te) @ _unit(tr).T, axis=1)[:, :k].sum(1), "Right"),
        (lambda tr, te, k: np.sort(1 - _unit(te) @ _unit(tr).T, axis=1)[:, -k:].sum(1), "farthest"),
        (lambda tr, te, k: np.sort(1 - _unit(te) @ _unit(tr).T, axis=1)[:, :k].mean(1), "mean, not sum"),
        (lambda tr, te, k: np.sort(1 - _unit(te) @ _unit(tr).T, axis=1)[:, 0], "k = 1"),
    ],
    "check_uniformity": [
        (lambda z: ((_unit(z) @ _unit(z).T).sum() - len(z)) / (len(z) * (len(z) - 1)), "Right"),
        (lambda z: (_unit(z) @ _unit(z).T).mean(), "pairs with themselves"),
        (lambda z: ((_unit(z) @ _unit(z).T).sum() - len(z)) / len(z) ** 2, "divided by n^2"),
    ],
}


@pytest.mark.parametrize("checker", sorted(CASES))
def test_each_equations_checker_names_the_mistake(checker, capsys):
    """A hand-written right answer passes; each classic mistake is named; a stub says
    'not written yet'; a crash is reported, not raised."""
    from mscad.book import exercises

    check = getattr(exercises, checker)
    for student, says in CASES[checker]:
        ok = check(student)
        line = capsys.readouterr().out
        assert ok == (says == "Right") and says in line, (checker, says, line)

    def stub(*args):
        raise NotImplementedError

    assert not check(stub) and "Not written yet" in capsys.readouterr().out
    assert not check(lambda *args: 1 / 0) and "ZeroDivisionError" in capsys.readouterr().out
