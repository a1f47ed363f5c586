"""The covariance of predicted class probabilities, in one call or online (see notebook 03).

Section 5.3 of the paper finds confusable classes without labels by clustering "the columns of
the covariance matrix" of the generalist's predicted probabilities. The random variables are the
C *classes* (the probability the model gives each class) and the observations are the examples,
so the matrix is C×C whatever the number of examples: entry ``(i, j)`` says how the probability
of class ``i`` moves with the probability of class ``j`` across the data. Column ``j`` is class
``j``'s profile of co-variation with every class; it is not an input example.

:class:`CovarianceAccumulator` builds it in batches with Welford/Chan updates in float64, so
memory stays O(C²) however many predictions stream past, and a large common offset does not
cancel the way the naive ``E[xxᵀ] − E[x]E[x]ᵀ`` does.
"""

from __future__ import annotations

import numpy as np
import torch

from kdlab.validate import check_int, check_probabilities, to_numpy

__all__ = ["CovarianceAccumulator", "correlation_from_covariance", "prediction_correlation",
           "prediction_covariance"]

_CHUNK = 8192  # rows converted to float64 at a time: bounds the extra memory of one update


def _check_batch(batch, name: str, n_classes: int | None):
    """Return ``batch`` as a 2-d float64 numpy array or torch tensor; reject bad input."""
    if isinstance(batch, torch.Tensor):
        if batch.dtype == torch.bool or batch.is_complex():
            raise ValueError(f"{name} must hold real numbers, got a tensor of dtype {batch.dtype}")
        x = batch.detach()
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-d (examples × classes), got shape "
                             f"{tuple(x.shape)}")
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} must be finite, got NaN or infinity")
    else:
        if isinstance(batch, str | bytes) or batch is None:
            raise ValueError(f"{name} must be a numpy array or torch tensor, got "
                             f"{type(batch).__name__}")
        x = np.asarray(batch)
        if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise ValueError(f"{name} must hold real numbers, got an array of dtype {x.dtype}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-d (examples × classes), got shape {x.shape}")
        if x.size and not np.isfinite(x).all():
            raise ValueError(f"{name} must be finite, got NaN or infinity")
    if n_classes is not None and x.shape[1] != n_classes:
        raise ValueError(f"{name} has {x.shape[1]} classes (columns), expected {n_classes}")
    return x


def _moments(x):
    """Count, mean and centred sum of squares ``Σ (x − x̄)(x − x̄)ᵀ`` of one float64 chunk."""
    n = x.shape[0]
    mean = x.mean(0)
    d = x - mean
    if isinstance(d, torch.Tensor):
        # one more pass removes the rounding error left in the first mean (two-pass algorithm)
        shift = d.mean(0)
        return n, mean + shift, d.T @ d - n * torch.outer(shift, shift)
    shift = d.mean(0)
    return n, mean + shift, d.T @ d - n * np.outer(shift, shift)


