"""One registry shape: objectives, backbones, data sets and scorers are read, extended and
looked up the same way."""
import pytest

from mscad.backbones import BACKBONE_SPECS
from mscad.data import DATASET_SOURCES
from mscad.errors import MscadError
from mscad.objectives import OBJECTIVES, get_objective
from mscad.registry import Registry
from mscad.scoring import SCORERS, get_scorer


@pytest.mark.parametrize("registry, known", [(OBJECTIVES, "msc"), (BACKBONE_SPECS, "efficientnet_lite0"),
                                             (DATASET_SOURCES, "cifar10"), (SCORERS, "knn")])
def test_every_registry_has_the_same_shape(registry, known):
    assert isinstance(registry, Registry) and known in registry.names()
    assert registry.require(known) is registry[known]
    with pytest.raises(MscadError, match=f"unknown {registry.kind} 'nope'; known {registry.kind}s: .*{known}"):
        registry.require("nope")


def test_a_registered_record_is_found_and_a_name_is_taken_once():
    reg = Registry("widget")
    record = reg.register(type("W", (), {"name": "w"})())
    assert reg.require("w") is record and reg.names() == ("w",)
    with pytest.raises(ValueError, match="registered already"):
        reg.register(record)


def test_the_lookups_go_through_the_registries():
    assert get_objective("center").momentum == 0.9
    with pytest.raises(MscadError, match="known objectives"):
        get_objective("centre")
    with pytest.raises(MscadError, match="known scorers"):
        get_scorer("lof")


def test_a_registered_objective_trains_and_is_plotted_with_its_own_colour(folder_dataset):
    """The extension table of docs/extending.md: one record, no package file edited."""
    import torch.nn.functional as F

    from mscad.config import TrainConfig
    from mscad.objectives import Objective
    from mscad.plots import objective_color
    from mscad.train import fine_tune

    def pull_views_together(views, center, temperature):
        z1, z2 = (F.normalize(z, dim=1) for z in views)
        return (1 - (z1 * z2).sum(dim=1)).mean()

    record = Objective("views-only", "views pulled together", pull_views_together, views=2,
                       center=None, color="tab:pink")
    OBJECTIVES.register(record)
    try:
        cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="views-only",
                          profile="quick", image_size=32, batch_size=3, epochs=1, device="cpu")
        run = fine_tune(cfg, progress=False, cache=False)
        assert run.history[1]["loss"] is not None and 0 <= run.auroc <= 1
        assert objective_color("views-only") == "tab:pink"
    finally:
        del OBJECTIVES["views-only"]


def test_registries_are_live_views(monkeypatch):
    """Names and labels read from a registry include what is registered after import."""
    import dataclasses as dc

    from mscad.backbones import BACKBONE_SPECS, BACKBONES
    from mscad.data import DATASET_SOURCES, DATASETS
    from mscad.objectives import OBJECTIVE_COLORS, OBJECTIVE_LABELS, OBJECTIVES

    monkeypatch.setitem(BACKBONE_SPECS, "my_net", BACKBONE_SPECS["efficientnet_lite0"])
    assert "my_net" in BACKBONES
    monkeypatch.setitem(OBJECTIVES, "mine", dc.replace(OBJECTIVES["msc"], name="mine", label="Mine",
                                                       color="tab:pink"))
    assert OBJECTIVE_LABELS["mine"] == "Mine" and OBJECTIVE_COLORS.get("mine") == "tab:pink"
    monkeypatch.setitem(DATASET_SOURCES, "mine", DATASET_SOURCES["cifar10"])
    assert "mine" in DATASETS and "mvtec:<category>" in DATASETS.values()
