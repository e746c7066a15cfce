"""Command line: ``python -m mscad run|sweep|table``. See ``--help`` of each.

The experiment flags are generated from :class:`mscad.config.TrainConfig`'s fields (name,
help, default), so they cannot drift from the settings they set.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path

from .errors import MscadError


def _epilog() -> str:
    from .backbones import BACKBONES
    from .config import PROFILES
    from .data import DATASETS

    return (f"Data sets: {', '.join(DATASETS)}, or a folder with train/<class>/ and test/<class>/, "
            f"read from $MSCAD_DATA (default ./data). Backbones: {', '.join(BACKBONES)} "
            "(efficientnet_lite0 works offline). $MSCAD_PROFILE "
            f"({', '.join(PROFILES)}) sets the scale; explicit flags override it.")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _experiment_flags(p: argparse.ArgumentParser, sweep: bool = False):
    """One flag per TrainConfig field (sweep: those that are the same for every run)."""
    from .config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        meta = f.metadata
        if sweep and meta.get("sweep") is False:
            continue
        shown = f.default is not None and meta.get("show_default", True) and "default" not in meta["help"]
        help_text = meta["help"] + (f" (default: {f.default})" if shown else "")
        if meta.get("invert"):
            p.add_argument(_flag(f), dest=f.name, action="store_false", default=None, help=meta["help"])
            continue
        kind = next((t for t in typing.get_args(hints[f.name]) if t is not type(None)), hints[f.name])
        p.add_argument(_flag(f), dest=f.name, type=kind, default=None, choices=meta.get("choices"),
                       help=help_text)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args, **overrides):
    """The TrainConfig of the flags given; unset flags keep TrainConfig's defaults."""
    from .config import TrainConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return TrainConfig(**{**given, **overrides})


def cmd_run(args):
    from .results import check_writable, write_result
    from .train import fine_tune

    if args.normal_class is None and args.anomalous_class is None:
        raise MscadError("give the normal class with --normal-class (one-class setting) or the "
                         "anomalous class with --anomalous-class (multi-class setting).")
    if args.normal_class is not None and args.anomalous_class is not None:
        raise MscadError("give either --normal-class or --anomalous-class, not both.")
    out = check_writable(args.out)
    cfg = _config(args, normal_class=args.normal_class).resolved()
    checkpoint = out.with_name(out.stem + ".ckpt")
    try:
        result = fine_tune(cfg, checkpoint=checkpoint, resume=args.resume, progress=not args.quiet,
                           cache=False if args.no_cache else None).result
    except KeyboardInterrupt:
        raise MscadError(_interrupted(checkpoint, "run the same command with --resume to continue")) from None
    write_result(result, out)
    if checkpoint.exists() and not args.keep_checkpoint:
        checkpoint.unlink()
    print(f"ROC-AUC {100 * result['auroc']:.2f}% ({result['data']['summary']}; "
          f"{result['config']['objective']}, {result['config']['backbone']}, "
          f"{result['config']['profile']} profile) -> {out}")


def _interrupted(checkpoint: Path, how: str) -> str:
    from .results import checkpoint_hint

    hint = checkpoint_hint(checkpoint)
    if hint == "no checkpoint was kept":
        return "interrupted before the first checkpoint; nothing was saved."
    return f"interrupted; {hint}: {how}."


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def sweep_jobs(args) -> list:
    """(out file, TrainConfig) of every run of a sweep, all names checked before any runs."""
    from .backbones import BACKBONES
    from .config import TrainConfig
    from .data import load_split, resolve_class
    from .errors import unknown_name
    from .objectives import OBJECTIVES

    objectives = _split(args.objectives)
    backbones = _split(args.backbones) if args.backbones else [_config(args).resolved().backbone]
    for name, known, kind in [(o, OBJECTIVES, "objective") for o in objectives] + \
                             [(b, BACKBONES, "backbone") for b in backbones]:
        if name not in known:
            raise unknown_name(kind, name, known)
    size = _config(args).resolved().image_size
    known_classes = load_split(args.dataset or TrainConfig.dataset, "train", size).classes
    classes = known_classes if args.classes == "all" else _split(args.classes)
    classes = [known_classes[resolve_class(c, known_classes)] for c in classes]
    out_dir = Path(args.out_dir)
    # class by class, so that a partial sweep already gives complete rows of the table
    return [(out_dir / b / o / f"{c.replace('/', '_')}.json",
             _config(args, backbone=b, objective=o, normal_class=c).resolved())
            for b in backbones for c in classes for o in objectives]


def stored_result_state(out: Path, cfg) -> tuple[str, str]:
    """('missing' | 'done' | 'corrupt' | 'stale', why) for a sweep's result file."""
    from .config import differences
    from .errors import CorruptResultError
    from .results import read_result

    if not out.exists():
        return "missing", ""
    try:
        stored = read_result(out)
    except CorruptResultError as e:
        return "corrupt", str(e)
    wanted = cfg.as_dict()
    saved = dict(stored["config"])
    n_train = stored.get("data", {}).get("n_train")
    if saved.get("batch_size") == n_train and n_train is not None and wanted["batch_size"] > n_train:
        saved["batch_size"] = wanted["batch_size"]  # shrunk to the train set, as fine_tune does
    diff = differences(saved, wanted)
    return ("stale", "; ".join(diff)) if diff else ("done", "")


