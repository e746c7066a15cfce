"""DN2 (kNN on pretrained features, k=2) on CIFAR-10, every class, full test set.

The features of all 60,000 images are extracted once (they do not depend on the normal
class); each class then uses its 5,000 train images as the gallery and scores the whole
10,000-image test set. Reports both columns of Table 3's DN2: "Raw" (Euclidean kNN on
un-normalised features) and "Ang." (cosine kNN on l2-normalised features, Eq. 5), and
writes them to results/dn2/.

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/dn2_cifar10.py --image-size 64
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from mscad.data import CIFAR10_CLASSES, load_split
from mscad.metrics import roc_auc
from mscad.model import FeatureModel, extract_features
from mscad.scoring import euclidean_knn_scores, knn_scores
from mscad.results import environment


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    start = time.time()
    train, test = load_split("cifar10", "train", a.image_size), load_split("cifar10", "test", a.image_size)
    decoded = time.time()
    model = FeatureModel(a.backbone).eval()
    raw_train = extract_features(model, train.images, a.image_size, raw=True, progress=True, desc="train")
    raw_test = extract_features(model, test.images, a.image_size, raw=True, progress=True, desc="test")
    extracted = time.time()
    rows = []
    for c, name in enumerate(CIFAR10_CLASSES):
        gallery = raw_train[train.labels == c]
        labels = (test.labels != c).astype(int)
        rows.append(dict(normal_class=name,
                         auroc_angular=roc_auc(labels, knn_scores(gallery, raw_test, k=2)),
                         auroc_raw=roc_auc(labels, euclidean_knn_scores(gallery, raw_test, k=2))))
    print(f"DN2, {a.backbone} @ {a.image_size}px, CIFAR-10 (JPEG copy), 5,000 train / 10,000 test per class")
    print(f"{'class':<12}{'Ang. (cos)':>12}{'Raw (L2)':>12}")
    for r in rows:
        print(f"{r['normal_class']:<12}{100 * r['auroc_angular']:12.2f}{100 * r['auroc_raw']:12.2f}")
    mean_ang = float(np.mean([r["auroc_angular"] for r in rows]))
    mean_raw = float(np.mean([r["auroc_raw"] for r in rows]))
    print(f"{'mean':<12}{100 * mean_ang:12.2f}{100 * mean_raw:12.2f}")
    timing = dict(decode_s=round(decoded - start, 1), extract_s=round(extracted - decoded, 1),
                  total_s=round(time.time() - start, 1))
    print(f"time: decode {timing['decode_s']} s, features {timing['extract_s']} s, total {timing['total_s']} s")
    out = Path(a.out or f"results/dn2/cifar10-{a.backbone}-{a.image_size}px.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(dataset="cifar10 (JPEG copy)", backbone=a.backbone, image_size=a.image_size,
                                   k=2, per_class=rows, mean_auroc_angular=mean_ang, mean_auroc_raw=mean_raw,
                                   timing=timing, environment=environment()), indent=1))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
