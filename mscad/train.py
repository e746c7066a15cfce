"""Fine-tuning pretrained features on the normal class, and evaluating as it goes.

The objectives are records in :mod:`mscad.objectives` (paper Table 3); the settings are a
:class:`mscad.config.TrainConfig`. Paper settings: the center is computed once from the
pretrained model; BatchNorm stays in eval mode; the backbone's frozen layers stay
frozen; SGD without momentum (PANDA's 0.9 for the center losses), weight decay 5e-5,
batch 64, tau 0.25. After each evaluated epoch the history records ROC-AUC (kNN, k=2,
gallery re-extracted with the current model), the mean loss, uniformity and
augmentation similarity (Fig. 1, Fig. 5). A checkpoint is written after every epoch, so
a killed run resumes where it stopped and ends with the same numbers.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .augment import TwoViewAugment, eval_batch
from .config import RESUME_KEYS, TrainConfig, autocast_dtype, differences
from .data import OneClassData, one_class_data, validation_anomalies
from .errors import CheckpointMismatchError, MscadError, NonFiniteError
from .metrics import (around, augmentation_similarity, feature_center, roc_auc, uniformity,
                      uniformity_loss)
from .compiled import should_compile
from .model import FeatureModel, FrozenActivations, default_eval_batch, extract_features
from .objectives import get_objective
from .results import (Run, RunResult, checkpoint_hint, code_provenance, environment,
                      load_checkpoint, save_checkpoint)
from .scoring import knn_scores, leave_one_out_scores

__all__ = ["Checkpointing", "Evaluation", "apply_step", "evaluate", "experiment_data", "fine_tune",
           "make_optimizer", "train_epochs", "train_one_epoch"]


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
def evaluate(model: FeatureModel, train_images: torch.Tensor, cfg: TrainConfig,
             data: OneClassData | None = None, frozen: dict | None = None,
             frame_center=None, instrument: bool = True) -> dict:
    """The feature statistics of Fig. 1 with the current model and, given a labelled test
    set (``data``), its ROC-AUC (kNN on the train features, Eq. 5). ``frozen`` may hold
    the :class:`FrozenActivations` of the train and test images. With ``frame_center``
    (c of Eq. 3, from the pretrained model) the statistics are measured around c as well
    as around the origin (paper Sec. 4.3: the mean-shifted frame)."""
    device = cfg.device
    frozen = frozen or {}
    train = extract_features(model, train_images, cfg.image_size, device=device,
                             frozen=frozen.get("train"), precision=cfg.precision)
    test = scores = auroc = None
    if data is not None:
        test = extract_features(model, data.test, cfg.image_size, device=device,
                                frozen=frozen.get("test"), precision=cfg.precision)
        scores = knn_scores(train, test, k=cfg.k, device=cfg.device)
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


def compute_center(model: FeatureModel, train_images: torch.Tensor, cfg: TrainConfig,
                   normalised_train_features=None, frozen=None) -> torch.Tensor | None:
    """The objective's center, once, from the pretrained model: the raw-feature mean for
    PANDA's center loss (Eq. 1), the normalised-feature mean (Eq. 3) otherwise; ``None``
    for objectives without one. Pass the pretrained model's normalised train features if
    they are at hand, to avoid extracting them again, and the images'
    :class:`FrozenActivations` if any (the raw features then need only the trainable layers)."""
    kind = get_objective(cfg.objective).center
    if kind is None:
        return None
    if kind == "normalised" and normalised_train_features is not None:
        feats = normalised_train_features
    else:
        feats = extract_features(model, train_images, cfg.image_size, device=cfg.device,
                                 raw=kind == "raw", precision=cfg.precision, frozen=frozen)
    center = feats.mean(axis=0) if kind == "raw" else feature_center(feats)
    return torch.tensor(center, dtype=torch.float32, device=cfg.device)


def objective_inputs(images: torch.Tensor, augment, cfg: TrainConfig) -> list:
    """What the objective's loss sees of a batch of uint8 images: two MoCo v2 views for
    the contrastive objectives, the evaluation transform for PANDA's (no augmentation)."""
    if get_objective(cfg.objective).views == 2:
        return list(augment(images))
    return [eval_batch(images, cfg.image_size)]


def objective_loss(model: FeatureModel, inputs: list, center, cfg: TrainConfig) -> torch.Tensor:
    """The loss of one batch (:func:`objective_inputs`) under the configured objective."""
    views = list(model.raw(torch.cat(inputs)).float().chunk(len(inputs)))
    return get_objective(cfg.objective).loss(views, center, cfg.temperature)


