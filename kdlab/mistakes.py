"""Common mistakes of distillation code, each beside the correct loss, and a checker (notebook 07).

Every soft loss here has the signature ``loss(student_logits, teacher_logits, T)`` and returns
the soft term of the distillation objective as a scalar torch tensor. :func:`soft_loss` is the
correct one (``T² · KL`` averaged over the batch, teacher detached, as
:func:`kdlab.distillation_loss`); each mistaken one differs from it by one line, the line people
get wrong in the issue trackers of the best-known distillation code:

=====================================  =============================================================
:func:`soft_loss_no_T2`                the ``* T**2`` is missing: gradients shrink like 1/T²
:func:`soft_loss_mean`                 ``reduction="mean"``: also divides by the number of classes C
:func:`soft_loss_sum`                  ``reduction="sum"``: grows with the batch size
:func:`soft_loss_probs_as_input`       the student's *probabilities* where log-probabilities belong
:func:`soft_loss_log_target_missing`   log-probabilities as the target without ``log_target=True``
:func:`soft_loss_not_detached`         the teacher's logits not detached: gradients reach it
=====================================  =============================================================

:func:`check_distillation` runs any such loss on random logits and says which of these mistakes
it finds, by comparing its gradient with the exact one, ``T (q − p) / N``. Two more mistakes
live outside the loss and are measured by notebook 07 with :func:`noisy_teacher_logits` (a
teacher left in training mode) and the ``permutation`` of :func:`distill_with` (cached logits
misaligned with a shuffled batch).
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kdlab.validate import check_finite, check_int, check_labels, check_positive, check_real

__all__ = [
    "MISTAKES",
    "DistillationReport",
    "Finding",
    "check_distillation",
    "distill_with",
    "distill_with_job",
    "gradient_balance",
    "gradient_ratio",
    "noisy_teacher_logits",
    "soft_gradient",
    "soft_loss",
    "soft_loss_log_target_missing",
    "soft_loss_mean",
    "soft_loss_no_T2",
    "soft_loss_not_detached",
    "soft_loss_probs_as_input",
    "soft_loss_sum",
    "train_with_shared_optimizer",
    "update_ratio",
]


# --- the correct soft loss and its one-line mistakes ---------------------------------------------


def soft_loss(student_logits, teacher_logits, T):
    """The soft term ``T² · KL(softmax(v/T) ‖ softmax(z/T))``, batch-averaged: the correct code.

    Examples
    --------
    >>> z, v = torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    >>> float(soft_loss(v, v, T=4.0))
    0.0

    See notebook 07.
    """
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean") * T**2


def soft_loss_no_T2(student_logits, teacher_logits, T):
    """Mistake: no ``* T**2``; the soft gradients shrink like 1/T² (see notebook 07).

    Examples
    --------
    >>> z, v = torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    >>> round(float(soft_loss(z, v, T=4.0) / soft_loss_no_T2(z, v, T=4.0)), 6)
    16.0
    """
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean")


def soft_loss_mean(student_logits, teacher_logits, T):
    """Mistake: ``reduction="mean"`` averages over N·C entries, 1/C of the batch mean (notebook 07).

    Examples
    --------
    >>> z, v = torch.zeros(2, 5), torch.eye(5)[:2]
    >>> round(float(soft_loss(z, v, T=2.0) / soft_loss_mean(z, v, T=2.0)), 6)
    5.0
    """
    with warnings.catch_warnings():  # torch warns about this very mistake; here it is deliberate
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                        F.softmax(teacher_logits.detach() / T, dim=1),
                        reduction="mean") * T**2


def soft_loss_sum(student_logits, teacher_logits, T):
    """Mistake: ``reduction="sum"``; the loss (and the step) grows with the batch size N.

    Examples
    --------
    >>> z, v = torch.zeros(4, 3), torch.eye(3)[[0, 1, 2, 0]]
    >>> round(float(soft_loss_sum(z, v, T=2.0) / soft_loss(z, v, T=2.0)), 6)
    4.0

    See notebook 07.
    """
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction="sum") * T**2


def soft_loss_probs_as_input(student_logits, teacher_logits, T):
    """Mistake: ``F.softmax`` where ``F.kl_div`` expects log-probabilities as its input.

    ``kl_div(input, target)`` computes ``Σ target·(log target − input)``; with probabilities
    ``q`` as the input, minimising it maximises ``Σ p·q``, which pushes the student towards
    the teacher's top class instead of its whole distribution.

    Examples
    --------
    >>> v = torch.tensor([[2.0, 1.0, 0.0]])
    >>> round(float(soft_loss_probs_as_input(v, v, T=1.0)), 4)  # not 0, although z = v
    -1.3429

    See notebook 07.
    """
    return F.kl_div(F.softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean") * T**2


def soft_loss_log_target_missing(student_logits, teacher_logits, T):
    """Mistake: log-probabilities as the target without ``log_target=True``: the loss is NaN.

    Examples
    --------
    >>> z, v = torch.zeros(2, 3), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])
    >>> bool(soft_loss_log_target_missing(z, v, T=2.0).isnan())
    True

    See notebook 07.
    """
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.log_softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean") * T**2


def soft_loss_not_detached(student_logits, teacher_logits, T):
    """Mistake: the teacher's logits are not detached; the loss's gradient also trains the teacher.

    The value and the student's gradient are those of :func:`soft_loss`; the difference is the
    gradient that flows back into the teacher (wasted work, and a teacher that drifts when its
    weights share the student's optimiser).

    Examples
    --------
    >>> z, v = torch.zeros(2, 3), torch.eye(3)[:2].requires_grad_()
    >>> soft_loss_not_detached(z, v, T=2.0).backward()
    >>> v.grad.abs().sum() > 0
    tensor(True)

    See notebook 07.
    """
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits / T, dim=1),
                    reduction="batchmean") * T**2


#: Each mistake: its loss function, the line that differs from :func:`soft_loss`, and the effect.
MISTAKES: dict[str, dict] = {
    "correct": dict(
        loss=soft_loss,
        line='F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), '
             'reduction="batchmean") * T**2',
        effect="the reference"),
    "no T²": dict(
        loss=soft_loss_no_T2,
        line='F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), '
             'reduction="batchmean")',
        effect="soft gradients 1/T² too small"),
    'reduction="mean"': dict(
        loss=soft_loss_mean,
        line='F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), '
             'reduction="mean") * T**2',
        effect="soft gradients 1/C too small"),
    'reduction="sum"': dict(
        loss=soft_loss_sum,
        line='F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1), '
             'reduction="sum") * T**2',
        effect="soft gradients N times too large"),
    "probabilities as input": dict(
        loss=soft_loss_probs_as_input,
        line='F.kl_div(F.softmax(z / T, 1), F.softmax(v.detach() / T, 1), '
             'reduction="batchmean") * T**2',
        effect="the gradient points elsewhere"),
    "log target, no log_target": dict(
        loss=soft_loss_log_target_missing,
        line='F.kl_div(F.log_softmax(z / T, 1), F.log_softmax(v.detach() / T, 1), '
             'reduction="batchmean") * T**2',
        effect="the loss is NaN"),
    "teacher not detached": dict(
        loss=soft_loss_not_detached,
        line='F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), '
             'reduction="batchmean") * T**2',
        effect="gradients reach the teacher"),
}


# --- measuring a loss's gradient ------------------------------------------------------------------


def _check_loss_fn(loss_fn, name: str = "loss_fn"):
    if not callable(loss_fn):
        raise TypeError(f"{name} must be a callable loss_fn(student_logits, teacher_logits, T), "
                        f"got {type(loss_fn).__name__}")
    return loss_fn


def _logits_pair(student_logits, teacher_logits):
    """Both as float64 tensors of one shape (N, C), checked."""
    out = []
    for name, value in [("student_logits", student_logits), ("teacher_logits", teacher_logits)]:
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a numpy array or a torch tensor, got "
                            f"{type(value).__name__}")
        t = torch.as_tensor(np.asarray(value) if isinstance(value, np.ndarray) else
                            value.detach().cpu(), dtype=torch.float64)
        if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 2:
            raise ValueError(f"{name} must have shape (N, C) with N >= 1 and C >= 2, got "
                             f"{tuple(t.shape)}")
        check_finite(t, name)
        out.append(t)
    if out[0].shape != out[1].shape:
        raise ValueError(f"teacher_logits: shape {tuple(out[1].shape)} does not match "
                         f"student_logits {tuple(out[0].shape)}")
    return out


def _grads(loss_fn, z, v, T):
    """Loss value and gradients w.r.t. the student's and the teacher's logits (float64)."""
    z = z.clone().requires_grad_(True)
    v = v.clone().requires_grad_(True)
    loss = loss_fn(z, v, T)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError(f"loss_fn must return a scalar torch tensor, got "
                        f"{type(loss).__name__}{tuple(getattr(loss, 'shape', ()))}")
    if not loss.requires_grad:
        raise ValueError("loss_fn returned a tensor with no gradient to the student's logits "
                         "(was the student's output detached, or computed under no_grad?)")
    loss = loss.reshape(())
    gz, gv = torch.autograd.grad(loss, [z, v], allow_unused=True)
    gz = torch.zeros_like(z) if gz is None else gz
    return float(loss.detach()), gz.detach(), None if gv is None else gv.detach()


def soft_gradient(loss_fn, student_logits, teacher_logits, T) -> np.ndarray:
    """The gradient of ``loss_fn(z, v, T)`` with respect to the student's logits ``z``, (N, C).

    Computed by autograd in float64. For :func:`soft_loss` it is ``T (q − p) / N``.

    Examples
    --------
    >>> z, v = np.zeros((1, 2)), np.array([[1.0, -1.0]])
    >>> soft_gradient(soft_loss, z, v, T=1.0).round(4)
    array([[-0.3808,  0.3808]])

    See notebook 07.
    """
    loss_fn = _check_loss_fn(loss_fn)
    z, v = _logits_pair(student_logits, teacher_logits)
    return _grads(loss_fn, z, v, check_positive(T, "T"))[1].numpy()


def gradient_ratio(loss_fn, student_logits, teacher_logits, T, reference=soft_loss) -> float:
    """``‖∇ loss_fn‖ / ‖∇ reference‖``: how much larger ``loss_fn``'s gradient is (notebook 07).

    Both gradients are taken with respect to the student's logits at the same point; 1 means
    the same size, ``1/T**2`` what a missing ``T**2`` gives, ``1/C`` a ``reduction="mean"``.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> z, v = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)
    >>> round(gradient_ratio(soft_loss_no_T2, z, v, T=4.0), 6)
    0.0625
    >>> round(gradient_ratio(soft_loss_mean, z, v, T=4.0), 6)
    0.1
    """
    loss_fn = _check_loss_fn(loss_fn)
    reference = _check_loss_fn(reference, "reference")
    z, v = _logits_pair(student_logits, teacher_logits)
    T = check_positive(T, "T")
    g = _grads(loss_fn, z, v, T)[1]
    g_ref = _grads(reference, z, v, T)[1]
    return float(g.norm() / g_ref.norm())


def gradient_balance(loss_fn, student_logits, teacher_logits, labels, T, alpha=0.9) -> float:
    """``‖α ∇soft‖ / ‖(1 − α) ∇hard‖``: the soft term's pull against the labels' (notebook 07).

    ``soft`` is ``loss_fn(z, v, T)``, ``hard`` the cross-entropy with ``labels`` at T = 1, both
    differentiated with respect to the student's logits ``z``. With the correct loss the
    balance stays of the same order as T changes; a missing ``T**2`` makes it fall like 1/T².

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> z, v = torch.randn(64, 10, generator=g), 3 * torch.randn(64, 10, generator=g)
    >>> y = v.argmax(1)
    >>> b = [gradient_balance(soft_loss_no_T2, z, v, y, T) for T in (2.0, 4.0)]
    >>> 3 < b[0] / b[1] < 5  # 1/T²: four times smaller at twice the temperature
    True
    """
    loss_fn = _check_loss_fn(loss_fn)
    z, v = _logits_pair(student_logits, teacher_logits)
    y = labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels
    y = torch.as_tensor(check_labels(y, z.shape[1], "labels"))
    if len(y) != len(z):
        raise ValueError(f"labels: expected {len(z)} labels, got {len(y)}")
    T, alpha = check_positive(T, "T"), check_real(alpha, "alpha", 0, 1)
    g_soft = _grads(loss_fn, z, v, T)[1]
    zz = z.clone().requires_grad_(True)
    (g_hard,) = torch.autograd.grad(F.cross_entropy(zz, y), [zz])
    hard = (1 - alpha) * float(g_hard.norm())
    return alpha * float(g_soft.norm()) / hard if hard > 0 else math.inf


# --- the checker ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One mistake that :func:`check_distillation` found: a short ``name`` and a sentence."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


@dataclass(frozen=True)
class DistillationReport:
    """What :func:`check_distillation` found; ``ok`` when nothing.

    Attributes
    ----------
    findings : list of Finding
        The mistakes found, most serious first.
    ratios : dict
        ``{(T, N, C): ‖g‖ / ‖g_exact‖}`` at every point tried (empty when the loss failed).
    cosine : float
        The smallest cosine between the loss's gradient and the exact one over those points
        (1: same direction; ``nan`` when the loss failed).
    """

    findings: list[Finding] = field(default_factory=list)
    ratios: dict = field(default_factory=dict)
    cosine: float = float("nan")

    @property
    def ok(self) -> bool:
        """True when no mistake was found."""
        return not self.findings

    @property
    def names(self) -> list[str]:
        """The names of the findings, in order."""
        return [f.name for f in self.findings]

    def __str__(self) -> str:
        if self.ok:
            return ("no mistake found: the gradient is T·(q − p)/N at every T, batch size and "
                    "number of classes tried, and no gradient reaches the teacher")
        return "\n".join(f"- {f}" for f in self.findings)


def _log_target_on_probabilities(student_logits, teacher_logits, T):
    """Probabilities as the target with ``log_target=True`` (read as log-probabilities)."""
    return F.kl_div(F.log_softmax(student_logits / T, dim=1),
                    F.softmax(teacher_logits.detach() / T, dim=1),
                    reduction="batchmean", log_target=True) * T**2


#: Mistakes that turn the gradient away from q - p, recognised by the direction they give.
_DIRECTION_MISTAKES = {
    "probabilities_as_input": (soft_loss_probs_as_input,
                               "the gradient is that of softmax probabilities passed where "
                               "F.kl_div expects log-probabilities as its input: use "
                               "F.log_softmax(z / T) for the student"),
    "log_target_on_probabilities": (_log_target_on_probabilities,
                                    "the gradient is that of probabilities passed as the target "
                                    "with log_target=True, which reads them as "
                                    "log-probabilities: drop log_target=True, or pass "
                                    "F.log_softmax(v / T) as the target"),
}


def _exact_grad(z, v, T):
    """The gradient of the correct soft loss, ``T (q − p) / N`` (Hinton et al., eq. 2, times T²)."""
    q, p = torch.softmax(z / T, 1), torch.softmax(v / T, 1)
    return T * (q - p) / len(z)


def _exponent(ratios: dict, axis: int, values) -> float:
    """The power ``e`` in ``ratio ∝ x**e`` along one axis of the grid (a least-squares slope)."""
    xs, ys = [], []
    for key, r in ratios.items():
        others = tuple(k for i, k in enumerate(key) if i != axis)
        base = [ratios[k] for k in ratios
                if tuple(x for i, x in enumerate(k) if i != axis) == others and k[axis] ==
                values[0]]
        if base and r > 0 and base[0] > 0:
            xs.append(math.log(key[axis] / values[0]))
            ys.append(math.log(r / base[0]))
    xs_arr, ys_arr = np.array(xs), np.array(ys)
    denom = float((xs_arr**2).sum())
    return float((xs_arr * ys_arr).sum() / denom) if denom > 0 else 0.0


def check_distillation(loss_fn, *, n_classes: int = 10, batch_size: int = 16,
                       temperatures=(1.0, 4.0, 16.0), seed: int = 0,
                       tol: float = 0.05) -> DistillationReport:
    """Run a soft distillation loss on random logits and report the mistakes it makes.

    ``loss_fn(student_logits, teacher_logits, T)`` must return the *soft* term as a scalar
    tensor (wrap your code in a small function or a ``lambda``; leave the hard-label term
    out). It is called at every temperature of ``temperatures``, at batch sizes
    ``batch_size`` and ``2 * batch_size`` and with ``n_classes`` and ``2 * n_classes``
    classes, on float64 logits; its gradient with respect to the student's logits is compared
    with the exact one, ``T (q − p) / N`` of ``T² · KL`` averaged over the batch. Found:

    - ``"error"``: the loss raised an exception;
    - ``"not_finite"``: the loss or its gradient is NaN or infinite (log-probabilities passed
      as the target without ``log_target=True``);
    - ``"teacher_not_detached"``: a gradient reaches the teacher's logits;
    - ``"probabilities_as_input"``: the gradient is that of softmax outputs passed where
      ``F.kl_div`` expects log-probabilities;
    - ``"log_target_on_probabilities"``: that of probabilities passed as the target with
      ``log_target=True``;
    - ``"wrong_direction"``: the gradient does not point along ``q − p`` for another reason;
    - ``"missing_T2"`` (or ``"temperature_scaling"`` for another power of T): the gradient's
      size changes with T;
    - ``"mean_reduction"``: the gradient shrinks like 1/C (``reduction="mean"``);
    - ``"sum_reduction"``: it grows with the batch size (``reduction="sum"``);
    - ``"constant_factor"``: it is a constant times the exact one (an ``alpha`` folded in?).

    Mistakes outside the loss (a teacher in training mode, cached logits misaligned with a
    shuffled batch) cannot be seen from here; notebook 07 measures them.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(student_logits, teacher_logits, T) -> scalar tensor``.
    n_classes, batch_size : int
        The smaller of the two sizes tried (at least 2 each).
    temperatures : sequence of float
        At least two distinct positive temperatures.
    seed : int
        Seeds the random logits.
    tol : float
        Relative tolerance on the gradient's size and direction.

    Returns
    -------
    DistillationReport

    Examples
    --------
    >>> check_distillation(soft_loss).ok
    True
    >>> print(check_distillation(soft_loss_no_T2))  # doctest: +ELLIPSIS
    - missing_T2: the gradient shrinks like 1/T^2...
    >>> check_distillation(soft_loss_mean).names
    ['mean_reduction']

    See notebook 07.
    """
    loss_fn = _check_loss_fn(loss_fn)
    n_classes = check_int(n_classes, "n_classes", lo=2)
    batch_size = check_int(batch_size, "batch_size", lo=2)
    seed = check_int(seed, "seed", lo=0)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    try:
        temps = sorted({check_positive(t, "temperatures") for t in temperatures})
    except TypeError:
        raise TypeError(f"temperatures must be a sequence of positive numbers, got "
                        f"{temperatures!r}") from None
    if len(temps) < 2:
        raise ValueError(f"temperatures must hold at least two distinct values, got "
                         f"{temperatures!r}")
    sizes, classes = [batch_size, 2 * batch_size], [n_classes, 2 * n_classes]
    gen = torch.Generator().manual_seed(seed)
    ratios: dict = {}
    cosines: list[float] = []
    teacher_grad = 0.0
    direction_cosines: dict[str, list[float]] = {name: [] for name in _DIRECTION_MISTAKES}
    for n in sizes:
        for c in classes:
            z = 3 * torch.randn(n, c, generator=gen, dtype=torch.float64)
            v = 3 * torch.randn(n, c, generator=gen, dtype=torch.float64)
            for T in temps:
                try:
                    loss, gz, gv = _grads(loss_fn, z, v, T)
                except Exception as exc:  # noqa: BLE001 - the report says what went wrong
                    return DistillationReport([Finding(
                        "error", f"loss_fn(student_logits, teacher_logits, T={T:g}) with "
                                 f"shape ({n}, {c}) raised {type(exc).__name__}: {exc}")])
                if not (math.isfinite(loss) and bool(torch.isfinite(gz).all())):
                    return DistillationReport([Finding(
                        "not_finite", f"the loss is {loss} at T={T:g}: were log-probabilities "
                        "passed to F.kl_div as its target without log_target=True? (the log "
                        "of a negative number is NaN)")])
                if gv is not None:
                    teacher_grad = max(teacher_grad, float(gv.abs().max()))
                exact = _exact_grad(z, v, T)
                ratios[(T, n, c)] = float(gz.norm() / exact.norm())
                cosines.append(float((gz * exact).sum() / (gz.norm() * exact.norm() + 1e-300)))
                for name, (fn, _) in _DIRECTION_MISTAKES.items():
                    g = _grads(fn, z, v, T)[1]
                    direction_cosines[name].append(float((gz * g).sum()
                                                         / (gz.norm() * g.norm() + 1e-300)))
    findings = []
    if teacher_grad > 0:
        findings.append(Finding(
            "teacher_not_detached", "a gradient reaches the teacher's logits (largest "
            f"{teacher_grad:.2g}): detach them (teacher_logits.detach(), or compute them "
            "under torch.no_grad()), or the teacher is trained along with the student"))
    cosine = min(cosines)
    if cosine < 1 - tol:
        known = [name for name, cos in direction_cosines.items() if min(cos) > 1 - tol]
        if known:
            findings.append(Finding(known[0], _DIRECTION_MISTAKES[known[0]][1]))
        else:
            findings.append(Finding(
                "wrong_direction", f"the gradient does not point along q − p (cosine "
                f"{cosine:.3f} with the exact gradient T·(q − p)/N): check which softmax "
                "gets T and which is the input of the KL"))
        return DistillationReport(findings, ratios, cosine)
    e_T = _exponent(ratios, 0, temps)
    e_N = _exponent(ratios, 1, sizes)
    e_C = _exponent(ratios, 2, classes)
    slack = math.log1p(tol) / math.log(2)  # the exponents are measured over a factor >= 2
    if abs(e_T + 2) < slack:
        findings.append(Finding(
            "missing_T2", "the gradient shrinks like 1/T^2 as T grows: multiply the soft term "
            "by T**2, or the soft targets lose their weight at high temperature"))
    elif abs(e_T) > slack:
        findings.append(Finding(
            "temperature_scaling", f"the gradient scales like T^{e_T:.2g} instead of staying "
            "the same size: the soft term should be multiplied by T**2 exactly once"))
    if abs(e_C + 1) < slack:
        findings.append(Finding(
            "mean_reduction", "the gradient shrinks like 1/C with the number of classes C: "
            "reduction='mean' averages over every element; use reduction='batchmean'"))
    elif abs(e_C) > slack:
        findings.append(Finding(
            "class_scaling", f"the gradient scales like C^{e_C:.2g} with the number of "
            "classes C; the KL should be summed over classes"))
    if abs(e_N - 1) < slack:
        findings.append(Finding(
            "sum_reduction", "the gradient grows with the batch size: reduction='sum' adds up "
            "the examples; use reduction='batchmean' so the step does not depend on it"))
    elif abs(e_N) > slack:
        findings.append(Finding(
            "batch_scaling", f"the gradient scales like N^{e_N:.2g} with the batch size N; it "
            "should be averaged over the batch"))
    if not findings or findings == [f for f in findings if f.name == "teacher_not_detached"]:
        # no scaling with T, N or C: is it the exact size?
        k = float(np.median(list(ratios.values())))
        if abs(k - 1) > tol:
            findings.append(Finding(
                "constant_factor", f"the gradient is {k:.3g} times the exact one at every T, "
                "N and C (a weight alpha folded in? then it is fine)"))
    return DistillationReport(findings, ratios, cosine)


# --- optimisers and loss scale -----------------------------------------------------------------


def update_ratio(model: nn.Module, X, loss_fn, scale, *, optimizer: str = "adam",
                 lr: float = 1e-3, steps: int = 3, batch_size: int = 64, seed: int = 0) -> float:
    """``‖Δθ(scale · loss)‖ / ‖Δθ(loss)‖`` after ``steps`` optimiser steps from the same start.

    ``loss_fn(model_output, idx)`` is the loss of one batch (``idx``: its rows of ``X``). Adam
    divides each gradient by a running estimate of its own size, so multiplying the whole loss
    by a constant leaves its updates unchanged (ratio ≈ 1); plain SGD's updates scale with it
    (ratio = ``scale``). The model is not changed (a copy is trained).

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> X, y = torch.randn(64, 5, generator=torch.Generator().manual_seed(0)), torch.arange(64) % 3
    >>> def loss(out, idx):
    ...     return F.cross_entropy(out, y[idx])
    >>> net = MLP(5, (8,), 3, seed=0)
    >>> round(update_ratio(net, X, loss, 0.01, optimizer="adam"), 2)
    1.0
    >>> round(update_ratio(net, X, loss, 0.01, optimizer="sgd", steps=1), 3)
    0.01

    See notebook 07.
    """
    import copy

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(output, idx), got "
                        f"{type(loss_fn).__name__}")
    scale = check_positive(scale, "scale")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    steps = check_int(steps, "steps", lo=1)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    Xt = torch.as_tensor(np.asarray(X) if isinstance(X, np.ndarray) else X, dtype=torch.float32)
    check_finite(Xt, "X")
    start = [p.detach().clone() for p in model.parameters()]
    deltas = []
    for s in (1.0, float(scale)):
        net = copy.deepcopy(model).train()
        opt = (torch.optim.Adam(net.parameters(), lr=lr) if optimizer == "adam"
               else torch.optim.SGD(net.parameters(), lr=lr))
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randperm(len(Xt), generator=gen)[:batch_size]
            opt.zero_grad(set_to_none=True)
            (s * loss_fn(net(Xt[idx]), idx)).backward()
            opt.step()
        deltas.append(torch.cat([(p.detach() - p0).flatten()
                                 for p, p0 in zip(net.parameters(), start, strict=True)]))
    base = float(deltas[0].norm())
    if base == 0:
        raise ValueError("loss_fn: the unscaled loss does not move the weights (zero gradient)")
    return float(deltas[1].norm()) / base


# --- mistakes outside the loss: the teacher's mode, misaligned cached logits ----------------------


@torch.no_grad()
def noisy_teacher_logits(teacher: nn.Module, X, seed: int = 0,
                         batch_size: int = 4096) -> np.ndarray:
    """The teacher's logits over ``X`` computed in *training* mode: the mistake of a missing eval().

    Dropout stays on, so each row is the output of one random thinned network instead of the
    whole teacher: precomputed once, that noise is frozen into the soft targets. The teacher's
    mode and torch's global random stream are left as they were. Compare
    :func:`kdlab.teacher_logits` (eval mode).

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> net = MLP(4, (16,), 3, dropout=0.5, seed=0)
    >>> X = np.ones((2, 4), np.float32)
    >>> z = noisy_teacher_logits(net, X)
    >>> bool(np.allclose(z[0], z[1]))  # same input, different dropout masks
    False

    See notebook 07.
    """
    if not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module, got {type(teacher).__name__}")
    seed = check_int(seed, "seed", lo=0)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    p = next(teacher.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    Xt = torch.as_tensor(np.asarray(X) if isinstance(X, np.ndarray) else X.detach().cpu(),
                         dtype=torch.float32)
    check_finite(Xt, "X")
    was_training = teacher.training
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            teacher.train()
            out = [teacher(Xt[i:i + batch_size].to(device)).float().cpu()
                   for i in range(0, len(Xt), batch_size)]
    finally:
        teacher.train(was_training)
    return torch.cat(out).numpy()


def _targets(logits: torch.Tensor, labels: torch.Tensor | None, permutation, xb, idx):
    """A batch's cached teacher logits, read at ``permutation[idx]`` (the mistake) or ``idx``."""
    rows = idx if permutation is None else permutation[idx]
    return logits[rows], None if labels is None else labels[idx]


