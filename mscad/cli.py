"""Command line: ``python -m mscad run|sweep|table``. See ``--help`` of each."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MscadError
from .train import OBJECTIVES

EPILOG = ("Data sets are read from $MSCAD_DATA (default ./data); $MSCAD_PROFILE (quick, cpu, "
          "paper) sets the scale, explicit flags override it.")


def _experiment_flags(p: argparse.ArgumentParser):
    p.add_argument("--dataset", default="cifar10",
                   help="registered data set (cifar10, cifar100-coarse, cifar100-fine, catsvsdogs, "
                        "mvtec:<category>, dior) or a folder with train/<class>/ and test/<class>/")
    p.add_argument("--backbone", default="efficientnet_lite0",
                   help="feature extractor: efficientnet_lite0 (offline default), resnet18, resnet50, "
                        "resnet152, efficientnet_b0, densenet121, vit_b_16")
    p.add_argument("--profile", default=None, help="quick | cpu | paper (default: $MSCAD_PROFILE, "
                   "else paper with a GPU and cpu without)")
    p.add_argument("--epochs", type=int, help="fine-tuning epochs (profile default)")
    p.add_argument("--image-size", type=int, help="input resolution in pixels (profile default)")
    p.add_argument("--batch-size", type=int, help="images per step; two views each (profile default)")
    p.add_argument("--lr", type=float, help="SGD learning rate (profile default; the profile's center_lr for center losses)")
    p.add_argument("--momentum", type=float, help="SGD momentum (0, or PANDA's 0.9 for center losses)")
    p.add_argument("--weight-decay", type=float, default=5e-5, help="SGD weight decay (paper: 5e-5)")
    p.add_argument("--temperature", type=float, default=0.25, help="tau of Eqs. 2 and 4 (paper: 0.25)")
    p.add_argument("--k", type=int, default=2, help="nearest neighbours in the score, Eq. 5 (paper: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of subsets, batches and augmentations")
    p.add_argument("--train-limit", type=int, help="use this many normal train images (few-shot: "
                   "200, 500; 0 = all; profile default)")
    p.add_argument("--test-limit", type=int, help="use this many test images, class shares kept "
                   "(0 = all; profile default)")
    p.add_argument("--eval-every", type=int, help="evaluate every N epochs (profile default: 1)")
    p.add_argument("--early-stop", type=int, dest="early_stop_epoch",
                   help="stop after this many epochs (PANDA-ES)")
    p.add_argument("--from-scratch", action="store_true", help="random initial weights instead of "
                   "ImageNet ones (the paper's 'optimization from scratch')")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args, **overrides):
    from .train import TrainConfig

    return TrainConfig(dataset=args.dataset, backbone=args.backbone, profile=args.profile,
                       epochs=args.epochs, image_size=args.image_size, batch_size=args.batch_size,
                       lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
                       temperature=args.temperature, k=args.k, seed=args.seed,
                       train_limit=args.train_limit, test_limit=args.test_limit,
                       eval_every=args.eval_every, early_stop_epoch=args.early_stop_epoch,
                       pretrained=not args.from_scratch, device=args.device, **overrides)


def _check_writable(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(path.name + ".probe")
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise MscadError(f"cannot write the result to {path} ({e.strerror}); choose another --out.") from e


def cmd_run(args):
    from .train import fine_tune, write_result

    out = Path(args.out)
    _check_writable(out)
    cfg = _config(args, normal_class=args.normal_class, anomalous_class=args.anomalous_class,
                  objective=args.objective)
    if (args.normal_class is None) == (args.anomalous_class is None):
        raise MscadError("give --normal-class (one-class) or --anomalous-class (multi-class), not both.")
    checkpoint = out.with_suffix(".ckpt")
    try:
        result = fine_tune(cfg, checkpoint=checkpoint, resume=args.resume, progress=not args.quiet)
    except KeyboardInterrupt:
        raise MscadError(f"interrupted; the last finished epoch is saved in {checkpoint}: "
                         "run the same command with --resume to continue.") from None
    write_result(result, out)
    if checkpoint.exists() and not args.keep_checkpoint:
        checkpoint.unlink()
    print(f"ROC-AUC {100 * result['auroc']:.2f}% ({result['data']['summary']}; "
          f"{result['config']['objective']}, {result['config']['backbone']}, "
          f"{result['config']['profile']} profile) -> {out}")


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_sweep(args):
    """Every class x objective x backbone, one result file each; finished runs are skipped
    and a run with a checkpoint resumes, so a killed sweep continues where it stopped."""
    from tqdm import tqdm

    from .data import load_split
    from .train import fine_tune, write_result

    out_dir = Path(args.out_dir)
    _check_writable(out_dir / "probe")
    objectives, backbones = _split(args.objectives), _split(args.backbones)
    for o in objectives:
        if o not in OBJECTIVES:
            raise MscadError(f"unknown objective {o!r}; known objectives: {', '.join(OBJECTIVES)}.")
    if args.classes == "all":
        classes = load_split(args.dataset, "train", args.image_size or 32).classes
    else:
        classes = _split(args.classes)
    # class by class, so that a partial sweep already gives complete rows of the table
    jobs = [(b, o, c) for b in backbones for c in classes for o in objectives]
    done = 0
    for backbone, objective, cls in tqdm(jobs, desc="sweep", disable=args.quiet):
        name = str(cls).replace("/", "_")
        out = out_dir / backbone / objective / f"{name}.json"
        if out.exists():
            done += 1
            continue
        args.backbone = backbone
        cfg = _config(args, normal_class=str(cls), objective=objective)
        checkpoint = out.with_suffix(".ckpt")
        try:
            result = fine_tune(cfg, checkpoint=checkpoint, resume=True, progress=not args.quiet)
        except KeyboardInterrupt:
            raise MscadError(f"interrupted during {out}; run the same sweep again to continue.") from None
        write_result(result, out)
        checkpoint.unlink(missing_ok=True)
        if not args.quiet:
            tqdm.write(f"{backbone} {objective} {cls}: ROC-AUC {100 * result['auroc']:.2f}% ({result['wall_s']} s)")
    print(f"{len(jobs)} runs in {out_dir} ({done} were already there)")


def cmd_table(args):
    from .report import describe_scale, load_results, per_class_table

    results = load_results(args.results)
    datasets = [args.dataset] if args.dataset else sorted(results.dataset.unique())
    chunks = []
    for ds in datasets:
        sub = results[results.dataset == ds]
        for backbone in sorted(sub.backbone.unique()):
            part = sub[sub.backbone == backbone]
            table = per_class_table(part, ds)
            chunks.append(f"### {ds}, {backbone} ({describe_scale(part)}); ROC-AUC %\n\n"
                          + table.to_markdown(floatfmt=".1f"))
    text = "\n\n".join(chunks) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mscad", description=(
        "Deep one-class anomaly detection with the Mean-Shifted Contrastive loss "
        "(Reiss & Hoshen, AAAI 2023)."), epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one experiment: fine-tune on a normal class, write RESULT.json",
                         epilog=EPILOG)
    run.add_argument("--normal-class", help="the normal class, by name or index (one-class setting)")
    run.add_argument("--anomalous-class", help="the anomalous class; all others are normal "
                     "(multi-class setting, Table 5)")
    run.add_argument("--objective", default="msc", help=f"one of {', '.join(OBJECTIVES)} (dn2 = no "
                     "fine-tuning)")
    run.add_argument("--out", required=True, help="result file (JSON); its checkpoint is OUT.ckpt")
    run.add_argument("--resume", action="store_true", help="continue from OUT.ckpt if it exists")
    run.add_argument("--keep-checkpoint", action="store_true", help="keep OUT.ckpt after success")
    _experiment_flags(run)
    run.set_defaults(func=cmd_run)

    sweep = sub.add_parser("sweep", help="many classes x objectives x backbones into a results folder "
                           "(skips finished runs, resumable)", epilog=EPILOG)
    sweep.add_argument("--classes", default="all", help="comma-separated classes (names or indices), or all")
    sweep.add_argument("--objectives", default="dn2,msc", help=f"comma-separated, from {', '.join(OBJECTIVES)}")
    sweep.add_argument("--backbones", default="efficientnet_lite0", help="comma-separated backbone names")
    sweep.add_argument("--out-dir", required=True, help="results folder: OUT_DIR/<backbone>/<objective>/<class>.json")
    _experiment_flags(sweep)
    sweep.set_defaults(func=cmd_sweep)

    table = sub.add_parser("table", help="per-class table of our results beside the paper's (markdown)")
    table.add_argument("results", help="folder with result files (searched recursively)")
    table.add_argument("--dataset", help="only this data set")
    table.add_argument("--out", help="also write the table to this file")
    table.set_defaults(func=cmd_table)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except MscadError as e:
        print(f"mscad: error: {e}", file=sys.stderr)
        return 2
    return 0
