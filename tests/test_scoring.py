import numpy as np
import pytest
import torch

from mscad.errors import MscadError
from mscad.metrics import roc_auc
from mscad.scoring import kmeans_scores, knn_scores


def brute_force_knn(train, test, k):
    a = train / np.linalg.norm(train, axis=1, keepdims=True)
    b = test / np.linalg.norm(test, axis=1, keepdims=True)
    distance = 1 - b @ a.T
    return np.sort(distance, axis=1)[:, :k].sum(axis=1)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_knn_matches_brute_force(k):
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(300, 16)) * 4, rng.normal(size=(50, 16))
    got = knn_scores(train, test, k=k, batch_size=7)  # several query batches
    np.testing.assert_allclose(got, brute_force_knn(train, test, k), rtol=1e-4, atol=1e-5)


def test_knn_accepts_torch_and_is_scale_invariant():
    rng = np.random.default_rng(1)
    train, test = rng.normal(size=(40, 8)), rng.normal(size=(10, 8))
    a = knn_scores(torch.tensor(train), torch.tensor(test))
    b = knn_scores(train * 100, test * 0.01)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_normal_scores_lower_than_anomalies_on_a_toy_problem():
    rng = np.random.default_rng(2)
    normal_dir, other_dir = np.eye(32)[0], np.eye(32)[1]
    train = normal_dir + 0.3 * rng.normal(size=(200, 32))
    test_normal = normal_dir + 0.3 * rng.normal(size=(50, 32))
    test_anomal = other_dir + 0.3 * rng.normal(size=(50, 32))
    scores = knn_scores(train, np.vstack([test_normal, test_anomal]))
    assert scores[:50].mean() < scores[50:].mean()
    assert roc_auc(np.r_[np.zeros(50), np.ones(50)], scores) > 0.95
    # k-means with few means keeps most of the ranking
    km = kmeans_scores(train, np.vstack([test_normal, test_anomal]), n_clusters=5)
    assert roc_auc(np.r_[np.zeros(50), np.ones(50)], km) > 0.95


def test_kmeans_with_every_point_its_own_cluster_is_knn():
    rng = np.random.default_rng(3)
    train, test = rng.normal(size=(20, 6)), rng.normal(size=(8, 6))
    np.testing.assert_allclose(kmeans_scores(train, test, n_clusters=20, k=1),
                               knn_scores(train, test, k=1), rtol=1e-3, atol=1e-4)


def test_k_larger_than_gallery_is_a_clear_error():
    with pytest.raises(ValueError, match="larger than the gallery of 3"):
        knn_scores(np.ones((3, 4)), np.ones((2, 4)), k=4)
    with pytest.raises(MscadError, match="n_clusters"):
        kmeans_scores(np.ones((3, 4)), np.ones((2, 4)), n_clusters=10)


def test_nan_features_and_dimension_mismatch_are_clear_errors():
    with pytest.raises(MscadError, match="NaN"):
        knn_scores(np.full((3, 4), np.nan), np.ones((2, 4)))
    with pytest.raises(MscadError, match="same model"):
        knn_scores(np.ones((3, 4)), np.ones((2, 5)))


def test_euclidean_knn_uses_raw_features():
    from mscad.scoring import euclidean_knn_scores

    train = np.array([[0.0, 0.0], [10.0, 0.0]])
    test = np.array([[3.0, 4.0]])
    assert euclidean_knn_scores(train, test, k=1)[0] == pytest.approx(5.0)
    assert euclidean_knn_scores(train, test, k=2)[0] == pytest.approx(5.0 + np.hypot(7, 4))
    with pytest.raises(ValueError, match="larger than the gallery"):
        euclidean_knn_scores(train, test, k=3)


def test_torch_knn_agrees_with_faiss_on_real_features(shared_data):
    """The GPU scorer (torch, chunked matmul + top-k) run on the CPU against faiss."""
    from mscad.data import one_class_data
    from mscad.model import FeatureModel, extract_features

    data = one_class_data("cifar10", "ship", image_size=32, train_limit=300, test_limit=500)
    model = FeatureModel("efficientnet_lite0")
    train, test = extract_features(model, data.train, 32), extract_features(model, data.test, 32)
    for k in (1, 2, 5):
        np.testing.assert_allclose(knn_scores(train, test, k=k, backend="torch", batch_size=128),
                                   knn_scores(train, test, k=k, backend="faiss"), atol=1e-5)
    with pytest.raises(MscadError, match="backend must be faiss or torch"):
        knn_scores(train, test, backend="annoy")


def test_leave_one_out_scores_leave_the_image_itself_out():
    from mscad.scoring import leave_one_out_scores

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    distance = 1 - u @ u.T
    np.fill_diagonal(distance, np.inf)  # brute force: the others only
    expected = np.sort(distance, axis=1)[:, :2].sum(axis=1)
    np.testing.assert_allclose(leave_one_out_scores(x, k=2), expected, atol=1e-5)
    with pytest.raises(MscadError, match="need at least 3 train features"):
        leave_one_out_scores(x[:2], k=2)
