"""What every chapter's setup cell calls: profile, seed, device, and a provenance line."""
from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from .profiles import default_profile, profile_settings


def setup(seed: int = 0, data: str | None = None) -> dict:
    """Seed everything, pick the profile and device, and print one provenance line.

    Returns the profile's settings plus ``seed`` and ``device``; chapters take their
    scale from it, so ``MSCAD_PROFILE=quick`` (CI) and ``cpu`` (the committed outputs)
    run the same code.
    """
    import torchvision

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    settings = profile_settings(default_profile())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if data:
        os.environ.setdefault("MSCAD_DATA", data)
    settings.update(seed=seed, device=device)
    hardware = torch.cuda.get_device_name() if device == "cuda" else f"{os.cpu_count()}-core {platform.machine()} CPU"
    print(f"profile={settings['profile']} ({settings['image_size']}px, {settings['epochs']} epochs, "
          f"train<= {settings['train_limit']}, test<= {settings['test_limit']}) | device={device} "
          f"({hardware}) | torch {torch.__version__}, torchvision {torchvision.__version__} | "
          f"data: {os.environ.get('MSCAD_DATA', 'data')} | seed {seed}")
    return settings


def glue(name: str, value, display: bool = False):
    """myst-nb's glue (so the book's prose can quote the value), a no-op without myst-nb."""
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with jupyter-book
        return
    if isinstance(value, np.generic):  # np.float64(1.0) would not parse as a number
        value = value.item()
    _glue(name, value, display=display)
