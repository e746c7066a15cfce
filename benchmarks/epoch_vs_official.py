"""A whole epoch through mscad against the paper's official approach, one process.

An epoch is what a curve of ROC-AUC per epoch costs: one pass of training (two MoCo v2
views per image, Eq. 4) plus the evaluation (train and test features re-extracted with
the current model, kNN with k=2, ROC-AUC). Both sides: the same backbone, resolution,
batch, images and loss.

  mscad:    mscad.train.train_one_epoch + mscad.train.evaluate, as `mscad run` does them
            (batched kornia augmentation, the model in its fast memory format; evaluate
            also measures uniformity and augmentation similarity for the curves)
  official: the official code's way: per-image PIL MoCo v2 transforms in DataLoader
            workers, an eager NCHW fp32 model, features re-extracted through a PIL
            evaluation loader, faiss kNN with k=2

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/epoch_vs_official.py

mscad's side runs as `mscad run` does, its evaluation compiled where mscad.compiled says
so (on the CPU by default; MSCAD_COMPILE=off for the eager path). The machine (CPU
model) is printed: the ratio moves with it.

Goal (issue 11): mscad >= 2.0x the official approach; issue 30: >= 3x.

It also prints where mscad's epoch goes and the ceiling that follows: the training
step's arithmetic alone (forward, loss, backward and step on views made beforehand) plus
the evaluation is the least any implementation of this epoch can cost with these kernels,
so official / (that) is the largest ratio reachable without changing what is computed.
"""
import argparse
import time

import faiss
import torch
import torchvision.transforms as T
from PIL import Image

from mscad.augment import TwoViewAugment
from mscad.config import TrainConfig
from mscad.losses import msc_loss
from mscad.metrics import roc_auc
from mscad.model import FeatureModel, FrozenActivations
from mscad.engine import apply_step, grad_scaler, objective_inputs, objective_loss
from mscad.train import compute_center, evaluate, experiment_data, train_one_epoch
from machine import describe
from mscad.compiled import should_compile
from mscad.model import default_eval_batch
from train_throughput import PILTwoViews


class PILEval(torch.utils.data.Dataset):
    def __init__(self, images, size, mean, std):
        self.images = images
        self.transform = T.Compose([T.Resize((size, size)), T.ToTensor(), T.Normalize(mean, std)])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i].numpy()))


