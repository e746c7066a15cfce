"""The Ray launcher on a local Ray instance with 2 CPUs: the same files as the local
launcher, a killed run resumed, failures reported by name."""
import json

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from mscad.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def sweep(dataset, out_dir, *extra):
    return ["sweep", "--dataset", str(dataset), "--classes", "circle,square", "--objectives", "dn2,msc",
            "--profile", "quick", "--epochs", "2", "--batch-size", "3", "--quiet", "--out-dir", str(out_dir),
            *extra]


def results(folder):
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))}


def test_ray_gives_the_local_launchers_files(local_ray, folder_dataset, tmp_path, capsys):
    torch.set_num_threads(1)  # the Ray tasks run with one CPU (and one thread) each
    try:
        assert main(sweep(folder_dataset, tmp_path / "local")) == 0
    finally:
        torch.set_num_threads(2)
    assert main(sweep(folder_dataset, tmp_path / "ray", "--launcher", "ray", "--max-parallel", "2")) == 0
    assert "4 ran" in capsys.readouterr().out
    local, on_ray = results(tmp_path / "local"), results(tmp_path / "ray")
    assert sorted(local) == sorted(on_ray) and len(local) == 4
    for name in local:
        a, b = local[name], on_ray[name]
        assert a["auroc"] == b["auroc"], name
        for key in ("epoch", "auroc", "loss", "uniformity", "augmentation_similarity"):
            np.testing.assert_allclose([h[key] or 0 for h in a["history"]], [h[key] or 0 for h in b["history"]],
                                       rtol=1e-6, err_msg=f"{name} {key}")
    assert main(sweep(folder_dataset, tmp_path / "ray", "--launcher", "ray")) == 0
    assert "0 ran" in capsys.readouterr().out  # all four reused: same settings


def test_a_killed_run_resumes_on_the_next_call(local_ray, folder_dataset, tmp_path, monkeypatch, capsys):
    import mscad.train as train_module
    from mscad.config import TrainConfig

    out = tmp_path / "res" / "efficientnet_lite0" / "msc" / "circle.json"
    cfg = TrainConfig(dataset=str(folder_dataset), normal_class="circle", objective="msc", profile="quick",
                      epochs=2, batch_size=3)
    real, calls = train_module.evaluate, []

    def killed_in_epoch_two(*args, **kwargs):  # what a worker killed mid-run leaves behind
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_module.fine_tune(cfg, checkpoint=out.with_name("circle.ckpt"), progress=False, cache=False)
    monkeypatch.setattr(train_module, "evaluate", real)
    left = torch.load(out.with_name("circle.ckpt"), weights_only=True)
    assert left["epoch"] == 1
    args = sweep(folder_dataset, tmp_path / "res", "--launcher", "ray")
    args[args.index("circle,square")] = "circle"
    args[args.index("dn2,msc")] = "msc"
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert result["history"][:2] == left["history"]  # epochs 0 and 1 came from the checkpoint
    assert [h["epoch"] for h in result["history"]] == [0, 1, 2] and not out.with_name("circle.ckpt").exists()


def test_a_failed_run_is_named_and_the_others_finish(local_ray, folder_dataset, tmp_path, capsys):
    args = sweep(folder_dataset, tmp_path / "res", "--launcher", "ray", "--lr", "1e30")
    args[args.index("dn2,msc")] = "center,dn2"
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2 and "center circle failed: the loss became" in err and "2 run(s) failed" in err
    assert sorted(p.name for p in (tmp_path / "res").rglob("*.json")) == ["circle.json", "square.json"]  # dn2
