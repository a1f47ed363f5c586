"""Tests for kdlab.clustering: scikit-learn conformance, sklearn KMeans as oracle, class groups."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _bad import error_for
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import check_estimator

from kdlab.clustering import (
    METHODS,
    OnlineKMeans,
    cluster_classes,
    confusable_groups,
    confusion_affinity,
    group_labels,
    look_alikes,
)


def test_check_estimator():
    check_estimator(OnlineKMeans())


def test_init_only_stores_arguments():
    km = OnlineKMeans(3, batch_size=7, max_iter=2, random_state=4)
    assert km.get_params()["batch_size"] == 7
    assert not [k for k in vars(km) if k.endswith("_")]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_sklearn_kmeans_on_separated_blobs(seed):
    X, y = make_blobs(1500, centers=6, n_features=5, cluster_std=0.5, random_state=seed)
    km = OnlineKMeans(6, batch_size=100, random_state=seed).fit(X)
    oracle = KMeans(6, n_init=10, random_state=0).fit(X)
    assert adjusted_rand_score(km.labels_, oracle.labels_) > 0.99
    assert km.inertia_ == pytest.approx(oracle.inertia_, rel=1e-3)
    assert km.n_features_in_ == 5 and km.cluster_centers_.shape == (6, 5)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert km.counts_.sum() == km.n_iter_ * len(X)


def test_macqueen_step_is_a_running_mean():
    """One point at a time, each centre is the mean of the points it has received."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    km = OnlineKMeans(2, init=np.array([[0.0, 0.0], [5.0, 5.0]]))
    for x in X:
        km.partial_fit(x[None])
    np.testing.assert_allclose(km.cluster_centers_, [X[:20].mean(0), X[20:].mean(0)], atol=1e-12)
    np.testing.assert_array_equal(km.counts_, [20, 20])


def test_dead_centre_is_reseeded_and_every_cluster_has_members():
    X, _ = make_blobs(600, centers=3, n_features=4, cluster_std=0.6, random_state=0)
    init = np.vstack([X[:3], np.full((2, 4), 1e3)])  # two centres no point will ever reach
    km = OnlineKMeans(5, init=init, random_state=0).fit(X)
    assert km.n_reseeded_ >= 2
    assert (np.bincount(km.labels_, minlength=5) > 0).all()
    assert np.abs(km.cluster_centers_).max() < 100


def test_partial_fit_reseeds_a_centre_that_never_received_a_point():
    X, _ = make_blobs(200, centers=2, n_features=2, random_state=0)
    km = OnlineKMeans(3, init=np.array([[0.0, 0.0], [1.0, 1.0], [1e4, 1e4]]), random_state=0)
    assert km.partial_fit(X) is km
    assert km.n_reseeded_ == 1 and (km.counts_ > 0).all()


def test_transform_is_the_distance_to_each_centre():
    X, _ = make_blobs(100, centers=3, random_state=0)
    km = OnlineKMeans(3, random_state=0).fit(X)
    expected = np.linalg.norm(X[:, None] - km.cluster_centers_[None], axis=-1)
    np.testing.assert_allclose(km.transform(X), expected, atol=1e-9)
    assert km.score(X) == pytest.approx(-km.inertia_)


def test_deterministic_and_picklable():
    X, _ = make_blobs(300, centers=4, random_state=0)
    a = OnlineKMeans(4, random_state=3).fit(X)
    b = pickle.loads(pickle.dumps(OnlineKMeans(4, random_state=3).fit(X)))
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    b.partial_fit(X[:10])


def test_bad_init_shape():
    with pytest.raises(ValueError, match="init must have shape"):
        OnlineKMeans(2, init=np.zeros((3, 2))).fit(np.ones((5, 2)))
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        OnlineKMeans(3).fit(np.eye(2))


# --- cluster_classes -------------------------------------------------------------------------


