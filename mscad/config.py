"""Every setting of one experiment (:class:`TrainConfig`) and the profiles that fill them.

A profile sets the scale of an experiment: resolution, data limits, epochs, batch size
and learning rates. Explicit settings override it, and the settings actually used are
stored in each result's ``config``. The command line's flags are generated from
:class:`TrainConfig`'s fields, so a setting, its default and its help live here only.
"""
from __future__ import annotations

import dataclasses
import numbers
import os
from dataclasses import dataclass, field

from .errors import MscadError, unknown_name
from .objectives import OBJECTIVES, get_objective

# Chosen on the validation split at the cpu scale (results/selection-cpu/CHOSEN.json):
# each objective's lr and training length together (5 or 10 epochs); every objective's
# best length was 5.
CPU_LEARNING_RATES = {"center": 1e-7, "angular-center": 1e-4, "contrastive": 1e-4, "msc": 1e-3,
                      "msc-angular": 1e-3}
CPU_EPOCHS = 5

PROFILES = {
    # CI and nbval: tiny subsets, a whole experiment in seconds.
    "quick": dict(backbone="efficientnet_lite0", epochs=2, image_size=32, batch_size=32,
                  train_limit=64, test_limit=200, eval_every=1, lr=1e-3,
                  lr_by_objective={"center": 1e-7}),
    # The book's committed outputs on a 2-core laptop CPU. Each objective's learning rate
    # and the number of epochs were chosen on a validation split of the train images (never
    # test images):
    # experiments/evidence.sh stage A, results/selection-cpu/CHOSEN.json (a test checks
    # that these equal it). The center losses keep PANDA's momentum 0.9.
    "cpu": dict(backbone="efficientnet_lite0", epochs=CPU_EPOCHS, image_size=64, batch_size=64,
                train_limit=1000, test_limit=2000, eval_every=1, lr=1e-3,
                lr_by_objective=CPU_LEARNING_RATES),
    # A lesson on a free Colab GPU (T4): each chapter top to bottom in about 15 minutes
    # (estimate and its basis: benchmarks/gpu_cost_estimate.py and the book's intro).
    # The cpu profile's backbone, learning rates and epochs, at twice its resolution and data.
    "gpu": dict(backbone="efficientnet_lite0", epochs=CPU_EPOCHS, image_size=128, batch_size=64,
                train_limit=2000, test_limit=4000, eval_every=1, lr=1e-3,
                lr_by_objective=CPU_LEARNING_RATES),
    # The paper (A.3) exactly: ResNet152 (conv1..layer2 frozen), 224 px, SGD lr 1e-5
    # without momentum, weight decay 5e-5, batch 64, tau 0.25, full data, 20 epochs (the
    # official code's); PANDA's settings for the center objectives (lr 1e-2, momentum 0.9).
    # Chosen on purpose only: hours per class on a GPU.
    "paper": dict(backbone="resnet152", epochs=20, image_size=224, batch_size=64,
                  train_limit=None, test_limit=None, eval_every=1, lr=1e-5,
                  lr_by_objective={"center": 1e-2, "angular-center": 1e-2},
                  clip_by_objective={"center": 1e-3, "angular-center": 1e-3}),
}

PRECISIONS = ("fp32", "bf16", "fp16")

# Accepted input resolutions: below 16 px the augmentations (a crop of 20% of the area,
# a 3-px blur) leave nothing; above 1024 px a batch of 64 does not fit in memory.
IMAGE_SIZE_RANGE = (16, 1024)


def default_profile() -> str:
    """``$MSCAD_PROFILE``, else the lesson-sized ``gpu`` with CUDA and ``cpu`` without
    (``paper`` is chosen on purpose, never by default)."""
    name = os.environ.get("MSCAD_PROFILE")
    if name:
        return name
    return "gpu" if resolve_device(None).startswith("cuda") else "cpu"


def resolve_precision(requested: str | None, device: str) -> str:
    """Mixed precision by capability: fp32 on the CPU; on a GPU bf16 where it is native
    (Ampere and newer), else fp16 autocast with a gradient scaler (a T4, Turing)."""
    import torch

    if requested is not None:
        if requested not in PRECISIONS:
            raise unknown_name("precision", requested, PRECISIONS)
        return requested
    if not device.startswith("cuda"):
        return "fp32"
    index = torch.device(device).index or 0
    major, _ = torch.cuda.get_device_capability(index)
    return "bf16" if major >= 8 else "fp16"


