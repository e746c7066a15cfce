import json
import subprocess
import sys

import pytest

from mscad.cli import main
from mscad.detector import MSCDetector
from mscad.errors import MscadError


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mscad", *args], capture_output=True, text=True, env=env)


def test_run_writes_the_result_contract(folder_dataset, tmp_path, capsys):
    out = tmp_path / "r" / "result.json"
    rc = main(["run", "--dataset", str(folder_dataset), "--normal-class", "noise", "--objective", "msc",
               "--profile", "quick", "--epochs", "1", "--batch-size", "8", "--quiet", "--out", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert 0 <= r["auroc"] <= 1 and r["history"][0]["epoch"] == 0 and r["history"][0]["loss"] is None
    assert r["config"]["objective"] == "msc" and r["config"]["epochs"] == 1
    assert not out.with_suffix(".ckpt").exists()
    assert "ROC-AUC" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--objective", "svdd"], "unknown objective"),
    (["--profile", "fast"], "unknown profile"),
    (["--epochs", "-1"], "epochs must be positive"),
    (["--normal-class", "hexagon"], "classes are: circle"),
    (["--out", "/proc/nope/r.json"], "cannot write /proc/nope/r.json"),
])
def test_bad_input_is_one_sentence_and_exit_2(folder_dataset, tmp_path, args, message):
    base = ["run", "--dataset", str(folder_dataset), "--normal-class", "circle", "--quiet",
            "--out", str(tmp_path / "r.json")]
    p = run_cli(*base, *args)
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_sweep_skips_finished_runs_and_table_reads_them(folder_dataset, tmp_path, capsys):
    out = tmp_path / "results"
    args = ["sweep", "--dataset", str(folder_dataset), "--classes", "circle,square", "--objectives",
            "dn2,msc", "--profile", "quick", "--epochs", "1", "--batch-size", "8", "--quiet", "--out-dir", str(out)]
    assert main(args) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert files == ["efficientnet_lite0/dn2/circle.json", "efficientnet_lite0/dn2/square.json",
                     "efficientnet_lite0/msc/circle.json", "efficientnet_lite0/msc/square.json"]
    assert main(args) == 0
    assert "4 were already there with the same settings" in capsys.readouterr().out
    assert main(["table", str(out)]) == 0
    table = capsys.readouterr().out
    assert "dn2 (ours)" in table and "msc (ours)" in table and "circle" in table and "mean" in table


def test_detector_on_a_folder_and_arrays(folder_dataset):
    import numpy as np

    det = MSCDetector(objective="dn2", profile="quick", image_size=24).fit(folder_dataset / "train" / "circle")
    normal = det.score_samples(folder_dataset / "test" / "circle")
    anomalous = det.score_samples(folder_dataset / "test" / "noise")
    assert normal.max() < anomalous.min()
    assert det.predict(folder_dataset / "test" / "noise").tolist() == [1, 1, 1, 1]
    arr = np.zeros((3, 30, 40, 3), dtype=np.uint8)
    assert det.score_samples(arr).shape == (3,)
    with pytest.raises(MscadError, match="uint8"):
        det.score_samples(np.zeros((3, 30, 40), dtype=np.float32))
    with pytest.raises(MscadError, match="not fitted"):
        MSCDetector(objective="dn2", profile="quick").score_samples(arr)


def test_detector_accepts_pil_lists_and_datasets(folder_dataset):
    import numpy as np
    import torch
    from PIL import Image

    from mscad.detector import as_images

    pil = [Image.fromarray(np.full((20, 30, 3), i * 40, dtype=np.uint8)) for i in range(3)]
    x = as_images(pil, 16)
    assert x.shape == (3, 16, 16, 3) and x.dtype == torch.uint8 and x[2, 0, 0, 0] == 80

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.full((3, 8, 8), 0.5), 0  # (image tensor in [0, 1], label)

    y = as_images(Pairs(), 16)
    assert y.shape == (2, 8, 8, 3) and int(y[0, 0, 0, 0]) == 128
    with pytest.raises(MscadError, match="cannot read images from a int"):
        as_images(5, 16)


def test_multi_class_run_and_conflicting_class_flags(folder_dataset, tmp_path, capsys):
    out = tmp_path / "multi.json"
    base = ["run", "--dataset", str(folder_dataset), "--objective", "dn2", "--profile", "quick",
            "--quiet", "--out", str(out)]
    assert main(base + ["--anomalous-class", "noise"]) == 0
    r = json.loads(out.read_text())
    assert r["config"]["anomalous_class"] == "noise" and "multi-class" in r["data"]["summary"]
    assert r["data"]["n_train"] == 12  # circles and squares, noise left out
    assert main(base + ["--anomalous-class", "noise", "--normal-class", "circle"]) == 2
    assert "not both" in capsys.readouterr().err


def test_ray_launcher_without_ray_is_one_sentence(folder_dataset, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    rc = main(["sweep", "--dataset", str(folder_dataset), "--classes", "circle", "--objectives", "dn2",
               "--profile", "quick", "--quiet", "--launcher", "ray", "--out-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "pip install 'mscad[ray]'" in err and len(err.splitlines()) == 1


def test_verify_reruns_a_result_and_compares_it(folder_dataset, tmp_path, capsys):
    """`mscad verify` reruns a result file's settings: a genuine file is reproduced
    (exit 0), a file whose numbers were changed is not (exit 1, the epoch named)."""
    out = tmp_path / "result.json"
    assert main(["run", "--dataset", str(folder_dataset), "--normal-class", "noise", "--objective", "msc",
                 "--profile", "quick", "--epochs", "1", "--batch-size", "8", "--quiet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--quiet", "--tolerance", "0.01"]) == 0
    text = capsys.readouterr().out
    assert "reproduced: largest difference 0.000 points over 2 evaluated epoch(s)" in text
    edited = json.loads(out.read_text())
    edited["history"][1]["auroc"] -= 0.05  # five points off at epoch 1
    out.write_text(json.dumps(edited))
    with pytest.raises(SystemExit) as stop:
        main(["verify", str(out), "--quiet"])
    assert stop.value.code == 1
    assert "NOT reproduced: largest difference 5.000 points" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("flag, value, message", [
    ("--classes", "", "--classes lists no class"),
    ("--classes", " , ", "--classes lists no class"),
    ("--objectives", "", "--objectives lists no objective"),
])
def test_an_empty_list_in_a_sweep_is_refused(folder_dataset, tmp_path, capsys, flag, value, message):
    rc = main(["sweep", "--dataset", str(folder_dataset), "--profile", "quick", flag, value,
               "--out-dir", str(tmp_path / "sweep"), "--quiet"])
    assert rc == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists() or not any((tmp_path / "sweep").rglob("*.json"))
