"""The GPU path, exercised on the CPU: profiles, precision by capability, fp16 with a
gradient scaler, and the paper profile's code path."""
import json
import shutil

import numpy as np
import pytest
import torch

from mscad.config import TrainConfig, default_profile, resolve_precision
from mscad.errors import MscadError


def test_paper_profile_is_the_papers_setup(monkeypatch):
    monkeypatch.setenv("MSCAD_PROFILE", "paper")
    msc = TrainConfig(objective="msc").resolved()
    assert (msc.profile, msc.backbone, msc.image_size, msc.batch_size) == ("paper", "resnet152", 224, 64)
    assert (msc.lr, msc.momentum, msc.weight_decay, msc.temperature) == (1e-5, 0.0, 5e-5, 0.25)
    assert (msc.epochs, msc.train_limit, msc.test_limit, msc.k) == (20, 0, 0, 2)  # 0 = all
    panda = TrainConfig(objective="center").resolved()
    assert (panda.lr, panda.momentum) == (1e-2, 0.9)  # PANDA's own optimiser
    assert TrainConfig(objective="msc", backbone="resnet18").resolved().backbone == "resnet18"


def test_the_lesson_profile_is_the_default_with_a_gpu(monkeypatch):
    monkeypatch.delenv("MSCAD_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_profile() == "gpu"
    gpu = TrainConfig(objective="msc", profile="gpu", device="cpu").resolved()
    assert gpu.backbone == "efficientnet_lite0" and gpu.image_size > 64 and gpu.train_limit > 1000
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_profile() == "cpu"


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_precision_by_capability(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: capability)
    assert resolve_precision(None, "cuda") == expected  # T4 (7.5): fp16 + scaler; A100/H100: bf16
    assert resolve_precision(None, "cpu") == "fp32"
    assert resolve_precision("fp16", "cpu") == "fp16"  # asked for: kept
    with pytest.raises(MscadError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", "cpu")


def test_fp16_training_with_a_gradient_scaler_on_cpu(folder_dataset, tmp_path):
    """The T4 path (fp16 autocast + GradScaler) runs in CI on the CPU."""
    from mscad.train import fine_tune

    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc", profile="quick",
                      image_size=32, batch_size=3, epochs=2, device="cpu", precision="fp16")
    ckpt = tmp_path / "fp16.ckpt"
    run = fine_tune(cfg, checkpoint=ckpt, progress=False)
    assert run.result["config"]["precision"] == "fp16"
    assert all(np.isfinite(h["loss"]) for h in run.history[1:]) and 0 <= run.auroc <= 1
    state = torch.load(ckpt, weights_only=True)
    assert state["scaler"]["scale"] > 0  # the scaler's state is kept for a resume
    fp32 = fine_tune(TrainConfig(**{**cfg.__dict__, "precision": None}), progress=False)
    assert fp32.result["config"]["precision"] == "fp32"


def test_paper_profile_smoke_on_cpu(folder_dataset, tmp_path):
    """The paper profile's code path (224 px, lr 1e-5, no momentum) for one epoch on a
    handful of images, with the offline backbone instead of ResNet152's download."""
    from mscad.cli import main

    out = tmp_path / "paper.json"
    assert main(["run", "--dataset", str(folder_dataset), "--normal-class", "square", "--profile", "paper",
                 "--backbone", "efficientnet_lite0", "--epochs", "1", "--batch-size", "4", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    c = r["config"]
    assert (c["profile"], c["image_size"], c["lr"], c["momentum"], c["epochs"]) == ("paper", 224, 1e-5, 0.0, 1)
    assert c["train_limit"] == 0 and r["data"]["n_train"] == 6  # 0 = all and 0 <= r["auroc"] <= 1
    assert r["history"][1]["seconds"] > 0


def test_gpu_check_runs_end_to_end_on_the_cpu(shared_data, tmp_path, monkeypatch):
    """benchmarks/gpu_check.py falls back to the CPU at a small size and writes its JSON."""
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"

    def load(name):
        spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    subset = tmp_path / "subset.npz"
    monkeypatch.setattr(sys, "argv", ["make_cifar_subset.py", "--train", "80", "--test", "300",
                                      "--out", str(subset)])
    load("make_cifar_subset").main()
    out = tmp_path / "gpu.json"
    # step 4 on one short edition; a zero budget leaves the next one unstarted, and says so
    report = load("gpu_check").main(["--data", str(subset), "--out", str(out), "--editions",
                                     "06_benchmarks,08_closing", "--edition-budget", "0",
                                     "--edition-profile", "quick"])
    saved = json.loads(out.read_text())
    assert saved["device"].startswith("cpu") and saved["precision"] == "fp32"
    assert saved["training_images_per_s"]["bare"] > 0 and saved["features_images_per_s"]["pipeline"] > 0
    if shutil.which("g++") or shutil.which("c++"):  # inductor's CPU backend needs one
        assert saved["features_images_per_s"]["compiled status"] == "compiled"
    assert saved["features_images_per_s"]["compiled max |difference|"] < 1e-3  # fp32 on the CPU
    assert [h["epoch"] for h in saved["msc_run"]["history"]] == [0, 1]
    assert report["msc_run"]["auroc"] == saved["msc_run"]["auroc"]
    ran, skipped = saved["editions"]
    assert ran["chapter"] == "06_benchmarks.ipynb" and ran["ran"] and ran["seconds"] > 0
    assert ran["prose_problems"] == [] and ran["prose_references"] > 0
    assert skipped == dict(chapter="08_closing.ipynb", ran=False, why="budget of 0 s spent")
