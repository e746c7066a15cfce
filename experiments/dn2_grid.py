"""The DN2 scale grid (issue 29): where the distance from our DN2 to the paper's comes from.

DN2 (kNN, k=2, on l2-normalised pretrained features, Eq. 5) on all ten CIFAR-10 classes
at the paper's data (each class's 5,000 train images as the gallery, all 10,000 test
images) for each backbone and resolution of the grid, and, from the same features, at
the cpu profile's subsets (1,000 normal train images, 2,000 test images; seeds 0, 1, 2,
the subsets `mscad run --profile cpu` draws: mscad.data.one_class_split). Also the raw
(Euclidean, un-normalised) DN2 of Table 3's first column.

Every image's features are extracted once per backbone and resolution: the test
features are shared by the ten classes (60,000 images in all instead of 150,000). DN2
does not train, so the grid needs no seeds and chooses no setting.

One result file per backbone and resolution, results/dn2-grid/<backbone>-<size>px.json;
a finished file is skipped, and an unfinished extraction resumes from its last chunk
(runs/dn2-grid/, not committed).

    MSCAD_DATA=../shared/data .venv/bin/python experiments/dn2_grid.py [--only efficientnet_lite0-64]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mscad.compiled import should_compile  # noqa: E402
from mscad.data import load_split, one_class_split  # noqa: E402
from mscad.metrics import roc_auc  # noqa: E402
from mscad.model import FeatureModel, default_eval_batch, extract_features  # noqa: E402
from mscad.results import code_provenance, environment  # noqa: E402
from mscad.scoring import euclidean_knn_scores, knn_scores  # noqa: E402

# (backbone, resolution): Lite0 at the cpu profile's 64 px, the gpu profile's 128 and
# its native 224; Lite1 and Lite2 at their native 240 and 260 px.
GRID = [("efficientnet_lite0", 64), ("efficientnet_lite0", 128), ("efficientnet_lite0", 224),
        ("efficientnet_lite1", 240), ("efficientnet_lite2", 260)]
SUBSET = dict(train_limit=1000, test_limit=2000)  # the cpu profile's
SUBSET_SEEDS = (0, 1, 2)
CHUNK = 2048  # images decoded at a time (a checkpoint after each)


def features(model, split, size, work: Path, name: str, bar_desc: str):
    """Raw features of every image of ``split``, extracted in chunks with a checkpoint
    after each, so a killed grid resumes where it stopped."""
    part = work / f"{name}.partial.npy"
    done = np.load(part) if part.exists() else np.empty((0, model.feature_dim), np.float32)
    n = len(split)
    from tqdm import tqdm

    bar = tqdm(total=n, initial=len(done), desc=bar_desc, unit="img", mininterval=10)
    while len(done) < n:
        idx = np.arange(len(done), min(n, len(done) + CHUNK))
        images = split.take(idx, keep=False)
        done = np.concatenate([done, extract_features(model, images, size, raw=True)])
        np.save(work / f"{name}.tmp.npy", done)
        (work / f"{name}.tmp.npy").replace(part)
        bar.update(len(idx))
    bar.close()
    return done


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run_config(backbone: str, size: int, out: Path, work: Path):
    started = time.time()
    train_all, test_all = load_split("cifar10", "train", size), load_split("cifar10", "test", size)
    model = FeatureModel(backbone).eval()
    compiling, reason = should_compile("cpu", "cpu", size)
    if compiling:
        model.compile_for(default_eval_batch("cpu"))
    name = f"{backbone}-{size}px"
    t = time.time()
    raw_train = features(model, train_all, size, work, f"{name}-train", f"{name} train")
    train_s = time.time() - t
    t = time.time()
    raw_test = features(model, test_all, size, work, f"{name}-test", f"{name} test")
    test_s = time.time() - t
    train_n, test_n = normalised(raw_train), normalised(raw_test)
    t = time.time()
    rows = []
    for cls in train_all.classes:
        full = one_class_split("cifar10", train_all, test_all, cls)
        gallery = full.train_idx
        labels = full.test_labels[full.test_idx]
        row = dict(normal_class=cls, n_train=len(gallery), n_test=len(full.test_idx),
                   auroc=roc_auc(labels, knn_scores(train_n[gallery], test_n[full.test_idx], k=2)),
                   auroc_raw=roc_auc(labels, euclidean_knn_scores(raw_train[gallery],
                                                                  raw_test[full.test_idx], k=2)),
                   subset={})
        for seed in SUBSET_SEEDS:
            sub = one_class_split("cifar10", train_all, test_all, cls, seed=seed, **SUBSET)
            row["subset"][f"seed{seed}"] = roc_auc(
                sub.test_labels[sub.test_idx],
                knn_scores(train_n[sub.train_idx], test_n[sub.test_idx], k=2))
        rows.append(row)
        print(f"  {cls:<11} full {100 * row['auroc']:.2f}  subset "
              + " ".join(f"{100 * v:.2f}" for v in row["subset"].values()), flush=True)
    knn_s = time.time() - t
    n_images = len(train_all) + len(test_all)
    extract_s = train_s + test_s
    result = dict(
        kind="dn2-grid", schema=1, dataset="cifar10 (JPEG copy)", backbone=backbone, image_size=size,
        k=2, score="kNN on l2-normalised features, Eq. 5 (auroc); Euclidean kNN on raw features "
        "(auroc_raw)", subset=dict(SUBSET, seeds=list(SUBSET_SEEDS)),
        per_class=rows,
        mean_auroc=float(np.mean([r["auroc"] for r in rows])),
        mean_auroc_raw=float(np.mean([r["auroc_raw"] for r in rows])),
        mean_auroc_subset={s: float(np.mean([r["subset"][s] for r in rows]))
                           for s in rows[0]["subset"]},
        cost=dict(images_extracted=n_images, extract_s=round(extract_s, 1),
                  images_per_s=round(n_images / extract_s, 1) if extract_s else None,
                  train_features_s=round(train_s, 1), test_features_s=round(test_s, 1),
                  knn_and_auroc_s=round(knn_s, 1), total_s=round(time.time() - started, 1),
                  note="test features extracted once and shared by the ten classes (60,000 images "
                  "instead of 150,000); a resumed extraction counts only this process's time"),
        environment=dict(environment(), compile=reason if not compiling
                         else f"{reason}: {model.compile_status()}"),
        code=code_provenance())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out)
    for f in work.glob(f"{name}-*.partial.npy"):
        f.unlink()
    print(f"{name}: DN2 {100 * result['mean_auroc']:.2f} (full data), subset seed 0 "
          f"{100 * result['mean_auroc_subset']['seed0']:.2f}; {n_images} images in "
          f"{extract_s / 60:.1f} min -> {out}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", help="one grid point, BACKBONE-SIZE (e.g. efficientnet_lite0-64)")
    p.add_argument("--out-dir", default=str(ROOT / "results" / "dn2-grid"))
    p.add_argument("--work-dir", default=str(ROOT / "runs" / "dn2-grid"))
    a = p.parse_args()
    torch.manual_seed(0)
    work = Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    for backbone, size in GRID:
        if a.only and a.only != f"{backbone}-{size}":
            continue
        out = Path(a.out_dir) / f"{backbone}-{size}px.json"
        if out.exists():
            print(f"{out.name}: done, skipped")
            continue
        run_config(backbone, size, out, work)


if __name__ == "__main__":
    main()
