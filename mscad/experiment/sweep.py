"""Many experiments into one results folder: the plan, the rules, and two launchers.

The rules, the same for every launcher: a stored result is reused only when its
settings match the ones asked for; a stale or unreadable result is set aside (renamed,
never deleted) and run again; an unreadable checkpoint is set aside and that run starts
afresh; a run with a checkpoint resumes from it; a failed run is reported by name with
its error and does not stop the others.

Launchers: ``local`` runs the experiments one after another in this process; ``ray``
makes each experiment one Ray task (Ray Core: the experiments are independent
functions that write their own files, so Ray Tune's trial and search machinery would
only duplicate the resume logic here). Results and checkpoints are written with the
same atomic writer, into a folder every worker must reach (a shared file system).
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import (CheckpointError, CheckpointMismatchError, CorruptResultError, Interrupted,
                     MscadError)

LAUNCHERS = ("local", "ray")
LOCK_NAME = ".mscad-sweep.lock"


@contextmanager
def sweep_lock(out_dir: Path):
    """One sweep at a time per results folder: an advisory lock (:func:`file_lock`) on
    ``OUT_DIR/.mscad-sweep.lock``, held by the process that plans and launches the runs (the
    Ray driver too). A second sweep over the folder is refused with the holder's process id
    and host. What it covers: sweeps started on one machine, and on a shared file system
    whose server honours flock (NFSv4, Lustre, BeeGFS with locking on); it does not stop a
    lone ``mscad run --out`` into the folder, nor sweeps on file systems without locks.
    The lock is released when the process ends, however it ends."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(out_dir / LOCK_NAME, f"another sweep is writing into {out_dir}",
                   "wait for it to finish, or give another --out-dir"):
        yield


@contextmanager
def file_lock(path: Path, busy: str, fix: str):
    """An advisory lock (``fcntl.flock``) on ``path``, held while the block runs; if
    another process holds it, :class:`MscadError` "``busy`` (its pid and host); ``fix``"."""
    import fcntl
    import socket

    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        import errno

        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            # a file system without locks (NFSv3 without lockd): not covered, say so and go on
            print(f"mscad: warning: {path} cannot be locked ({e.strerror}); two processes "
                  "writing there at once would not be stopped.", file=sys.stderr)
            handle.close()
            yield
            return
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise MscadError(f"{busy} ({holder}); {fix}.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    try:
        yield
    finally:
        handle.close()  # releases the lock


def stored_result_state(out: Path, cfg) -> tuple[str, str]:
    """('missing' | 'done' | 'corrupt' | 'stale', why) for a sweep's result file."""
    from ..config import result_differences
    from ..results import load_result

    if not out.exists():
        return "missing", ""
    try:
        stored = load_result(out)
    except CorruptResultError as e:
        return "corrupt", str(e)
    diff = result_differences(stored, cfg.as_dict())
    return ("stale", "; ".join(diff)) if diff else ("done", "")


def run_job(out: str, cfg, progress: bool = False, cache: bool | None = None,
            threads: int | None = None) -> dict:
    """One experiment of a sweep, start to result file; on a worker or in this process.
    Returns {"out", "status": "ran" | "failed", "auroc", "wall_s", "error", "note"}."""
    import torch

    from ..results import set_aside, write_result
    from .train import fine_tune

    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    checkpoint = out.with_name(out.stem + ".ckpt")
    note = ""
    try:
        try:
            run = fine_tune(cfg, checkpoint=checkpoint, resume=True, progress=progress, cache=cache)
        except CheckpointError as e:
            kept = set_aside(checkpoint, "stale" if isinstance(e, CheckpointMismatchError) else "unreadable")
            note = f"{e} Kept as {kept.name}; that run started afresh."
            run = fine_tune(cfg, checkpoint=checkpoint, resume=True, progress=progress, cache=cache)
        write_result(run.result, out)
    except MscadError as e:
        return dict(out=str(out), status="failed", auroc=None, wall_s=None, error=str(e), note=note)
    checkpoint.unlink(missing_ok=True)
    return dict(out=str(out), status="ran", auroc=run.auroc, wall_s=run["wall_s"], error=None, note=note)


def _describe(cfg) -> str:
    return f"{cfg.backbone} {cfg.objective} {cfg.normal_class or cfg.anomalous_class}"


def run_sweep(jobs: list, launcher: str = "local", quiet: bool = False, address: str | None = None,
              max_parallel: int | None = None, cpus_per_task: int = 1) -> dict:
    """Run the (out file, resolved TrainConfig) ``jobs`` by the rules above; returns the
    counts and the failures."""
    from tqdm import tqdm

    from .cache import cache_enabled
    from ..results import set_aside

    if launcher not in LAUNCHERS:
        raise MscadError(f"unknown launcher {launcher!r}; known launchers: {', '.join(LAUNCHERS)}.")
    pending, summary = [], dict(total=len(jobs), ran=0, reused=0, replaced=0, failed=[])
    for out, cfg in jobs:
        state, why = stored_result_state(out, cfg)
        if state == "done":
            summary["reused"] += 1
            continue
        if state in ("corrupt", "stale"):
            kept = set_aside(out, state)
            summary["replaced"] += 1
            print(f"mscad: {out} was {state} ({why}); kept as {kept.name}, running it again.",
                  file=sys.stderr)
        pending.append((out, cfg))
    cache = cache_enabled()

    def report(cfg, outcome):
        if outcome["note"]:
            tqdm.write(f"mscad: {outcome['note']}", file=sys.stderr)
        if outcome["status"] == "failed":
            summary["failed"].append((outcome["out"], outcome["error"]))
            tqdm.write(f"mscad: {_describe(cfg)} failed: {outcome['error']}", file=sys.stderr)
            return
        summary["ran"] += 1
        if not quiet:
            tqdm.write(f"{_describe(cfg)}: ROC-AUC {100 * outcome['auroc']:.2f}% ({outcome['wall_s']} s)")

    if launcher == "local":
        for out, cfg in tqdm(pending, desc="sweep", disable=quiet):
            try:
                report(cfg, run_job(str(out), cfg, progress=not quiet, cache=cache))
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted during {out}; run the same sweep command again to "
                                 "continue (finished runs are kept, this one resumes).") from None
    else:
        _run_on_ray(pending, report, quiet, address, max_parallel, cpus_per_task, cache)
    return summary