def autocast_dtype(precision: str):
    """The autocast dtype of a precision, or None for fp32 (autocast off)."""
    import torch

    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def profile_settings(name: str | None = None) -> dict:
    """The settings of profile ``name`` (default: :func:`default_profile`)."""
    name = name or default_profile()
    if name not in PROFILES:
        raise unknown_name("profile", name, PROFILES)
    return dict(PROFILES[name], profile=name)


def resolve_device(requested: str | None) -> str:
    """The device to run on: ``requested`` checked, or ``cuda`` when a GPU is visible,
    else ``cpu``. The one place where mscad decides between the two."""
    import torch

    if requested is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested not in ("cpu", "cuda") and not requested.startswith("cuda:"):
        raise MscadError(f"device must be cpu or cuda, got {requested!r}.")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise MscadError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")
    return requested


# numpy's seed range: torch accepts more, numpy (the subsets) does not.
SEED_RANGE = (0, 2**32 - 1)


def flag_of(name: str) -> str:
    """The command-line flag of a TrainConfig field, for messages (``--early-stop``)."""
    for f in dataclasses.fields(TrainConfig):
        if f.name == name:
            return f.metadata.get("flag") or "--" + name.replace("_", "-")
    return "--" + name.replace("_", "-")


def check_positive(**values):
    for key, value in values.items():
        if value is not None and not value > 0:
            raise MscadError(f"{flag_of(key)} must be positive, got {value}.")


def check_finite(**values):
    """Refuse NaN and infinite settings: a run under them learns nothing (tau = inf makes
    every logit equal) or writes NaN into its result."""
    import math

    for key, value in values.items():
        if value is not None and not math.isfinite(value):
            raise MscadError(f"{flag_of(key)} must be a finite number, got {value}.")


def check_seed(seed) -> int:
    """A seed numpy and torch both accept, refused before any work otherwise."""
    low, high = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not low <= seed <= high:
        raise MscadError(f"--seed must be an integer from {low} to {high} (numpy's range), got {seed}.")
    return int(seed)


def setting(default, help: str, roles: tuple = (), implied=None, **cli):
    """A TrainConfig field with its command-line help (``cli``: flag, choices, sweep=False,
    invert=True for a boolean flag that sets the field to False) and its roles, which the
    code reads instead of hand lists: ``"resume"`` (a checkpoint must share it),
    ``"scale"`` (results that differ in it are never averaged or compared). ``implied``:
    what a stored config written before the setting existed is read as (a function of
    that config)."""
    return field(default=default, metadata=dict(help=help, roles=tuple(roles), implied=implied, **cli))


