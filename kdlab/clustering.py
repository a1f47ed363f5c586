"""Online K-means, and clustering classes by the columns of a covariance matrix (notebook 03).

Section 5.3 of the paper: "we applied an online version of the K-means algorithm to the columns
of the covariance matrix" of the generalist's predictions. :class:`OnlineKMeans` is that
algorithm as a scikit-learn estimator (MacQueen's per-centre ``1/n`` step, applied a minibatch
at a time, with DeepCluster's repair of empty clusters); :func:`cluster_classes` turns a C×C
covariance (or a confusion affinity, see :func:`confusion_affinity`) into a partition of the
classes, with the paper's method or three others to compare (notebook 06).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from kdlab.validate import check_finite, check_int, to_numpy

__all__ = ["OnlineKMeans", "cluster_classes", "cluster_order", "confusable_groups",
           "confusion_affinity", "group_labels", "look_alikes", "METHODS"]

METHODS = ("online-kmeans", "kmeans", "spectral", "agglomerative")

#: Largest |value| accepted: squared distances of larger values overflow float64 (NaN centres).
MAX_ABS = 1e150


def _sq_distances(X, centers):
    """Squared Euclidean distances, shape ``(n_samples, n_clusters)``, clipped at 0."""
    d = (X * X).sum(1)[:, None] - 2 * X @ centers.T + (centers * centers).sum(1)[None, :]
    return d.clamp_(min=0) if isinstance(d, torch.Tensor) else np.maximum(d, 0, out=d)


def _spread(X) -> float:
    """Mean variance of the features (divided by n, as numpy)."""
    if isinstance(X, torch.Tensor):
        return float(X.var(0, correction=0).mean())
    return float(X.var(0).mean())


def _like(a: np.ndarray, ref):
    """``a`` (numpy) in ``ref``'s backend: a tensor on ``ref``'s device, or numpy."""
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(a, device=ref.device)
    return a


def _kmeans_plusplus(X, k: int, rng):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007; ``2 + log k`` trials as sklearn)."""
    n = X.shape[0]
    chosen = [int(rng.randint(n))]
    closest = _sq_distances(X, X[chosen])[:, 0]
    trials = 2 + int(np.log(k))
    for _ in range(1, k):
        cumulative = np.cumsum(to_numpy(closest))
        if cumulative[-1] > 0:
            picks = np.searchsorted(cumulative, rng.uniform(size=trials) * cumulative[-1])
            candidates = np.minimum(picks, n - 1)
        else:  # every remaining point sits on a centre already
            candidates = rng.randint(n, size=trials)
        d = _sq_distances(X, X[_like(candidates, X)])
        d = torch.minimum(d, closest[:, None]) if isinstance(d, torch.Tensor) \
            else np.minimum(d, closest[:, None])
        best = int(d.sum(0).argmin())
        closest = d[:, best]
        chosen.append(int(candidates[best]))
    return X[_like(np.array(chosen), X)].clone() if isinstance(X, torch.Tensor) \
        else X[chosen].copy()


