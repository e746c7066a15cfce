"""The detector's fit with and without the paper's instrumentation, one process.

Before issue 23, MSCDetector.fit trained through the book's instrumented loop: it
evaluated the pretrained model and every epoch on the training images (features of all of
them, 500 augmented views, uniformity), although a fit has no test set and keeps none of
it. Now the fit trains without any evaluation. Both paths below train the same epochs on
the same images with the same seed; "instrumented" is the old fit's training call.

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/detector_fit.py --images 500
"""
import argparse
import time

import numpy as np
import torch

from mscad.config import TrainConfig
from mscad.data import one_class_data
from mscad.detector import MSCDetector
from mscad.train import fine_tune


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    data = one_class_data("cifar10", "cat", image_size=a.image_size, train_limit=a.images, test_limit=10)
    images = data.train
    cfg = TrainConfig(dataset="<in memory>", normal_class="normal", objective="msc", profile="cpu",
                      epochs=a.epochs, image_size=a.image_size, train_limit=0, test_limit=0,
                      device="cpu").resolved()
    times = {"instrumented (old fit)": [], "detector fit (new)": []}
    for _ in range(a.repeats):
        start = time.perf_counter()
        old = fine_tune(cfg, data=images, progress=False, cache=False, instrument=True)
        times["instrumented (old fit)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        det = MSCDetector(objective="msc", profile="cpu", epochs=a.epochs, image_size=a.image_size,
                          device="cpu")
        import os
        os.environ["MSCAD_NO_CACHE"] = "1"
        det.fit(images)
        times["detector fit (new)"].append(time.perf_counter() - start)
    same = all(torch.equal(old.model.state_dict()[k], det.model_.state_dict()[k])
               for k in old.model.state_dict())
    best = {k: min(v) for k, v in times.items()}
    print(f"{a.images} images, {a.image_size} px, {a.epochs} epochs, {torch.get_num_threads()} threads; "
          f"best of {a.repeats}:")
    for k, v in best.items():
        print(f"  {k:24s} {v:7.1f} s")
    print(f"  speed-up: {best['instrumented (old fit)'] / best['detector fit (new)']:.2f}x "
          f"(the new fit includes extracting the gallery and scoring the training images); "
          f"identical weights: {same}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