def cmd_sweep(args):
    """Every class x objective x backbone, one result file each. A stored result is reused
    only when its settings match; a stale or corrupt one is set aside (renamed, never
    deleted) and run again; a run with a checkpoint resumes, so a killed sweep continues
    where it stopped."""
    from tqdm import tqdm

    from .errors import CheckpointError
    from .results import check_writable, set_aside, write_result
    from .train import fine_tune

    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MscadError(f"--out-dir {out_dir} is a file; give a folder.")
    check_writable(out_dir / "probe", flag="--out-dir")
    jobs = sweep_jobs(args)
    counts = dict(ran=0, reused=0, rerun=0)
    for out, cfg in tqdm(jobs, desc="sweep", disable=args.quiet):
        state, why = stored_result_state(out, cfg)
        if state == "done":
            counts["reused"] += 1
            continue
        if state in ("corrupt", "stale"):
            kept = set_aside(out, state)
            counts["rerun"] += 1
            tqdm.write(f"mscad: {out} was {state} ({why}); kept as {kept.name}, running it again.",
                       file=sys.stderr)
        checkpoint = out.with_name(out.stem + ".ckpt")
        try:
            try:
                run = fine_tune(cfg, checkpoint=checkpoint, resume=True, progress=not args.quiet)
            except CheckpointError as e:
                kept = set_aside(checkpoint, "unreadable")
                tqdm.write(f"mscad: {e} Kept as {kept.name}; starting that run afresh.", file=sys.stderr)
                run = fine_tune(cfg, checkpoint=checkpoint, resume=True, progress=not args.quiet)
        except KeyboardInterrupt:
            raise MscadError(f"interrupted during {out}; run the same sweep command again to "
                             "continue (finished runs are kept, this one resumes).") from None
        write_result(run.result, out)
        checkpoint.unlink(missing_ok=True)
        counts["ran"] += 1
        if not args.quiet:
            tqdm.write(f"{cfg.backbone} {cfg.objective} {cfg.normal_class}: ROC-AUC "
                       f"{100 * run.auroc:.2f}% ({run['wall_s']} s)")
    print(f"{len(jobs)} runs in {out_dir}: {counts['ran']} ran ({counts['rerun']} of them replaced a "
          f"stale or corrupt file), {counts['reused']} were already there with the same settings")


def cmd_table(args):
    from .report import load_results, scale_tables
    from .results import check_writable

    out = check_writable(args.out) if args.out else None
    results = load_results(args.results)
    if args.dataset:
        if args.dataset not in set(results.dataset):
            raise MscadError(f"no results for data set {args.dataset!r} in {args.results}; it holds "
                             f"{', '.join(sorted(set(results.dataset)))}.")
        results = results[results.dataset == args.dataset]
    chunks = [f"### {title}; ROC-AUC %\n\n" + table.to_markdown(floatfmt=".1f")
              for title, table in scale_tables(results)]
    text = "\n\n".join(chunks) + "\n"
    if out:
        out.write_text(text)
    print(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mscad", description=(
        "Deep one-class anomaly detection with the Mean-Shifted Contrastive loss "
        "(Reiss & Hoshen, AAAI 2023)."), epilog=_epilog())
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one experiment: fine-tune on a normal class, write RESULT.json",
                         epilog=_epilog())
    run.add_argument("--out", required=True, help="result file (JSON); its checkpoint is OUT.ckpt "
                     "beside it")
    run.add_argument("--resume", action="store_true", help="continue from the checkpoint if it exists")
    run.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint after success")
    run.add_argument("--no-cache", action="store_true", help="train even if a stored run with the same "
                     "settings, data and code exists (also: MSCAD_NO_CACHE=1)")
    _experiment_flags(run)
    run.set_defaults(func=cmd_run)

    from .objectives import OBJECTIVES

    sweep = sub.add_parser("sweep", help="many classes x objectives x backbones into a results folder "
                           "(reuses finished runs with the same settings, resumable)", epilog=_epilog())
    sweep.add_argument("--classes", default="all", help="comma-separated classes (names or indices), or all")
    sweep.add_argument("--objectives", default="dn2,msc", help=f"comma-separated, from {', '.join(OBJECTIVES)}")
    sweep.add_argument("--backbones", help="comma-separated backbone names (default: the profile's)")
    sweep.add_argument("--out-dir", required=True, help="results folder: OUT_DIR/<backbone>/<objective>/<class>.json")
    _experiment_flags(sweep, sweep=True)
    sweep.set_defaults(func=cmd_sweep)

    table = sub.add_parser("table", help="per-class table of our results beside the paper's (markdown); "
                           "results of different settings are never averaged together")
    table.add_argument("results", help="folder with result files (searched recursively)")
    table.add_argument("--dataset", help="only this data set")
    table.add_argument("--out", help="also write the table to this file")
    table.set_defaults(func=cmd_table)
    return parser


def _warning_line(message, category, filename, lineno, line=None):
    return f"mscad: warning: {message}\n"


def main(argv=None) -> int:
    import warnings

    formatter, warnings.formatwarning = warnings.formatwarning, _warning_line  # one line each
    try:
        args = _parser().parse_args(argv)
        args.func(args)
    except MscadError as e:
        print(f"mscad: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mscad: interrupted.", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatter
    return 0
