"""Train-or-load: a finished run is stored, and a later run with the same resolved
settings, the same data and the same code is loaded instead of trained again.

The key of a run is a hash of (1) every resolved setting (the device by kind, cpu or
cuda; the precision is a setting), (2) the exact pixels and labels of its train and
test images, and (3) the source of every mscad module that can change a number, with
the versions of torch, torchvision, timm and kornia. Change any of them and the run is
trained again. Stored: the result (RESULT.json) and the fine-tuned weights and center,
so a chapter that needs the model gets it too. Weights load with
``torch.load(weights_only=True)``.

Where: ``$MSCAD_CACHE`` (default ``~/.cache/mscad``), in ``runs/<key>/``; about 14 MB a
run for EfficientNet-Lite0. ``MSCAD_NO_CACHE=1``, ``fine_tune(..., cache=False)`` or
``python -m mscad run --no-cache`` force a fresh run.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import MscadError
from ..provenance import CODE_MODULES, code_identity, extension_identity  # noqa: F401
from ..results import RunResult, atomic_write, result_json, set_aside, strict_json

def cache_root() -> Path:
    return Path(os.environ.get("MSCAD_CACHE") or Path.home() / ".cache" / "mscad").expanduser()


def cache_enabled() -> bool:
    return os.environ.get("MSCAD_NO_CACHE", "").lower() not in ("1", "true", "yes")


def data_identity(data) -> str:
    """Hash of the exact images (and test labels) a run trains and tests on."""
    h = hashlib.sha256()
    tensors = [data] if isinstance(data, torch.Tensor) else [data.train, data.test]
    if getattr(data, "validation", None) is not None:  # a run's validation anomalies
        tensors.append(data.validation)
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(np.ascontiguousarray(t.cpu().numpy()))  # the buffer itself, no copy
    if not isinstance(data, torch.Tensor):
        h.update(np.ascontiguousarray(data.test_labels).tobytes())
    return h.hexdigest()


def run_key(cfg, data, images: str | None = None, variant: str | None = None) -> str:
    """The cache key; ``images``: :func:`data_identity` of ``data`` if already computed;
    ``variant``: what else makes the stored run differ (a run without the mechanism
    statistics is never served to code that wants them)."""
    settings = dict(cfg.as_dict(), device=str(cfg.device).split(":")[0])
    if variant:
        settings["variant"] = variant
    blob = json.dumps(dict(settings=settings, data=images or data_identity(data), code=code_identity(),
                           extensions=extension_identity(cfg.objective, cfg.backbone)),
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_run(key: str, cfg):
    """The stored run under ``key`` as a :class:`mscad.results.Run`, or None."""
    from ..fitted import FittedModel, read_fitted
    from ..results import Run

    folder = cache_root() / "runs" / key
    if not (folder / "result.json").is_file():
        return None  # absent, or still being written by another process: a miss, not damage
    try:
        result = RunResult.from_dict(strict_json((folder / "result.json").read_text()))
        state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        fitted = FittedModel.from_state_dict(read_fitted(state), cfg.backbone)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - any damage (truncated, garbage, a folder, a
        # wrong shape, a pickle payload refused) makes the entry a miss, never a traceback
        _set_entry_aside(folder, e)
        return None
    return Run(result, fitted.to(cfg.device), from_cache=True)


def _set_entry_aside(folder: Path, error: Exception):
    """A damaged entry is renamed (kept for a look, never served again) and retrained."""
    import sys

    try:
        kept = set_aside(folder, "damaged")
        where = f"kept as {kept.name}"
    except OSError:
        where = "could not be renamed"
    print(f"mscad: the run cache entry {folder} is damaged ({type(error).__name__}); {where}, "
          "training that run again.", file=sys.stderr)


def store_run(key: str, run) -> bool:
    """Store a finished run; on any failure (disk full, a damaged entry) say so and go on:
    the run's result is never lost because the cache could not keep it."""
    import sys

    folder = cache_root() / "runs" / key
    try:
        if (folder / "model.pt").is_dir():  # damage no write can replace: keep it aside
            set_aside(folder, "damaged")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "model.pt", lambda tmp: torch.save(dict(fitted=run.fitted.state_dict()), tmp),
                     "the run cache's model")
        text = result_json(run.result)  # last: a run without its result is not served
        atomic_write(folder / "result.json", lambda tmp: tmp.write_text(text), "the run cache's result")
    except (OSError, RuntimeError, MscadError) as e:
        print(f"mscad: warning: could not store this run in the run cache {folder} "
              f"({e}); the result itself is kept.", file=sys.stderr)
        return False
    return True
