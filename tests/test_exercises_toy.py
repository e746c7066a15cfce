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
