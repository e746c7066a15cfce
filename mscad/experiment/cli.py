"""Command line: ``python -m mscad run|sweep|table``. See ``--help`` of each.

The experiment flags are generated from :class:`mscad.config.TrainConfig`'s fields (name,
help, default), so they cannot drift from the settings they set.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

from ..errors import Interrupted, MscadError


def _epilog() -> str:
    from ..backbones import BACKBONES
    from ..config import PROFILES
    from ..data import DATASETS

    return (f"Data sets: {', '.join(DATASETS.values())}, or a folder with train/<class>/ and test/<class>/, "
            f"read from $MSCAD_DATA (default ./data). Backbones: {', '.join(BACKBONES)} "
            "(efficientnet_lite0 works offline). $MSCAD_PROFILE "
            f"({', '.join(PROFILES)}) sets the scale; explicit flags override it.")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _experiment_flags(p: argparse.ArgumentParser, sweep: bool = False):
    """One flag per TrainConfig field (sweep: those that are the same for every run)."""
    from ..config import TrainConfig

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
    from ..config import TrainConfig

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name, None) is not None}
    return TrainConfig(**{**given, **overrides})


def _protect_existing(out: Path, checkpoint: Path, cfg, args):
    """Nothing is replaced without a word: an unfinished run's checkpoint needs --resume
    (continue) or --overwrite (set aside, start afresh); an --out that holds something
    else than this experiment's result needs --overwrite (set aside, name printed)."""
    from ..config import RESUME_KEYS, result_differences
    from ..errors import CorruptResultError
    from ..results import checkpoint_hint, load_result, set_aside

    if checkpoint.exists() and not args.resume:
        if not args.overwrite:
            raise MscadError(f"{checkpoint_hint(checkpoint)} (a run's checkpoint, kept with "
                             "--keep-checkpoint or left by an interrupted run); add --resume to "
                             "continue it, or --overwrite to set it aside and start afresh.")
        print(f"mscad: {checkpoint} kept as {set_aside(checkpoint, 'replaced').name}; starting afresh.",
              file=sys.stderr)
    if not out.exists():
        return
    try:  # read through the result type, as every reader does (one migration path)
        stored, why = load_result(out), None
    except CorruptResultError as e:
        stored, why = None, ("holds a result of a newer mscad" if "newer mscad" in str(e)
                             else "is not an mscad result file")
    except OSError as e:
        stored, why = None, f"cannot be read ({e.strerror or e})"
    if why is None:
        wanted = cfg.as_dict()
        if args.resume:  # continuing a run may change its length: compare what resume keeps
            wanted = {k: v for k, v in wanted.items() if k in RESUME_KEYS}
        diff = result_differences(stored, wanted)
        why = f"holds a result of other settings ({'; '.join(diff)})" if diff else None
    if why is None:
        return  # the same experiment again: its new result replaces the old one
    if not args.overwrite:
        raise MscadError(f"--out {out} {why}; give another --out, or add --overwrite to set the old "
                         "file aside and write there.")
    print(f"mscad: {out} {why}; kept as {set_aside(out, 'replaced').name}.", file=sys.stderr)


def cmd_run(args):
    from ..errors import CheckpointError, Interrupted
    from ..results import check_writable, set_aside
    from .sweep import file_lock
    from .train import fine_tune

    _stop_if_interrupted()
    if args.normal_class is None and args.anomalous_class is None:
        raise MscadError("give the normal class with --normal-class (one-class setting) or the "
                         "anomalous class with --anomalous-class (multi-class setting).")
    if args.normal_class is not None and args.anomalous_class is not None:
        raise MscadError("give either --normal-class or --anomalous-class, not both.")
    out = check_writable(args.out)
    checkpoint = out.with_name(out.stem + ".ckpt")
    if checkpoint == out:
        raise MscadError(f"--out {out} would be its own checkpoint (OUT.ckpt is written beside the "
                         f"result); give the result another name, e.g. {out.with_suffix('.json')}.")
    cfg = _config(args, normal_class=args.normal_class).resolved()
    # one run at a time per --out: a second `run` onto it is refused, not silently overwritten
    with file_lock(out.with_name(f".{out.name}.lock"), f"another run is writing --out {out}",
                   "wait for it to finish, or give another --out"):
        _protect_existing(out, checkpoint, cfg, args)
        before = _file_state(out)
        run = dict(cfg=cfg, checkpoint=checkpoint, progress=not args.quiet,
                   cache=False if args.no_cache else None)
        try:
            try:
                result = fine_tune(resume=args.resume, **run).result
            except CheckpointError as e:
                if not args.overwrite:
                    raise MscadError(f"{e} (Or add --overwrite to set the checkpoint aside and start "
                                     "afresh.)") from None
                print(f"mscad: {e} Kept as {set_aside(checkpoint, 'replaced').name}; starting afresh.",
                      file=sys.stderr)
                result = fine_tune(resume=False, **run).result
        except KeyboardInterrupt:
            raise Interrupted(_interrupted(checkpoint, "run the same command with --resume to continue")) from None
        _write_unless_changed(result, out, before, args.overwrite)
    if checkpoint.exists() and not args.keep_checkpoint:
        checkpoint.unlink()
    print(f"ROC-AUC {100 * result['auroc']:.2f}% ({result['data']['summary']}; "
          f"{result['config']['objective']}, {result['config']['backbone']}, "
          f"{result['config']['profile']} profile) -> {out}")


