import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data(monkeypatch):
    """The real CIFAR-10 JPEG copy (MSCAD_DATA, else ../shared/data)."""
    root = Path(os.environ.get("MSCAD_DATA", SHARED_DATA))
    if not (root / "cifar10" / "train").is_dir():
        pytest.skip(f"CIFAR-10 copy not found in {root}")
    monkeypatch.setenv("MSCAD_DATA", str(root))
    return root


def make_folder_dataset(root: Path, classes=("circle", "square", "noise"), n_train=6, n_test=4, size=24):
    """A tiny folder data set of generated images, each class visibly different."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for split, n in (("train", n_train), ("test", n_test)):
        for c, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 40, (size, size, 3)).astype(np.uint8)
                if cls == "circle":
                    img[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2] = (220, 30, 30)
                elif cls == "square":
                    img[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = (30, 30, 220)
                else:
                    img = rng.integers(0, 255, (size, size, 3)).astype(np.uint8)
                Image.fromarray(img).save(folder / f"{i}.{'png' if c % 2 else 'jpg'}")
    return root


@pytest.fixture
def folder_dataset(tmp_path):
    return make_folder_dataset(tmp_path / "shapes")


@pytest.fixture(autouse=True)
def private_run_cache(tmp_path, monkeypatch):
    """Every test gets its own empty run cache, off unless the test turns it on, so no
    test is ever answered by another test's stored run."""
    monkeypatch.setenv("MSCAD_CACHE", str(tmp_path / "run-cache"))
    monkeypatch.setenv("MSCAD_NO_CACHE", "1")


@pytest.fixture(autouse=True)
def eager_unless_asked(monkeypatch):
    """Tests run eagerly (a compile costs 30-60 s); tests/test_compiled.py turns it on."""
    monkeypatch.setenv("MSCAD_COMPILE", "off")
