import numpy as np
import pytest

from mscad.errors import MscadError
from mscad.metrics import (angular_distance_to_center, augmentation_similarity, feature_center,
                           roc_auc, uniformity)


def test_uniformity_matches_pairwise_mean():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(30, 5)) + 2
    u = z / np.linalg.norm(z, axis=1, keepdims=True)
    sims = u @ u.T
    expected = (sims.sum() - np.trace(sims)) / (30 * 29)
    assert uniformity(z) == pytest.approx(expected)
    assert uniformity(np.ones((4, 3))) == pytest.approx(1.0)  # collapsed
    assert uniformity(np.vstack([np.eye(3), -np.eye(3)])) == pytest.approx(-1 / 5)


def test_augmentation_similarity_and_angles():
    a = np.array([[1.0, 0], [0, 2]])
    b = np.array([[3.0, 0], [2, 0]])
    assert augmentation_similarity(a, b) == pytest.approx((1 + 0) / 2)
    np.testing.assert_allclose(angular_distance_to_center(a, np.array([5.0, 0])), [0, 90], atol=1e-6)


def test_feature_center_is_mean_of_unit_vectors():
    c = feature_center(np.array([[2.0, 0], [0, 3.0]]))
    np.testing.assert_allclose(c, [0.5, 0.5])


def test_roc_auc_direction_and_single_class_error():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    with pytest.raises(MscadError, match="both normal"):
        roc_auc([1, 1], [0.1, 0.2])