def _file_state(path: Path):
    """What a file is now (None if absent): to notice that another process wrote it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class _Changed(Exception):
    pass


def _write_unless_changed(result, out: Path, before, overwrite: bool):
    """Write the result to ``out`` unless something else wrote ``out`` while this run
    trained (checked again just before the rename): then the result is kept beside it
    under its own name, and nothing is overwritten (with --overwrite, the other file is
    set aside instead)."""
    from ..results import set_aside, write_result

    def recheck():
        if _file_state(out) != before:
            raise _Changed

    try:
        write_result(result, out, before_rename=recheck)
        return
    except _Changed:
        pass
    if not out.exists():  # removed while this run trained: nothing there to protect
        write_result(result, out)
        return
    if overwrite:
        kept = set_aside(out, "replaced")
        write_result(result, out)
        print(f"mscad: {out} was written by another process while this run trained; kept it as "
              f"{kept.name} (--overwrite).", file=sys.stderr)
        return
    side = out.with_name(f"{out.stem}.{os.getpid()}{out.suffix or '.json'}")
    write_result(result, side)
    raise MscadError(f"--out {out} was written by another process while this run trained; this run's "
                     f"result is kept as {side} and {out} is unchanged: compare the two and keep one.")


def _interrupted(checkpoint: Path, how: str) -> str:
    from ..results import checkpoint_hint

    if not checkpoint.exists():
        return f"{_stop_line()} before the first checkpoint; nothing was saved."
    return f"{_stop_line()}; {checkpoint_hint(checkpoint)}: {how}."


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def sweep_jobs(args) -> list:
    """(out file, TrainConfig) of every run of a sweep, all names checked before any runs."""
    from ..backbones import BACKBONES
    from ..config import TrainConfig
    from ..data import load_split, normal_classes, resolve_class
    from ..errors import unknown_name
    from ..objectives import OBJECTIVES

    objectives = _split(args.objectives)
    if not objectives:
        raise MscadError(f"--objectives lists no objective (got {args.objectives!r}); give some of "
                         f"{', '.join(OBJECTIVES)}.")
    if not _split(args.classes):
        raise MscadError(f"--classes lists no class (got {args.classes!r}); give class names or "
                         "indices separated by commas, or all.")
    if args.backbones is not None and not _split(args.backbones):
        raise MscadError(f"--backbones lists no backbone (got {args.backbones!r}); give names separated "
                         "by commas, or leave it out for the profile's.")
    backbones = _split(args.backbones) if args.backbones else [_config(args).resolved().backbone]
    for name, known, kind in [(o, OBJECTIVES, "objective") for o in objectives] + \
                             [(b, BACKBONES, "backbone") for b in backbones]:
        if name not in known:
            raise unknown_name(kind, name, known)
    size = _config(args).resolved().image_size
    known_classes = load_split(args.dataset or TrainConfig.dataset, "train", size).classes
    if args.classes == "all":  # the protocol's normal classes (MVTec: "good"), else every class
        classes = known_classes if args.setting == "multi-class" else normal_classes(
            args.dataset or TrainConfig.dataset, known_classes)
    else:
        classes = _split(args.classes)
    from ..data import indexable

    by_index = indexable(args.dataset or TrainConfig.dataset)
    classes = [known_classes[resolve_class(c, known_classes, by_index)] for c in classes]
    seeds = _seeds(args)
    out_dir = Path(args.out_dir)
    role = "anomalous_class" if args.setting == "multi-class" else "normal_class"

    def out(b, o, c, seed):  # one file per run; several seeds: one per seed
        name = c.replace("/", "_") + (f"-seed{seed}" if args.seeds else "")
        return out_dir / b / o / f"{name}.json"

    # seed by seed, class by class, so that a partial sweep already gives complete rows
    return [(out(b, o, c, seed),
             _config(args, backbone=b, objective=o, seed=seed,
                     **{"normal_class": None, role: c}).resolved())
            for seed in seeds for b in backbones for c in classes for o in objectives]


def _seeds(args) -> list:
    if not args.seeds:
        return [args.seed if args.seed is not None else 0]
    try:
        seeds = [int(s) for s in _split(args.seeds)]
    except ValueError:
        raise MscadError(f"--seeds takes comma-separated integers, e.g. 0,1,2; got {args.seeds!r}."
                         ) from None
    if args.seed is not None:
        raise MscadError("give --seed or --seeds, not both.")
    if len(set(seeds)) != len(seeds) or not seeds:
        raise MscadError(f"--seeds must list distinct seeds, got {args.seeds!r}.")
    from ..config import check_seed

    return [check_seed(s) for s in seeds]  # all checked before the first run


def cmd_sweep(args):
    """Every class x objective x backbone, one result file each, by the rules of
    :mod:`mscad.sweep`, locally or on Ray."""
    from ..results import check_writable
    from .sweep import run_sweep, sweep_lock

    _stop_if_interrupted()
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MscadError(f"--out-dir {out_dir} is a file; give a folder.")
    check_writable(out_dir / "probe", flag="--out-dir")
    for flag in ("max_parallel", "cpus_per_task"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise MscadError(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}.")
    jobs = sweep_jobs(args)
    with sweep_lock(out_dir):
        s = run_sweep(jobs, args.launcher, quiet=args.quiet, address=args.address,
                      max_parallel=args.max_parallel, cpus_per_task=args.cpus_per_task or 1)
    print(f"{s['total']} runs in {out_dir}: {s['ran']} ran ({s['replaced']} of them replaced a stale or "
          f"corrupt file), {s['reused']} were already there with the same settings, "
          f"{len(s['failed'])} failed")
    if s["failed"]:
        names = "; ".join(f"{Path(out).name if '/' in out else out}: {error}" for out, error in s["failed"])
        raise MscadError(f"{len(s['failed'])} run(s) failed ({names[:500]}); fix the cause and run the "
                         "same sweep again: finished runs are kept.")


def _holds_a_result(path: Path) -> bool:
    from ..results import is_result, strict_json

    try:
        return is_result(strict_json(path.read_text()))
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def cmd_table(args):
    from .collect import complete_seeds, finished_groups, load_results
    from .orderings import ORDERING_OBJECTIVES, ordering_summary, ordering_text
    from .stats import scale_tables
    from ..results import atomic_write, check_writable, set_aside

    out = check_writable(args.out) if args.out else None
    if out is not None and out.exists() and _holds_a_result(out) and not args.overwrite:
        raise MscadError(f"--out {out} holds an mscad result file, which the table would replace; "
                         "give another --out (e.g. table.md), or add --overwrite to set it aside.")
    results = load_results(args.results)
    if args.dataset:
        if args.dataset not in set(results.dataset):
            raise MscadError(f"no results for data set {args.dataset!r} in {args.results}; it holds "
                             f"{', '.join(sorted(set(results.dataset)))}.")
        results = results[results.dataset == args.dataset]
    chunks = []
    for (title, table), part in zip(scale_tables(results), finished_groups(results)):
        chunks.append(f"### {title}; ROC-AUC %\n\n" + table.to_markdown(floatfmt=".1f"))
        if ORDERING_OBJECTIVES <= set(part.objective) and complete_seeds(part):  # the paper's claims
            chunks.append("Orderings the paper claims, margin in ROC-AUC points (mean over classes; "
                          "95% interval over seeds):\n\n" + ordering_text(ordering_summary(part)).to_markdown())
    text = "\n\n".join(chunks) + "\n"
    if out:
        if out.exists() and _holds_a_result(out):  # --overwrite: set aside, never lost
            print(f"mscad: {out} kept as {set_aside(out, 'replaced').name}.", file=sys.stderr)
        atomic_write(out, lambda tmp: tmp.write_text(text), "the table")
    print(text)


def cmd_verify(args):
    """Rerun a result file's settings and compare its ROC-AUC, epoch by epoch, with a tolerance."""
    from ..config import TrainConfig
    from ..provenance import made_by
    from ..results import code_provenance, load_result, write_result
    from .train import fine_tune

    _stop_if_interrupted()
    path = Path(args.result)
    if not path.is_file():
        raise MscadError(f"{path} is not a file; give a result file (RESULT.json) to verify.")
    if not args.tolerance > 0:
        raise MscadError(f"--tolerance must be a positive number of ROC-AUC points, got {args.tolerance}.")
    stored = load_result(path)
    settings = dict(stored.config)
    settings["device"] = args.device or str(settings.get("device") or "cpu").split(":")[0]
    if settings["device"] == "cuda" and args.device is None:
        from ..config import resolve_device
        settings["device"] = resolve_device(None)  # a CUDA result on a CPU-only machine: the CPU
    cfg = TrainConfig.from_dict(settings).resolved()
    made = made_by(stored.code)
    print(f"verifying {path}: {stored.target_class}, {cfg.objective}, {cfg.backbone} @ {cfg.image_size}px, "
          f"{cfg.epochs} epochs, seed {cfg.seed}; made by code {made}; rerun now by "
          f"{code_provenance().get('commit') or 'this checkout'} on {cfg.device}", file=sys.stderr)
    rerun = fine_tune(cfg, cache=False, progress=not args.quiet).result
    before = {h["epoch"]: h.get("auroc") for h in stored.history if h.get("auroc") is not None}
    after = {h["epoch"]: h.get("auroc") for h in rerun.history if h.get("auroc") is not None}
    rows, worst = [], 0.0
    for epoch in sorted(set(before) & set(after)):
        diff = 100 * (after[epoch] - before[epoch])
        worst = max(worst, abs(diff))
        rows.append(f"| {epoch} | {100 * before[epoch]:.3f} | {100 * after[epoch]:.3f} | {diff:+.3f} |")
    if not rows:
        raise MscadError(f"{path} and its rerun share no evaluated epoch; nothing to compare.")
    print("| epoch | stored ROC-AUC % | rerun % | difference, points |\n|---|---|---|---|\n"
          + "\n".join(rows))
    verdict = "reproduced" if worst <= args.tolerance else "NOT reproduced"
    print(f"{verdict}: largest difference {worst:.3f} points over {len(rows)} evaluated epoch(s) "
          f"(tolerance {args.tolerance:g}); rerun's compile: {rerun.environment.get('compile')}")
    if args.out:
        write_result(rerun, Path(args.out))
    if worst > args.tolerance:
        raise SystemExit(1)


