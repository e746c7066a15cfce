#!/usr/bin/env bash
# The book's evidence at the cpu profile, in the order it is needed; every stage is an
# `mscad sweep`, so running this script again skips finished runs and resumes the rest.
#
#   A  selection (validation split only, never test images): DN2 on all ten classes (the
#      showcase-class rule) and each objective's learning rate on a grid, each run 10
#      epochs evaluated at 5 and 10: the lr and the training length are chosen together
#   B  the six-objective sweep on all ten classes, seeds 0, 1, 2, with the chosen lrs and
#      epochs
#   C  multi-class (Table 5): each class anomalous in turn, DN2 and MSC, three seeds
#   D  few-shot (Table 2 sizes): 200 and 500 normal images, DN2 and MSC, three seeds
#   E  temperature (tau 0.1 and 0.5; 0.25 is B's), MSC, all ten classes, three seeds
#   F  collapse curves (the paper's Fig. 5): contrastive and MSC under one optimizer (MSC's
#      validation-chosen SGD, lr 1e-3, as the paper's "replace the center loss with the
#      contrastive loss" experiment), the center loss with PANDA's recipe at its own
#      validation-chosen setting (momentum 0.9, lr 1e-7); 20 epochs, the test ROC-AUC after
#      every epoch, all ten classes, seeds 0, 1, 2 (seed 0 complete first)
#   G  multi-class center loss (the PANDA claim of Table 5), its chosen lr, three seeds
#   H  the backbone ladder (Table 4 at CPU scale): DN2 and MSC with EfficientNet-Lite1 and
#      Lite2 on all ten classes, MSC at Lite0's validation-chosen lr and epochs (not chosen
#      again for each backbone: said so in chapter 5), seed 0 first, then 1 and 2
#
# Usage: MSCAD_DATA=/path/to/data experiments/evidence.sh [A|B|C|D|E|F|G|H ...]   (default: all)
# Runs and progress go to results/; expect about 4 hours on 2 CPU cores for B to E.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export MSCAD_PROFILE=cpu
SWEEP="$PY -m mscad sweep --dataset cifar10 --quiet"
SEEDS=${SEEDS:-0,1,2}  # one seed at a time: SEEDS=1 experiments/evidence.sh F
# Evaluating every 5th epoch only: the sweep needs the final ROC-AUC, and the evaluation
# of every epoch costs a quarter of a run (the chapters' deep dives keep it). The
# selection runs' evaluations at epochs 5 and 10 are what lets stage A choose the length.
EVAL="--eval-every 5"
# Selection classes: the first five of CIFAR-10's order, a rule that needs no result (set
# after the first one-seed test sweep existed, book/methods.md, but not chosen from it) (ten
# classes x 15 objective/lr pairs would cost about two hours more on 2 cores).
SELECTION_CLASSES=airplane,automobile,bird,cat,deer
declare -A GRID=([msc]="1e-2 1e-3 1e-4" [msc-angular]="1e-2 1e-3 1e-4" [contrastive]="1e-2 1e-3 1e-4"
                 [angular-center]="1e-2 1e-3 1e-4" [center]="1e-6 1e-7 1e-8")
OBJECTIVES="center angular-center contrastive msc msc-angular"

chosen() {  # the validation protocol's lr and epochs for objective $1 (after stage A)
  echo "--lr $($PY experiments/select_lr.py --objective "$1")" \
       "--epochs $($PY experiments/select_lr.py --objective "$1" --epochs)"
}

stage_A() {
  $SWEEP --classes all --objectives dn2 --evaluate-on validation --out-dir results/selection-cpu/dn2
  for o in $OBJECTIVES; do
    for lr in ${GRID[$o]}; do
      $SWEEP --classes $SELECTION_CLASSES --objectives "$o" --lr "$lr" --epochs 10 \
        --evaluate-on validation $EVAL \
        --out-dir "results/selection-cpu/$o/lr$lr"
    done
  done
  $PY experiments/select_lr.py --write
}

stage_B() {
  for seed in ${SEEDS//,/ }; do
    $SWEEP --classes all --objectives dn2 --seeds "$seed" --out-dir results/sweep-cpu
    for o in msc contrastive center msc-angular angular-center; do
      $SWEEP --classes all --objectives "$o" $(chosen "$o") --seeds "$seed" $EVAL \
        --out-dir results/sweep-cpu
    done
  done
}

stage_C() {
  $SWEEP --setting multi-class --classes all --objectives dn2 --seeds $SEEDS --out-dir results/multiclass-cpu
  $SWEEP --setting multi-class --classes all --objectives msc $(chosen msc) --seeds $SEEDS $EVAL \
    --out-dir results/multiclass-cpu
}

stage_D() {
  for n in 200 500; do
    $SWEEP --classes all --objectives dn2 --train-limit $n --seeds $SEEDS --out-dir "results/fewshot-cpu/n$n"
    $SWEEP --classes all --objectives msc $(chosen msc) --train-limit $n --seeds $SEEDS $EVAL \
      --out-dir "results/fewshot-cpu/n$n"
  done
}

stage_F() {
  for seed in ${SEEDS//,/ }; do
    for o in contrastive msc; do
      $SWEEP --classes all --objectives "$o" --lr 1e-3 --momentum 0 --epochs 20 --eval-every 1 \
        --seeds "$seed" --out-dir results/collapse-cpu
    done
    $SWEEP --classes all --objectives center --lr 1e-7 --momentum 0.9 --epochs 20 --eval-every 1 \
      --seeds "$seed" --out-dir results/collapse-cpu
  done
}

stage_G() {
  $SWEEP --setting multi-class --classes all --objectives center $(chosen center) --seeds $SEEDS $EVAL \
    --out-dir results/multiclass-cpu
}

stage_H() {
  for seed in ${SEEDS//,/ }; do
    $SWEEP --classes all --objectives dn2 --backbones efficientnet_lite1,efficientnet_lite2 \
      --seeds "$seed" --out-dir results/backbones-cpu
    $SWEEP --classes all --objectives msc $(chosen msc) --backbones efficientnet_lite1,efficientnet_lite2 \
      --seeds "$seed" $EVAL --out-dir results/backbones-cpu
  done
}

stage_E() {
  for tau in 0.1 0.5; do
    $SWEEP --classes all --objectives msc $(chosen msc) --temperature $tau --seeds $SEEDS $EVAL \
      --out-dir "results/temperature-cpu/tau$tau"
  done
}

for stage in "${@:-A B C D E}"; do
  for s in $stage; do
    echo "== stage $s: $(date -u +%H:%M:%S)"
    "stage_$s"
  done
done
echo "== done: $(date -u +%H:%M:%S)"
