"""The paper's experiment: fine-tune on the normal class, evaluating as it goes.

The fit itself is the engine's (:func:`mscad.engine.fit`); this module is the experiment
around it. After each evaluated epoch the history records ROC-AUC (kNN, k=2, gallery
re-extracted with the current model: Eq. 5), the mean loss, the validation curve if
asked for, uniformity and augmentation similarity (Fig. 1, Fig. 5): the
:class:`Evaluation` hook. A checkpoint is written after every epoch (the
:class:`Checkpointing` hook), so a killed run resumes where it stopped and ends with the
same numbers; a finished run is stored in, and served from, the run cache
(:mod:`mscad.cache`); the result is a :class:`mscad.results.RunResult`.

The engine's pieces (``compute_center``, ``train_epochs``, ``train_one_epoch``, ...) are
importable from here too, as before the engine existed.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import engine
from ..augment import TwoViewAugment
from ..compiled import should_compile
from ..config import RESUME_KEYS, ResolvedConfig, TrainConfig, differences
from ..data import OneClassData, one_class_data, validation_anomalies
from ..engine import (FitState, Hook, apply_step, compute_center, grad_scaler,  # noqa: F401
                     make_optimizer, objective_inputs, objective_loss, train_epochs,
                     train_one_epoch)
from ..errors import CheckpointMismatchError, MscadError, NonFiniteError
from ..metrics import (around, augmentation_similarity, feature_center, roc_auc, uniformity,
                      uniformity_loss)
from ..model import FeatureModel, FrozenActivations, extract_features
from ..objectives import get_objective
from ..results import (Run, RunResult, checkpoint_hint, code_provenance, environment,
                      load_checkpoint, save_checkpoint)
from ..scoring import get_scorer, knn_scores, leave_one_out_scores

__all__ = ["Checkpointing", "Evaluation", "Probe", "apply_step", "compute_center", "evaluate",
           "experiment_data", "fine_tune", "make_optimizer", "train_epochs", "train_one_epoch"]


def experiment_data(cfg: TrainConfig) -> OneClassData:
    """The data an experiment with these settings trains and tests on."""
    cfg = cfg.resolved()
    data = one_class_data(cfg.dataset, cfg.normal_class, anomalous_class=cfg.anomalous_class,
                          image_size=cfg.image_size, train_limit=cfg.train_limit or None,
                          test_limit=cfg.test_limit or None, seed=cfg.seed, evaluate_on=cfg.evaluate_on)
    if cfg.validation_images:
        if cfg.anomalous_class is not None:
            raise MscadError("--validation-images is for the one-class setting (its anomalies are "
                             "the other classes' train images).")
        data.validation = validation_anomalies(cfg.dataset, cfg.normal_class, cfg.validation_images,
                                               cfg.image_size, cfg.seed)
    return data


# ------------------------------------------------------------------ evaluation
@torch.no_grad()
def evaluate(model: FeatureModel, train_images: torch.Tensor, cfg: ResolvedConfig,
             data: OneClassData | None = None, frozen: dict | None = None,
             frame_center=None, instrument: bool = True, train_features=None) -> dict:
    """The feature statistics of Fig. 1 with the current model and, given a labelled test
    set (``data``), its ROC-AUC (kNN on the train features, Eq. 5). ``frozen`` may hold
    the :class:`FrozenActivations` of the train and test images. With ``frame_center``
    (c of Eq. 3, from the pretrained model) the statistics are measured around c as well
    as around the origin (paper Sec. 4.3: the mean-shifted frame). ``train_features``:
    this model's normalised train features, if already extracted. Scored by the scorer
    protocol (:class:`mscad.scoring.KNNScorer`, the detector's too)."""
    device = cfg.device
    frozen = frozen or {}
    train = train_features if train_features is not None else extract_features(
        model, train_images, cfg.image_size, device=device, frozen=frozen.get("train"),
        precision=cfg.precision)
    test = scores = auroc = None
    if data is not None:
        test = extract_features(model, data.test, cfg.image_size, device=device,
                                frozen=frozen.get("test"), precision=cfg.precision)
        scores = get_scorer("knn", k=cfg.k, device=cfg.device).fit(train).score(test)
        auroc = roc_auc(data.test_labels, scores)
    if not instrument:  # ROC-AUC only, without the mechanism statistics
        return dict(auroc=auroc, stats={}, train_features=train, test_features=test,
                    aug_features=None, scores=scores)
    subset = train_images[: cfg.similarity_images]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 12345)  # the same augmentations at every epoch
        views = TwoViewAugment(cfg.image_size).view(subset.to(device))
    aug = extract_features(model, views, cfg.image_size, device=device, precision=cfg.precision)
    stats = feature_stats(train, aug, frame_center)
    return dict(auroc=auroc, stats=stats, train_features=train, test_features=test,
                aug_features=aug, scores=scores, **stats)


