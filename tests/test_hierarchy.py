"""Tests for kdlab.hierarchy: known confusable groups, recovered by the chapter 03 pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from kdlab.clustering import cluster_classes, group_labels
from kdlab.covariance import prediction_covariance
from kdlab.hierarchy import gibbs_probabilities, make_hierarchical


def test_shapes_dtypes_and_nesting():
    X, y, sup, centers = make_hierarchical(4, 3, n_per_class=7, n_features=5, random_state=0,
                                           return_centers=True)
    assert X.shape == (84, 5) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [7] * 12
    assert sup.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert centers.shape == (12, 5) and centers.dtype == np.float32
    X2, y2, _ = make_hierarchical(4, 3, n_per_class=7, n_features=5, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    _, y3, _ = make_hierarchical(4, 3, n_per_class=7, n_features=5, shuffle=False)
    assert (np.diff(y3) >= 0).all()


def test_scales_to_thousands_of_classes():
    X, y, sup = make_hierarchical(500, 6, n_per_class=3, n_features=16, random_state=0)
    assert X.shape == (9000, 16) and y.max() == 2999 and sup.max() == 499


def test_nearest_centroid_confuses_within_superclasses():
    X, y, sup = make_hierarchical(8, 5, n_per_class=120, random_state=1)
    X, Xt, y, yt = X[::2], X[1::2], y[::2], y[1::2]  # train on one half, test on the other
    centroids = np.stack([X[y == c].mean(0) for c in range(40)])
    pred = gibbs_probabilities(Xt, centroids).argmax(1)
    wrong = pred != yt
    assert 0.02 < wrong.mean() < 0.6
    within = (sup[pred[wrong]] == sup[yt[wrong]]).sum()
    assert within > 20 * max(1, wrong.sum() - within)


def test_pipeline_recovers_superclasses():
    """probabilities → prediction_covariance → cluster_classes finds the superclasses."""
    X, y, sup = make_hierarchical(8, 5, n_per_class=100, random_state=0)
    centroids = np.stack([X[y == c].mean(0) for c in range(40)])
    cov = prediction_covariance(gibbs_probabilities(X, centroids, T=4.0))
    for method in ("online-kmeans", "spectral"):
        groups = cluster_classes(cov, 8, method=method, random_state=0)
        assert adjusted_rand_score(sup, group_labels(groups, 40)) > 0.8, method


def test_gibbs_probabilities_is_the_bayes_posterior():
    rng = np.random.default_rng(0)
    X, centers = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
    expected = np.exp(-d2 / 2) / np.exp(-d2 / 2).sum(1, keepdims=True)
    np.testing.assert_allclose(gibbs_probabilities(X, centers), expected, rtol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_superclasses=0), ValueError, "n_superclasses must be an int >= 1"),
    (dict(classes_per_super=1.5), TypeError, "classes_per_super must be an int"),
    (dict(noise=-1.0), ValueError, "noise must be a number >= 0"),
    (dict(class_scale=float("nan")), ValueError, "class_scale must be a number >= 0"),
    (dict(superclass_scale="4"), TypeError, "superclass_scale must be a number"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_hierarchical(**kwargs)
    with pytest.raises(ValueError, match="same number of features"):
        gibbs_probabilities(np.zeros((2, 3)), np.zeros((4, 2)))
