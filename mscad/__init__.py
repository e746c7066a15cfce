"""mscad: deep one-class anomaly detection with the Mean-Shifted Contrastive loss.

Three layers, each importing only from the ones below it (docs/architecture.md):

- ``mscad`` itself, the library a user imports: data, augment, backbones, model, losses,
  objectives, scoring, metrics, config, results, fitted, the engine that fits
  (:mod:`mscad.engine`) and the detector (:mod:`mscad.detector`);
- ``mscad.experiment``, the paper's experiment machinery on top of it: the experiment
  (``train.fine_tune``: evaluation each epoch, checkpoints and the run cache as hooks on
  the engine), cache, sweep, the command line, result collection, statistics, the
  paper's tables and the selection protocol;
- ``mscad.book``, the book's helpers: claims, plots, probes, the toy, exercises, chapter
  setup and the report.

The modules of the upper two layers also answer to their names from before the split
(``mscad.train`` is ``mscad.experiment.train``), so code and notebooks written then keep
working. The names below are imported on first use, so ``python -m mscad`` starts (and
answers Ctrl-C) before torch is loaded.
"""
import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.2.0"
_EXPORTS = {"MscadError": "errors", "angular_center_loss": "losses", "center_loss": "losses",
            "contrastive_loss": "losses", "msc_loss": "losses", "kmeans_scores": "scoring",
            "knn_scores": "scoring", "MSCDetector": "detector", "TrainConfig": "config",
            "fit": "engine", "fine_tune": "experiment.train"}
__all__ = list(_EXPORTS)

# module -> its layer's subpackage, for the names from before the split
MOVED = {**{m: "experiment" for m in ("cache", "cli", "collect", "orderings", "paper", "protocol",
                                      "stats", "sweep", "train")},
         **{m: "book" for m in ("claims", "exercises", "notebook", "plots", "probes", "report",
                                "toy")}}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mscad' has no attribute {name!r}")


class _OldName(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import mscad.train`` gives the module ``mscad.experiment.train`` itself (one
    module object under two names: a monkeypatch through either name reaches both)."""

    own_specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        head, _, name = fullname.partition(".")
        if head == __name__ and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        name = spec.name.partition(".")[2]
        module = importlib.import_module(f"{__name__}.{MOVED[name]}.{name}")
        self.own_specs[spec.name] = module.__spec__  # per name: safe across threads
        return module

    def exec_module(self, module):
        # already executed under its own name; the import system has just given it the
        # old name's spec: give its own back (relative imports and pickle read it)
        module.__spec__ = self.own_specs.get(module.__spec__.name, module.__spec__)


if not any(isinstance(finder, _OldName) for finder in sys.meta_path):
    sys.meta_path.append(_OldName())
