"""What every chapter's setup cell calls: profile, seed, device, and a provenance line."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from ..config import default_profile, profile_settings, resolve_device
from ..results import environment


def setup(seed: int = 0, data: str | None = None, profile: str | None = None) -> dict:
    """Seed everything, pick the profile and device, and print one provenance line.

    Returns the profile's settings plus ``seed`` and ``device``; chapters take their
    scale from it, so ``MSCAD_PROFILE=quick`` (CI) and ``cpu`` (the committed outputs)
    run the same code. ``profile`` (a chapter's parameter) wins over ``$MSCAD_PROFILE``.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    settings = profile_settings(profile or default_profile())
    device = resolve_device(None)
    if data:
        os.environ.setdefault("MSCAD_DATA", data)
    settings.update(seed=seed, device=device)
    env = environment()
    hardware = env["gpu"] if device.startswith("cuda") else f"{env['cpus']}-core {env['machine']} CPU"
    print(f"profile={settings['profile']} ({settings['image_size']}px, {settings['epochs']} epochs, "
          f"train<= {settings['train_limit']}, test<= {settings['test_limit']}) | device={device} "
          f"({hardware}) | torch {env['torch']}, torchvision {env['torchvision']} | "
          f"data: {'$MSCAD_DATA' if os.environ.get('MSCAD_DATA') else './data'} | seed {seed}")
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


def compared(value: float, other: float, higher: str = "above", lower: str = "below",
             same: str = "level with", tolerance: float = 0.05) -> str:
    """The word a sentence needs to compare two measured numbers, computed from them, so
    that prose glued from it can never contradict the outputs ("above", "below", ...).
    Differences within ``tolerance`` read as ``same``."""
    if abs(value - other) <= tolerance:
        return same
    return higher if value > other else lower


def chapter_class(normal_class: str | None = None) -> str:
    """The normal class a chapter trains on, from one switch: the chapter's
    ``NORMAL_CLASS`` parameter if set, else ``$MSCAD_CLASS`` (one setting for every
    chapter, e.g. ``MSCAD_CLASS=cat python book/execute.py book/0*.ipynb``), else the
    book's showcase class (the median validation DN2, :func:`mscad.report.showcase_class`)."""
    from ..experiment.collect import load_results, results_folder
    from ..experiment.protocol import showcase_class

    chosen = normal_class or os.environ.get("MSCAD_CLASS")
    if chosen:
        return str(chosen)
    return showcase_class(load_results(results_folder("selection-cpu/dn2")))


def start_chapter(seed: int = 0, profile: str | None = None, normal_class: str | None = None,
                  dataset: str = "cifar10") -> tuple[dict, str, dict]:
    """The setup cell of every chapter that trains on one class, in one call: seed and
    profile (:func:`setup`), the normal class (:func:`chapter_class`) and the settings
    the chapter's runs share. Returns ``(settings, normal_class, base)``; a run is then
    ``TrainConfig(objective=..., **base)``."""
    settings = setup(seed=seed, profile=profile)
    normal = chapter_class(normal_class)
    base = dict(dataset=dataset, normal_class=normal, profile=settings["profile"], seed=seed)
    print(f"normal class: {normal}; every run of this chapter: "
          + ", ".join(f"{k}={v}" for k, v in base.items()))
    return settings, normal, base


def sweep_beside_table(dataset: str, objectives, folder: str = "sweep-cpu"):
    """The committed sweep's finished seeds for ``objectives`` on ``dataset``, class by
    class beside each other (:func:`mscad.stats.sweep_beside`), with a line saying which
    seeds are in. Returns ``(sweep, table)``; the table is None while no seed is done."""
    from ..experiment.collect import dataset_classes, finished_seeds_of
    from ..experiment.stats import sweep_beside

    sweep, status = finished_seeds_of(folder, list(objectives), classes=dataset_classes(dataset))
    print(status)
    return sweep, (sweep_beside(sweep, list(objectives)) if len(sweep) else None)


def scale_phrase(settings: dict, data=None) -> str:
    """The scale a chapter ran at, as prose read from the profile in use (and from the
    data, for the image counts actually drawn), never typed: "64-pixel inputs at the `cpu`
    profile, 1,000 normal training and 2,000 test images per class"."""
    text = f"{settings['image_size']}-pixel inputs at the `{settings['profile']}` profile"
    if data is not None:
        text += (f", {len(data.train):,} normal training and {len(data.test):,} test images "
                 "per class")
    return text
