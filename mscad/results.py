"""Results, checkpoints and provenance: a finished run in memory (:class:`Run`) and
everything mscad writes to disk.

Both kinds of file are written atomically (a temporary file, then a rename), so a crash
mid-write leaves the previous version. Checkpoints hold tensors and plain types only
and load with ``torch.load(..., weights_only=True)``: a checkpoint from someone else
cannot run code.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CheckpointError, CorruptResultError, MscadError
from .provenance import code_provenance, environment  # noqa: F401 - re-exported


_WHY = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EFBIG: "the file would pass this process's file-size limit (ulimit -f)",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only", errno.EISDIR: "it is a directory",
        errno.ENOENT: "its folder does not exist", errno.ENOTDIR: "a part of its path is a file"}


_TORCH_WRITE_FAILURES = ("unexpected pos", "PytorchStreamWriter failed", "failed writing",
                         "File too large", "No space left on device", "Disk quota exceeded")


def write_failure(path: Path, what: str, error: BaseException) -> str:
    """One sentence for a failed write: what could not be written, where, and why."""
    if isinstance(error, OSError):
        why = _WHY.get(error.errno, error.strerror or str(error))
    else:  # torch.save reports a failed write as RuntimeError ("unexpected pos", ...)
        text = str(error)
        why = ("the disk is full" if "No space left" in text
               else "the file would pass this process's file-size limit (ulimit -f)" if "File too large" in text
               else f"the write did not complete ({text.splitlines()[0][:120] if text else type(error).__name__})")
        try:
            free = shutil.disk_usage(path.parent).free
            why += f"; {free / 2**20:.0f} MB free there"
        except OSError:
            pass
    return (f"could not write {what} {path}: {why}. Nothing partial was left there (an earlier "
            "file of that name is unchanged); free space or choose another place, and run again.")


def atomic_write(path: str | Path, write, what: str = "the file", before_rename=None) -> Path:
    """The one way mscad writes a file: ``write(tmp)`` fills a temporary file beside
    ``path``, ``before_rename()`` (if given) re-checks the target, then a rename puts it in
    place, so a crash or a full disk leaves the earlier version and no half-file. An OS
    error (disk full, a file-size limit, a read-only or missing folder) is a
    :class:`MscadError` sentence naming ``what``, ``path`` and why."""
    path = Path(path)
    # The temporary name is the process's own, so two processes writing one file (two
    # sweeps over one folder) never write into, or rename away, each other's half-file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except OSError as e:
        raise MscadError(write_failure(path, what, e)) from None
    except RuntimeError as e:  # torch.save's failed writes (its serializer's own words)
        if any(words in str(e) for words in _TORCH_WRITE_FAILURES):
            raise MscadError(write_failure(path, what, e)) from None
        raise
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return path


def check_writable(path: str | Path, flag: str = "--out") -> Path:
    """Fail before any work if ``path`` cannot be written as a regular file (``flag``
    names the setting in the message: ``--out``, or ``path`` for the library)."""
    path = Path(path)
    if path.is_dir():
        raise MscadError(f"{path} is a directory; give {flag} a file name, e.g. {path / 'result.json'}.")
    if path.exists() and not path.is_file():
        raise MscadError(f"{path} is not a regular file (a pipe, socket or device); give {flag} "
                         "the name of a file.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f"{path.name}.{os.getpid()}.probe")
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise MscadError(f"cannot write {path} ({e.strerror}); choose another {flag}.") from e
    return path


def result_json(result) -> str:
    """A result (a :class:`RunResult` or its dict) as strict JSON: NaN or infinity
    anywhere is a bug, never written."""
    if isinstance(result, RunResult):
        result = result.to_dict()
    try:
        return json.dumps(result, indent=1, allow_nan=False)
    except ValueError:
        raise MscadError("the result holds NaN or an infinite number, which JSON cannot store; "
                         "this run learned nothing usable (check --lr, --momentum, "
                         "--weight-decay and --temperature).") from None


def write_result(result: dict, out: str | Path, before_rename=None):
    """Write a RESULT.json (its schema: docs/result-schema.md), as strict JSON, through
    :func:`atomic_write` (``before_rename``: its last check of the target)."""
    out = check_writable(out)
    text = result_json(result)
    atomic_write(out, lambda tmp: tmp.write_text(text), "the result", before_rename)


def _no_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (Python's json accepts them by default)."""
    return json.loads(text, parse_constant=_no_constant)