def grad_scaler(cfg: TrainConfig) -> torch.amp.GradScaler:
    """fp16 needs its loss scaled so small gradients do not underflow; a no-op otherwise."""
    return torch.amp.GradScaler(torch.device(cfg.device).type, enabled=cfg.precision == "fp16")


def train_one_epoch(model: FeatureModel, train_images: torch.Tensor, center, augment, optimizer,
                    cfg: TrainConfig, epoch: int, checkpoint=None, scaler=None) -> list:
    """One pass over the normal train images; returns the loss of every step."""
    device = torch.device(cfg.device)
    dtype = autocast_dtype(cfg.precision)
    scaler = scaler or grad_scaler(cfg)
    model.train()
    # Seeded per epoch, so a resumed run draws the same batches and augmentations.
    generator = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    torch.manual_seed(cfg.seed * 100003 + epoch)
    order = torch.randperm(len(train_images), generator=generator).to(device)
    n_batches = max(1, len(order) // cfg.batch_size)  # drop the ragged last batch
    losses = []
    for step in range(n_batches):
        batch = train_images[order[step * cfg.batch_size:(step + 1) * cfg.batch_size]]
        inputs = objective_inputs(batch, augment, cfg)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = objective_loss(model, inputs, center, cfg)
        if not torch.isfinite(loss):
            raise NonFiniteError(f"the loss became {loss.item()} at epoch {epoch}, step {step + 1}; "
                                 f"{checkpoint_hint(checkpoint)}; {divergence_fix(cfg)}.")
        apply_step(loss, model, optimizer, scaler, cfg)
        losses.append(loss.item())
    return losses


def apply_step(loss: torch.Tensor, model: FeatureModel, optimizer, scaler, cfg: TrainConfig):
    """One optimiser step on a batch's loss: backward (scaled for fp16), the gradient
    clip if configured, SGD (its momentum and weight decay)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.clip_grad_norm:  # PANDA's code: clip_grad_norm_ before the step (0: none)
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.spec.trainable_parameters(), cfg.clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()


def make_optimizer(model: FeatureModel, cfg: TrainConfig) -> torch.optim.SGD:
    """SGD over the trainable layers with the run's rate, momentum and weight decay."""
    return torch.optim.SGD(model.spec.trainable_parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay)


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


def _diverged(epoch: int, losses: list, checkpoint, cfg: TrainConfig) -> NonFiniteError:
    return NonFiniteError(f"the features became NaN or infinite at epoch {epoch}, step {len(losses)} "
                          f"(the weights diverged; last loss {losses[-1]:.3g}); "
                          f"{checkpoint_hint(checkpoint)}; {divergence_fix(cfg)}.")


def _resume_state(path: Path, cfg: TrainConfig, images: str) -> dict:
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


def _fit_to_data(cfg: TrainConfig, n_train: int) -> TrainConfig:
    """The settings fitted to the train set (:meth:`mscad.config.ResolvedConfig.for_train_set`)."""
    return cfg.resolved().for_train_set(n_train)


# ------------------------------------------------------------------ hooks of the loop
# The loop (:func:`train_epochs`) only trains; what a run measures and keeps after each
# epoch is a hook. A measuring hook is called as ``hook(epoch, model, losses)`` and
# returns numbers for that epoch's history record; a keeping hook is called as
# ``hook(epoch, history)`` once the record is in the history.
class Evaluation:
    """ROC-AUC on the test set (when there is one; kNN, Eq. 5) and, with ``instrument``,
    the paper's mechanism statistics (Fig. 1, around the origin and around c), at epoch 0
    (:meth:`pretrained`) and after every ``cfg.eval_every``-th epoch and the last."""

    def __init__(self, train_images, labelled: OneClassData | None, cfg: TrainConfig,
                 instrument: bool, last_epoch: int, checkpoint: Path | None):
        self.train_images, self.labelled, self.cfg = train_images, labelled, cfg
        self.instrument, self.last_epoch, self.checkpoint = instrument, last_epoch, checkpoint
        self.frozen = {}  # the frozen layers' output for the evaluation images, once per run
        self.frame_center = None  # c of Eq. 3 from the pretrained model: the mechanism's frame

    @property
    def validation(self):
        return self.labelled.validation if self.labelled is not None else None

    def measure(self, model: FeatureModel, epoch: int, losses: list | None = None) -> dict:
        cfg = self.cfg
        if not self.frozen:  # after a resume too: the checkpoint's frozen layers are the same
            build = FrozenActivations.build
            self.frozen.update(
                train=build(model, self.train_images, cfg.image_size, precision=cfg.precision),
                test=build(model, self.labelled.test, cfg.image_size, precision=cfg.precision)
                if self.labelled else None,
                validation=build(model, self.validation, cfg.image_size, precision=cfg.precision)
                if self.validation is not None else None)
        try:
            ev = evaluate(model, self.train_images, cfg, self.labelled, self.frozen,
                          self.frame_center, self.instrument)
            if self.validation is not None:
                ev["val_auroc"] = validation_auroc(model, ev["train_features"], self.validation,
                                                   cfg, self.frozen.get("validation"))
            return ev
        except NonFiniteError:
            if not losses:
                raise
            raise _diverged(epoch, losses, self.checkpoint, cfg) from None

    def pretrained(self, model: FeatureModel) -> tuple[dict, torch.Tensor | None]:
        """Epoch 0 (the pretrained model, DN2): its history record, and the objective's center."""
        started = time.time()
        ev = self.measure(model, 0)
        self.frame_center = feature_center(ev["train_features"])
        if self.instrument:
            ev["stats"].update(feature_stats(ev["train_features"], ev["aug_features"],
                                             self.frame_center))
        center = compute_center(model, self.train_images, self.cfg, ev["train_features"],
                                self.frozen.get("train"))
        validation = {"val_auroc": ev["val_auroc"]} if "val_auroc" in ev else {}
        return (dict(epoch=0, auroc=ev["auroc"], loss=None, **validation, **ev["stats"],
                     seconds=round(time.time() - started, 2)), center)

    def __call__(self, epoch: int, model: FeatureModel, losses: list) -> dict:
        if epoch % self.cfg.eval_every and epoch != self.last_epoch:
            return {}
        ev = self.measure(model, epoch, losses)
        validation = {"val_auroc": ev["val_auroc"]} if "val_auroc" in ev else {}
        return dict(auroc=ev["auroc"], **validation, **ev["stats"])


class Checkpointing:
    """Writes the run's state after every epoch, so a killed run resumes where it stopped
    and ends with the same numbers."""

    def __init__(self, path: Path, model, optimizer, center, cfg: TrainConfig, scaler,
                 extra: dict):
        self.path, self.model, self.optimizer, self.center = path, model, optimizer, center
        self.config, self.scaler, self.extra = cfg.as_dict(), scaler, extra

    def __call__(self, epoch: int, history: list):
        save_checkpoint(self.path, self.model, self.optimizer, self.center, history, epoch,
                        self.config, self.scaler, extra=self.extra)


def train_epochs(model: FeatureModel, train_images: torch.Tensor, center, optimizer,
                 cfg: TrainConfig, history: list, epochs: range, measure=(), keep=(),
                 scaler=None, checkpoint: Path | None = None, bar=None) -> list:
    """The training loop: each epoch of ``epochs`` trains (:func:`train_one_epoch`), asks
    the ``measure`` hooks for that epoch's numbers, appends the record to ``history``
    (every record has the keys of the first, epoch 0; a number not measured this epoch is
    ``None``) and hands the history to the ``keep`` hooks. ``bar``: a tqdm over
    ``epochs`` to show the loss and ROC-AUC on."""
    augment = TwoViewAugment(cfg.image_size)
    scaler = scaler or grad_scaler(cfg)
    for epoch in bar if bar is not None else epochs:
        started = time.time()
        losses = train_one_epoch(model, train_images, center, augment, optimizer, cfg, epoch,
                                 checkpoint, scaler)
        record = dict(epoch=epoch, auroc=None, loss=float(np.mean(losses)),
                      **{k: None for k in history[0] if k not in ("epoch", "auroc", "loss", "seconds")})
        for hook in measure:
            record.update(hook(epoch, model, losses))
        record["seconds"] = round(time.time() - started, 2)  # training + measuring
        history.append(record)
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.3f}", auroc=record["auroc"])
        for hook in keep:
            hook(epoch, history)
    return history