def _run_on_ray(pending, report, quiet, address, max_parallel, cpus_per_task, cache):
    try:
        import ray
    except ImportError:
        raise MscadError("the ray launcher needs Ray: pip install 'mscad[ray]' (or pip install ray)."
                         ) from None
    from tqdm import tqdm

    env = {k: os.environ[k] for k in ("MSCAD_DATA", "MSCAD_CACHE", "MSCAD_PROFILE", "MSCAD_NO_CACHE",
                                      "MSCAD_COMPILE") if k in os.environ}
    if not ray.is_initialized():
        try:
            ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=not quiet,
                     include_dashboard=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise MscadError(f"cannot reach a Ray cluster at {address or 'a new local instance'} "
                             f"({type(e).__name__}: {e}); start one with `ray start --head` or give "
                             "--address.") from None
    task = ray.remote(run_job)
    in_flight, queue = {}, list(pending)
    limit = max_parallel or len(queue) or 1
    bar = tqdm(total=len(queue), desc="sweep (ray)", disable=quiet)
    try:
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                out, cfg = queue.pop(0)
                gpu = str(cfg.device).startswith("cuda")
                options = dict(num_gpus=1, num_cpus=1) if gpu else dict(num_cpus=cpus_per_task)
                ref = task.options(**options, max_retries=0).remote(
                    str(out), cfg, False, cache, None if gpu else cpus_per_task)
                in_flight[ref] = cfg
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                cfg = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as e:  # a crash, not an MscadError
                    message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                    outcome = dict(out=_describe(cfg), status="failed", error=message, note="")
                report(cfg, outcome)
                bar.update()
    except KeyboardInterrupt:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        raise Interrupted("interrupted; run the same sweep command again to continue (finished runs "
                         "are kept, interrupted ones resume from their checkpoints).") from None
    finally:
        bar.close()