def validation_auroc(model: FeatureModel, train_features, validation: torch.Tensor, cfg,
                     frozen: FrozenActivations | None = None) -> float:
    """ROC-AUC of the validation curve: the normal train images, each scored against the
    others (:func:`mscad.scoring.leave_one_out_scores`), against other classes' train
    images (Eq. 5). No test image is read."""
    anomalies = extract_features(model, validation, cfg.image_size, device=cfg.device, frozen=frozen,
                                 precision=cfg.precision)
    normal = leave_one_out_scores(train_features, k=cfg.k, device=cfg.device)
    scores = np.concatenate([normal, knn_scores(train_features, anomalies, k=cfg.k, device=cfg.device)])
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalies))]
    return roc_auc(labels, scores)


def feature_stats(train, aug, frame_center=None) -> dict:
    """Uniformity (mean pair similarity and Wang & Isola's loss) of the train features and
    the similarity of the first ``len(aug)`` to their augmentations (Fig. 1), around the
    origin and, given ``frame_center`` (c, Eq. 3), around c (keys ending in ``_c``)."""
    stats = dict(uniformity=uniformity(train), uniformity_loss=uniformity_loss(train),
                 augmentation_similarity=augmentation_similarity(train[: len(aug)], aug))
    if frame_center is not None:
        shifted = around(train, frame_center)
        stats.update(uniformity_c=uniformity(shifted), uniformity_loss_c=uniformity_loss(shifted),
                     augmentation_similarity_c=augmentation_similarity(
                         shifted[: len(aug)], around(aug, frame_center)))
    return stats


# ------------------------------------------------------------------ the run
def divergence_fix(cfg: TrainConfig) -> str:
    """What to change after a divergence: the settings that can cause one, with their values."""
    causes = [f"--lr {cfg.lr:g}", f"--momentum {cfg.momentum:g}"]
    if not cfg.clip_grad_norm:
        causes.append("no --clip-grad-norm")
    if get_objective(cfg.objective).views == 2:
        causes.append(f"--temperature {cfg.temperature:g} (a small tau sharpens the logits)")
    if cfg.precision == "fp16":
        causes.append("--precision fp16 (try bf16 or fp32)")
    return ("lower --lr and run again, with --overwrite so the diverged run's checkpoint is set "
            "aside (settings that can make the weights diverge: " + ", ".join(causes) + ")")


def _diverged(epoch: int, losses: list) -> NonFiniteError:
    return NonFiniteError(f"the features became NaN or infinite at epoch {epoch}, step {len(losses)} "
                          f"(the weights diverged; last loss {losses[-1]:.3g})", diverged=True)


def _resume_state(path: Path, cfg: ResolvedConfig, images: str) -> dict:
    state = load_checkpoint(path)
    wanted = {k: getattr(cfg, k) for k in RESUME_KEYS}
    differ = differences(state["config"], wanted, ignore=())
    if differ:
        raise CheckpointMismatchError(f"cannot resume from {path}: its settings differ: {'; '.join(differ)}; "
                              "run with the same settings, or delete the checkpoint to start afresh.")
    stored_images = state.get("images")
    if stored_images is not None and stored_images != images:
        raise CheckpointMismatchError(
            f"cannot resume from {path}: the train or test images changed since it was written "
            f"(its {state['epoch']} epoch(s) were trained on other images); restore the images, or "
            "start afresh (the command line: --overwrite; a sweep sets the checkpoint aside itself).")
    last = min(cfg.epochs, cfg.early_stop_epoch or cfg.epochs)
    if state["epoch"] > last:
        raise CheckpointMismatchError(f"the checkpoint {path} has already trained {state['epoch']} epochs, "
                              f"more than the {last} asked for; ask for at least {state['epoch']} "
                              "epochs, or delete the checkpoint to start afresh.")
    return state


def _fit_to_data(cfg: TrainConfig, n_train: int) -> ResolvedConfig:
    """The settings fitted to the train set (:meth:`mscad.config.ResolvedConfig.for_train_set`)."""
    return cfg.resolved().for_train_set(n_train)


