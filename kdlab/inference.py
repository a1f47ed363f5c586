"""Combining a generalist with its dustbin specialists by KL inference (section 5.4, notebook 05).

For each example the generalist gives ``p_g`` over all C classes, and every specialist ``m`` gives
``p_m`` over its subset ``S_m`` of confusable classes plus one *dustbin* class that stands for
all the others. The paper looks up the generalist's ``n`` most probable classes, calls the
specialists whose subset meets them *active*, and takes as the combined prediction the
distribution ``q`` over all C classes that minimises

    KL(p_g ‖ q) + Σ_{m active} KL(p_m ‖ q^m),

where ``q^m`` is ``q`` folded onto specialist ``m``'s classes: ``q`` on ``S_m``, then everything
that ``q`` puts on the other classes summed into the dustbin (:func:`dustbin_fold`).

The problem is maximum likelihood for a categorical distribution from grouped observations:
up to constants the objective is ``−Σ_c a_c log q_c − Σ_m w_m log Σ_{c ∉ S_m} q_c``, with
``a = p_g + Σ_m p_m`` (each specialist's probabilities added on its own classes) and ``w_m`` the
mass of ``m``'s dustbin. It is convex in ``q``, and strictly so where ``p_g > 0`` (as a softmax
always is): then the optimum is unique and every class gets some probability. Two solvers,
which agree to about ``tol``:

- ``method="em"``, the exact fixed-point iteration of EM: share each dustbin's mass among the
  classes outside ``S_m`` in proportion to the current ``q``, add everything up, normalise::

      q_new(c) ∝ p_g(c) + Σ_{m active} [ p_m(c)                         if c ∈ S_m,
                                         p_m(dustbin) q(c) / Σ_{c' ∉ S_m} q(c')  else ]

  Every step lowers the objective, keeps ``q`` a probability vector and costs a few array
  operations over all examples at once. With one active specialist a single step is exact.
  Convergence is linear, and slow when some classes get almost all their probability from
  other specialists' dustbins and almost none from their own evidence ``a``: then EM hardly
  knows how to share it (a large fraction of missing information).
- ``method="gradient"``, as the paper does it: ``q = softmax(z)``, minimised over the logits
  ``z``. The gradient is ``λ (q − EM(q))`` with ``λ = 1 + #active``: a fixed point of EM is
  exactly a stationary point. Plain gradient descent crawls where ``q`` is small, so each step is
  a Newton step (its Hessian made positive definite away from the optimum) with a backtracking
  line search, batched over examples: quadratic convergence in a handful of steps, at the cost
  of a C×C linear solve per example and step. The robust choice when specialists disagree.

Both start from the same point: every opinion averaged, each dustbin shared over its classes in
proportion to their own evidence ``a`` (a 1e-9 part of it evenly, so that no class a dustbin
could fill starts at zero), then the mass of each *cell* (the classes that every active dustbin
treats alike) shared in proportion to ``a``, which is exactly how the optimum shares it. EM stops
an example when its step ``δ = max |Δq|`` and Aitken's estimate of the distance left,
``δ ρ / (1 − ρ)`` with ``ρ`` the ratio of the last two steps, are below ``tol``; the gradient
method when its Newton step and an EM step would both move ``q`` by less than ``tol``. Examples
that stop leave the batch; any left at ``max_iter`` give a ``ConvergenceWarning``.

Edge cases:

- An example with no active specialist gets ``q = p_g`` exactly (returned unchanged, as float64).
- ``0 · log 0 = 0`` throughout. A class that the generalist gives 0 and no active specialist
  covers with positive probability ends with ``q = 0``, unless a dustbin needs somewhere to put
  its mass: with ``p_g = (1, 0)`` and a specialist on class 0 saying ``(0.5, dustbin 0.5)``,
  ``q = (0.75, 0.25)``.
- If several classes in one specialist's dustbin get zero probability from every source, only
  their sum is fixed: ``q`` is not unique there and the two methods may split the sum
  differently. Never the case when ``p_g > 0``.
- A class with next to no evidence of its own (``a`` below about 1e-12 of the total) that
  receives dustbin mass shares it with its cell as ``a`` says; the objective hardly depends on
  that split. EM, which starts from it, keeps it exactly; the gradient method, which only sees
  the objective, gets it to about 1e-7.
- Rows must sum to 1 within 1e-4 and are used as given, as weights: ``q`` sums to 1 where a
  specialist was consulted and is ``p_g`` as given elsewhere.
- Ties among the generalist's top classes go to the lower class id.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.special import logsumexp, rel_entr
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from kdlab.validate import check_int, check_labels, check_real, check_subset, to_numpy

__all__ = ["METHODS", "accuracy_by_covering", "active_specialists", "covering_counts",
           "dustbin_fold", "expand_specialist", "kl_inference", "kl_objective",
           "stratum_name"]

#: The solvers of :func:`kl_inference`.
METHODS = ("em", "gradient")

_SUM_TOL = 1e-4  # how far a row of probabilities may sum from 1
_MAX_ITER = {"em": 10_000, "gradient": 1_000}
_CHUNK = 2**21  # Newton matrix entries held at a time (16 MiB of float64)
_EPS = 4 * np.finfo(np.float64).eps  # a step (or gradient / λ) this small is rounding
_FLOOR = 1e-9  # the weight of the even start in the solvers' starting point
_TINY = 1e-150  # Newton matrix: smaller factors are rounded to 0, the diagonal floored
_COND = 1e-14  # ... and floored at this fraction of its column's squared norm


# --- input checks ---------------------------------------------------------------------------


def _array(x, name: str, what: str) -> np.ndarray:
    """``np.asarray(x)``, or a ValueError saying ``name`` must be an array of ``what``."""
    if x is None or isinstance(x, str | bytes):
        raise ValueError(f"{name} must be an array of {what}, got {type(x).__name__}")
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of {what}: {err}") from None


def _numbers(x, name: str) -> np.ndarray:
    """``x`` (array-like or tensor, possibly on a GPU) as a new float64 numpy array."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise ValueError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        return x.detach().to("cpu", torch.float64, copy=True).numpy()
    arr = _array(x, name, "numbers")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) \
            or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(np.float64)


