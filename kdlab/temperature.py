"""The softmax with a temperature, its entropy, and the soft-target gradient (see notebook 01).

Every function takes numpy arrays (or nested lists of numbers) and returns numpy arrays, or takes
torch tensors and returns torch tensors through which gradients flow. Floating dtypes are kept;
integer input becomes float64 (numpy) or torch's default float dtype (torch).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from kdlab.validate import check_positive

__all__ = [
    "softmax_t",
    "log_softmax_t",
    "entropy",
    "gibbs",
    "soft_cross_entropy_grad",
    "logit_matching_grad",
]


# --- input checks -------------------------------------------------------------------------------


def _check_T(T, name: str = "T"):
    """Return ``T`` as a float (or a 0-d float tensor, so gradients reach it); reject bad values."""
    expected = f"{name} must be a positive finite number"
    if isinstance(T, torch.Tensor):
        if T.ndim != 0:
            raise ValueError(f"{expected} (a scalar), got a tensor of shape {tuple(T.shape)}")
        if T.dtype == torch.bool or T.is_complex():
            raise TypeError(f"{expected}, got a tensor of dtype {T.dtype}")
        value = float(T.detach())
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{expected}, got {value:g}")
        return T if T.is_floating_point() else value
    return check_positive(T, name)


def _as_array(x, name: str, check_finite: bool = True):
    """Return ``x`` as a float numpy array or float torch tensor with at least one axis."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        finite = bool(torch.isfinite(x.detach()).all()) if check_finite and x.numel() else True
    else:
        if isinstance(x, str | bytes) or x is None:
            raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be an array of real numbers: {err}") from err
        if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {x.dtype}")
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        finite = bool(np.isfinite(x).all()) if check_finite else True
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (the classes), got a scalar")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one class on its last axis, got shape "
                         f"{tuple(x.shape)}")
    if not finite:
        raise ValueError(f"{name} must be finite (no nan or inf)")
    return x


def _like(x, ref, name: str):
    """Return ``x`` checked and converted to the kind (numpy/torch), dtype and device of ``ref``."""
    x = _as_array(x, name)
    if isinstance(ref, torch.Tensor):
        x = torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
    elif isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy().astype(ref.dtype)
    else:
        x = x.astype(ref.dtype, copy=False)
    if x.shape != ref.shape:
        raise ValueError(f"{name} must have the same shape as student_logits {tuple(ref.shape)}, "
                         f"got {tuple(x.shape)}")
    return x


# --- the softmax at temperature T -------------------------------------------------------------


def _softmax(z, T, log: bool):
    """Softmax (or its log) of ``z / T`` on checked input, in a dtype wide enough for ``T``."""
    extreme = not isinstance(T, torch.Tensor) and not 1e-30 < T < 1e30  # T would over/underflow
    if isinstance(z, torch.Tensor):
        x = z.double() if extreme else z.float() if z.dtype.itemsize < 4 else z
        s = (x - x.detach().amax(dim=-1, keepdim=True)) / T  # all <= 0: exp cannot overflow
        return (torch.log_softmax(s, dim=-1) if log else torch.softmax(s, dim=-1)).to(z.dtype)
    x = z.astype(np.float64 if extreme else np.float32 if z.dtype.itemsize < 4 else z.dtype)
    s = (x - x.max(axis=-1, keepdims=True)) / x.dtype.type(T)
    e = np.exp(s)
    out = s - np.log(e.sum(axis=-1, keepdims=True)) if log else e / e.sum(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):  # a log-probability below float16's range becomes -inf
        return out.astype(z.dtype, copy=False)


def _scalar_T(T, z):
    """``T`` as a plain float for numpy input (a tensor ``T`` only makes sense for torch input)."""
    return T if isinstance(z, torch.Tensor) else float(T)