class OnlineKMeans(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """Online (MacQueen) K-means with empty clusters re-seeded; see notebooks 03 and 06.

    Each minibatch is assigned to the nearest centres; then every centre moves towards the
    points it received with step ``1/n_k``, ``n_k`` the number of points it has ever received,
    so that a centre is the running mean of its points (MacQueen, 1967). A centre that receives
    no point in a whole pass over the data is dead; it is re-seeded as a slightly perturbed copy
    of the centre with the most points, which moves the other way by the same amount, and the two
    share its count (the fix of DeepCluster, Caron et al. 2018). So after :meth:`fit` every
    cluster has members, as long as the data hold at least ``n_clusters`` distinct points.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    batch_size : int, default=256
        Points per online update.
    max_iter : int, default=100
        Maximum number of passes over the data in :meth:`fit`.
    tol : float, default=1e-4
        :meth:`fit` stops when no centre moved more than ``tol`` times the data's mean variance
        (squared) in one pass, and no cluster is empty.
    init : {"k-means++", "random"} or ndarray of shape (n_clusters, n_features), \
default="k-means++"
        First centres: k-means++ seeding, distinct random points, or given.
    perturbation : float, default=1e-4
        Relative size of the perturbation that splits the largest centre to re-seed a dead one.
    device : str, torch.device or None, default=None
        None computes in numpy. A torch device (``"cuda"``, ``"cpu"``) computes in torch float64
        there, for data too big for a CPU (the covariance columns of 15,000 classes); so does a
        torch tensor passed as ``X``, on its own device. Fitted attributes are numpy either way.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial centres, the shuffling of each pass and the perturbations.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres, float64.
    labels_ : ndarray of shape (n_samples,)
        Nearest centre of each training point (after :meth:`fit`; after :meth:`partial_fit`, of
        the last batch).
    counts_ : ndarray of shape (n_clusters,)
        Points each centre has received (its ``1/n`` step is ``1/counts_``).
    inertia_ : float
        Sum of squared distances of the training points to their nearest centre.
    n_iter_ : int
        Passes over the data made by :meth:`fit`.
    n_steps_ : int
        Minibatch updates made so far.
    n_reseeded_ : int
        Dead centres re-seeded so far.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [5.0, 5.1]])
    >>> km = OnlineKMeans(n_clusters=2, random_state=0).fit(X)
    >>> bool(km.labels_[0] == km.labels_[1] == km.labels_[2] != km.labels_[3])
    True
    >>> sorted(km.counts_.round().astype(int).tolist()) == [km.n_iter_ * 3] * 2
    True
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), "array-like"],
        "perturbation": [Interval(numbers.Real, 0, None, closed="neither")],
        "device": [None, str, torch.device],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters=8, *, batch_size=256, max_iter=100, tol=1e-4,
                 init="k-means++", perturbation=1e-4, device=None, random_state=None):
        self.n_clusters = n_clusters
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.perturbation = perturbation
        self.device = device
        self.random_state = random_state

    # --- internals (numpy, or torch on ``device``) --------------------------------------------

    def _validate(self, X, reset: bool):
        """``X`` as float64: numpy, or a torch tensor when ``device`` is set or ``X`` is one."""
        if isinstance(X, torch.Tensor):
            X = X.detach()
            if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
                raise ValueError(f"X must be a non-empty 2-d tensor, got shape {tuple(X.shape)}")
            if X.dtype == torch.bool or X.is_complex() or not bool(torch.isfinite(X).all()):
                raise ValueError("X must hold finite real numbers")
            check_finite(X, "X", max_abs=MAX_ABS)
            if reset:
                self.n_features_in_ = X.shape[1]
                self.__dict__.pop("feature_names_in_", None)
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but OnlineKMeans is expecting "
                                 f"{self.n_features_in_} features as input.")
            return X.to(device=self.device or X.device, dtype=torch.float64)
        X = validate_data(self, X, dtype=np.float64, reset=reset)
        check_finite(X, "X", max_abs=MAX_ABS)
        if self.device is not None:
            X = torch.as_tensor(X, device=self.device)
        return X

    def _init_centers(self, X, rng):
        """First centres from ``init``; ``X`` has at least ``n_clusters`` rows."""
        if isinstance(self.init, str):
            if self.init == "k-means++":
                return _kmeans_plusplus(X, self.n_clusters, rng)
            return X[rng.choice(X.shape[0], self.n_clusters, replace=False)]
        centers = np.array(self.init, dtype=np.float64)
        if centers.shape != (self.n_clusters, X.shape[1]):
            raise ValueError(f"init must have shape (n_clusters, n_features) = "
                             f"({self.n_clusters}, {X.shape[1]}), got {centers.shape}")
        check_finite(centers, "init", max_abs=MAX_ABS)
        return _like(centers, X)

    def _start(self, X, rng, need_rows=True):
        if need_rows and X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}")
        self._centers = self._init_centers(X, rng)
        self._counts = _like(np.zeros(self.n_clusters), X)
        self.n_steps_ = 0
        self.n_reseeded_ = 0
        self._n_features_out = self.n_clusters
        self._rng = rng

    def _resume(self, X):
        """Working copies of the fitted centres and counts in ``X``'s backend."""
        self._centers = _like(self.cluster_centers_, X)
        self._counts = _like(self.counts_, X)
        if not hasattr(self, "_rng"):  # e.g. after unpickling
            self._rng = check_random_state(self.random_state)

    def _finish(self):
        """Publish the working centres and counts as numpy fitted attributes."""
        self.cluster_centers_ = to_numpy(self._centers)
        self.counts_ = to_numpy(self._counts)
        del self._centers, self._counts

    def _step(self, batch):
        """One online update: assign ``batch``, move each centre with step ``1/n_k``."""
        centers, k = self._centers, self.n_clusters
        labels = _sq_distances(batch, centers).argmin(1)
        if isinstance(batch, torch.Tensor):
            got = torch.bincount(labels, minlength=k).to(torch.float64)
            sums = torch.zeros_like(centers).index_add_(0, labels, batch)
        else:
            got = np.bincount(labels, minlength=k).astype(np.float64)
            one_hot = scipy.sparse.csr_matrix(
                (np.ones(labels.size), (labels, np.arange(labels.size))), shape=(k, labels.size))
            sums = np.asarray(one_hot @ batch)
        hit = got > 0
        self._counts += got
        # running mean: c ← c + (Σx − m c) / n, i.e. m MacQueen steps with the assignments fixed
        centers[hit] += (sums[hit] - got[hit, None] * centers[hit]) / self._counts[hit, None]
        self.n_steps_ += 1
        return labels, got

    def _reseed(self, received, scale):
        """Re-seed every centre that ``received`` nothing from a split of the largest one."""
        received = to_numpy(received)
        centers, counts = self._centers, self._counts
        for dead in np.flatnonzero(received == 0):
            big = int(np.argmax(received))
            if received[big] <= 1:
                return  # nothing left to split
            noise = self._rng.standard_normal(centers.shape[1])
            noise *= self.perturbation * max(scale, np.finfo(float).tiny) / np.linalg.norm(noise)
            noise = _like(noise, centers)
            centers[dead] = centers[big] + noise
            centers[big] -= noise
            received[dead] = received[big] = received[big] / 2
            counts[dead] = counts[big] = counts[big] / 2
            self.n_reseeded_ += 1

    # --- estimator API -----------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster ``X`` with up to ``max_iter`` shuffled online passes; return ``self``."""
        X = self._validate(X, reset=True)
        rng = check_random_state(self.random_state)
        self._start(X, rng)
        n = X.shape[0]
        spread = _spread(X)
        scale = np.sqrt(spread) if spread > 0 else float(abs(X).max()) or 1.0
        for n_iter in range(1, self.max_iter + 1):
            self.n_iter_ = n_iter
            before = self._centers.clone() if isinstance(X, torch.Tensor) else self._centers.copy()
            received = _like(np.zeros(self.n_clusters), X)
            order = _like(rng.permutation(n), X)
            for start in range(0, n, self.batch_size):
                received += self._step(X[order[start:start + self.batch_size]])[1]
            shift = float(((self._centers - before) ** 2).sum(1).max())
            if (received == 0).any():
                self._reseed(received, scale)
            elif shift <= self.tol * spread:
                break
        d = _sq_distances(X, self._centers)
        labels = d.argmin(1)
        self.inertia_ = float(d[_like(np.arange(n), X), labels].sum())
        self.labels_ = to_numpy(labels, np.intp)
        self._finish()
        if (np.bincount(self.labels_, minlength=self.n_clusters) == 0).any():
            warnings.warn(f"OnlineKMeans found fewer than n_clusters={self.n_clusters} "
                          "non-empty clusters (too few distinct points?)",
                          ConvergenceWarning, stacklevel=2)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Update the centres with one minibatch ``X`` (all of it, one step); return ``self``.

        The first call initialises the centres from ``X``, which needs at least ``n_clusters``
        rows unless ``init`` gives the centres. A centre that has still received no point after
        a call on at least ``n_clusters`` rows is re-seeded (a centre may wait for its first point
        while batches are smaller than that).
        """
        first = not hasattr(self, "cluster_centers_")
        X = self._validate(X, reset=first)
        if first:
            self._start(X, check_random_state(self.random_state),
                        need_rows=isinstance(self.init, str))
        else:
            self._resume(X)
        labels, _ = self._step(X)
        if X.shape[0] >= self.n_clusters and (self._counts == 0).any():
            spread = _spread(X)
            self._reseed(self._counts, np.sqrt(spread) if spread > 0 else 1.0)
        d = _sq_distances(X, self._centers)
        self.inertia_ = float(d[_like(np.arange(X.shape[0]), X), labels].sum())
        self.labels_ = to_numpy(labels, np.intp)
        self._finish()
        return self

    def _distances(self, X):
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return _sq_distances(X, _like(self.cluster_centers_, X))

    def predict(self, X):
        """Index of the nearest centre of each row of ``X``."""
        return to_numpy(self._distances(X).argmin(1), np.intp)

    def transform(self, X):
        """Euclidean distance of each row of ``X`` to every centre, ``(n_samples, n_clusters)``."""
        return np.sqrt(to_numpy(self._distances(X)))

    def score(self, X, y=None):
        """Minus the sum of squared distances of ``X`` to its nearest centres (higher is better)."""
        d = self._distances(X)
        return -float((d.min(1).values if isinstance(d, torch.Tensor) else d.min(1)).sum())

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_rng", None)
        return state


# --- clustering classes ---------------------------------------------------------------------


def _check_square(matrix, name: str) -> np.ndarray:
    """Return a finite, symmetric, square float64 matrix; else ValueError naming ``name``."""
    if hasattr(matrix, "detach"):  # a torch tensor, possibly on a GPU
        matrix = matrix.detach().cpu().numpy()
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a square matrix of real numbers: {err}") from err
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square (C × C) matrix, got shape {m.shape}")
    check_finite(m, name, max_abs=MAX_ABS)
    scale = np.abs(m).max()
    if not np.allclose(m, m.T, rtol=0, atol=1e-8 * scale + 1e-300):
        raise ValueError(f"{name} must be symmetric (a covariance or a symmetrised affinity); "
                         f"max |{name} - {name}.T| = {np.abs(m - m.T).max():.3g}")
    return (m + m.T) / 2


def _affinity(m: np.ndarray) -> np.ndarray:
    """Non-negative affinity for spectral clustering: the correlation, clipped at 0."""
    d = np.sqrt(np.clip(np.diag(m), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = m / np.outer(d, d)
    corr[~np.isfinite(corr)] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, 0.0, 1.0)


def cluster_classes(cov, n_clusters: int, method: str = "online-kmeans",
                    random_state=0, n_init: int = 10) -> list[np.ndarray]:
    """Partition the C classes into confusable groups from a C×C matrix; see notebook 03.

    Parameters
    ----------
    cov : array-like of shape (n_classes, n_classes)
        A symmetric matrix over classes: the covariance of predicted probabilities
        (:func:`kdlab.covariance.prediction_covariance`), or a confusion affinity
        (:func:`confusion_affinity`: the row-normalised confusion matrix, symmetrised).
    n_clusters : int
        Number of groups, from 1 to ``n_classes``.
    method : {"online-kmeans", "kmeans", "spectral", "agglomerative"}, default="online-kmeans"
        How to cluster:

        - ``"online-kmeans"``: the paper's choice, :class:`OnlineKMeans` on the columns of
          ``cov`` (one point in R^C per class);
        - ``"kmeans"``: scikit-learn's batch :class:`~sklearn.cluster.KMeans` on the columns;
        - ``"spectral"``: :class:`~sklearn.cluster.SpectralClustering` on the affinity
          ``max(0, cov_ij / sqrt(cov_ii cov_jj))``, the correlation between classes clipped at 0
          (1 on the diagonal; 0 for a class with no variance);
        - ``"agglomerative"``: Ward-linkage :class:`~sklearn.cluster.AgglomerativeClustering`
          on the columns.
    random_state : int, RandomState instance or None, default=0
        Seed of the randomised methods.
    n_init : int, default=10
        Runs of the K-means methods from different starting centres; the one with the lowest
        inertia is kept (K-means only finds a local minimum; with C points the runs are cheap).

    Returns
    -------
    list of ndarray of int
        The groups: each class exactly once, each group sorted, groups ordered by their smallest
        class. There are ``n_clusters`` groups, or fewer when some columns coincide.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[ 2.0,  1.8, -1.0, -1.0],
    ...                 [ 1.8,  2.0, -1.0, -1.0],
    ...                 [-1.0, -1.0,  2.0,  1.8],
    ...                 [-1.0, -1.0,  1.8,  2.0]])
    >>> [g.tolist() for g in cluster_classes(cov, 2)]
    [[0, 1], [2, 3]]
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    m = _check_square(cov, "cov")
    n_classes = m.shape[0]
    n_init = check_int(n_init, "n_init", lo=1)
    n_clusters = check_int(n_clusters, "n_clusters (at most the number of classes)", 1, n_classes)
    if n_clusters == 1:
        labels = np.zeros(n_classes, dtype=int)
    elif n_clusters == n_classes:
        labels = np.arange(n_classes)
    elif method == "online-kmeans":
        rng = check_random_state(random_state)
        runs = [OnlineKMeans(n_clusters, random_state=rng.randint(2**31 - 1)).fit(m)
                for _ in range(n_init)]
        labels = min(runs, key=lambda run: run.inertia_).labels_
    elif method == "kmeans":
        labels = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit(m).labels_
    elif method == "spectral":
        with warnings.catch_warnings():  # "graph is not fully connected": fine for clusters
            warnings.simplefilter("ignore", UserWarning)
            labels = SpectralClustering(n_clusters, affinity="precomputed",
                                        random_state=random_state).fit(_affinity(m)).labels_
    else:
        labels = AgglomerativeClustering(n_clusters, linkage="ward").fit(m).labels_
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    return sorted(groups, key=lambda g: g[0])


