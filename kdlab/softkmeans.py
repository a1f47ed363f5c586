"""Soft K-means with a temperature, and DeepCluster's uniform sampling over clusters (notebook 06).

Soft K-means assigns each point to every centre with the Gibbs probabilities of chapter 01,
``r_ik = softmax_k(−‖x_i − μ_k‖² / T)``, and moves each centre to the ``r``-weighted mean of the
points. As ``T → 0`` the assignments become one-hot and this is K-means; as ``T`` grows they
soften until every point belongs equally to every centre. It is the idea behind differentiable
K-means layers (DKM, Cho et al. 2022; Deep k-Means, Fard et al. 2020).

DeepCluster (Caron et al. 2018) trains on pseudo-labels from K-means and samples images
*uniformly over the clusters*, so that a few big clusters do not dominate — as a specialist's
50/50 dustbin sampling keeps its few classes from being drowned by the rest (notebook 04).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from kdlab.temperature import softmax_t
from kdlab.validate import check_int, check_positive

__all__ = ["soft_assignments", "soft_kmeans", "uniform_cluster_sample"]


def _points(X, name: str = "X") -> np.ndarray:
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 2-d array of numbers") from None
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"{name} must be a non-empty 2-d array (points, features), got shape "
                         f"{X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} must be finite")
    return X


def soft_assignments(X, centers, T: float = 1.0) -> np.ndarray:
    """Responsibilities ``softmax_k(−‖x_i − μ_k‖² / T)``: a Gibbs distribution over the centres.

    Each row sums to 1. ``T → 0`` gives the nearest centre one-hot (K-means' assignment);
    large ``T`` spreads each point evenly over the centres.

    Examples
    --------
    >>> import numpy as np
    >>> soft_assignments(np.array([[0.0], [1.5]]), np.array([[0.0], [2.0]]), T=1.0).round(3)
    array([[0.982, 0.018],
           [0.119, 0.881]])

    See notebook 06.
    """
    X = _points(X)
    centers = _points(centers, "centers")
    if centers.shape[1] != X.shape[1]:
        raise ValueError(f"centers must have {X.shape[1]} features like X, got "
                         f"{centers.shape[1]}")
    T = check_positive(T, "T")
    d2 = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    return softmax_t(-d2, T)


def soft_kmeans(X, n_clusters: int, T: float = 1.0, *, init=None, max_iter: int = 300,
                tol: float = 1e-9, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Soft K-means at temperature ``T``: returns ``(centers, responsibilities)``.

    Alternates :func:`soft_assignments` with moving each centre to the responsibility-weighted
    mean of the points, until no centre moves more than ``tol``. Starts from ``init`` (an array
    of centres) or from ``n_clusters`` distinct points drawn with ``random_state``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.2], [5.0], [5.2]])
    >>> centers, r = soft_kmeans(X, 2, T=0.1, init=np.array([[1.0], [4.0]]))
    >>> centers.round(2).ravel().tolist(), r.argmax(axis=1).tolist()
    ([0.1, 5.1], [0, 0, 1, 1])

    See notebook 06.
    """
    X = _points(X)
    T = check_positive(T, "T")
    n_clusters = check_int(n_clusters, "n_clusters (at most the number of points)", 1, len(X))
    max_iter = check_int(max_iter, "max_iter", lo=1)
    if init is None:
        rng = check_random_state(random_state)
        centers = X[rng.choice(len(X), size=n_clusters, replace=False)].copy()
    else:
        centers = _points(init, "init").copy()
        if centers.shape != (n_clusters, X.shape[1]):
            raise ValueError(f"init must have shape {(n_clusters, X.shape[1])}, got "
                             f"{centers.shape}")
    for _ in range(max_iter):
        r = soft_assignments(X, centers, T)
        weight = r.sum(axis=0)
        moved = np.divide(r.T @ X, weight[:, None], out=centers.copy(),
                          where=weight[:, None] > 0)
        shift = float(np.abs(moved - centers).max())
        centers = moved
        if shift <= tol:
            break
    return centers, soft_assignments(X, centers, T)


def uniform_cluster_sample(labels, n: int, seed=None) -> np.ndarray:
    """``n`` indices drawn uniformly over the clusters, then uniformly within the cluster.

    Every non-empty cluster is equally likely to be picked, whatever its size (DeepCluster's
    fix against a few big clusters dominating training); within a cluster points are drawn
    with replacement.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([0] * 98 + [1, 2])
    >>> idx = uniform_cluster_sample(labels, 3000, seed=0)
    >>> np.bincount(labels[idx]).round(-2).tolist()
    [1000, 1000, 1000]

    See notebook 06.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-d array of integer cluster ids, got "
                         f"shape {labels.shape} and dtype {labels.dtype}")
    n = check_int(n, "n", lo=0)
    rng = check_random_state(seed)
    clusters = np.unique(labels)
    members = [np.flatnonzero(labels == k) for k in clusters]
    picks = rng.randint(len(clusters), size=n)
    return np.array([members[k][rng.randint(len(members[k]))] for k in picks], dtype=np.intp)
