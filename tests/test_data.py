import numpy as np
import pytest
import torch

from mscad.data import (CIFAR10_CLASSES, CIFAR100_SUPERCLASSES, FINE_TO_COARSE, load_split, one_class_data,
                        stratified_subset)
from mscad.errors import MscadError

# CIFAR-100's coarse label of each fine label (fine classes in alphabetical order), as
# stored in the data set's own files: an independent check of the name table.
COARSE_OF_FINE_INDEX = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13,
    15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4,
    17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13,
    15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13]


def test_coarse_mapping_has_20_classes_of_5_and_agrees_with_the_label_files():
    assert len(CIFAR100_SUPERCLASSES) == 20
    assert all(len(f) == 5 for f in CIFAR100_SUPERCLASSES.values())
    fine = sorted(FINE_TO_COARSE)
    assert len(fine) == 100
    coarse = list(CIFAR100_SUPERCLASSES)
    assert [coarse.index(FINE_TO_COARSE[f]) for f in fine] == COARSE_OF_FINE_INDEX


def test_folder_one_class_protocol(folder_dataset):
    d = one_class_data(str(folder_dataset), "square", image_size=16)
    assert d.classes == ["circle", "noise", "square"]
    assert len(d.train) == 6 and len(d.test) == 12
    assert d.train.dtype == torch.uint8 and d.train.shape[1:] == (16, 16, 3)  # 24 px -> 16
    square = d.classes.index("square")
    np.testing.assert_array_equal(d.test_labels, (d.test_classes != square).astype(int))
    assert d.test_labels.sum() == 8
    # the normal train images really are squares: blue centre
    assert (d.train[:, 8, 8, 2].float() > 150).all()


def test_no_test_image_in_train_and_multi_class_labels(folder_dataset):
    d = one_class_data(str(folder_dataset), anomalous_class="noise", image_size=24)
    assert d.setting == "multi-class" and len(d.train) == 12  # circles + squares
    noise = d.classes.index("noise")
    np.testing.assert_array_equal(d.test_labels, (d.test_classes == noise).astype(int))
    # noise images (the anomaly) must not be in train: they are the only high-variance ones
    assert d.train.float().std(dim=(1, 2, 3)).max() < 60
    train = {bytes(x.numpy()) for x in d.train}
    assert not any(bytes(x.numpy()) in train for x in d.test)


def test_cifar10_one_class_on_real_data(shared_data):
    d = one_class_data("cifar10", "cat", image_size=32, test_limit=1000, train_limit=200, seed=3)
    assert d.classes[3] == "cat" and d.target_class == "cat"
    assert len(d.train) == 200 and len(d.test) == 1000
    assert d.test_labels.sum() == 900  # class balance kept: 100 per class
    np.testing.assert_array_equal(np.bincount(d.test_classes), [100] * 10)
    assert d.train.shape[1:] == (32, 32, 3)
    # by index as well as by name, and the same seed gives the same subset
    again = one_class_data("cifar10", 3, image_size=32, test_limit=1000, train_limit=200, seed=3)
    assert torch.equal(again.train, d.train)
    full_train = load_split("cifar10", "train", 32)
    full_test = load_split("cifar10", "test", 32)
    assert (full_train.labels == 3).sum() == 5000 and len(full_test) == 10000
    train_bytes = {bytes(x.numpy()) for x in d.train}
    assert not any(bytes(x.numpy()) in train_bytes for x in d.test)


def test_stratified_subset_keeps_shares():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    idx = stratified_subset(labels, 100, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[idx]), [50, 30, 20])
    assert len(set(idx)) == 100