def cluster_order(groups, n: int | None = None) -> np.ndarray:
    """The classes listed group by group: a permutation that puts each cluster in one block.

    Examples
    --------
    >>> cluster_order([np.array([0, 2]), np.array([1, 3])]).tolist()
    [0, 2, 1, 3]

    See notebook 03.
    """
    try:
        order = np.concatenate([np.asarray(g, dtype=int).ravel() for g in groups])
    except (TypeError, ValueError):
        raise ValueError(f"groups must be a list of arrays of class ids, got {groups!r}") from None
    n = len(order) if n is None else n
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError(f"groups must partition the {n} classes 0..{n - 1}: each exactly once")
    return order


def group_labels(groups, n_classes: int) -> np.ndarray:
    """The partition ``groups`` as one cluster id per class: ``c`` in ``groups[k]`` gets ``k``.

    The form that scikit-learn's ``adjusted_rand_score`` compares; ``groups`` must list each of
    the ``n_classes`` classes exactly once (as :func:`cluster_classes` returns them).

    Examples
    --------
    >>> group_labels([np.array([1, 3]), np.array([0, 2])], 4).tolist()
    [1, 0, 1, 0]

    See notebooks 03 and 06.
    """
    cluster_order(groups, n_classes)  # a partition of 0 .. n_classes - 1, or a ValueError
    out = np.empty(n_classes, dtype=int)
    for k, g in enumerate(groups):
        out[np.asarray(g, dtype=int)] = k
    return out