def log_softmax_t(logits, T=1.0, *, check_finite=True):
    """Log of the softmax of ``logits / T`` along the last axis, computed stably.

    Parameters
    ----------
    logits : numpy.ndarray or torch.Tensor, shape (..., C)
        Unnormalised log-probabilities (negative energies) of ``C`` classes.
    T : float or 0-d array/tensor, default 1.0
        The temperature; any positive finite number.
    check_finite : bool, default True
        Check that ``logits`` holds no nan or inf. For a tensor on a GPU this check waits for
        the device; pass False inside a training loop (non-finite logits then give nan).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., C)
        ``log p_i = z_i / T - log sum_j exp(z_j / T)``, same kind and float dtype as ``logits``.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(np.exp(log_softmax_t(np.array([0.0, np.log(3.0)]))), 3)
    array([0.25, 0.75])

    See notebook 01.
    """
    T = _check_T(T)
    z = _as_array(logits, "logits", check_finite)
    return _softmax(z, _scalar_T(T, z), log=True)


def softmax_t(logits, T=1.0, *, check_finite=True):
    """Softmax of ``logits / T`` along the last axis: ``p_i = exp(z_i/T) / sum_j exp(z_j/T)``.

    ``T = 1`` is the ordinary softmax, ``T -> 0`` tends to the one-hot arg-max, ``T -> inf``
    to the uniform distribution. Stable for ``|logits|`` up to 1e4 and ``T`` in [1e-3, 1e3].

    Parameters
    ----------
    logits : numpy.ndarray or torch.Tensor, shape (..., C)
        Unnormalised log-probabilities (negative energies) of ``C`` classes.
    T : float or 0-d array/tensor, default 1.0
        The temperature; any positive finite number.
    check_finite : bool, default True
        Check that ``logits`` holds no nan or inf. For a tensor on a GPU this check waits for
        the device; pass False inside a training loop (non-finite logits then give nan).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., C)
        Probabilities summing to one along the last axis; same kind and float dtype as ``logits``.

    Raises
    ------
    ValueError
        If ``T`` is not a positive finite number or ``logits`` holds nan/inf or has no classes.
    TypeError
        If ``logits`` is not an array of real numbers or ``T`` is not a real number.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([2.0, 1.0, 0.0])
    >>> np.round(softmax_t(z, T=1.0), 3)
    array([0.665, 0.245, 0.09 ])
    >>> np.round(softmax_t(z, T=100.0), 3)
    array([0.337, 0.333, 0.33 ])

    See notebook 01.
    """
    T = _check_T(T)
    z = _as_array(logits, "logits", check_finite)
    return _softmax(z, _scalar_T(T, z), log=False)


def gibbs(energies, T=1.0):
    """Gibbs (Boltzmann) distribution ``p_i = exp(-E_i/T) / Z``; equals ``softmax_t(-energies, T)``.

    Parameters
    ----------
    energies : numpy.ndarray or torch.Tensor, shape (..., C)
        The energy ``E_i`` of each state; a logit is a negative energy, ``z_i = -E_i``.
    T : float or 0-d array/tensor, default 1.0
        The temperature (``beta = 1/T`` is the inverse temperature).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., C)
        Low energy means high probability.

    Examples
    --------
    >>> import numpy as np
    >>> E = np.array([1.0, 2.0])
    >>> bool(np.allclose(gibbs(E, T=2.0), softmax_t(-E, T=2.0)))
    True

    See notebook 01.
    """
    T = _check_T(T)
    return softmax_t(-_as_array(energies, "energies"), T)


def entropy(probs, axis=-1):
    """Shannon entropy ``H = -sum_i p_i log p_i`` in nats, with ``0 log 0 = 0``.

    Parameters
    ----------
    probs : numpy.ndarray or torch.Tensor
        Probabilities: non-negative, summing to one along ``axis`` (within 1e-2, so that
        half-precision softmax outputs pass).
    axis : int, default -1
        The axis holding the classes.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``probs`` with ``axis`` removed; between 0 (one-hot) and ``log C`` (uniform).

    Examples
    --------
    >>> import numpy as np
    >>> float(entropy(np.array([0.5, 0.5, 0.0])))  # log 2
    0.6931471805599453

    See notebook 01.
    """
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {axis!r} of type {type(axis).__name__}")
    p = _as_array(probs, "probs")
    if not -p.ndim <= axis < p.ndim:
        raise ValueError(f"axis must be in [{-p.ndim}, {p.ndim}) for probs of shape "
                         f"{tuple(p.shape)}, got {axis}")
    if isinstance(p, torch.Tensor):
        pd = p.detach()
        negative = bool((pd < 0).any())
        bad_sum = bool(((pd.sum(dim=axis) - 1).abs() > 1e-2).any())
        safe = torch.where(p > 0, p, torch.ones_like(p))
        h = -(p * torch.log(safe)).sum(dim=axis)
    else:
        negative = bool((p < 0).any())
        bad_sum = bool((np.abs(p.sum(axis=axis) - 1) > 1e-2).any())
        h = -(p * np.log(np.where(p > 0, p, 1))).sum(axis=axis)
    if negative:
        raise ValueError("probs must be non-negative (did you pass logits? use softmax_t first)")
    if bad_sum:
        raise ValueError(f"probs must sum to 1 along axis {axis} (did you pass logits? "
                         "use softmax_t first)")
    return h