# ------------------------------------------------------------------ the experiment's hooks
# The engine (mscad.engine.fit) trains; what the paper's experiment measures and keeps
# after each epoch is a hook on it (mscad.engine.Hook).
class Evaluation(Hook):
    """ROC-AUC on the test set (when there is one; kNN, Eq. 5), the validation curve (when
    the settings ask for one) and, with ``instrument``, the paper's mechanism statistics
    (Fig. 1, around the origin and around c), at epoch 0 (the pretrained model) and after
    every ``cfg.eval_every``-th epoch and the last. ``frame_center``: a resumed run's c of
    Eq. 3 (else measured at epoch 0)."""

    def __init__(self, labelled: OneClassData | None, cfg: ResolvedConfig, instrument: bool,
                 frame_center=None):
        self.labelled, self.cfg, self.instrument = labelled, cfg, instrument
        self.frozen = {}  # the frozen layers' output for the evaluation images, once per run
        self.frame_center = frame_center  # c of Eq. 3 from the pretrained model: the mechanism's frame
        self.train_images = self.pretrained_features = None
        self.last_epoch = cfg.epochs

    @property
    def validation(self):
        return self.labelled.validation if self.labelled is not None else None

    def start(self, state: FitState):
        cfg, build = self.cfg, FrozenActivations.build
        self.train_images, self.last_epoch = state.images, state.last_epoch
        self.pretrained_features = state.pretrained_features
        self.frozen.update(
            train=state.frozen,
            test=build(state.model, self.labelled.test, cfg.image_size, precision=cfg.precision)
            if self.labelled else None,
            validation=build(state.model, self.validation, cfg.image_size, precision=cfg.precision)
            if self.validation is not None else None)

    def measure(self, epoch: int, state: FitState, losses: list | None) -> dict:
        if epoch == 0:
            return self._pretrained(state.model)
        if epoch % self.cfg.eval_every and epoch != self.last_epoch:
            return {}
        return self._record(self._evaluate(state.model, epoch, losses))

    def _evaluate(self, model: FeatureModel, epoch: int, losses: list | None,
                  train_features=None) -> dict:
        cfg = self.cfg
        try:
            ev = evaluate(model, self.train_images, cfg, self.labelled, self.frozen,
                          self.frame_center, self.instrument, train_features=train_features)
            if self.validation is not None:
                ev["val_auroc"] = validation_auroc(model, ev["train_features"], self.validation,
                                                   cfg, self.frozen.get("validation"))
            return ev
        except NonFiniteError:
            if not losses:
                raise
            raise _diverged(epoch, losses) from None

    def _pretrained(self, model: FeatureModel) -> dict:
        """Epoch 0 (the pretrained model, DN2); it also fixes the mechanism's frame c."""
        ev = self._evaluate(model, 0, None, train_features=self.pretrained_features)
        self.frame_center = feature_center(ev["train_features"])
        if self.instrument:
            ev["stats"].update(feature_stats(ev["train_features"], ev["aug_features"],
                                             self.frame_center))
        return self._record(ev)

    @staticmethod
    def _record(ev: dict) -> dict:
        validation = {"val_auroc": ev["val_auroc"]} if "val_auroc" in ev else {}
        return dict(auroc=ev["auroc"], **validation, **ev["stats"])


class Probe(Hook):
    """A function ``on_epoch(epoch, model) -> dict`` called after epoch 0 and every
    trained epoch; its numbers join that epoch's record (chapter 2's distances to c)."""

    def __init__(self, on_epoch: Callable[[int, FeatureModel], dict]):
        self.on_epoch = on_epoch

    def measure(self, epoch: int, state: FitState, losses: list | None) -> dict:
        return self.on_epoch(epoch, state.model)


class Checkpointing(Hook):
    """Writes the run's state after every epoch (epoch 0 too, when the run trains), so a
    killed run resumes where it stopped and ends with the same numbers. ``frame``: where
    the mechanism's frame center is read from (an :class:`Evaluation`), if anywhere."""

    def __init__(self, path: Path, cfg: ResolvedConfig, images: str, frame: Evaluation | None = None,
                 stored_frame=None):
        self.path, self.config, self.images, self.frame = path, cfg.as_dict(), images, frame
        self.stored_frame = stored_frame  # a resumed run's frame center, when nothing measures it

    def keep(self, epoch: int, state: FitState):
        if epoch == 0 and not state.cfg.epochs:
            return
        extra = dict(images=self.images)
        if self.frame is not None and self.frame.frame_center is not None:
            extra["frame_center"] = torch.as_tensor(self.frame.frame_center)
        elif self.stored_frame is not None:
            extra["frame_center"] = torch.as_tensor(self.stored_frame)
        save_checkpoint(self.path, state.model, state.optimizer, state.center, state.history, epoch,
                        self.config, state.scaler, extra=extra)