def block_cov(sizes, seed=0):
    """Covariance of probabilities whose classes move together within blocks."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    shared = rng.normal(size=(3000, len(sizes)))[:, groups]
    logits = 3 * shared + rng.normal(size=(3000, groups.size))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return np.cov(p, rowvar=False), groups


@pytest.mark.parametrize("method", METHODS)
def test_each_method_finds_the_blocks(method):
    cov, groups = block_cov([3, 5, 4, 4])
    perm = np.random.default_rng(1).permutation(groups.size)
    found = cluster_classes(cov[np.ix_(perm, perm)], 4, method=method)
    assert sorted(np.concatenate(found).tolist()) == list(range(groups.size))  # a partition
    assert all((np.diff(g) > 0).all() for g in found)
    assert [g[0] for g in found] == sorted(g[0] for g in found)
    labels = np.empty(groups.size, int)
    for k, g in enumerate(found):
        labels[g] = k
    assert adjusted_rand_score(groups[perm], labels) == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_extreme_cluster_counts(method):
    cov, _ = block_cov([2, 3])
    assert [g.tolist() for g in cluster_classes(cov, 1, method)] == [[0, 1, 2, 3, 4]]
    assert [g.tolist() for g in cluster_classes(cov, 5, method)] == [[i] for i in range(5)]


def test_accepts_a_torch_matrix():
    cov, groups = block_cov([2, 2])
    found = cluster_classes(torch.from_numpy(cov), 2)
    assert [g.tolist() for g in found] == [[0, 1], [2, 3]]


def test_confusion_affinity_matches_a_hand_count():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0, 2, 2])
    rows = np.array([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1.0]])
    A = confusion_affinity(y_true, y_pred, 4)
    np.testing.assert_allclose(A[:3, :3], (rows + rows.T) / 2)
    assert (A[3] == 0).all()
    assert [g.tolist() for g in cluster_classes(A[:3, :3], 2, "spectral")] == [[0, 1], [2]]


@pytest.mark.parametrize("cov, n, match", [
    (np.ones((3, 4)), 2, "square"),
    (np.ones(3), 1, "square"),
    (np.array([[1.0, 0.5], [0.0, 1.0]]), 1, "symmetric"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), 1, "finite"),
    (np.eye(3), 0, "n_clusters .* must be an int in \\[1, 3\\]"),
    (np.eye(3), 4, "n_clusters .* must be an int in \\[1, 3\\]"),
    (np.eye(3), 2.0, "n_clusters .* must be an int"),
])
def test_cluster_classes_bad_input(cov, n, match):
    with pytest.raises(error_for(n, integer=True) if "n_clusters" in match else ValueError,
                       match=match):
        cluster_classes(cov, n)


def test_unknown_method_lists_the_methods():
    with pytest.raises(ValueError, match="'online-kmeans', 'kmeans', 'spectral', 'agglomerative'"):
        cluster_classes(np.eye(3), 2, method="dbscan")


def test_confusion_affinity_bad_input():
    with pytest.raises(ValueError, match="y_pred must hold class ids in \\[0, 3\\)"):
        confusion_affinity([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match="same length"):
        confusion_affinity([0, 1], [0], 3)
    with pytest.raises(ValueError, match="y_true must be a 1-d array of integer"):
        confusion_affinity([0.5, 1], [0, 1], 3)
    with pytest.raises(ValueError, match="n_classes must be an int >= 1"):
        confusion_affinity([0], [0], 0)
    with pytest.raises(TypeError, match="n_classes must be an int"):
        confusion_affinity([0], [0], 3.0)


def test_torch_backend_matches_numpy():
    """device="cpu" runs the same algorithm in torch (the GPU path, where CUDA is absent)."""
    X, _ = make_blobs(800, centers=5, n_features=6, random_state=2)
    ref = OnlineKMeans(5, batch_size=64, random_state=0).fit(X)
    for km in (OnlineKMeans(5, batch_size=64, device="cpu", random_state=0).fit(X),
               OnlineKMeans(5, batch_size=64, random_state=0).fit(torch.from_numpy(X))):
        assert isinstance(km.cluster_centers_, np.ndarray)
        np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, atol=1e-9)
        np.testing.assert_array_equal(km.labels_, ref.labels_)
        np.testing.assert_array_equal(km.predict(torch.from_numpy(X)), ref.labels_)
        assert km.inertia_ == pytest.approx(ref.inertia_)
    km = OnlineKMeans(5, device="cpu", random_state=0).partial_fit(X).partial_fit(X[:100])
    assert km.counts_.sum() == 900
    with pytest.raises(ValueError, match="X has 3 features, but OnlineKMeans is expecting 6"):
        km.predict(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="finite"):
        OnlineKMeans(2).fit(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_backend_matches_numpy():
    X, _ = make_blobs(800, centers=5, n_features=6, random_state=2)
    ref = OnlineKMeans(5, random_state=0).fit(X)
    km = OnlineKMeans(5, device="cuda", random_state=0).fit(X)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, atol=1e-9)
    np.testing.assert_array_equal(km.labels_, ref.labels_)


# --- restarts ---------------------------------------------------------------------------------

def _blocks_with_a_trap(seed=0):
    """Columns of 3 well-separated groups of classes, where a single K-means start can fail."""
    X, _ = make_blobs(n_samples=[6, 6, 2], centers=[[0, 0], [6, 0], [3, 9]], cluster_std=0.4,
                      random_state=seed)
    return X @ X.T  # a symmetric class-by-class matrix whose columns carry the groups


def test_cluster_classes_keeps_the_restart_with_the_lowest_inertia():
    m = _blocks_with_a_trap()
    best = cluster_classes(m, 3, n_init=10, random_state=0)
    rng = np.random.RandomState(0)
    runs = [OnlineKMeans(3, random_state=rng.randint(2**31 - 1)).fit(m) for _ in range(10)]
    expected = min(runs, key=lambda r: r.inertia_).labels_
    got = np.empty(len(m), dtype=int)
    for k, g in enumerate(best):
        got[g] = k
    assert adjusted_rand_score(expected, got) == 1.0


def test_more_restarts_never_give_a_worse_inertia():
    m = _blocks_with_a_trap(1)

    def inertia(groups):
        return sum(((m[g] - m[g].mean(0)) ** 2).sum() for g in groups)

    one = inertia(cluster_classes(m, 3, n_init=1, random_state=5))
    ten = inertia(cluster_classes(m, 3, n_init=10, random_state=5))
    assert ten <= one + 1e-9


@pytest.mark.parametrize("n_init", [0, -1, 1.5, True, "10"])
def test_cluster_classes_rejects_a_bad_n_init(n_init):
    with pytest.raises(error_for(n_init, integer=True), match="n_init"):
        cluster_classes(np.eye(3), 2, n_init=n_init)


def test_confusable_groups_drops_singletons_and_the_group_of_every_class():
    cov = np.array([[2.0, 1.8, -1.0, -1.0], [1.8, 2.0, -1.0, -1.0],
                    [-1.0, -1.0, 2.0, 0.0], [-1.0, -1.0, 0.0, 2.0]])
    every = cluster_classes(cov, 3)
    assert [g.tolist() for g in confusable_groups(cov, 3)] == \
        [g.tolist() for g in every if len(g) >= 2]
    assert confusable_groups(cov, 1) == []  # one group of every class: no dustbin left
    assert [g.tolist() for g in confusable_groups(cov, 3, min_size=1)] == \
        [g.tolist() for g in every]
    for bad in (0, 1.5, True):
        with pytest.raises(error_for(bad, integer=True), match="min_size"):
            confusable_groups(cov, 2, min_size=bad)


# --- a partition as cluster ids; the classes most like a class --------------------------------

def test_group_labels_give_each_class_its_group():
    groups = [np.array([4, 0]), np.array([2]), np.array([1, 3])]
    labels = group_labels(groups, 5)
    assert labels.tolist() == [0, 2, 1, 2, 0]
    assert all(set(np.flatnonzero(labels == k)) == set(g.tolist()) for k, g in enumerate(groups))
    # the form adjusted_rand_score compares: a relabelled partition is the same partition
    assert adjusted_rand_score(labels, group_labels(groups[::-1], 5)) == 1.0


@pytest.mark.parametrize("groups", [[[0, 1]], [[0, 1], [1, 2]], [[0, 1], [2, 5]]])
def test_group_labels_need_a_partition(groups):
    with pytest.raises(ValueError, match="groups must partition the 3 classes"):
        group_labels(groups, 3)


@pytest.mark.parametrize("seed", range(5))
def test_look_alikes_are_the_largest_entries_off_the_diagonal(seed):
    rng = np.random.default_rng(seed)
    m = rng.dirichlet(np.ones(6), size=6)
    for c in range(6):
        others = sorted((j for j in range(6) if j != c), key=lambda j: -m[c, j])
        assert look_alikes(m, c, k=3).tolist() == others[:3]


def test_look_alikes_by_name_and_ties_to_the_lower_id():
    m = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    assert look_alikes(m, 0, k=2).tolist() == [1, 2]
    assert look_alikes(m, "c", k=1, class_names=["a", "b", "c"]) == ["a"]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(matrix=np.ones((2, 3))), ValueError, "matrix must be a square"),
    (dict(cls=3), ValueError, "cls must be an int in"),
    (dict(cls=1.0), TypeError, "cls must be an int"),
    (dict(cls="z", class_names=["a", "b", "c"]), ValueError, "'z' is not one of class_names"),
    (dict(class_names=["a", "b"]), ValueError, "class_names must hold 3 names"),
    (dict(k=3), ValueError, "k must be an int 1 or 2"),
])
def test_look_alikes_bad_input(kwargs, error, match):
    kwargs = {"matrix": np.eye(3), "cls": 0, **kwargs}
    with pytest.raises(error, match=match):
        look_alikes(**kwargs)
