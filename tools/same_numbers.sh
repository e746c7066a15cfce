#!/usr/bin/env bash
# One short cpu-profile run per objective (real CIFAR-10, 64 px, 256 normal train images,
# 512 test images, 2 epochs, seed 0, no run cache), written to OUT_DIR; run it before and
# after a refactor and compare with tools/same_numbers.py: every number must be identical.
#   MSCAD_DATA=../shared/data tools/same_numbers.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?give an output folder}
PY=${PY:-.venv/bin/python}
for o in dn2 center angular-center contrastive msc msc-angular; do
  MSCAD_PROFILE=cpu MSCAD_COMPILE=off $PY -m mscad run --dataset cifar10 --normal-class airplane \
    --objective "$o" --epochs 2 --train-limit 256 --test-limit 512 --seed 0 --no-cache --quiet \
    --out "$OUT/$o.json"
done
