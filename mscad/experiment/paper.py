"""The paper's reported results (mean ROC-AUC %, Reiss & Hoshen, AAAI 2023) as data,
for side-by-side comparison. Copied from the tables of the paper; nothing here is ours.
"""

# Table 1: mean ROC-AUC % per data set and method.
TABLE1 = {
    "columns": ["DeepSVDD (LeNet)", "MRot (ResNet18)", "DROC (ResNet18)", "CSI (ResNet18)",
                "MSC (ResNet18)", "PANDA (ResNet152)", "MSC (ResNet152)"],
    "cifar10": [64.8, 90.1, 92.5, 94.3, 94.8, 96.2, 97.2],
    "cifar100-coarse": [67.0, 80.1, 86.5, 89.6, 94.4, 94.1, 96.4],
    "catsvsdogs": [50.5, 86.0, 89.6, 86.3, 98.4, 97.3, 99.3],
}

# Table 2: small data sets.
TABLE2 = {
    "columns": ["CSI", "PANDA", "MSC (ResNet18)", "MSC (ResNet152)"],
    "dior": [78.5, 94.3, 97.5, 97.7],
    "mvtec": [63.6, 86.5, 85.0, 87.2],
    "cifar100-fine": [90.1, 97.1, 92.0, 97.6],
    "cifar10 (200 samples)": [81.3, 95.4, 93.1, 96.5],
    "cifar10 (500 samples)": [88.1, 95.6, 93.8, 96.7],
}

# Table 3: objective ablation, CIFAR-10, ResNet152. Keys are mscad objective names;
# "dn2-raw" is DN2 on un-normalised features with Euclidean kNN.
TABLE3 = {"dn2-raw": 92.5, "dn2": 95.8, "center": 96.2, "angular-center": 96.8, "msc": 97.2,
          "msc-angular": 97.5}

# Table 4: backbones, CIFAR-10.
TABLE4 = {
    "columns": ["ResNet", "EfficientNet", "DenseNet", "ViT"],
    "dn2": [92.5, 89.3, 85.6, 95.7],
    "center": [96.2, 95.3, 82.4, 95.8],
    "msc": [97.2, 97.0, 95.7, 98.6],
}

# Table 5: multi-class setting, CIFAR-10 (one class anomalous, the rest normal).
TABLE5 = {"dn2-raw": 76.2, "dn2": 80.4, "center": 78.5, "angular-center": 78.0, "MRot": 76.7,
          "CSI": 79.0, "msc": 85.3}

# Table 6: k-means approximation of the kNN gallery, CIFAR-10 (k = number of means).
TABLE6 = {1: 94.2, 5: 95.8, 10: 96.1, 100: 97.0, "full": 97.2}

_T7_COLUMNS = ["DeepSVDD", "MRot", "DROC", "CSI", "PANDA", "MSC"]

# Table 7: CIFAR-10 per class.
TABLE7 = {
    "columns": _T7_COLUMNS,
    "rows": {
        "airplane": [61.7, 77.5, 90.9, 89.9, 97.4, 97.0],
        "automobile": [65.9, 96.9, 98.9, 99.1, 98.4, 98.7],
        "bird": [50.8, 87.3, 88.1, 93.1, 93.9, 94.8],
        "cat": [59.1, 80.9, 83.1, 86.4, 90.6, 94.3],
        "deer": [60.9, 92.7, 89.9, 93.9, 97.5, 96.9],
        "dog": [65.7, 90.2, 90.3, 93.2, 94.4, 97.2],
        "frog": [67.7, 90.9, 93.5, 95.1, 97.5, 98.2],
        "horse": [67.3, 96.5, 98.2, 98.7, 97.5, 98.3],
        "ship": [75.9, 95.2, 96.5, 97.9, 97.6, 98.5],
        "truck": [73.1, 93.3, 95.2, 95.5, 97.4, 98.3],
    },
    "mean": [64.8, 90.1, 92.5, 94.3, 96.2, 97.2],
}

# Table 8: CIFAR-100 coarse (20 superclasses, in CIFAR-100's superclass order) per class.
TABLE8 = {
    "columns": _T7_COLUMNS,
    "rows": {i: row for i, row in enumerate([
        [66.0, 77.6, 82.9, 86.3, 91.5, 96.0], [60.1, 72.8, 84.3, 84.8, 92.6, 95.3],
        [59.2, 71.9, 88.6, 88.9, 98.3, 98.1], [58.7, 81.0, 86.4, 85.7, 96.6, 97.9],
        [60.9, 81.1, 92.6, 93.7, 96.3, 97.6], [54.2, 66.7, 84.5, 81.9, 94.1, 96.8],
        [63.7, 87.9, 73.4, 91.8, 96.4, 98.5], [66.1, 69.4, 84.2, 83.9, 91.2, 93.4],
        [74.8, 86.8, 87.7, 91.6, 94.7, 97.2], [78.3, 91.7, 94.1, 95.0, 94.0, 96.2],
        [80.4, 87.3, 85.2, 94.0, 96.4, 97.1], [68.3, 85.4, 87.8, 90.1, 92.6, 96.4],
        [75.6, 85.1, 82.0, 90.3, 93.1, 95.8], [61.0, 60.3, 82.7, 81.5, 89.4, 92.6],
        [64.3, 92.7, 93.4, 94.4, 98.0, 99.0], [66.3, 70.4, 75.8, 85.6, 89.7, 92.5],
        [72.0, 78.3, 80.3, 83.0, 92.1, 95.2], [75.9, 93.5, 97.5, 97.5, 97.7, 98.4],
        [67.4, 89.6, 94.4, 95.9, 94.7, 97.6], [65.8, 88.1, 92.4, 95.2, 92.7, 97.0]])},
    "mean": [67.0, 80.1, 86.5, 89.6, 94.1, 96.4],
}

# Table 9: CatsVsDogs per class.
TABLE9 = {
    "columns": _T7_COLUMNS,
    "rows": {"Cat": [49.2, 87.7, 91.7, 85.7, 99.2, 99.4], "Dog": [51.8, 84.2, 87.5, 86.9, 95.4, 99.2]},
    "mean": [50.5, 86.0, 89.6, 86.3, 97.3, 99.3],
}

# Which of our objectives corresponds to a column of the per-class tables.
PER_CLASS_TABLES = {"cifar10": TABLE7, "cifar100-coarse": TABLE8, "catsvsdogs": TABLE9}
OBJECTIVE_COLUMN = {"center": "PANDA", "msc": "MSC"}


def paper_value(dataset: str, normal_class: str, objective: str):
    """The paper's per-class ROC-AUC % for our objective, or None if it reports none."""
    table = PER_CLASS_TABLES.get(dataset)
    column = OBJECTIVE_COLUMN.get(objective)
    if table is None or column is None:
        return None
    rows = table["rows"]
    key = normal_class if normal_class in rows else (int(normal_class) if str(normal_class).isdigit() else None)
    if key is None and dataset == "cifar100-coarse":  # Table 8 is keyed by superclass index
        from ..data import CIFAR100_SUPERCLASSES

        names = list(CIFAR100_SUPERCLASSES)
        key = names.index(normal_class) if normal_class in names else None
    if key not in rows:
        return None
    return rows[key][table["columns"].index(column)]