def look_alikes(matrix, cls, k: int = 2, class_names=None):
    """The ``k`` classes that row ``cls`` of a C×C class matrix weighs most, besides ``cls``.

    ``matrix[c, j]`` says how much class ``c`` looks like class ``j``: e.g. the mean soft
    target of class ``c``'s images (:func:`kdlab.experiments.mean_soft_targets`). The answer
    is in decreasing order, ties to the lower class id (a NaN entry, e.g. the row of a class
    with no example, counts least). With ``class_names``, ``cls`` may be a name and names are
    returned; without, class ids.

    Examples
    --------
    >>> m = np.array([[0.7, 0.1, 0.2], [0.3, 0.6, 0.1], [0.25, 0.25, 0.5]])
    >>> look_alikes(m, 0, k=1).tolist()
    [2]
    >>> look_alikes(m, "c", class_names=["a", "b", "c"])
    ['a', 'b']

    See notebooks 01 and 02.
    """
    m = to_numpy(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"matrix must be a square (C × C) class matrix with C >= 2, got shape "
                         f"{m.shape}")
    n = m.shape[0]
    names = None if class_names is None else list(class_names)
    if names is not None and len(names) != n:
        raise ValueError(f"class_names must hold {n} names (one per row of matrix), got "
                         f"{len(names)}")
    if names is not None and isinstance(cls, str):
        if cls not in names:
            raise ValueError(f"cls {cls!r} is not one of class_names {names}")
        cls = names.index(cls)
    c = check_int(cls, "cls", lo=0, hi=n - 1)
    k = check_int(k, "k", lo=1, hi=n - 1)
    row = np.where(np.arange(n) == c, -np.inf, m[c])
    best = np.argsort(-row, kind="stable")[:k]
    return best if names is None else [names[j] for j in best]