class CovarianceAccumulator:
    """Streaming covariance of ``n_classes`` variables; see notebook 03.

    Parameters
    ----------
    n_classes : int
        Number of columns (classes) of every batch.
    probabilities : bool, default True
        Refuse a batch whose rows are not probabilities (a negative entry, or a row that does
        not sum to 1 within 1e-3: logits passed by mistake). False accepts any real columns.

    Attributes
    ----------
    n_ : int
        Number of rows (examples) seen so far.
    mean_ : ndarray of shape (n_classes,)
        Their mean, float64.

    Notes
    -----
    Each batch is reduced to its count, mean and centred sum of squares, and folded into the
    running state with Chan, Golub & LeVeque's pairwise formula
    ``M = M_a + M_b + δδᵀ n_a n_b / n`` with ``δ = mean_b − mean_a``; :meth:`merge` uses the same
    formula, so accumulators filled on different workers combine exactly. All sums are float64.
    numpy batches are accumulated in numpy; torch batches (CUDA included) in torch on their
    device, and the results come back as numpy float64.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> probs = rng.dirichlet(np.ones(4), size=1000)
    >>> acc = CovarianceAccumulator(4)
    >>> for batch in np.array_split(probs, 7):
    ...     _ = acc.update(batch)
    >>> acc.n_
    1000
    >>> np.allclose(acc.covariance(), np.cov(probs, rowvar=False))
    True
    """

    def __init__(self, n_classes: int, *, probabilities: bool = True):
        n_classes = check_int(n_classes, "n_classes", lo=1)
        if not isinstance(probabilities, bool):
            raise TypeError(f"probabilities must be True or False, got {probabilities!r}")
        self.n_classes = int(n_classes)
        self.probabilities = probabilities
        self.n_ = 0
        self._mean = np.zeros(self.n_classes)
        self._m2 = np.zeros((self.n_classes, self.n_classes))

    # --- state in numpy or torch -----------------------------------------------------------

    def _to_torch(self, device):
        """Move the running state to torch float64 on ``device`` (for torch batches)."""
        if not isinstance(self._m2, torch.Tensor) or self._m2.device != torch.device(device):
            self._mean = torch.as_tensor(self._mean, dtype=torch.float64, device=device)
            self._m2 = torch.as_tensor(self._m2, dtype=torch.float64, device=device)

    def _combine(self, n_b, mean_b, m2_b):
        """Fold the moments of a batch (or of another accumulator) into the state (Chan)."""
        n_a = self.n_
        if n_b == 0:
            return
        n = n_a + n_b
        delta = mean_b - self._mean
        outer = torch.outer if isinstance(delta, torch.Tensor) else np.outer
        self._m2 = self._m2 + m2_b + outer(delta, delta) * (n_a * n_b / n)
        self._mean = self._mean + delta * (n_b / n)
        self.n_ = n

    # --- public API ------------------------------------------------------------------------

    def update(self, batch) -> CovarianceAccumulator:
        """Add a batch of shape ``(n, n_classes)`` (numpy or torch); return ``self``."""
        x = _check_batch(batch, "batch", self.n_classes)
        if self.probabilities:
            check_probabilities(x, "batch")
        if isinstance(x, torch.Tensor):
            if not isinstance(self._m2, torch.Tensor):
                self._to_torch(x.device)  # the state follows the first torch batch's device
            device = self._m2.device
            for start in range(0, x.shape[0], _CHUNK):
                chunk = x[start:start + _CHUNK].to(device=device, dtype=torch.float64)
                self._combine(*_moments(chunk))
        else:
            torch_state = isinstance(self._m2, torch.Tensor)
            for start in range(0, x.shape[0], _CHUNK):
                chunk = x[start:start + _CHUNK].astype(np.float64)
                if torch_state:
                    chunk = torch.as_tensor(chunk, device=self._m2.device)
                self._combine(*_moments(chunk))
        return self

    def merge(self, other: CovarianceAccumulator) -> CovarianceAccumulator:
        """Fold another accumulator's rows into this one (parallel combination); return ``self``."""
        if not isinstance(other, CovarianceAccumulator):
            raise ValueError(f"other must be a CovarianceAccumulator, got {type(other).__name__}")
        if other.n_classes != self.n_classes:
            raise ValueError(f"other has {other.n_classes} classes, expected {self.n_classes}")
        mean_b, m2_b = other._mean, other._m2
        if isinstance(self._m2, torch.Tensor):
            mean_b = torch.as_tensor(mean_b, dtype=torch.float64, device=self._m2.device)
            m2_b = torch.as_tensor(m2_b, dtype=torch.float64, device=self._m2.device)
        elif isinstance(m2_b, torch.Tensor):
            self._to_torch(m2_b.device)
        self._combine(other.n_, mean_b, m2_b)
        return self

    @property
    def mean_(self) -> np.ndarray:
        """The mean of the rows seen so far, float64 numpy."""
        return to_numpy(self._mean)

    def covariance(self, ddof: int = 1, *, as_numpy: bool = True):
        """The ``n_classes × n_classes`` covariance, float64 numpy (``ddof=1`` as ``np.cov``).

        With ``as_numpy=False`` a covariance accumulated in torch stays a float64 tensor on its
        device (copying 15,000² float64 from a GPU takes longer than computing them).
        """
        ddof = check_int(ddof, "ddof", lo=0, hi=1)
        if self.n_ - ddof < 1:
            raise ValueError(f"covariance needs at least {ddof + 1} observations (rows), "
                             f"got n_={self.n_}")
        cov = self._m2 / (self.n_ - ddof)
        cov = (cov + cov.T) / 2
        return to_numpy(cov) if as_numpy else cov

    def __repr__(self) -> str:
        return f"CovarianceAccumulator(n_classes={self.n_classes}) with n_={self.n_}"


def prediction_covariance(probs) -> np.ndarray:
    """C×C covariance of predicted class probabilities over examples; see notebook 03.

    Parameters
    ----------
    probs : array-like or torch.Tensor of shape (n_examples, n_classes)
        One row of predicted probabilities per example (non-negative, each row summing to 1:
        apply a softmax to logits first); at least two rows.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Float64, equal to ``np.cov(probs, rowvar=False)``. Column ``j`` is class ``j``'s
        co-variation with every class: the vectors that section 5.3 clusters.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.1, 0.8]])
    >>> cov = prediction_covariance(probs)
    >>> cov.shape
    (3, 3)
    >>> np.allclose(cov, np.cov(probs, rowvar=False))
    True
    """
    x = _check_batch(probs, "probs", None)
    if x.shape[1] == 0:
        raise ValueError("probs must have at least one class (column), got shape "
                         f"{tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"probs must have at least 2 rows (examples), got {x.shape[0]}")
    check_probabilities(x, "probs")
    return CovarianceAccumulator(x.shape[1], probabilities=False).update(x).covariance()


def correlation_from_covariance(cov) -> np.ndarray:
    """The correlation matrix ``cov_ij / sqrt(cov_ii cov_jj)`` of a covariance; see notebook 03.

    Clustering the columns of a raw covariance of predicted probabilities groups classes by how
    much their probability varies (the diagonal dominates each column); the correlation puts
    every class on the same scale, so that columns differ by *which* classes co-vary. A class
    whose probability never varies gets a column of zeros with 1 on the diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> probs = rng.dirichlet(np.ones(4), size=500)
    >>> np.allclose(correlation_from_covariance(np.cov(probs, rowvar=False)),
    ...             np.corrcoef(probs, rowvar=False))
    True
    """
    m = np.asarray(to_numpy(cov) if isinstance(cov, torch.Tensor) else cov, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"cov must be a square (C, C) matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("cov must be finite")
    if not np.allclose(m, m.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(m).max()))):
        raise ValueError("cov must be symmetric")
    d = np.diag(m)
    if (d < 0).any():
        raise ValueError("cov must have a non-negative diagonal (variances)")
    sd = np.sqrt(d)
    outer = np.outer(sd, sd)
    corr = np.divide(m, outer, out=np.zeros_like(m), where=outer > 0)
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def prediction_correlation(probs) -> np.ndarray:
    """The C×C correlation of predicted class probabilities: what notebooks 03–06 cluster.

    ``correlation_from_covariance(prediction_covariance(probs))``.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.random.default_rng(0).dirichlet(np.ones(3), size=200)
    >>> np.allclose(prediction_correlation(probs), np.corrcoef(probs, rowvar=False))
    True

    See notebook 03.
    """
    return correlation_from_covariance(prediction_covariance(probs))
