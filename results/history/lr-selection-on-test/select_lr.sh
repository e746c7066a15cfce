#!/usr/bin/env bash
# How the cpu profile's learning rate for EfficientNet-Lite0 was chosen: MSC on ONE class
# (CIFAR-10 'airplane', JPEG copy) at the cpu profile's scale, several learning rates.
# The chosen lr is then used for every class; no other class was looked at.
# Finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
for lr in 1e-5 1e-4 1e-3 1e-2; do
  out="results/lr-selection/msc-airplane-lr$lr.json"
  [ -f "$out" ] && continue
  .venv/bin/python -m mscad run --dataset cifar10 --normal-class airplane --objective msc \
    --profile cpu --epochs 6 --lr "$lr" --quiet --resume --out "$out"
done
