"""Issue 34's rules, each asserted on small real files: one writer whose OS errors are
sentences and that leaves nothing partial, one run per --out, a sweep that goes on past
a failed write, nothing written over a result without --overwrite, the detector where
scikit-learn estimators go, pixels of any type by one rule, book tooling with one-line
errors, SIGTERM like Ctrl-C."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mscad.cli import main
from mscad.errors import MscadError
from mscad.results import atomic_write, write_result

from test_hostile_inputs import error_line as last_error  # the one CLI-error reader
from test_hostile_inputs import run_args as _run_args

ROOT = Path(__file__).resolve().parents[1]


def run_args(dataset, out, *extra, objective="dn2"):
    return _run_args(dataset, out, *extra, objective=objective)


# ------------------------------------------------------------------ one writer
def test_a_full_disk_is_a_sentence_and_leaves_the_old_file_and_no_half_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("the earlier version")

    def disk_full(tmp):
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(MscadError) as e:
        atomic_write(out, disk_full, "the result")
    assert "could not write the result" in str(e.value) and "disk is full" in str(e.value)
    assert str(out) in str(e.value)
    assert out.read_text() == "the earlier version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no .tmp left


def test_a_file_size_limit_on_torch_save_is_a_sentence(tmp_path):
    """A real limit (ulimit -f) in a child process: torch.save fails mid-write."""
    code = f"""
import resource, signal, torch
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
from mscad.results import atomic_write
from mscad.errors import MscadError
try:
    atomic_write({str(tmp_path / 'big.pt')!r}, lambda tmp: torch.save(torch.zeros(1_000_000), tmp), "the checkpoint")
except MscadError as e:
    print(e)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert "could not write the checkpoint" in out.stdout, out.stdout + out.stderr
    assert "file-size limit" in out.stdout or "did not complete" in out.stdout
    assert list(tmp_path.iterdir()) == []  # nothing partial


# ------------------------------------------------------------------ one run per --out
def test_a_second_run_onto_the_same_out_is_refused_while_the_first_holds_it(folder_dataset, tmp_path,
                                                                              capsys):
    import fcntl

    out = tmp_path / "r.json"
    with open(tmp_path / ".r.json.lock", "a+") as held:  # what a first `run` holds
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 12345 on elsewhere")
        held.flush()
        line = last_error(capsys, main(run_args(folder_dataset, out)))
    assert "another run is writing --out" in line and "pid 12345" in line
    assert not out.exists()
    assert main(run_args(folder_dataset, out)) == 0  # released: it runs


def test_an_out_written_by_someone_else_during_the_run_is_kept_and_so_is_the_result(
        folder_dataset, tmp_path, capsys, monkeypatch):
    import mscad.experiment.train as train

    out = tmp_path / "r.json"
    real = train.fine_tune

    def meanwhile(*args, **kwargs):
        run = real(*args, **kwargs)
        out.write_text("another process's file")  # lands while this run trains
        return run

    monkeypatch.setattr(train, "fine_tune", meanwhile)
    line = last_error(capsys, main(run_args(folder_dataset, out)))
    assert "was written by another process while this run trained" in line
    assert out.read_text() == "another process's file"
    side = [p for p in tmp_path.glob("r.*.json")]
    assert len(side) == 1 and json.loads(side[0].read_text())["config"]["objective"] == "dn2"


def test_table_never_writes_over_a_result_without_overwrite(folder_dataset, tmp_path, capsys):
    results = tmp_path / "res"
    assert main(run_args(folder_dataset, results / "dn2.json")) == 0
    capsys.readouterr()
    target = results / "dn2.json"
    before = target.read_text()
    line = last_error(capsys, main(["table", str(results), "--out", str(target)]))
    assert "holds an mscad result file" in line and "--overwrite" in line
    assert target.read_text() == before
    assert main(["table", str(results), "--out", str(target), "--overwrite"]) == 0
    assert target.read_text().startswith("###")
    assert json.loads((results / "dn2.json.replaced").read_text())["config"]["objective"] == "dn2"


