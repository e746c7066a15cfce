"""The objective registry, the center each objective uses, and the augmentation."""
import dataclasses

import numpy as np
import pytest
import torch

from mscad.augment import TwoViewAugment
from mscad.config import TrainConfig
from mscad.objectives import OBJECTIVES, get_objective
from mscad.errors import MscadError
from test_losses import ntxent_reference

# A fixed tiny batch: two images, two views each, 3-D features, and a center.
Z1 = torch.tensor([[3.0, 0.0, 4.0], [0.0, 2.0, 0.0]])
Z2 = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
C = torch.tensor([0.2, 0.1, 0.3])


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def expected(name):
    """Each objective's loss on the fixed batch, from the paper's equations in NumPy."""
    z1, z2, c = Z1.numpy(), Z2.numpy(), C.numpy()
    angular = lambda z: -(unit(z) @ unit(c)).mean()  # noqa: E731  Eq. 6
    if name == "center":  # Eq. 1 on raw features
        return ((z1 - c) ** 2).sum(axis=1).mean()
    if name == "angular-center":
        return angular(z1)
    if name == "contrastive":  # Eq. 2
        return ntxent_reference(z1, z2, 0.25)
    msc = ntxent_reference(unit(z1) - c, unit(z2) - c, 0.25)  # Eq. 4
    if name == "msc":
        return msc
    return msc + 0.5 * (angular(z1) + angular(z2))  # msc-angular


@pytest.mark.parametrize("name", ["center", "angular-center", "contrastive", "msc", "msc-angular"])
def test_each_objective_loss_on_a_fixed_batch(name):
    obj = OBJECTIVES[name]
    views = [Z1, Z2][: obj.views]
    assert obj.loss(views, C, 0.25).item() == pytest.approx(expected(name), rel=1e-5)


def test_msc_angular_is_msc_plus_the_angular_term():
    msc = OBJECTIVES["msc"].loss([Z1, Z2], C, 0.25).item()
    both = OBJECTIVES["msc-angular"].loss([Z1, Z2], C, 0.25).item()
    angular = OBJECTIVES["angular-center"].loss
    term = 0.5 * (angular([Z1], C, 0.25) + angular([Z2], C, 0.25)).item()
    assert term < -0.1  # the term is not negligible on this batch, so dropping it is caught
    assert both == pytest.approx(msc + term, rel=1e-6)


def test_registry_records():
    assert list(OBJECTIVES) == ["dn2", "center", "angular-center", "contrastive", "msc", "msc-angular"]
    assert not OBJECTIVES["dn2"].trains and OBJECTIVES["dn2"].views == 0
    assert OBJECTIVES["center"].center == "raw" and OBJECTIVES["msc"].center == "normalised"
    assert OBJECTIVES["contrastive"].center is None
    assert {n for n, o in OBJECTIVES.items() if o.momentum == 0.9} == {"center", "angular-center"}
    with pytest.raises(MscadError, match="unknown objective 'svdd'; known objectives: angular-center"):
        get_objective("svdd")


def test_per_objective_lr_and_momentum_from_the_profile():
    cpu = {o: TrainConfig(objective=o, profile="cpu").resolved() for o in OBJECTIVES}
    # each objective its own validation-chosen rate (results/selection-cpu/CHOSEN.json)
    assert cpu["center"].lr == 1e-7 and cpu["center"].momentum == 0.9
    assert cpu["msc"].epochs == cpu["center"].epochs == 5
    assert cpu["angular-center"].lr == 1e-4 and cpu["angular-center"].momentum == 0.9
    assert cpu["msc"].lr == 1e-3 and cpu["contrastive"].lr == 1e-4 and cpu["msc"].momentum == 0.0
    assert cpu["dn2"].epochs == 0
    paper = TrainConfig(objective="angular-center", profile="paper").resolved()
    assert (paper.lr, paper.momentum) == (1e-2, 0.9)


def test_two_views_differ_stay_in_range_and_repeat_from_a_seed():
    images = torch.randint(0, 256, (6, 40, 40, 3), dtype=torch.uint8)
    aug = TwoViewAugment(32)
    torch.manual_seed(7)
    v1, v2 = aug(images)
    assert v1.shape == v2.shape == (6, 3, 32, 32)
    assert 0.0 <= float(v1.min()) and float(v1.max()) <= 1.0 and 0.0 <= float(v2.min()) and float(v2.max()) <= 1.0
    assert (v1 - v2).abs().flatten(1).mean(1).min() > 1e-3  # every image's two views differ
    torch.manual_seed(7)
    w1, w2 = aug(images)
    assert torch.equal(v1, w1) and torch.equal(v2, w2)


# ------------------------------------------------------------------ the center
@pytest.fixture
def shapes_data(folder_dataset):
    from mscad.data import one_class_data

    return one_class_data(str(folder_dataset), "circle", image_size=32)


def _cfg(folder_dataset, objective):
    return TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective=objective,
                       profile="quick", image_size=32, batch_size=4, epochs=2, device="cpu").resolved()


@pytest.mark.parametrize("objective", ["center", "msc"])
def test_center_is_raw_mean_for_center_and_normalised_mean_for_msc(folder_dataset, shapes_data, objective):
    from mscad.model import FeatureModel, extract_features
    from mscad.train import compute_center

    cfg = _cfg(folder_dataset, objective)
    model = FeatureModel("efficientnet_lite0").eval()
    raw = extract_features(model, shapes_data.train, 32, raw=True)
    center = compute_center(model, shapes_data.train, cfg).numpy()
    if objective == "center":
        np.testing.assert_allclose(center, raw.mean(axis=0), rtol=1e-4, atol=1e-5)
        assert np.linalg.norm(center) > 2  # raw features are far from unit length
    else:
        np.testing.assert_allclose(center, unit(raw).mean(axis=0), rtol=1e-4, atol=1e-6)
        assert np.linalg.norm(center) < 1  # the mean of unit vectors, not normalised again


def test_center_is_not_recomputed_after_a_resume(folder_dataset, shapes_data, tmp_path, monkeypatch):
    import mscad.engine as engine_module
    import mscad.train as train_module

    cfg = _cfg(folder_dataset, "msc")
    ckpt = tmp_path / "run.ckpt"
    short = dataclasses.replace(cfg, epochs=1)
    first = train_module.fine_tune(short, checkpoint=ckpt, data=shapes_data, progress=False)

    def must_not_run(*args, **kwargs):
        raise AssertionError("compute_center ran again on resume")

    monkeypatch.setattr(engine_module, "compute_center", must_not_run)
    resumed = train_module.fine_tune(cfg, checkpoint=ckpt, resume=True, data=shapes_data, progress=False)
    assert torch.equal(resumed.center, first.center)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
