"""Compiled forward passes (mscad.compiled) give the eager model's numbers.

Each compile costs 20-60 s on 2 cores, so the tests share one compiled model and use
small real images (CIFAR-10 JPEG copy, 32 px)."""
import numpy as np
import pytest
import torch

from mscad.compiled import StaticCompiled, should_compile
from mscad.config import TrainConfig
from mscad.data import one_class_data
from mscad.errors import MscadError
from mscad.metrics import roc_auc
from mscad.model import FeatureModel, FrozenActivations, extract_features
from mscad.scoring import knn_scores
from mscad.train import fine_tune

SIZE, BATCH = 32, 64
# inductor needs a C++ compiler on the CPU; without one the model falls back to eager
# (the numbers must agree either way), and the tests check the fallback was said
HAS_COMPILER = any(__import__("shutil").which(c) for c in ("g++", "c++", "clang++"))


@pytest.fixture(scope="module")
def cifar(request):
    import os
    from pathlib import Path

    root = Path(os.environ.get("MSCAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if not (root / "cifar10" / "train").is_dir():
        pytest.skip(f"CIFAR-10 copy not found in {root}")
    mp = pytest.MonkeyPatch()
    mp.setenv("MSCAD_DATA", str(root))
    request.addfinalizer(mp.undo)
    # 100 and 250 images: neither is a multiple of the batch, so padding is exercised
    return one_class_data("cifar10", "airplane", image_size=SIZE, train_limit=100, test_limit=250)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import os

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
    eager = FeatureModel("efficientnet_lite0").eval()
    compiled = FeatureModel("efficientnet_lite0").eval().compile_for(BATCH)
    return eager, compiled


def test_compiled_features_and_auroc_match_eager(cifar, models):
    eager, compiled = models
    feats = {}
    for name, model in (("eager", eager), ("compiled", compiled)):
        train = extract_features(model, cifar.train, SIZE, batch_size=BATCH)
        test = extract_features(model, cifar.test, SIZE, batch_size=BATCH)
        feats[name] = (train, test, roc_auc(cifar.test_labels, knn_scores(train, test, k=2)))
    if HAS_COMPILER:
        assert compiled.compile_status() == "compiled" and compiled._forward.calls > 0
    else:
        assert compiled.compile_status().startswith("fell back to eager")
    for e, c in zip(feats["eager"][:2], feats["compiled"][:2]):
        assert e.shape == c.shape  # the padded rows are dropped
        np.testing.assert_allclose(c, e, atol=1e-4)  # unit vectors: 1e-4 of their length
    assert abs(feats["eager"][2] - feats["compiled"][2]) < 1e-4


def test_compiled_trainable_layers_match_eager(cifar, models):
    eager, compiled = models
    frozen = FrozenActivations.build(eager, cifar.test, SIZE)
    e = extract_features(eager, cifar.test, SIZE, batch_size=BATCH, frozen=frozen)
    c = extract_features(compiled, cifar.test, SIZE, batch_size=BATCH, frozen=frozen)
    assert compiled._suffix.calls > 0 or not HAS_COMPILER
    np.testing.assert_allclose(c, e, atol=1e-4)


def test_other_batch_sizes_run_eagerly(cifar, models):
    _, compiled = models
    calls = compiled._forward.calls
    with torch.inference_mode():
        compiled.raw(torch.rand(3, 3, SIZE, SIZE))  # not a compiled size: no recompile
    assert compiled._forward.calls == calls
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    with torch.enable_grad():  # the evaluation's size, but with gradients: the training step
        compiled.raw(x)
    assert compiled._forward.calls == calls  # stays eager: no training graph is compiled


def test_a_failed_compile_falls_back_to_eager_and_says_why(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(torch, "compile", broken)
    part = StaticCompiled(lambda x: x * 2, "forward")
    part.batch_sizes.add(4)
    with torch.no_grad():  # an evaluation batch
        out = part(torch.ones(4, 3))
        assert torch.equal(out, torch.full((4, 3), 2.0))  # the eager result
        assert "no C++ compiler" in part.status and "running eagerly" in capsys.readouterr().err
        part(torch.ones(4, 3))
    assert capsys.readouterr().err == ""  # said once


def test_the_switch(monkeypatch):
    monkeypatch.delenv("MSCAD_COMPILE", raising=False)
    assert should_compile("cpu", "cpu", 224)[0] and should_compile("cpu", "paper", 224)[0]
    assert not should_compile("cpu", "cpu", 64)[0]  # measured no faster at 64 px
    assert not should_compile("cpu", "quick", 224)[0]  # too short to repay a compile
    assert not should_compile("cuda", "gpu", 128)[0]  # not verified on a GPU yet
    monkeypatch.setenv("MSCAD_COMPILE", "on")
    assert should_compile("cpu", "quick", 32)[0] and should_compile("cuda", "gpu", 128)[0]
    monkeypatch.setenv("MSCAD_COMPILE", "off")
    assert not should_compile("cpu", "cpu", 224)[0]
    monkeypatch.setenv("MSCAD_COMPILE", "fast")
    with pytest.raises(MscadError, match="MSCAD_COMPILE must be one of auto, on, off"):
        should_compile("cpu", "cpu")


def test_a_compiled_run_matches_an_eager_run(cifar, monkeypatch, tmp_path):
    """One epoch of MSC training with the evaluation compiled and eagerly: the same
    ROC-AUC curve within 1e-4 (the evaluation and its padding; the training step stays
    eager even where its batch has the evaluation's size, here 2 x 32 views)."""
    cfg = TrainConfig(dataset="cifar10", normal_class="airplane", objective="msc", profile="quick",
                      image_size=SIZE, batch_size=32, epochs=1, train_limit=100, test_limit=250,
                      device="cpu")
    runs = {}
    for mode in ("off", "on"):
        monkeypatch.setenv("MSCAD_COMPILE", mode)
        runs[mode] = fine_tune(cfg, progress=False, data=cifar, cache=False)
    curves = {m: [h["auroc"] for h in r.result.history] for m, r in runs.items()}
    np.testing.assert_allclose(curves["on"], curves["off"], atol=1e-4)
    assert runs["on"].result.environment["compile"].endswith("compiled") or not HAS_COMPILER
    assert runs["off"].result.environment["compile"].startswith("off")