def load_result(path: str | Path) -> RunResult:
    """A RESULT.json of any schema version as a :class:`RunResult` (migrated): the one way
    mscad reads a result file (the command line, the sweep, the run cache and
    :func:`mscad.collect.load_results` all come here or to :meth:`RunResult.from_dict`).
    :class:`CorruptResultError` naming the file if it is not one this mscad can read."""
    path = Path(path)
    if path.is_dir():
        raise CorruptResultError(f"{path} is a folder, not a result file.")
    try:
        return RunResult.from_dict(read_result(path))
    except CorruptResultError as e:
        if str(path) in str(e):
            raise
        raise CorruptResultError(f"{path}: {e}") from None


def read_result(path: str | Path) -> dict:
    """A RESULT.json as a dict (as written, not migrated); :class:`CorruptResultError`
    naming the file if it is not one."""
    path = Path(path)
    try:
        result = strict_json(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptResultError(f"result file {path} is not valid JSON ({e}); delete it or "
                                 "run that experiment again.") from None
    if not is_result(result):
        raise CorruptResultError(f"{path} is not an mscad result file (no auroc/config/history).")
    return result


def is_result(result) -> bool:
    """Whether a parsed JSON value has a RESULT.json's shape (auroc, history, config)."""
    return (isinstance(result, dict) and "auroc" in result and isinstance(result.get("config"), dict)
            and isinstance(result.get("history"), list))


def set_aside(path: Path, why: str) -> Path:
    """Rename ``path`` to ``path.<why>[.N]`` (never overwriting) and return the new name."""
    target = path.with_name(f"{path.name}.{why}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{why}.{n}")
        n += 1
    os.replace(path, target)
    return target


# ------------------------------------------------------------------ the result type
RESULT_SCHEMA = 2  # files without a "schema" key are version 1 (before 2026-12-04)
RESULT_FIELDS = ("auroc", "history", "config", "target_class", "data", "environment", "wall_s", "code")


def _migrate(d: dict) -> dict:
    """A RESULT.json dict of any schema version as the current version's keys."""
    d = dict(d)
    version = d.pop("schema", 1)
    if version > RESULT_SCHEMA:
        raise CorruptResultError(f"this result was written by a newer mscad (schema {version}, this "
                                 f"one reads up to {RESULT_SCHEMA}); upgrade mscad.")
    if version < 2:  # 1 -> 2: "all images" was written as null; no code provenance
        from .config import LEGACY

        config = dict(d.get("config") or {})
        config.update({k: table[config[k]] for k, table in LEGACY.items()
                       if k in config and config[k] in table})
        d["config"] = config
        d.setdefault("code", None)
    return d


@dataclass
class RunResult:
    """One run's result (RESULT.json), versioned: ``RunResult.from_dict`` reads every
    schema version (older ones migrated), ``to_dict`` writes the current one. The fields
    are documented in docs/result-schema.md. Reads like a dict (``result["history"]``), so
    code written for the plain dict keeps working; keys this version does not know (a
    benchmark's measurements, say) are kept in ``extra`` and written back."""

    auroc: float | None
    history: list
    config: dict
    target_class: str | None = None
    data: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    wall_s: float | None = None
    code: dict | None = None  # which code produced it (code_provenance); None: unknown (v1)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "RunResult":
        if not is_result(d):
            raise CorruptResultError("not an mscad result (it needs auroc, history and config).")
        d = _migrate(d)
        known = {k: d[k] for k in RESULT_FIELDS if k in d}
        return cls(**known, extra={k: v for k, v in d.items() if k not in RESULT_FIELDS})

    @property
    def settings(self):
        """The config as its type (a :class:`mscad.config.TrainConfig`; ``config`` stays the
        dict the file holds, for code that indexes it)."""
        from .config import TrainConfig

        return TrainConfig.from_dict(self.config)

    def to_dict(self) -> dict:
        out = {"schema": RESULT_SCHEMA}
        out.update({k: getattr(self, k) for k in RESULT_FIELDS})
        out.update(self.extra)
        return out

    # dict-style access, for code and chapters that read results as dicts
    def __getitem__(self, key):
        if key in RESULT_FIELDS:
            return getattr(self, key)
        if key == "schema":
            return RESULT_SCHEMA
        return self.extra[key]

    def __setitem__(self, key, value):
        if key in RESULT_FIELDS:
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __contains__(self, key) -> bool:
        return key in RESULT_FIELDS or key == "schema" or key in self.extra

    def get(self, key, default=None):
        return self[key] if key in self else default

    def keys(self):
        return self.to_dict().keys()


# ------------------------------------------------------------------ runs
@dataclass
class Run:
    """One finished experiment: its result (:class:`RunResult`) and its fitted model
    (:class:`mscad.fitted.FittedModel`: the fine-tuned features and the center).
    ``run["history"]`` reads the result like a dict; ``run.model`` and ``run.center`` are
    the fitted model's parts."""

    result: RunResult
    fitted: object  # mscad.fitted.FittedModel
    from_cache: bool = False  # loaded from the run cache (mscad.cache), not trained now

    @property
    def model(self):
        """The fine-tuned :class:`mscad.model.FeatureModel`."""
        return self.fitted.features

    @property
    def center(self):
        """The center c (a tensor), or None for objectives without one."""
        return self.fitted.center

    def __getitem__(self, key):
        return self.result[key]

    @property
    def history(self) -> list:
        return self.result["history"]

    @property
    def auroc(self) -> float | None:
        """The final ROC-AUC (0..1) of the last evaluated epoch."""
        return self.result["auroc"]

    @property
    def epoch0_auroc(self) -> float | None:
        """ROC-AUC of the pretrained model before any update: DN2."""
        return self.history[0]["auroc"]

    @property
    def best(self) -> dict:
        """The evaluated epoch's record with the highest ROC-AUC (the first one on ties)."""
        evaluated = [h for h in self.history if h["auroc"] is not None]
        return max(evaluated, key=lambda h: h["auroc"])

    def curve(self, key: str = "auroc") -> tuple[np.ndarray, np.ndarray]:
        """(epochs, values) of ``key`` over the epochs where it was recorded."""
        points = [(h["epoch"], h[key]) for h in self.history if h.get(key) is not None]
        epochs, values = zip(*points) if points else ((), ())
        return np.asarray(epochs), np.asarray(values, dtype=float)

    def change(self, key: str = "auroc") -> float:
        """Last recorded value of ``key`` minus its epoch-0 value."""
        values = self.curve(key)[1]
        return float(values[-1] - values[0])


# ------------------------------------------------------------------ checkpoints
def save_checkpoint(path: Path, model, optimizer, center, history: list, epoch: int, config: dict,
                    scaler=None, extra: dict | None = None):
    """The state after ``epoch``: the fitted model (weights and center, one state_dict:
    :mod:`mscad.fitted`), optimiser, fp16 loss scaler, history and settings (and ``extra``
    tensors, e.g. the frame center of the mechanism statistics)."""
    import torch

    from .fitted import fitted_state

    state = dict(fitted=fitted_state(model, center), optimizer=optimizer.state_dict(),
                 scaler=scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
                 history=history, epoch=epoch, config=json.dumps(config), **(extra or {}))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MscadError(write_failure(path, "the checkpoint", e)) from None
    atomic_write(path, lambda tmp: torch.save(state, tmp), "the checkpoint")


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's state, loaded without running any code from the file;
    :class:`CheckpointError` naming the file if it is not a readable mscad checkpoint."""
    import torch

    try:
        from .fitted import read_fitted, split_fitted

        state = torch.load(path, map_location="cpu", weights_only=True)
        state["config"] = json.loads(state["config"])
        # the fitted model's one state (older checkpoints: "model" and "center" keys)
        state["model"], optional = split_fitted(read_fitted(state))
        state["center"] = optional["center"]
        int(state["epoch"]), state["optimizer"], state["history"]
    except Exception as e:  # truncated, empty, garbage, or an older/unsafe format
        raise CheckpointError(f"cannot read the checkpoint {path} ({type(e).__name__}); delete it "
                              "(or move it away) and run again to start that run afresh.") from None
    return state


def checkpoint_hint(path: Path | None) -> str:
    """Where a run can be continued from, as it stands on disk now."""
    import torch

    if path is None or not Path(path).exists():
        return "no checkpoint was kept"
    try:
        epoch = torch.load(path, map_location="cpu", weights_only=True)["epoch"]
    except Exception:
        return f"the checkpoint {path} cannot be read"
    return f"the last good checkpoint (epoch {epoch}) is {path}"