def _compile_flag(parser):
    from ..compiled import MODES

    parser.add_argument("--compile", choices=MODES, help="run the evaluation's forward passes compiled "
                        "(torch.compile; the same numbers to float rounding): auto = on the CPU from "
                        "128 px, except at the quick profile; off on CUDA until verified (default: "
                        "$MSCAD_COMPILE, else auto)")


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
    run.add_argument("--overwrite", action="store_true", help="replace what --out or its checkpoint "
                     "holds (another experiment's result, an unfinished run, another file); the old "
                     "file is kept as NAME.replaced, never deleted")
    run.add_argument("--no-cache", action="store_true", help="train even if a stored run with the same "
                     "settings, data and code exists (also: MSCAD_NO_CACHE=1)")
    _experiment_flags(run)
    _compile_flag(run)
    run.set_defaults(func=cmd_run)

    from ..objectives import OBJECTIVES

    sweep = sub.add_parser("sweep", help="many classes x objectives x backbones into a results folder "
                           "(reuses finished runs with the same settings, resumable)", epilog=_epilog())
    sweep.add_argument("--classes", default="all", help="comma-separated classes (names or indices), or all")
    sweep.add_argument("--objectives", default="dn2,msc", help=f"comma-separated, from {', '.join(OBJECTIVES)}")
    sweep.add_argument("--backbones", help="comma-separated backbone names (default: the profile's)")
    sweep.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2: each run once per seed, "
                       "files named <class>-seed<N>.json (default: --seed alone, <class>.json)")
    sweep.add_argument("--setting", choices=["one-class", "multi-class"], default="one-class",
                       help="one-class: each class normal in turn; multi-class (Table 5): each "
                       "class anomalous in turn, all the others normal")
    sweep.add_argument("--out-dir", required=True, help="results folder: OUT_DIR/<backbone>/<objective>/<class>.json "
                       "(on Ray: a path every worker reaches, e.g. a shared file system)")
    sweep.add_argument("--launcher", choices=["local", "ray"], default="local",
                       help="local: one run after another in this process; ray: one Ray task per run")
    sweep.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a new local "
                       "instance)")
    sweep.add_argument("--max-parallel", type=int, help="at most this many runs at once on Ray")
    sweep.add_argument("--cpus-per-task", type=int, help="CPUs (and torch threads) per run on a CPU "
                       "cluster (default 1); a run on cuda takes one GPU")
    _experiment_flags(sweep, sweep=True)
    _compile_flag(sweep)
    sweep.set_defaults(func=cmd_sweep)

    verify = sub.add_parser("verify", help="rerun a result file's settings and compare its ROC-AUC "
                            "epoch by epoch (exit 1 if a difference exceeds the tolerance)")
    verify.add_argument("result", help="a result file (RESULT.json) of any mscad version")
    verify.add_argument("--tolerance", type=float, default=0.1, help="largest accepted difference in "
                        "ROC-AUC points (default 0.1; float rounding moves a trained run by ~0.01)")
    verify.add_argument("--device", choices=["cpu", "cuda"], help="where to rerun (default: the "
                        "result's device kind, the CPU if no GPU is visible)")
    verify.add_argument("--out", help="also write the rerun's result here")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    _compile_flag(verify)
    verify.set_defaults(func=cmd_verify)

    table = sub.add_parser("table", help="per-class table of our results beside the paper's (markdown); "
                           "results of different settings are never averaged together")
    table.add_argument("results", help="folder with result files (searched recursively)")
    table.add_argument("--dataset", help="only this data set")
    table.add_argument("--out", help="also write the table to this file")
    table.add_argument("--overwrite", action="store_true",
                       help="if --out holds a result file, set it aside (never replaced without this)")
    table.set_defaults(func=cmd_table)
    return parser