def _probabilities(x, name: str, n_rows: int | None = None, n_cols: int | None = None,
                   cols_what: str = "") -> np.ndarray:
    """Rows of probabilities: 2-d, finite, non-negative, each summing to 1 within 1e-4."""
    p = _numbers(x, name)
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"{name} must be 2-d (examples × classes) with at least one class, "
                         f"got shape {p.shape}")
    if n_rows is not None and p.shape[0] != n_rows:
        raise ValueError(f"{name} has {p.shape[0]} rows (examples) but p_general has {n_rows}")
    if n_cols is not None and p.shape[1] != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns{cols_what}, got {p.shape[1]}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} must be finite, got NaN or infinity")
    if (p < 0).any():
        raise ValueError(f"{name} must be non-negative probabilities, found {p.min():.3g}")
    if p.size:
        err = np.abs(p.sum(1) - 1)
        if err.max() > _SUM_TOL:
            i = int(err.argmax())
            raise ValueError(f"{name}: every row must sum to 1 (within {_SUM_TOL:g}); row {i} "
                             f"sums to {p[i].sum():.6g}")
    return p


def _specialists(specialists, n_classes: int, n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Checked ``(subset, probs)`` pairs, ``probs`` float64 of shape ``(n_rows, k + 1)``."""
    if not isinstance(specialists, list | tuple):
        raise ValueError(f"specialists must be a list of (subset, probs) pairs, got "
                         f"{type(specialists).__name__}")
    checked = []
    for i, pair in enumerate(specialists):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"specialists[{i}] must be a (subset, probs) pair, got "
                             f"{type(pair).__name__}")
        subset = check_subset(pair[0], n_classes, f"specialists[{i}] subset")
        k = len(subset)
        probs = _probabilities(pair[1], f"specialists[{i}] probs", n_rows, k + 1,
                               f" (its {k} classes, then the dustbin)")
        checked.append((subset, probs))
    return checked


def _active_mask(active, n_rows: int, n_specialists: int) -> np.ndarray:
    if isinstance(active, torch.Tensor):
        active = active.detach().cpu().numpy()
    try:
        mask = np.asarray(active)
    except (TypeError, ValueError) as err:
        raise ValueError(f"active must be a boolean array: {err}") from None
    if mask.shape != (n_rows, n_specialists):
        raise ValueError(f"active must have shape (examples, specialists) = ({n_rows}, "
                         f"{n_specialists}), got {mask.shape}")
    if mask.dtype != np.bool_:
        if not np.issubdtype(mask.dtype, np.number) or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"active must be boolean (or 0/1), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    return mask


# --- the pieces of the objective --------------------------------------------------------------


def _outside(subsets, n_classes: int) -> np.ndarray:
    """``(M, C)`` float 0/1 matrix: 1 where class ``c`` lies outside subset ``m`` (its dustbin)."""
    out = np.ones((len(subsets), n_classes))
    for m, s in enumerate(subsets):
        out[m, s] = 0.0
    return out


def _fold(q: np.ndarray, subset: np.ndarray) -> np.ndarray:
    outside = np.ones(q.shape[-1], dtype=bool)
    outside[subset] = False
    return np.concatenate([q[..., subset], q[..., outside].sum(-1, keepdims=True)], axis=-1)


def _active(p: np.ndarray, specs, n_top: int) -> np.ndarray:
    n, n_classes = p.shape
    if not specs or n == 0:
        return np.zeros((n, len(specs)), dtype=bool)
    top = np.zeros((n, n_classes))
    order = np.argsort(-p, axis=1, kind="stable")[:, :n_top]  # ties: lower class id first
    np.put_along_axis(top, order, 1.0, axis=1)
    inside = 1.0 - _outside([s for s, _ in specs], n_classes)
    return top @ inside.T > 0


def _weights(p: np.ndarray, specs, active: np.ndarray):
    """``a`` (n, C): p_g plus every active specialist's own classes; ``w`` (n, M): dustbins."""
    a = p.copy()
    w = np.zeros((len(p), len(specs)))
    for m, (subset, probs) in enumerate(specs):
        on = active[:, m]
        a[:, subset] += probs[:, :-1] * on[:, None]
        w[:, m] = probs[:, -1] * on
    return a, w


def _cells(w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A global id per row and class for its *cell*: the classes of a row that every non-empty
    active dustbin treats alike (all inside it or all outside). Exact: the pattern of dustbins
    is packed into bits, 64 specialists to a word, and sorted.
    """
    n, n_classes = w.shape[0], out.shape[1]
    words = []
    for first_m in range(0, max(out.shape[0], 1), 64):
        code = np.zeros((n, n_classes), dtype=np.uint64)
        for m in range(first_m, min(first_m + 64, out.shape[0])):
            code |= np.where((w[:, m:m + 1] > 0) & (out[m] > 0), np.uint64(1 << (m - first_m)),
                             np.uint64(0))
        words.append(code.ravel())
    keys = np.stack([*words, np.repeat(np.arange(n, dtype=np.uint64), n_classes)])
    order = np.lexsort(keys)  # by row, then by pattern
    ordered = keys[:, order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (ordered[:, 1:] != ordered[:, :-1]).any(0)
    cell = np.empty(order.size, dtype=np.intp)
    cell[order] = np.cumsum(first) - 1
    return cell.reshape(n, n_classes)


def _start(a: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Where both solvers start.

    Every opinion averaged, each dustbin shared over its classes in proportion to their own
    evidence ``a`` (one EM step from ``a``), mixed with a fraction ``_FLOOR`` of the average that
    shares each dustbin evenly, so that no class starts far below what a dustbin could give it.
    Then, within each cell (:func:`_cells`), the mass is shared in proportion to ``a``, which is
    exactly how the optimum shares it: those classes get the same dustbin shares, so
    ``q_c = a_c / (λ − s)`` (0 where ``a_c = 0``). A cell with no evidence of its own
    (``a = 0``) keeps its even shares.
    """
    held = a @ out.T  # the evidence inside each dustbin
    some = held > _TINY
    even = (w / out.sum(1)) @ out
    spread = a * (np.divide(w, held, out=np.zeros_like(w), where=some) @ out)
    spread += (np.where(some, 0.0, w) / out.sum(1)) @ out  # nothing to go by: evenly
    q = (1 - _FLOOR) * (a + spread) + _FLOOR * (a + even)
    q /= q.sum(1, keepdims=True)
    cell = _cells(w, out).ravel()
    q_cell = np.bincount(cell, weights=q.ravel())[cell]
    a_cell = np.bincount(cell, weights=a.ravel())[cell]
    shared = np.divide(a.ravel() * q_cell, a_cell, out=q.ravel().copy(), where=a_cell > 0)
    return shared.reshape(q.shape)


def _ratio(w: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """``w / rest`` where ``w > 0``, else 0 (an empty dustbin asks nothing of its classes)."""
    return np.divide(w, rest, out=np.zeros_like(w), where=w > 0)


# --- the two solvers --------------------------------------------------------------------------


def _em_step(q, a, w, out):
    """One EM step: each dustbin's mass shared out in proportion to ``q``, then normalised."""
    num = a + q * (_ratio(w, q @ out.T) @ out)
    return num / num.sum(1, keepdims=True)


def _em(q, a, w, out, tol, max_iter):
    """Iterate :func:`_em_step` until converged; converged rows leave the batch.

    A row has converged when its step ``δ = max |Δq|`` is below ``tol``, shrinking, and so is
    the distance to the fixed point that the linear rate ``ρ = δ / δ_previous < 1`` implies,
    ``δ ρ / (1 − ρ)`` (Aitken's estimate), unless ``δ`` is down to rounding errors.
    """
    result = q.copy()
    n_iter = np.full(len(q), max_iter)
    converged = np.zeros(len(q), dtype=bool)
    rows = np.arange(len(q))
    before = np.full(len(q), np.inf)
    for it in range(1, max_iter + 1):
        new = _em_step(q, a, w, out)
        delta = np.abs(new - q).max(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = delta / before
            left = np.where(rate < 1, delta * rate / (1 - rate), np.inf)
        done = (delta < tol) & (rate < 1) & ((left < tol) | (delta <= _EPS))
        if done.any():
            result[rows[done]] = new[done]
            n_iter[rows[done]] = it
            converged[rows[done]] = True
            keep = ~done
            rows, new, a, w, delta = rows[keep], new[keep], a[keep], w[keep], delta[keep]
        q, before = new, delta
        if rows.size == 0:
            break
    result[rows] = q
    return result, n_iter, converged


def _cross_entropy(z, a, w, out):
    """The objective less its constant, ``−Σ a log q − Σ w log(rest)``, at logits ``z``."""
    log_q = z - logsumexp(z, axis=1, keepdims=True)
    q = np.exp(log_q)
    rest = q @ out.T
    with np.errstate(divide="ignore", invalid="ignore"):
        f = -np.where(a > 0, a * log_q, 0.0).sum(1) - np.where(w > 0, w * np.log(rest), 0.0).sum(1)
    return f, q, rest


def _newton_direction(q, a, w, rest, out, g):
    """Solve ``H d = −g`` for the Newton step in the logits, ``H`` made positive definite.

    The Hessian in the logits ``z`` is ``G + diag(g) − q gᵀ − g qᵀ``. ``G`` is the Hessian in
    ``q``, ``H_q = diag(a / q²) + Σ_m (w_m / rest_m²) o_m o_mᵀ`` (``o_m`` the indicator of ``m``'s
    dustbin), pulled back through the softmax's Jacobian ``J = diag(q) − q qᵀ``:
    ``G = J H_q J = diag(a) − a qᵀ − q aᵀ + A q qᵀ + Σ_m (w_m / rest_m²) v_m v_mᵀ`` with
    ``v_m = J o_m`` and ``A = Σ a``: positive semi-definite and free of ``1/q``. The other terms
    vanish with the gradient but may be indefinite; ``diag(max(g, 0))`` keeps their positive part
    (the curvature of ``e^z`` where ``q`` is too large), so ``H`` is the Hessian at the optimum:
    quadratic convergence. ``G``'s null direction (one constant added to every logit) goes by
    adding ``a aᵀ / A``, which makes ``G + a aᵀ / A = diag(a) + u uᵀ / A + Σ_m (…) v_m v_mᵀ``
    with ``u = a − A q``. So ``H = D + UᵀU`` with ``D`` diagonal and ``U`` of rank ``M + 1``; it
    is solved as ``D^½ (I + Ũᵀ Ũ) D^½`` with ``Ũ = U D^-½``, whose eigenvalues are at least 1,
    so that classes with very little evidence are still resolved. Where ``D`` vanishes (no
    evidence, too little probability) it is floored just enough to keep that system invertible.
    """
    big_a = a.sum(1, keepdims=True)
    v = q[:, None, :] * (out[None] - rest[:, :, None])  # (n, M, C)
    coef = np.divide(w, rest * rest, out=np.zeros_like(w), where=w > 0)
    U = np.concatenate([((a - big_a * q) / np.sqrt(big_a))[:, None, :],
                        v * np.sqrt(coef)[:, :, None]], axis=1)
    U[np.abs(U) < _TINY] = 0.0  # keeps subnormal numbers (100× slower) out of the product...
    # D, floored so that Ũ = U D^-½ stays below 1 / √_COND: I + ŨᵀŨ is then safely invertible
    diag = np.maximum(a + np.maximum(g, 0), _COND * (U * U).sum(1))
    diag = np.maximum(diag, _TINY * (big_a + w.sum(1, keepdims=True)))
    scale = 1 / np.sqrt(diag)
    U *= scale[:, None, :]
    H = U.transpose(0, 2, 1) @ U
    # ...and out of the elimination: the diagonal is at least 1, so this is below rounding for
    # every class that matters, and leaves a class with next to no probability a diagonal step
    H[np.abs(H) < 1e-20] = 0.0
    idx = np.arange(q.shape[1])
    H[:, idx, idx] += 1.0
    rhs = -(g * scale)[:, :, None]
    try:
        x = np.linalg.solve(H, rhs)
    except np.linalg.LinAlgError:  # numerically singular somewhere: least squares instead
        x = np.linalg.pinv(H, hermitian=True) @ rhs
    return x[:, :, 0] * scale


def _newton(q, a, w, out, tol, max_iter):
    """Minimise over the logits by Newton steps with an Armijo backtracking line search.

    A row has converged when the Newton step would move ``q`` by less than ``tol`` (to first
    order: ``J d``), Newton's own estimate of the distance to the optimum, and an EM step
    would too (``|g| / λ = |q − EM(q)| < tol``), or when the gradient is rounding error.
    """
    result = q.copy()
    n_iter = np.full(len(q), max_iter)
    converged = np.zeros(len(q), dtype=bool)
    rows = np.arange(len(q))
    lam = a.sum(1) + w.sum(1)
    with np.errstate(divide="ignore"):
        z = np.log(q)  # −inf only where the optimum is 0 too: no source gives the class mass
    f, q, rest = _cross_entropy(z, a, w, out)
    for it in range(max_iter + 1):
        g = lam[:, None] * q - a - q * (_ratio(w, rest) @ out)  # = λ (q − EM(q))
        d = _newton_direction(q, a, w, rest, out, g)
        move = q * (d - (q * d).sum(1, keepdims=True))  # J d: the step's first-order move of q
        # the Newton step's size alone misleads where q is far too small (a flat logit);
        # there EM(q) ≥ a / λ is not, so ask for both; a gradient down to rounding errors
        # ends it too (an ill-conditioned step can then be noise above tol)
        residual = np.abs(g).max(1) / lam
        done = ((np.abs(move).max(1) < tol) & (residual < tol)) | (residual <= _EPS)
        last = it == max_iter
        # a row whose line search finds no decrease cannot improve: it leaves, unconverged
        stalled = np.zeros(len(rows), dtype=bool)
        if not last:
            z, f, q, rest, stalled = _line_search(z, f, q, rest, d, g, a, w, out, ~done)
        leave = done | stalled | last  # the rows that leave have kept their q
        result[rows[leave]] = q[leave]
        n_iter[rows[leave]] = it
        converged[rows[done]] = True
        if last or leave.all():
            break
        keep = ~leave
        rows, z, f, q, rest = rows[keep], z[keep], f[keep], q[keep], rest[keep]
        a, w, lam = a[keep], w[keep], lam[keep]
    return result, n_iter, converged


def _line_search(z, f, q, rest, d, g, a, w, out, todo, max_halvings=60):
    """Halve the step of each row in ``todo`` until the objective drops (Armijo, c = 1e-4).

    Rounding makes the objective noisy at about 1e-16 of its size, so a rise below 1e-13 of it
    counts as no rise: near the optimum the full Newton step is taken.
    """
    slope = (g * d).sum(1)
    t = np.ones(len(z))
    allow = 1e-13 * (1 + np.abs(f))
    z_new, f_new, q_new, rest_new = z.copy(), f.copy(), q.copy(), rest.copy()
    bad = todo.copy()
    for _ in range(max_halvings):
        idx = np.flatnonzero(bad)
        if idx.size == 0:
            break
        zi = z[idx] + t[idx, None] * d[idx]
        fi, qi, ri = _cross_entropy(zi, a[idx], w[idx], out)
        ok = fi <= f[idx] + 1e-4 * t[idx] * slope[idx] + allow[idx]  # False for NaN
        good = idx[ok]
        z_new[good], f_new[good], q_new[good], rest_new[good] = zi[ok], fi[ok], qi[ok], ri[ok]
        bad[good] = False
        t[bad] *= 0.5
    z_new -= z_new.max(1, keepdims=True)  # logits are defined up to a constant: keep them small
    return z_new, f_new, q_new, rest_new, bad


# --- public functions -------------------------------------------------------------------------


def dustbin_fold(q, subset) -> np.ndarray:
    """``q`` as a specialist sees it: ``q`` on ``subset``, then the rest summed into a dustbin.

    Parameters
    ----------
    q : array-like or torch.Tensor of shape (n_classes,) or (n_examples, n_classes)
        Distributions (or any non-negative numbers) over all classes.
    subset : array-like of int, shape (k,)
        The specialist's classes, distinct, ``1 <= k < n_classes``.

    Returns
    -------
    ndarray of shape (..., k + 1)
        Float64: the columns ``q[..., subset]``, then ``q`` summed over every other class.

    Examples
    --------
    >>> dustbin_fold([0.5, 0.1, 0.3, 0.1], [2, 0]).tolist()
    [0.3, 0.5, 0.2]

    See notebook 05.
    """
    x = _numbers(q, "q")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"q must be 1-d or 2-d with the classes last, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("q must be finite, got NaN or infinity")
    if (x < 0).any():
        raise ValueError(f"q must be non-negative, found {x.min():.3g}")
    return _fold(x, check_subset(subset, x.shape[-1]))


def expand_specialist(probs, subset, q) -> np.ndarray:
    """A specialist's ``k + 1`` probabilities drawn on all C classes: its classes as they are,
    its dustbin shared among the other classes in proportion to ``q`` (the EM view).

    The inverse of :func:`dustbin_fold`: folding the result over ``subset`` gives ``probs``
    back. When ``q`` is 0 outside ``subset`` the dustbin is shared evenly.

    Examples
    --------
    >>> full = expand_specialist([0.6, 0.4], [1], np.array([0.5, 0.25, 0.25]))
    >>> full.round(3).tolist()
    [0.267, 0.6, 0.133]
    >>> dustbin_fold(full, [1]).round(3).tolist()
    [0.6, 0.4]

    See notebook 05.
    """
    probs = np.asarray(probs, dtype=float)
    q = np.asarray(q, dtype=float)
    subset = np.asarray(subset, dtype=int)
    if probs.ndim != 1 or len(probs) != len(subset) + 1:
        raise ValueError(f"probs must hold {len(subset) + 1} numbers (the subset, then the "
                         f"dustbin), got shape {probs.shape}")
    if q.ndim != 1 or subset.size and (subset.min() < 0 or subset.max() >= len(q)):
        raise ValueError(f"q must be a distribution over every class of subset, got {q.shape}")
    out = np.zeros(len(q))
    outside = np.ones(len(q), dtype=bool)
    outside[subset] = False
    share = q[outside]
    total = share.sum()
    out[outside] = probs[-1] * (share / total if total > 0 else 1 / max(outside.sum(), 1))
    out[subset] = probs[:-1]
    return out


def active_specialists(p_general, specialists, n_top=1) -> np.ndarray:
    """Which specialists take part for each example: those whose subset meets its top classes.

    Parameters
    ----------
    p_general : array-like or torch.Tensor of shape (n_examples, n_classes)
        The generalist's probabilities.
    specialists : list of (subset, probs) pairs
        ``subset``: ``k`` distinct class ids (``1 <= k < n_classes``); ``probs``: the
        specialist's probabilities, shape ``(n_examples, k + 1)``, its dustbin class last.
    n_top : int, default=1
        How many of the generalist's most probable classes to look up (the paper uses 1). Ties
        go to the lower class id.

    Returns
    -------
    ndarray of bool, shape (n_examples, n_specialists)
        ``True`` where specialist ``m`` is active for example ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    >>> specs = [([0, 1], np.full((2, 3), 1 / 3)), ([2], np.full((2, 2), 0.5))]
    >>> active_specialists(p, specs).tolist()
    [[True, False], [False, True]]
    >>> active_specialists(p, specs, n_top=2).tolist()
    [[True, False], [True, True]]

    See notebook 05.
    """
    p = _probabilities(p_general, "p_general")
    specs = _specialists(specialists, p.shape[1], p.shape[0])
    n_top = check_int(n_top, "n_top (at most the number of classes)", 1, p.shape[1])
    return _active(p, specs, n_top)


def kl_objective(q, p_general, specialists, active=None) -> np.ndarray:
    """The objective of KL inference at ``q``, per example: ``KL(p_g‖q) + Σ_active KL(p_m‖q^m)``.

    ``q^m`` is :func:`dustbin_fold` of ``q`` onto specialist ``m``. ``0 · log 0 = 0``; a source
    that gives positive probability where ``q`` gives none makes the objective infinite.

    Parameters
    ----------
    q : array-like or torch.Tensor of shape (n_examples, n_classes)
        The distributions to score.
    p_general : array-like or torch.Tensor of shape (n_examples, n_classes)
        The generalist's probabilities.
    specialists : list of (subset, probs) pairs
        As for :func:`kl_inference`.
    active : array of bool, shape (n_examples, n_specialists), optional
        Which specialists count for which example; by default
        ``active_specialists(p_general, specialists)`` (``n_top=1``, the paper's choice).

    Returns
    -------
    ndarray of shape (n_examples,)
        Float64; non-negative when the rows sum to 1 (``inf`` where some term is).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.5, 0.3, 0.2]])
    >>> specs = [([0, 1], np.array([[0.5, 0.3, 0.2]]))]  # agrees with the generalist
    >>> kl_objective(p, p, specs).tolist()
    [0.0]
    >>> bool(kl_objective(np.full((1, 3), 1 / 3), p, specs)[0] > 0)
    True

    See notebook 05.
    """
    p = _probabilities(p_general, "p_general")
    n, n_classes = p.shape
    qq = _probabilities(q, "q", n, n_classes, " (one per class of p_general)")
    specs = _specialists(specialists, n_classes, n)
    mask = _active(p, specs, 1) if active is None else _active_mask(active, n, len(specs))
    total = rel_entr(p, qq).sum(1)
    for m, (subset, probs) in enumerate(specs):
        if mask[:, m].any():
            total += np.where(mask[:, m], rel_entr(probs, _fold(qq, subset)).sum(1), 0.0)
    return total


def kl_inference(p_general, specialists, n_top=1, method="em", *, tol=1e-12, max_iter=None,
                 return_n_iter=False):
    """Combine a generalist with its active specialists: the ``q`` closest to all of them.

    For each example, ``q`` minimises ``KL(p_g ‖ q) + Σ_{m active} KL(p_m ‖ q^m)`` over the
    probability vectors on the C classes, where ``q^m`` is ``q`` folded onto specialist ``m``'s
    classes plus its dustbin (:func:`dustbin_fold`) and the active specialists are those whose
    subset meets the generalist's ``n_top`` most probable classes (:func:`active_specialists`).
    An example with no active specialist gets ``q = p_g`` exactly. The module's docstring
    describes the two methods and the edge cases.

    Parameters
    ----------
    p_general : array-like or torch.Tensor of shape (n_examples, n_classes)
        The generalist's probabilities; non-negative, rows summing to 1 (within 1e-4).
    specialists : list of (subset, probs) pairs
        ``subset``: an integer array of ``k`` distinct class ids, ``1 <= k < n_classes``.
        ``probs``: the specialist's probabilities, shape ``(n_examples, k + 1)``: its classes in
        the order of ``subset``, then the dustbin class. Subsets may overlap.
    n_top : int, default=1
        How many of the generalist's top classes decide the active specialists (paper: 1).
    method : {"em", "gradient"}, default="em"
        ``"em"``: the exact fixed-point (EM) iteration. ``"gradient"``: minimisation over the
        logits of ``q``, as in the paper, by batched Newton steps with a line search; it
        converges quickly where EM is slow (specialists that disagree strongly).
    tol : float, default=1e-12
        Stop an example when its estimated distance to the optimum, ``max_c |q_c − q*_c|``, is
        below ``tol``: for EM from its last two steps (Aitken), for the gradient method from
        the next Newton step.
    max_iter : int, optional
        Most iterations (EM steps or Newton steps); default 10,000 for EM, 1,000 for the
        gradient method. Examples not converged by then give a ``ConvergenceWarning``.
    return_n_iter : bool, default=False
        Also return the iterations each example took (0 where no specialist was active).

    Returns
    -------
    q : ndarray of shape (n_examples, n_classes)
        Float64 probability vectors.
    n_iter : ndarray of int, shape (n_examples,)
        Only with ``return_n_iter=True``.

    Examples
    --------
    >>> import numpy as np
    >>> p_g = np.array([[0.3, 0.4, 0.2, 0.1], [0.1, 0.2, 0.1, 0.6]])
    >>> specs = [([0, 1], np.array([[0.2, 0.7, 0.1], [0.2, 0.7, 0.1]])),
    ...          ([1, 2], np.array([[0.6, 0.1, 0.3], [0.6, 0.1, 0.3]]))]
    >>> q = kl_inference(p_g, specs)
    >>> q.round(4)  # row 1: the top class 1 calls both; row 2: its top class 3 calls neither
    array([[0.2454, 0.5667, 0.1216, 0.0664],
           [0.1   , 0.2   , 0.1   , 0.6   ]])
    >>> bool(np.abs(kl_inference(p_g, specs, method="gradient") - q).max() < 1e-9)
    True

    See notebook 05.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got "
                         f"{method!r}")
    p = _probabilities(p_general, "p_general")
    n, n_classes = p.shape
    specs = _specialists(specialists, n_classes, n)
    n_top = check_int(n_top, "n_top (at most the number of classes)", 1, n_classes)
    tol = check_real(tol, "tol", 0, 1, lo_open=True, hi_open=True)
    if max_iter is None:
        max_iter = _MAX_ITER[method]
    max_iter = check_int(max_iter, "max_iter", lo=1)
    active = _active(p, specs, n_top)
    q = p.copy()
    n_iter = np.zeros(n, dtype=int)
    rows = np.flatnonzero(active.any(1))
    if rows.size:
        used = np.flatnonzero(active[rows].any(0))  # specialists active somewhere
        sub = [(specs[m][0], specs[m][1][rows]) for m in used]
        a, w = _weights(p[rows], sub, active[np.ix_(rows, used)])
        out = _outside([s for s, _ in sub], n_classes)
        start = _start(a, w, out)
        converged = np.zeros(rows.size, dtype=bool)
        solver = _em if method == "em" else _newton
        # the gradient method holds a C×C matrix per example: a chunk of rows at a time
        step = rows.size if method == "em" else max(1, _CHUNK // (n_classes * (n_classes
                                                                                 + len(used))))
        # many tiny matrix products and solves: BLAS threads would only wait for each other
        with threadpool_limits(limits=1, user_api="blas"):
            for i in range(0, rows.size, step):
                part = slice(i, i + step)
                q[rows[part]], n_iter[rows[part]], converged[part] = solver(
                    start[part], a[part], w[part], out, float(tol), int(max_iter))
        if not converged.all():
            hint = "; method='gradient' converges where EM is slow" if method == "em" else ""
            warnings.warn(f"kl_inference(method={method!r}) did not converge to tol={tol:g} for "
                          f"{int((~converged).sum())} of {rows.size} examples within "
                          f"max_iter={max_iter}{hint}", ConvergenceWarning, stacklevel=2)
    return (q, n_iter) if return_n_iter else q


# --- where specialists help: the paper's Table 4 --------------------------------------------


def _class_ids(y, name: str, n: int | None = None) -> np.ndarray:
    """``y`` checked by :func:`kdlab.validate.check_labels`, and holding ``n`` entries."""
    arr = check_labels(to_numpy(y, None), name=name)
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries, expected {n} (one per example)")
    return arr


def covering_counts(y, subsets, active=None) -> np.ndarray:
    """For each example, how many specialists have its true class in their subset.

    The paper's Table 4 sorts the test images by this number, "the number of specialist
    models covering the correct class": a property of the true class alone, whatever the
    generalist answered. With ``active`` (examples × specialists, from
    :func:`active_specialists`) only the specialists consulted for the example are counted;
    that number also depends on whether the generalist's top class was right.

    Examples
    --------
    >>> import numpy as np
    >>> covering_counts([1, 1, 0], [[0, 1], [1, 2]]).tolist()
    [2, 2, 1]
    >>> active = np.array([[True, True], [True, False], [False, False]])
    >>> covering_counts([1, 1, 0], [[0, 1], [1, 2]], active).tolist()
    [2, 1, 0]

    See notebook 05.
    """
    labels = _class_ids(y, "y")
    if isinstance(subsets, str | bytes) or not isinstance(subsets, list | tuple):
        raise ValueError(f"subsets must be a list of class-id sequences, one per specialist, "
                         f"got {type(subsets).__name__}")
    n_classes = max([int(labels.max()) + 1 if labels.size else 1]
                    + [int(np.max(s)) + 2 for s in subsets if np.size(s)])
    covers = np.zeros((len(labels), len(subsets)), bool)
    for m, s in enumerate(subsets):
        covers[:, m] = np.isin(labels, check_subset(s, n_classes, f"subsets[{m}]"))
    if active is not None:
        if isinstance(active, torch.Tensor):
            active = active.detach().cpu().numpy()
        mask = _array(active, "active", "booleans")
        if mask.dtype != np.bool_ or mask.shape != covers.shape:
            raise ValueError(f"active must be a boolean array of shape {covers.shape} "
                             f"(examples, specialists), got dtype {mask.dtype} and shape "
                             f"{mask.shape}")
        covers &= mask
    return covers.sum(axis=1)


def stratum_name(stratum) -> str:
    """How the course names a stratum of :func:`accuracy_by_covering`'s rows.

    Examples
    --------
    >>> stratum_name(None), stratum_name((0.5, 0.9))
    ('all images', 'confidence 0.5 to 0.9')
    """
    if stratum is None:
        return "all images"
    lo, hi = stratum
    return f"confidence {lo:g} to {hi:g}"


def accuracy_by_covering(y, p_general, q, covering, confidence_edges=None) -> list[dict]:
    """The paper's Table 4: correct answers before and after combining, by covering count.

    One row per number ``k`` of covering specialists from 0 to ``max(covering)`` — every one,
    also those with no example (``n = 0``) — with ``n`` (examples), ``generalist_correct`` and
    ``combined_correct`` (arg-max of ``p_general`` and of ``q`` right), ``delta`` (their
    difference), ``relative_change`` (``delta / generalist_correct``, the paper's "relative
    accuracy change"; ``nan`` when the generalist got none right) and both accuracies (``nan``
    when ``n = 0``). ``stratum`` is ``None`` for all examples.

    With ``confidence_edges`` (increasing numbers from 0 to 1, e.g. ``(0, 0.6, 0.9, 1)``) the
    table is repeated for each stratum of the generalist's confidence, its largest probability
    in ``[lo, hi)`` (the last one closed): the gain per bucket at a given confidence, so that a
    bucket is not better only because its images are easier.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.6, 0.4], [0.4, 0.6], [0.7, 0.3], [0.9, 0.1]])
    >>> q = np.array([[0.4, 0.6], [0.4, 0.6], [0.7, 0.3], [0.9, 0.1]])
    >>> rows = accuracy_by_covering([1, 1, 0, 1], p, q, [1, 2, 0, 2])
    >>> [(r["covering"], r["n"], r["generalist_correct"], r["combined_correct"]) for r in rows]
    [(0, 1, 1, 1), (1, 1, 0, 1), (2, 2, 1, 1)]
    >>> rows[1]["relative_change"]                   # undefined: the generalist had none right
    nan

    See notebook 05.
    """
    pg = _probabilities(p_general, "p_general")
    n = len(pg)
    qq = _probabilities(q, "q", n, pg.shape[1])
    labels = _class_ids(y, "y", n)
    if labels.size and labels.max() >= pg.shape[1]:
        raise ValueError(f"y must hold class ids below {pg.shape[1]}, got {labels.max()}")
    cov = _class_ids(covering, "covering", n)
    if confidence_edges is None:
        strata = [None]
    else:
        edges = _numbers(confidence_edges, "confidence_edges")
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0) \
                or edges[0] > 0 or edges[-1] < 1:
            raise ValueError(f"confidence_edges must be increasing numbers from 0 (or less) to "
                             f"1 (or more), got {confidence_edges!r}")
        strata = [None] + [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    right_g = pg.argmax(axis=1) == labels
    right_q = qq.argmax(axis=1) == labels
    confidence = pg.max(axis=1)
    top = int(cov.max()) if cov.size else 0
    rows = []
    for stratum in strata:
        if stratum is None:
            inside = np.ones(n, bool)
        else:
            lo, hi = stratum
            inside = (confidence >= lo) & ((confidence < hi) | (hi == strata[-1][1]))
        for k in range(top + 1):
            at = inside & (cov == k)
            count, g, c = int(at.sum()), int(right_g[at].sum()), int(right_q[at].sum())
            rows.append({"stratum": stratum, "covering": k, "n": count,
                         "generalist_correct": g, "combined_correct": c, "delta": c - g,
                         "relative_change": (c - g) / g if g else float("nan"),
                         "generalist_accuracy": g / count if count else float("nan"),
                         "combined_accuracy": c / count if count else float("nan")})
    return rows
