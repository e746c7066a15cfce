"""Compiled against eager (today's default path), both in one process: feature
extraction, a whole MSC epoch, and the DN2 grid's cost.

  features: mscad.model.extract_features (eval transform, model, l2 normalisation) on
            decoded CIFAR-10 images, Lite0 at 64, 128 and 224 px (Lite1 at 240 and Lite2
            at 260 with --ladder), batch 64; achieved GFLOP/s beside the cores' fp32 peak
  epoch:    one MSC epoch at 64 px as `mscad run` does it (mscad.train.train_one_epoch,
            then mscad.train.evaluate with the frozen layers' output kept): 1,000 normal
            images / 2,000 test (the cpu profile) and 5,000 / 10,000 (the paper's data)
  grid:     DN2's cost per backbone and resolution for all ten classes at the paper's
            data, from the measured compiled rate: the 60,000 images once (the test
            features shared by the ten classes) against 150,000 (test re-extracted per class)

Compile time is reported apart (it is paid once per process, less with inductor's cache).

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/compiled_speed.py [--quick] [--ladder]

Goals (issue 30): features >= 1.4x eager at 64, 128 and 224 px; an epoch >= 1.2x.
"""
import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from machine import describe, fp32_peak_gflops
from mscad.augment import TwoViewAugment
from mscad.config import TrainConfig
from mscad.data import one_class_data
from mscad.model import FeatureModel, FrozenActivations, extract_features
from mscad.train import compute_center, evaluate, make_optimizer, train_one_epoch

BATCH = 64


def flops_per_image(backbone: str, size: int) -> float:
    model = FeatureModel(backbone).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.raw(torch.rand(1, 3, size, size))
    return counter.get_total_flops()


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def feature_rates(backbone, size, n_images, repeats):
    data = one_class_data("cifar10", "airplane", image_size=size, train_limit=n_images, test_limit=10)
    images = data.train
    eager = FeatureModel(backbone).eval()
    compiled = FeatureModel(backbone).eval().compile_for(BATCH)
    t = time.perf_counter()
    extract_features(compiled, images[:BATCH], size, batch_size=BATCH)  # compile
    compile_s = time.perf_counter() - t
    extract_features(eager, images[:BATCH], size, batch_size=BATCH)  # warm-up
    seconds = {}
    for _ in range(repeats):  # alternated, so a noisy neighbour hits both sides
        for name, model in (("eager", eager), ("compiled", compiled)):
            s = best_of(lambda: extract_features(model, images, size, batch_size=BATCH), 1)
            seconds[name] = min(seconds.get(name, float("inf")), s)
    return {k: len(images) / v for k, v in seconds.items()}, compile_s


def epoch_seconds(n_train, n_test, repeats):
    cfg = TrainConfig(dataset="cifar10", normal_class="airplane", objective="msc", profile="cpu",
                      device="cpu", train_limit=n_train, test_limit=n_test).resolved()
    data = one_class_data("cifar10", "airplane", image_size=cfg.image_size, train_limit=n_train,
                          test_limit=n_test)
    augment = TwoViewAugment(cfg.image_size)
    sides = {}
    for name in ("eager", "compiled", "compiled step"):
        model = FeatureModel(cfg.backbone)
        if name == "compiled":  # what fine_tune does: the evaluation compiled
            model.compile_for(BATCH)
        if name == "compiled step":  # and the training step too (not the default: slower here)
            model.compile_for(BATCH, training=(2 * cfg.batch_size,))
        frozen = dict(train=FrozenActivations.build(model, data.train, cfg.image_size),
                      test=FrozenActivations.build(model, data.test, cfg.image_size))
        center = compute_center(model, data.train, cfg)
        sides[name] = (model, make_optimizer(model, cfg), center, frozen)

    def epoch(name, number):
        model, optimizer, center, frozen = sides[name]
        train_one_epoch(model, data.train, center, augment, optimizer, cfg, number)
        return evaluate(model, data.train, cfg, data, frozen)["auroc"]

    t = time.perf_counter()
    epoch("compiled", 1)  # compiles the evaluation graph
    first = time.perf_counter() - t
    epoch("eager", 1)
    epoch("compiled step", 1)
    seconds = {}
    for number in range(2, 2 + repeats):
        for name in sides:
            t = time.perf_counter()
            epoch(name, number)
            seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - t)
    return seconds, first, len(data.train), len(data.test)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer images and repeats (a smoke test)")
    p.add_argument("--ladder", action="store_true", help="also Lite1 at 240 px and Lite2 at 260 px")
    p.add_argument("--skip-epochs", action="store_true")
    p.add_argument("--skip-features", action="store_true")
    p.add_argument("--epoch-images", type=lambda v: [int(x) for x in v.split(",")], default=[1000, 5000],
                   help="normal train images of the epochs measured (test images: twice as many)")
    a = p.parse_args()
    torch.manual_seed(0)
    repeats = 1 if a.quick else 3
    print(f"machine: {describe()}")
    peak, peak_note = fp32_peak_gflops()
    print(f"fp32 peak: {peak:.0f} GFLOP/s ({peak_note})" if peak else peak_note)

    if not a.skip_features:
        feature_section(a, repeats, peak)
    if a.skip_epochs:
        return
    epoch_section(a)


