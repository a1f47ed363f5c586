"""The paper's experiments as small reusable helpers: error gaps, bias shifts, (α, T) sweeps.

Chapter 02 computes them; later chapters and the replication script reuse them. The paper's own
numbers are kept here too, so that every table prints them beside ours (see notebook 02).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from kdlab.temperature import softmax_t
from kdlab.validate import check_int, check_real

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
    "student_net",
    "train_distilled",
    "train_seeded_students",
    "seeded_profiles",
    "train_teacher",
    "jittered_transfer",
    "omitted_transfer_set",
    "small_transfer_set",
    "VALIDATION_FRACTION",
    "BIAS_SHIFTS",
    "SMALL_FRACTION",
    # chapter 02: ensemble, two-class transfer set, temperature sweeps with seeds
    "PAPER_SPEECH_ENSEMBLE",
    "PAPER_TWO_CLASS",
    "ensemble_proba",
    "ensemble_logits",
    "seed_pairs",
    "unlikely_mass",
    "train_ensemble",
    "ensemble_experiment",
    "two_class_pair",
    "two_class_experiment",
    "sweep_transfer_set",
    "curve_epochs",
    "temperature_sweep",
    "sweep_curves",
    "seeded_table",
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


def scale_count(count, n, n_ref=10000) -> float:
    """``count`` errors out of ``n_ref`` test examples, rescaled to ``n`` (same error rate).

    Examples
    --------
    >>> scale_count(67, 5000)
    33.5

    See notebook 02.
    """
    count = check_real(count, "count", lo=0)
    for name, value in [("n", n), ("n_ref", n_ref)]:
        check_int(value, name, lo=1)
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
    t = check_real(teacher_err, "teacher_err", lo=0)
    s = check_real(student_err, "student_err", lo=0)
    d = check_real(distilled_err, "distilled_err", lo=0)
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
    return check_int(cls, "cls (a class index)", 0, n_classes - 1)


def _check_classes(cls, n_classes: int) -> int | list[int]:
    """One class index, or a non-empty list of distinct ones."""
    if isinstance(cls, (list, tuple, np.ndarray)):
        out = [_check_class(c.item() if isinstance(c, np.generic) else c, n_classes)
               for c in cls]
        if not out or len(set(out)) != len(out):
            raise ValueError(f"cls must name distinct classes, at least one, got {cls!r}")
        return out
    return _check_class(cls, n_classes)


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
    delta = check_real(delta, "delta")
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
    the logits are computed once and every shift costs one arg-max. ``cls`` may also be a
    sequence of classes, whose logits all move by the same shift (the paper lowered the biases
    of both 7 and 8).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [1.0, 0.5]])
    >>> errors_with_bias_shift(z, np.array([0, 1]), 1, [0.0, 0.7, 2.0]).tolist()
    [1, 0, 1]
    >>> errors_with_bias_shift(np.array([[2.0, 1.5, 0.0]]), np.array([2]), [0, 1], [0, -3]).tolist()
    [1, 0]

    See notebook 02.
    """
    z, y = _check_logits_labels(logits, y)
    cls = _check_classes(cls, z.shape[1])
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
    Ties go to the smallest shift in absolute value (the least change to the model). ``cls``
    may be a sequence of classes that move together (see :func:`errors_with_bias_shift`).

    Parameters
    ----------
    model_or_logits : torch.nn.Module or array (N, C)
        The model, or its logits on ``X_val`` (then pass ``X_val=None``).
    X_val : array (N, D) or None
        Validation inputs.
    y_val : array (N,)
        Validation labels.
    cls : int or sequence of int
        The class (or classes) whose bias is shifted.
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


def train_generalist(train, profile, *, name: str = "generalist", rows=None,
                     epochs: int | None = None, verbose: bool = True) -> nn.Module:
    """Chapter 02's student alone, which chapters 03-06 use as their generalist, from the cache.

    The recipe, in one place for the chapters and :mod:`kdlab.replicate`: an MLP with the
    profile's ``student_hidden`` layers (seed ``p.seed + 1``) trained on ``train`` (a
    :class:`kdlab.data.Dataset`) with hard labels and the students' recipe,
    ``p.fit_options("student")`` (``p.epochs`` epochs, batches of ``p.batch_size``, seed
    ``p.seed``; Adam at ``p.lr`` at ``ci`` and ``laptop``, momentum SGD warmed up and decayed
    by a cosine at ``paper``). It is the very network chapter 02 trains as
    "student alone" (same cache key; ``name`` only labels the file), so whichever chapter runs
    first trains it and the others load it. ``rows`` (indices into ``train``) and ``epochs``
    train the same student on part of the data, e.g. chapter 02's 3% run.

    See notebooks 02-06.
    """
    from kdlab.train import fit_cached

    _check_profile_data(profile, train)
    p = profile
    opts = _student_options(p, epochs)
    X, y = (train.X, train.y) if rows is None else (train.X[rows], train.y[rows])
    return fit_cached(student_net(train, p), X, y, name=name, verbose=verbose, **opts)


def student_net(train, profile) -> nn.Module:
    """The students' untrained network: an MLP with the profile's ``student_hidden`` layers,
    initial weights from seed ``p.seed + 1``, sized for ``train``'s images and classes (the
    one definition that :func:`train_generalist`, :func:`train_distilled` and
    :func:`jittered_transfer` train)."""
    from kdlab.models import MLP

    p = profile
    return MLP(train.X.shape[1], p.student_hidden, len(train.classes), seed=p.seed + 1)


def train_distilled(train, profile, logits, *, name: str = "distilled", rows=None,
                    epochs: int | None = None, T: float | None = None,
                    alpha: float | None = None, verbose: bool = True) -> nn.Module:
    """Chapter 02's distilled student, from the cache: the student alone's network and recipe
    trained on the teacher's soft targets at ``T`` (weight ``alpha``; default the paper's 20
    and 0.9) and the labels.

    ``logits`` are the teacher's logits for every image of ``train``; ``rows`` (indices into
    ``train``) and ``epochs`` distil on part of it: chapter 02's transfer set without one
    class, and its 3% run. The same network as :func:`train_generalist`'s (``student_hidden``,
    seed ``p.seed + 1``) with the same options (``p.fit_options("student")``).

    See notebook 02.
    """
    from kdlab.distill import distill_student

    _check_profile_data(profile, train)
    p = profile
    T, alpha = T_HIGH if T is None else T, ALPHA if alpha is None else alpha
    opts = _student_options(p, epochs)
    logits = np.asarray(logits)
    if logits.shape != (len(train.X), len(train.classes)):
        raise ValueError(f"logits must hold the teacher's logits for every image of train, "
                         f"shape {(len(train.X), len(train.classes))}, got {logits.shape}")
    idx = slice(None) if rows is None else rows
    return distill_student(student_net(train, p), train.X[idx], logits=logits[idx],
                           y=train.y[idx], T=T, alpha=alpha, name=name, verbose=verbose, **opts)