def official_epoch(model, train_loader, train_eval, test_eval, test_labels, center, optimizer, tau):
    backbone = model.backbone
    mean, std = model.mean, model.std
    backbone.eval()  # BatchNorm frozen, as in the official code
    for v1, v2 in train_loader:
        x = (torch.cat([v1, v2]) - mean) / std
        z1, z2 = backbone(x).chunk(2)
        loss = msc_loss(z1, z2, center, tau)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def features(loader):
        return torch.cat([torch.nn.functional.normalize(backbone(x), dim=1) for x in loader]).numpy()

    train, test = features(train_eval), features(test_eval)
    index = faiss.IndexFlatIP(train.shape[1])
    index.add(train)
    similarity, _ = index.search(test, 2)
    return roc_auc(test_labels, (1 - similarity).sum(axis=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--normal-class", default="airplane")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    cfg = TrainConfig(dataset="cifar10", normal_class=a.normal_class, objective="msc", profile="cpu",
                      device="cpu").resolved()
    data = experiment_data(cfg)
    size, batch = cfg.image_size, cfg.batch_size
    print(f"efficientnet_lite0 @ {size}px, batch {batch} (x2 views), {len(data.train)} train / "
          f"{len(data.test)} test images, {torch.get_num_threads()} threads, official side with "
          f"{a.workers} DataLoader workers; best of {a.repeats} epochs each")

    ours = FeatureModel(cfg.backbone)  # mscad's default path
    compiling, why = should_compile(cfg.device, cfg.profile, cfg.image_size)
    if compiling:
        ours.compile_for(default_eval_batch(cfg.device))
    print(f"machine: {describe()}; mscad's compile: {why}")
    center = compute_center(ours, data.train, cfg)
    opt_ours = torch.optim.SGD(ours.spec.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    augment = TwoViewAugment(size)

    official = FeatureModel(cfg.backbone, fast=False)  # eager NCHW fp32
    opt_official = torch.optim.SGD(official.spec.trainable_parameters(), lr=cfg.lr,
                                   weight_decay=cfg.weight_decay)
    mean, std = official.spec.mean, official.spec.std
    loader_args = dict(batch_size=batch, num_workers=a.workers, persistent_workers=a.workers > 0)
    train_loader = torch.utils.data.DataLoader(PILTwoViews(data.train, size), shuffle=True,
                                               drop_last=True, **loader_args)
    train_eval = torch.utils.data.DataLoader(PILEval(data.train, size, mean, std), **loader_args)
    test_eval = torch.utils.data.DataLoader(PILEval(data.test, size, mean, std), **loader_args)

    frozen = {}

    def mscad_epoch(epoch):
        if epoch > 0:
            train_one_epoch(ours, data.train, center, augment, opt_ours, cfg, epoch)
        else:  # as fine_tune does at epoch 0: the frozen layers' output, once per run
            frozen.update(train=FrozenActivations.build(ours, data.train, size),
                          test=FrozenActivations.build(ours, data.test, size))
        return evaluate(ours, data.train, cfg, data, frozen)["auroc"]

    def official_one(epoch):
        if epoch == 0:  # epoch 0: the pretrained model, evaluation only
            return official_epoch(official, [], train_eval, test_eval, data.test_labels,
                                  center, opt_official, cfg.temperature)
        return official_epoch(official, train_loader, train_eval, test_eval, data.test_labels,
                              center, opt_official, cfg.temperature)

    seconds = {}
    epoch0 = {}
    for name, fn in (("mscad", mscad_epoch), ("official", official_one)):
        t = time.perf_counter()
        auroc = fn(0)
        epoch0[name] = time.perf_counter() - t
        print(f"  epoch 0 {name:<9} {epoch0[name]:6.1f} s  ROC-AUC {100 * auroc:.2f}% (pretrained: DN2)")
    for epoch in range(1, a.repeats + 1):
        for name, fn in (("mscad", mscad_epoch), ("official", official_one)):
            start = time.perf_counter()
            auroc = fn(epoch)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            print(f"  epoch {epoch} {name:<9} {seconds[name][-1]:6.1f} s  ROC-AUC {100 * auroc:.2f}%")
    # Where mscad's epoch goes: the augmentation, the step's arithmetic, the evaluation.
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    batches = [data.train[order[i * batch:(i + 1) * batch]] for i in range(len(order) // batch)]
    t = time.perf_counter()
    inputs = [objective_inputs(b, augment, cfg) for b in batches]
    augment_s = time.perf_counter() - t
    scaler = grad_scaler(cfg)
    ours.train()
    arithmetic = []
    for _ in range(2):
        t = time.perf_counter()
        for views in inputs:
            apply_step(objective_loss(ours, views, center, cfg), ours, opt_ours, scaler, cfg)
        arithmetic.append(time.perf_counter() - t)
    evaluation = []
    for _ in range(2):
        t = time.perf_counter()
        evaluate(ours, data.train, cfg, data, frozen)
        evaluation.append(time.perf_counter() - t)
    step_s, eval_s = min(arithmetic), min(evaluation)
    best = {k: min(v) for k, v in seconds.items()}
    floor = step_s + eval_s
    print(f"mscad's epoch, in parts: augmentation {augment_s:.1f} s, the step's arithmetic "
          f"(forward, loss, backward, step; {len(inputs)} batches) {step_s:.1f} s, evaluation "
          f"{eval_s:.1f} s; the rest {best['mscad'] - augment_s - step_s - eval_s:+.1f} s")
    print(f"ceiling: with augmentation and every overhead free, an epoch costs at least "
          f"{floor:.1f} s here, so official / mscad can reach at most "
          f"{best['official'] / floor:.2f}x without changing what is computed")
    print(f"mscad:    {best['mscad']:6.1f} s per epoch")
    print(f"official: {best['official']:6.1f} s per epoch")
    print(f"ratio official / mscad, one epoch: {best['official'] / best['mscad']:.2f}x  (goal >= 3x)")
    run = {k: epoch0[k] + cfg.epochs * best[k] for k in best}
    print(f"a {cfg.epochs}-epoch run (epoch 0 + {cfg.epochs} epochs): mscad {run['mscad']:.0f} s, "
          f"official {run['official']:.0f} s, ratio {run['official'] / run['mscad']:.2f}x")


if __name__ == "__main__":
    main()