def confusion_affinity(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Symmetrised, row-normalised confusion matrix, for :func:`cluster_classes`; see notebook 03.

    ``R[i, j]`` is the fraction of examples of class ``i`` predicted as ``j`` (a row with no
    example is all zeros); the result is ``(R + Rᵀ) / 2``, symmetric and non-negative. Unlike the
    covariance of predictions, it needs labels.

    Examples
    --------
    >>> confusion_affinity([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 2], 3)
    array([[0.5 , 0.25, 0.  ],
           [0.25, 1.  , 0.  ],
           [0.  , 0.  , 1.  ]])
    """
    n_classes = check_int(n_classes, "n_classes", lo=1)
    arrays = {}
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if hasattr(y, "detach"):
            y = y.detach().cpu().numpy()
        y = np.asarray(y)
        if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
            raise ValueError(f"{name} must be a 1-d array of integer class ids, got shape "
                             f"{y.shape} and dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} must hold class ids in [0, {n_classes}), got values from "
                             f"{y.min()} to {y.max()}")
        arrays[name] = y.astype(np.int64)
    if arrays["y_true"].shape != arrays["y_pred"].shape:
        raise ValueError(f"y_true and y_pred must have the same length, got "
                         f"{arrays['y_true'].size} and {arrays['y_pred'].size}")
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (arrays["y_true"], arrays["y_pred"]), 1.0)
    totals = counts.sum(1, keepdims=True)
    rows = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    return (rows + rows.T) / 2


def confusable_groups(matrix, n_clusters: int, min_size: int = 2, **kwargs) -> list[np.ndarray]:
    """The groups of :func:`cluster_classes` that a specialist can take: ``min_size`` classes or
    more, and not every class (a specialist needs a dustbin). See notebooks 04 and 05.

    Examples
    --------
    >>> import numpy as np
    >>> cov = np.array([[2.0, 1.8, -1.0], [1.8, 2.0, -1.0], [-1.0, -1.0, 2.0]])
    >>> [g.tolist() for g in confusable_groups(cov, 2)]
    [[0, 1]]
    """
    min_size = check_int(min_size, "min_size", lo=1)
    n_classes = _check_square(matrix, "matrix").shape[0]
    return [g for g in cluster_classes(matrix, n_clusters, **kwargs)
            if min_size <= len(g) < n_classes]
