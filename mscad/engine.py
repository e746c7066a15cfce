"""The engine: fit a model to normal images, and nothing else.

:func:`fit` takes resolved settings, the normal images and hooks, and returns the fitted
model (:class:`mscad.fitted.FittedModel`: the fine-tuned features and the center) with
the record of its training. It builds the pretrained model, computes the center once
from it (Eq. 1 or Eq. 3), and trains: SGD over the backbone's trainable layers,
BatchNorm in eval mode, the objective's loss on each batch (paper Table 3). What a run
measures or keeps after each epoch (ROC-AUC, the mechanism statistics, checkpoints, a
probe) is a hook; the engine knows none of them. The paper's experiment
(:func:`mscad.train.fine_tune`) is hooks and a thin layer over this; the detector's
``fit`` calls it with no hooks.

A hook is any object with some of these methods (:class:`Hook` has them all, doing
nothing):

- ``start(state)``: once, after the model, the center and (on a resume) the restored
  state are in place, before epoch 0 is recorded;
- ``measure(epoch, state, losses) -> dict``: numbers for that epoch's history record
  (``losses`` is ``None`` at epoch 0, the pretrained model);
- ``keep(epoch, state)``: after the epoch's record joined ``state.history``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .augment import TwoViewAugment, eval_batch
from .compiled import should_compile
from .config import ResolvedConfig, autocast_dtype
from .errors import NonFiniteError
from .fitted import FittedModel
from .metrics import feature_center
from .model import FeatureModel, FrozenActivations, default_eval_batch, extract_features
from .objectives import get_objective

__all__ = ["FitState", "Hook", "apply_step", "compute_center", "fit", "grad_scaler",
           "make_optimizer", "objective_inputs", "objective_loss", "train_epochs",
           "train_one_epoch"]


# ------------------------------------------------------------------ the pieces of a step
def compute_center(model: FeatureModel, train_images: torch.Tensor, cfg: ResolvedConfig,
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


def objective_inputs(images: torch.Tensor, augment, cfg: ResolvedConfig) -> list:
    """What the objective's loss sees of a batch of uint8 images: two MoCo v2 views for
    the contrastive objectives, the evaluation transform for PANDA's (no augmentation)."""
    if get_objective(cfg.objective).views == 2:
        return list(augment(images))
    return [eval_batch(images, cfg.image_size)]


def objective_loss(model: FeatureModel, inputs: list, center, cfg: ResolvedConfig) -> torch.Tensor:
    """The loss of one batch (:func:`objective_inputs`) under the configured objective."""
    views = list(model.raw(torch.cat(inputs)).float().chunk(len(inputs)))
    return get_objective(cfg.objective).loss(views, center, cfg.temperature)


def grad_scaler(cfg: ResolvedConfig) -> torch.amp.GradScaler:
    """fp16 needs its loss scaled so small gradients do not underflow; a no-op otherwise."""
    return torch.amp.GradScaler(torch.device(cfg.device).type, enabled=cfg.precision == "fp16")


def apply_step(loss: torch.Tensor, model: FeatureModel, optimizer, scaler, cfg: ResolvedConfig):
    """One optimiser step on a batch's loss: backward (scaled for fp16), the gradient
    clip if configured, SGD (its momentum and weight decay)."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.clip_grad_norm:  # PANDA's code: clip_grad_norm_ before the step (0: none)
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.spec.trainable_parameters(), cfg.clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()


def make_optimizer(model: FeatureModel, cfg: ResolvedConfig) -> torch.optim.SGD:
    """SGD over the trainable layers with the run's rate, momentum and weight decay."""
    return torch.optim.SGD(model.spec.trainable_parameters(), lr=cfg.lr, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay)


def train_one_epoch(model: FeatureModel, train_images: torch.Tensor, center, augment, optimizer,
                    cfg: ResolvedConfig, epoch: int, checkpoint=None, scaler=None) -> list:
    """One pass over the normal train images; returns the loss of every step. A loss that
    is not finite stops with :class:`NonFiniteError` (``checkpoint``: unused, kept for
    callers written before the engine)."""
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
            raise NonFiniteError(f"the loss became {loss.item()} at epoch {epoch}, step {step + 1}",
                                 diverged=True)
        apply_step(loss, model, optimizer, scaler, cfg)
        losses.append(loss.item())
    return losses


def train_epochs(model: FeatureModel, train_images: torch.Tensor, center, optimizer,
                 cfg: ResolvedConfig, history: list, epochs: range, measure=(), keep=(),
                 scaler=None, checkpoint=None, bar=None) -> list:
    """The training loop: each epoch of ``epochs`` trains (:func:`train_one_epoch`), asks
    the ``measure`` callables ``(epoch, model, losses) -> dict`` for that epoch's numbers,
    appends the record to ``history`` (every record has the keys of the first, epoch 0; a
    number not measured this epoch is ``None``) and calls the ``keep`` callables
    ``(epoch, history)``. ``bar``: a tqdm over ``epochs`` to show the loss and ROC-AUC on."""
    augment = TwoViewAugment(cfg.image_size)
    scaler = scaler or grad_scaler(cfg)
    for epoch in bar if bar is not None else epochs:
        started = time.time()
        losses = train_one_epoch(model, train_images, center, augment, optimizer, cfg, epoch,
                                 scaler=scaler)
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