# ------------------------------------------------------------------ the experiment
def fine_tune(cfg: TrainConfig, checkpoint: str | Path | None = None, resume: bool = False,
              progress: bool = True, data: OneClassData | torch.Tensor | None = None,
              cache: bool | None = None, instrument: bool = True,
              on_epoch: Callable[[int, FeatureModel], dict] | None = None) -> Run:
    """Run one experiment of the paper and return it as a :class:`Run` (its result and
    its fitted model).

    ``data``: the experiment's :class:`OneClassData` (default: the one ``cfg`` names), to
    reuse decoded images; or a uint8 tensor of normal images alone (no test set, so no
    ROC-AUC). ``checkpoint``: file written after every epoch; with ``resume=True`` and an
    existing file, training continues from it. ``cache``: load a stored run with the same
    settings, data and code instead of training, and store this one (:mod:`mscad.cache`;
    default: on unless ``$MSCAD_NO_CACHE`` is set). ``instrument``: record the paper's
    mechanism statistics (uniformity and augmentation similarity, Fig. 1) at every
    evaluation. ``on_epoch(epoch, model)``: a probe (:class:`Probe`); a run with a probe is
    never loaded from, nor stored in, the run cache: the probe has to see the model train.

    The fit itself is :func:`mscad.engine.fit`; evaluation, the probe and checkpointing
    are its hooks; the cache, the resume check and the result are this layer.
    """
    from . import cache as run_cache
    from tqdm import tqdm

    cfg = cfg.resolved()
    start_time = time.time()
    if data is None:
        data = experiment_data(cfg)
    if isinstance(data, OneClassData) and cfg.validation_images and data.validation is None:
        # the settings ask for a validation curve: data handed in gets its anomalies too
        data = dataclasses.replace(data, validation=validation_anomalies(
            cfg.dataset, data.target_class, cfg.validation_images, cfg.image_size, cfg.seed))
    labelled = data if isinstance(data, OneClassData) else None
    train_images = labelled.train if labelled else data
    requested_batch_size = cfg.batch_size
    cfg = _fit_to_data(cfg, len(train_images))
    use_cache = (run_cache.cache_enabled() if cache is None else cache) and on_epoch is None
    ckpt_path = Path(checkpoint) if checkpoint else None
    resuming = resume and ckpt_path is not None and ckpt_path.exists()
    images = run_cache.data_identity(data)  # the resume check's fingerprint, and the cache's
    compiling, _ = should_compile(cfg.device, cfg.profile, cfg.image_size)
    # compiled and eager runs agree to float rounding, not bit for bit: stored apart
    variant = "+".join(v for v in ("" if instrument else "uninstrumented",
                                   "compiled" if compiling else "") if v) or None
    key = run_cache.run_key(cfg, data, images, variant=variant) if use_cache else None
    if use_cache and not resuming:
        stored = run_cache.load_run(key, cfg)
        if stored is not None:
            if progress:
                print(f"mscad: {cfg.objective} {stored['target_class']}: loaded the stored run "
                      f"(same settings, data and code; cache=False or MSCAD_NO_CACHE=1 trains "
                      "again)", file=sys.stderr)
            return stored

    state = _resume_state(ckpt_path, cfg, images) if resuming else None
    hooks = []
    evaluation = None
    stored_frame = state.get("frame_center") if state else None
    if instrument or labelled is not None:
        evaluation = Evaluation(labelled, cfg, instrument,
                                None if stored_frame is None else stored_frame.numpy())
        hooks.append(evaluation)
    if on_epoch is not None:
        hooks.append(Probe(on_epoch))
    if ckpt_path:
        hooks.append(Checkpointing(ckpt_path, cfg, images, evaluation, stored_frame))
    name = labelled.target_class if labelled else "normal"

    def bar(epochs, first, last):
        return tqdm(epochs, desc=f"{cfg.objective} {name}", disable=not progress,
                    initial=first - 1, total=last)

    try:
        fitted = engine.fit(cfg, train_images, hooks, resume=state, bar=bar)
    except NonFiniteError as e:
        if not e.diverged:
            raise
        raise NonFiniteError(f"{e}; {checkpoint_hint(ckpt_path)}; {divergence_fix(cfg)}.",
                             diverged=True) from None

    history = fitted.history
    evaluated_epochs = [h for h in history if h.get("uniformity") is not None
                        or h.get("auroc") is not None]
    last_evaluated = evaluated_epochs[-1] if evaluated_epochs else history[-1]
    summary = labelled.summary() if labelled else f"{len(train_images)} normal images"
    result = RunResult(auroc=last_evaluated["auroc"], history=history, config=cfg.as_dict(),
                       target_class=name,
                       data=dict(summary=summary, n_train=len(train_images),
                                 n_test=len(labelled.test) if labelled else 0,
                                 # the config records the size used (shrunk to the train
                                 # set if larger); this is the size asked for
                                 batch_size_requested=requested_batch_size),
                       environment=dict(environment(), compile=fitted.compile_status()),
                       wall_s=round(time.time() - start_time, 1),
                       code=code_provenance())
    run = Run(result, fitted.fitted)
    if use_cache:
        run_cache.store_run(key, run)
    return run