def _loss(student_logits, target, soft, T, alpha):
    """``alpha · soft(z, v, T) + (1 − alpha) · CE(z, y)`` for one batch (``soft`` alone: no y)."""
    teacher, labels = target
    s = soft(student_logits, teacher, T)
    if labels is None:
        return s
    return alpha * s + (1 - alpha) * F.cross_entropy(student_logits, labels)


def _distill_parts(X, logits, y, soft, T, alpha, permutation, device):
    """The ``targets`` and ``loss_fn`` of :func:`fit` for :func:`distill_with`, checked once."""
    from kdlab.train import get_device

    if not callable(soft):
        raise TypeError(f"soft must be a soft loss soft(z, v, T) such as soft_loss, got "
                        f"{type(soft).__name__}")
    T, alpha = check_positive(T, "T"), check_real(alpha, "alpha", 0, 1)
    if not isinstance(X, (np.ndarray, torch.Tensor)):
        raise TypeError(f"X must be a numpy array or a torch tensor, got {type(X).__name__}")
    n = len(X)
    device = get_device(device)
    logits_t = torch.as_tensor(np.asarray(logits.detach().cpu() if isinstance(
        logits, torch.Tensor) else logits), dtype=torch.float32)
    if logits_t.ndim != 2 or len(logits_t) != n:
        raise ValueError(f"logits: expected shape ({n}, C) aligned with X, got "
                         f"{tuple(logits_t.shape)}")
    check_finite(logits_t, "logits")
    labels = None
    if y is not None:
        y = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y
        labels = torch.as_tensor(np.array(check_labels(y, logits_t.shape[1], "y")))
        if len(labels) != n:
            raise ValueError(f"y: expected {n} labels, got {len(labels)}")
        labels = labels.to(device)
    perm = None
    if permutation is not None:
        perm_np = np.asarray(permutation)
        if perm_np.shape != (n,) or not np.array_equal(np.sort(perm_np), np.arange(n)):
            raise ValueError(f"permutation must be a permutation of range({n}) (one row "
                             f"number per example), got shape {perm_np.shape}")
        perm = torch.as_tensor(perm_np, dtype=torch.long, device=device)
    targets = functools.partial(_targets, logits_t.to(device), labels, perm)
    loss_fn = functools.partial(_loss, soft=soft, T=T, alpha=alpha)
    return targets, loss_fn


