"""Compiled forward passes: the same features, computed faster by ``torch.compile``.

One switch, ``$MSCAD_COMPILE`` (the command line's ``--compile``): ``auto`` (the default),
``on`` or ``off``. ``auto`` compiles the evaluation on the CPU from 128 px up (below,
it measured no faster) at every profile except ``quick``, whose processes (CI, the
tests, nbval) are too short to repay a compile of 20-60 s; on CUDA it stays off until a
lent GPU verifies it (``benchmarks/gpu_check.py`` compares the two).
``on`` compiles wherever torch can. Compiled code is cached across processes by
inductor, in ``$TORCHINDUCTOR_CACHE_DIR`` (default: ``compiled/`` under mscad's cache
root), so a second process skips most of the compile.

What is compiled (inductor, static shapes): the backbone's forward, and the trainable
layers' forward where the frozen layers' output is kept (:class:`mscad.model.FrozenActivations`),
for the evaluation batch. The training step can be compiled too (``compile_for(...,
training=(batch,))``), but it measured no faster here: its time is the backward of
EfficientNet's 5x5 depthwise convolutions in oneDNN, which inductor calls as it is, so
mscad does not ask for it. Shapes are kept static on purpose: only the batch sizes a
model is told about run compiled (the evaluation batch, its ragged last batch padded up
to it); any other batch, and any forward with gradients not asked for, runs eagerly, so
a stray shape never costs a recompile. If compiling fails (no C++
compiler, an unsupported Python), the model says why once and runs eagerly: the same
numbers, at eager speed. Compiled and eager features agree to float rounding
(``tests/test_compiled.py``: 1e-4 on l2-normalised features, ROC-AUC to 1e-4).
"""
from __future__ import annotations

import os
import sys
from typing import Callable

MODES = ("auto", "on", "off")
ENV = "MSCAD_COMPILE"


def compile_mode() -> str:
    """``$MSCAD_COMPILE`` checked: auto (unset), on or off."""
    from .errors import MscadError

    mode = (os.environ.get(ENV) or "auto").strip().lower()
    if mode not in MODES:
        raise MscadError(f"${ENV} must be one of {', '.join(MODES)}, got {mode!r}; unset it for auto.")
    return mode


# Below this resolution a compiled forward did not pay on the CPU: 1.13x on feature
# extraction at 64 px, and no gain on a whole epoch, whose time is the training step's
# backward; 1.5x at 128 and 224 px, 1.8x for Lite1 at 240 (benchmarks/compiled_speed.py).
MIN_IMAGE_SIZE = 128


def should_compile(device: str, profile: str | None, image_size: int | None = None,
                   mode: str | None = None) -> tuple[bool, str]:
    """Whether a run on ``device`` at ``profile`` and ``image_size`` compiles its
    evaluation, and why (said in its result)."""
    mode = mode or compile_mode()
    if mode == "off":
        return False, f"off (${ENV}=off)"
    if mode == "on":
        return True, f"on (${ENV}=on)"
    if str(device).startswith("cuda"):
        return False, f"off (auto: not yet verified on CUDA; {ENV}=on to try)"
    if profile == "quick":
        return False, "off (auto: the quick profile's runs are too short to repay a compile)"
    if image_size is not None and image_size < MIN_IMAGE_SIZE:
        return False, (f"off (auto: below {MIN_IMAGE_SIZE} px a compiled forward measured no "
                       f"faster on the CPU; {ENV}=on to compile anyway)")
    return True, f"on (auto: CPU, {image_size or 'any'} px)"


def _cache_dir():
    # inductor reads this when it first compiles; a user's own setting wins
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        root = os.environ.get("MSCAD_CACHE") or os.path.join("~", ".cache", "mscad")
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(os.path.expanduser(root), "compiled")


class StaticCompiled:
    """``fn`` compiled for a fixed set of batch sizes; other sizes, and everything after a
    failed compile, run ``fn`` eagerly. ``status`` says which happened."""

    def __init__(self, fn: Callable, name: str):
        self.fn, self.name = fn, name
        self.batch_sizes: set[int] = set()  # run compiled without gradients (evaluation)
        self.training_batch_sizes: set[int] = set()  # and with them (the training step)
        self._compiled = None
        self.failed: str | None = None
        self.calls = 0  # calls that ran compiled

    def __call__(self, x):
        import torch

        sizes = self.training_batch_sizes if torch.is_grad_enabled() else self.batch_sizes
        if self.failed is not None or x.shape[0] not in sizes:
            return self.fn(x)
        try:
            if self._compiled is None:
                _cache_dir()
                self._compiled = torch.compile(self.fn, dynamic=False)
            out = self._compiled(x)
        except Exception as error:  # noqa: BLE001 - any compile failure: eager, said once
            self.failed = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
            print(f"mscad: compiling the model's {self.name} failed ({self.failed}); running "
                  f"eagerly (the same numbers, slower; {ENV}=off skips the attempt).",
                  file=sys.stderr)
            return self.fn(x)
        self.calls += 1
        return out

    @property
    def status(self) -> str:
        if self.failed is not None:
            return f"fell back to eager ({self.failed})"
        return "compiled" if self.calls else "not yet run compiled"
