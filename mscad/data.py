"""Data sets and the one-class protocol.

A data set is a list of classes with train and test images. The one-class protocol
(paper Sec. 5.1) takes one class as normal: training sees only its train images; every
test image is scored, and it is anomalous (label 1) when its class is not the normal one.
The multi-class setting (Table 5) flips this: one class is anomalous, all the others are
normal, and no class labels are used in training.

Images are decoded once per process, and only those an experiment uses, into uint8
tensors (N, S, S, 3) by :mod:`mscad.images` (each image squared on its own: shorter side
resized, centre cropped). Every epoch and every experiment in the process reuses them.

Registered data sets live under ``$MSCAD_DATA`` (default ``./data``):

====================  ==========================================================
``cifar10``           ``cifar10/{train,test}/<class>/*.jpg`` (folder copy) or
                      torchvision's ``cifar10/cifar-10-batches-py``
``cifar100-coarse``   torchvision's ``cifar100/cifar-100-python``; 20 superclasses
``cifar100-fine``     the same files; 100 classes
``catsvsdogs``        ``catsvsdogs/{Cat,Dog}/*.jpg`` (PetImages); first 10,000 of each
                      class train, last 2,500 test (paper A.1)
``mvtec:<category>``  ``mvtec/<category>/{train,test}/<defect>/*.png`` (MVTec AD);
                      the normal class is ``good``
``dior``              ``dior/{train,test}/<class>/*`` (objects cropped as in A.1)
====================  ==========================================================

Any other name is read as a directory in the same folder layout as the CIFAR-10 copy.
The registry is :data:`DATASET_SOURCES`: a new data set is one loader and one entry.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .errors import MscadError
from .images import decode_images, list_images
from .registry import Registry

# What an experiment's ROC-AUC is measured on: the data set's test split, or a validation
# set made from its train split alone (for choosing settings).
EVALUATION_SETS = ("test", "validation")

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]

# CIFAR-100's 20 superclasses and their 5 fine classes each, from the data set's
# definition (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ["beaver", "dolphin", "otter", "seal", "whale"],
    "fish": ["aquarium_fish", "flatfish", "ray", "shark", "trout"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
    "food_containers": ["bottle", "bowl", "can", "cup", "plate"],
    "fruit_and_vegetables": ["apple", "mushroom", "orange", "pear", "sweet_pepper"],
    "household_electrical_devices": ["clock", "keyboard", "lamp", "telephone", "television"],
    "household_furniture": ["bed", "chair", "couch", "table", "wardrobe"],
    "insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach"],
    "large_carnivores": ["bear", "leopard", "lion", "tiger", "wolf"],
    "large_man-made_outdoor_things": ["bridge", "castle", "house", "road", "skyscraper"],
    "large_natural_outdoor_scenes": ["cloud", "forest", "mountain", "plain", "sea"],
    "large_omnivores_and_herbivores": ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"],
    "medium_mammals": ["fox", "porcupine", "possum", "raccoon", "skunk"],
    "non-insect_invertebrates": ["crab", "lobster", "snail", "spider", "worm"],
    "people": ["baby", "boy", "girl", "man", "woman"],
    "reptiles": ["crocodile", "dinosaur", "lizard", "snake", "turtle"],
    "small_mammals": ["hamster", "mouse", "rabbit", "shrew", "squirrel"],
    "trees": ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"],
    "vehicles_1": ["bicycle", "bus", "motorcycle", "pickup_truck", "train"],
    "vehicles_2": ["lawn_mower", "rocket", "streetcar", "tank", "tractor"],
}
FINE_TO_COARSE = {fine: coarse for coarse, fines in CIFAR100_SUPERCLASSES.items() for fine in fines}

def data_root() -> Path:
    """Root of the registered data sets: ``$MSCAD_DATA``, else ``./data``."""
    return Path(os.environ.get("MSCAD_DATA", "data")).expanduser()


class LabelledImages:
    """The images of one split, with their class indices.

    Images come either from files, decoded on first use and kept for the rest of the
    process, or from an in-memory uint8 array (torchvision's CIFAR). :meth:`take`
    decodes only the images asked for, so a 1,000-image experiment does not pay for
    decoding 60,000.
    """

    def __init__(self, labels, classes, files=None, images=None, image_size: int = 224):
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classes = list(classes)
        self.files = list(files or [])
        self._images = images
        self.image_size = image_size

    def __len__(self):
        return len(self.labels)

    def take(self, indices, keep: bool = True) -> torch.Tensor:
        """uint8 tensor (len(indices), S, S, 3) of the images at ``indices`` (``keep=False``:
        decoded files are not kept for the rest of the process)."""
        indices = np.asarray(indices, dtype=np.int64)
        if self._images is not None:
            return self._images[torch.from_numpy(indices)]
        return decode_images([self.files[i] for i in indices], self.image_size, keep=keep)

    @property
    def images(self) -> torch.Tensor:
        """All images of the split (decodes every file once)."""
        return self.take(np.arange(len(self)))


# --------------------------------------------------------------------------- sources
def _missing(name: str, path: Path, how: str) -> MscadError:
    return MscadError(f"data set {name!r} not found: looked in {path}; {how}")


def is_class_folder(path: Path) -> bool:
    """A folder that can be a class: not hidden, not made by a tool (``.ipynb_checkpoints``
    from Jupyter, ``__MACOSX`` from unzipping on a Mac, ``__pycache__``)."""
    return path.is_dir() and not path.name.startswith((".", "__"))


def class_folders(folder: Path) -> list:
    """The class folders in ``folder``, sorted by name."""
    return sorted(d.name for d in folder.iterdir() if is_class_folder(d))


def _from_folders(split_dir: Path, classes: list, image_size: int) -> LabelledImages:
    labels, files = [], []
    for index, cls in enumerate(classes):
        folder = split_dir / cls
        paths = list_images(folder) if folder.is_dir() else []
        labels += [index] * len(paths)
        files += paths
    if not files:
        raise MscadError(f"no images (jpg/png) under {split_dir}/<class>/; "
                         "put each class's images in its own folder.")
    return LabelledImages(labels, classes, files=files, image_size=image_size)


def _folder_dataset(root: Path, name: str, split: str, image_size: int, how: str) -> LabelledImages:
    split_dir = root / split
    if not split_dir.is_dir():
        raise _missing(name, split_dir, how)
    # The class list is the union of train and test folders, so that test-only classes
    # (MVTec's defect types) are known too; train classes come first.
    classes = []
    for s in ("train", "test"):
        if (root / s).is_dir():
            classes += [c for c in class_folders(root / s) if c not in classes]
    return _from_folders(split_dir, classes, image_size)


@lru_cache(maxsize=None)
def _torchvision_cifar(kind: str, root: str, train: bool):
    import torchvision.datasets as tvd

    cls = tvd.CIFAR10 if kind == "cifar10" else tvd.CIFAR100
    try:
        ds = cls(root, train=train, download=False)
    except RuntimeError:
        try:
            ds = cls(root, train=train, download=True)
        except Exception as e:
            raise _missing(kind, Path(root), "there is no network to download it: copy the "
                           f"python version of {kind.upper()} (from https://www.cs.toronto.edu/~kriz/cifar.html) "
                           "there, or set MSCAD_DATA to the folder that holds it.") from e
    return torch.from_numpy(ds.data), np.asarray(ds.targets, dtype=np.int64), list(ds.classes)


def _cifar10(root: Path, split: str, image_size: int, _) -> LabelledImages:
    if (root / "cifar10" / "train").is_dir():
        # a registered set keeps its fixed class order (indices 0-9 mean the standard
        # classes) whatever else sits in the folder; other folders are named and ignored
        base = root / "cifar10"
        found = set().union(*(class_folders(base / s) for s in ("train", "test") if (base / s).is_dir()))
        missing = [c for c in CIFAR10_CLASSES if c not in found]
        if missing:
            raise MscadError(f"{base} is missing CIFAR-10 class folders: {', '.join(missing)} (each split "
                             "needs train/<class>/ and test/<class>/ for all ten); restore them, or use "
                             "the folder as a data set of its own (--dataset " + str(base) + ").")
        extra = sorted(found - set(CIFAR10_CLASSES))
        if extra:
            import warnings

            warnings.warn(f"{base} holds folders that are not CIFAR-10 classes ({', '.join(extra)}); "
                          "they are ignored.", stacklevel=2)
        return _from_folders(base / split, list(CIFAR10_CLASSES), image_size)
    images, labels, classes = _torchvision_cifar("cifar10", str(root / "cifar10"), split == "train")
    return LabelledImages(labels, classes, images=images, image_size=image_size)


def _cifar100(coarse: bool):
    def load(root: Path, split: str, image_size: int, _) -> LabelledImages:
        images, labels, fine = _torchvision_cifar("cifar100", str(root / "cifar100"), split == "train")
        if not coarse:
            return LabelledImages(labels, fine, images=images, image_size=image_size)
        names = list(CIFAR100_SUPERCLASSES)
        to_coarse = np.array([names.index(FINE_TO_COARSE[f]) for f in fine])
        return LabelledImages(to_coarse[labels], names, images=images, image_size=image_size)
    return load


def _catsvsdogs(root: Path, split: str, image_size: int, _) -> LabelledImages:
    base = root / "catsvsdogs"
    if not base.is_dir():
        raise _missing("catsvsdogs", base, "download Microsoft's PetImages (Kaggle 'Dogs vs. Cats') "
                       "and put its Cat/ and Dog/ folders there.")
    classes = class_folders(base)
    labels, files = [], []
    for index, cls in enumerate(classes):
        paths = list_images(base / cls)
        paths = paths[:10000] if split == "train" else paths[-2500:]  # paper A.1
        labels += [index] * len(paths)
        files += paths
    return LabelledImages(labels, classes, files=files, image_size=image_size)


def _mvtec(root: Path, split: str, image_size: int, category: str) -> LabelledImages:
    return _folder_dataset(root / "mvtec" / category, f"mvtec:{category}", split, image_size,
                           "download MVTec AD from https://www.mvtec.com/company/research/datasets/"
                           "mvtec-ad and unpack it into $MSCAD_DATA/mvtec/.")


def _dior(root: Path, split: str, image_size: int, _) -> LabelledImages:
    return _folder_dataset(root / "dior", "dior", split, image_size,
                           "crop DIOR's objects as in the paper's A.1 and put them in "
                           "dior/train/<class>/ and dior/test/<class>/.")


@dataclass(frozen=True)
class DatasetSource:
    """A registered data set: ``load(root, split, image_size, argument)``, where
    ``argument`` is the part after the colon of a name such as ``mvtec:bottle``."""

    name: str
    load: Callable
    argument: str | None = None  # what follows "name:", e.g. "<category>"
    # The protocol: the classes that may be normal (None: every class in turn). MVTec AD's
    # train split holds defect-free images only, so its one normal class is "good" and the
    # defect types are the anomalies.
    normal_classes: tuple | None = None

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument}" if self.argument else self.name


_SOURCES = (DatasetSource("cifar10", _cifar10), DatasetSource("cifar100-coarse", _cifar100(True)),
            DatasetSource("cifar100-fine", _cifar100(False)), DatasetSource("catsvsdogs", _catsvsdogs),
            DatasetSource("mvtec", _mvtec, "<category>", normal_classes=("good",)),
            DatasetSource("dior", _dior))
DATASET_SOURCES = Registry("data set", _SOURCES)
DATASETS = DATASET_SOURCES.view("usage")  # live; .values(): the names as a user types them


def dataset_source(dataset: str) -> DatasetSource | None:
    """The registry entry of a data set name (``mvtec:bottle`` -> mvtec), None for a folder."""
    return DATASET_SOURCES.get(dataset.partition(":")[0])


def normal_classes(dataset: str, classes: list) -> list:
    """The classes a sweep's ``--classes all`` makes normal in turn: the protocol's own
    (MVTec: "good") or every class."""
    source = dataset_source(dataset)
    if source is not None and source.normal_classes:
        return [c for c in classes if c in source.normal_classes]
    return list(classes)


def load_split(dataset: str, split: str, image_size: int = 224) -> LabelledImages:
    """The images of ``split`` ('train' or 'test') of a registered data set or folder."""
    if split not in ("train", "test"):
        raise MscadError(f"split must be 'train' or 'test', got {split!r}.")
    name, _, argument = dataset.partition(":")
    source = DATASET_SOURCES.get(name)
    if source is not None and bool(argument) == bool(source.argument):
        return source.load(data_root(), split, image_size, argument or None)
    path = Path(dataset).expanduser()
    if path.is_dir():
        return _folder_dataset(path, str(path), split, image_size,
                               f"a folder data set needs {path}/train/<class>/ and {path}/test/<class>/.")
    raise MscadError(f"unknown data set {dataset!r}: not a registered name "
                     f"({', '.join(DATASETS.values())}) nor an existing directory.")


# --------------------------------------------------------------------------- protocol
@dataclass
class OneClassData:
    """One experiment's data: normal training images and a labelled test set."""

    dataset: str
    setting: str  # "one-class" or "multi-class"
    target_class: str  # the normal class (one-class) or the anomalous class (multi-class)
    classes: list
    train: torch.Tensor  # uint8 (N, S, S, 3): normal images only
    test: torch.Tensor  # uint8 (M, S, S, 3)
    test_labels: np.ndarray  # 1 = anomalous, 0 = normal
    test_classes: np.ndarray  # class index of each test image, for analysis only
    evaluate_on: str = "test"  # "validation": ``test`` holds train-split images only
    validation: torch.Tensor | None = None  # other classes' train images (validation_anomalies)

    def summary(self) -> str:
        role = "one normal class" if self.setting == "one-class" else "anomalous class"
        return (f"{self.dataset} {self.setting}, {role} {self.target_class!r}: {len(self.train)} "
                f"train, {len(self.test)} {self.evaluate_on} ({int(self.test_labels.sum())} anomalous)")


def resolve_class(name, classes: list, by_index: bool = True) -> int:
    """Index of a class given by name or, where ``by_index`` (registered data sets, whose
    class order is fixed), by its index. In a folder data set a number is a folder name
    like any other: ``1`` never silently means the second folder."""
    if str(name) in classes:
        return classes.index(str(name))
    if by_index and (isinstance(name, (int, np.integer)) or (isinstance(name, str) and name.isdigit())):
        index = int(name)
        if 0 <= index < len(classes):
            return index
    listed = (", ".join(f"{i}={c}" for i, c in enumerate(classes)) if by_index
              else ", ".join(classes))
    raise MscadError(f"class {name!r} is not in this data set; its classes are: {listed}"
                     + ("" if by_index else " (a folder data set's classes are named by their folders)")
                     + ".")


def indexable(dataset: str) -> bool:
    """Whether classes of ``dataset`` may be given by index: registered sets only."""
    return dataset_source(dataset) is not None


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Indices of ``limit`` items drawn so that each class keeps its share (seeded)."""
    if limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    values, counts = np.unique(labels, return_counts=True)
    quotas = np.floor(counts / len(labels) * limit).astype(int)
    # hand out the remainder to the classes with the largest fractional parts
    remainder = counts / len(labels) * limit - quotas
    quotas[np.argsort(-remainder)[:limit - quotas.sum()]] += 1
    for value, quota in zip(values, quotas):
        members = np.flatnonzero(labels == value)
        chosen.append(rng.choice(members, size=quota, replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass
class SplitIndices:
    """Which images of the train and test splits an experiment uses (:func:`one_class_split`)."""

    classes: list
    target: int
    setting: str
    train_idx: np.ndarray  # into the train split: the normal training images
    test_idx: np.ndarray  # into the test split (the train split for validation)
    test_labels: np.ndarray  # 1 = anomalous, for every image of the test split
    test_class_index: np.ndarray  # class index of every image of the test split


def one_class_split(dataset: str, train_all: LabelledImages, test_all: LabelledImages, normal_class=None,
                    *, anomalous_class=None, train_limit: int | None = None,
                    test_limit: int | None = None, seed: int = 0,
                    evaluate_on: str = "test") -> SplitIndices:
    """The indices :func:`one_class_data` takes, without decoding an image: code that
    extracts every image's features once (the DN2 grid) selects an experiment's subset
    from them and gets exactly that experiment's images."""
    classes = list(dict.fromkeys(train_all.classes + test_all.classes))
    test_class_index = np.array([classes.index(test_all.classes[i]) for i in test_all.labels])
    train_class_index = np.array([classes.index(train_all.classes[i]) for i in train_all.labels])
    if normal_class is not None:
        target = resolve_class(normal_class, classes, indexable(dataset))
        train_idx = np.flatnonzero(train_class_index == target)
        test_labels = (test_class_index != target).astype(np.int64)
        setting = "one-class"
    else:
        target = resolve_class(anomalous_class, classes, indexable(dataset))
        train_idx = np.flatnonzero(train_class_index != target)  # labels are not used further
        test_labels = (test_class_index == target).astype(np.int64)
        setting = "multi-class"
    if len(train_idx) == 0:
        raise MscadError(f"the normal training set is empty: no train images for "
                         f"{'class ' + repr(classes[target]) if setting == 'one-class' else 'the classes other than ' + repr(classes[target])}"
                         f" in {dataset}; add images to its train/ folder.")
    if train_limit is not None and train_limit < len(train_idx):
        train_idx = np.sort(np.random.default_rng(seed).choice(train_idx, size=train_limit, replace=False))
    test_idx = np.arange(len(test_labels))
    if evaluate_on == "validation":
        test_idx = np.setdiff1d(test_idx, train_idx)  # the train images training does not see
        if not (test_labels[test_idx] == 0).any():
            raise MscadError(f"a validation set needs held-out normal train images, but all "
                             f"{len(train_idx)} are used for training; set --train-limit below "
                             f"{len(train_idx)}.")
    if test_limit is not None:
        test_idx = test_idx[stratified_subset(test_class_index[test_idx], test_limit, seed + 1)]
    if len(np.unique(test_labels[test_idx])) < 2:
        raise MscadError(f"the test set of {dataset} needs both normal and anomalous images "
                         f"for class {classes[target]!r}; add test images of the other classes.")
    return SplitIndices(classes, target, setting, train_idx, test_idx, test_labels, test_class_index)


def validation_anomalies(dataset: str, normal_class, n: int, image_size: int, seed: int = 0) -> torch.Tensor:
    """``n`` train images of the classes other than ``normal_class`` (class shares kept,
    seeded): the anomalies of a run's validation curve. With the normal train images
    scored leave-one-out they give a ROC-AUC that reads no test image (the normal side is
    in-sample: it leans towards longer training, which the book says where it is used)."""
    train_all = load_split(dataset, "train", image_size)
    classes = list(dict.fromkeys(train_all.classes))
    target = resolve_class(normal_class, classes, indexable(dataset))
    others = np.flatnonzero(np.asarray(train_all.labels) != target)
    if len(others) == 0:
        raise MscadError(f"a validation curve needs train images of classes other than "
                         f"{classes[target]!r} in {dataset}; there are none.")
    chosen = others[stratified_subset(np.asarray(train_all.labels)[others], n, seed + 2)]
    return train_all.take(chosen)


def one_class_data(dataset: str, normal_class=None, *, anomalous_class=None, image_size: int = 224,
                   train_limit: int | None = None, test_limit: int | None = None,
                   seed: int = 0, evaluate_on: str = "test") -> OneClassData:
    """The one-class split of ``dataset`` with ``normal_class`` normal, or, given
    ``anomalous_class`` instead, the multi-class split (Table 5).

    ``train_limit`` keeps a seeded random subset of the normal train images (Table 2's
    few-shot sets: 200 or 500); ``test_limit`` a seeded subset of the test set with each
    class's share kept, so the normal/anomalous balance is the full test set's.

    ``evaluate_on="validation"`` never reads the test split: the labelled evaluation set
    is drawn (``test_limit`` images, class shares kept) from the train images that
    training does not use: the held-out normal train images and the other classes' train
    images as anomalies. Settings are chosen on it, never on test images.
    """
    if evaluate_on not in EVALUATION_SETS:
        raise MscadError(f"evaluate_on (--evaluate-on) must be one of {', '.join(EVALUATION_SETS)}, got {evaluate_on!r}.")
    if (normal_class is None) == (anomalous_class is None):
        raise MscadError("give exactly one of normal_class (one-class) or anomalous_class (multi-class).")
    source = dataset_source(dataset)
    if source is not None and source.normal_classes:
        allowed = ", ".join(repr(c) for c in source.normal_classes)
        if anomalous_class is not None or str(normal_class) not in source.normal_classes:
            raise MscadError(f"{source.name}'s protocol has one normal class, {allowed} (its train split "
                             f"holds only defect-free images; every other class is an anomaly); use "
                             f"--normal-class {source.normal_classes[0]}.")
    for limit, what in ((train_limit, "train_limit (--train-limit)"), (test_limit, "test_limit (--test-limit)")):
        if limit is not None and limit < 1:
            raise MscadError(f"{what} must be a positive number of images (None = all), got {limit}.")
    train_all = load_split(dataset, "train", image_size)
    test_all = load_split(dataset, "test", image_size) if evaluate_on == "test" else train_all
    split = one_class_split(dataset, train_all, test_all, normal_class, anomalous_class=anomalous_class,
                            train_limit=train_limit, test_limit=test_limit, seed=seed,
                            evaluate_on=evaluate_on)
    classes, target, setting = split.classes, split.target, split.setting
    train_idx, test_idx, test_labels = split.train_idx, split.test_idx, split.test_labels
    test_class_index = split.test_class_index
    return OneClassData(dataset, setting, classes[target], classes, train_all.take(train_idx),
                        test_all.take(test_idx), test_labels[test_idx], test_class_index[test_idx],
                        evaluate_on)
