"""Dustbin specialists: one small expert per confusable cluster of classes (notebook 04).

Hinton, Vinyals & Dean (2015), section 5: a specialist for a cluster ``S`` of confusable classes
predicts the ``k = |S|`` classes of ``S`` plus one *dustbin* class (index ``k``, the last) that
stands for every other class. It is trained on every example of ``S`` and on a random sample of
the other examples, so that (by default) half of its training set is dustbin; it starts from
the generalist's weights; and after training its dustbin logit is raised by the log of the
factor by which ``S`` was oversampled, so that its probabilities reflect the true frequencies.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kdlab._paths import cache_dir
from kdlab.temperature import softmax_t
from kdlab.train import fit, fit_cached
from kdlab.train import predict_logits as _predict_logits
from kdlab.validate import (
    check_finite,
    check_int,
    check_labels,
    check_n_features,
    check_real,
    check_subset,
    to_numpy,
)

__all__ = ["Specialist", "SpecialistData", "specialist_confusion", "specialist_dataset",
           "train_specialists", "within_group_accuracy"]

BACKENDS = ("threading", "loky")


# --- argument checks --------------------------------------------------------------------------

def _check_generalist(generalist) -> nn.Linear:
    head = getattr(generalist, "head", None)
    if not isinstance(generalist, nn.Module) or not isinstance(
            getattr(generalist, "body", None), nn.Module) or not isinstance(head, nn.Linear):
        raise ValueError("generalist must be an MLP-like torch.nn.Module with a `body` module "
                         "and a `head` torch.nn.Linear (logits = head(body(x))), such as "
                         f"kdlab.MLP; got {type(generalist).__name__}")
    return head


def _in_features(model: nn.Module) -> int | None:
    """Input width of a ``body`` + ``head`` model; None if its first layer is not linear."""
    for m in model.body.modules():
        if isinstance(m, nn.Linear):
            return m.in_features
        if next(m.parameters(recurse=False), None) is not None:
            return None  # e.g. a convolution: the width is not known without a forward pass
    return model.head.in_features


def _check_X(X, model: nn.Module):
    """``X``: a 2-d numpy array or tensor with as many columns as ``model`` takes inputs."""
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        raise TypeError(f"X must be a numpy array or a torch tensor, got {type(X).__name__}")
    n_features = _in_features(model)
    if n_features is not None:
        check_n_features(X, n_features, "X")
    return X


# --- the training set: all of S, plus a sample of the rest as the dustbin ---------------------

@dataclass(frozen=True, eq=False)
class SpecialistData:
    """A specialist's training set, as indices into the full training set; see notebook 04.

    Attributes
    ----------
    indices : ndarray of int, sorted
        Rows of the full training set: every example of the subset classes and the sampled
        dustbin examples.
    labels : ndarray of int
        The specialist's labels of those rows: ``subset[j]`` becomes ``j``; any other class
        becomes the dustbin ``k = len(subset)``.
    subset : ndarray of int
        The specialist's classes, in the order that defines their labels.
    n_classes : int
        Number of classes of the full problem (the generalist's outputs).
    n_subset, n_other, n_dustbin : int
        Examples of the subset classes (all of them are used), examples of the other classes
        in the full training set, and how many of those were sampled into the dustbin.
    oversampling : float
        ``n_other / n_dustbin``: the factor by which the odds of "a subset class" against
        "the dustbin" are higher in the specialist's training set than in the full set,
        ``(n_subset / n_dustbin) / (n_subset / n_other)``. 1 when every other example is used.
    """

    indices: np.ndarray
    labels: np.ndarray
    subset: np.ndarray
    n_classes: int
    n_subset: int
    n_other: int
    n_dustbin: int
    oversampling: float

    @property
    def dustbin_fraction(self) -> float:
        """The dustbin's share of the training set, as achieved (as asked, up to rounding)."""
        return self.n_dustbin / (self.n_subset + self.n_dustbin)

    @property
    def frequency_ratio(self) -> float:
        """How many times more frequent the subset classes are here than in the full set.

        ``(n_subset / len(indices)) / (n_subset / (n_subset + n_other))``. This is *not* the
        factor of the dustbin correction, which is the odds ratio :attr:`oversampling`:
        e.g. 1,000 subset examples out of 10,000, sampled 50/50, are 5 times more frequent
        (10% to 50%) but their odds against the dustbin grew 9 times (1:9 to 1:1).
        """
        return (self.n_subset + self.n_other) / len(self.indices)

    @property
    def dustbin_correction(self) -> float:
        """``log(oversampling)``: what to add to the trained specialist's dustbin logit."""
        return math.log(self.oversampling)


def specialist_dataset(y, subset, dustbin_fraction: float = 0.5, seed: int = 0,
                       n_classes: int | None = None) -> SpecialistData:
    """Every example of the classes in ``subset``, plus a seeded sample of the others as dustbin.

    The paper (section 5): "the training set of each specialist … half its examples come from
    its special subset and half are sampled at random from the remainder of the training set".
    All ``n_subset`` examples of the subset are kept; ``round(f / (1 - f) * n_subset)`` (at
    least 1) examples of the other classes are drawn uniformly without replacement, so that a
    fraction ``f = dustbin_fraction`` of the specialist's set is dustbin. A uniform draw keeps
    the mix of classes inside the dustbin as in the full set (in expectation), which the
    correction of the dustbin logit relies on. When fewer other examples exist than that, all
    of them are used (no replacement, so no example is repeated): the achieved fraction,
    :attr:`SpecialistData.dustbin_fraction`, is then smaller than asked, and the oversampling is
    1 (the specialist sees the true proportions and needs no correction).

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels of the full training set.
    subset : sequence of int
        The specialist's classes (a confusable cluster, see notebook 03); their order defines
        the specialist's labels ``0 … k-1``; the dustbin is ``k = len(subset)``.
    dustbin_fraction : float in (0, 1), default 0.5
        The fraction of the specialist's training set drawn from the other classes.
    seed : int, default 0
        Seed of the draw: the same arguments always give the same set.
    n_classes : int, optional
        Number of classes of the full problem; ``max(y) + 1`` by default.

    Returns
    -------
    SpecialistData
        The rows (``indices``), their specialist ``labels`` and the ``oversampling`` factor.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(np.arange(5), 10)              # 5 classes, 10 examples each
    >>> d = specialist_dataset(y, [3, 1], seed=0)
    >>> len(d.indices), d.n_subset, d.n_dustbin, d.dustbin_fraction
    (40, 20, 20, 0.5)
    >>> np.bincount(d.labels).tolist()               # class 3 -> 0, class 1 -> 1, dustbin 2
    [10, 10, 20]
    >>> d.oversampling                               # odds 20:30 in the full set, 20:20 here
    1.5

    See notebook 04.
    """
    y = check_labels(to_numpy(y, None))
    if n_classes is None:
        if y.size == 0:
            raise ValueError("y is empty: no training examples")
        n_classes = int(y.max()) + 1
    n_classes = check_int(n_classes, "n_classes", lo=1)
    y = check_labels(y, n_classes)
    subset = check_subset(subset, n_classes)
    fraction = check_real(dustbin_fraction, "dustbin_fraction", 0, 1, lo_open=True, hi_open=True)
    seed = check_int(seed, "seed", lo=0)
    in_subset = np.isin(y, subset)
    subset_rows, other_rows = np.flatnonzero(in_subset), np.flatnonzero(~in_subset)
    if subset_rows.size == 0:
        raise ValueError(f"subset: y has no example of the classes {subset.tolist()}")
    if other_rows.size == 0:
        raise ValueError(f"subset: every example of y is of the classes {subset.tolist()}; "
                         "there is nothing to put in the dustbin")
    wanted = max(1, round(fraction / (1 - fraction) * subset_rows.size))
    if wanted >= other_rows.size:
        dustbin_rows = other_rows
    else:
        rng = np.random.default_rng(seed)
        dustbin_rows = rng.choice(other_rows, wanted, replace=False)
    indices = np.sort(np.concatenate([subset_rows, dustbin_rows]))
    relabel = np.full(n_classes, len(subset), dtype=np.int64)
    relabel[subset] = np.arange(len(subset))
    return SpecialistData(indices=indices, labels=relabel[y[indices]], subset=subset,
                          n_classes=n_classes, n_subset=int(subset_rows.size),
                          n_other=int(other_rows.size), n_dustbin=int(dustbin_rows.size),
                          oversampling=other_rows.size / dustbin_rows.size)


# --- the specialist model ---------------------------------------------------------------------

class Specialist(nn.Module):
    r"""A specialist network: the generalist's body and a head over ``subset`` plus a dustbin.

    Construction copies the generalist (which is left untouched) and initialises the head of
    ``k + 1`` outputs from the generalist's head ``(W, b)`` over ``C`` classes:

    - row ``j < k`` is row ``subset[j]`` of ``W`` and ``b``, exactly;
    - the dustbin row is the mean of the ``m = C - k`` other rows, and its bias the mean of
      their biases plus ``log m``: :math:`z_d = \frac1m \sum_{c \notin S} z_c + \log m`.

    Why: the generalist's probability of "any other class" is :math:`\sum_{c \notin S}
    e^{z_c} / Z`, i.e. a dustbin logit :math:`\operatorname{logsumexp}_{c \notin S} z_c`, which
    is not linear in the features and so no head row can produce it. The chosen row is its
    tangent where the other logits are equal (``logsumexp`` of ``m`` equal values ``v`` is
    ``v + log m``) and, by Jensen's inequality, a lower bound everywhere. At initialisation,
    for every input, with the generalist's probabilities ``p`` and the specialist's
    (uncorrected) ``q``:

    - exactly: the subset logits are the generalist's, so ``q`` restricted to the subset and
      renormalised equals ``p`` restricted to the subset and renormalised;
    - ``q_d <= sum_{c not in S} p_c`` and ``q_j >= p_{subset[j]}``, with equality when the
      other classes' logits are equal (e.g. when their head rows coincide);
    - so the specialist starts as the generalist, seen through the cluster, with a dustbin a
      little too small where the generalist is sure of one particular other class.

    Any other linear choice (e.g. the bias ``log sum exp(b_c)`` with the mean weight row) loses
    the bound; training on the dustbin examples corrects the remaining gap quickly.

    ``forward`` returns the raw logits (those that training fits). :meth:`predict_logits` and
    :meth:`predict_proba` add ``dustbin_correction`` to the dustbin logit by default: after
    training on oversampled data it is ``log(oversampling)`` (see
    :func:`train_specialists`); a fresh specialist built here has ``0``.

    Parameters
    ----------
    generalist : torch.nn.Module
        An MLP-like model with a ``body`` and a linear ``head``, such as :class:`kdlab.MLP`.
    subset : sequence of int
        The classes of the specialist, in the order of its outputs ``0 … k-1``.
    dustbin_correction : float, default 0.0
        The log-oversampling bias shift added to the dustbin logit at prediction time.

    Attributes
    ----------
    subset : ndarray of int
        The specialist's classes; output ``k = len(subset)`` is the dustbin.
    dustbin_correction : float
        See above.

    Examples
    --------
    >>> import torch
    >>> from kdlab.models import MLP
    >>> gen = MLP(8, (16,), 5, seed=0)
    >>> spec = Specialist(gen, [3, 1])
    >>> spec(torch.zeros(2, 8)).shape                     # classes 3, 1 and the dustbin
    torch.Size([2, 3])
    >>> torch.equal(spec.head.weight[0], gen.head.weight[3])
    True
    >>> spec.predict_proba(torch.zeros(1, 8)).sum().round(6)
    np.float64(1.0)

    See notebook 04.
    """

    def __init__(self, generalist: nn.Module, subset, dustbin_correction: float = 0.0):
        super().__init__()
        g_head = _check_generalist(generalist)
        n_classes = g_head.out_features
        subset = check_subset(subset, n_classes)
        if isinstance(dustbin_correction, bool) or not isinstance(dustbin_correction,
                                                                  numbers.Real) \
                or not math.isfinite(dustbin_correction):
            raise ValueError(f"dustbin_correction must be a finite number, got "
                             f"{dustbin_correction!r}")
        self.subset = subset
        self.subset.flags.writeable = False
        self.dustbin_correction = float(dustbin_correction)
        self.config = dict(generalist=getattr(generalist, "config", type(generalist).__name__),
                           n_classes=n_classes, subset=subset.tolist(),
                           dustbin_correction=self.dustbin_correction)
        self.body = copy.deepcopy(generalist.body)
        weight = g_head.weight.detach()
        bias = g_head.bias.detach() if g_head.bias is not None else weight.new_zeros(n_classes)
        # skip_init: no random initialisation, so the global torch random stream is not used
        self.head = nn.utils.skip_init(nn.Linear, g_head.in_features, len(subset) + 1,
                                       device=weight.device, dtype=weight.dtype)
        others = np.setdiff1d(np.arange(n_classes), subset)
        rows, rest = torch.tensor(subset.tolist()), torch.tensor(others.tolist())
        with torch.no_grad():
            self.head.weight[:-1] = weight[rows]
            self.head.bias[:-1] = bias[rows]
            self.head.weight[-1] = weight[rest].mean(dim=0)
            self.head.bias[-1] = bias[rest].mean() + math.log(len(others))
        for p in self.parameters():  # a trainable copy, without the generalist's gradients
            p.grad = None
            p.requires_grad_(True)
        self.train(True)

    @property
    def dustbin(self) -> int:
        """Index of the dustbin output: ``len(subset)``, the last."""
        return len(self.subset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Uncorrected logits (subset classes, then the dustbin) for a batch of inputs."""
        return self.head(self.body(x))

    def predict_logits(self, X, corrected: bool = True, batch_size: int = 4096) -> np.ndarray:
        """Logits for every row of ``X``, shape (N, k + 1); dustbin last, corrected by default.

        See notebook 04.
        """
        if not isinstance(corrected, bool):
            raise TypeError(f"corrected must be True or False, got {corrected!r}")
        _check_X(X, self)
        logits = _predict_logits(self, X, batch_size).astype(np.float64)
        if corrected and logits.size:
            logits[:, -1] += self.dustbin_correction
        return logits

    def predict_proba(self, X, corrected: bool = True, batch_size: int = 4096) -> np.ndarray:
        """Probabilities of the subset classes and the dustbin (last), shape (N, k + 1).

        With ``corrected`` (the default) the dustbin logit is first raised by
        ``dustbin_correction``, so that the probabilities reflect the class frequencies of the
        full training set rather than of the specialist's oversampled one.

        Examples
        --------
        >>> import torch
        >>> from kdlab.models import MLP
        >>> spec = Specialist(MLP(8, (16,), 5, seed=0), [3, 1], dustbin_correction=2.0)
        >>> p, q = spec.predict_proba(torch.ones(1, 8)), spec.predict_proba(torch.ones(1, 8),
        ...                                                                 corrected=False)
        >>> bool(p[0, -1] > q[0, -1])                     # the correction favours the dustbin
        True

        See notebook 04.
        """
        return softmax_t(self.predict_logits(X, corrected, batch_size))

    def extra_repr(self) -> str:
        return f"subset={self.subset.tolist()}, dustbin_correction={self.dustbin_correction:.4g}"


# --- training several specialists -------------------------------------------------------------

def _stochastic(model: nn.Module) -> bool:
    """Does training ``model`` draw from torch's global random stream (dropout)?"""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


def _train_one(specialist: Specialist, X, labels, fit_kwargs: dict, cache: bool, name: str,
               cache_root: str | None, val=None) -> Specialist:
    """Train one specialist (in this process, a thread, or a loky worker); return it."""
    if cache_root is not None:  # a reused worker process may carry another run's environment
        os.environ["KDLAB_CACHE"] = cache_root
    if val is not None:
        fit_kwargs = {**fit_kwargs, "val": val}
    if cache:
        return fit_cached(specialist, X, labels, name=name, verbose=False, **fit_kwargs)
    specialist.history = fit(specialist, X, labels, progress=False, **fit_kwargs)
    return specialist


def _rows(X, indices: np.ndarray):
    return X[torch.as_tensor(indices, device=X.device)] if isinstance(X, torch.Tensor) \
        else X[indices]


def train_specialists(generalist: nn.Module, X, y, subsets, *, epochs: int,
                      batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                      dustbin_fraction: float = 0.5, weight_decay: float = 0.0,
                      n_jobs: int = 1, backend: str | None = None, cache: bool = True,
                      device=None, progress: bool = True, val=None, patience: int | None = None,
                      soft_weight: float = 0.0, name: str = "specialist") -> list[Specialist]:
    r"""Train one dustbin specialist per class subset, as in the paper's section 5.

    For each subset ``S``: build its training set with :func:`specialist_dataset` (all of
    ``S``, ``dustbin_fraction`` of dustbin), start a :class:`Specialist` from the generalist's
    weights, train it with :func:`kdlab.fit` (Adam, cross-entropy, ``seed``), and set its
    ``dustbin_correction`` to ``log(oversampling)``. Subsets may overlap (a class can have
    several specialists, as in the paper's Table 4). The generalist is not modified.

    **The dustbin correction.** Let the full training set have ``N`` examples, ``n_c`` of class
    ``c``; the specialist's set keeps the ``n_S`` examples of ``S`` and draws ``n_d`` of the
    ``n_o = N - n_S`` others. Its classes are the ``j in S`` and the dustbin ``d``, with true
    priors :math:`\pi(j) = n_j / N`, :math:`\pi(d) = n_o / N` and training priors
    :math:`\pi_t(j) = n_j / M`, :math:`\pi_t(d) = n_d / M` (``M = n_S + n_d``). Sampling
    uniformly within the subset classes and within the dustbin leaves the class-conditional
    densities :math:`p(x \mid c)` unchanged, so by Bayes' rule a network trained to
    :math:`p_t(c \mid x) \propto p(x \mid c)\,\pi_t(c)` gives the true posterior after

    .. math::

        p(c \mid x) \propto p_t(c \mid x)\,\frac{\pi(c)}{\pi_t(c)}
        \quad\Longleftrightarrow\quad z_c \leftarrow z_c + \log\frac{\pi(c)}{\pi_t(c)} .

    For ``j in S`` the shift is :math:`\log(M/N)`, the same for every ``j``; for the dustbin it
    is :math:`\log(M/N) + \log(n_o/n_d)`. The softmax ignores a shift common to all logits, so
    only the dustbin logit changes, by :math:`\log(n_o / n_d) = \log\rho` where
    :math:`\rho = (n_S/n_d) / (n_S/n_o)` is the factor by which the odds of the subset against
    the dustbin were raised: the oversampling (:attr:`SpecialistData.oversampling`). Note
    :math:`\rho` is an odds ratio, not the ratio of frequencies :math:`(n_S/M)/(n_S/N)`.

    The correction is exact for a specialist that has learned its training distribution. One
    trained only briefly still carries part of the generalist's prior (the true one) from its
    initialisation, and the correction then overshoots towards the dustbin; compare
    ``predict_proba(X, corrected=False)`` and ``predict_proba(X)`` on held-out data.

    Parameters
    ----------
    generalist : torch.nn.Module
        The trained generalist, an MLP-like model with ``body`` and ``head``.
    X : array or tensor (N, D)
        The full training inputs.
    y : array of int (N,)
        Their labels.
    subsets : sequence of sequences of int
        The clusters ``S^m`` (e.g. from :func:`kdlab.cluster_classes`); may overlap.
    epochs, batch_size, lr, weight_decay, device
        Passed to :func:`kdlab.fit`.
    seed : int, default 0
        Seeds both the dustbin draw and the training; every specialist uses it, so that a
        specialist depends only on its subset, not on its position in ``subsets``.
    dustbin_fraction : float in (0, 1), default 0.5
        The dustbin's share of each specialist's training set.
    n_jobs : int, default 1
        Specialists trained at once (joblib semantics: -1 for every CPU core). 1 trains them
        one after another in this process.
    backend : {None, "threading", "loky"}, default None
        How ``n_jobs > 1`` runs. Threads share the model and data without copies and torch
        releases the GIL, so they run in parallel (torch's own threads are divided among
        them). But threads also share torch's global random stream, which dropout draws from,
        so a model with dropout would depend on their scheduling: ``None`` picks threads for a
        model without dropout and loky worker processes (fresh interpreters, never a bare
        ``fork``, which can deadlock torch) for one with dropout. Either way the result is
        the same as with ``n_jobs=1``.
    cache : bool, default True
        Train each specialist with :func:`kdlab.fit_cached` (files ``specialist-{i}-….pt``), so
        that a second call with the same arguments loads them from disk.
    progress : bool, default True
        Show a ``tqdm`` progress bar over the specialists.
    val : (X_val, y_val), optional
        Held-out data of the full problem (never the test set) for early stopping: each
        specialist gets its own held-out set, drawn from it by :func:`specialist_dataset` as
        its training set is, and keeps the weights of the epoch with the lowest loss on it
        (``history["best_epoch"]``; see :func:`kdlab.fit`).
    patience : int, optional
        With ``val``: stop a specialist after this many epochs without improvement.
    soft_weight : float in [0, 1), default 0
        The regulariser of the paper's section 6.1: train on ``(1 - w) · label + w · soft``,
        where ``soft`` is the generalist's probabilities folded onto the specialist's classes
        and dustbin, with the dustbin's odds divided by
        the oversampling so that they describe the specialist's 50/50 set. The cross-entropy
        of this mixture is ``(1 - w)`` times the hard loss plus ``w`` times the soft one: the
        specialist learns its group from the labels while being held to the generalist's
        opinion, on the images of the other classes too. 0 (the default): labels alone.
    name : str, default "specialist"
        Label of the cache files, ``{name}-{i}-….pt``.

    Returns
    -------
    list of Specialist
        In the order of ``subsets``, in eval mode, each with ``history`` (from :func:`fit`)
        and ``training_data`` (its :class:`SpecialistData`).

    Examples
    --------
    >>> from kdlab.data import load_dataset
    >>> from kdlab.models import MLP
    >>> from kdlab.train import fit
    >>> ds = load_dataset("digits", "train")
    >>> gen = MLP(64, (32,), 10, seed=0)
    >>> _ = fit(gen, ds.X, ds.y, epochs=2, progress=False)
    >>> specs = train_specialists(gen, ds.X, ds.y, [[3, 5, 8], [1, 7]], epochs=1,
    ...                           cache=False, progress=False)
    >>> [s.predict_proba(ds.X[:4]).shape for s in specs]
    [(4, 4), (4, 3)]
    >>> round(specs[0].training_data.dustbin_fraction, 3)
    0.5

    See notebook 04.
    """
    g_head = _check_generalist(generalist)
    n_classes = g_head.out_features
    y = check_labels(to_numpy(y, None))
    check_finite(_check_X(X, generalist), "X")
    if len(X) != len(y):
        raise ValueError(f"y: expected {len(X)} labels to match X, got {len(y)}")
    if isinstance(subsets, (str, bytes, np.ndarray, torch.Tensor)) \
            or not isinstance(subsets, (list, tuple)) or len(subsets) == 0:
        raise ValueError(f"subsets must be a non-empty list of class-id sequences, one per "
                         f"specialist, got {subsets!r}")
    subsets = [check_subset(s, n_classes, f"subsets[{i}]") for i, s in enumerate(subsets)]
    check_real(dustbin_fraction, "dustbin_fraction", 0, 1, lo_open=True, hi_open=True)
    check_int(seed, "seed", lo=0)
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be None, 'threading' or 'loky', got {backend!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a nonzero int (-1: every core), got {n_jobs!r}")
    for arg, value in [("progress", progress), ("cache", cache)]:
        if not isinstance(value, bool):
            raise TypeError(f"{arg} must be True or False, got {value!r}")

    if isinstance(soft_weight, bool) or not isinstance(soft_weight, numbers.Real) \
            or not 0 <= soft_weight < 1:
        raise ValueError(f"soft_weight must be a number in [0, 1), got {soft_weight!r}")
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a plain file label, got {name!r}")
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise ValueError("val must be a pair (X_val, y_val): held-out data of the full "
                             "problem")
        X_val = check_finite(_check_X(val[0], generalist), "val[0]")
        y_val = check_labels(to_numpy(val[1], None), n_classes, name="val[1]")
        if len(X_val) != len(y_val):
            raise ValueError(f"val: expected {len(X_val)} labels to match X_val, got "
                             f"{len(y_val)}")
    elif patience is not None:
        raise ValueError("patience needs val: held-out data to stop on")

    data = [specialist_dataset(y, s, dustbin_fraction, seed, n_classes) for s in subsets]
    specialists = [Specialist(generalist, d.subset, d.dustbin_correction) for d in data]
    held_out = [None] * len(data)
    if val is not None:
        held_out = []
        for d in data:
            v = specialist_dataset(y_val, d.subset, dustbin_fraction, seed, n_classes)
            held_out.append((_rows(X_val, v.indices), v.labels, v.oversampling))
    targets = [d.labels for d in data]
    if soft_weight > 0:
        targets = [_soft_mix(generalist, _rows(X, d.indices), d.labels, d.subset,
                             d.oversampling, soft_weight) for d in data]
        held_out = [None if h is None else
                    (h[0], _soft_mix(generalist, h[0], h[1], d.subset, d.oversampling,
                                     soft_weight), h[2])
                    for h, d in zip(held_out, data, strict=True)]
    fit_kwargs = dict(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                      seed=seed, device=device)
    if patience is not None:
        fit_kwargs["patience"] = patience

    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    workers = min(effective_n_jobs(int(n_jobs)), len(subsets))
    if backend is None:
        backend = "loky" if _stochastic(specialists[0]) else "threading"
    cache_root = str(cache_dir()) if backend == "loky" else None
    jobs = (delayed(_train_one)(s, _rows(X, d.indices), t, fit_kwargs, cache, f"{name}-{i}",
                                cache_root if workers > 1 else None,
                                None if h is None else h[:2])
            for i, (s, d, t, h) in enumerate(zip(specialists, data, targets, held_out,
                                                 strict=True)))
    bar = tqdm(total=len(subsets), desc="specialists", unit="specialist", disable=not progress,
               leave=False)
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # threads may leave the global stream moved
            if workers == 1:
                trained = []
                for fn, args, kwargs in jobs:
                    trained.append(fn(*args, **kwargs))
                    bar.update()
            else:
                if backend == "threading":  # share torch's intra-op threads among the workers
                    torch.set_num_threads(max(1, threads // workers))
                trained = []
                for out in Parallel(n_jobs=workers, backend=backend, return_as="generator")(jobs):
                    trained.append(out)
                    bar.update()
    finally:
        torch.set_num_threads(threads)
        bar.close()
    for s, d in zip(trained, data, strict=True):
        s.training_data = d
        s.eval()
    return trained


def _soft_mix(generalist, X, labels, subset, oversampling, weight) -> np.ndarray:
    """``(1 - w) · one-hot(labels) + w · (the generalist folded onto subset + dustbin, at the
    specialist's 50/50 odds)``, float32 rows summing to 1."""
    p = softmax_t(_predict_logits(generalist, X).astype(np.float64))
    others = np.setdiff1d(np.arange(p.shape[1]), subset)
    folded = np.column_stack([p[:, subset], p[:, others].sum(axis=1) / oversampling])
    folded /= folded.sum(axis=1, keepdims=True)
    hard = np.eye(len(subset) + 1)[labels]
    return ((1 - weight) * hard + weight * folded).astype(np.float32)


def specialist_confusion(specialist: Specialist, X, y, corrected: bool = True) -> np.ndarray:
    """Counts ``(k+1) × (k+1)``: true class (the subset's, then "other") by the specialist's answer.

    Row ``i < k`` holds the examples of class ``subset[i]``, row ``k`` every example of another
    class; column ``j`` counts the answers "class ``subset[j]``" and column ``k`` the answers
    "dustbin". The diagonal is what the specialist gets right. ``corrected`` chooses the
    probabilities with or without the log-oversampling correction.

    Examples
    --------
    >>> import numpy as np
    >>> from kdlab.models import MLP
    >>> spec = Specialist(MLP(4, (8,), 3, seed=0), [0, 2])
    >>> m = specialist_confusion(spec, np.zeros((5, 4), np.float32), [0, 1, 2, 2, 1])
    >>> m.shape, int(m.sum()), m.sum(axis=1).tolist()
    ((3, 3), 5, [1, 2, 2])

    See notebook 04.
    """
    if not isinstance(specialist, Specialist):
        raise TypeError(f"specialist must be a Specialist, got {type(specialist).__name__}")
    labels = check_labels(to_numpy(y, None))
    k = len(specialist.subset)
    probs = specialist.predict_proba(X, corrected=corrected)
    if len(probs) != len(labels):
        raise ValueError(f"y: expected {len(probs)} labels to match X, got {len(labels)}")
    rows = np.full(len(labels), k)
    for j, c in enumerate(specialist.subset):
        rows[labels == c] = j
    out = np.zeros((k + 1, k + 1), dtype=np.int64)
    np.add.at(out, (rows, probs.argmax(axis=1)), 1)
    return out


def within_group_accuracy(scores, y, subset) -> float:
    """Accuracy on the examples of ``subset``'s classes, answering with the subset's best class.

    The one question asked of a generalist and of a specialist alike (see notebook 04): among
    the examples whose true class is in ``subset``, how often is the arg-max of ``scores`` over
    the subset's classes the true class? ``scores`` has one column per class of ``subset``, in
    its order: a generalist's probabilities ``p[:, subset]``, or a specialist's own outputs
    ``specialist.predict_proba(X)[:, :k]`` (its dustbin, the last column, left out). Rows of
    other classes are ignored; ``nan`` when there is none of the subset's. Ties go to the first
    class of ``subset``.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.1, 0.5, 0.4], [0.2, 0.3, 0.5], [0.9, 0.05, 0.05], [0.1, 0.1, 0.8]])
    >>> y = np.array([2, 2, 0, 1])
    >>> within_group_accuracy(p[:, [1, 2]], y, [1, 2])   # rows 0, 1, 3; best of classes 1, 2
    0.3333333333333333

    See notebooks 04 and 05.
    """
    labels = check_labels(to_numpy(y, None))
    arr = check_subset(subset, None, proper=False)
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != arr.size:
        raise ValueError(f"scores must have shape (N, {arr.size}): one column per class of "
                         f"subset, in its order; got shape {s.shape}")
    if len(s) != len(labels):
        raise ValueError(f"y: expected {len(s)} labels to match scores, got {len(labels)}")
    check_finite(s, "scores")
    mine = np.isin(labels, arr)
    if not mine.any():
        return float("nan")
    return float((arr[s[mine].argmax(axis=1)] == labels[mine]).mean())
