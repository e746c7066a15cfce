"""The same `quick` sweep of 8 experiments with the local launcher and on a local Ray
instance with 2 CPUs, in one process; prints both wall times and Ray's overhead.

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/sweep_launchers.py

Each run is trained (the run cache is off); Ray's time includes starting the instance.
Goal (issue 15): Ray adds <= 20%.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ["MSCAD_NO_CACHE"] = "1"

from mscad.cli import main as mscad  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--classes", default="airplane,automobile")
    p.add_argument("--objectives", default="dn2,center,contrastive,msc")
    a = p.parse_args()
    import ray

    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for launcher in ("local", "ray"):
            args = ["sweep", "--dataset", "cifar10", "--classes", a.classes, "--objectives", a.objectives,
                    "--profile", "quick", "--quiet", "--out-dir", str(Path(tmp) / launcher),
                    "--launcher", launcher]
            start = time.perf_counter()
            if launcher == "ray":
                ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
            assert mscad(args) == 0
            seconds[launcher] = time.perf_counter() - start
        ray.shutdown()
    n = len(a.classes.split(",")) * len(a.objectives.split(","))
    print(f"{n} quick-profile experiments, 2 CPUs: local {seconds['local']:.1f} s, "
          f"Ray {seconds['ray']:.1f} s (2 tasks at once, 1 CPU each, start-up included)")
    print(f"Ray / local: {seconds['ray'] / seconds['local']:.2f}  (overhead "
          f"{100 * (seconds['ray'] / seconds['local'] - 1):+.0f}%; goal <= +20%)")


if __name__ == "__main__":
    main()