def _warning_line(message, category, filename, lineno, line=None):
    return f"mscad: warning: {message}\n"


_UNSET = object()
_INTERRUPTS: list = []  # the Ctrl-Cs this process has had, swallowed or not


def _interrupt_aware_sigint():
    """Handlers for SIGINT (Ctrl-C) and SIGTERM (``kill``, a job scheduler's stop) that
    remember the signal before raising KeyboardInterrupt, so both stop the same way: one
    line, the checkpoint of the last finished epoch kept for --resume, exit status 128 +
    the signal's number (130, 143). A Ctrl-C that lands inside a library's import can be
    swallowed there (a bare ``except``) or surface as another error (AttributeError from
    a half-imported module); remembering it lets the commands stop after their imports.
    Returns the previous handlers, to put back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        _INTERRUPTS.append(signum)
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _stop_status() -> int:
    """128 + the signal that stopped the command (130 for Ctrl-C, 143 for SIGTERM)."""
    import signal

    return 128 + (_INTERRUPTS[-1] if _INTERRUPTS else signal.SIGINT)


def _stop_line() -> str:
    import signal

    return ("stopped by SIGTERM" if _INTERRUPTS and _INTERRUPTS[-1] == signal.SIGTERM
            else "interrupted")


def _stop_if_interrupted():
    """Raise the KeyboardInterrupt that an import swallowed, before any work starts."""
    if _INTERRUPTS:
        raise KeyboardInterrupt


def main(argv=None) -> int:
    import signal
    import warnings

    formatter, warnings.formatwarning = warnings.formatwarning, _warning_line  # one line each
    compile_before = _UNSET
    _INTERRUPTS.clear()
    previous = _interrupt_aware_sigint()
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "compile", None):  # read by mscad.compiled, in this process and its runs
            compile_before = os.environ.get("MSCAD_COMPILE")
            os.environ["MSCAD_COMPILE"] = args.compile
        args.func(args)
        _stop_if_interrupted()  # a Ctrl-C that something swallowed still ends in exit 130
    except Interrupted as e:
        print(f"mscad: {e}", file=sys.stderr)
        return _stop_status()
    except MscadError as e:
        print(f"mscad: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mscad: {_stop_line()}.", file=sys.stderr)
        return _stop_status()
    except Exception:
        if _INTERRUPTS:  # the error a Ctrl-C left behind, not a bug of its own
            print(f"mscad: {_stop_line()}.", file=sys.stderr)
            return _stop_status()
        raise
    finally:
        if compile_before is not _UNSET:  # a library caller's environment as it was
            if compile_before is None:
                os.environ.pop("MSCAD_COMPILE", None)
            else:
                os.environ["MSCAD_COMPILE"] = compile_before
        warnings.formatwarning = formatter
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)
    return 0