def test_bad_inputs_give_clear_errors(folder_dataset, tmp_path, monkeypatch):
    with pytest.raises(MscadError, match="classes are: circle, noise, square"):
        one_class_data(str(folder_dataset), "triangle")
    with pytest.raises(MscadError, match="unknown data set 'imagenet-o'.*cifar10"):
        one_class_data("imagenet-o", 0)
    monkeypatch.setenv("MSCAD_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(MscadError, match=r"not found: looked in .*nowhere/mvtec/bottle/train"):
        one_class_data("mvtec:bottle", "good")
    (folder_dataset / "train" / "empty").mkdir()
    (folder_dataset / "test" / "empty").mkdir()
    with pytest.raises(MscadError, match="normal training set is empty"):
        one_class_data(str(folder_dataset), "empty")


def test_corrupt_image_is_named(folder_dataset):
    bad = folder_dataset / "train" / "circle" / "99.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(MscadError, match=r"cannot read image .*99\.jpg.*delete or replace"):
        one_class_data(str(folder_dataset), "circle", image_size=20)


def test_mvtec_protocol_makes_good_the_only_normal_class(tmp_path, monkeypatch, capsys):
    """MVTec AD: train holds defect-free images only; 'good' is normal, defects anomalous.
    A sweep over --classes all runs 'good' alone; a defect type as normal is refused."""
    import json as json_

    from conftest import make_folder_dataset

    from mscad.cli import main

    root = tmp_path / "data"
    make_folder_dataset(root / "mvtec" / "bottle", classes=("good", "crack"), n_train=6, n_test=4)
    import shutil
    shutil.rmtree(root / "mvtec" / "bottle" / "train" / "crack")
    monkeypatch.setenv("MSCAD_DATA", str(root))
    out = tmp_path / "res"
    assert main(["sweep", "--dataset", "mvtec:bottle", "--classes", "all", "--objectives", "dn2",
                 "--profile", "quick", "--quiet", "--out-dir", str(out)]) == 0
    files = sorted(p.name for p in out.rglob("*.json"))
    assert files == ["good.json"]
    result = json_.loads(next(out.rglob("good.json")).read_text())
    assert result["data"]["n_test"] == 8 and 0 <= result["auroc"] <= 1
    rc = main(["run", "--dataset", "mvtec:bottle", "--normal-class", "crack", "--objective", "dn2",
               "--profile", "quick", "--quiet", "--out", str(tmp_path / "x.json")])
    assert rc == 2 and "use --normal-class good" in capsys.readouterr().err


def test_cifar100_superclass_names_find_the_papers_table_8():
    from mscad.paper import TABLE8, paper_value

    assert paper_value("cifar100-coarse", "aquatic_mammals", "msc") == TABLE8["rows"][0][5]
    assert paper_value("cifar100-coarse", "vehicles_2", "center") == TABLE8["rows"][19][4]


def test_split_indices_select_exactly_the_experiments_images(shared_data):
    """The DN2 grid selects an experiment's subset from features of every image
    (mscad.data.one_class_split): it must be the very images one_class_data decodes."""
    from mscad.data import one_class_split

    train_all, test_all = load_split("cifar10", "train", 32), load_split("cifar10", "test", 32)
    for seed in (0, 1):
        data = one_class_data("cifar10", "cat", image_size=32, train_limit=50, test_limit=120, seed=seed)
        split = one_class_split("cifar10", train_all, test_all, "cat", train_limit=50, test_limit=120,
                                seed=seed)
        assert torch.equal(train_all.take(split.train_idx, keep=False), data.train)
        assert torch.equal(test_all.take(split.test_idx, keep=False), data.test)
        np.testing.assert_array_equal(split.test_labels[split.test_idx], data.test_labels)
    full = one_class_split("cifar10", train_all, test_all, "cat")
    assert len(full.train_idx) == 5000 and len(full.test_idx) == 10000
    assert (np.asarray(train_all.labels)[full.train_idx] == 3).all()  # cat is CIFAR-10's class 3
    assert full.test_labels.sum() == 9000


def test_the_class_a_user_names_is_the_class_that_trains(shared_data, tmp_path, monkeypatch):
    """Hidden and tool-made folders are never classes; CIFAR-10 keeps its class order
    whatever else sits in its folder; in a folder set a number is a name, not an index."""
    import shutil
    import warnings

    from conftest import make_folder_dataset

    # a copy of CIFAR-10's layout (one image per class) with Jupyter's and a Mac's folders
    root = tmp_path / "data"
    for split in ("train", "test"):
        for c in CIFAR10_CLASSES:
            (root / "cifar10" / split / c).mkdir(parents=True)
            for i in range(3):
                shutil.copy(shared_data / "cifar10" / split / c / f"{i:04d}.jpg", root / "cifar10" / split / c)
    (root / "cifar10" / "train" / ".ipynb_checkpoints").mkdir()
    (root / "cifar10" / "train" / "__MACOSX").mkdir()
    (root / "cifar10" / "train" / "aardvark").mkdir()  # sorts first: would shift every index
    monkeypatch.setenv("MSCAD_DATA", str(root))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = one_class_data("cifar10", "3", image_size=32)
    assert data.target_class == "cat"  # CIFAR-10's index 3
    assert "aardvark" in " ".join(str(w.message) for w in caught)
    # a folder set whose classes are numbers: "1" is not the second folder
    digits = make_folder_dataset(tmp_path / "digits", classes=("0", "2", "3"))
    (digits / "train" / ".ipynb_checkpoints").mkdir()
    (digits / "train" / "__MACOSX").mkdir()
    assert one_class_data(str(digits), "2", image_size=24).target_class == "2"
    with pytest.raises(MscadError, match="class '1' is not in this data set; its classes are: 0, 2, 3"):
        one_class_data(str(digits), "1", image_size=24)
    assert load_split(str(digits), "train", 24).classes == ["0", "2", "3"]
