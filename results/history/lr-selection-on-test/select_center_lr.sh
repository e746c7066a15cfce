#!/usr/bin/env bash
# How the cpu profile's learning rate for the center objectives (PANDA) on
# EfficientNet-Lite0 was chosen: PANDA's own setting (SGD lr 1e-2, momentum 0.9) kills the
# network within one epoch at this scale (every feature identical, ROC-AUC 50%; see
# results/cpu-profile-class/), so smaller rates were tried on ONE class (CIFAR-10
# 'airplane'), momentum 0.9 kept. No other class was looked at. Finished runs are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
for lr in 1e-3 1e-4 1e-5 1e-6 1e-7; do
  out="results/lr-selection/center-airplane-lr$lr.json"
  [ -f "$out" ] && continue
  .venv/bin/python -m mscad run --dataset cifar10 --normal-class airplane --objective center \
    --profile cpu --epochs 6 --lr "$lr" --quiet --resume --out "$out"
done
