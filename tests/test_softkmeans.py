"""Soft K-means with a temperature and DeepCluster's uniform sampling (notebook 06)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from kdlab.softkmeans import soft_assignments, soft_kmeans, uniform_cluster_sample


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 100.0))
def test_assignments_equal_torch_softmax_of_negative_squared_distances(seed, T):
    rng = np.random.default_rng(seed)
    X, centers = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    expected = torch.softmax(-torch.cdist(torch.tensor(X), torch.tensor(centers)) ** 2 / T, 1)
    r = soft_assignments(X, centers, T)
    assert np.allclose(r, expected.numpy(), atol=1e-10)
    assert np.allclose(r.sum(axis=1), 1)


def test_cold_is_nearest_centre_and_hot_is_uniform():
    rng = np.random.default_rng(0)
    X, centers = rng.normal(size=(50, 2)), rng.normal(size=(3, 2))
    nearest = ((X[:, None] - centers[None]) ** 2).sum(-1).argmin(1)
    assert np.allclose(soft_assignments(X, centers, 1e-6), np.eye(3)[nearest])
    assert np.allclose(soft_assignments(X, centers, 1e6), 1 / 3, atol=1e-4)


def test_entropy_of_assignments_grows_with_temperature():
    rng = np.random.default_rng(1)
    X, centers = rng.normal(size=(30, 2)), rng.normal(size=(4, 2))
    H = [float(-(r * np.log(r + 1e-300)).sum(1).mean())
         for r in (soft_assignments(X, centers, T) for T in (0.01, 0.1, 1, 10, 100))]
    assert all(b > a for a, b in zip(H[:-1], H[1:], strict=True))


def test_cold_soft_kmeans_finds_what_kmeans_finds():
    X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=2)
    km = KMeans(4, n_init=10, random_state=0).fit(X)
    centers, r = soft_kmeans(X, 4, T=0.01, init=km.cluster_centers_ + 0.3)
    assert adjusted_rand_score(km.labels_, r.argmax(1)) == 1.0
    assert np.allclose(np.sort(centers, 0), np.sort(km.cluster_centers_, 0), atol=1e-6)


def test_centres_are_the_weighted_means_at_the_fixed_point():
    X, _ = make_blobs(n_samples=200, centers=3, random_state=3)
    centers, r = soft_kmeans(X, 3, T=2.0, random_state=0)
    assert np.allclose(centers, (r.T @ X) / r.sum(0)[:, None], atol=1e-6)


def test_very_hot_soft_kmeans_collapses_every_centre_onto_the_mean():
    X, _ = make_blobs(n_samples=100, centers=3, random_state=4)
    centers, _ = soft_kmeans(X, 3, T=1e6, random_state=0)
    assert np.allclose(centers, X.mean(0), atol=1e-3)


@pytest.mark.parametrize("kwargs, match", [
    ({"T": 0}, "T"), ({"T": float("nan")}, "T"),
    ({"n_clusters": 0}, "n_clusters"), ({"n_clusters": 11}, "n_clusters"),
    ({"init": np.zeros((3, 2))}, "init"), ({"max_iter": 0}, "max_iter"),
])
def test_soft_kmeans_rejects_bad_arguments(kwargs, match):
    args = dict(X=np.random.default_rng(0).normal(size=(10, 2)), n_clusters=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        soft_kmeans(**args)


@pytest.mark.parametrize("T", [True, "hot", None])
def test_a_temperature_that_is_not_a_number_is_a_type_error(T):
    with pytest.raises(TypeError, match="T must be a positive finite number"):
        soft_kmeans(np.zeros((4, 2)), 2, T=T)


@pytest.mark.parametrize("X, centers, match", [
    (np.zeros((3,)), np.zeros((2, 1)), "X"), (np.zeros((3, 2)), np.zeros((2, 3)), "centers"),
    (np.full((2, 2), np.nan), np.zeros((2, 2)), "finite"), ([["a"]], np.zeros((1, 1)), "X"),
])
def test_soft_assignments_rejects_bad_arrays(X, centers, match):
    with pytest.raises(ValueError, match=match):
        soft_assignments(X, centers)


def test_uniform_sampling_gives_every_cluster_the_same_share():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    idx = uniform_cluster_sample(labels, 30_000, seed=0)
    share = np.bincount(labels[idx]) / len(idx)
    assert np.allclose(share, 1 / 3, atol=0.02)
    within = np.bincount(idx[labels[idx] == 2] - 990, minlength=10) / (labels[idx] == 2).sum()
    assert np.allclose(within, 0.1, atol=0.03)  # uniform inside the small cluster too


def test_uniform_sampling_is_seeded_and_validates():
    labels = np.array([3, 3, 7])
    assert np.array_equal(uniform_cluster_sample(labels, 20, seed=5),
                          uniform_cluster_sample(labels, 20, seed=5))
    assert uniform_cluster_sample(labels, 0, seed=0).size == 0
    for bad, match in [(np.array([0.5, 1.0]), "labels"), (np.array([], int), "labels")]:
        with pytest.raises(ValueError, match=match):
            uniform_cluster_sample(bad, 3)
    with pytest.raises(ValueError, match="n must"):
        uniform_cluster_sample(labels, -1)
