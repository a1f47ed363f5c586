"""The small set of input checks that every public function shares (see DESIGN.md).

Each check raises a ``ValueError`` (a ``TypeError`` for a wrong type) whose message names the
argument and says what was expected, so that bad input fails before any training starts and
never turns into a silent NaN or a bare torch traceback. The checks accept numpy arrays and
torch tensors alike; for a CUDA tensor a check costs one device synchronisation. Importing
this module does not import torch (``kdlab.data`` uses it and stays light).
"""

from __future__ import annotations

import numbers
import sys

import numpy as np

__all__ = ["check_finite", "check_int", "check_labels", "check_n_features",
           "check_positive", "check_probabilities", "check_real", "check_subset",
           "check_training_data",
           "n_outputs", "to_numpy"]


def _is_tensor(a) -> bool:
    torch = sys.modules.get("torch")  # not imported: then ``a`` cannot be a tensor
    return torch is not None and isinstance(a, torch.Tensor)


def _dtype_is_integer(a) -> bool:
    if _is_tensor(a):
        import torch

        return not (a.is_floating_point() or a.is_complex() or a.dtype == torch.bool)
    return np.issubdtype(a.dtype, np.integer)


def check_finite(a, name: str, max_abs: float | None = None):
    """``a`` unchanged if it has no NaN or infinity (nor ``|a| > max_abs``); else a ValueError.

    Examples
    --------
    >>> check_finite(np.array([1.0, 2.0]), "X")
    array([1., 2.])
    >>> check_finite(np.array([1.0, np.nan]), "X")
    Traceback (most recent call last):
    ...
    ValueError: X must be finite, got 1 NaN or infinite value(s)
    """
    x = a.detach() if _is_tensor(a) else np.asarray(a)
    if _is_tensor(x):
        import torch

        bad = 0
        if (x.is_floating_point() or x.is_complex()) and not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())  # count only when something is wrong
    else:
        if np.issubdtype(x.dtype, np.inexact):
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
        elif np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
            bad = 0
        else:
            raise TypeError(f"{name} must hold numbers, got an array of dtype {x.dtype}")
    if bad:
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")
    if max_abs is not None and (x.numel() if _is_tensor(x) else x.size):
        largest = max(abs(float(x.max())), abs(float(x.min())))  # no copy of x
        if largest > max_abs:
            raise ValueError(f"{name} holds values as large as {largest:.3g}; squaring them "
                             f"would overflow float64: rescale {name} below {max_abs:.3g} in "
                             "absolute value (e.g. divide it by its largest entry)")
    return a


