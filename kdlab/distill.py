"""The distillation loss and the recipe for training a student from a teacher (notebook 02)."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdlab.temperature import log_softmax_t
from kdlab.train import fit, fit_cached, get_device, predict_logits
from kdlab.validate import check_finite, check_labels, check_real, n_outputs


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets=None,
                      T: float = 4.0, alpha: float = 0.9) -> torch.Tensor:
    r"""The distillation objective of Hinton et al. (2015), as a scalar torch tensor.

    .. math::

        L = \alpha \, T^2 \, \frac{1}{N}\sum_n \mathrm{KL}\big(\mathrm{softmax}(v_n/T) \,\|\,
            \mathrm{softmax}(z_n/T)\big) + (1-\alpha)\, \frac{1}{N}\sum_n \mathrm{CE}(z_n, y_n)

    for student logits ``z`` and teacher logits ``v``. Conventions: the KL is summed over classes
    and averaged over the batch (``reduction="batchmean"``, not a mean over every element); the
    soft term is multiplied by ``T**2`` so that its gradients keep their size as ``T`` changes
    (the soft gradient scales like 1/T², see notebook 01); the hard term is the ordinary
    cross-entropy at T = 1. With ``targets=None`` the result is the soft term ``T² · KL`` alone
    and ``alpha`` is ignored. The teacher never receives a gradient (its logits are detached).

    Parameters
    ----------
    student_logits : torch.Tensor, shape (N, C)
    teacher_logits : torch.Tensor, shape (N, C)
    targets : torch.Tensor of int, shape (N,), optional
        Hard labels, class ids in ``[0, C)`` (int32 is fine).
    T : float
        Temperature of both softmaxes in the soft term.
    alpha : float in [0, 1]
        Weight of the soft term.

    Examples
    --------
    >>> z, v = torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    >>> float(distillation_loss(v, v, T=2.0))
    0.0

    The values are checked first (teacher logits finite, labels in range): one device
    synchronisation per call. :func:`distill_student` checks its data once, up front, instead.
    """
    return _distillation_loss(student_logits, teacher_logits, targets, T, alpha, check=True)


def _distillation_loss(student_logits, teacher_logits, targets, T, alpha, check: bool):
    """:func:`distillation_loss`; ``check=False`` skips the checks of values (no GPU sync)."""
    for name, value in [("student_logits", student_logits), ("teacher_logits", teacher_logits)]:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor, got "
                            f"{getattr(value, 'dtype', type(value).__name__)}")
        if value.ndim != 2:
            raise ValueError(f"{name} must have shape (N, C), got {tuple(value.shape)}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"teacher_logits: shape {tuple(teacher_logits.shape)} does not match "
                         f"student_logits {tuple(student_logits.shape)}")
    if len(student_logits) == 0:
        raise ValueError("student_logits: the batch is empty (shape (0, C)); the mean loss over "
                         "no examples is undefined")
    alpha = check_real(alpha, "alpha", 0, 1)
    if check:
        check_finite(teacher_logits, "teacher_logits")
    log_q = log_softmax_t(student_logits, T, check_finite=False)  # no GPU sync per step
    log_p = log_softmax_t(teacher_logits.detach(), T, check_finite=False)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()
    soft = kl * float(T) ** 2
    if targets is None:
        return soft
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.ndim != 1:
        raise TypeError("targets must be a 1-d integer torch.Tensor of class labels or None")
    if len(targets) != len(student_logits):
        raise ValueError(f"targets: expected {len(student_logits)} labels, got {len(targets)}")
    targets = check_labels(targets, student_logits.shape[1], "targets") if check \
        else targets.long()
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, targets)


def teacher_logits(teacher: nn.Module, X, batch_size: int = 4096) -> np.ndarray:
    """Run the teacher once over ``X`` in eval mode; row ``i`` of the result belongs to ``X[i]``.

    These are the cached soft targets of distillation without augmentation (see notebook 02).
    """
    return predict_logits(teacher, X, batch_size)


# --- per-batch targets and loss for fit(); module-level so that the model cache can name them --

def _cached_targets(logits: torch.Tensor, labels: torch.Tensor | None, xb, idx):
    return logits[idx], None if labels is None else labels[idx]


@torch.no_grad()
def _teacher_targets(teacher: nn.Module, labels: torch.Tensor | None, xb, idx):
    teacher.eval()
    return teacher(xb), None if labels is None else labels[idx]


def _batch_loss(student_logits, target, T, alpha):
    t_logits, labels = target  # their values were checked once by distill_student
    return _distillation_loss(student_logits, t_logits, labels, T, alpha, check=False)


def distill_student(student: nn.Module, X, *, teacher: nn.Module | None = None, logits=None, y=None,
            T: float = 4.0, alpha: float = 0.9, augment=None, cache: bool = True,
            name: str | None = None, **fit_kwargs) -> nn.Module:
    """Train ``student`` on the teacher's soft targets at temperature ``T`` (see notebook 02).

    Without augmentation the teacher's logits are computed once over ``X`` and stored aligned
    with it (or pass precomputed ``logits``). With ``augment`` (e.g. the paper's ±2-pixel
    jitter) each batch is jittered first and the teacher recomputes its soft targets for the
    jittered images — stale targets for unjittered images would be wrong, so ``augment`` with
    cached ``logits`` is an error. ``y`` adds the hard-label term with weight ``1 − alpha``.
    With ``cache`` the trained student is stored and reloaded by :func:`kdlab.fit_cached`.
    """
    targets, loss_fn = _targets_and_loss(X, teacher, logits, y, T, alpha, augment,
                                         fit_kwargs.get("device"))
    train = fit_cached if cache else fit
    kwargs = dict(loss_fn=loss_fn, augment=augment, **fit_kwargs)
    if cache:
        kwargs["name"] = name or "student"
        return train(student, X, targets, **kwargs)
    train(student, X, targets, **kwargs)
    return student


def _targets_and_loss(X, teacher, logits, y, T, alpha, augment, device):
    """The ``targets`` and ``loss_fn`` that :func:`fit` gets for a distillation (checked once)."""
    if (teacher is None) == (logits is None):
        raise ValueError("pass exactly one of teacher (a model) or logits (its cached outputs)")
    if augment is not None and teacher is None:
        raise ValueError("augment: soft targets must be recomputed for the augmented inputs; "
                         "pass teacher=<model> instead of cached logits")
    check_real(alpha, "alpha", 0, 1)
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        raise TypeError(f"X must be a numpy array or a torch tensor, got {type(X).__name__}")
    check_finite(X, "X")  # before the teacher runs, the cache key is built or training begins
    device = get_device(device)
    n = len(X)
    if teacher is not None:
        teacher.to(device).eval()  # dropout off; no_grad keeps the teacher's weights untouched
        if augment is None:
            logits = teacher_logits(teacher, X)
    logits_t = None
    if augment is None:
        if isinstance(logits, torch.Tensor):
            logits = logits.detach().cpu()
        logits_t = torch.as_tensor(np.asarray(logits), dtype=torch.float32, device=device)
        if logits_t.ndim != 2 or len(logits_t) != n:
            raise ValueError(f"logits: expected shape ({n}, C) aligned with X, got "
                             f"{tuple(logits_t.shape)}")
        check_finite(logits_t, "logits (the teacher's)")
    labels = None
    if y is not None:
        if isinstance(y, torch.Tensor):
            y = y.detach().cpu().numpy()
        n_classes = logits_t.shape[1] if logits_t is not None else n_outputs(teacher, X)
        labels = torch.as_tensor(np.array(check_labels(y, n_classes, "y")), device=device)
        if len(labels) != n:
            raise ValueError(f"y: expected {n} integer labels, got shape {tuple(labels.shape)}")
    if augment is None:
        targets = functools.partial(_cached_targets, logits_t, labels)
    else:
        targets = functools.partial(_teacher_targets, teacher, labels)
    loss_fn = functools.partial(_batch_loss, T=float(T), alpha=float(alpha))
    return targets, loss_fn


def distill_job(student: nn.Module, X, *, logits, y=None, T: float = 4.0, alpha: float = 0.9,
                name: str | None = None, **fit_kwargs) -> dict:
    """:func:`distill_student` from cached ``logits``, as a job of :func:`kdlab.fit_cached_many`.

    Keyed exactly as ``distill_student(student, X, logits=logits, y=y, T=T, alpha=alpha,
    name=name, **fit_kwargs)`` keys it: many students (seeds, temperatures) are distilled
    together as one batched model, and each is still found by ``distill_student`` (and the
    other way round). See notebook 02.

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> X, v = np.zeros((8, 4), np.float32), np.zeros((8, 3), np.float32)
    >>> sorted(distill_job(MLP(4, (5,), 3), X, logits=v, T=2.0, epochs=1))
    ['augment', 'epochs', 'loss_fn', 'model', 'name', 'targets']
    """
    targets, loss_fn = _targets_and_loss(X, None, logits, y, T, alpha, None,
                                         fit_kwargs.get("device"))
    return dict(model=student, targets=targets, loss_fn=loss_fn, augment=None,
                name=name or "student", **fit_kwargs)