def test_a_sweep_records_a_failed_write_as_that_runs_failure_and_goes_on(folder_dataset, tmp_path,
                                                                         capsys, monkeypatch):
    import mscad.results as results

    real = results.write_result

    def full_for_circle(result, out, *args, **kwargs):
        if Path(out).stem == "circle":
            return results.atomic_write(out, lambda tmp: (_ for _ in ()).throw(
                OSError(errno.ENOSPC, "No space left on device")), "the result")
        return real(result, out, *args, **kwargs)

    monkeypatch.setattr(results, "write_result", full_for_circle)
    out_dir = tmp_path / "sweep"
    rc = main(["sweep", "--dataset", str(folder_dataset), "--classes", "circle,square",
               "--objectives", "dn2", "--profile", "quick", "--quiet", "--out-dir", str(out_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "1 failed" in capsys.readouterr().out or "1 run(s) failed" in err
    assert "disk is full" in err
    assert (out_dir / "efficientnet_lite0" / "dn2" / "square.json").exists() or \
        any(p.name == "square.json" for p in out_dir.rglob("*.json"))


# ------------------------------------------------------------------ the detector as an estimator
@pytest.fixture(scope="module")
def fitted_detector(tmp_path_factory):
    from mscad.detector import MSCDetector

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    det = MSCDetector(objective="msc", profile="quick", epochs=1, image_size=32, batch_size=4)
    return det.fit(images), images


def test_the_detector_survives_pickle_and_joblib_with_the_same_scores(fitted_detector):
    import io

    import joblib

    det, images = fitted_detector
    scores = det.decision_function(images[:4])
    again = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(again.decision_function(images[:4]), scores)
    assert again.threshold_ == det.threshold_ and again.get_params() == det.get_params()
    buffer = io.BytesIO()
    joblib.dump(det, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).decision_function(images[:4]), scores)


def test_the_detector_is_an_outlier_detector_for_model_selection(shared_data):
    from sklearn.base import is_outlier_detector
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from mscad.data import one_class_data
    from mscad.detector import MSCDetector

    data = one_class_data("cifar10", "airplane", image_size=32, train_limit=10, test_limit=60, seed=0)
    x, y = data.test.numpy(), np.asarray(data.test_labels)  # 1 = anomalous
    det = MSCDetector(objective="dn2", profile="quick", image_size=32)
    assert is_outlier_detector(det)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(det, x, y, scoring="roc_auc", cv=folds, error_score="raise")
    assert np.isfinite(scores).all() and ((0 <= scores) & (scores <= 1)).all()


def test_a_diverging_fit_names_the_estimators_parameters_not_cli_flags():
    from mscad.detector import MSCDetector

    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    det = MSCDetector(objective="center", profile="quick", epochs=2, image_size=32, batch_size=4,
                      lr=1e12, momentum=0.9)
    with pytest.raises(MscadError) as e:
        det.fit(images)
    assert "lower lr" in str(e.value) and "--lr" not in str(e.value)


# ------------------------------------------------------------------ pixels, one rule
@pytest.mark.parametrize("make, outcome", [
    (lambda b: b.astype(np.int64), "same"),
    (lambda b: (b.astype(np.uint16) * 257), "same"),  # 16-bit: scaled by its range
    (lambda b: torch.from_numpy(b.astype(np.int16)), "same"),
    (lambda b: b.astype(bool), "boolean"),
    (lambda b: b.astype(np.int32) * 1000, "from 0 to"),
    (lambda b: torch.zeros(b.shape, device="meta"), "'meta' device"),
])
def test_pixels_of_any_type_by_one_rule(make, outcome):
    from mscad.images import as_images

    base = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    if outcome == "same":
        assert torch.equal(as_images(make(base), 32), as_images(base, 32))
        assert torch.equal(as_images(list(make(base)), 32), as_images(base, 32))
    else:
        with pytest.raises(MscadError, match=outcome):
            as_images(make(base), 32)


# ------------------------------------------------------------------ book tooling
def book_tool(*args):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = done.stderr.strip().splitlines()
    return done.returncode, lines


@pytest.mark.parametrize("args, says", [
    (["book/execute.py", "book/no_such_chapter.ipynb"], "no such file"),
    (["book/execute.py", "README.md"], "is not a Jupyter notebook"),
    (["book/execute.py", "book/01_dn2.ipynb", "--cells", "999"], "out of range"),
])
def test_execute_says_what_is_wrong_in_one_line(args, says, tmp_path):
    rc, lines = book_tool(*args)
    assert rc != 0 and len(lines) == 1 and says in lines[0], lines


def test_editions_refuse_a_chapter_with_an_error_output(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "book"))
    import editions

    nb = json.loads((ROOT / "book" / "01_dn2.ipynb").read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"] = [dict(output_type="error", ename="MscadError", evalue="no data", traceback=[])]
    path = tmp_path / "01_dn2.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(editions.EditionError, match="error output"):
        editions.plain_notebook(path)


def test_student_edition_refuses_a_file_as_its_folder(tmp_path):
    target = tmp_path / "edition"
    target.write_text("not a folder")
    done = subprocess.run([sys.executable, "book/student_edition.py", str(target)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode != 0 and "is a file" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ SIGTERM like Ctrl-C
def test_sigterm_stops_a_run_with_one_line_and_a_checkpoint_to_resume(folder_dataset, tmp_path):
    out = tmp_path / "r.json"
    ckpt = tmp_path / "r.ckpt"
    args = [sys.executable, "-m", "mscad", "run", "--dataset", str(folder_dataset), "--normal-class",
            "circle", "--objective", "msc", "--profile", "quick", "--quiet", "--epochs", "200",
            "--batch-size", "4", "--no-cache", "--out", str(out)]
    env = dict(os.environ, MSCAD_COMPILE="off")
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert ckpt.exists(), "no checkpoint appeared"
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1].strip()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "stopped by SIGTERM" in err.splitlines()[-1], err
    assert "--resume" in err and ckpt.exists() and not out.exists()


def test_the_detectors_setting_errors_name_its_parameters():
    from mscad.detector import MSCDetector

    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(MscadError) as e:
        MSCDetector(objective="msc", profile="quick", image_size=32, momentum=1.5).fit(images)
    assert "momentum" in str(e.value) and "--" not in str(e.value)


# ------------------------------------------------------------------ review follow-ups
def test_a_hook_needs_only_the_methods_it_uses(folder_dataset):
    from mscad.config import TrainConfig
    from mscad.data import one_class_data
    from mscad.engine import fit

    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc",
                      profile="quick", image_size=32, batch_size=4, epochs=1).resolved()
    images = one_class_data(str(folder_dataset), "circle", image_size=32).train

    class Steps:  # measure only
        def measure(self, epoch, state, losses):
            return dict(steps=None if losses is None else len(losses))

    state = fit(cfg.for_train_set(len(images)), images, [Steps()])
    assert [r["steps"] for r in state.history] == [None, len(images) // 4]


def test_a_non_io_runtime_error_is_not_called_a_failed_write(tmp_path):
    def bug(tmp):
        raise RuntimeError("Expected a positive number of elements")

    with pytest.raises(RuntimeError, match="positive number"):
        atomic_write(tmp_path / "x.pt", bug, "the checkpoint")
    assert list(tmp_path.iterdir()) == []


def test_an_out_removed_while_the_run_trains_gets_the_result(folder_dataset, tmp_path, capsys, monkeypatch):
    import mscad.experiment.train as train

    out = tmp_path / "r.json"
    assert main(run_args(folder_dataset, out)) == 0  # a result of these settings is there
    real = train.fine_tune

    def meanwhile(*args, **kwargs):
        run = real(*args, **kwargs)
        out.unlink()
        return run

    monkeypatch.setattr(train, "fine_tune", meanwhile)
    for extra in ((), ("--overwrite",)):
        assert main(run_args(folder_dataset, out, *extra)) == 0, capsys.readouterr().err
        assert json.loads(out.read_text())["config"]["objective"] == "dn2"


def test_16_bit_pixels_are_scaled_whatever_their_values():
    from mscad.images import pixels_to_uint8

    assert pixels_to_uint8(np.array([0, 200, 65535], np.uint16), "x").tolist() == [0, 1, 255]
    assert pixels_to_uint8(np.array([0, 200], np.uint16), "x").tolist() == [0, 1]


def test_a_detector_subclass_with_its_own_parameters_works():
    from sklearn.base import clone

    from mscad.detector import MSCDetector

    class Mine(MSCDetector):
        def __init__(self, objective="dn2", extra=1):
            super().__init__(objective=objective)
            self.extra = extra

    det = clone(Mine(extra=3))
    assert det.extra == 3 and det.objective == "dn2"
