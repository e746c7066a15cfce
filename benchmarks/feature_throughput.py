"""Feature extraction: the data + model path vs the bare model on ready tensors.

All sides use the same backbone, resolution, batch size and memory format, in one process:
  bare:     normalised float tensors already at the model's resolution and in its memory
            format -> the backbone, nothing else
  pipeline: decoded uint8 images -> mscad.model.extract_features (eval transform, model,
            l2 normalisation, copy to NumPy)
  per epoch: what a training run does at every evaluation after the first: extract_features
            from the images' FrozenActivations (only the trainable layers run)
Prints images/s of each and the ratios (goal, issue 11: pipeline >= 0.9x bare).

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/feature_throughput.py --image-size 64
"""
import argparse
import time

import torch

from mscad.augment import eval_batch
from mscad.data import one_class_data
from mscad.model import FeatureModel, FrozenActivations, extract_features


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    data = one_class_data("cifar10", "airplane", image_size=a.image_size, train_limit=a.images)
    images = data.train[: a.images]
    model = FeatureModel("efficientnet_lite0").eval()
    # what the bare side gets for free: transform, normalisation and memory format
    ready = ((eval_batch(images, a.image_size) - model.mean) / model.std).contiguous(
        memory_format=model.memory_format)
    frozen = FrozenActivations.build(model, images, a.image_size)

    @torch.inference_mode()
    def bare():
        for s in range(0, len(ready), a.batch_size):
            model.backbone(ready[s:s + a.batch_size])

    def pipeline():
        extract_features(model, images, a.image_size, batch_size=a.batch_size)

    def per_epoch():
        extract_features(model, images, a.image_size, batch_size=a.batch_size, frozen=frozen)

    paths = (("bare", bare), ("pipeline", pipeline), ("per epoch", per_epoch))
    for _, fn in paths:  # warm-up
        fn()
    best = {}
    for name, fn in paths * a.repeats:
        t = time.perf_counter()
        fn()
        best[name] = min(best.get(name, 1e9), time.perf_counter() - t)
    rate = {k: len(images) / v for k, v in best.items()}
    print(f"efficientnet_lite0 @ {a.image_size}px, {len(images)} CIFAR-10 images, batch {a.batch_size}, "
          f"{torch.get_num_threads()} threads (best of {a.repeats})")
    print(f"bare model on ready tensors: {rate['bare']:8.1f} images/s")
    print(f"data + model pipeline:       {rate['pipeline']:8.1f} images/s")
    print(f"per epoch (frozen layers once): {rate['per epoch']:8.1f} images/s")
    print(f"ratio pipeline / bare:       {rate['pipeline'] / rate['bare']:8.3f}  (goal >= 0.9)")
    print(f"ratio per epoch / bare:      {rate['per epoch'] / rate['bare']:8.3f}")


if __name__ == "__main__":
    main()
