"""A detector with scikit-learn's parameters and PyOD's vocabulary, around the whole method.

    det = MSCDetector(objective="msc").fit("my_normal_images/")
    scores = det.decision_function("new_images/")  # higher = more anomalous (PyOD's sign)
    flags = det.predict("new_images/")             # 1 = anomalous, 0 = normal
    det.decision_scores_, det.threshold_, det.labels_   # the training images', after fit
    det.save("detector.pt"); det = MSCDetector.load("detector.pt")

The keyword parameters are stored as given (``get_params``/``set_params``/``clone`` work);
they are resolved (profile defaults, device) in :meth:`MSCDetector.fit`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

import dataclasses
import re
import time

from . import engine
from .config import TrainConfig
from .errors import MscadError, NonFiniteError
from .fitted import FittedModel, read_fitted
from .images import as_images
from .model import extract_features
from .provenance import code_provenance, environment
from .results import RunResult, atomic_write, check_writable, result_json
from .scoring import SCORERS, get_scorer

# The detector's parameters that are settings of the fit (TrainConfig fields): derived
# from the two signatures, so a setting added to both needs no third list.
CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))

FORMAT = "mscad-detector/2"  # /1 (before the fitted model) is read too
FORMATS = ("mscad-detector/1", FORMAT)
# Scores are sums of cosine distances computed in float32: two copies of one image score
# ~1e-7 apart, not 0. A score must exceed the threshold by more than this to be flagged,
# so float noise never decides (six copies of one training image stay normal).
SCORE_TOLERANCE = 1e-5


def _plain(value):
    """numpy scalars (a grid search's parameters) as the JSON numbers they are."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a parameter mscad can save")


class MSCDetector(BaseEstimator):
    """Fit on normal images only; score new images (Eq. 5 on the fine-tuned features).

    ``objective``: any of mscad's objectives (``dn2`` = no fine-tuning). ``profile``,
    ``epochs``, ``image_size``, ``batch_size``, ``lr``, ``momentum`` (``None``: from the
    profile and the objective), ``weight_decay``, ``temperature``, ``k``, ``seed``,
    ``pretrained``, ``device``, ``precision``, ``clip_grad_norm``: as in
    :class:`mscad.config.TrainConfig`.
    ``scorer``: ``knn`` (Eq. 5), ``kmeans`` (Table 6) or ``euclidean``.
    ``contamination``: the share of training images above the threshold of
    :meth:`predict` (PyOD's parameter; 0.05 = the 95th percentile of the training
    images' own scores); ``threshold_percentile``, if given, sets that percentile instead.
    Images may be a folder or an image file, a list of PIL images or of (H, W, 3) arrays
    (uint8, or float in [0, 1]), a uint8 array (N, H, W, 3) or a torch Dataset.
    """

    def __init__(self, objective: str = "msc", backbone: str | None = None, profile: str | None = None,
                 epochs: int | None = None, image_size: int | None = None,
                 batch_size: int | None = None, lr: float | None = None,
                 momentum: float | None = None, weight_decay: float = 5e-5,
                 temperature: float = 0.25, k: int = 2, seed: int = 0, pretrained: bool = True,
                 scorer: str = "knn", contamination: float = 0.05,
                 threshold_percentile: float | None = None, device: str | None = None,
                 precision: str | None = None, progress: bool = False,
                 clip_grad_norm: float | None = None):
        for name, value in dict(locals()).items():  # stored as given (scikit-learn's rule)
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------ settings
    def _resolve(self, device: str | None = None) -> TrainConfig:
        """The parameters as one resolved TrainConfig (checked here, not in __init__)."""
        if self.scorer not in SCORERS:
            get_scorer(self.scorer)  # raises, naming the known scorers
        settings = {name: getattr(self, name) for name in self._get_param_names()
                    if name in CONFIG_FIELDS}
        settings["device"] = device or self.device
        return TrainConfig(dataset="<in memory>", normal_class="normal", train_limit=0,
                           test_limit=0, **settings).resolved()

    def _percentile(self) -> float:
        if self.threshold_percentile is not None:
            if not 0 < self.threshold_percentile <= 100:
                raise MscadError("threshold_percentile must be in (0, 100], got "
                                 f"{self.threshold_percentile}.")
            return float(self.threshold_percentile)
        if not 0 < self.contamination <= 0.5:
            raise MscadError(f"contamination must be in (0, 0.5] (PyOD's range), got {self.contamination}.")
        return 100.0 * (1.0 - self.contamination)

    @property
    def config(self) -> TrainConfig:
        """The resolved settings of the fitted detector."""
        self._check_fitted()
        return self.config_

    # ------------------------------------------------------------ fit / score
    def _in_parameters(self, error: MscadError) -> MscadError:
        """The settings' message with the estimator's parameter names in place of command-line
        flags (``--batch-size`` -> ``batch_size``): a library user never typed a flag."""
        names = set(self._get_param_names())

        def name(m):
            param = m.group(1).replace("-", "_")
            return param if param in names else {"train_limit": "the number of images"}.get(param, param)

        return type(error)("MSCDetector: " + re.sub(r"--([a-z][a-z-]*)", name, str(error)))

    def fit(self, x, y=None):
        """Fine-tune on ``x`` (normal images only; ``y`` is ignored, as in PyOD), then
        keep the gallery and set ``decision_scores_``, ``threshold_`` and ``labels_``."""
        percentile = self._percentile()
        try:
            cfg = self._resolve()
        except MscadError as e:
            raise self._in_parameters(e) from None
        train = as_images(x, cfg.image_size)
        if len(train) <= cfg.k:
            raise MscadError(f"fit needs more than k={cfg.k} normal images, got {len(train)}.")
        get_scorer(self.scorer, k=cfg.k).check(len(train))  # before any training
        started = time.time()
        try:  # a batch larger than the images shrinks to them; k must fit the gallery
            fit_cfg = cfg.for_train_set(len(train))
        except MscadError as e:
            raise self._in_parameters(e) from None
        try:  # the engine alone: no evaluation, checkpoint or run cache (an experiment's hooks)
            state = engine.fit(fit_cfg, train, bar=self._bar if self.progress else None)
        except NonFiniteError as e:
            if not e.diverged:
                raise
            raise MscadError(f"{e}; lower lr (now {fit_cfg.lr:g}), or set "
                             f"clip_grad_norm (now {fit_cfg.clip_grad_norm:g}), and fit again.") from None
        self.config_ = fit_cfg
        self.result_ = RunResult(
            auroc=None, history=state.history, config=fit_cfg.as_dict(), target_class="normal",
            data=dict(summary=f"{len(train)} normal images", n_train=len(train), n_test=0,
                      batch_size_requested=cfg.batch_size),
            environment=dict(environment(), compile=state.compile_status()),
            wall_s=round(time.time() - started, 1), code=code_provenance())
        gallery = extract_features(state.model, train, cfg.image_size, device=cfg.device,
                                   precision=cfg.precision)
        self.fitted_ = state.fitted
        self._set_scorer(gallery)
        self.decision_scores_ = self.scorer_.training_scores()
        self.threshold_ = float(np.percentile(self.decision_scores_, percentile))
        self.labels_ = self._labels(self.decision_scores_)
        return self

    @staticmethod
    def _bar(epochs, first, last):
        from tqdm import tqdm

        return tqdm(epochs, desc="fit", initial=first - 1, total=last)

    # the fitted model's parts, under scikit-learn's fitted names
    @property
    def model_(self):
        """The fine-tuned :class:`mscad.model.FeatureModel`."""
        return self.fitted_.features

    @model_.setter
    def model_(self, model):
        self.fitted_.features = model

    @property
    def gallery_(self) -> np.ndarray:
        """The training images' features: the kNN gallery (Eq. 5)."""
        return self.fitted_.gallery.cpu().numpy()

    @gallery_.setter
    def gallery_(self, gallery):
        self._set_scorer(np.asarray(gallery, dtype=np.float32))

    @property
    def threshold_(self) -> float:
        """The score above which :meth:`predict` says anomalous."""
        return float(self.fitted_.threshold)

    @threshold_.setter
    def threshold_(self, value: float):
        self.fitted_.threshold = torch.tensor(float(value), dtype=torch.float64)

    def _set_scorer(self, gallery: np.ndarray):
        self.fitted_.gallery = torch.from_numpy(np.ascontiguousarray(gallery))
        self.scorer_ = get_scorer(self.scorer, k=self.config_.k, device=self.config_.device).fit(gallery)

    def _labels(self, scores: np.ndarray) -> np.ndarray:
        return (scores > self.threshold_ + SCORE_TOLERANCE).astype(int)

    def _check_fitted(self):
        if getattr(self, "fitted_", None) is None or self.fitted_.gallery is None:
            raise MscadError("this detector is not fitted yet; call fit(normal_images) first.")

    def decision_function(self, x) -> np.ndarray:
        """Anomaly score of each image (Eq. 5 with the default scorer): higher = more
        anomalous (PyOD's convention)."""
        self._check_fitted()
        cfg = self.config_
        feats = extract_features(self.model_, as_images(x, cfg.image_size), cfg.image_size,
                                 device=cfg.device, precision=cfg.precision)
        return self.scorer_.score(feats)

    def score_samples(self, x) -> np.ndarray:
        """The same anomaly score as :meth:`decision_function` (higher = more anomalous)."""
        return self.decision_function(x)

    def predict(self, x) -> np.ndarray:
        """1 = anomalous (score above ``threshold_``), 0 = normal."""
        return self._labels(self.decision_function(x))

    # ------------------------------------------------------------ save / load
    def _saved_state(self) -> dict:
        """The detector as plain tensors and strings (the file's content, and pickle's)."""
        fitted = {k: v.cpu() for k, v in self.fitted_.state_dict().items()}  # loads anywhere
        return dict(format=FORMAT, fitted=fitted,
                    decision_scores=torch.from_numpy(self.decision_scores_),
                    config=json.dumps(self.config_.as_dict()),
                    params=json.dumps(self.get_params(), default=_plain), result=result_json(self.result_))

    def save(self, path: str | Path) -> Path:
        """Weights, gallery, threshold and settings in one file that loads without pickle
        (``torch.load(weights_only=True)``): safe to share."""
        self._check_fitted()
        path = check_writable(path, flag="path to detector.save")
        state = self._saved_state()
        return atomic_write(path, lambda tmp: torch.save(state, tmp), "the detector")

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> "MSCDetector":
        """A detector saved by :meth:`save`; scores equal those before saving. Any file
        that is not a complete detector file is one :class:`MscadError` sentence."""
        from .config import resolve_device

        path = Path(path)
        if not path.is_file():
            raise MscadError(f"no detector file {path}; save one with detector.save(path).")
        device = resolve_device(device)  # a device problem is not the file's
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return cls._from_saved_state(state, device)
        except MscadError as e:
            raise MscadError(f"{path} is not an mscad detector file, or a damaged one ({e})") from None
        except Exception as e:  # noqa: BLE001 - truncated, edited, another backbone, a pickle
            # (torch's own text would advise weights_only=False, i.e. running the file's code)
            what = "a missing entry " + str(e) if isinstance(e, KeyError) else type(e).__name__
            raise MscadError(f"{path} is not an mscad detector file, or a damaged one ({what}); "
                             "save one with detector.save(path).") from None

    @classmethod
    def _from_saved_state(cls, state: dict, device: str) -> "MSCDetector":
        if not isinstance(state, dict) or state.get("format") not in FORMATS:
            raise ValueError(f"format {state.get('format') if isinstance(state, dict) else None!r}")
        settings = json.loads(state["config"])
        params = json.loads(state["params"]) if "params" in state else {
            "threshold_percentile": state["threshold_percentile"]}  # files from before params
        det = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
        for key in ("objective", "backbone", "k", "image_size", "pretrained"):  # what the model is
            setattr(det, key, settings.get(key, getattr(det, key)))
        det.device = device
        if str(settings.get("device") or "cpu").split(":")[0] != device.split(":")[0]:
            settings["precision"] = None  # saved on another kind of device: by capability
        settings["device"] = device
        det.config_ = TrainConfig.from_dict(settings).resolved()
        det.fitted_ = FittedModel.from_state_dict(read_fitted(state), det.config_.backbone)
        gallery = det.fitted_.gallery.numpy()
        det.result_ = RunResult.from_dict(json.loads(state["result"]))
        det.fitted_.features.to(det.config_.device).eval()
        det._set_scorer(gallery)
        scores = state.get("decision_scores")
        det.decision_scores_ = (scores.numpy() if scores is not None
                                else det.scorer_.training_scores())
        det.labels_ = det._labels(det.decision_scores_)
        return det

    # pickle and joblib (a grid search's workers, a saved pipeline) go through the same
    # plain state as save(): no lambda, compiled graph or open handle of the model travels
    def __getstate__(self) -> dict:
        if getattr(self, "fitted_", None) is None:
            return dict(self.__dict__)
        return dict(params=self.get_params(), saved=self._saved_state(),
                    device=self.config_.device)

    def __setstate__(self, state: dict):
        if "saved" not in state:
            self.__dict__.update(state)
            return
        from .config import resolve_device

        try:
            device = resolve_device(state["device"])
        except MscadError:  # pickled on a GPU machine, unpickled without one
            device = resolve_device("cpu")
        det = self._from_saved_state(state["saved"], device)
        self.__dict__.update(det.__dict__)
        self.set_params(**state["params"])  # as given (config_ holds what they resolved to)

    # scikit-learn: an outlier detector (model selection scores it with decision_function;
    # higher = more anomalous, so roc_auc wants labels 1 = anomalous, PyOD's convention)
    _estimator_type = "outlier_detector"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        return tags

    def score(self, x, y=None) -> float:
        """ROC-AUC of the anomaly scores against ``y`` (1 = anomalous), scikit-learn's
        default score for model selection; without ``y``, minus the mean score."""
        scores = self.decision_function(x)
        if y is None:
            return -float(np.mean(scores))
        from .metrics import roc_auc

        return roc_auc(np.asarray(y), scores)
