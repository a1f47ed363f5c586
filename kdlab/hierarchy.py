"""A synthetic many-class data set with known confusable groups (see notebook 03).

The paper's JFT has 15,000 classes whose confusable groups nobody wrote down. Here the groups
are known: classes are nested in superclasses, so a classifier confuses the classes of one
superclass with each other and almost never with anything else, and the clustering of
notebook 03 can be scored against the truth. Everything is Gaussian and drawn in a few
vectorised calls, so it scales from tens to thousands of classes in milliseconds to seconds.
"""

from __future__ import annotations

import numpy as np

from kdlab.validate import check_int, check_positive, check_real

__all__ = ["make_hierarchical", "gibbs_probabilities"]


def make_hierarchical(n_superclasses: int = 8, classes_per_super: int = 5,
                      n_per_class: int = 100, n_features: int = 32, *,
                      superclass_scale: float = 4.0, class_scale: float = 0.35,
                      noise: float = 1.0, shuffle: bool = True, random_state=None,
                      return_centers: bool = False):
    """Gaussian classes nested in Gaussian superclasses; see notebook 03.

    Superclass centres are drawn from ``N(0, superclass_scale² I)``, the centres of its classes
    from ``N(superclass centre, class_scale² I)``, and each example from
    ``N(class centre, noise² I)``. With the defaults (32 features) two superclasses lie about
    ``4·√64 ≈ 32`` noise units apart, and two classes of one superclass about ``0.35·√64 ≈ 2.8``:
    the first pair is never confused, the second often.

    Parameters
    ----------
    n_superclasses : int, default=8
        Number of superclasses (the confusable groups).
    classes_per_super : int, default=5
        Classes in each superclass; there are ``n_superclasses * classes_per_super`` classes.
    n_per_class : int, default=100
        Examples of each class.
    n_features : int, default=32
        Dimension of the inputs.
    superclass_scale, class_scale, noise : float, default=4.0, 0.35, 1.0
        Standard deviations of the superclass centres, of the class centres around them, and of
        the examples around their class centre.
    shuffle : bool, default=True
        Shuffle the examples (otherwise they come class by class).
    random_state : int, numpy Generator or None, default=None
        Seed.
    return_centers : bool, default=False
        Also return the class centres, ``(n_classes, n_features)`` float32.

    Returns
    -------
    X : ndarray of shape (n_classes * n_per_class, n_features), float32
    y : ndarray of shape (n_classes * n_per_class,), int64
        Class ids ``0 … n_classes-1``.
    superclass : ndarray of shape (n_classes,), int64
        Superclass of each class: class ``c`` belongs to ``c // classes_per_super``.
    centers : ndarray of shape (n_classes, n_features), float32
        Only when ``return_centers``.

    Examples
    --------
    >>> X, y, superclass = make_hierarchical(3, 4, n_per_class=10, n_features=8, random_state=0)
    >>> X.shape, X.dtype, y.max(), superclass.tolist()
    ((120, 8), dtype('float32'), np.int64(11), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    """
    n_super = check_int(n_superclasses, "n_superclasses", lo=1)
    per_super = check_int(classes_per_super, "classes_per_super", lo=1)
    n_per = check_int(n_per_class, "n_per_class", lo=1)
    d = check_int(n_features, "n_features", lo=1)
    s_scale = check_real(superclass_scale, "superclass_scale", lo=0)
    c_scale = check_real(class_scale, "class_scale", lo=0)
    sigma = check_real(noise, "noise", lo=0)
    rng = np.random.default_rng(random_state)
    n_classes = n_super * per_super
    superclass = np.repeat(np.arange(n_super, dtype=np.int64), per_super)
    super_centers = rng.standard_normal((n_super, d), dtype=np.float32) * np.float32(s_scale)
    centers = super_centers[superclass] \
        + rng.standard_normal((n_classes, d), dtype=np.float32) * np.float32(c_scale)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per)
    if shuffle:
        y = rng.permutation(y)
    X = rng.standard_normal((y.size, d), dtype=np.float32)
    X *= np.float32(sigma)
    X += centers[y]
    if return_centers:
        return X, y, superclass, centers
    return X, y, superclass


def gibbs_probabilities(X, centers, T: float = 1.0) -> np.ndarray:
    """A quick "generalist": softmax of ``−‖x − μ_c‖² / (2T)`` over class centres; notebook 03.

    With ``T = noise²`` and the true centres this is the Bayes posterior of
    :func:`make_hierarchical`'s classes (equal priors), a Gibbs distribution over the classes.
    Returns float64 probabilities of shape ``(n_examples, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> p = gibbs_probabilities(np.zeros((1, 2)), np.array([[0.0, 0.0], [1.0, 0.0]]))
    >>> p.round(3)
    array([[0.622, 0.378]])
    """
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if X.ndim != 2 or centers.ndim != 2 or X.shape[1] != centers.shape[1]:
        raise ValueError(f"X and centers must be 2-d with the same number of features, got "
                         f"shapes {X.shape} and {centers.shape}")
    T = check_positive(T, "T")
    logits = X @ centers.T - 0.5 * (centers * centers).sum(1)  # −‖x−μ‖²/2 up to a row constant
    logits /= T
    logits -= logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    return p
