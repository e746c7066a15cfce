"""Bad input gets one sentence or a correct result; nothing is silently wrong or lost.

Each test makes its own small bad files (real images, real checkpoints and results)."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mscad.cli import main
from mscad.errors import MscadError

QUICK = ["--profile", "quick", "--quiet", "--epochs", "1", "--batch-size", "4"]


def run_args(dataset, out, *extra):
    return ["run", "--dataset", str(dataset), "--normal-class", "circle", *QUICK, "--out", str(out), *extra]


def one_line_error(capsys, rc, expected_rc=2):
    err = capsys.readouterr().err.strip()
    assert rc == expected_rc, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# ------------------------------------------------------------------ images
def test_one_small_image_does_not_shrink_the_others(folder_dataset):
    from mscad.images import decode_images

    folder = folder_dataset / "train" / "circle"
    Image.fromarray(np.full((20, 500, 3), 200, dtype=np.uint8)).save(folder / "wide.png")
    files = sorted(folder.iterdir())
    with pytest.warns(UserWarning, match="wide.png"):
        x = decode_images(files, 64)
    assert x.shape[1:] == (64, 64, 3)  # brought to the model's size, not down to 20 px
    alone = decode_images([folder / "0.jpg"], 64)  # a 24-px image decoded on its own
    expected = np.asarray(Image.fromarray(alone[0].numpy()).resize((64, 64), Image.BILINEAR))
    np.testing.assert_array_equal(x[[f.name for f in files].index("0.jpg")].numpy(), expected)


def test_a_tiny_image_is_named(folder_dataset):
    from mscad.images import decode_images

    bad = folder_dataset / "train" / "circle" / "dot.png"
    Image.fromarray(np.zeros((1, 1, 3), dtype=np.uint8)).save(bad)
    with pytest.raises(MscadError, match=r"dot.png is 1x1 px, smaller than 8 px"):
        decode_images([bad], 32)


def test_detector_mixed_sizes_keep_each_image(folder_dataset):
    from mscad.images import as_images

    big = Image.fromarray(np.full((32, 32, 3), 10, dtype=np.uint8))
    wide = Image.fromarray(np.full((20, 500, 3), 250, dtype=np.uint8))
    with pytest.warns(UserWarning):
        x = as_images([big, wide], 32)
    assert x.shape == (2, 32, 32, 3) and int(x[0, 0, 0, 0]) == 10 and int(x[1, 5, 5, 0]) == 250


def test_sixteen_bit_grayscale_is_scaled_not_binarised(tmp_path):
    from mscad.images import decode_images

    ramp = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (32, 1))
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # a real 16-bit file
    x = decode_images([path], 32)[0, :, :, 0].numpy().astype(int)
    np.testing.assert_allclose(x[0], np.round(ramp[0] / 257), atol=1)
    assert len(np.unique(x)) > 20  # a ramp, not 0/255


def test_hidden_files_and_nested_folders(folder_dataset):
    from mscad.images import list_images

    folder = folder_dataset / "train" / "circle"
    (folder / "._0.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (folder / "more").mkdir()
    Image.fromarray(np.zeros((24, 24, 3), dtype=np.uint8)).save(folder / "more" / "x.png")
    with pytest.warns(UserWarning, match="1 images in sub-folders; they are not read"):
        files = list_images(folder)
    assert all(not f.name.startswith(".") and f.parent == folder for f in files) and len(files) == 6


def test_detector_inputs(folder_dataset, tmp_path):
    from mscad.detector import MSCDetector

    det = MSCDetector(objective="dn2", profile="quick", image_size=24).fit(folder_dataset / "train" / "circle")
    one = det.score_samples(folder_dataset / "test" / "noise" / "1.jpg")  # a single image file
    assert one.shape == (1,)
    arrays = [np.full((24, 24, 3), 30 * i, dtype=np.uint8) for i in range(3)]
    tensors = [torch.from_numpy(a) for a in arrays]  # HWC uint8 tensors
    np.testing.assert_allclose(det.score_samples(arrays), det.score_samples(tensors))
    with pytest.warns(UserWarning), pytest.raises(MscadError, match=r"no images .*\(12 in sub-folders"):
        det.score_samples(folder_dataset / "test")
    with pytest.raises(MscadError, match="does not exist; give a folder of images or an image file"):
        det.score_samples(tmp_path / "nothing.jpg")
    with pytest.raises(MscadError, match=r"item 1 has shape \(24,\)"):
        det.score_samples([arrays[0], np.zeros(24)])


def test_detector_save_and_load_give_the_same_scores(folder_dataset, tmp_path):
    from mscad.detector import MSCDetector

    det = MSCDetector(objective="msc", profile="quick", image_size=24, epochs=1, batch_size=4)
    det.fit(folder_dataset / "train" / "circle")
    before = det.score_samples(folder_dataset / "test" / "square")
    det.save(tmp_path / "det.pt")
    loaded = MSCDetector.load(tmp_path / "det.pt")
    after = loaded.score_samples(folder_dataset / "test" / "square")
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    assert loaded.threshold_ == det.threshold_ and loaded.config.objective == "msc"
    (tmp_path / "junk.pt").write_bytes(b"not a detector")
    with pytest.raises(MscadError, match="junk.pt is not an mscad detector file"):
        MSCDetector.load(tmp_path / "junk.pt")


# ------------------------------------------------------------------ run
@pytest.mark.parametrize("extra, message", [
    (["--image-size", "2"], "image-size must be between 16 and 1024 pixels, got 2"),
    (["--image-size", "5000"], "image-size must be between 16 and 1024 pixels, got 5000"),
    (["--k", "100"], "k=100 is larger than the 6 normal train images"),
    (["--train-limit", "1", "--k", "1"], "at least 2 normal train images, got 1; raise --train-limit"),
])
def test_run_refuses_settings_the_data_cannot_take(folder_dataset, tmp_path, capsys, extra, message):
    err = one_line_error(capsys, main(run_args(folder_dataset, tmp_path / "r.json", *extra)))
    assert message in err


def test_batch_larger_than_the_train_set_is_recorded(folder_dataset, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, "--batch-size", "1000")) == 0
    assert "using batch-size 6" in capsys.readouterr().err
    assert json.loads(out.read_text())["config"]["batch_size"] == 6


def test_out_is_a_directory(folder_dataset, tmp_path, capsys):
    started = time.time()
    err = one_line_error(capsys, main(run_args(folder_dataset, tmp_path)))
    assert "is a directory; give --out a file name" in err and time.time() - started < 20


def test_no_class_given(folder_dataset, tmp_path, capsys):
    args = ["run", "--dataset", str(folder_dataset), *QUICK, "--out", str(tmp_path / "r.json")]
    err = one_line_error(capsys, main(args))
    assert "give the normal class with --normal-class" in err and "not both" not in err


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, "truncated"])
def test_unreadable_checkpoint_is_named(folder_dataset, tmp_path, capsys, content):
    out = tmp_path / "r.json"
    ckpt = tmp_path / "r.ckpt"
    if content == "truncated":
        assert main(run_args(folder_dataset, out, "--keep-checkpoint")) == 0
        ckpt.write_bytes(ckpt.read_bytes()[:5000])
    else:
        ckpt.write_bytes(content)
    err = one_line_error(capsys, main(run_args(folder_dataset, out, "--resume")))
    assert f"cannot read the checkpoint {ckpt}" in err


def test_checkpoint_with_code_is_not_run(folder_dataset, tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil(), "epoch": 1}, tmp_path / "r.ckpt")
    err = one_line_error(capsys, main(run_args(folder_dataset, tmp_path / "r.json", "--resume")))
    assert "cannot read the checkpoint" in err and "pwned" not in capsys.readouterr().out


def test_resume_with_fewer_epochs_is_refused(folder_dataset, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out, "--keep-checkpoint", "--epochs", "2")) == 0
    err = one_line_error(capsys, main(run_args(folder_dataset, out, "--resume", "--epochs", "1")))
    assert "has already trained 2 epochs, more than the 1 asked for" in err


def test_ctrl_c_gives_one_line(folder_dataset, tmp_path):
    for delay in (0.3, 6.0):  # during the imports, then during the first epoch
        args = ["run", "--dataset", str(folder_dataset), "--normal-class", "circle", "--profile", "quick",
                "--quiet", "--epochs", "500", "--batch-size", "2", "--out", str(tmp_path / "r.json")]
        p = subprocess.Popen([sys.executable, "-m", "mscad", *args],
                             stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        lines = [line for line in err.strip().splitlines() if "%" not in line]
        assert p.returncode == 130 and "Traceback" not in err and len(lines) == 1, err
        if "last good checkpoint" in err:  # the file it names exists
            path = err.split(" is ")[1].split(":")[0]
            assert (tmp_path / "r.ckpt").exists() and path.endswith("r.ckpt")
        else:
            assert "interrupted" in err


def test_a_swallowed_ctrl_c_still_stops_with_130(tmp_path, monkeypatch, capsys):
    """A library that swallows the KeyboardInterrupt (a bare except in an import) must not
    turn a Ctrl-C into a run that finishes with exit 0: CI saw exactly that once."""
    import shutil

    import mscad.collect

    real_load = mscad.collect.load_results
    shutil.copy(Path(__file__).parents[1] / "results/collapse-cpu/efficientnet_lite0/center/airplane-seed0.json", tmp_path)

    def swallowing_load(*args, **kwargs):
        try:  # the handler main() installed, called as the signal would call it
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass  # what a careless library does
        return real_load(*args, **kwargs)

    monkeypatch.setattr(mscad.collect, "load_results", swallowing_load)
    assert main(["table", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip() == "mscad: interrupted."


# ------------------------------------------------------------------ sweep and table
def sweep_args(dataset, out_dir, *extra):
    return ["sweep", "--dataset", str(dataset), "--classes", "circle", "--objectives", "dn2", "--profile",
            "quick", "--quiet", "--out-dir", str(out_dir), *extra]


def test_sweep_reruns_stale_and_corrupt_results_and_keeps_the_old_files(folder_dataset, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(sweep_args(folder_dataset, out)) == 0
    path = out / "efficientnet_lite0" / "dn2" / "circle.json"
    assert main(sweep_args(folder_dataset, out, "--k", "3")) == 0  # another setting: run again
    captured = capsys.readouterr()
    assert "was stale (k (2 stored, 3 now))" in captured.err and "1 ran" in captured.out
    assert json.loads(path.read_text())["config"]["k"] == 3
    assert json.loads((path.parent / "circle.json.stale").read_text())["config"]["k"] == 2
    path.write_text(path.read_text()[:100])  # truncated
    assert main(sweep_args(folder_dataset, out, "--k", "3")) == 0
    assert "was corrupt" in capsys.readouterr().err
    assert (path.parent / "circle.json.corrupt").exists() and json.loads(path.read_text())["auroc"] > 0
    assert main(sweep_args(folder_dataset, out, "--k", "3")) == 0
    assert "1 were already there with the same settings" in capsys.readouterr().out


def test_sweep_sets_an_unreadable_checkpoint_aside(folder_dataset, tmp_path, capsys):
    out = tmp_path / "res"
    ckpt = out / "efficientnet_lite0" / "msc" / "circle.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x80garbage")
    args = sweep_args(folder_dataset, out, "--epochs", "1", "--batch-size", "4")
    args[args.index("dn2")] = "msc"
    assert main(args) == 0
    assert "that run started afresh" in capsys.readouterr().err
    assert (ckpt.parent / "circle.ckpt.unreadable").exists() and (ckpt.parent / "circle.json").exists()


def test_sweep_checks_every_name_before_running(folder_dataset, tmp_path, capsys):
    out = tmp_path / "res"
    args = sweep_args(folder_dataset, out)
    args[args.index("circle")] = "circle,hexagon"
    err = one_line_error(capsys, main(args))
    assert "'hexagon' is not in this data set" in err and not list(out.rglob("*.json"))
    args = sweep_args(folder_dataset, out, "--backbones", "efficientnet_lite0,resnet9")
    err = one_line_error(capsys, main(args))
    assert "unknown backbone 'resnet9'" in err and not list(out.rglob("*.json"))


def write_result(path, auroc, profile, **config):
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = dict(dataset="cifar10", backbone="efficientnet_lite0", objective="dn2", profile=profile,
               normal_class="cat", epochs=0, image_size=32 if profile == "quick" else 64, seed=0, **config)
    path.write_text(json.dumps(dict(auroc=auroc, config=cfg, target_class="cat",
                                    history=[dict(epoch=0, auroc=auroc)])))


def test_table_never_averages_different_scales(tmp_path, capsys):
    write_result(tmp_path / "a" / "cat.json", 0.595, "quick")
    write_result(tmp_path / "b" / "cat.json", 0.754, "cpu")
    assert main(["table", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.count("###") == 2 and "59.5" in text and "75.4" in text and "67.4" not in text


def test_table_refuses_two_results_of_one_run_with_other_settings(tmp_path, capsys):
    write_result(tmp_path / "a" / "cat.json", 0.6, "cpu", lr=1e-3)
    write_result(tmp_path / "b" / "cat.json", 0.7, "cpu", lr=1e-4)
    err = one_line_error(capsys, main(["table", str(tmp_path)]))
    assert "2 results for dn2 on 'cat'" in err and "a/cat.json" in err and "b/cat.json" in err


def test_table_names_a_corrupt_file_and_bad_outputs(tmp_path, capsys):
    write_result(tmp_path / "cat.json", 0.6, "cpu")
    (tmp_path / "dog.json").write_text('{"auroc": 0.7, "conf')
    with pytest.warns(UserWarning, match="dog.json is not valid JSON"):
        assert main(["table", str(tmp_path)]) == 0
    capsys.readouterr()
    for out in ("/proc/x.md", str(tmp_path)):
        err = one_line_error(capsys, main(["table", str(tmp_path), "--out", out]))
        assert out in err
    err = one_line_error(capsys, main(["table", str(tmp_path), "--dataset", "svhn"]))
    assert "no results for data set 'svhn'" in err and "cifar10" in err


def test_every_reader_goes_through_the_result_type(tmp_path):
    """A newer schema, a non-finite score and a folder named like a result are named and
    left out, never averaged (mscad.collect.load_results reads through RunResult)."""
    import warnings

    from mscad.collect import load_results

    write_result(tmp_path / "cat.json", 0.6, "cpu")
    newer = json.loads((tmp_path / "cat.json").read_text())
    (tmp_path / "dog.json").write_text(json.dumps(dict(newer, schema=99, auroc=62.5)))
    (tmp_path / "frog.json").write_text((tmp_path / "cat.json").read_text().replace("0.6", "NaN", 1))
    (tmp_path / "sub.json").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_results(tmp_path)
    said = " ".join(str(w.message) for w in caught)
    assert list(table.auroc) == [60.0]  # only the readable result
    assert "dog.json is not a result this mscad can read" in said and "newer mscad" in said
    assert "frog.json is not valid JSON" in said
    assert "sub.json is not a file" in said