R, S = "resume", "scale"


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one experiment, as asked for. ``None`` means "from the profile";
    :meth:`resolved` returns the :class:`ResolvedConfig` that the training loop, the run
    cache, the sweep and the detector work with. ``train_limit``/``test_limit`` 0 means
    every image. Frozen: a setting is changed with ``dataclasses.replace``."""

    dataset: str = setting("cifar10", "registered data set or a folder with train/<class>/ and "
                           "test/<class>/ (see the data sets list below)", roles=(R, S))
    normal_class: str | None = setting("0", "the normal class, by name (or index, for a registered "
                                       "data set; a folder set's classes are its folder names) "
                                       "(one-class setting)", sweep=False, show_default=False, roles=(R,))
    anomalous_class: str | None = setting(None, "the anomalous class; all others are normal "
                                          "(multi-class setting, Table 5)", sweep=False, roles=(R,))
    objective: str = setting("msc", "one of " + ", ".join(OBJECTIVES) + " (dn2 = no fine-tuning)",
                             sweep=False, roles=(R,))
    backbone: str | None = setting(None, "feature extractor (see the backbones list below; "
                                   "profile default: efficientnet_lite0, resnet152 for paper)",
                                   sweep=False, roles=(R, S))
    pretrained: bool = setting(True, "random initial weights instead of ImageNet ones (the "
                               "paper's 'optimization from scratch')", flag="--from-scratch",
                               invert=True, roles=(R, S))
    profile: str | None = setting(None, " | ".join(PROFILES) + " (default: $MSCAD_PROFILE, else "
                                  "gpu with a GPU and cpu without; paper only when asked for)",
                                  roles=(S,))
    epochs: int | None = setting(None, "fine-tuning epochs (profile default)")
    image_size: int | None = setting(None, "input resolution in pixels, "
                                     f"{IMAGE_SIZE_RANGE[0]}-{IMAGE_SIZE_RANGE[1]} (profile default)",
                                     roles=(R, S))
    batch_size: int | None = setting(None, "images per step; two views each (profile default)",
                                     roles=(R, S))
    lr: float | None = setting(None, "SGD learning rate (profile default, per objective)", roles=(R,))
    momentum: float | None = setting(None, "SGD momentum (default: 0, PANDA's 0.9 for the center "
                                     "losses)", roles=(R,))
    weight_decay: float = setting(5e-5, "SGD weight decay (paper: 5e-5)", roles=(R, S))
    clip_grad_norm: float | None = setting(None, "clip the gradient norm to this before each step; 0 "
                                           "= no clipping (default: 0; the paper profile clips its "
                                           "center losses at 1e-3, as PANDA's code does)",
                                           roles=(R, S), flag="--clip-grad-norm",
                                           implied=lambda stored: 0.0)  # older files: unclipped
    temperature: float = setting(0.25, "tau of Eqs. 2 and 4 (paper: 0.25)", roles=(R, S))
    k: int = setting(2, "nearest neighbours in the score, Eq. 5 (paper: 2)", roles=(R, S))
    seed: int = setting(0, "seed of subsets, batches and augmentations", roles=(R,))
    train_limit: int | None = setting(None, "use this many normal train images (few-shot: 200, "
                                      "500; 0 = all; profile default)", roles=(R, S))
    test_limit: int | None = setting(None, "use this many test images, class shares kept (0 = all; "
                                     "profile default)", roles=(R, S))
    evaluate_on: str = setting("test", "test: ROC-AUC on the data set's test split; validation: on "
                               "held-out normal train images and other classes' train images (for "
                               "choosing settings without test images)", choices=["test", "validation"],
                               roles=(R, S), implied=lambda stored: "test")
    validation_images: int = setting(0, "also score, at every evaluation, this many other-class "
                                     "train images against the normal train images (each scored "
                                     "leave-one-out): a validation ROC-AUC (val_auroc) per epoch "
                                     "that never reads a test image, for choosing the epoch; 0 = "
                                     "none", roles=(R,), implied=lambda stored: 0)
    eval_every: int | None = setting(None, "evaluate every N epochs (profile default: 1)")
    early_stop_epoch: int | None = setting(None, "stop after this many epochs (PANDA-ES)",
                                           flag="--early-stop", roles=(S,))
    similarity_images: int = setting(500, "train images used for the augmentation similarity",
                                     roles=(R,))
    device: str | None = setting(None, "cpu or cuda (default: cuda when available)",
                                 choices=["cpu", "cuda"])
    precision: str | None = setting(None, "fp32, bf16 or fp16 (with a gradient scaler); default "
                                    "by capability: fp32 on the CPU, bf16 on GPUs that have it, "
                                    "else fp16", choices=list(PRECISIONS), roles=(R,),
                                    implied=lambda stored: "bf16" if str(stored.get("device"))
                                    .startswith("cuda") else "fp32")

    def __eq__(self, other):
        """Equal settings are equal whether resolved or not (a stored result's config
        read back equals the resolved config that wrote it)."""
        if not isinstance(other, TrainConfig):
            return NotImplemented
        return dataclasses.astuple(self) == dataclasses.astuple(other)

    @classmethod
    def from_dict(cls, settings: dict) -> "TrainConfig":
        """The settings stored in a result file's ``config`` (or a checkpoint's) as a
        TrainConfig, to rebuild that experiment's data or re-run it. Keys this version
        does not know are ignored, so result files from other versions still load."""
        known = {f.name for f in dataclasses.fields(cls)}
        # a setting newer than the file is read as what the file's run used (IMPLIED)
        settings = {**{k: f(settings) for k, f in IMPLIED.items() if k not in settings}, **settings}
        return cls(**{k: v for k, v in settings.items() if k in known})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved(self) -> "ResolvedConfig":
        """The settings with every ``None`` filled from the profile and the objective, and
        checked, as a :class:`ResolvedConfig`; resolving that again returns it unchanged."""
        objective = get_objective(self.objective)
        prof = profile_settings(self.profile)
        values = dataclasses.asdict(self)
        values["profile"] = prof["profile"]
        for key in ("backbone", "epochs", "image_size", "batch_size", "eval_every"):
            if values[key] is None:
                values[key] = prof[key]
        if values["lr"] is None:
            values["lr"] = prof["lr_by_objective"].get(self.objective, prof["lr"])
        for key in ("train_limit", "test_limit"):
            # 0 = every image, before and after resolution (so resolving twice changes
            # nothing); the number actually used is the result's data.n_train / n_test.
            if values[key] is None:
                values[key] = prof[key] or 0
            elif values[key] < 0:
                raise MscadError(f"{flag_of(key)} must be 0 (all images) or a positive number of "
                                 f"images, got {values[key]}.")
        if values["momentum"] is None:
            values["momentum"] = objective.momentum
        if values["clip_grad_norm"] is None:  # PANDA's clipping goes with PANDA's lr 1e-2
            values["clip_grad_norm"] = prof.get("clip_by_objective", {}).get(self.objective, 0.0)
        if not objective.trains:
            values["epochs"] = 0
        for key in ("epochs", "image_size", "batch_size", "k", "train_limit", "test_limit",
                    "eval_every", "early_stop_epoch", "similarity_images", "validation_images"):
            value = values[key]  # numpy scalars (a grid search's) become plain numbers
            if value is not None and not isinstance(value, bool) and isinstance(value, numbers.Integral):
                values[key] = int(value)
        for key in ("lr", "momentum", "weight_decay", "temperature", "clip_grad_norm"):
            value = values[key]
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                values[key] = float(value)
        values["seed"] = check_seed(values["seed"])
        values["device"] = resolve_device(values["device"])
        values["precision"] = resolve_precision(values["precision"], values["device"])
        return ResolvedConfig(**values)  # checked as it is made (__post_init__)


@dataclass(frozen=True, eq=False)  # equality as TrainConfig's: by value
class ResolvedConfig(TrainConfig):
    """Settings after :meth:`TrainConfig.resolved`: no ``None`` left except the genuinely
    optional ones (``anomalous_class``/``normal_class`` by setting, ``early_stop_epoch``),
    every value checked. The type says it, so nothing resolves twice: ``resolved()``
    returns the same object. Every one is checked as it is made, ``dataclasses.replace``
    included (``replace(cfg, batch_size=0)`` raises); :meth:`for_train_set` fits the
    batch to the train set.)"""

    def __post_init__(self):
        # every ResolvedConfig is checked, however it is made: by resolved(), or by
        # dataclasses.replace (which calls __init__ again), so none holds an invalid setting
        _check_resolved(self)

    def resolved(self) -> "ResolvedConfig":
        return self

    def for_train_set(self, n_train: int) -> "ResolvedConfig":
        """The settings fitted to a train set of ``n_train`` normal images: a k the gallery
        cannot give is refused; a batch larger than the set becomes the whole set (said on
        stderr; the result's config records the size used)."""
        import sys

        if n_train < 2:
            raise MscadError(f"training and its statistics need at least 2 normal train images, got "
                             f"{n_train}; raise --train-limit or add images.")
        if self.k > n_train:
            raise MscadError(f"k={self.k} is larger than the {n_train} normal train images; use --k "
                             f"{n_train} or less, or more train images (--train-limit).")
        if self.validation_images and self.k + 1 > n_train:  # leave-one-out needs k others
            raise MscadError(f"--validation-images scores each normal train image against the k={self.k} "
                             f"nearest others, so it needs at least {self.k + 1} train images, got "
                             f"{n_train}; raise --train-limit or lower --k.")
        if get_objective(self.objective).trains and self.batch_size > n_train:
            print(f"mscad: batch-size {self.batch_size} is larger than the {n_train} normal train "
                  f"images; using batch-size {n_train} (recorded in the result's config).",
                  file=sys.stderr)
            return dataclasses.replace(self, batch_size=n_train)
        return self


def _check_resolved(c: "ResolvedConfig"):
    """The checks every resolved config passes (ranges, finiteness, combinations)."""
    objective = get_objective(c.objective)
    check_finite(lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay,
                 temperature=c.temperature, clip_grad_norm=c.clip_grad_norm)
    check_positive(batch_size=c.batch_size, lr=c.lr, image_size=c.image_size,
                   eval_every=c.eval_every, temperature=c.temperature, k=c.k,
                   similarity_images=c.similarity_images)
    low, high = IMAGE_SIZE_RANGE
    if not low <= c.image_size <= high:
        raise MscadError(f"image-size must be between {low} and {high} pixels, got {c.image_size}.")
    if c.momentum < 0 or c.weight_decay < 0:
        raise MscadError("momentum and weight-decay must be 0 or more, got "
                         f"{c.momentum} and {c.weight_decay}.")
    if c.momentum >= 1:  # SGD's velocity would grow without bound
        raise MscadError(f"--momentum must be below 1 (0 = none, PANDA's 0.9), got {c.momentum}.")
    if c.clip_grad_norm < 0:
        raise MscadError(f"--clip-grad-norm must be 0 (no clipping) or more, got "
                         f"{c.clip_grad_norm}.")
    if objective.trains:
        check_positive(epochs=c.epochs)
    if objective.views == 2 and c.batch_size < 2:
        raise MscadError(f"{c.objective} compares each image's two views with the other images "
                         f"of its batch, so it needs --batch-size 2 or more (got {c.batch_size}); "
                         "with one image the loss is constant and nothing is learned.")
    if c.validation_images < 0:
        raise MscadError(f"--validation-images must be 0 (none) or a number of images, got "
                         f"{c.validation_images}.")
    if c.validation_images and c.evaluate_on == "validation":
        raise MscadError("--validation-images scores other classes' train images beside the test "
                         "set; with --evaluate-on validation the run is already a validation run: "
                         "use one or the other.")
    if c.early_stop_epoch is not None:
        check_positive(early_stop_epoch=c.early_stop_epoch)


# Settings a checkpoint must share with the run that resumes it (epochs may grow), those
# that separate comparable results, and what files written before a setting existed
# used instead: read from each field's roles (see setting()), not kept in hand lists.
RESUME_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if R in f.metadata["roles"])
SCALE_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig) if S in f.metadata["roles"])
IMPLIED = {f.name: f.metadata["implied"] for f in dataclasses.fields(TrainConfig)
           if f.metadata["implied"] is not None}
