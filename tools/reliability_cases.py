"""Issue 34's cases, run as a user would (a fresh process per command, the quick profile,
real CIFAR-10 images and small folder sets), against the code in ``--code`` (default: this
checkout), each outcome classified: ``right`` (the right result), ``clear`` (an error
whose last line names the problem, no traceback), ``traceback``, ``wrong`` (silently the
wrong result) or ``lost`` (a file that had to survive did not).

    MSCAD_DATA=../shared/data .venv/bin/python tools/reliability_cases.py [--code DIR]

Run it against an older checkout (``git worktree add /tmp/old COMMIT``) for the before
column of the closing note.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

QUICK = ["--profile", "quick", "--quiet", "--epochs", "1", "--batch-size", "4", "--no-cache"]


def shapes(root: Path, classes=("circle", "square", "noise"), extra_train=()) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 4)):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.integers(0, 255, (24, 24, 3)).astype(np.uint8)
                img[:, : 4 * (classes.index(c) + 1)] = 200
                Image.fromarray(img).save(root / split / c / f"{i}.png")
    for name in extra_train:
        (root / "train" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(root / "train" / name / "x.png")
    return root


class Cases:
    def __init__(self, code: Path, data: Path):
        self.code, self.data = code, data
        self.tmp = Path(tempfile.mkdtemp(prefix="mscad-cases-"))
        self.env = dict(os.environ, PYTHONPATH=str(code), MSCAD_DATA=str(data), MSCAD_COMPILE="off",
                        MSCAD_CACHE=str(self.tmp / "cache"), PYTHONWARNINGS="default")

    def sh(self, *args, env=None, timeout=600, **kw):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=self.code,
                              env={**self.env, **(env or {})}, timeout=timeout, **kw)

    def mscad(self, *args, **kw):
        return self.sh("-m", "mscad", *map(str, args), **kw)

    def py(self, code: str, **kw):
        return self.sh("-c", code, **kw)

    @staticmethod
    def error(done, *words) -> str:
        err = done.stderr.strip()
        if "Traceback" in err:
            return "traceback"
        if done.returncode == 0:
            return "wrong (exit 0)"
        last = err.splitlines()[-1] if err else ""
        return "clear" if all(w.lower() in last.lower() for w in words) else f"unclear: {last[:80]}"

    # -------------------------------------------------------------- which class trains
    def cifar_with_checkpoints(self):
        root = self.tmp / "cifar-ckpt" / "cifar10"
        for split in ("train", "test"):
            (root / split).mkdir(parents=True)
            for c in sorted(os.listdir(self.data / "cifar10" / split)):
                os.symlink(self.data / "cifar10" / split / c, root / split / c)
        (root / "train" / ".ipynb_checkpoints").mkdir()
        out = self.tmp / "ckpt.json"
        done = self.mscad("run", "--dataset", "cifar10", "--normal-class", "3", "--objective", "dn2",
                          *QUICK, "--out", out, env={"MSCAD_DATA": str(root.parent)})
        if done.returncode:
            return self.error(done)
        trained = json.loads(out.read_text())["target_class"]
        return "right" if trained == "cat" else f"wrong (trained {trained})"

    def macosx_folder(self):
        root = shapes(self.tmp / "mac", extra_train=("__MACOSX",))
        out = self.tmp / "mac.json"
        done = self.mscad("run", "--dataset", root, "--normal-class", "0", "--objective", "dn2", *QUICK,
                          "--out", out)
        if done.returncode:
            return self.error(done, "circle")  # a name is asked for, the classes listed
        return f"wrong (trained {json.loads(out.read_text())['target_class']})"

    def numeric_folder_names(self):
        root = shapes(self.tmp / "num", classes=("0", "2", "3"))
        out = self.tmp / "num.json"
        done = self.mscad("run", "--dataset", root, "--normal-class", "1", "--objective", "dn2", *QUICK,
                          "--out", out)
        if done.returncode:
            return self.error(done, "0", "2", "3")
        return f"wrong (trained {json.loads(out.read_text())['target_class']})"

    def sweep_numeric_class(self):
        root = shapes(self.tmp / "num2", classes=("0", "2", "3"))
        done = self.mscad("sweep", "--dataset", root, "--classes", "1", "--objectives", "dn2",
                          "--profile", "quick", "--quiet", "--out-dir", self.tmp / "num2-out")
        if done.returncode:
            return self.error(done)
        return "wrong: " + ", ".join(p.name for p in (self.tmp / "num2-out").rglob("*.json"))

    # -------------------------------------------------------------- nothing lost
    def two_runs_one_out(self):
        root = shapes(self.tmp / "two")
        out = self.tmp / "two.json"
        args = ["-m", "mscad", "run", "--dataset", str(root), "--normal-class", "circle", "--objective",
                "msc", "--profile", "quick", "--quiet", "--epochs", "3", "--batch-size", "4",
                "--no-cache", "--out", str(out)]
        procs = [subprocess.Popen([sys.executable, *args, "--seed", str(s)], cwd=self.code, env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in (0, 1)]
        results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
        codes = sorted(r[2] for r in results)
        if codes == [0, 0]:
            return "lost (both exit 0, one result)"
        refused = [r for r in results if r[2] != 0]
        return "clear" if refused and "another run" in refused[0][1] else f"unclear: {refused[0][1][-80:]}"

    def table_over_result(self):
        root = shapes(self.tmp / "tab")
        res = self.tmp / "tab-res"
        self.mscad("run", "--dataset", root, "--normal-class", "circle", "--objective", "dn2", *QUICK,
                   "--out", res / "cat.json")
        before = (res / "cat.json").read_text()
        done = self.mscad("table", res, "--out", res / "cat.json")
        if (res / "cat.json").read_text() != before and not (res / "cat.json.replaced").exists():
            return "lost (result overwritten with the table)"
        return self.error(done, "--overwrite")

    def file_size_limit(self):
        root = shapes(self.tmp / "fsize")
        code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
                "from mscad.cli import main; "
                f"sys.exit(main(['run', '--dataset', {str(root)!r}, '--normal-class', 'circle', "
                f"'--objective', 'msc', *{QUICK!r}, '--keep-checkpoint', '--out', {str(self.tmp / 'fs.json')!r}]))")
        done = self.py(code)
        left = list(self.tmp.glob("fs*.tmp"))
        if left:
            return f"lost (partial {left[0].name} left)"
        return self.error(done, "could not write")

    def sweep_after_failed_write(self):
        """Every result write fails (a 300-byte file-size limit): each run is recorded as failed,
        the sweep goes on to the next and ends with its summary."""
        root = shapes(self.tmp / "sw")
        out = self.tmp / "sw-out"
        code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                "resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300)); "
                "from mscad.cli import main; "
                f"sys.exit(main(['sweep', '--dataset', {str(root)!r}, '--classes', 'circle,square', "
                f"'--objectives', 'dn2', '--profile', 'quick', '--quiet', '--out-dir', {str(out)!r}]))")
        done = self.py(code, env={"MSCAD_NO_CACHE": "1"})
        if "Traceback" in done.stderr:
            return "traceback"
        both = "circle" in done.stderr and "square" in done.stderr
        return "clear" if done.returncode == 2 and both and "2 run(s) failed" in done.stderr else \
            f"unclear (exit {done.returncode}: {done.stderr.strip().splitlines()[-1][:80] if done.stderr.strip() else ''})"

    # -------------------------------------------------------------- readers
    def _result_folder(self, name: str, mutate):
        root = shapes(self.tmp / f"rd-{name}")
        res = self.tmp / f"rd-{name}-res"
        for c in ("circle", "square"):
            self.mscad("run", "--dataset", root, "--normal-class", c, "--objective", "dn2", *QUICK,
                       "--out", res / f"{c}.json")
        mutate(res)
        return self.mscad("table", res)

    def newer_schema(self):
        def mutate(res):
            d = json.loads((res / "square.json").read_text())
            d["schema"], d["auroc"] = 99, 62.5
            (res / "square.json").write_text(json.dumps(d))
        done = self._result_folder("schema", mutate)
        if "6250" in done.stdout or "3156" in done.stdout or "62.5" in done.stdout:
            return "wrong (averaged)"
        return "right" if done.returncode == 0 and "square.json" in done.stderr else self.error(done)

    def nan_auroc(self):
        def mutate(res):
            text = (res / "square.json").read_text()
            d = json.loads(text)
            (res / "square.json").write_text(text.replace(json.dumps(d["auroc"]), "NaN", 1))
        done = self._result_folder("nan", mutate)
        return "right" if done.returncode == 0 and "square.json" in done.stderr else (
            "wrong (left out without a word)" if done.returncode == 0 else self.error(done))

    def folder_named_json(self):
        done = self._result_folder("dir", lambda res: (res / "sub.json").mkdir())
        if "Traceback" in done.stderr:
            return "traceback"
        return "right" if done.returncode == 0 and "sub.json" in done.stderr else self.error(done)

    # -------------------------------------------------------------- the detector
    DET = ("import numpy as np\nfrom mscad.detector import MSCDetector\n"
           "x = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)\n")

    def _det(self, body: str):
        """A library call as a user makes it: an MscadError is caught and its message is
        the last line (what a user's own except clause would print)."""
        code = ("import sys\nfrom mscad.errors import MscadError\ntry:\n"
                + "".join(f"    {line}\n" for line in (self.DET + body).splitlines())
                + "except MscadError as e:\n    print(e, file=sys.stderr); sys.exit(2)\n")
        return self.py(code)

    def detector_pickle(self):
        done = self._det("import pickle\nd = MSCDetector(objective='dn2', profile='quick', image_size=32).fit(x)\n"
                         "e = pickle.loads(pickle.dumps(d))\n"
                         "assert (e.decision_function(x[:3]) == d.decision_function(x[:3])).all(); print('ok')")
        return "right" if "ok" in done.stdout else ("traceback" if "Traceback" in done.stderr else "wrong")

    def detector_grid_search(self):
        body = ("import warnings; warnings.simplefilter('ignore')\n"
                "from sklearn.model_selection import GridSearchCV, StratifiedKFold\n"
                "from mscad.data import one_class_data\n"
                "d = one_class_data('cifar10', 'airplane', image_size=32, train_limit=10, test_limit=60, seed=0)\n"
                "X, y = d.test.numpy(), np.asarray(d.test_labels)\n"
                "g = GridSearchCV(MSCDetector(objective='dn2', profile='quick', image_size=32), {'k': [1, 2]},"
                " scoring='roc_auc', cv=StratifiedKFold(3, shuffle=True, random_state=0)).fit(X, y)\n"
                "print('scores', g.cv_results_['mean_test_score'])")
        done = self._det(body)
        if "Traceback" in done.stderr:
            return "traceback"
        return "wrong (NaN)" if "nan" in done.stdout else "right"

    def _images(self, expr: str, want_error: str | None):
        done = self._det(f"import torch\nd = MSCDetector(objective='dn2', profile='quick', image_size=32)\n"
                         f"d.fit({expr}); print('fitted')")
        if want_error is None:
            return "right" if "fitted" in done.stdout else self.error(done)
        if "fitted" in done.stdout:
            return "wrong (fitted)"
        return self.error(done, want_error)

    def bool_images(self):
        return self._images("x > 127", "boolean")

    def uint16_images(self):
        return self._images("x.astype(np.uint16)", None)

    def meta_images(self):
        return self._images("torch.zeros(12, 32, 32, 3, device='meta')", "meta")

    def detector_error_names_parameters(self):
        done = self._det("MSCDetector(objective='msc', profile='quick', image_size=32, momentum=1.5).fit(x)")
        err = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        if "--momentum" in err:
            return "wrong (names the CLI flag)"
        return "right" if "momentum" in err else f"unclear: {err[:80]}"

    # -------------------------------------------------------------- book tooling
    def _book(self, *args, words=()):
        done = self.sh(*args)
        lines = done.stderr.strip().splitlines()
        if "Traceback" in done.stderr:
            return f"traceback ({len(lines)} lines)"
        return "clear" if done.returncode and len(lines) == 1 and all(w in lines[0] for w in words) else \
            f"unclear ({len(lines)} lines)"

    def execute_missing(self):
        return self._book("book/execute.py", "book/nope.ipynb", words=("no such file",))

    def execute_not_notebook(self):
        return self._book("book/execute.py", "README.md", words=("not a Jupyter notebook",))

    def execute_cells_99(self):
        return self._book("book/execute.py", "book/01_dn2.ipynb", "--cells", "99", words=("out of range",))

    def student_edition_onto_file(self):
        target = self.tmp / "edition-file"
        target.write_text("x")
        return self._book("book/student_edition.py", str(target), words=("file",))

    # -------------------------------------------------------------- smaller
    def sigterm(self):
        import signal
        import time

        root = shapes(self.tmp / "term")
        out, ckpt = self.tmp / "term.json", self.tmp / "term.ckpt"
        p = subprocess.Popen([sys.executable, "-m", "mscad", "run", "--dataset", str(root), "--normal-class",
                              "circle", "--objective", "msc", "--profile", "quick", "--quiet", "--epochs",
                              "500", "--batch-size", "4", "--no-cache", "--out", str(out)],
                             cwd=self.code, env=self.env, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while not ckpt.exists() and time.time() < deadline:
            time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=120)[1]
        if p.returncode == 143 and "Traceback" not in err and "--resume" in err and ckpt.exists():
            return "clear"
        return f"unclear (exit {p.returncode}, {len(err.splitlines())} lines)"

    def momentum_15(self):
        root = shapes(self.tmp / "mom")
        done = self.mscad("run", "--dataset", root, "--normal-class", "circle", "--objective", "msc", *QUICK,
                          "--momentum", "1.5", "--out", self.tmp / "mom.json")
        return self.error(done, "momentum")

    def empty_class_list(self):
        root = shapes(self.tmp / "empty")
        done = self.mscad("sweep", "--dataset", root, "--classes", "", "--objectives", "dn2", "--profile",
                          "quick", "--quiet", "--out-dir", self.tmp / "empty-out")
        return self.error(done, "classes")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--code", default=str(Path(__file__).resolve().parents[1]))
    p.add_argument("--only", default=None)
    a = p.parse_args(argv)
    data = Path(os.environ.get("MSCAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    cases = Cases(Path(a.code).resolve(), data)
    names = [n for n in vars(Cases) if not n.startswith("_") and callable(getattr(Cases, n))
             and n not in ("sh", "mscad", "py", "error", "DET")]
    results = {}
    for name in names:
        if a.only and a.only not in name:
            continue
        try:
            results[name] = getattr(cases, name)()
        except Exception as e:  # noqa: BLE001 - the harness's own failure is a finding too
            results[name] = f"harness: {type(e).__name__}: {str(e)[:80]}"
        print(f"{name:34s} {results[name]}", flush=True)
    return results


if __name__ == "__main__":
    main()
