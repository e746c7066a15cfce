"""Issue 24's hostile-but-realistic inputs: nothing lost, no run that cannot learn filed as
a result, no traceback from a file the user or the cache can damage. Each test asserts
the exact outcome on small real files: the message names the problem and the fix, and
the file that must survive survives."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mscad.cli import main
from mscad.errors import MscadError

QUICK = ["--profile", "quick", "--quiet", "--epochs", "1", "--batch-size", "4"]
RESULTS = Path(__file__).resolve().parents[1] / "results"


def run_args(dataset, out, *extra, objective="msc"):
    return ["run", "--dataset", str(dataset), "--normal-class", "circle", "--objective", objective,
            *QUICK, "--out", str(out), *extra]


def error_line(capsys, rc, expected_rc=2):
    err = capsys.readouterr().err.strip()
    assert rc == expected_rc, err
    assert "Traceback" not in err, err
    return err.splitlines()[-1]


# ------------------------------------------------------------------ nothing lost
def test_out_cannot_be_its_own_checkpoint(folder_dataset, tmp_path, capsys):
    err = error_line(capsys, main(run_args(folder_dataset, tmp_path / "r.ckpt")))
    assert "would be its own checkpoint" in err and "r.json" in err
    assert not (tmp_path / "r.ckpt").exists()


def test_an_unfinished_runs_checkpoint_needs_resume_or_overwrite(folder_dataset, tmp_path, capsys):
    out = tmp_path / "a.json"
    assert main(run_args(folder_dataset, out, "--epochs", "2", "--keep-checkpoint")) == 0
    ckpt, before = tmp_path / "a.ckpt", (tmp_path / "a.ckpt").read_bytes()
    result_before = out.read_text()
    capsys.readouterr()
    err = error_line(capsys, main(run_args(folder_dataset, out, "--no-cache")))
    assert "the last good checkpoint (epoch 2)" in err and "--resume" in err and "--overwrite" in err
    assert ckpt.read_bytes() == before and out.read_text() == result_before  # both survive
    assert main(run_args(folder_dataset, out, "--no-cache", "--overwrite")) == 0
    captured = capsys.readouterr()
    assert "a.ckpt.replaced" in captured.err and (tmp_path / "a.ckpt.replaced").read_bytes() == before
    assert "a.json.replaced" in captured.err  # the 2-epoch result was another experiment's
    assert json.loads((tmp_path / "a.json.replaced").read_text())["config"]["epochs"] == 2
    assert json.loads(out.read_text())["config"]["epochs"] == 1


def test_out_refuses_pipes_and_files_that_are_not_results(folder_dataset, tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    err = error_line(capsys, main(run_args(folder_dataset, fifo)))
    assert "not a regular file" in err
    notes = tmp_path / "notes.json"
    notes.write_text("my notes, not a result")
    err = error_line(capsys, main(run_args(folder_dataset, notes, objective="dn2")))
    assert "is not an mscad result file" in err and "--overwrite" in err
    assert notes.read_text() == "my notes, not a result"
    assert main(run_args(folder_dataset, notes, "--overwrite", objective="dn2")) == 0
    assert (tmp_path / "notes.json.replaced").read_text() == "my notes, not a result"


def test_the_same_experiment_again_replaces_its_own_result(folder_dataset, tmp_path):
    out = tmp_path / "d.json"
    assert main(run_args(folder_dataset, out, objective="dn2")) == 0
    assert main(run_args(folder_dataset, out, objective="dn2")) == 0
    assert not list(tmp_path.glob("d.json.*"))


def test_a_damaged_cache_entry_is_a_miss(folder_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MSCAD_NO_CACHE")
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, objective="dn2")) == 0
    entry = next((tmp_path / "run-cache" / "runs").iterdir())
    for damage in ("{}", "random"):
        if damage == "{}":
            (entry / "result.json").write_text("{}")
        else:
            (entry / "model.pt").write_bytes(os.urandom(2000))
        assert main(run_args(folder_dataset, out, objective="dn2")) == 0  # --quiet: no {} written
        assert "damaged" in capsys.readouterr().err
        assert json.loads(out.read_text())["auroc"] > 0
        assert list((tmp_path / "run-cache" / "runs").glob("*.damaged*"))
        entry = next(p for p in (tmp_path / "run-cache" / "runs").iterdir() if "damaged" not in p.name)


def test_failing_to_store_in_the_cache_keeps_the_result(folder_dataset, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache should be: nothing can be stored under it")
    monkeypatch.setenv("MSCAD_CACHE", str(blocked))
    monkeypatch.delenv("MSCAD_NO_CACHE")
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, objective="dn2")) == 0
    assert "could not store this run in the run cache" in capsys.readouterr().err
    assert json.loads(out.read_text())["auroc"] > 0


def test_temporary_names_are_per_process(tmp_path):
    from mscad.results import write_result

    write_result(dict(auroc=0.5, config={}, history=[]), tmp_path / "x.json")
    assert not list(tmp_path.glob("*.tmp"))
    from mscad import results

    names = []
    real = results.atomic_write

    def spy(path, write, *args):
        names.append(path)
        return real(path, lambda tmp: (names.append(tmp), write(tmp)), *args)

    results.atomic_write = spy
    try:
        write_result(dict(auroc=0.5, config={}, history=[]), tmp_path / "x.json")
    finally:
        results.atomic_write = real
    assert str(os.getpid()) in names[1].name


def test_a_second_sweep_on_one_folder_is_refused_with_the_holder(folder_dataset, tmp_path, capsys):
    from mscad.sweep import sweep_lock

    out = tmp_path / "res"
    with sweep_lock(out):
        err = error_line(capsys, main(["sweep", "--dataset", str(folder_dataset), "--classes", "circle",
                                       "--objectives", "dn2", "--profile", "quick", "--quiet",
                                       "--out-dir", str(out)]))
    assert "another sweep is writing into" in err and f"pid {os.getpid()}" in err
    assert main(["sweep", "--dataset", str(folder_dataset), "--classes", "circle", "--objectives", "dn2",
                 "--profile", "quick", "--quiet", "--out-dir", str(out)]) == 0  # released


# ------------------------------------------------------------------ runs that cannot learn
@pytest.mark.parametrize("extra, message", [
    (["--batch-size", "1"], "needs --batch-size 2 or more"),
    (["--temperature", "inf"], "--temperature must be a finite number"),
    (["--momentum", "nan"], "--momentum must be a finite number"),
    (["--weight-decay", "nan"], "--weight-decay must be a finite number"),
    (["--weight-decay", "inf"], "--weight-decay must be a finite number"),
    (["--lr", "nan"], "--lr must be"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 4294967295"),
    (["--seed", "100000000000000000000000"], "--seed must be an integer from 0 to 4294967295"),
    (["--seed", "9223372036854775807"], "--seed must be an integer from 0 to 4294967295"),
    (["--early-stop", "0"], "--early-stop must be positive"),
    (["--train-limit", "-3"], "--train-limit must be 0 (all images) or a positive number"),
])
def test_degenerate_settings_are_refused_before_any_work(folder_dataset, tmp_path, capsys, extra, message):
    out = tmp_path / "r.json"
    err = error_line(capsys, main(run_args(folder_dataset, out, *extra)))
    assert message in err
    assert not out.exists() and not (tmp_path / "r.ckpt").exists()


def test_a_sweep_with_a_bad_seed_runs_nothing(folder_dataset, tmp_path, capsys):
    err = error_line(capsys, main(["sweep", "--dataset", str(folder_dataset), "--classes", "circle",
                                   "--objectives", "dn2", "--profile", "quick", "--quiet",
                                   "--seeds=-1,0", "--out-dir", str(tmp_path / "res")]))
    assert "--seed must be an integer from 0" in err and not list(tmp_path.rglob("*.json"))


def test_divergence_names_the_settings_that_cause_it():
    from mscad.config import TrainConfig
    from mscad.train import divergence_fix

    text = divergence_fix(TrainConfig(objective="msc", profile="quick", lr=10.0).resolved())
    assert "--lr 10" in text and "--momentum 0" in text and "--temperature 0.25" in text
    assert "--overwrite" in text  # the rerun it asks for would be refused without it


@pytest.mark.parametrize("profile", ["quick", "cpu", "gpu", "paper"])
def test_limit_zero_means_all_at_every_profile_and_resolving_twice_changes_nothing(profile):
    from mscad.config import TrainConfig

    once = TrainConfig(objective="msc", profile=profile, train_limit=0, test_limit=0,
                       device="cpu").resolved()
    assert (once.train_limit, once.test_limit) == (0, 0)
    assert once.resolved() == once
    assert once.resolved() is once  # the type says it is resolved: nothing to redo
    default = TrainConfig(objective="center", profile=profile, device="cpu").resolved()
    assert default.resolved() == default


def test_settings_are_frozen_and_resolving_gives_the_resolved_type():
    import dataclasses

    from mscad.config import ResolvedConfig, TrainConfig

    asked = TrainConfig(objective="msc", profile="quick", device="cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.lr = 1.0  # a setting changes with dataclasses.replace, never in place
    resolved = asked.resolved()
    assert isinstance(resolved, ResolvedConfig) and not isinstance(asked, ResolvedConfig)
    assert None not in (resolved.lr, resolved.epochs, resolved.batch_size, resolved.backbone)
    assert asked.lr is None  # the request is untouched
    shrunk = dataclasses.replace(resolved, batch_size=6)
    assert isinstance(shrunk, ResolvedConfig) and shrunk.batch_size == 6


def test_train_limit_zero_trains_on_every_image(tmp_path):
    from conftest import make_folder_dataset

    data = make_folder_dataset(tmp_path / "big", n_train=80, n_test=2, size=16)
    out = tmp_path / "r.json"
    assert main(["run", "--dataset", str(data), "--normal-class", "circle", "--objective", "dn2",
                 "--profile", "quick", "--quiet", "--train-limit", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["data"]["n_train"] == 80 and result["config"]["train_limit"] == 0


def test_resume_refuses_changed_images(folder_dataset, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, "--epochs", "2", "--keep-checkpoint")) == 0
    before = (tmp_path / "r.ckpt").read_bytes()
    img = folder_dataset / "train" / "circle" / "0.jpg"
    Image.fromarray(np.full((24, 24, 3), 7, dtype=np.uint8)).save(img)
    from mscad import images
    images._DECODED.clear()
    capsys.readouterr()
    err = error_line(capsys, main(run_args(folder_dataset, out, "--epochs", "3", "--resume")))
    assert "the train or test images changed" in err and "--overwrite" in err
    assert (tmp_path / "r.ckpt").read_bytes() == before
    assert main(run_args(folder_dataset, out, "--epochs", "3", "--resume", "--overwrite")) == 0
    assert (tmp_path / "r.ckpt.replaced").exists()


def test_every_committed_result_is_strict_json():
    files = [p for p in RESULTS.rglob("*.json")]
    assert len(files) > 500
    from mscad.results import read_result

    runs = 0
    for path in files:
        data = json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path}: {c}"))
        if isinstance(data, dict) and "auroc" in data:  # a run's RESULT.json (not a benchmark's)
            read_result(path)  # the reader the sweep and the book use refuses NaN/Infinity too
            runs += 1
    assert runs > 500


def test_a_result_with_nan_is_never_written(tmp_path):
    from mscad.results import write_result

    with pytest.raises(MscadError, match="NaN or an infinite number"):
        write_result(dict(auroc=float("nan"), config={}, history=[]), tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------ the detector's pixels
def fitted(images):
    from mscad.detector import MSCDetector

    return MSCDetector(objective="dn2", profile="quick", image_size=24).fit(images)


@pytest.fixture
def normal_images(folder_dataset):
    from mscad.images import as_images

    return as_images(folder_dataset / "train" / "circle", 24).numpy()


@pytest.mark.parametrize("make, message", [
    (lambda a: [x.astype(np.float32) for x in a], "float pixels from"),  # 0..255 as float
    (lambda a: [x / 127.5 - 1 for x in a], "it looks normalised"),     # [-1, 1]
    (lambda a: [np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x / 255) for x in a],
     "NaN or infinite"),
    (lambda a: [np.full(a[0].shape, np.inf)] + [x / 255 for x in a[1:]], "NaN or infinite"),
    (lambda a: [np.full(a[0].shape, np.nan) for _ in a], "NaN or infinite"),
    (lambda a: a.astype(np.float64), "float pixels from"),                # 4-D, 0..255
])
def test_detector_refuses_pixels_it_would_damage(normal_images, make, message):
    with pytest.raises(MscadError, match=message):
        fitted(make(normal_images))


def test_float_pixels_in_range_equal_uint8(normal_images):
    det = fitted(normal_images)
    as_float = [x / 255.0 for x in normal_images[:3]]
    np.testing.assert_allclose(det.decision_function(as_float), det.decision_function(normal_images[:3]))
    np.testing.assert_allclose(det.decision_function(torch.from_numpy(normal_images[:3] / 255.0)),
                               det.decision_function(normal_images[:3]))


def test_float_pil_images_follow_the_same_rule(tmp_path):
    from mscad.images import as_images

    ok = Image.fromarray(np.full((16, 16), 0.5, dtype=np.float32), "F")
    assert as_images([ok], 16)[0, 0, 0].tolist() == [128, 128, 128]
    bad = Image.fromarray(np.full((16, 16), 200.0, dtype=np.float32), "F")
    with pytest.raises(MscadError, match="float pixels from 200"):
        as_images([bad], 16)


def test_copies_of_one_image_are_never_flagged_by_float_noise(normal_images):
    copies = np.repeat(normal_images[:1], 6, axis=0)
    det = fitted(copies)
    assert det.predict(copies).tolist() == [0] * 6 and det.labels_.tolist() == [0] * 6
    assert det.predict(normal_images[1:3]).tolist() == [1, 1]  # other images still are


def test_a_decompression_bomb_is_named(folder_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # a 2000-pixel PNG is then a bomb
    bomb = folder_dataset / "train" / "circle" / "huge.png"
    Image.fromarray(np.zeros((50, 60, 3), dtype=np.uint8)).save(bomb)
    from mscad import images
    images._DECODED.clear()
    err = error_line(capsys, main(run_args(folder_dataset, tmp_path / "r.json", objective="dn2")))
    assert "huge.png is too large to open safely" in err and "MAX_IMAGE_PIXELS" in err
    with pytest.raises(MscadError, match="huge.png is too large"):
        fitted(folder_dataset / "train" / "circle")


# ------------------------------------------------------------------ files the user can damage
def test_table_skips_and_names_a_result_with_an_incomplete_config(tmp_path, capsys):
    good = dict(auroc=0.7, history=[dict(epoch=0, auroc=0.7)], target_class="cat",
                config=dict(dataset="cifar10", backbone="efficientnet_lite0", objective="dn2",
                            profile="cpu", normal_class="cat", epochs=0, image_size=64, seed=0))
    (tmp_path / "cat.json").write_text(json.dumps(good))
    (tmp_path / "dog.json").write_text(json.dumps(dict(auroc=0.6, history=[], config={})))
    with pytest.warns(UserWarning, match="dog.json is an incomplete result"):
        assert main(["table", str(tmp_path)]) == 0
    assert "70.0" in capsys.readouterr().out


def test_damaged_detector_files_are_one_sentence(normal_images, tmp_path):
    from mscad.detector import MSCDetector

    det = fitted(normal_images)
    path = det.save(tmp_path / "d.pt")
    state = torch.load(path, weights_only=True)
    damaged = {"missing key": {k: v for k, v in state.items() if k != "fitted"},
               "no gallery": {**state, "fitted": {k: v for k, v in state["fitted"].items()
                                                  if k != "gallery"}},
               "other backbone": {**state, "config": json.dumps(
                   {**json.loads(state["config"]), "backbone": "resnet18"})},
               "not a dict": [1, 2, 3]}
    for name, payload in damaged.items():
        torch.save(payload, tmp_path / "bad.pt")
        with pytest.raises(MscadError, match="is not an mscad detector file, or a damaged one") as e:
            MSCDetector.load(tmp_path / "bad.pt")
        assert "weights_only=False" not in str(e.value), name
    assert MSCDetector.load(path).threshold_ == det.threshold_


def test_the_detector_is_a_scikit_learn_estimator(normal_images):
    from sklearn.base import clone

    from mscad.detector import MSCDetector

    det = MSCDetector(objective="dn2", profile="quick", image_size=24, contamination=0.2)
    assert clone(det).get_params() == det.get_params()
    assert det.set_params(k=3).k == 3 and det.get_params()["contamination"] == 0.2
    det.fit(normal_images)
    scores = det.decision_scores_
    assert det.threshold_ == pytest.approx(np.percentile(scores, 80))
    assert det.labels_.tolist() == (scores > det.threshold_ + 1e-5).astype(int).tolist()
    np.testing.assert_array_equal(det.score_samples(normal_images), det.decision_function(normal_images))
    with pytest.raises(MscadError, match="unknown scorer 'lof'"):
        MSCDetector(scorer="lof", profile="quick").fit(normal_images)
    with pytest.raises(MscadError, match=r"contamination must be in \(0, 0.5\]"):
        MSCDetector(contamination=0.9, profile="quick").fit(normal_images)


def test_rerunning_an_experiment_whose_batch_shrank_is_not_refused(folder_dataset, tmp_path, capsys):
    """The quick profile's batch of 32 shrinks to the 6 train images; the stored result
    records 6, and running the same command again is the same experiment."""
    out = tmp_path / "r.json"
    args = ["run", "--dataset", str(folder_dataset), "--normal-class", "circle", "--objective", "msc",
            "--profile", "quick", "--quiet", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["config"]["batch_size"] == 6 and result["data"]["batch_size_requested"] == 32
    assert main(args) == 0, capsys.readouterr().err
    assert not list(tmp_path.glob("r.json.*"))


def test_resume_names_the_setting_before_blaming_the_images(folder_dataset, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, "--epochs", "2", "--keep-checkpoint")) == 0
    capsys.readouterr()
    err = error_line(capsys, main(run_args(folder_dataset, out, "--epochs", "3", "--resume",
                                           "--test-limit", "5")))
    assert "test_limit" in err and "images changed" not in err


def test_detector_load_blames_the_device_not_the_file(normal_images, tmp_path):
    import torch as torch_

    from mscad.detector import MSCDetector

    if torch_.cuda.is_available():
        pytest.skip("a GPU is visible")
    path = fitted(normal_images).save(tmp_path / "d.pt")
    with pytest.raises(MscadError, match="no CUDA GPU is visible") as e:
        MSCDetector.load(path, device="cuda")
    assert "damaged" not in str(e.value)


def test_kmeans_scorer_refuses_early_and_clusters_once(normal_images):
    from mscad.detector import MSCDetector

    with pytest.raises(MscadError, match="needs at least n_clusters=10"):
        MSCDetector(objective="msc", profile="quick", scorer="kmeans").fit(normal_images[:5])
    det = MSCDetector(objective="dn2", profile="quick", image_size=24, scorer="kmeans")
    det.fit(np.concatenate([normal_images] * 2))
    np.testing.assert_array_equal(det.decision_function(normal_images),
                                  det.decision_function(normal_images))


def test_numpy_scalar_parameters_work_like_numbers(normal_images, tmp_path):
    from mscad.detector import MSCDetector

    det = MSCDetector(objective="dn2", profile="quick", image_size=np.int64(24), k=np.int64(2),
                      temperature=np.float32(0.25)).fit(normal_images)
    assert det.config_.k == 2 and isinstance(det.config_.k, int)
    det.save(tmp_path / "d.pt")
