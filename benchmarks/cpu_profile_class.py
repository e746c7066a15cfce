"""One CIFAR-10 class at the cpu profile: wall time, peak memory and ROC-AUC at epoch 0 and
at the end, for msc, contrastive and center. Each objective runs in its own process so
its peak memory (max RSS) is its own; results go to results/cpu-profile-class/.

    MSCAD_DATA=../shared/data .venv/bin/python benchmarks/cpu_profile_class.py --normal-class airplane
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from mscad.config import TrainConfig
from mscad.results import write_result
from mscad.train import fine_tune
cfg = TrainConfig(dataset="cifar10", normal_class=sys.argv[1], objective=sys.argv[2], profile="cpu")
t = time.time()
result = fine_tune(cfg, progress=False).result
result["benchmark"] = dict(wall_s=time.time() - t,
                           peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
write_result(result, sys.argv[3])
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--normal-class", default="airplane")
    p.add_argument("--objectives", default="msc,contrastive,center")
    a = p.parse_args()
    out_dir = Path("results/cpu-profile-class")
    rows = []
    for objective in a.objectives.split(","):
        out = out_dir / f"{objective}-{a.normal_class}.json"
        if not out.exists():
            subprocess.run([sys.executable, "-c", CHILD, a.normal_class, objective, str(out)], check=True)
        r = json.loads(out.read_text())
        rows.append((objective, r))
    c = rows[0][1]["config"]
    print(f"CIFAR-10 (JPEG copy) '{a.normal_class}', cpu profile: {c['image_size']}px, {c['epochs']} epochs, "
          f"{rows[0][1]['data']['n_train']} train / {rows[0][1]['data']['n_test']} test images")
    print(f"{'objective':<12}{'epoch 0':>9}{'final':>9}{'best':>9}{'wall s':>9}{'peak MB':>9}")
    for objective, r in rows:
        best = max(h["auroc"] for h in r["history"] if h["auroc"] is not None)
        print(f"{objective:<12}{100 * r['history'][0]['auroc']:9.2f}{100 * r['auroc']:9.2f}{100 * best:9.2f}"
              f"{r['benchmark']['wall_s']:9.0f}{r['benchmark']['peak_rss_mb']:9.0f}")


if __name__ == "__main__":
    main()
