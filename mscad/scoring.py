"""Anomaly scores from a gallery of normal train features (Eq. 5): exact cosine kNN with
faiss on the CPU, and with torch (chunked matrix products and top-k) on a GPU.

Inputs may be NumPy arrays or torch tensors, (N, D); output is a float64 NumPy array,
higher = more anomalous. Features are l2-normalised inside, so the inner product is the
cosine similarity.
"""
from __future__ import annotations

import numpy as np
import torch

from .errors import MscadError, NonFiniteError
from .registry import Registry


def _normalised(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise MscadError(f"features must be a 2-D (N, D) array, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise NonFiniteError("features contain NaN or infinite values; check the model's output.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12))


def leave_one_out_scores(train_features, k: int = 2, **kwargs) -> np.ndarray:
    """Eq. 5 for each train feature against the other train features: its own match
    contributes 1 - cos = 0, so the k + 1 nearest with itself among them sum to its k
    nearest others (an exact duplicate counts as another image, as in the gallery)."""
    if k + 1 > len(train_features):
        raise MscadError(f"leave-one-out scores with k={k} need at least {k + 1} train features, "
                         f"got {len(train_features)}.")
    return knn_scores(train_features, train_features, k=k + 1, **kwargs)


def knn_scores(train_features, test_features, k: int = 2, batch_size: int = 4096,
               device: str | None = None, backend: str | None = None) -> np.ndarray:
    """Eq. 5: sum over the k nearest train features of (1 - cosine similarity).

    Queries are searched ``batch_size`` at a time, so memory stays at the gallery plus
    one batch (50,000 x 2,048 gallery: 400 MB). ``device``: where to search; a CUDA
    device searches there with torch, anything else (the default) with faiss on the CPU.
    ``backend`` ("faiss" or "torch") overrides that choice (torch runs on any device).
    """
    gallery = _normalised(train_features)
    queries = _normalised(test_features)
    if k < 1:
        raise MscadError(f"k must be at least 1, got {k}.")
    if k > len(gallery):
        raise MscadError(f"k={k} is larger than the gallery of {len(gallery)} normal train "
                         f"features; use k <= {len(gallery)} or more train images.")
    if gallery.shape[1] != queries.shape[1]:
        raise MscadError(f"train features have {gallery.shape[1]} dimensions but test features "
                         f"{queries.shape[1]}; extract both with the same model.")
    backend = backend or ("torch" if str(device or "cpu").startswith("cuda") else "faiss")
    if backend not in ("faiss", "torch"):
        raise MscadError(f"backend must be faiss or torch, got {backend!r}.")
    if backend == "torch":
        return _knn_torch(gallery, queries, k, batch_size, device or "cpu")
    import faiss

    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    scores = np.empty(len(queries), dtype=np.float64)
    for s in range(0, len(queries), batch_size):
        similarity, _ = index.search(queries[s:s + batch_size], k)
        scores[s:s + batch_size] = (1.0 - similarity.astype(np.float64)).sum(axis=1)
    return scores


@torch.inference_mode()
def _knn_torch(gallery: np.ndarray, queries: np.ndarray, k: int, batch_size: int, device) -> np.ndarray:
    """The same search with torch on ``device``: exact, in fp32 (no TF32)."""
    g = torch.from_numpy(gallery).to(device)
    scores = []
    for s in range(0, len(queries), batch_size):
        q = torch.from_numpy(queries[s:s + batch_size]).to(device)
        similarity = torch.mm(q, g.T).topk(k, dim=1).values  # the k largest cosines
        scores.append((1.0 - similarity.double()).sum(dim=1).cpu())
    return torch.cat(scores).numpy()


def kmeans_scores(train_features, test_features, n_clusters: int, k: int = 1,
                  seed: int = 0, n_iter: int = 20) -> np.ndarray:
    """Table 6: k-means on the normalised train features, then :func:`knn_scores`
    against the (normalised) means with ``min(k, n_clusters)`` neighbours."""
    centroids = kmeans_centroids(train_features, n_clusters, seed, n_iter)
    return knn_scores(centroids, test_features, k=min(k, n_clusters))


def kmeans_centroids(train_features, n_clusters: int, seed: int = 0, n_iter: int = 20) -> np.ndarray:
    """The (normalised) means of spherical k-means on the normalised train features."""
    import faiss

    gallery = _normalised(train_features)
    if not 1 <= n_clusters <= len(gallery):
        raise MscadError(f"n_clusters={n_clusters} must be between 1 and the {len(gallery)} "
                         "train features.")
    kmeans = faiss.Kmeans(gallery.shape[1], n_clusters, niter=n_iter, seed=seed,
                          spherical=True, min_points_per_centroid=1, max_points_per_centroid=100000)
    kmeans.train(gallery)
    return kmeans.centroids


def euclidean_knn_scores(train_features, test_features, k: int = 2) -> np.ndarray:
    """DN2 on raw features (Table 3, "Raw"): sum of the Euclidean distances to the k
    nearest train features, without any normalisation."""
    import faiss

    def as_array(x):
        if isinstance(x, torch.Tensor):
            x = x.detach().float().cpu().numpy()
        return np.ascontiguousarray(x, dtype=np.float32)

    gallery, queries = as_array(train_features), as_array(test_features)
    if k > len(gallery):
        raise MscadError(f"k={k} is larger than the gallery of {len(gallery)} normal train "
                         f"features; use k <= {len(gallery)} or more train images.")
    index = faiss.IndexFlatL2(gallery.shape[1])
    index.add(gallery)
    squared, _ = index.search(queries, k)
    return np.sqrt(np.maximum(squared.astype(np.float64), 0)).sum(axis=1)


# ------------------------------------------------------------------ scorers
class KNNScorer:
    """The paper's score (Eq. 5): cosine kNN against the normal gallery.

    The scorer protocol, which :class:`mscad.detector.MSCDetector` uses: ``fit(gallery)``
    keeps what scoring needs, ``score(features)`` scores new features (higher = more
    anomalous) and ``training_scores()`` scores each gallery item against the others (the
    item itself left out), from which the detector's threshold is set."""

    name = "knn"

    def __init__(self, k: int = 2, device: str | None = None):
        self.k, self.device = k, device

    def check(self, n_images: int):
        """Refuse, before any training, a gallery too small for this scorer."""
        if n_images <= self.k:
            raise MscadError(f"the {self.name} scorer needs more than k={self.k} normal images, got "
                             f"{n_images}.")

    @classmethod
    def build(cls, k: int = 2, device: str | None = None) -> "KNNScorer":
        """A scorer from a run's settings (its ``k`` and device)."""
        return cls(k=k, device=device)

    def fit(self, gallery: np.ndarray) -> "KNNScorer":
        # no size check here: a gallery of exactly k scores new features; the detector
        # calls check() before training, since its own threshold needs k + 1
        self.gallery_ = gallery
        return self

    def score(self, features) -> np.ndarray:
        return knn_scores(self.gallery_, features, k=self.k, device=self.device)

    def training_scores(self) -> np.ndarray:
        # k + 1 neighbours of each gallery item among the gallery: the first is itself (0).
        return knn_scores(self.gallery_, self.gallery_, k=self.k + 1, device=self.device)


class EuclideanScorer(KNNScorer):
    """DN2 on raw features: the sum of Euclidean distances to the k nearest."""

    name = "euclidean"

    def score(self, features) -> np.ndarray:
        return euclidean_knn_scores(self.gallery_, features, k=self.k)

    def training_scores(self) -> np.ndarray:
        return euclidean_knn_scores(self.gallery_, self.gallery_, k=self.k + 1)


class KMeansScorer(KNNScorer):
    """Table 6: cosine distance to the nearest of ``n_clusters`` k-means centres, a faster
    search for big galleries; training images are scored against the centres too (k-means
    centres are not training images, so nothing is left out)."""

    name = "kmeans"

    def __init__(self, k: int = 1, n_clusters: int = 10, seed: int = 0, device: str | None = None):
        super().__init__(k, device)
        self.n_clusters, self.seed = n_clusters, seed

    @classmethod
    def build(cls, k: int = 2, device: str | None = None) -> "KMeansScorer":
        """Table 6 scores against the nearest centre: k=1 whatever the run's kNN k."""
        return cls(k=1, device=device)

    def check(self, n_images: int):
        if n_images < self.n_clusters:
            raise MscadError(f"the kmeans scorer needs at least n_clusters={self.n_clusters} normal "
                             f"images, got {n_images}.")

    def fit(self, gallery: np.ndarray) -> "KMeansScorer":
        self.check(len(gallery))
        self.gallery_ = gallery
        self.centroids_ = kmeans_centroids(gallery, self.n_clusters, seed=self.seed)  # once
        return self

    def score(self, features) -> np.ndarray:
        return knn_scores(self.centroids_, features, k=min(self.k, self.n_clusters))

    def training_scores(self) -> np.ndarray:
        return self.score(self.gallery_)


SCORERS = Registry("scorer", (KNNScorer, KMeansScorer, EuclideanScorer))


def get_scorer(name: str, k: int = 2, device: str | None = None):
    """A new scorer by name (``knn``, ``kmeans``, ``euclidean``)."""
    SCORERS.require(name)
    return SCORERS[name].build(k=k, device=device)
