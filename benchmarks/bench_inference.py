"""KL inference (section 5.4): combining a generalist with its active specialists, batched EM vs
batched gradient (Newton steps on the logits) vs scipy's BFGS one example at a time.

Synthetic predictions: ``make_hierarchical`` classes nested in superclasses, a Gibbs "generalist"
at T = 4 and sharper specialists at T = 1 (``gibbs_probabilities``), each specialist's
probabilities folded onto its subset plus a dustbin (``dustbin_fold``). Three cases: the paper's
(one specialist per superclass, disjoint, ``n_top = 1``: one specialist is active and the start
is already exact), overlapping specialists with ``n_top = 2`` (about three active: the real
iterative problem), both with N = 10,000 and C = 10, and a many-class case, C = 100 and N = 2,000.
EM and gradient run on all N examples (best of the rounds, in one run); the per-example
optimiser (BFGS on the logits with the analytic gradient, ``gtol = 1e-10``) runs on the first
n examples only and its time is extrapolated to N (× N / n), as the table says. Max |Δq|
compares each with EM (scipy on its n examples). Goal (issue 6): 10,000 examples in under a
second on a CPU.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.optimize
import scipy.special

from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
from kdlab.inference import active_specialists, dustbin_fold, kl_inference
from kdlab.profiles import get_profile

#: Examples the per-example optimiser solves (then extrapolated), per profile.
SCIPY_SAMPLE = {"ci": 100, "laptop": 300, "paper": 1000}


def _problem(n_super, per_super, n_per_class, overlapping, seed=0):
    """Generalist probabilities and ``(subset, probs)`` specialists on nested Gaussian classes."""
    X, _, superclass, centers = make_hierarchical(n_super, per_super, n_per_class,
                                                  random_state=seed, return_centers=True)
    p_g = gibbs_probabilities(X, centers, T=4.0)
    sharp = gibbs_probabilities(X, centers, T=1.0)
    classes = np.arange(n_super * per_super)
    groups = [classes[superclass == k] for k in range(n_super)]
    if overlapping:  # each superclass, and each pair of neighbours' halves straddling them
        half = per_super // 2 + 1
        groups += [np.r_[groups[k][-half:], groups[(k + 1) % n_super][:half]]
                   for k in range(n_super)]
    return p_g, [(g, dustbin_fold(sharp, g)) for g in groups]


def _per_example(p, specs, active):
    """scipy BFGS on each example's logits, with the analytic gradient ``λ q − a − q s``."""
    out = np.empty_like(p)
    n_classes = p.shape[1]
    for i in range(len(p)):
        a = p[i].copy()
        dustbins = []
        for (subset, probs), on in zip(specs, active[i], strict=True):
            if on:
                a[subset] += probs[i, :-1]
                mask = np.ones(n_classes, dtype=bool)
                mask[subset] = False
                dustbins.append((mask, probs[i, -1]))
        lam = a.sum() + sum(w for _, w in dustbins)

        def fun(z, a=a, dustbins=dustbins, lam=lam):
            log_q = z - scipy.special.logsumexp(z)
            q = np.exp(log_q)
            f = -(a * log_q).sum()
            s = np.zeros_like(q)
            for mask, w in dustbins:
                rest = q[mask].sum()
                f -= w * np.log(rest)
                s[mask] += w / rest
            return f, lam * q - a - q * s

        res = scipy.optimize.minimize(fun, np.log(p[i]), jac=True, method="BFGS",
                                      options={"gtol": 1e-10, "maxiter": 10_000})
        out[i] = scipy.special.softmax(res.x)
    return out


def _best(fn, rounds):
    best, out = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _row(label, p, specs, n_top, rounds, n_scipy):
    n, n_classes = p.shape
    active = active_specialists(p, specs, n_top)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a benchmark of unconverged answers would be worthless
        t_em, (q_em, it_em) = _best(
            lambda: kl_inference(p, specs, n_top, return_n_iter=True), rounds)
        t_grad, (q_grad, it_grad) = _best(
            lambda: kl_inference(p, specs, n_top, method="gradient", return_n_iter=True), rounds)
    k = min(n_scipy, n)
    start = time.perf_counter()
    q_scipy = _per_example(p[:k], [(s, pm[:k]) for s, pm in specs], active[:k])
    t_scipy = (time.perf_counter() - start) * n / k
    on = active.any(1)
    return (f"| {label} | {n:,} | {n_classes} | {len(specs)} | {active.sum(1).mean():.2f} | "
            f"{t_em:.3f} | {t_grad:.3f} | {t_scipy:.1f} (from {k:,}) | "
            f"{t_grad / t_em:.1f}× | {t_scipy / t_em:,.0f}× | "
            f"{np.abs(q_grad - q_em).max():.1e} | {np.abs(q_scipy - q_em[:k]).max():.1e} | "
            f"{it_em[on].mean():.1f} / {it_em.max()} | {it_grad[on].mean():.1f} / "
            f"{it_grad.max()} |")


def run(rounds: int = 3) -> str:
    n_scipy = SCIPY_SAMPLE.get(get_profile().name, 100)
    rows = ["| case | N | C | specialists | active per example | EM s | gradient s | "
            "per-example scipy s (extrapolated) | gradient / EM | scipy / EM | "
            "max abs Δq gradient–EM | max abs Δq scipy–EM | EM steps mean / max | "
            "Newton steps mean / max |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    cases = [
        ("paper: disjoint, n_top = 1", (2, 5, 1000, False), 1),
        ("overlapping, n_top = 2", (2, 5, 1000, True), 2),
        ("many classes, overlapping, n_top = 2", (10, 10, 20, True), 2),
    ]
    for label, args, n_top in cases:
        p, specs = _problem(*args)
        rows.append(_row(label, p, specs, n_top, rounds, n_scipy))
    return "\n".join(rows)


if __name__ == "__main__":
    print(run())