# Values older files wrote for what is now written otherwise: "all images" was None.
LEGACY = {"train_limit": {None: 0}, "test_limit": {None: 0}}


def result_differences(result: dict, wanted: dict, ignore=("device",)) -> list:
    """:func:`differences` between a stored RESULT's config and the wanted settings, where
    a batch size that the run shrank to its train set (``fine_tune`` does, and records the
    size used) counts as the one asked for."""
    saved = dict(result["config"])
    n_train = (result.get("data") or {}).get("n_train")
    asked = wanted.get("batch_size")
    if n_train is not None and saved.get("batch_size") == n_train and asked is not None \
            and asked > n_train:
        saved["batch_size"] = asked
    return differences(saved, wanted, ignore)


def differences(stored: dict, wanted: dict, ignore=("device",)) -> list:
    """The settings in which a stored config (a result's or a checkpoint's) differs from
    the wanted one, as 'key (stored -> wanted)' strings; [] when they match. Devices
    are compared by kind only (cpu / cuda), since the precision differs between them."""
    out = []
    stored = {**{k: f(stored) for k, f in IMPLIED.items() if k not in stored}, **stored}
    stored.update({k: table[stored[k]] for k, table in LEGACY.items()
                   if k in stored and stored[k] in table})
    for key, value in wanted.items():
        if key in ignore:
            continue
        if stored.get(key) != value:
            out.append(f"{key} ({stored.get(key)!r} stored, {value!r} now)")
    if "device" in ignore and "device" in wanted:
        kind = lambda d: str(d or "cpu").split(":")[0]  # noqa: E731
        if kind(stored.get("device")) != kind(wanted["device"]):
            out.append(f"device ({stored.get('device')!r} stored, {wanted['device']!r} now)")
    return out
