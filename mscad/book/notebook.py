"""What every chapter's setup cell calls: profile, seed, device, and a provenance line;
and the live prose of the plain editions: numbers a chapter glues, shown from the
reader's own run beside the book's committed run."""
from __future__ import annotations

import os
import random
import re

import numpy as np
import torch

from ..config import profile_settings, resolve_device
from ..results import environment


# The profile of the book's committed outputs: a chapter runs at it on any device (a Colab
# GPU too) unless told otherwise, so a reader's numbers can be set beside the book's.
BOOK_PROFILE = "cpu"
# What each profile's learning rates and epochs rest on, said in a chapter's output.
PROFILE_BASIS = {
    "quick": "a smoke test (CI): tiny subsets; its numbers are not the book's",
    "cpu": "the book's scale; rates and epochs chosen on a validation split at this scale",
    "gpu": "the cpu profile's rates and epochs reused at 128 px and twice the data; they were "
           "not chosen on validation at this scale",
    "paper": "the paper's own settings (A.3); not chosen on validation here",
}


def chapter_profile(profile: str | None = None) -> str:
    """The profile a chapter runs at: its ``PROFILE`` parameter, else ``$MSCAD_PROFILE``,
    else the book's (``cpu`` settings, on whatever device there is). The command line's
    default differs (``gpu`` where CUDA is visible): a chapter is a lesson whose numbers
    are read beside the book's, a command is an experiment."""
    return profile or os.environ.get("MSCAD_PROFILE") or BOOK_PROFILE


def setup(seed: int = 0, data: str | None = None, profile: str | None = None) -> dict:
    """Seed everything, pick the profile (:func:`chapter_profile`) and device, and print one
    provenance line and what the profile's settings rest on.

    Returns the profile's settings plus ``seed``, ``device`` and ``precision``; chapters
    take their scale from it, so ``MSCAD_PROFILE=quick`` (CI) and ``cpu`` (the committed
    outputs) run the same code. At the book's profile on a GPU the precision is fp32, as
    the committed run's, so the numbers land within its seed interval.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    settings = profile_settings(chapter_profile(profile))
    device = resolve_device(None)
    settings["precision"] = "fp32" if settings["profile"] == BOOK_PROFILE else None
    if data:
        os.environ.setdefault("MSCAD_DATA", data)
    settings.update(seed=seed, device=device)
    env = environment()
    hardware = env["gpu"] if device.startswith("cuda") else f"{env['cpus']}-core {env['machine']} CPU"
    print(f"profile={settings['profile']} ({settings['image_size']}px, {settings['epochs']} epochs, "
          f"train<= {settings['train_limit']}, test<= {settings['test_limit']}) | device={device} "
          f"({hardware}) | torch {env['torch']}, torchvision {env['torchvision']} | "
          f"data: {'$MSCAD_DATA' if os.environ.get('MSCAD_DATA') else './data'} | seed {seed}")
    print(f"the {settings['profile']} profile: {PROFILE_BASIS.get(settings['profile'], 'a profile of your own')}"
          + ("" if settings["profile"] == BOOK_PROFILE else
             f"; PROFILE = {BOOK_PROFILE!r} (or MSCAD_PROFILE={BOOK_PROFILE}) runs the book's scale"))
    return settings


# Every value this kernel glued, by name: the live prose of the plain editions reads it.
GLUED: dict = {}


def glue(name: str, value, display: bool = False):
    """myst-nb's glue (so the book's prose can quote the value; a no-op without myst-nb),
    and the value kept in :data:`GLUED` for :func:`prose`."""
    if isinstance(value, np.generic):  # np.float64(1.0) would not parse as a number
        value = value.item()
    GLUED[name] = value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with jupyter-book
        return
    _glue(name, value, display=display)


GLUE_REF = re.compile(r"\{glue:text\}`(?P<key>[^`:]+)(?::(?P<fmt>[^`]*))?`(?P<unit>%?)")


def _formatted(value, fmt: str | None) -> str:
    return format(value, fmt) if fmt else str(value)


def live_text(text: str, book: dict) -> str:
    """``text`` (Markdown with ``{glue:text}`key:fmt``` references) with each reference
    replaced by this run's value (:data:`GLUED`); where the book's committed value
    (``book[key]``) reads differently, it follows in brackets ("84.4 (the book's run:
    85.1)"); a value this run has not computed yet is the book's, said so."""
    def one(m):
        key, fmt, unit = m["key"], m["fmt"], m["unit"]
        ours = _formatted(book[key], fmt) + unit if key in book else None
        if key not in GLUED:
            return f"{ours} (the book's run; yours is computed further down)" if ours is not None \
                else f"`{key}` (computed further down)"
        yours = _formatted(GLUED[key], fmt) + unit
        return yours if ours is None or ours == yours else f"{yours} (the book's run: {ours})"

    return GLUE_REF.sub(one, text)


def prose(text: str, book: dict | None = None):
    """Show a paragraph of a chapter with the numbers of the reader's run
    (:func:`live_text`), as Markdown: what a plain edition's prose cells call."""
    from IPython.display import Markdown, display

    display(Markdown(live_text(text, book or {})))


def beside_the_book(book: dict, formats: dict | None = None):
    """A chapter's last table: every value it glued, the reader's run beside the book's
    committed run, each printed as the prose prints it (``formats[key]``, e.g. ``".1f"``),
    and whether the two read the same (a pandas DataFrame; words and class names too)."""
    import pandas as pd

    formats = formats or {}
    rows = []
    for key, value in book.items():
        fmt = formats.get(key)
        yours = _formatted(GLUED[key], fmt) if key in GLUED else "not computed"
        rows.append({"value": key, "your run": yours, "the book's run": _formatted(value, fmt)})
    table = pd.DataFrame(rows).set_index("value")
    table["same"] = table["your run"] == table["the book's run"]
    return table


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
    if settings["device"].startswith("cuda") and settings["precision"]:
        base["precision"] = settings["precision"]  # the book's scale on a GPU: fp32, as committed
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
