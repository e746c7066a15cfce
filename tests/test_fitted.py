"""One fitted model (weights, center, gallery, threshold) with one state_dict, saved one
way by checkpoints, the run cache and the detector; files written before it still load."""
import json

import numpy as np
import torch

from mscad.fitted import FittedModel, fitted_state, read_fitted, split_fitted
from mscad.model import FeatureModel


def old_format(fitted: dict) -> dict:
    """What checkpoints and cache entries held before: the feature model's own keys."""
    model, optional = split_fitted(fitted)
    return dict(model=model, center=optional["center"])


def test_one_state_dict_round_trips():
    features = FeatureModel("efficientnet_lite0", pretrained=False)
    center, gallery = torch.randn(1280), torch.randn(7, 1280)
    state = fitted_state(features, center, gallery, torch.tensor(0.25, dtype=torch.float64))
    assert {"center", "gallery", "threshold", "features.mean"} <= set(state)
    again = FittedModel.from_state_dict(state, "efficientnet_lite0")
    assert torch.equal(again.center, center) and torch.equal(again.gallery, gallery)
    assert float(again.threshold) == 0.25
    for key, value in features.state_dict().items():
        assert torch.equal(again.features.state_dict()[key], value), key
    no_center = FittedModel.from_state_dict(fitted_state(features), "efficientnet_lite0")
    assert no_center.center is None and no_center.gallery is None
    assert read_fitted(old_format(state))["center"].equal(center)


def test_an_old_checkpoint_resumes_to_the_same_run(folder_dataset, tmp_path):
    """A run killed under the old checkpoint format (an in-flight sweep's) resumes under
    the new code and ends with the numbers of an uninterrupted run."""
    from mscad.config import TrainConfig
    from mscad.train import fine_tune

    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc",
                      profile="quick", image_size=32, batch_size=4, epochs=1, device="cpu")
    ckpt = tmp_path / "r.ckpt"
    fine_tune(cfg, checkpoint=ckpt, progress=False, cache=False)
    state = torch.load(ckpt, weights_only=True)
    state.update(old_format(state.pop("fitted")))
    torch.save(state, ckpt)
    longer = TrainConfig(**{**cfg.as_dict(), "epochs": 2})
    resumed = fine_tune(longer, checkpoint=ckpt, resume=True, progress=False, cache=False)
    straight = fine_tune(longer, progress=False, cache=False)
    assert resumed.auroc == straight.auroc
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key


def test_an_old_cache_entry_and_an_old_detector_file_load(folder_dataset, tmp_path, monkeypatch):
    from mscad.cli import main
    from mscad.detector import MSCDetector

    monkeypatch.delenv("MSCAD_NO_CACHE")
    out = tmp_path / "r.json"
    args = ["run", "--dataset", str(folder_dataset), "--normal-class", "circle", "--objective", "msc",
            "--profile", "quick", "--quiet", "--epochs", "1", "--batch-size", "4", "--out", str(out)]
    assert main(args) == 0
    first = json.loads(out.read_text())["auroc"]
    entry = next((tmp_path / "run-cache" / "runs").iterdir())
    state = torch.load(entry / "model.pt", weights_only=True)
    torch.save(old_format(state["fitted"]), entry / "model.pt")
    assert main(args) == 0  # served from the old-format entry, not retrained
    assert json.loads(out.read_text())["auroc"] == first
    assert not list((tmp_path / "run-cache" / "runs").glob("*.damaged*"))

    det = MSCDetector(objective="dn2", profile="quick", image_size=24).fit(folder_dataset / "train" / "circle")
    path = det.save(tmp_path / "d.pt")
    new = torch.load(path, weights_only=True)
    model, optional = split_fitted(new.pop("fitted"))
    old = {**new, "format": "mscad-detector/1", "model": model, "gallery": optional["gallery"],
           "threshold": float(optional["threshold"]), "threshold_percentile": 95.0}
    old.pop("params")
    torch.save(old, tmp_path / "old.pt")
    loaded = MSCDetector.load(tmp_path / "old.pt")
    x = folder_dataset / "test" / "square"
    np.testing.assert_allclose(loaded.decision_function(x), det.decision_function(x), atol=1e-6)
    assert loaded.threshold_ == det.threshold_