def feature_section(a, repeats, peak):
    print("\n## Feature extraction (extract_features, batch 64), images/s")
    configs = [("efficientnet_lite0", 64, 2048), ("efficientnet_lite0", 128, 1024),
               ("efficientnet_lite0", 224, 512)]
    if a.ladder:
        configs += [("efficientnet_lite1", 240, 384), ("efficientnet_lite2", 260, 256)]
    grid = []
    for backbone, size, n in configs:
        n = n // 4 if a.quick else n
        rate, compile_s = feature_rates(backbone, size, n, repeats)
        gflop = flops_per_image(backbone, size) / 1e9
        achieved = {k: v * gflop for k, v in rate.items()}
        print(f"{backbone} @ {size}px ({n} images, {gflop:.3f} GFLOP/image): eager {rate['eager']:.0f}, "
              f"compiled {rate['compiled']:.0f} img/s; ratio {rate['compiled'] / rate['eager']:.2f}x "
              f"(goal >= 1.4x); compile {compile_s:.0f} s; GFLOP/s eager {achieved['eager']:.1f}, "
              f"compiled {achieved['compiled']:.1f}"
              + (f" = {100 * achieved['compiled'] / peak:.0f}% of peak" if peak else ""))
        grid.append((backbone, size, rate["compiled"]))

    print("\n## DN2 on all ten CIFAR-10 classes at the paper's data, per backbone and resolution")
    print("(from the compiled rate above; decoding and kNN not included)")
    for backbone, size, rate in grid:
        shared, per_class = 60_000 / rate, (50_000 + 10 * 10_000) / rate
        print(f"{backbone} @ {size}px: {shared / 60:.1f} min with the test features shared "
              f"(60,000 images), {per_class / 60:.1f} min re-extracting them per class "
              f"(150,000): {per_class / shared:.1f}x saved")



def epoch_section(a):
    print("\n## One MSC epoch at 64 px (training + evaluation), seconds")
    scales = [(n, 2 * n) for n in a.epoch_images]
    for n_train, n_test in scales:
        seconds, first, n_tr, n_te = epoch_seconds(n_train, n_test, 1 if a.quick else 2)
        print(f"{n_tr} normal / {n_te} test images: eager {seconds['eager']:.1f} s, compiled "
              f"evaluation (mscad's default) {seconds['compiled']:.1f} s, ratio "
              f"{seconds['eager'] / seconds['compiled']:.2f}x (goal >= 1.2x); with the training step "
              f"compiled too {seconds['compiled step']:.1f} s, ratio "
              f"{seconds['eager'] / seconds['compiled step']:.2f}x; the default's first epoch, "
              f"compiling included: {first:.1f} s")


if __name__ == "__main__":
    main()
