"""Fine-tuning pretrained features on the normal class, and evaluating as it goes.

Objectives (paper Table 3):

- ``dn2``: no fine-tuning; kNN on the pretrained features (epoch 0 only).
- ``center``: PANDA, Eq. 1 on un-normalised features, PANDA's optimiser.
- ``angular-center``: PANDA with Eq. 6 instead of Eq. 1.
- ``contrastive``: Eq. 2 on two MoCo v2 views.
- ``msc``: Eq. 4 on two MoCo v2 views (the paper's method).
- ``msc-angular``: Eq. 4 + Eq. 6 (Table 3's best).

Paper settings: the center is computed once from the pretrained model; BatchNorm stays in
eval mode; the backbone's frozen layers stay frozen; SGD without momentum, weight decay
5e-5, batch 64, tau 0.25. After each evaluated epoch the history records ROC-AUC (kNN,
k=2, gallery re-extracted with the current model), the mean loss, uniformity and
augmentation similarity (Fig. 1, Fig. 5). A checkpoint is written after every epoch, so
a killed run resumes where it stopped and ends with the same numbers.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .augment import TwoViewAugment, eval_batch
from .data import OneClassData, one_class_data
from .errors import MscadError, unknown_name
from .losses import angular_center_loss, center_loss, contrastive_loss, msc_loss
from .metrics import augmentation_similarity, feature_center, roc_auc, uniformity
from .model import FeatureModel, extract_features
from .profiles import PANDA_MOMENTUM, check_positive, profile_settings
from .scoring import knn_scores

OBJECTIVES = ("dn2", "center", "angular-center", "contrastive", "msc", "msc-angular")
TWO_VIEW = ("contrastive", "msc", "msc-angular")


@dataclass
class TrainConfig:
    """Every setting of one experiment. ``None`` means "from the profile"."""

    dataset: str = "cifar10"
    normal_class: str | None = "0"
    anomalous_class: str | None = None  # multi-class setting (Table 5) instead
    objective: str = "msc"
    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    profile: str | None = None
    epochs: int | None = None
    image_size: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float = 5e-5
    temperature: float = 0.25
    k: int = 2
    seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    eval_every: int | None = None
    early_stop_epoch: int | None = None  # PANDA-ES: stop after this many epochs
    similarity_images: int = 500  # train images used for the augmentation similarity
    device: str | None = None

    @classmethod
    def from_dict(cls, settings: dict) -> "TrainConfig":
        """The settings stored in a result file's ``config`` (or a checkpoint's) as a
        TrainConfig, to rebuild that experiment's data or re-run it. Keys this version
        does not know are ignored, so result files from other versions still load."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known})

    def resolved(self) -> "TrainConfig":
        """A copy with every ``None`` filled from the profile and the objective."""
        if self.objective not in OBJECTIVES:
            raise unknown_name("objective", self.objective, OBJECTIVES)
        prof = profile_settings(self.profile)
        c = dataclasses.replace(self, profile=prof["profile"])
        for key in ("epochs", "image_size", "batch_size", "eval_every", "lr"):
            if getattr(c, key) is None:
                value = prof[key]
                if key == "lr" and c.objective in ("center", "angular-center"):
                    value = prof[c.objective.replace("-", "_") + "_lr"]
                setattr(c, key, value)
        for key in ("train_limit", "test_limit"):
            if getattr(c, key) is None:
                setattr(c, key, prof[key])
            elif getattr(c, key) == 0:  # 0 = no limit
                setattr(c, key, None)
        if c.momentum is None:
            c.momentum = PANDA_MOMENTUM if c.objective in ("center", "angular-center") else 0.0
        if c.objective == "dn2":
            c.epochs = 0
        if c.device is None:
            c.device = "cuda" if torch.cuda.is_available() else "cpu"
        if c.device not in ("cpu", "cuda") and not c.device.startswith("cuda:"):
            raise MscadError(f"device must be cpu or cuda, got {c.device!r}.")
        if c.device.startswith("cuda") and not torch.cuda.is_available():
            raise MscadError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu.")
        check_positive(batch_size=c.batch_size, lr=c.lr, image_size=c.image_size,
                       eval_every=c.eval_every, temperature=c.temperature, k=c.k)
        if c.objective != "dn2":
            check_positive(epochs=c.epochs)
        if c.early_stop_epoch is not None:
            check_positive(early_stop_epoch=c.early_stop_epoch)
        return c