def distill_with(student: nn.Module, X, logits, y=None, *, soft=soft_loss, T: float = 4.0,
                 alpha: float = 0.9, permutation=None, name: str = "student",
                 **fit_kwargs) -> nn.Module:
    """Distil ``student`` from cached teacher ``logits`` with the soft loss ``soft`` (notebook 07).

    The same recipe as :func:`kdlab.distill_student` with cached logits, except that the soft
    term is any module-level ``soft(z, v, T)`` of this module (the correct one or a mistake) and
    that ``permutation`` (an array of N row numbers) reads the logits of row
    ``permutation[i]`` for example ``i``: logits precomputed in one shuffled order and read
    back by the example's index — the misaligned-logits mistake. The trained student is
    cached by :func:`kdlab.fit_cached`; :func:`distill_with_job` describes the same training
    for :func:`kdlab.train.fit_cached_many`.

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    >>> v = np.random.default_rng(1).normal(size=(32, 3)).astype(np.float32)
    >>> net = distill_with(MLP(4, (8,), 3, seed=0), X, v, soft=soft_loss_no_T2, epochs=1,
    ...                    progress=False, verbose=False)
    >>> net(torch.as_tensor(X)).shape
    torch.Size([32, 3])
    """
    from kdlab.train import fit_cached

    targets, loss_fn = _distill_parts(X, logits, y, soft, T, alpha, permutation,
                                      fit_kwargs.get("device"))
    return fit_cached(student, X, targets, loss_fn=loss_fn, name=name, **fit_kwargs)


