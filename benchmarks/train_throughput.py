"""Training throughput (images/s, each image = two MoCo v2 views) of four paths, one process:

  bare:       the backbone's forward + backward + SGD step on ready tensors (views made in
              advance, normalised, in the model's memory format), with Eq. 4
  mscad step: mscad's training step on the same ready views (mscad.train.objective_loss,
              the divergence check, mscad.train.apply_step): what mscad's loop adds
  mscad:      mscad.train.train_one_epoch: batched kornia augmentation + the step above
  reference:  the way the paper's code feeds the model: per-image PIL MoCo v2 transforms
              (torchvision) in DataLoader workers, then the same model step and loss

Same backbone, resolution, batch and memory format (mscad's default, channels-last).
Goal (issue 11): mscad step >= 0.9x bare.

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/train_throughput.py --image-size 64
"""
import argparse
import time

import torch
import torchvision.transforms as T
from PIL import Image

from mscad.augment import TwoViewAugment
from mscad.data import one_class_data
from mscad.losses import msc_loss
from mscad.metrics import feature_center
from mscad.model import FeatureModel, extract_features
from mscad.config import TrainConfig
from mscad.train import apply_step, grad_scaler, objective_loss, train_one_epoch


class PILTwoViews(torch.utils.data.Dataset):
    def __init__(self, images, size):
        self.images = images
        blur = T.GaussianBlur(max(3, int(0.1 * size) // 2 * 2 + 1), sigma=(0.1, 2.0))
        self.transform = T.Compose([
            T.RandomResizedCrop(size, scale=(0.2, 1.0)),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(p=0.2), T.RandomApply([blur], p=0.5),
            T.RandomHorizontalFlip(), T.ToTensor()])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].numpy())
        return self.transform(img), self.transform(img)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    data = one_class_data("cifar10", "airplane", image_size=a.image_size, train_limit=a.images,
                          test_limit=100)
    cfg = TrainConfig(objective="msc", profile="cpu", image_size=a.image_size, batch_size=a.batch_size,
                      device="cpu").resolved()
    model = FeatureModel("efficientnet_lite0")
    center = torch.tensor(feature_center(extract_features(model, data.train, a.image_size)),
                          dtype=torch.float32)
    opt = torch.optim.SGD(model.spec.trainable_parameters(), lr=1e-5, weight_decay=5e-5)
    augment = TwoViewAugment(a.image_size)
    n = len(data.train) // a.batch_size * a.batch_size
    views = [augment(data.train[s:s + a.batch_size]) for s in range(0, n, a.batch_size)]

    def step(v1, v2):
        z1, z2 = model.raw(torch.cat([v1, v2])).chunk(2)
        loss = msc_loss(z1, z2, center)
        opt.zero_grad()
        loss.backward()
        opt.step()

    ready = [((torch.cat([v1, v2]) - model.mean) / model.std).contiguous(memory_format=model.memory_format)
             for v1, v2 in views]

    def bare():
        model.train()
        for x in ready:
            z1, z2 = model.backbone(x).chunk(2)
            loss = msc_loss(z1, z2, center)
            opt.zero_grad()
            loss.backward()
            opt.step()

    scaler = grad_scaler(cfg)

    def mscad_step():  # mscad's own step (train.apply_step) on views made in advance
        model.train()
        for v1, v2 in views:
            loss = objective_loss(model, [v1, v2], center, cfg)
            if not torch.isfinite(loss):
                raise RuntimeError("diverged")
            apply_step(loss, model, opt, scaler, cfg)
            loss.item()

    def ours():
        train_one_epoch(model, data.train[:n], center, augment, opt, cfg, epoch=1)

    loader = torch.utils.data.DataLoader(PILTwoViews(data.train[:n], a.image_size), batch_size=a.batch_size,
                                         shuffle=True, num_workers=a.workers, drop_last=True,
                                         persistent_workers=True)

    def reference():
        model.train()
        for v1, v2 in loader:
            step(v1, v2)

    paths = (("bare", bare), ("mscad step", mscad_step), ("mscad", ours), ("reference", reference))
    for _, fn in paths:  # warm-up (and worker start-up)
        fn()
    best = {}
    for _ in range(a.repeats):
        for name, fn in paths:
            t = time.perf_counter()
            fn()
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t)
    rate = {k: n / v for k, v in best.items()}
    print(f"efficientnet_lite0 @ {a.image_size}px, batch {a.batch_size} (x2 views), {n} images, "
          f"{torch.get_num_threads()} threads, reference with {a.workers} workers (best of {a.repeats})")
    for k, _ in paths:
        print(f"{k:<11} {rate[k]:8.1f} images/s")
    print(f"mscad step / bare:  {rate['mscad step'] / rate['bare']:.3f}  (goal >= 0.9)")
    print(f"mscad / bare:       {rate['mscad'] / rate['bare']:.3f}  (with the augmentation, which bare "
          "gets for free)")
    print(f"mscad / reference:  {rate['mscad'] / rate['reference']:.3f}")


if __name__ == "__main__":
    main()