# ------------------------------------------------------------------ the run
def fine_tune(cfg: TrainConfig, checkpoint: str | Path | None = None, resume: bool = False,
              progress: bool = True, data: OneClassData | torch.Tensor | None = None,
              cache: bool | None = None, instrument: bool = True,
              on_epoch: Callable[[int, FeatureModel], dict] | None = None) -> Run:
    """Run one experiment and return it as a :class:`Run`.

    ``data``: the experiment's :class:`OneClassData` (default: the one ``cfg`` names), to
    reuse decoded images; or a uint8 tensor of normal images alone (no test set, so no
    ROC-AUC: the detector's fit). ``checkpoint``: file written after every epoch; with
    ``resume=True`` and an existing file, training continues from it. ``cache``: load a
    stored run with the same settings, data and code instead of training, and store this
    one (:mod:`mscad.cache`; default: on unless ``$MSCAD_NO_CACHE`` is set).
    ``instrument``: record the paper's mechanism statistics (uniformity and augmentation
    similarity, Fig. 1) at every evaluation; ``False`` trains without them, and without any
    evaluation when there is no test set (the detector's fit: only the loss is recorded).
    ``on_epoch(epoch, model)``: a probe called after epoch 0 (the pretrained model) and
    after every trained epoch; the numbers it returns join that epoch's history record
    (chapter 2 measures distances to c this way). A run with a probe is never loaded
    from, nor stored in, the run cache: the probe has to see the model train.

    The loop itself is :func:`train_epochs`; evaluation (:class:`Evaluation`), the probe
    and checkpointing (:class:`Checkpointing`) are its hooks.
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
    compiling, compile_reason = should_compile(cfg.device, cfg.profile, cfg.image_size)
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
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model = FeatureModel(cfg.backbone, pretrained=cfg.pretrained).to(device)
    if compiling:  # evaluation only: the compiled training step measured no faster here
        model.compile_for(default_eval_batch(device))  # (benchmarks/compiled_speed.py)
    optimizer = make_optimizer(model, cfg)
    scaler = grad_scaler(cfg)
    train_images = train_images.to(device)  # small uint8 arrays: keep them next to the model
    last_epoch = min(cfg.epochs, cfg.early_stop_epoch or cfg.epochs)
    evaluation = (Evaluation(train_images, labelled, cfg, instrument, last_epoch, ckpt_path)
                  if instrument or labelled is not None else None)  # None: no evaluation at all

    stored_frame = None  # a resumed run's frame center, kept in its checkpoints
    if resuming:
        state = _resume_state(ckpt_path, cfg, images)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        center = None if state["center"] is None else state["center"].to(device)
        stored_frame = state.get("frame_center")
        if evaluation is not None and stored_frame is not None:
            evaluation.frame_center = stored_frame.numpy()
        history, first_epoch = state["history"], state["epoch"] + 1
    elif evaluation is None:  # the detector's fit: the center is all epoch 0 needs
        started = time.time()
        center = compute_center(model, train_images, cfg)
        history = [dict(epoch=0, auroc=None, loss=None, seconds=round(time.time() - started, 2))]
        first_epoch = 1
    else:
        record, center = evaluation.pretrained(model)
        history, first_epoch = [record], 1

    measure = [evaluation] if evaluation is not None else []
    if on_epoch is not None:
        if first_epoch == 1:
            history[0].update(on_epoch(0, model))
        measure.append(lambda epoch, model, losses: on_epoch(epoch, model))
    keep = []
    if ckpt_path:
        frame_center = (evaluation.frame_center if evaluation is not None
                        else stored_frame.numpy() if stored_frame is not None else None)
        extra = dict(frame_center=torch.tensor(frame_center)) if frame_center is not None else {}
        keep.append(Checkpointing(ckpt_path, model, optimizer, center, cfg, scaler,
                                  dict(extra, images=images)))
        if not resuming and cfg.epochs > 0:
            keep[0](0, history)
    name = labelled.target_class if labelled else "normal"
    epochs = range(first_epoch, last_epoch + 1)
    bar = tqdm(epochs, desc=f"{cfg.objective} {name}", disable=not progress,
               initial=first_epoch - 1, total=last_epoch)
    train_epochs(model, train_images, center, optimizer, cfg, history, epochs, measure, keep,
                 scaler, ckpt_path, bar)

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
                       environment=dict(environment(), compile=compile_reason if not compiling
                                        else f"{compile_reason}: {model.compile_status()}"),
                       wall_s=round(time.time() - start_time, 1),
                       code=code_provenance())
    run = Run(result, model, center)
    if use_cache:
        run_cache.store_run(key, run)
    return run