def distill_with_job(student: nn.Module, X, logits, y=None, *, soft=soft_loss, T: float = 4.0,
                     alpha: float = 0.9, permutation=None, name: str = "student",
                     **fit_kwargs) -> dict:
    """:func:`distill_with` as a job of :func:`kdlab.train.fit_cached_many` (notebook 07).

    Keyed exactly as ``distill_with`` keys it, so that many students (seeds, mistakes) are
    trained together as one batched model and each is still found by ``distill_with``. Pass
    ``verbose`` to ``fit_cached_many``, not here.

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> X, v = np.zeros((8, 4), np.float32), np.zeros((8, 3), np.float32)
    >>> sorted(distill_with_job(MLP(4, (5,), 3), X, v, T=2.0, epochs=1))
    ['epochs', 'loss_fn', 'model', 'name', 'targets']
    """
    targets, loss_fn = _distill_parts(X, logits, y, soft, T, alpha, permutation,
                                      fit_kwargs.get("device"))
    return dict(model=student, targets=targets, loss_fn=loss_fn, name=name, **fit_kwargs)

def train_with_shared_optimizer(student: nn.Module, teacher: nn.Module, X, *, soft=soft_loss,
                                T: float = 4.0, steps: int = 50, lr: float = 1e-3,
                                batch_size: int = 128, seed: int = 0):
    """Distil copies of ``student`` and ``teacher`` with one Adam over *both* their weights.

    The pattern behind the undetached-teacher mistake: the teacher runs inside the training
    step with gradients on (no ``torch.no_grad()``), and its parameters sit in the optimiser
    (e.g. ``Adam(model.parameters())`` of a wrapper holding both). With :func:`soft_loss`
    (teacher detached) no gradient reaches the teacher and it is left exactly as it was; with
    :func:`soft_loss_not_detached` every step also moves the teacher towards the student. The
    teacher stays in eval mode (no dropout). Returns the trained copies ``(student, teacher)``;
    the originals are not changed.

    Examples
    --------
    >>> from kdlab.models import MLP
    >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    >>> s, t = MLP(4, (8,), 3, seed=0), MLP(4, (16,), 3, seed=1)
    >>> _, t_ok = train_with_shared_optimizer(s, t, X, steps=5)
    >>> _, t_bad = train_with_shared_optimizer(s, t, X, soft=soft_loss_not_detached, steps=5)
    >>> bool(torch.equal(t_ok.head.weight, t.head.weight))
    True
    >>> bool(torch.equal(t_bad.head.weight, t.head.weight))
    False

    See notebook 07.
    """
    import copy

    for name, value in [("student", student), ("teacher", teacher)]:
        if not isinstance(value, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    if not callable(soft):
        raise TypeError(f"soft must be a soft loss soft(z, v, T) such as soft_loss, got "
                        f"{type(soft).__name__}")
    T = check_positive(T, "T")
    steps = check_int(steps, "steps", lo=1)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    seed = check_int(seed, "seed", lo=0)
    Xt = torch.as_tensor(np.asarray(X) if isinstance(X, np.ndarray) else X.detach().cpu(),
                         dtype=torch.float32)
    check_finite(Xt, "X")
    s, t = copy.deepcopy(student).train(), copy.deepcopy(teacher).eval()
    opt = torch.optim.Adam([*s.parameters(), *t.parameters()], lr=lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            idx = torch.randint(len(Xt), (batch_size,), generator=gen)
            xb = Xt[idx]
            loss = soft(s(xb), t(xb), T)  # the teacher's forward pass records its graph
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return s.eval(), t.eval()