def experiment_data(cfg: TrainConfig) -> OneClassData:
    """The data an experiment with these settings trains and tests on."""
    cfg = cfg.resolved()
    return one_class_data(cfg.dataset, cfg.normal_class, anomalous_class=cfg.anomalous_class,
                          image_size=cfg.image_size, train_limit=cfg.train_limit,
                          test_limit=cfg.test_limit, seed=cfg.seed)


# ------------------------------------------------------------------ evaluation
@torch.no_grad()
def evaluate(model: FeatureModel, data: OneClassData, cfg: TrainConfig) -> dict:
    """ROC-AUC with the current model, plus the feature statistics of Fig. 1.

    Without test images (the detector's fit) only the feature statistics are computed."""
    device = cfg.device
    train = extract_features(model, data.train, cfg.image_size, device=device)
    if len(data.test):
        test = extract_features(model, data.test, cfg.image_size, device=device)
        scores = knn_scores(train, test, k=min(cfg.k, len(train)))
        auroc = roc_auc(data.test_labels, scores)
    else:
        test = scores = auroc = None
    subset = data.train[: cfg.similarity_images]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 12345)  # the same augmentations at every epoch
        views = TwoViewAugment(cfg.image_size).view(subset.to(device))
    model.eval()
    aug = model(views).float().cpu().numpy()
    return dict(auroc=auroc, uniformity=uniformity(train),
                augmentation_similarity=augmentation_similarity(train[: len(subset)], aug),
                train_features=train, test_features=test, scores=scores)


def compute_center(model: FeatureModel, data: OneClassData, cfg: TrainConfig,
                   normalised_train_features=None) -> torch.Tensor:
    """The center, once, from the pretrained model: raw-feature mean for PANDA's center
    loss (Eq. 1), normalised-feature mean (Eq. 3) otherwise. Pass the pretrained model's
    normalised train features if they are at hand, to avoid extracting them again."""
    if cfg.objective != "center" and normalised_train_features is not None:
        feats = normalised_train_features
    else:
        feats = extract_features(model, data.train, cfg.image_size, device=cfg.device,
                                 raw=cfg.objective == "center")
    center = feats.mean(axis=0) if cfg.objective == "center" else feature_center(feats)
    return torch.tensor(center, dtype=torch.float32, device=cfg.device)


def objective_loss(model: FeatureModel, objective: str, images: torch.Tensor, center, augment,
                   cfg: TrainConfig) -> torch.Tensor:
    if objective in TWO_VIEW:
        v1, v2 = augment(images)
        z = model.raw(torch.cat([v1, v2]))
        z1, z2 = z.float().chunk(2)
        if objective == "contrastive":
            return contrastive_loss(z1, z2, cfg.temperature)
        loss = msc_loss(z1, z2, center, cfg.temperature)
        if objective == "msc-angular":
            loss = loss + 0.5 * (angular_center_loss(z1, center) + angular_center_loss(z2, center))
        return loss
    # PANDA trains on the evaluation transform of the normal images, no augmentation.
    z = model.raw(eval_batch(images, cfg.image_size)).float()
    return center_loss(z, center) if objective == "center" else angular_center_loss(z, center)