# --- the soft-target gradient and its high-temperature limit -----------------------------------


def soft_cross_entropy_grad(student_logits, teacher_logits, T):
    """Gradient ``dC/dz = (q - p) / T`` of the soft cross-entropy, per example (paper's eq. 2).

    ``C = -sum_i p_i log q_i`` with soft targets ``p = softmax(v/T)`` from the teacher's logits
    ``v`` and ``q = softmax(z/T)`` from the student's logits ``z``.

    Parameters
    ----------
    student_logits : numpy.ndarray or torch.Tensor, shape (..., C)
        The student's logits ``z``; the result has its kind, dtype and device.
    teacher_logits : array-like or torch.Tensor, shape (..., C)
        The teacher's logits ``v``.
    T : float or 0-d array/tensor
        The temperature of both softmaxes.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., C)
        ``dC/dz_i`` for each example; each row sums to zero.

    Examples
    --------
    >>> import numpy as np
    >>> z, v = np.array([1.0, 0.0, -1.0]), np.array([1.0, 0.0, -1.0])
    >>> soft_cross_entropy_grad(z, v, T=5.0)  # same logits: nothing to learn
    array([0., 0., 0.])

    See notebook 01.
    """
    T = _check_T(T)
    z = _as_array(student_logits, "student_logits")
    v = _like(teacher_logits, z, "teacher_logits")
    T = _scalar_T(T, z)
    return (_softmax(z, T, log=False) - _softmax(v, T, log=False)) / T


def logit_matching_grad(student_logits, teacher_logits, T, center=False):
    """High-temperature limit ``(z - v) / (N T^2)`` of the soft-target gradient (eqs. 3-4).

    Expanding ``exp(x/T) ~ 1 + x/T`` for ``T`` large compared with the logits gives
    ``(q_i - p_i)/T ~ (z_i - v_i) / (N T^2)`` **provided the logits have zero mean** over the
    ``N`` classes of each example. This is the gradient of ``sum_i (z_i - v_i)^2 / (2 N T^2)``:
    distillation at high T is matching logits.

    Parameters
    ----------
    student_logits : numpy.ndarray or torch.Tensor, shape (..., N)
        The student's logits ``z``; the result has its kind, dtype and device.
    teacher_logits : array-like or torch.Tensor, shape (..., N)
        The teacher's logits ``v``.
    T : float or 0-d array/tensor
        The temperature.
    center : bool, default False
        If True, subtract each example's mean logit from ``z`` and ``v`` first; since the
        softmax ignores a shift of all logits, this makes the limit hold for any logits.
        If False (the paper's formula as written), the logits are assumed to have zero mean.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., N)
        The approximate gradient ``dC/dz``.

    Examples
    --------
    >>> import numpy as np
    >>> z, v = np.array([1.0, 0.0, -1.0]), np.array([-1.0, 0.0, 1.0])
    >>> exact = soft_cross_entropy_grad(z, v, T=100.0)
    >>> approx = logit_matching_grad(z, v, T=100.0)
    >>> bool(np.allclose(exact, approx, rtol=1e-3))
    True

    See notebook 01.
    """
    T = _check_T(T)
    if not isinstance(center, bool | np.bool_):
        raise TypeError(f"center must be a bool, got {center!r}")
    z = _as_array(student_logits, "student_logits")
    v = _like(teacher_logits, z, "teacher_logits")
    T = _scalar_T(T, z)
    n = z.shape[-1]
    d = z - v
    if center:
        mean = d.mean(dim=-1, keepdim=True) if isinstance(d, torch.Tensor) else d.mean(
            axis=-1, keepdims=True)
        d = d - mean
    return d / (n * T * T)
