"""What a chapter costs on a free Colab GPU (T4) in the `gpu` profile: an estimate.

No GPU was available to measure it here (benchmarks/gpu_check.py is the measurement,
ready to run). The estimate's basis, printed with it:
  - work: images through the network per chapter, counted from what each chapter runs
    (fine-tuning runs: two views per image forward and backward = 3x a forward pass; the
    evaluation at every epoch: train and test images forward, plus the 500 augmentation-
    similarity views; extra feature extraction), at the profile's resolution;
  - FLOPs per image: EfficientNet-Lite0's forward pass counted by torch's FlopCounterMode;
  - T4 throughput: NVIDIA's published 65 TFLOP/s fp16 tensor-core peak, of which eager
    PyTorch reaches only a few percent on depthwise-separable networks; we assume 2%
    (1.3 TFLOP/s): an assumption, not a measurement. Replace it with the GPU check's
    measured images/s when it has run on a T4.

    .venv/bin/python benchmarks/gpu_cost_estimate.py [--profile gpu] [--utilisation 0.02]
"""
import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from mscad.config import profile_settings
from mscad.model import FeatureModel

T4_FP16_PEAK = 65e12  # NVIDIA T4 datasheet, FP16/FP32 mixed precision tensor cores

# What each chapter runs (counted from the notebooks): trained runs (two-view or one-view
# objectives), and images whose features are extracted besides the runs' own evaluations,
# in units of "one class's train + test subset" (subsets) or whole CIFAR-10 splits (full).
CHAPTERS = {
    "1. DN2": dict(two_view=0, one_view=0, subsets=11, full=0),
    "2. center loss": dict(two_view=0, one_view=3, subsets=2, full=0),
    "3. contrastive": dict(two_view=4, one_view=0, subsets=0, full=0),
    "4. MSC": dict(two_view=2, one_view=1, subsets=3, full=0),
    "5. ablations": dict(two_view=8, one_view=0, subsets=2, full=1),
    "6. benchmarks": dict(two_view=0, one_view=0, subsets=0, full=0),
    "7. your images": dict(two_view=1, one_view=0, subsets=1, full=0),
}


def forward_flops(size: int) -> float:
    model = FeatureModel("efficientnet_lite0", pretrained=False).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.raw(torch.rand(1, 3, size, size))
    return counter.get_total_flops()


def chapter_minutes(profile: str = "gpu", utilisation: float = 0.02) -> dict:
    """Estimated minutes per chapter (CHAPTERS' keys) on a T4 at ``utilisation``."""
    prof = profile_settings(profile)
    size, epochs, n_train, n_test = (prof["image_size"], prof["epochs"], prof["train_limit"] or 5000,
                                     prof["test_limit"] or 10000)
    rate = T4_FP16_PEAK * utilisation / forward_flops(size)
    evaluation = (epochs + 1) * (n_train + n_test + 500)
    per_run = {2: 3 * 2 * n_train * epochs + evaluation, 1: 3 * n_train * epochs + evaluation}
    return {name: (c["two_view"] * per_run[2] + c["one_view"] * per_run[1]
                   + c["subsets"] * (n_train + n_test) + c["full"] * 60000) / rate / 60
            for name, c in CHAPTERS.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="gpu")
    p.add_argument("--utilisation", type=float, default=0.02)
    a = p.parse_args()
    prof = profile_settings(a.profile)
    size, epochs, n_train, n_test = (prof["image_size"], prof["epochs"], prof["train_limit"] or 5000,
                                     prof["test_limit"] or 10000)
    flops = forward_flops(size)
    rate = T4_FP16_PEAK * a.utilisation / flops  # forward passes per second
    evaluation = (epochs + 1) * (n_train + n_test + 500)
    per_run = {2: 3 * 2 * n_train * epochs + evaluation, 1: 3 * n_train * epochs + evaluation}
    print(f"{a.profile} profile: Lite0 @ {size}px, {n_train} train / {n_test} test, {epochs} epochs; "
          f"{flops / 1e9:.2f} GFLOP per forward pass; assumed T4 rate {rate:.0f} forward passes/s "
          f"({100 * a.utilisation:.0f}% of {T4_FP16_PEAK / 1e12:.0f} TFLOP/s)")
    print(f"one two-view run: {per_run[2] / rate / 60:.1f} min; one center-loss run: "
          f"{per_run[1] / rate / 60:.1f} min")
    for name, c in CHAPTERS.items():
        passes = (c["two_view"] * per_run[2] + c["one_view"] * per_run[1]
                  + c["subsets"] * (n_train + n_test) + c["full"] * 60000)
        print(f"{name:<16} {passes / rate / 60:5.1f} min  ({passes / 1e6:.2f} M forward-pass equivalents)")


if __name__ == "__main__":
    main()