def train_one_epoch(model: FeatureModel, train_images: torch.Tensor, center, augment, optimizer,
                    cfg: TrainConfig, epoch: int, checkpoint=None) -> list:
    """One pass over the normal train images; returns the loss of every step."""
    device = torch.device(cfg.device)
    model.train()
    # Seeded per epoch, so a resumed run draws the same batches and augmentations.
    generator = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
    torch.manual_seed(cfg.seed * 100003 + epoch)
    order = torch.randperm(len(train_images), generator=generator).to(device)
    losses = []
    n_batches = max(1, len(order) // cfg.batch_size)  # drop the ragged last batch
    for step in range(n_batches):
        batch = train_images[order[step * cfg.batch_size:(step + 1) * cfg.batch_size]]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = objective_loss(model, cfg.objective, batch, center, augment, cfg)
        if not torch.isfinite(loss):
            where = (f"the last good checkpoint (epoch {epoch - 1}) is {checkpoint}" if checkpoint
                     else "no checkpoint was kept")
            raise MscadError(f"the loss became {loss.item()} at epoch {epoch}, step {step + 1}; "
                             f"{where}; lower --lr and run again.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# ------------------------------------------------------------------ checkpoints
COMPARED_ON_RESUME = ("dataset", "normal_class", "anomalous_class", "objective", "backbone",
                      "pretrained", "image_size", "batch_size", "lr", "momentum", "weight_decay",
                      "temperature", "k", "seed", "train_limit", "test_limit")


def _save_checkpoint(path: Path, state: dict):
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a crash mid-write leaves the previous checkpoint


def _load_checkpoint(path: Path, cfg: TrainConfig) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    saved = state["config"]
    differ = [f"{k} ({saved.get(k)!r} in the checkpoint, {getattr(cfg, k)!r} now)"
              for k in COMPARED_ON_RESUME if saved.get(k) != getattr(cfg, k)]
    if differ:
        raise MscadError(f"cannot resume from {path}: its settings differ: {'; '.join(differ)}; "
                         "run with the same settings or without --resume.")
    return state


# ------------------------------------------------------------------ the loop
def environment() -> dict:
    import torchvision

    return dict(python=platform.python_version(), torch=torch.__version__,
                torchvision=torchvision.__version__, machine=platform.machine(),
                cpus=os.cpu_count(), gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)


def fine_tune(cfg: TrainConfig, checkpoint: str | Path | None = None, resume: bool = False,
              progress: bool = True, data: OneClassData | None = None, return_model: bool = False):
    """Run one experiment and return its result dict (the RESULT.json contract).

    ``checkpoint``: file written after every epoch; with ``resume=True`` and an existing
    file, training continues from it. ``data`` may be passed to reuse decoded images.
    """
    from tqdm import tqdm

    cfg = cfg.resolved()
    start_time = time.time()
    if data is None:
        data = experiment_data(cfg)
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model = FeatureModel(cfg.backbone, pretrained=cfg.pretrained).to(device)
    params = model.spec.trainable_parameters()
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    augment = TwoViewAugment(cfg.image_size)
    train_images = data.train.to(device)  # small uint8 arrays: keep them next to the model

    ckpt_path = Path(checkpoint) if checkpoint else None
    if resume and ckpt_path and ckpt_path.exists():
        state = _load_checkpoint(ckpt_path, cfg)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        center, history, first_epoch = state["center"].to(device), state["history"], state["epoch"] + 1
    else:
        ev = evaluate(model, data, cfg)  # epoch 0: the pretrained model (DN2)
        center = compute_center(model, data, cfg, ev["train_features"]) if cfg.objective != "dn2" else None
        history = [dict(epoch=0, auroc=ev["auroc"], loss=None, uniformity=ev["uniformity"],
                        augmentation_similarity=ev["augmentation_similarity"])]
        first_epoch = 1
        if ckpt_path and cfg.epochs > 0:
            ckpt_path.parent.mkdir(parents=True, exist_ok=True)
            _save_checkpoint(ckpt_path, dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                                             center=center.cpu(), history=history, epoch=0,
                                             config=dataclasses.asdict(cfg)))
    last_epoch = min(cfg.epochs, cfg.early_stop_epoch or cfg.epochs)
    bar = tqdm(range(first_epoch, last_epoch + 1), desc=f"{cfg.objective} {data.target_class}",
               disable=not progress, initial=first_epoch - 1, total=last_epoch)
    for epoch in bar:
        losses = train_one_epoch(model, train_images, center, augment, optimizer, cfg, epoch, ckpt_path)
        record = dict(epoch=epoch, auroc=None, loss=float(np.mean(losses)), uniformity=None,
                      augmentation_similarity=None)
        if epoch % cfg.eval_every == 0 or epoch == last_epoch:
            try:
                ev = evaluate(model, data, cfg)
            except MscadError as e:
                if "NaN" not in str(e):
                    raise
                where = (f"the last good checkpoint (epoch {epoch - 1}) is {ckpt_path}" if ckpt_path
                         else "no checkpoint was kept")
                raise MscadError(f"the features became NaN or infinite at epoch {epoch}, step {len(losses)} "
                                 f"(the weights diverged; last loss {losses[-1]:.3g}); {where}; "
                                 "lower --lr and run again.") from None
            record.update(auroc=ev["auroc"], uniformity=ev["uniformity"],
                          augmentation_similarity=ev["augmentation_similarity"])
        history.append(record)
        bar.set_postfix(loss=f"{record['loss']:.3f}", auroc=record["auroc"])
        if ckpt_path:
            _save_checkpoint(ckpt_path, dict(model=model.state_dict(), optimizer=optimizer.state_dict(),
                                             center=center.cpu(), history=history, epoch=epoch,
                                             config=dataclasses.asdict(cfg)))
    evaluated = [h for h in history if h["uniformity"] is not None]
    result = dict(auroc=evaluated[-1]["auroc"], history=history, config=dataclasses.asdict(cfg),
                  target_class=data.target_class,
                  data=dict(summary=data.summary(), n_train=len(data.train), n_test=len(data.test)),
                  environment=environment(), wall_s=round(time.time() - start_time, 1))
    if return_model:
        return result, model
    return result


def write_result(result: dict, out: str | Path):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