def train_seeded_students(train, profile, logits, *, n: int | None = None,
                          T: float | None = None, alpha: float | None = None,
                          verbose: bool = True) -> dict:
    """The student alone and the distilled student of :func:`train_generalist` and
    :func:`train_distilled`, each trained ``n`` times (default ``p.distill_seeds``).

    Run ``i`` is trained with :func:`seeded_profiles`'s profile ``i``, so it starts from
    ``seed_pairs(p, n)[i]`` (initial weights ``p.seed + 1 + i``, data order ``p.seed + i``):
    run 0 is the very pair of chapter 02's section 1 (same cache
    keys) and the others differ only in their seeds: the spread of a single comparison.
    Returns ``{"student": [network, ...], "distilled": [network, ...]}``, run 0 first.

    See :mod:`kdlab.replicate`.
    """
    _check_profile_data(profile, train)
    nets: dict[str, list] = {"student": [], "distilled": []}
    for i, q in enumerate(seeded_profiles(profile, n)):
        tag = "" if i == 0 else f"-seed{i}"
        nets["student"].append(train_generalist(train, q, name=f"student{tag}",
                                                verbose=verbose))
        nets["distilled"].append(train_distilled(train, q, logits, name=f"distilled{tag}",
                                                 T=T, alpha=alpha, verbose=verbose))
    return nets


def seeded_profiles(profile, n: int | None = None) -> list:
    """The profiles of :func:`train_seeded_students`'s ``n`` runs (default ``p.distill_seeds``).

    Run ``i``'s is ``profile`` with ``seed = p.seed + i``: :func:`train_generalist` and
    :func:`train_distilled` then start from ``seed_pairs(p, n)[i]`` (initial weights
    ``p.seed + 1 + i``, data order ``p.seed + i``); run 0's is ``profile`` itself.

    Examples
    --------
    >>> from kdlab.profiles import get_profile
    >>> [q.seed for q in seeded_profiles(get_profile("ci"))]
    [0, 1, 2]
    """
    p = profile
    n = p.distill_seeds if n is None else check_int(n, "n", lo=1)
    return [dataclasses.replace(p, seed=order) for _, order in seed_pairs(p, n)]


#: Chapter 02's transfer sets: a tenth of the training images held out to choose bias shifts
#: (never the test set), the shifts tried, and the 3% of section 7 (the paper's speech run).
VALIDATION_FRACTION = 0.1
BIAS_SHIFTS = np.arange(0.0, 15.01, 0.25)
SMALL_FRACTION = 0.03


def omitted_transfer_set(train, profile, omit: int) -> tuple[np.ndarray, np.ndarray]:
    """Chapter 02's transfer set without class ``omit``, and the validation rows of its shift.

    A tenth of ``train`` (stratified, seed ``p.seed``) is held out to choose the bias shift;
    the transfer set is the rest without a single image of class ``omit``. Returns
    ``(transfer_rows, validation_rows)``, indices into ``train``.

    See notebook 02 and :mod:`kdlab.replicate`.
    """
    from kdlab.data import omit_classes, train_val_split

    _check_profile_data(profile, train)
    omit = check_int(omit, "omit", lo=0)
    if omit >= len(train.classes):
        raise ValueError(f"omit must be a class index below {len(train.classes)}, got {omit}")
    fit_idx, val_idx = train_val_split(train.y, VALIDATION_FRACTION, seed=profile.seed)
    return fit_idx[omit_classes(train.y[fit_idx], [omit])], val_idx


