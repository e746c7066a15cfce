"""The feature model: backbone followed by l2 normalisation (paper Sec. 5).

``model(x)`` gives the normalised features ``phi(x)/|phi(x)|`` (the "semantic class");
``model.raw(x)`` gives the un-normalised ``phi(x)``, whose norm is the "confidence" of
Sec. 5.2 / Fig. 3a.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .backbones import Backbone, build_backbone
from .compiled import StaticCompiled


class FeatureModel(nn.Module):
    """``fast=True`` (the default) keeps convolutional backbones and their inputs in the
    channels-last memory format, which PyTorch's CPU and GPU convolutions run faster
    (2x per training step for Lite0 at 64 px on 2 cores: benchmarks/); the numbers
    are the same up to float rounding. ``fast=False`` is the plain NCHW layout.

    :meth:`compile_for` runs the forward passes compiled (:mod:`mscad.compiled`) for the
    batch sizes it is given; a model is eager until then."""

    def __init__(self, backbone: Backbone | str = "efficientnet_lite0", pretrained: bool = True,
                 fast: bool = True):
        super().__init__()
        if isinstance(backbone, str):
            backbone = build_backbone(backbone, pretrained=pretrained)
        self.spec = backbone
        self.backbone = backbone.module
        self.memory_format = (torch.channels_last if fast and backbone.channels_last
                              else torch.contiguous_format)
        self.backbone.to(memory_format=self.memory_format)
        self._split = backbone.split(self.backbone) if backbone.split else None
        # the backbone and the trainable layers' forward, compiled once compile_for is called
        self._forward = StaticCompiled(self.backbone, "forward")
        self._suffix = StaticCompiled(self._split[1], "trainable layers") if self._split else None
        self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1))

    @property
    def feature_dim(self) -> int:
        return self.spec.feature_dim

    def train(self, mode: bool = True):
        # BatchNorm stays in eval mode throughout fine-tuning (running statistics frozen),
        # as in the paper's code; dropout is off too, since features must be deterministic.
        super().train(mode)
        self.backbone.eval()
        return self

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised features of images ``x``: float in [0, 1], shape (B, 3, H, W)."""
        x = ((x - self.mean) / self.std).contiguous(memory_format=self.memory_format)
        return self._forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.raw(x), dim=1)

    @property
    def has_frozen_prefix(self) -> bool:
        return self._split is not None

    def frozen_prefix(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen layers' output for images ``x``: it never changes during fine-tuning."""
        x = ((x - self.mean) / self.std).contiguous(memory_format=self.memory_format)
        return self._split[0](x)

    def from_prefix(self, h: torch.Tensor) -> torch.Tensor:
        """Raw features from the frozen layers' output: ``raw(x) == from_prefix(frozen_prefix(x))``."""
        return self._suffix(h)

    def compile_for(self, *batch_sizes: int, training: tuple = ()) -> "FeatureModel":
        """Run the forward passes compiled, without gradients, for batches of these sizes
        (evaluation pads its ragged last batch to the evaluation batch, so one size covers
        it), and with gradients for the ``training`` sizes (the training step: measured
        no faster on the CPU, so mscad does not ask for it); other sizes and modes stay
        eager. The frozen prefix stays eager: it runs once per run."""
        for part in (self._forward, self._suffix):
            if part is not None:
                part.batch_sizes.update(int(b) for b in batch_sizes if b)
                part.training_batch_sizes.update(int(b) for b in training if b)
        return self

    @property
    def compiled_batch_sizes(self) -> set:
        """The sizes that run compiled without gradients (and a failed compile: none)."""
        return set() if self._forward.failed else set(self._forward.batch_sizes)

    def compile_status(self) -> str:
        """What ran compiled, for a result's record: 'eager', 'compiled', or the fallback's reason."""
        if not (self._forward.batch_sizes or self._forward.training_batch_sizes):
            return "eager"
        parts = [p for p in (self._forward, self._suffix) if p is not None]
        failed = [p.status for p in parts if p.failed]
        if failed:
            return failed[0]
        return "compiled" if any(p.calls for p in parts) else "eager (no batch of a compiled size ran)"


# Evaluation batch: 64 was the fastest on a 2-core CPU for Lite0 at 64 px (868 img/s
# channels-last, 792 at 256; NCHW 858 at 64 but 433 at 256); a GPU wants bigger batches.
def default_eval_batch(device) -> int:
    return 256 if torch.device(device).type == "cuda" else 64


class FrozenActivations:
    """The frozen prefix's output for a fixed set of images under the evaluation
    transform, computed once: every later epoch runs only the trainable layers on them
    (the same numbers, about half the evaluation time for Lite0). Kept only when it fits
    in ``max_bytes``; otherwise :meth:`build` returns ``None`` and features are computed
    from the images."""

    def __init__(self, activations: torch.Tensor):
        self.activations = activations

    def __len__(self):
        return len(self.activations)

    @classmethod
    @torch.inference_mode()
    def build(cls, model: "FeatureModel", images, image_size: int, device=None,
              max_bytes: int = 1 << 30, precision: str | None = None):
        from .augment import eval_batch
        from .config import autocast_dtype, resolve_precision

        if not model.has_frozen_prefix or len(images) == 0:
            return None
        device = torch.device(device or next(model.parameters()).device)
        dtype = autocast_dtype(resolve_precision(precision, str(device)))
        model.eval()

        def prefix(x):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                return model.frozen_prefix(eval_batch(x.to(device), image_size))

        probe = prefix(images[:1])
        if probe.numel() * probe.element_size() * len(images) > max_bytes:
            return None
        batch = default_eval_batch(device)
        parts = [prefix(images[s:s + batch]) for s in range(0, len(images), batch)]
        return cls(torch.cat(parts).contiguous(memory_format=model.memory_format))


def _padded(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` with its last row repeated up to ``size`` rows (evaluation only: BatchNorm in
    eval mode treats every row on its own, so the padding changes no other row)."""
    if len(x) >= size:
        return x
    return torch.cat([x, x[-1:].expand(size - len(x), *x.shape[1:])]).contiguous(
        memory_format=torch.channels_last if x.ndim == 4 and x.is_contiguous(
            memory_format=torch.channels_last) else torch.contiguous_format)


@torch.inference_mode()
def extract_features(model: FeatureModel, images, image_size: int, batch_size: int | None = None,
                     device: str | torch.device | None = None, raw: bool = False,
                     progress: bool = False, desc: str = "features",
                     frozen: FrozenActivations | None = None,
                     precision: str | None = None) -> np.ndarray:
    """Features of every image in ``images`` (a uint8 tensor (N, H, W, 3), or float views
    (N, 3, S, S) in [0, 1] already transformed), as float32 NumPy.

    Normalised features by default, the backbone's raw features with ``raw=True``.
    Images go through the evaluation transform (:func:`mscad.augment.eval_batch`); with
    ``frozen`` (the same images' :class:`FrozenActivations`) only the trainable layers run.
    ``precision``: fp32, bf16 or fp16 autocast (default: by the device's capability).
    """
    from tqdm import tqdm

    from .augment import eval_batch
    from .config import autocast_dtype, resolve_precision

    device = torch.device(device or next(model.parameters()).device)
    batch_size = batch_size or default_eval_batch(device)
    dtype = autocast_dtype(resolve_precision(precision, str(device)))
    was_training = model.training
    model.eval()
    out = np.empty((len(images), model.feature_dim), dtype=np.float32)
    starts = range(0, len(images), batch_size)
    # a compiled model runs one batch shape: the ragged last batch is padded to it
    pad = batch_size in model.compiled_batch_sizes
    for s in tqdm(starts, desc=desc, disable=not progress, leave=False):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            if frozen is not None:
                x = frozen.activations[s:s + batch_size]
                n = len(x)
                f = model.from_prefix(_padded(x, batch_size) if pad else x)
            else:
                x = images[s:s + batch_size].to(device, non_blocking=True)
                x = x if x.is_floating_point() else eval_batch(x, image_size)
                n = len(x)
                f = model.raw(_padded(x, batch_size) if pad else x)
            f = f[:n]
            if not raw:
                f = F.normalize(f, dim=1)
        out[s:s + n] = f.float().cpu().numpy()
    model.train(was_training)
    return out