def check_int(value, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as a Python int if it is an integer (not a bool) in ``[lo, hi]``; else an error.

    Examples
    --------
    >>> check_int(1, "ddof", lo=0, hi=1)
    1
    >>> check_int(1.5, "ddof", lo=0, hi=1)
    Traceback (most recent call last):
    ...
    TypeError: ddof must be an int, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if hi is None:
            expected = f">= {lo}"
        elif lo is None:
            expected = f"<= {hi}"
        else:
            expected = (f"in [{lo}, {hi}]" if hi - lo > 1 or hi < lo
                        else f"{lo} or {hi}" if hi - lo == 1 else f"equal to {lo}")
        raise ValueError(f"{name} must be an int {expected}, got {value!r}")
    return int(value)


def to_numpy(a, dtype=np.float64) -> np.ndarray:
    """A numpy copy of an array or (possibly CUDA) tensor ``a``, as ``dtype`` (``None``: its own).

    Examples
    --------
    >>> to_numpy([1, 2])
    array([1., 2.])
    >>> to_numpy(np.array([1, 2], np.int32), None).dtype
    dtype('int32')
    """
    if _is_tensor(a):
        import torch

        a = a.detach().cpu()
        a = (a.float() if a.dtype == torch.bfloat16 else a).numpy()  # numpy has no bfloat16
    return np.array(a, dtype=dtype, copy=True)


def check_positive(value, name: str) -> float:
    """``value`` as a float if it is a finite real number above 0 (not a bool); else an error.

    A 0-d numpy array is read as its scalar. A non-number is a ``TypeError``, a number that is
    not finite or not positive a ``ValueError``; both messages name the argument.

    Examples
    --------
    >>> check_positive(2, "T")
    2.0
    >>> check_positive(-1, "T")
    Traceback (most recent call last):
    ...
    ValueError: T must be a positive finite number, got -1
    """
    expected = f"{name} must be a positive finite number"
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValueError(f"{expected} (a scalar), got an array of shape {value.shape}")
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{expected}, got {value!r} of type {type(value).__name__}")
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        shown = int(value) if isinstance(value, numbers.Integral) else number
        raise ValueError(f"{expected}, got {shown!r}")
    return number


def check_real(value, name: str, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float if it is a finite real number (not a bool) in the bounds, else an error.

    ``lo`` and ``hi`` are included unless ``lo_open`` / ``hi_open``. A non-number is a
    ``TypeError``, a number out of range (or NaN, or infinite) a ``ValueError``; both messages
    name the argument and the range.

    Examples
    --------
    >>> check_real(0.9, "alpha", 0, 1)
    0.9
    >>> check_real(1.5, "alpha", 0, 1)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a number in [0, 1], got 1.5
    >>> check_real(0.0, "lr", 0, lo_open=True)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a number > 0, got 0.0
    """
    if lo is not None and hi is not None:
        expected = f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    elif lo is not None:
        expected = f"{'>' if lo_open else '>='} {lo}"
    elif hi is not None:
        expected = f"{'<' if hi_open else '<='} {hi}"
    else:
        expected = "that is finite"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {expected}, got {value!r}")
    number = float(value)
    if not np.isfinite(number) \
            or (lo is not None and (number <= lo if lo_open else number < lo)) \
            or (hi is not None and (number >= hi if hi_open else number > hi)):
        raise ValueError(f"{name} must be a number {expected}, got {value!r}")
    return number


def check_subset(subset, n_classes: int | None, name: str = "subset", *,
                 proper: bool = True) -> np.ndarray:
    """The class ids of ``subset`` as an int64 array in their given order, or an error.

    ``subset`` is a non-empty 1-d sequence (or tensor) of distinct integer class ids in
    ``[0, n_classes)`` (``n_classes=None``: any non-negative id); ``proper`` also asks that it
    leave out at least one class, as a specialist's subset must (the rest is its dustbin).

    Examples
    --------
    >>> check_subset([3, 1], 5)
    array([3, 1])
    >>> check_subset([0, 1], 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: subset contains every one of the 2 classes: it must leave out at least one ...
    """
    if _is_tensor(subset):
        subset = subset.detach().cpu().numpy()
    if subset is None or isinstance(subset, (str, bytes)):
        raise TypeError(f"{name} must be a 1-d sequence of class ids, got "
                        f"{type(subset).__name__}")
    try:
        arr = np.asarray(subset)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a 1-d sequence of class ids: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d sequence of class ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: it must hold at least one class id")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    if arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes):
        where = f"[0, {n_classes})" if n_classes is not None else "[0, ∞)"
        raise ValueError(f"{name}: class ids must lie in {where}, got {arr.tolist()}")
    values, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name}: duplicate class ids {values[counts > 1].tolist()}")
    if proper and n_classes is not None and arr.size >= n_classes:
        raise ValueError(f"{name} contains every one of the {n_classes} classes: it must leave "
                         "out at least one (they are the dustbin)")
    return arr.astype(np.int64)


def check_labels(y, n_classes: int | None = None, name: str = "y"):
    """``y`` as int64 (numpy) or long (torch) if 1-d class ids in ``[0, n_classes)``; else an error.

    Examples
    --------
    >>> check_labels(np.array([0, 2, 1], np.int32), 3)
    array([0, 2, 1])
    >>> check_labels(np.array([0, 3]), 3)
    Traceback (most recent call last):
    ...
    ValueError: y must hold class ids in [0, 3), got values from 0 to 3
    """
    if not _is_tensor(y):
        if y is None or isinstance(y, (str, bytes)):
            raise TypeError(f"{name} must be an array of integer class ids, got "
                            f"{type(y).__name__}")
        y = np.asarray(y)
    n = y.numel() if _is_tensor(y) else y.size
    if n and not _dtype_is_integer(y):  # (an empty list is float64 to numpy: no labels is fine)
        raise TypeError(f"{name} must hold integer class ids (e.g. int64), got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-d (one class id per example), got shape "
                         f"{tuple(y.shape)}")
    if n:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or (n_classes is not None and hi >= n_classes):
            where = f"[0, {n_classes})" if n_classes is not None else "[0, ∞)"
            raise ValueError(f"{name} must hold class ids in {where}, got values from {lo} "
                             f"to {hi}")
    return y.long() if _is_tensor(y) else y.astype(np.int64, copy=False)


def check_probabilities(P, name: str, atol: float = 1e-3):
    """``P`` (N, C) unchanged if its rows are probabilities (≥ 0, sum 1 ± ``atol``), else an error.

    Examples
    --------
    >>> P = check_probabilities(np.array([[0.25, 0.75], [1.0, 0.0]]), "probs")
    >>> check_probabilities(np.array([[0.5, 1.5]]), "probs")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: probs must hold probabilities, but row 0 sums to 2 ...: did you pass logits? ...
    """
    x = P.detach() if _is_tensor(P) else np.asarray(P)
    check_finite(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-d (examples × classes), got shape {tuple(x.shape)}")
    if (x.numel() if _is_tensor(x) else x.size) == 0:
        return P
    hint = "did you pass logits? apply softmax first"
    smallest = float(x.min())
    if smallest < -atol:
        raise ValueError(f"{name} must hold probabilities, but its smallest entry is "
                         f"{smallest:.3g} (< 0): {hint}")
    if _is_tensor(x):
        import torch

        sums = x.sum(1, dtype=torch.float64)
    else:
        sums = x.sum(1, dtype=np.float64)
    row = int(abs(sums - 1).argmax())
    if abs(float(sums[row]) - 1) > atol:
        raise ValueError(f"{name} must hold probabilities, but row {row} sums to "
                         f"{float(sums[row]):.6g} instead of 1: {hint}")
    return P


def check_n_features(X, n_features: int, name: str = "X"):
    """Return ``X`` if it is 2-d with ``n_features`` columns, else a ValueError saying so.

    Examples
    --------
    >>> check_n_features(np.zeros((2, 3)), 4)
    Traceback (most recent call last):
    ...
    ValueError: X must have shape (N, 4): 4 features per row, got shape (2, 3)
    """
    shape = tuple(getattr(X, "shape", np.shape(X)))
    if len(shape) != 2 or shape[1] != n_features:
        raise ValueError(f"{name} must have shape (N, {n_features}): {n_features} features per "
                         f"row, got shape {shape}")
    return X


def n_outputs(model, X=None) -> int:
    """Number of outputs (classes) of ``model``: ``model.head.out_features``, else one forward pass.

    The forward pass runs on the first row of ``X`` in eval mode without gradients and without
    moving torch's global random stream; the model's mode is restored.

    Examples
    --------
    >>> from torch import nn
    >>> n_outputs(nn.Sequential(nn.Linear(4, 3)), np.zeros((5, 4), np.float32))
    3
    """
    import torch
    from torch import nn

    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        return head.out_features
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    row = torch.as_tensor(X[:1], dtype=torch.float32, device=device)
    was_training = model.training
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            model.eval()
            out = model(row)
    finally:
        model.train(was_training)
    return int(out.shape[-1])


def check_training_data(model, X, targets, loss_fn=None) -> None:
    """Refuse non-finite ``X`` and bad ``targets`` for :func:`kdlab.fit` before any training.

    ``targets`` of shape (N,) are class ids in ``[0, C)`` for the model's ``C`` outputs
    (integer; float only with a custom ``loss_fn``, then finite); (N, C) float targets are
    finite, and with the default loss (soft cross-entropy) rows of probabilities. A callable
    is not inspected.

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Linear(2, 3)
    >>> check_training_data(net, np.zeros((4, 2)), np.array([0, 1, 2, 1], np.int32))
    >>> check_training_data(net, np.zeros((4, 2)), np.array([0, 1, 2, 3]))
    Traceback (most recent call last):
    ...
    ValueError: targets must hold class ids in [0, 3), got values from 0 to 3
    """
    for name, value in [("X", X), ("targets", targets)]:
        if not (_is_tensor(value) or isinstance(value, np.ndarray)
                or (name == "targets" and callable(value))):
            raise TypeError(f"{name} must be a numpy array or a torch tensor"
                            f"{' or a callable' if name == 'targets' else ''}, got "
                            f"{type(value).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (N, features), got shape {tuple(X.shape)}")
    check_finite(X, "X")
    if callable(targets):
        return
    floating = not _dtype_is_integer(targets)
    if targets.ndim == 1 and (loss_fn is None or not floating):
        n_classes = n_outputs(model, X) if len(X) else None
        check_labels(targets, n_classes, "targets")
    elif floating:
        check_finite(targets, "targets")
        if loss_fn is None and targets.ndim == 2:
            check_probabilities(targets, "targets")
