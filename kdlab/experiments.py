"""The paper's experiments as small reusable helpers: error gaps, bias shifts, (α, T) sweeps.

Chapter 02 computes them; later chapters and the replication script reuse them. The paper's own
numbers are kept here too, so that every table prints them beside ours (see notebook 02).
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np
import torch
from torch import nn

from kdlab.temperature import softmax_t

__all__ = [
    "PAPER_MNIST",
    "PAPER_SPEECH",
    "scale_count",
    "gap_closed",
    "mean_soft_targets",
    "raise_bias",
    "errors_with_bias_shift",
    "choose_bias_shift",
    "distill_grid",
    "train_generalist",
    "train_teacher",
]

#: Test errors (out of 10,000) of Hinton et al. (2015), section 3, on MNIST.
PAPER_MNIST = {
    "teacher": 67,            # 1200-1200, dropout, ±2-pixel jitter
    "student": 146,           # 800-800, no regularisation, hard labels
    "distilled": 74,          # 800-800 on the teacher's soft targets at T = 20
    "omitted": 206,           # every 3 left out of the transfer set
    "omitted_on_class": 133,  # ... of which on the 1010 test 3s
    "shifted": 109,           # after raising the bias of 3 by 3.5
    "shifted_on_class": 14,   # ... of which on 3s
    "bias_shift": 3.5,
    "n_test": 10000,
    "n_class_test": 1010,     # test 3s
}

#: Frame accuracy of the speech model of section 4, trained on 3% of the data (Table 5).
PAPER_SPEECH = {
    "hard_3pct": 0.445,  # hard targets, 3% of the training set (early stopping needed)
    "soft_3pct": 0.570,  # soft targets of a model trained on all the data, 3% of the set
    "full": 0.589,       # hard targets, 100% of the training set (the baseline)
}


def _count(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def scale_count(count, n, n_ref=10000) -> float:
    """``count`` errors out of ``n_ref`` test examples, rescaled to ``n`` (same error rate).

    Examples
    --------
    >>> scale_count(67, 5000)
    33.5

    See notebook 02.
    """
    count = _count(count, "count")
    for name, value in [("n", n), ("n_ref", n_ref)]:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return count * n / n_ref


def gap_closed(teacher_err, student_err, distilled_err) -> float:
    """Fraction of the teacher-student gap that distillation closed: ``(s - d) / (s - t)``.

    1 means the distilled student is as good as the teacher, 0 no better than the student
    alone, negative worse. When the teacher is not better than the student alone there is no
    gap to close and the result is ``nan``.

    Examples
    --------
    >>> round(gap_closed(67, 146, 74), 3)  # the paper's MNIST numbers
    0.911

    See notebook 02.
    """
    t = _count(teacher_err, "teacher_err")
    s = _count(student_err, "student_err")
    d = _count(distilled_err, "distilled_err")
    if s <= t:
        return float("nan")
    return (s - d) / (s - t)


def mean_soft_targets(logits, y, T=1.0, n_classes=None) -> np.ndarray:
    """Row ``c``: the mean of ``softmax(logits / T)`` over the examples of true class ``c``.

    The teacher's class-similarity structure averaged over a data set; a class with no
    example gets a row of ``nan``.

    Examples
    --------
    >>> import numpy as np
    >>> mean_soft_targets(np.array([[2.0, 0.0], [0.0, 2.0]]), np.array([0, 1]), T=1e6).round(2)
    array([[0.5, 0.5],
           [0.5, 0.5]])

    See notebook 02.
    """
    z = np.asarray(logits, dtype=float)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must have shape (N, C), got {z.shape}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(z) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"y must hold {len(z)} integer labels, got shape {y.shape}")
    if n_classes is None:
        n_classes = z.shape[1]
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) \
            or n_classes != z.shape[1]:
        raise ValueError(f"n_classes must equal the number of logits {z.shape[1]}, "
                         f"got {n_classes!r}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y: labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    probs = softmax_t(z, T)
    out = np.full((n_classes, n_classes), np.nan)
    for c in range(n_classes):
        if np.any(y == c):
            out[c] = probs[y == c].mean(axis=0)
    return out


def _check_class(cls, n_classes: int) -> int:
    if isinstance(cls, bool) or not isinstance(cls, numbers.Integral) \
            or not 0 <= cls < n_classes:
        raise ValueError(f"cls must be a class index in [0, {n_classes}), got {cls!r}")
    return int(cls)


def _check_shift(delta, name: str = "delta") -> float:
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) \
            or not math.isfinite(delta):
        raise ValueError(f"{name} must be a finite number, got {delta!r}")
    return float(delta)


def raise_bias(model: nn.Module, cls, delta) -> nn.Module:
    """A copy of ``model`` whose output bias for class ``cls`` is raised by ``delta``.

    The model must end in a ``head`` (a ``torch.nn.Linear`` with a bias), like :class:`MLP`.
    The original is not changed. Raising one logit's bias by ``delta`` multiplies that class's
    odds by ``exp(delta)`` on every input (the paper raised the bias of 3 by 3.5).

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> net = MLP(4, (3,), 2, seed=0)
    >>> float((raise_bias(net, 1, 2.0).head.bias[1] - net.head.bias[1]).detach())
    2.0

    See notebook 02.
    """
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Linear) or head.bias is None:
        raise ValueError("model must have a `head` attribute: a torch.nn.Linear with a bias")
    cls = _check_class(cls, head.out_features)
    delta = _check_shift(delta)
    shifted = copy.deepcopy(model)
    with torch.no_grad():
        shifted.head.bias[cls] += delta
    return shifted.eval()


def _check_logits_labels(logits, y):
    z = np.asarray(logits, dtype=float)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must have shape (N, C), got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits must be finite (found nan or inf)")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(z) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"y must hold one integer label per row of logits ({len(z)}), got "
                         f"shape {y.shape}, dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
        raise ValueError(f"y: labels must lie in [0, {z.shape[1]}), got [{y.min()}, {y.max()}]")
    return z, y


def _float_array(values, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, got {values!r}") from None


def errors_with_bias_shift(logits, y, cls, grid) -> np.ndarray:
    """Errors on ``(logits, y)`` after adding each shift in ``grid`` to the logit of ``cls``.

    Adding ``delta`` to one logit is exactly what :func:`raise_bias` does to the model, so
    the logits are computed once and every shift costs one arg-max.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [1.0, 0.5]])
    >>> errors_with_bias_shift(z, np.array([0, 1]), 1, [0.0, 0.7, 2.0]).tolist()
    [1, 0, 1]

    See notebook 02.
    """
    z, y = _check_logits_labels(logits, y)
    cls = _check_class(cls, z.shape[1])
    grid = _float_array(grid, "grid")
    if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all():
        raise ValueError(f"grid must be a non-empty 1-d array of finite shifts, got {grid!r}")
    out = []
    for delta in grid:
        shifted = z.copy()
        shifted[:, cls] += delta
        out.append(int((shifted.argmax(axis=1) != y).sum()))
    return np.array(out)


def choose_bias_shift(model_or_logits, X_val, y_val, cls, grid) -> tuple[float, np.ndarray]:
    """The shift of class ``cls``'s bias in ``grid`` with the fewest errors on validation data.

    Choose it on a validation split carved from the *training* set, never on the test set.
    Ties go to the smallest shift in absolute value (the least change to the model).

    Parameters
    ----------
    model_or_logits : torch.nn.Module or array (N, C)
        The model, or its logits on ``X_val`` (then pass ``X_val=None``).
    X_val : array (N, D) or None
        Validation inputs.
    y_val : array (N,)
        Validation labels.
    cls : int
        The class whose bias is shifted.
    grid : sequence of float
        Candidate shifts.

    Returns
    -------
    (float, numpy.ndarray)
        The chosen shift, and the validation errors for every shift of ``grid``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [1.0, 0.5], [1.0, 0.8]])
    >>> choose_bias_shift(z, None, np.array([0, 1, 1]), 1, [0.0, 0.3, 0.6, 2.0])
    (0.6, array([2, 1, 0, 1]))

    See notebook 02.
    """
    if isinstance(model_or_logits, nn.Module):
        if X_val is None:
            raise ValueError("X_val: the validation inputs are needed to run the model")
        from kdlab.train import predict_logits

        logits = predict_logits(model_or_logits, X_val)
    else:
        if X_val is not None:
            raise ValueError("X_val must be None when logits are given instead of a model")
        logits = model_or_logits
    errors = errors_with_bias_shift(logits, y_val, cls, grid)
    grid = np.asarray(grid, dtype=float)
    best = min(range(len(grid)), key=lambda i: (errors[i], abs(grid[i]), grid[i]))
    return float(grid[best]), errors


def distill_grid(make_student, X, logits, X_eval, y_eval, *, temperatures, alphas=(1.0,),
                 y=None, name="student", **fit_kwargs) -> np.ndarray:
    """Test errors of students distilled at every ``(alpha, T)``: shape ``(len(alphas), len(T))``.

    Each student comes fresh from ``make_student()`` (e.g. ``functools.partial(MLP, ...)`` with
    a fixed seed, so that all start from the same weights) and is trained by
    :func:`kdlab.distill_student` on ``X`` with the teacher's cached ``logits`` (and the hard
    labels ``y`` when some ``alpha < 1``), cached on disk. ``alpha = 0`` is hard labels alone,
    which does not depend on ``T``: that row is trained once and repeated.

    See notebook 02.
    """
    from kdlab.distill import distill_student
    from kdlab.train import evaluate

    if not callable(make_student) or isinstance(make_student, nn.Module):
        raise ValueError("make_student must be a callable returning a fresh model (e.g. "
                         "functools.partial(MLP, ...)), not a model")
    temperatures = _float_array(temperatures, "temperatures")
    alphas = _float_array(alphas, "alphas")
    for arg, values in [("temperatures", temperatures), ("alphas", alphas)]:
        if values.ndim > 1:
            raise ValueError(f"{arg} must be a 1-d sequence of numbers, got shape "
                             f"{values.shape}")
    temperatures = [float(t) for t in np.atleast_1d(temperatures)]
    alphas = [float(a) for a in np.atleast_1d(alphas)]
    if not temperatures or not all(math.isfinite(t) and t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive finite numbers, got {temperatures}")
    if not alphas or not all(0 <= a <= 1 for a in alphas):
        raise ValueError(f"alphas must be numbers in [0, 1], got {alphas}")
    if y is None and any(a < 1 for a in alphas):
        raise ValueError("y: hard labels are needed when some alpha < 1")
    errors = np.zeros((len(alphas), len(temperatures)), dtype=int)
    for i, alpha in enumerate(alphas):
        for j, T in enumerate(temperatures):
            if alpha == 0 and j > 0:
                errors[i, j] = errors[i, 0]
                continue
            student = distill_student(make_student(), X, logits=logits,
                                      y=None if alpha == 1 else y, T=T, alpha=alpha,
                                      name=f"{name}-a{alpha:g}-T{T:g}", **fit_kwargs)
            errors[i, j] = evaluate(student, X_eval, y_eval)["errors"]
    return errors


def train_generalist(train, profile, *, name: str = "generalist",
                     verbose: bool = True) -> nn.Module:
    """Chapter 02's student alone, which chapters 03-06 use as their generalist, from the cache.

    The recipe, in one place for the chapters and :mod:`kdlab.replicate`: an MLP with the
    profile's ``student_hidden`` layers (seed ``p.seed + 1``) trained on ``train`` (a
    :class:`kdlab.data.Dataset`) with hard labels, ``p.epochs`` epochs of Adam at ``p.lr``,
    batches of ``p.batch_size``, seed ``p.seed``. It is the very network chapter 02 trains as
    "student alone" (same cache key; ``name`` only labels the file), so whichever chapter runs
    first trains it and the others load it.

    See notebooks 02-06.
    """
    from kdlab.models import MLP
    from kdlab.train import fit_cached

    _check_profile_data(profile, train)
    p = profile
    net = MLP(train.X.shape[1], p.student_hidden, len(train.classes), seed=p.seed + 1)
    return fit_cached(net, train.X, train.y, name=name, verbose=verbose,
                      **p.fit_options("student"))


def train_teacher(train, profile, *, name: str = "teacher", verbose: bool = True) -> nn.Module:
    """Chapter 02's big regularised teacher, from the cache (trained the first time).

    An MLP with the profile's ``teacher_hidden`` layers, dropout ``teacher_dropout`` on them
    and ``teacher_input_dropout`` on the pixels (seed ``p.seed``), trained on ``train`` with
    hard labels, its inputs jittered by up to ``teacher_jitter`` pixels, with the profile's
    teacher recipe (:meth:`kdlab.profiles.Profile.fit_options`: Adam at ``ci``/``laptop``; SGD
    with momentum, a cosine schedule and max-norm at ``paper``, checkpointed).

    See notebook 02 and book/reproducing.md.
    """
    from kdlab.data import jitter
    from kdlab.models import MLP
    from kdlab.train import fit_cached

    _check_profile_data(profile, train)
    p = profile
    net = MLP(train.X.shape[1], p.teacher_hidden, len(train.classes), dropout=p.teacher_dropout,
              input_dropout=p.teacher_input_dropout, seed=p.seed)
    augment = jitter(train.image_shape, p.teacher_jitter) if p.teacher_jitter else None
    return fit_cached(net, train.X, train.y, augment=augment, name=name, verbose=verbose,
                      **p.fit_options("teacher"))


def _check_profile_data(profile, train) -> None:
    from kdlab.profiles import Profile

    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a kdlab Profile (kdlab.get_profile()), got "
                        f"{type(profile).__name__}")
    for attr in ("X", "y", "classes"):
        if not hasattr(train, attr):
            raise TypeError(f"train must be a kdlab Dataset (with X, y and classes), got "
                            f"{type(train).__name__}")
