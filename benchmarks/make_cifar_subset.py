"""Write the small CIFAR-10 file that benchmarks/gpu_check.py reads (<= 25 MB).

One normal class's train images and a test subset with every class's share kept, as
uint8 arrays, from the data at $MSCAD_DATA (the JPEG copy or torchvision's files):

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/make_cifar_subset.py

writes benchmarks/data/cifar10-airplane-subset.npz (about 8 MB). Carry it to a GPU machine
with the repository; nothing there needs a network.
"""
import argparse
from pathlib import Path

import numpy as np

from mscad.data import one_class_data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--normal-class", default="airplane")
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    data = one_class_data("cifar10", a.normal_class, image_size=32, train_limit=a.train,
                          test_limit=a.test, seed=0)
    out = Path(a.out or Path(__file__).parent / "data" / f"cifar10-{a.normal_class}-subset.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, train=data.train.numpy(), test=data.test.numpy(),
                        test_labels=data.test_labels, test_classes=data.test_classes,
                        classes=np.array(data.classes), normal_class=a.normal_class)
    size = out.stat().st_size / 2**20
    if size > 25:
        raise SystemExit(f"{out} is {size:.1f} MB, over the 25 MB the GPU check may carry.")
    print(f"{data.summary()} -> {out} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