# ------------------------------------------------------------------ the fit
class Hook:
    """What a fit calls; subclass and override what you need (see the module's text)."""

    def start(self, state: "FitState"):
        pass

    def measure(self, epoch: int, state: "FitState", losses: list | None) -> dict:
        return {}

    def keep(self, epoch: int, state: "FitState"):
        pass


@dataclass
class FitState:
    """Everything a fit holds while it runs, handed to the hooks. After :func:`fit`:
    ``fitted`` is the fitted model and ``history`` the record of every epoch."""

    cfg: ResolvedConfig
    images: torch.Tensor  # the normal train images (uint8, on the device)
    fitted: FittedModel  # .features (the model being trained) and .center
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    history: list = field(default_factory=list)
    first_epoch: int = 1
    last_epoch: int = 0
    # the frozen layers' output for ``images``, once (None: no frozen prefix, or too big)
    frozen: FrozenActivations | None = None
    # the pretrained model's normalised features of ``images``, when the center needed them
    pretrained_features: np.ndarray | None = None
    compiled: bool = False
    compile_reason: str = ""

    @property
    def model(self) -> FeatureModel:
        return self.fitted.features

    @property
    def center(self) -> torch.Tensor | None:
        return self.fitted.center

    def compile_status(self) -> str:
        """What ran compiled, for a result's ``environment.compile``."""
        if not self.compiled:
            return self.compile_reason
        return f"{self.compile_reason}: {self.model.compile_status()}"


def fit(cfg: ResolvedConfig, images: torch.Tensor, hooks=(), resume: dict | None = None,
        bar=None) -> FitState:
    """Fit a model to ``images`` (uint8, (N, 3, H, W), normal images only) under ``cfg``
    (resolved and fitted to the train set: :meth:`ResolvedConfig.for_train_set`).

    ``hooks``: see the module's text. ``resume``: a loaded checkpoint's state (keys
    ``model``, ``optimizer``, ``scaler``, ``center``, ``history``, ``epoch``) to continue
    from instead of starting from the pretrained model. ``bar``: a callable
    ``(epochs, first_epoch, last_epoch) -> tqdm`` to show progress on. Returns the
    :class:`FitState`: ``state.fitted`` is the fitted model, ``state.history`` the record."""
    if not isinstance(cfg, ResolvedConfig):
        raise TypeError("fit needs resolved settings: pass cfg.resolved().for_train_set(len(images))")
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model = FeatureModel(cfg.backbone, pretrained=cfg.pretrained).to(device)
    compiling, compile_reason = should_compile(cfg.device, cfg.profile, cfg.image_size)
    if compiling:  # evaluation only: the compiled training step measured no faster here
        model.compile_for(default_eval_batch(device))  # (benchmarks/compiled_speed.py)
    optimizer = make_optimizer(model, cfg)
    scaler = grad_scaler(cfg)
    images = images.to(device)  # small uint8 arrays: keep them next to the model
    started = time.time()
    state = FitState(cfg, images, FittedModel(model), optimizer, scaler,
                     last_epoch=min(cfg.epochs, cfg.early_stop_epoch or cfg.epochs),
                     compiled=compiling, compile_reason=compile_reason)
    state.frozen = FrozenActivations.build(model, images, cfg.image_size, precision=cfg.precision)
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        if resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
        center = None if resume["center"] is None else resume["center"].to(device)
        state.history, state.first_epoch = resume["history"], resume["epoch"] + 1
    else:
        if get_objective(cfg.objective).center == "normalised":  # Eq. 3: kept for epoch 0
            state.pretrained_features = extract_features(model, images, cfg.image_size,
                                                         device=cfg.device, frozen=state.frozen,
                                                         precision=cfg.precision)
        center = compute_center(model, images, cfg, state.pretrained_features, state.frozen)
    state.fitted.center = center
    for hook in hooks:  # a hook has any of start, measure and keep
        if hasattr(hook, "start"):
            hook.start(state)

    if resume is None:  # epoch 0: the pretrained model (DN2)
        record = dict(epoch=0, auroc=None, loss=None)
        for hook in hooks:
            if hasattr(hook, "measure"):
                record.update(hook.measure(0, state, None))
        record["seconds"] = round(time.time() - started, 2)
        state.history = [record]
        for hook in hooks:
            if hasattr(hook, "keep"):
                hook.keep(0, state)

    epochs = range(state.first_epoch, state.last_epoch + 1)
    measure = [lambda epoch, _model, losses, h=h: h.measure(epoch, state, losses)
               for h in hooks if hasattr(h, "measure")]
    keep = [lambda epoch, _history, h=h: h.keep(epoch, state) for h in hooks if hasattr(h, "keep")]
    train_epochs(model, images, center, optimizer, cfg, state.history, epochs, measure, keep,
                 scaler, bar=bar(epochs, state.first_epoch, state.last_epoch) if bar else None)
    return state
