"""Which code and machine produced a number: the environment (versions, hardware), the
identity of the code that can change a run's numbers (the run cache's key and every
result's ``code``), and the source of the registered extensions a run used. One module,
so results and the run cache share it without importing each other.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import platform
from functools import lru_cache
from pathlib import Path

# The modules whose source can change a run's numbers (not the CLI, plots or reports).
CODE_MODULES = ("augment", "backbones", "compiled", "config", "data", "engine", "fitted", "images",
                "losses", "metrics", "model",
                "objectives", "registry", "scoring", "experiment.train")


def environment() -> dict:
    """Versions and hardware, stored with every result and printed by the chapters."""
    import torch
    import torchvision

    return dict(python=platform.python_version(), torch=torch.__version__,
                torchvision=torchvision.__version__, machine=platform.machine(),
                cpus=os.cpu_count(),
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)


@lru_cache(maxsize=None)
def code_identity() -> str:
    import importlib.metadata as md

    h = hashlib.sha256()
    package = Path(__file__).parent  # read, not imported: the library never loads the layers above
    for name in CODE_MODULES:
        h.update((package / f"{name.replace('.', '/')}.py").read_bytes())
    for package in ("torch", "torchvision", "timm", "kornia"):
        try:
            h.update(f"{package}=={md.version(package)}".encode())
        except md.PackageNotFoundError:
            h.update(f"{package} missing".encode())
    return h.hexdigest()


def extension_identity(objective: str, backbone: str) -> str:
    """Hash of the source of the objective's loss and the backbone's builder and split as
    registered now: a registered extension whose code changes (a user's objective, a
    backbone added with ``register``) changes the run cache's key, as mscad's own
    modules do."""
    from .backbones import BACKBONE_SPECS
    from .objectives import OBJECTIVES

    h = hashlib.sha256()
    spec = BACKBONE_SPECS.get(backbone)
    for part in (getattr(OBJECTIVES.get(objective), "loss", None), getattr(spec, "build", None),
                 getattr(spec, "split", None)):
        if part is None:
            h.update(b"none")
            continue
        try:
            h.update(inspect.getsource(part).encode())
        except (OSError, TypeError):  # no source file (C, a REPL): its name at least
            h.update(repr(getattr(part, "__qualname__", part)).encode())
    return h.hexdigest()


@lru_cache(maxsize=None)
def code_provenance() -> dict:
    """Which code produced a result: mscad's version, the source hash of every module
    that can change a number (with the torch/torchvision/timm/kornia versions: the run
    cache's code identity), and, in a git checkout, the commit and whether the package's
    files differed from it (dirty)."""
    import subprocess

    from . import __version__

    here = Path(__file__).resolve().parent
    commit = dirty = None
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "__init__.py"], cwd=here,
                                 capture_output=True, text=True, timeout=10).returncode == 0
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None if tracked else None
        if commit:  # only a checkout whose git tracks this package (not a venv inside a repo)
            status = subprocess.run(["git", "status", "--porcelain", "--", str(here)], cwd=here,
                                    capture_output=True, text=True, timeout=10).stdout
            dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass  # no git: the source hash alone says which code it was
    return dict(mscad=__version__, source_sha256=code_identity(), commit=commit, dirty=dirty)


UNKNOWN_CODE = "unknown (written before results recorded their code)"


def made_by(code: dict | None) -> str:
    """Which code made a result, in a few words: its commit (short, ``+changes`` when the
    package differed from it), else its source hash, else :data:`UNKNOWN_CODE` for files
    written before results recorded their code."""
    if not code:
        return UNKNOWN_CODE
    if code.get("commit"):
        return str(code["commit"])[:7] + ("+changes" if code.get("dirty") else "")
    if code.get("source_sha256"):
        return f"source {str(code['source_sha256'])[:12]}"
    return UNKNOWN_CODE