def small_transfer_set(train, profile) -> tuple[np.ndarray, int]:
    """Chapter 02's 3% of ``train`` (stratified, seed ``p.seed``) and the epochs over it.

    The epochs give half the updates of the students' full-data training, as the paper's
    speech model on 3% of the data had fewer. Returns ``(rows, epochs)``.

    See notebook 02 and :mod:`kdlab.replicate`.
    """
    from kdlab.data import fraction_subset

    _check_profile_data(profile, train)
    small = fraction_subset(train.y, SMALL_FRACTION, seed=profile.seed)
    return small, max(1, profile.epochs * len(train.X) // (2 * len(small)))


def _student_options(profile, epochs) -> dict:
    """The students' training options, with ``epochs`` in place of the profile's if given.

    A warm-up keeps its fraction of the training (the schedule keeps its shape): the 3% run's
    1,000 epochs of 15 batches at ``paper`` warm up over 83 of them, not 5 (with 5, i.e. 75
    updates, the distilled student's ReLUs died and it answered one class: 9.7% accuracy).
    """
    opts = profile.fit_options("student")
    if epochs is not None:
        epochs = check_int(epochs, "epochs", lo=1)
        if opts.get("warmup"):
            opts["warmup"] = min(epochs, max(1, round(opts["warmup"] * epochs / opts["epochs"])))
        opts = {**opts, "epochs": epochs}
    return opts


def jittered_transfer(train, profile, teacher, *, T: float | None = None,
                      alpha: float | None = None, verbose: bool = True) -> dict:
    """The distilled student on a jittered transfer set, and its control, from the cache.

    Both are chapter 02's student (``student_hidden``, seed ``p.seed + 1``, the students'
    recipe) trained on ``train`` with every batch shifted by up to ``p.transfer_jitter``
    pixels: ``"distilled_jittered"`` matches ``teacher``'s soft targets at ``T`` (recomputed
    for each shifted image, weight ``alpha``; default the paper's 20 and 0.9) and the labels,
    ``"student_jittered"`` the labels alone. The pair separates what distillation adds from
    what the shifted images add (the paper's transfer set had none; book/reproducing.md).
    Returns ``{name: network}``.

    See :mod:`kdlab.replicate`.
    """
    from kdlab.data import jitter
    from kdlab.distill import distill_student
    from kdlab.train import fit_cached

    _check_profile_data(profile, train)
    p = profile
    T, alpha = T_HIGH if T is None else T, ALPHA if alpha is None else alpha
    if not isinstance(p.transfer_jitter, numbers.Integral) or p.transfer_jitter <= 0:
        raise ValueError(f"profile.transfer_jitter must be a positive int for a jittered "
                         f"transfer set, got {p.transfer_jitter!r}")
    shift = jitter(train.image_shape, int(p.transfer_jitter))
    opts = _student_options(p, None)
    distilled = distill_student(student_net(train, p), train.X, teacher=teacher, y=train.y,
                                T=T, alpha=alpha, augment=shift, name="distilled-jittered",
                                verbose=verbose, **opts)
    alone = fit_cached(student_net(train, p), train.X, train.y, augment=shift,
                       name="student-jittered", verbose=verbose, **opts)
    return {"distilled_jittered": distilled, "student_jittered": alone}


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


# --- chapter 02: an ensemble as teacher, a two-class transfer set, temperature sweeps with seeds --
#
# Recipes of notebook 02 and kdlab.replicate (issue 17). Networks of one shape (ensemble members,
# seeds, temperatures) are trained together by kdlab.train.fit_cached_many, each cached exactly
# as fit_cached / distill_student would cache it alone.

#: Table 1 of the paper (speech): frame accuracy and word error rate of the baseline acoustic
#: model, an ensemble of 10 models of the same architecture (different random initial weights)
#: and one model of that size distilled from the ensemble.
PAPER_SPEECH_ENSEMBLE = {
    "members": 10,
    "baseline": 0.589, "ensemble": 0.611, "distilled": 0.608,          # frame accuracy
    "wer_baseline": 0.109, "wer_ensemble": 0.107, "wer_distilled": 0.107,  # word error rate
}

#: Section 3 (MNIST): a student whose transfer set held only 7s and 8s. Test error rates before
#: and after lowering the biases of 7 and 8 by 7.6 (a shift the paper chose "to optimize test
#: performance"; we choose ours on a validation split).
PAPER_TWO_CLASS = {"classes": ("7", "8"), "errors_before": 0.473, "errors_after": 0.132,
                   "bias_shift": -7.6}

T_HIGH, ALPHA = 20.0, 0.9  # the paper's temperature of section 3; the soft loss's weight
ENSEMBLE_T = 4.0           # distilling the ensemble: inside the paper's 2.5-4 for small nets
#: Shifts tried on both biases of the two-class student: lowered by 0 to 20 in steps of 0.25.
TWO_CLASS_SHIFTS = 0.0 - np.arange(0.0, 20.01, 0.25)  # 0.0 first, not -0.0


def _member_logits(member_logits) -> np.ndarray:
    z = np.asarray(member_logits, dtype=float)
    if z.ndim != 3 or 0 in z.shape:
        raise ValueError(f"member_logits must have shape (K members, N, C), got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("member_logits must be finite (found nan or inf)")
    return z


def ensemble_proba(member_logits, T=1.0) -> np.ndarray:
    """The ensemble's prediction: the mean of its members' probabilities ``softmax(z_k / T)``.

    The arithmetic mean of the members' predictive distributions (the paper allows it or the
    geometric mean). Averaging *logits* instead gives the normalised geometric mean, which
    lets one confident member outvote the others: a member that is sure of a wrong class
    with logits ten times larger than the rest decides the mean logit alone.

    Examples
    --------
    >>> z = np.array([[[4.0, 0.0]], [[0.0, 1.0]]])   # two members, one example, two classes
    >>> ensemble_proba(z).round(3)
    array([[0.625, 0.375]])

    See notebook 02.
    """
    return softmax_t(_member_logits(member_logits), T).mean(axis=0)


def ensemble_logits(member_logits, T=1.0) -> np.ndarray:
    """Logits ``v`` of the ensemble at temperature ``T``: ``softmax(v / T)`` is its soft target.

    ``v = T · log(mean_k softmax(z_k / T))``, computed stably, so that a student distilled at
    ``T`` from ``v`` learns the mean of the members' soft targets at ``T``.

    Examples
    --------
    >>> z = np.array([[[4.0, 0.0]], [[0.0, 1.0]]])
    >>> bool(np.allclose(softmax_t(ensemble_logits(z, T=3.0), 3.0), ensemble_proba(z, T=3.0)))
    True

    See notebook 02.
    """
    from kdlab.temperature import log_softmax_t

    z = _member_logits(member_logits)
    log_p = log_softmax_t(z, T)
    top = log_p.max(axis=0)
    return T * (top + np.log(np.exp(log_p - top).mean(axis=0)))


def seed_pairs(profile, n: int | None = None) -> list[tuple[int, int]]:
    """``(initial-weights seed, data-order seed)`` of run ``i``: ``(p.seed + 1 + i, p.seed + i)``.

    Run 0 is the student of section 1 (``MLP(..., seed=p.seed + 1)`` trained with
    ``seed=p.seed``); ``n`` defaults to the profile's ``sweep_seeds``.

    Examples
    --------
    >>> from kdlab.profiles import get_profile
    >>> seed_pairs(get_profile("ci"))
    [(1, 0), (2, 1), (3, 2)]

    See notebook 02.
    """
    n = profile.sweep_seeds if n is None else n
    n = check_int(n, "n", lo=1)
    return [(profile.seed + 1 + i, profile.seed + i) for i in range(n)]


def unlikely_mass(logits, T, below: float = 0.01) -> float:
    """Mean soft-target mass at ``T`` on the classes the teacher gives less than ``below`` at T = 1.

    How much of what a student is asked to match at temperature ``T`` concerns classes the
    teacher itself finds implausible (see notebook 02, the tiny student).

    Examples
    --------
    >>> round(unlikely_mass(np.array([[8.0, 0.0, 0.0]]), T=1.0), 4)
    0.0007
    >>> round(unlikely_mass(np.array([[8.0, 0.0, 0.0]]), T=20.0), 2)
    0.57
    """
    z, _ = _check_logits_labels(logits, np.zeros(len(np.asarray(logits)), dtype=int))
    unlikely = softmax_t(z, 1.0) < below
    return float((softmax_t(z, T) * unlikely).sum(axis=1).mean())


def train_ensemble(train, profile, *, verbose: bool = True) -> list[nn.Module]:
    """Chapter 02's ensemble: ``p.ensemble_size`` MLPs of ``p.ensemble_hidden``, one per seed.

    Member ``i`` starts from ``seed_pairs(p)[i]`` and is trained on the labels with the
    students' recipe; the members are trained together (:func:`kdlab.fit_cached_many`) and
    cached one by one. See notebook 02.
    """
    from kdlab.models import MLP
    from kdlab.train import fit_cached_many

    _check_profile_data(profile, train)
    p = profile
    D, C = train.X.shape[1], len(train.classes)
    jobs = [dict(model=MLP(D, p.ensemble_hidden, C, seed=init), targets=train.y,
                 name=f"member-{i}", **{**p.fit_options("student"), "seed": order})
            for i, (init, order) in enumerate(seed_pairs(p, p.ensemble_size))]
    return fit_cached_many(train.X, jobs, verbose=verbose)


def ensemble_experiment(train, test, profile, *, T: float = ENSEMBLE_T, alpha: float = ALPHA,
                        verbose: bool = True) -> dict:
    """An ensemble and one network of a member's size distilled from it (paper: Table 1).

    Returns the test errors of every member, of the ensemble (mean of probabilities, and for
    comparison mean of logits) and of the distilled network (initial weights of member 0,
    trained on the ensemble's soft targets at ``T`` with weight ``alpha`` and the labels with
    ``1 - alpha``), the fraction of the ensemble's gain over its mean member that the distilled
    network keeps, and the paper's numbers. See notebook 02.
    """
    from kdlab.distill import distill_student
    from kdlab.models import MLP
    from kdlab.train import predict_logits

    p = profile
    members = train_ensemble(train, p, verbose=verbose)
    z_train = np.stack([predict_logits(m, train.X) for m in members])
    z_test = np.stack([predict_logits(m, test.X) for m in members])
    member_errors = [int((z.argmax(axis=1) != test.y).sum()) for z in z_test]
    ensemble_errors = int((ensemble_proba(z_test).argmax(axis=1) != test.y).sum())
    mean_logit_errors = int((z_test.mean(axis=0).argmax(axis=1) != test.y).sum())
    D, C = train.X.shape[1], len(train.classes)
    distilled = distill_student(
        MLP(D, p.ensemble_hidden, C, seed=seed_pairs(p, 1)[0][0]), train.X,
        logits=ensemble_logits(z_train, T).astype(np.float32), y=train.y, T=T, alpha=alpha,
        name="ensemble-distilled", verbose=verbose, **p.fit_options("student"))
    distilled_errors = int((predict_logits(distilled, test.X).argmax(axis=1) != test.y).sum())
    mean_member = float(np.mean(member_errors))
    paper = PAPER_SPEECH_ENSEMBLE
    return {
        "members": len(members), "hidden": list(p.ensemble_hidden), "T": float(T),
        "alpha": float(alpha), "n_test": int(len(test.y)), "member_errors": member_errors,
        "mean_member_errors": mean_member, "ensemble_errors": ensemble_errors,
        "mean_logit_errors": mean_logit_errors, "distilled_errors": distilled_errors,
        "gain_kept": gap_closed(ensemble_errors, mean_member, distilled_errors),
        "paper": dict(paper),
        "paper_gain_kept": gap_closed(1 - paper["ensemble"], 1 - paper["baseline"],
                                      1 - paper["distilled"])}


def two_class_pair(classes) -> tuple[str, str]:
    """The two classes of the transfer set: the paper's 7 and 8 on digits; else Shirt, Sneaker.

    On Fashion-MNIST, Shirt and Sneaker are each the member of a group of look-alikes (tops:
    T-shirt, pullover, coat, shirt; footwear: sandal, sneaker, boot) whose soft targets spread
    the most over the other classes, so between them they say something about most of them.

    Examples
    --------
    >>> two_class_pair([str(d) for d in range(10)])
    ('7', '8')

    See notebook 02.
    """
    names = list(classes)
    for pair in (("7", "8"), ("Shirt", "Sneaker")):
        if all(c in names for c in pair):
            return pair
    raise ValueError(f"classes: no default pair of classes for {names!r}; pass classes=")


def two_class_experiment(train, test, profile, logits_train, *, classes=None,
                         T: float = T_HIGH, alpha: float = ALPHA, shifts=TWO_CLASS_SHIFTS,
                         verbose: bool = True) -> dict:
    """A student whose transfer set holds two classes only, and one shift of both their biases.

    The student (the section-1 student's network and initial weights) is distilled from the
    teacher's ``logits_train`` on the training images of ``classes`` (default
    :func:`two_class_pair`), minus a stratified validation split of 10% of the training set
    on which the shift of both biases is chosen (:func:`choose_bias_shift`); the test set
    only measures it. Returns the errors before and after, both error curves against the
    shift, the share of test images answered with one of the two classes before and after
    (and their true share), and the paper's numbers. See notebook 02.
    """
    from kdlab.data import keep_classes, train_val_split
    from kdlab.distill import distill_student
    from kdlab.models import MLP
    from kdlab.train import predict_logits

    _check_profile_data(profile, train)
    p = profile
    names = list(train.classes)
    classes = tuple(two_class_pair(names) if classes is None else classes)
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(f"classes: {unknown} not among {names}")
    keep = [names.index(c) for c in classes]
    fit_idx, val_idx = train_val_split(train.y, 0.1, seed=p.seed)
    transfer = fit_idx[keep_classes(train.y[fit_idx], keep)]
    student = distill_student(
        MLP(train.X.shape[1], p.student_hidden, len(names), seed=seed_pairs(p, 1)[0][0]),
        train.X[transfer], logits=logits_train[transfer], y=train.y[transfer], T=T,
        alpha=alpha, name="two-class", verbose=verbose, **p.fit_options("student"))
    shifts = _float_array(shifts, "shifts")
    shift, val_errors = choose_bias_shift(student, train.X[val_idx], train.y[val_idx], keep,
                                          shifts)
    z_test = predict_logits(student, test.X)
    test_errors = errors_with_bias_shift(z_test, test.y, keep, shifts)
    before, after = errors_with_bias_shift(z_test, test.y, keep, [0.0, shift])
    shifted = z_test.copy()
    shifted[:, keep] += shift
    return {
        "classes": list(classes), "class_indices": keep, "T": float(T), "alpha": float(alpha),
        "transfer_size": int(len(transfer)), "validation_size": int(len(val_idx)),
        "n_test": int(len(test.y)), "shifts": shifts.tolist(),
        "validation_errors": val_errors.tolist(), "test_errors": test_errors.tolist(),
        "bias_shift": shift, "errors_before": int(before), "errors_after": int(after),
        "answered_before": float(np.isin(z_test.argmax(axis=1), keep).mean()),
        "answered_after": float(np.isin(shifted.argmax(axis=1), keep).mean()),
        "share_of_test": float(np.isin(test.y, keep).mean()),
        "paper": {**PAPER_TWO_CLASS, "classes": list(PAPER_TWO_CLASS["classes"])}}


def sweep_transfer_set(train, profile) -> np.ndarray:
    """Indices of the sweep's transfer set: ``p.sweep_n_train`` training images, stratified."""
    from kdlab.data import stratified_subset

    n = profile.sweep_n_train
    if n is None or n >= len(train.y):
        return np.arange(len(train.y))
    return stratified_subset(train.y, n, seed=profile.seed)


def curve_epochs(epochs: int) -> list[int]:
    """The epochs at which a training curve is read: a rough log scale ending at ``epochs``.

    Examples
    --------
    >>> curve_epochs(100)
    [5, 10, 20, 30, 50, 75, 100]
    """
    return [e for e in (5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500) if e < epochs] + [epochs]


def _sweep_setting(profile, size: str) -> tuple[tuple[int, ...], dict]:
    p = profile
    opts = p.fit_options("student")
    if p.sweep_lr is not None:
        opts["lr"] = p.sweep_lr
    if size == "large":
        return tuple(p.sweep_hidden), {**opts, "epochs": p.sweep_epochs or opts["epochs"]}
    if size == "tiny":
        return tuple(p.tiny_hidden), {**opts, "epochs": p.tiny_epochs}
    raise ValueError(f"size must be 'large' or 'tiny', got {size!r}")


def temperature_sweep(train, test, profile, logits_train, *, size: str,
                      alphas=(ALPHA,), epochs: int | None = None,
                      verbose: bool = True) -> dict:
    """Students distilled at every ``p.sweep_temperatures``, with ``p.sweep_seeds`` seeds each.

    ``size``: ``"large"`` (``p.sweep_hidden``, ``p.sweep_epochs`` epochs) or ``"tiny"``
    (``p.tiny_hidden``, ``p.tiny_epochs`` epochs: to convergence, each also saved at
    :func:`curve_epochs` for its training curve), both with the students' recipe at learning
    rate ``p.sweep_lr``. On the transfer set
    :func:`sweep_transfer_set`, seed ``i`` of :func:`seed_pairs` trains one network on the
    labels alone and one per temperature at weight ``ALPHA``; every ``alpha`` of ``alphas``
    other than 0 and ``ALPHA`` adds seed 0 at each of the profile's ``temperatures`` (the
    (alpha, T) grid; ``alpha = 1``: no labels, as in :func:`distill_grid`). All are trained
    together as one batched model and cached one by one; ``epochs`` reads the networks after
    that many epochs instead (from the cache, for the curves).

    Returns ``errors`` (temperatures × seeds), ``labels_only`` (seeds), ``grid`` (alphas ×
    ``p.temperatures``, seed 0; ``alpha = 0`` is the labels-only network) and the settings.
    See notebook 02.
    """
    from kdlab.distill import distill_job
    from kdlab.models import MLP
    from kdlab.train import fit_cached_many, predict_logits

    _check_profile_data(profile, train)
    p = profile
    hidden, opts = _sweep_setting(p, size)
    full_epochs = opts["epochs"]
    if epochs is not None:
        opts = {**opts, "epochs": epochs}
    alphas = [float(a) for a in alphas]
    if not all(0 <= a <= 1 for a in alphas):
        raise ValueError(f"alphas must be numbers in [0, 1], got {alphas}")
    idx = sweep_transfer_set(train, p)
    X, y, v = train.X[idx], train.y[idx], np.asarray(logits_train)[idx]
    D, C = train.X.shape[1], len(train.classes)
    temps = [float(t) for t in p.sweep_temperatures]
    seeds = seed_pairs(p)
    name = f"sweep-{size}"
    jobs, where = [], {}
    for i, (init, order) in enumerate(seeds):
        o = {**opts, "seed": order}
        where["labels", i] = len(jobs)
        jobs.append(dict(model=MLP(D, hidden, C, seed=init), targets=y, name=f"{name}-labels",
                         **o))
        for T in temps:
            where[ALPHA, T, i] = len(jobs)
            jobs.append(distill_job(MLP(D, hidden, C, seed=init), X, logits=v, y=y, T=T,
                                    alpha=ALPHA, name=f"{name}-a{ALPHA:g}-T{T:g}", **o))
    init, order = seeds[0]
    for a in alphas:
        for T in p.temperatures:
            if a in (0.0, ALPHA) and (a == 0.0 or float(T) in temps):
                continue
            where[a, float(T), 0] = len(jobs)
            jobs.append(distill_job(MLP(D, hidden, C, seed=init), X, logits=v,
                                    y=None if a == 1 else y, T=float(T), alpha=a,
                                    name=f"{name}-a{a:g}-T{T:g}", **{**opts, "seed": order}))
    save_at = curve_epochs(full_epochs)[:-1] if size == "tiny" and epochs is None else ()
    nets = fit_cached_many(X, jobs, save_at=save_at, verbose=verbose)
    err = [int((predict_logits(net, test.X).argmax(axis=1) != test.y).sum()) for net in nets]
    errors = np.array([[err[where[ALPHA, T, i]] for i in range(len(seeds))] for T in temps])
    labels_only = np.array([err[where["labels", i]] for i in range(len(seeds))])
    grid = np.array([[labels_only[0] if a == 0 else err[where[a, float(T), 0]]
                      for T in p.temperatures] for a in alphas])
    return {"size": size, "hidden": list(hidden), "epochs": opts["epochs"], "lr": opts["lr"],
            "n_transfer": int(len(idx)), "n_test": int(len(test.y)), "alpha": ALPHA,
            "temperatures": temps, "seeds": seeds, "errors": errors,
            "labels_only": labels_only, "grid_alphas": alphas,
            "grid_temperatures": [float(t) for t in p.temperatures], "grid": grid,
            "train_loss": {"labels": nets[where["labels", 0]].history["loss"],
                           **{T: nets[where[ALPHA, T, 0]].history["loss"] for T in temps}}}


def sweep_curves(train, test, profile, logits_train, *, size: str = "tiny") -> dict:
    """Test errors of the sweep's networks after each of :func:`curve_epochs` (from the cache).

    Returns ``epochs``, ``errors`` (epochs × temperatures × seeds) and ``labels_only``
    (epochs × seeds). See notebook 02.
    """
    _, opts = _sweep_setting(profile, size)
    points = curve_epochs(opts["epochs"])
    runs = [temperature_sweep(train, test, profile, logits_train, size=size, epochs=e,
                              verbose=False) for e in points]
    return {"epochs": points, "temperatures": runs[0]["temperatures"],
            "errors": np.stack([r["errors"] for r in runs]),
            "labels_only": np.stack([r["labels_only"] for r in runs])}


def seeded_table(teacher_errors, sweep: dict, T: float = T_HIGH) -> dict:
    """Teacher, student alone and distilled (at ``T``) over the sweep's seeds, and the gap closed.

    ``sweep`` is a :func:`temperature_sweep` result: its labels-only networks are the students
    alone, its networks at ``T`` the distilled ones, seed by seed; the teacher is one network.
    Returns per-seed errors and gaps, their mean and standard deviation, and the paper's.

    Examples
    --------
    >>> s = {"temperatures": [20.0], "errors": np.array([[80, 90]]),
    ...      "labels_only": np.array([150, 140])}
    >>> seeded_table(70, s)["gap_closed"]
    [0.875, 0.7142857142857143]

    See notebook 02.
    """
    temps = list(sweep["temperatures"])
    if float(T) not in temps:
        raise ValueError(f"T: the sweep has no networks at T = {T:g} (it has {temps})")
    distilled = np.asarray(sweep["errors"])[temps.index(float(T))]
    alone = np.asarray(sweep["labels_only"])
    t = check_real(teacher_errors, "teacher_errors", lo=0)
    gaps = [gap_closed(t, s, d) for s, d in zip(alone, distilled, strict=True)]
    paper = [PAPER_MNIST[k] for k in ("teacher", "student", "distilled")]
    return {"T": float(T), "teacher": t, "student_alone": alone.tolist(),
            "distilled": distilled.tolist(), "gap_closed": gaps,
            "mean": {"student_alone": float(alone.mean()), "distilled": float(distilled.mean()),
                     "gap_closed": float(np.mean(gaps))},
            "std": {"student_alone": float(alone.std()), "distilled": float(distilled.std()),
                    "gap_closed": float(np.std(gaps))},
            "paper": dict(zip(("teacher", "student", "distilled"), paper, strict=True)),
            "paper_gap_closed": gap_closed(*paper)}


# ==============================================================================================
# The specialists experiment (issue 20): chapters 03-05 and kdlab.replicate
# ==============================================================================================
#
# Section 5 of the paper under the conditions that made it work on JFT: a generalist short of
# capacity for the fine distinctions, groups found on held-out predictions, specialists of the
# same shape that spend it on their group, and three controls, over several seeds.

#: Share of the training images held out (from the training set, never the test set) for the
#: clustering of chapter 03 and the specialists' early stopping.
SPECIALIST_VAL_FRACTION = 0.1
#: EM steps of the synthetic set's KL inference before the gradient method takes over.
EM_STEPS = 10_000
#: The generalist's confidence strata of the Table-4 analysis (chapter 05).
CONFIDENCE_EDGES = (0.0, 0.6, 0.9, 1.0)
#: The paper's JFT numbers (section 5): accuracy of the generalist and of the combination with
#: 61 specialists, and Table 4's relative gain for one and for nine covering specialists.
PAPER_JFT = {"generalist": 0.250, "combined": 0.261, "gain_1_covering": 0.034,
             "gain_9_covering": 0.166}


def specialist_data(profile, dataset: str | None = None):
    """The training and test sets of the specialists experiment (chapters 03-05).

    ``profile.specialist_n_train`` training images (stratified, seeded; ``None``, or more than
    there are: all) and the profile's ``n_test`` test images, of ``dataset`` (default
    ``profile.dataset``).
    """
    from kdlab.data import load_dataset
    from kdlab.profiles import Profile

    p = profile
    if not isinstance(p, Profile):
        raise TypeError(f"profile must be a kdlab Profile (kdlab.get_profile()), got "
                        f"{type(p).__name__}")
    name = p.dataset if dataset is None else dataset

    def load(split, n):
        full = load_dataset(name, split)
        return full if n is None or n >= len(full) else load_dataset(name, split, n=n,
                                                                      seed=p.seed)

    return load("train", p.specialist_n_train), load("test", p.n_test)


def specialist_split(train, profile) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``train`` to fit on, and the held-out rows (a stratified tenth, seeded)."""
    from kdlab.data import train_val_split

    _check_profile_data(profile, train)
    return train_val_split(train.y, SPECIALIST_VAL_FRACTION, seed=profile.seed)


def train_small_generalists(train, profile, *, verbose: bool = True) -> list[nn.Module]:
    """The generalists of the specialists experiment, one per seed, from the cache.

    ``MLP(D, profile.specialist_hidden, C, seed=p.seed + s)`` trained on the fitting rows of
    :func:`specialist_split` with hard labels, ``specialist_epochs`` epochs of Adam (seed
    ``p.seed + s``), for ``s = 0 … specialist_seeds - 1``; all seeds trained together as one
    batched model (:func:`kdlab.train.fit_cached_many`). Chapter 03 clusters the first one's
    held-out predictions. See notebooks 03-05.
    """
    from kdlab.models import MLP
    from kdlab.train import fit_cached_many

    p = profile
    fit_rows, _ = specialist_split(train, p)
    D, C = train.X.shape[1], len(train.classes)
    jobs = [dict(model=MLP(D, p.specialist_hidden, C, seed=p.seed + s), targets=train.y[fit_rows],
                 seed=p.seed + s, name=f"small-generalist-{s}")
            for s in range(p.specialist_seeds)]
    return fit_cached_many(train.X[fit_rows], jobs, epochs=p.specialist_epochs,
                           batch_size=p.batch_size, lr=p.lr, verbose=verbose)


def specialist_groups(generalist, train, profile) -> list[np.ndarray]:
    """The confusable groups: K-means on the correlation of the generalist's *held-out*
    predictions (chapter 03), ``profile.specialist_clusters`` clusters, groups of 2 or more."""
    from kdlab.clustering import confusable_groups
    from kdlab.covariance import prediction_correlation
    from kdlab.train import predict_proba

    _, val_rows = specialist_split(train, profile)
    probs = predict_proba(generalist, train.X[val_rows])
    return confusable_groups(prediction_correlation(probs), profile.specialist_clusters)


def random_groups(groups, n_classes: int, seed: int) -> list[np.ndarray]:
    """Random groups of the same sizes as ``groups``, disjoint, none equal to one of them.

    The control of "specialists on random class groups": classes drawn by a seeded random
    permutation, cut into pieces of the sizes of ``groups``.

    Examples
    --------
    >>> [len(g) for g in random_groups([np.array([0, 2, 4, 6]), np.array([5, 7, 9])], 10, 0)]
    [4, 3]
    """
    sizes = [len(g) for g in groups]
    if sum(sizes) > n_classes:
        raise ValueError(f"groups hold {sum(sizes)} classes in all, more than {n_classes}")
    real = {tuple(sorted(int(c) for c in g)) for g in groups}
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        order, out, start = rng.permutation(n_classes), [], 0
        for size in sizes:
            out.append(np.sort(order[start:start + size]))
            start += size
        if not any(tuple(g.tolist()) in real for g in out):
            return out
    raise ValueError("no random groups of these sizes differ from the given ones")


def compute_matched_epochs(train_y, groups, profile) -> int:
    """Extra epochs that give a generalist the examples its specialists may train on.

    A specialist of group ``S`` trains at most ``specialist_epochs`` epochs on its 50/50 set
    (all of ``S`` and as many others); the compute-matched generalist gets, over all its
    training images, at least as many example presentations as all the specialists together
    (rounded up): so "the specialist is better" cannot mean "it trained longer".
    """
    from kdlab.specialists import specialist_dataset

    p = profile
    sizes = sum(len(specialist_dataset(train_y, g, 0.5, p.seed).indices) for g in groups)
    return max(1, math.ceil(p.specialist_epochs * sizes / len(train_y)))


def _as_groups(groups) -> list[list[int]]:
    return [[int(c) for c in g] for g in groups]


class SpecialistExperiment:
    """What :func:`specialist_experiment` trained and measured; see notebooks 04 and 05.

    Attributes
    ----------
    groups : list of int arrays
        The confusable groups (from the first seed's held-out predictions), shared by every seed.
    seeds : list of int
        One entry per seed.
    generalists, compute_matched : list of MLP
        Per seed: the generalist, and the same network trained ``extra_epochs`` more.
    specialists, random_specialists : list of lists of Specialist
        Per seed: one specialist per group, and one per random group (``random_groups[s]``).
    in_group : dict of arrays (seeds, groups)
        Within-group test accuracy (:func:`kdlab.specialists.within_group_accuracy`) of the
        ``"generalist"``, the ``"specialist"`` and the ``"compute_matched"`` generalist.
    random_in_group : dict of arrays (seeds, groups)
        The same for each random group: ``"generalist"`` and ``"specialist"``.
    accuracy : dict of arrays (seeds,)
        Test accuracy of the ``"generalist"``, the ``"compute_matched"`` one, the KL
        combination with its specialists (``"combined"``), two generalists of different seeds
        combined by the same KL inference (``"two_generalists"``) and the combination with the
        random-group specialists (``"random_groups"``).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def summary(self) -> dict:
        """JSON-ready numbers: per group, per seed, means and standard deviations."""
        def stats(a):
            a = np.asarray(a, dtype=float)
            return {"per_seed": a.tolist(), "mean": float(a.mean()), "std": float(a.std())}

        names = self.class_names
        groups = []
        for j, g in enumerate(self.groups):
            ig = {k: v[:, j] for k, v in self.in_group.items()}
            groups.append({
                "classes": [names[c] for c in g], "class_indices": [int(c) for c in g],
                "generalist_in_group_accuracy": float(ig["generalist"].mean()),
                "specialist_in_group_accuracy": float(ig["specialist"].mean()),
                "compute_matched_in_group_accuracy": float(ig["compute_matched"].mean()),
                "per_seed": {k: v.tolist() for k, v in ig.items()},
                "specialist_minus_generalist": stats(ig["specialist"] - ig["generalist"]),
                "specialist_minus_compute_matched": stats(ig["specialist"]
                                                          - ig["compute_matched"])})
        acc = {k: stats(v) for k, v in self.accuracy.items()}
        rand_gain = self.random_in_group["specialist"] - self.random_in_group["generalist"]
        return {
            "seeds": list(self.seeds), "hidden": list(self.hidden), "epochs": self.epochs,
            "extra_epochs": self.extra_epochs, "n_fit": self.n_fit, "n_val": self.n_val,
            "n_test": self.n_test, "specialists": groups,
            "random_groups": [_as_groups(r) for r in self.random_groups],
            "random_specialist_minus_generalist": stats(rand_gain.mean(axis=1)),
            "specialist_epochs_run": self.epochs_run,
            "combination": {
                "generalist_accuracy": acc["generalist"]["mean"],
                "combined_accuracy": acc["combined"]["mean"],
                "two_generalists_accuracy": acc["two_generalists"]["mean"],
                "random_groups_accuracy": acc["random_groups"]["mean"],
                "compute_matched_accuracy": acc["compute_matched"]["mean"],
                "per_seed": {k: v["per_seed"] for k, v in acc.items()},
                "std": {k: v["std"] for k, v in acc.items()},
                "paper_jft": {"generalist_accuracy": PAPER_JFT["generalist"],
                              "combined_accuracy": PAPER_JFT["combined"]}}}

    def verdicts(self) -> dict:
        """Per comparison, in how many seeds the specialists came out ahead (strictly)."""
        ig, acc = self.in_group, self.accuracy
        n = len(self.seeds)
        comb = acc["combined"]
        return {
            "in_group_vs_generalist": (int((ig["specialist"] > ig["generalist"]).sum()),
                                       ig["specialist"].size),
            "in_group_vs_compute_matched": (int((ig["specialist"] > ig["compute_matched"]).sum()),
                                            ig["specialist"].size),
            "combined_vs_generalist": (int((comb > acc["generalist"]).sum()), n),
            "combined_vs_compute_matched": (int((comb > acc["compute_matched"]).sum()), n),
            "combined_vs_two_generalists": (int((comb > acc["two_generalists"]).sum()), n),
            "combined_vs_random_groups": (int((comb > acc["random_groups"]).sum()), n),
        }


def two_generalists(p_a, p_b) -> np.ndarray:
    """Two generalists combined by KL inference: the ``q`` minimising ``KL(p_a‖q) + KL(p_b‖q)``.

    Two full distributions are two "specialists" for every class with nothing in a dustbin, and
    the minimiser of a sum of KL divergences from them is their average (the EM update of
    :func:`kdlab.inference.kl_inference` reaches it in one step): plain two-model ensembling.

    Examples
    --------
    >>> two_generalists(np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]]))
    array([[0.6, 0.4]])
    """
    a = np.asarray(p_a, dtype=np.float64)
    b = np.asarray(p_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"p_a and p_b must be probability arrays of one shape (N, C), got "
                         f"{a.shape} and {b.shape}")
    return (a + b) / 2


def specialist_experiment(train, test, profile, *, n_jobs: int = 2,
                          verbose: bool = True) -> SpecialistExperiment:
    """Specialists against their three controls, over ``profile.specialist_seeds`` seeds.

    For each seed ``s``: the generalist of :func:`train_small_generalists`; one specialist per
    confusable group (:func:`specialist_groups`, the first seed's, shared by all) of the same
    shape, started from it, trained on its 50/50 set with the dustbin and the log-odds
    correction (:func:`kdlab.specialists.train_specialists`), at most ``specialist_epochs``
    epochs with early stopping on its share of the held-out rows; and the controls:

    - **compute-matched**: the generalist trained :func:`compute_matched_epochs` more epochs;
    - **random groups**: specialists, trained alike, on :func:`random_groups` of the same sizes;
    - **two generalists**: this seed's generalist and the next seed's, combined by KL inference
      (:func:`two_generalists`).

    Everything is measured on ``test``: within-group accuracy (the best class of the group,
    for the examples of the group) and the accuracy of the KL combination (the paper's
    ``n_top = 1``). Every network comes from the cache after the first run. See notebooks 04-05.
    """
    from kdlab.inference import kl_inference
    from kdlab.specialists import train_specialists, within_group_accuracy
    from kdlab.train import fit_cached_many, predict_proba

    _check_profile_data(profile, train)
    _check_profile_data(profile, test)
    p = profile
    fit_rows, val_rows = specialist_split(train, p)
    Xf, yf = train.X[fit_rows], train.y[fit_rows]
    val = (train.X[val_rows], train.y[val_rows])
    C = len(train.classes)
    generalists = train_small_generalists(train, p, verbose=verbose)
    groups = specialist_groups(generalists[0], train, p)
    extra = compute_matched_epochs(yf, groups, p)
    seeds = list(range(p.specialist_seeds))
    jobs = [dict(model=copy.deepcopy(g), targets=yf, seed=p.seed + 1000 + s,
                 name=f"compute-matched-{s}") for s, g in zip(seeds, generalists, strict=True)]
    matched = fit_cached_many(Xf, jobs, epochs=extra, batch_size=p.batch_size, lr=p.lr,
                              verbose=verbose)
    opts = dict(epochs=p.specialist_epochs, batch_size=p.batch_size, lr=p.lr, val=val,
                patience=p.specialist_patience, n_jobs=n_jobs, progress=verbose)
    specialists, randoms, rgroups = [], [], []
    for s, g in zip(seeds, generalists, strict=True):
        rgroups.append(random_groups(groups, C, p.seed + 100 + s))
        # the real and the random groups' specialists in one call: n_jobs workers share them
        both = train_specialists(g, Xf, yf, [*groups, *rgroups[-1]], seed=p.seed + s,
                                 name=f"seed{s}-specialist", **opts)
        specialists.append(both[:len(groups)])
        randoms.append(both[len(groups):])

    X, y = test.X, test.y
    probs = [predict_proba(g, X) for g in generalists]
    in_group = {k: np.zeros((len(seeds), len(groups)))
                for k in ("generalist", "specialist", "compute_matched")}
    random_in = {k: np.zeros((len(seeds), len(groups))) for k in ("generalist", "specialist")}
    accuracy = {k: np.zeros(len(seeds)) for k in ("generalist", "compute_matched", "combined",
                                                  "two_generalists", "random_groups")}
    epochs_run = []
    for s in seeds:
        p_gen, p_cm = probs[s], predict_proba(matched[s], X)
        opinions = [(sp.subset, sp.predict_proba(X)) for sp in specialists[s]]
        random_opinions = [(sp.subset, sp.predict_proba(X)) for sp in randoms[s]]
        for j, (S, p_m) in enumerate(opinions):
            k = len(S)
            in_group["generalist"][s, j] = within_group_accuracy(p_gen[:, S], y, S)
            in_group["compute_matched"][s, j] = within_group_accuracy(p_cm[:, S], y, S)
            in_group["specialist"][s, j] = within_group_accuracy(p_m[:, :k], y, S)
        for j, (R, p_r) in enumerate(random_opinions):
            random_in["generalist"][s, j] = within_group_accuracy(p_gen[:, R], y, R)
            random_in["specialist"][s, j] = within_group_accuracy(p_r[:, :len(R)], y, R)
        right = {"generalist": p_gen, "compute_matched": p_cm,
                 "combined": kl_inference(p_gen, opinions),
                 "two_generalists": two_generalists(p_gen, probs[(s + 1) % len(seeds)]),
                 "random_groups": kl_inference(p_gen, random_opinions)}
        for key, q in right.items():
            accuracy[key][s] = float((q.argmax(axis=1) == y).mean())
        epochs_run.append([int(sp.history.get("epochs_run", p.specialist_epochs))
                           for sp in specialists[s]])
    return SpecialistExperiment(
        groups=groups, seeds=seeds, class_names=list(train.classes),
        hidden=tuple(p.specialist_hidden), epochs=p.specialist_epochs, extra_epochs=extra,
        n_fit=len(fit_rows), n_val=len(val_rows), n_test=len(y), fit_rows=fit_rows,
        val_rows=val_rows, generalists=generalists, compute_matched=matched,
        specialists=specialists, random_groups=rgroups, random_specialists=randoms,
        in_group=in_group, random_in_group=random_in, accuracy=accuracy,
        epochs_run=epochs_run)


class SyntheticSpecialists:
    """What :func:`synthetic_specialists` trained and measured (notebooks 04 and 05).

    Attributes: ``X_fit, y_fit, X_val, y_val, X_test, y_test, superclass`` (the data),
    ``n_classes``, ``generalist``, ``groups`` (overlapping), ``specialists``, and on the test
    set ``p_general``, ``opinions`` (``(subset, probs)`` pairs), ``q`` (the KL combination),
    ``active`` (examples × specialists) and ``covering`` (per example, the number of
    specialists whose group holds its correct class, as in the paper's Table 4). ``em_steps``:
    the EM steps each test image took; ``unfinished``: the images EM left short of its tolerance
    within ``EM_STEPS``, which the gradient method finished (``moved``: by how much their ``q``
    changed then; ``flipped``: how many changed their top class).
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def table(self, confidence_edges=CONFIDENCE_EDGES) -> list[dict]:
        """The paper's Table 4 on this set, every bucket, for all examples and by confidence
        (:func:`kdlab.inference.accuracy_by_covering`)."""
        from kdlab.inference import accuracy_by_covering

        return accuracy_by_covering(self.y_test, self.p_general, self.q, self.covering,
                                    confidence_edges)


def synthetic_correlation(profile) -> tuple[np.ndarray, np.ndarray]:
    """Chapter 03's synthetic classes: the correlation of their predictions, and the truth.

    40 Gaussian classes nested in 8 superclasses (:func:`kdlab.hierarchy.make_hierarchical`,
    20 examples per class, seeded by ``profile.seed``), predicted by their exact Gibbs
    probabilities at T = 1; returns the 40 × 40 correlation of those predictions and each
    class's superclass, the grouping a clustering of the correlation should recover.

    Examples
    --------
    >>> from kdlab.profiles import get_profile
    >>> corr, superclass = synthetic_correlation(get_profile("ci"))
    >>> corr.shape, np.bincount(superclass).tolist()
    ((40, 40), [5, 5, 5, 5, 5, 5, 5, 5])

    See notebooks 03 and 06.
    """
    from kdlab.covariance import prediction_correlation
    from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
    from kdlab.profiles import Profile

    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a kdlab Profile (kdlab.get_profile()), got "
                        f"{type(profile).__name__}")
    X, _, superclass, centers = make_hierarchical(8, 5, n_per_class=20,
                                                  random_state=profile.seed,
                                                  return_centers=True)
    return prediction_correlation(gibbs_probabilities(X, centers)), superclass


def synthetic_specialists(profile, *, n_jobs: int = 2,
                          verbose: bool = True) -> SyntheticSpecialists:
    """Many classes, many overlapping specialists: the synthetic set of notebooks 04 and 05.

    ``profile.synthetic_classes`` = (superclasses, classes in each, examples per class) of
    :func:`kdlab.hierarchy.make_hierarchical` (32 features, superclasses close enough to be
    confused now and then); a quarter held out for testing and a fifth of the rest for
    clustering and early stopping. The generalist is small for so many classes (32 hidden
    units, 20 epochs), as one network for JFT's 15,000 was. The groups are chapter 03's
    clusters of its held-out predictions at three numbers of clusters (half, once and twice the
    number of superclasses) and three seeds each, so that a class can have up to nine
    specialists; each specialist is trained as in :func:`specialist_experiment` (at most 30
    epochs, early stopping), and all are combined by KL inference on the test set.
    """
    from kdlab.clustering import confusable_groups
    from kdlab.covariance import prediction_correlation
    from kdlab.data import train_val_split
    from kdlab.hierarchy import make_hierarchical
    from kdlab.inference import active_specialists, covering_counts, kl_inference
    from kdlab.models import MLP
    from kdlab.profiles import Profile
    from kdlab.specialists import train_specialists
    from kdlab.train import fit_cached, predict_proba

    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a kdlab Profile (kdlab.get_profile()), got "
                        f"{type(profile).__name__}")
    p = profile
    n_super, per_super, n_per = p.synthetic_classes
    X, y, superclass = make_hierarchical(n_super, per_super, n_per_class=n_per, n_features=32,
                                         superclass_scale=1.0, random_state=p.seed)
    rest, test_rows = train_val_split(y, 0.25, seed=p.seed)
    fit_i, val_i = train_val_split(y[rest], 0.2, seed=p.seed)
    fit_rows, val_rows = rest[fit_i], rest[val_i]
    C = n_super * per_super
    opts = dict(batch_size=p.batch_size, lr=p.lr)
    generalist = fit_cached(MLP(32, (32,), C, seed=p.seed), X[fit_rows], y[fit_rows],
                            epochs=20, seed=p.seed, name="synthetic-generalist",
                            verbose=verbose, **opts)
    corr = prediction_correlation(predict_proba(generalist, X[val_rows]))
    found = {tuple(int(c) for c in g)
             for k in (max(2, n_super // 2), n_super, 2 * n_super) for rs in range(3)
             for g in confusable_groups(corr, k, random_state=rs)}
    groups = [np.array(g) for g in sorted(found)]
    specialists = train_specialists(generalist, X[fit_rows], y[fit_rows], groups, epochs=30,
                                    val=(X[val_rows], y[val_rows]), patience=3, seed=p.seed,
                                    n_jobs=n_jobs, progress=verbose, name="synthetic-specialist",
                                    **opts)
    X_test, y_test = X[test_rows], y[test_rows]
    p_general = predict_proba(generalist, X_test)
    opinions = [(sp.subset, sp.predict_proba(X_test)) for sp in specialists]
    active = active_specialists(p_general, opinions)
    with warnings.catch_warnings():  # the images EM leaves unfinished are finished below
        warnings.simplefilter("ignore", ConvergenceWarning)
        q, steps = kl_inference(p_general, opinions, max_iter=EM_STEPS, return_n_iter=True)
    unfinished = steps >= EM_STEPS
    moved, flipped = 0.0, 0
    if unfinished.any():  # the paper's method (Newton steps on the logits) finishes them
        q_end = kl_inference(p_general[unfinished], [(s, m[unfinished]) for s, m in opinions],
                             method="gradient")
        moved = float(np.abs(q_end - q[unfinished]).max())
        flipped = int(np.sum(q_end.argmax(1) != q[unfinished].argmax(1)))
        q[unfinished] = q_end
    return SyntheticSpecialists(
        X_fit=X[fit_rows], y_fit=y[fit_rows], X_val=X[val_rows], y_val=y[val_rows],
        X_test=X_test, y_test=y_test, superclass=superclass, n_classes=C,
        generalist=generalist, groups=groups, specialists=specialists, p_general=p_general,
        opinions=opinions, q=q, active=active, em_steps=steps, unfinished=unfinished,
        moved=moved, flipped=flipped, covering=covering_counts(y_test, groups))


__all__ += ["CONFIDENCE_EDGES", "PAPER_JFT", "SpecialistExperiment", "SyntheticSpecialists",
            "compute_matched_epochs", "random_groups", "specialist_data", "specialist_experiment",
            "specialist_groups", "specialist_split", "synthetic_correlation",
            "synthetic_specialists", "train_small_generalists", "two_generalists"]
