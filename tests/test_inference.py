"""kdlab.inference against independent oracles: scipy's optimiser, torch autograd, closed forms."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import torch
from _bad import error_for
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import kdlab.inference
from kdlab.inference import (
    METHODS,
    active_specialists,
    covering_counts,
    dustbin_fold,
    kl_inference,
    kl_objective,
)

# --- oracles, written here without kdlab --------------------------------------------------------


def _case(seed, n=6, c=6, m=3, alpha=1.0):
    """Random generalist and specialists; the first two subsets share class 0 (they overlap)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(c, alpha), size=n)
    specs = []
    for i in range(m):
        k = int(rng.integers(2, c))
        subset = rng.choice(c, size=k, replace=False)
        if i < 2 and 0 not in subset:
            subset[0] = 0
        specs.append((subset, rng.dirichlet(np.full(k + 1, alpha), size=n)))
    return p, specs


def _fold(q_row, subset):
    """q on ``subset`` in its order, then the sum over the other classes (a plain loop)."""
    subset = [int(s) for s in subset]
    rest = sum(float(q_row[c]) for c in range(len(q_row)) if c not in subset)
    return np.array([q_row[c] for c in subset] + [rest])


def _kl(p, q):
    """KL(p ‖ q) with 0 log 0 = 0, one term at a time."""
    total = 0.0
    for pi, qi in zip(p, q, strict=True):
        if pi > 0:
            total += np.inf if qi <= 0 else pi * np.log(pi / qi)
    return total


def _active_oracle(p, specs, n_top):
    """Active specialists, one example at a time: sort, take the top classes, intersect."""
    out = np.zeros((len(p), len(specs)), dtype=bool)
    for i, row in enumerate(p):
        top = set(sorted(range(len(row)), key=lambda c: (-row[c], c))[:n_top])
        for m, (subset, _) in enumerate(specs):
            out[i, m] = bool(top & {int(s) for s in subset})
    return out


def _objective_oracle(q_row, p_row, parts):
    """The paper's objective for one example; ``parts`` is [(subset, p_m row)] of the active."""
    return _kl(p_row, q_row) + sum(_kl(pm, _fold(q_row, s)) for s, pm in parts)


def _torch_objective(z, p_row, parts):
    """The same objective at logits ``z`` in torch, for autograd."""
    q = torch.softmax(z, dim=0)

    def kl(p, qq):
        p = torch.as_tensor(p, dtype=torch.float64)
        keep = p > 0
        return (p[keep] * (torch.log(p[keep]) - torch.log(qq[keep]))).sum()

    total = kl(p_row, q)
    for subset, pm in parts:
        inside = torch.zeros(len(q), dtype=torch.bool)
        inside[torch.as_tensor(subset)] = True
        folded = torch.cat([q[torch.as_tensor(subset)], q[~inside].sum().reshape(1)])
        total = total + kl(pm, folded)
    return total


def _scipy_solution(p, specs, active):
    """Per example, BFGS on the logits of q with torch autograd gradients: a general optimiser."""
    out = np.empty_like(p)
    for i in range(len(p)):
        parts = [(s, pm[i]) for (s, pm), on in zip(specs, active[i], strict=True) if on]

        def fun(z, i=i, parts=parts):
            zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            value = _torch_objective(zt, p[i], parts)
            value.backward()
            return float(value.detach()), zt.grad.numpy().copy()

        res = scipy.optimize.minimize(fun, np.log(p[i]), jac=True, method="BFGS",
                                      options={"gtol": 1e-11, "maxiter": 5000})
        out[i] = scipy.special.softmax(res.x)
    return out


def _parts(specs, active, i):
    return [(s, pm[i]) for (s, pm), on in zip(specs, active[i], strict=True) if on]


# --- agreement with an independent optimiser ----------------------------------------------------


@pytest.mark.parametrize("seed, n_top", [(0, 1), (1, 1), (2, 2), (3, 3)])
def test_both_methods_agree_with_scipy_and_each_other(seed, n_top):
    p, specs = _case(seed)
    active = _active_oracle(p, specs, n_top)
    assert active.sum(1).max() >= 2  # some example consults two overlapping specialists
    oracle = _scipy_solution(p, specs, active)
    q_em = kl_inference(p, specs, n_top)
    q_grad = kl_inference(p, specs, n_top, method="gradient")
    np.testing.assert_allclose(q_em, oracle, atol=1e-7, rtol=0)
    np.testing.assert_allclose(q_grad, oracle, atol=1e-7, rtol=0)
    np.testing.assert_allclose(q_em, q_grad, atol=1e-9, rtol=0)
    for i in range(len(p)):  # the library's optimum is no worse than scipy's anywhere
        parts = _parts(specs, active, i)
        assert _objective_oracle(q_em[i], p[i], parts) <= \
            _objective_oracle(oracle[i], p[i], parts) + 1e-12


def test_methods_agree_to_1e_9_on_a_larger_batch():
    p, specs = _case(7, n=300, c=10, m=6)
    q_em = kl_inference(p, specs, 2)
    q_grad = kl_inference(p, specs, 2, method="gradient")
    np.testing.assert_allclose(q_em, q_grad, atol=1e-9, rtol=0)


def test_solution_is_a_stationary_point_by_autograd():
    p, specs = _case(4, n=5, c=7, m=4)
    active = _active_oracle(p, specs, 2)
    for method in METHODS:
        q = kl_inference(p, specs, 2, method=method)
        for i in range(len(p)):
            z = torch.tensor(np.log(q[i]), requires_grad=True)
            _torch_objective(z, p[i], _parts(specs, active, i)).backward()
            assert z.grad.abs().max() < 1e-9


def test_solution_is_a_fixed_point_of_the_em_step():
    p, specs = _case(5, n=8, c=6, m=4)
    active = _active_oracle(p, specs, 2)
    q = kl_inference(p, specs, 2)
    for i in range(len(p)):  # one EM step, written class by class
        num = p[i].copy()
        for subset, pm in _parts(specs, active, i):
            others = [c for c in range(p.shape[1]) if c not in set(subset.tolist())]
            for j, c in enumerate(subset):
                num[c] += pm[j]
            for c in others:
                num[c] += pm[-1] * q[i, c] / q[i, others].sum()
        np.testing.assert_allclose(num / num.sum(), q[i], atol=1e-11, rtol=0)


def test_one_active_specialist_has_a_closed_form():
    # alone, a specialist is averaged with the generalist on its classes, and its dustbin is
    # shared over the other classes in the generalist's proportions
    p, specs = _case(6, n=10, c=6, m=1)
    subset, pm = specs[0]
    q = kl_inference(p, specs, n_top=6)  # every example consults it
    others = np.setdiff1d(np.arange(6), subset)
    out_g = p[:, others].sum(1, keepdims=True)
    np.testing.assert_allclose(q[:, subset], (p[:, subset] + pm[:, :-1]) / 2, atol=1e-13)
    np.testing.assert_allclose(q[:, others], p[:, others] * (out_g + pm[:, -1:]) / (2 * out_g),
                               atol=1e-13)


# --- what the solution must be --------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_no_active_specialist_returns_p_general_exactly(method):
    p, _ = _case(8, n=20, c=6, m=0)
    subset = np.setdiff1d(np.arange(6), [p[0].argmax()])[:2]  # misses row 0's top class
    specs = [(subset, np.random.default_rng(0).dirichlet(np.ones(3), size=20))]
    idle = ~np.isin(p.argmax(1), subset)
    assert idle[0] and not idle.all()
    q = kl_inference(p.astype(np.float32), specs, method=method)
    assert q.dtype == np.float64
    np.testing.assert_array_equal(q[idle], p.astype(np.float32)[idle].astype(np.float64))
    assert not np.array_equal(q[~idle], p.astype(np.float32)[~idle])
    np.testing.assert_array_equal(kl_inference(p, [], method=method), p)


@pytest.mark.parametrize("method", METHODS)
def test_specialists_that_agree_with_the_generalist_change_nothing(method):
    p, specs = _case(9, n=8, c=7, m=3)
    agreeing = [(s, np.array([_fold(row, s) for row in p])) for s, _ in specs]
    for chosen in (agreeing[:1], agreeing):  # one specialist, then three overlapping ones
        q = kl_inference(p, chosen, n_top=7, method=method)
        np.testing.assert_allclose(q, p, atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_rows_are_probability_vectors(method):
    p, specs = _case(10, n=40, c=8, m=5, alpha=0.3)
    q = kl_inference(p, specs, 2, method=method)
    assert q.shape == p.shape and q.dtype == np.float64
    assert (q >= 0).all()
    np.testing.assert_allclose(q.sum(1), 1, atol=1e-12)


def test_objective_at_the_solution_beats_the_obvious_guesses():
    p, specs = _case(11, n=30, c=7, m=4)
    active = _active_oracle(p, specs, 2)
    q = kl_inference(p, specs, 2)
    rng = np.random.default_rng(0)
    for i in range(len(p)):
        parts = _parts(specs, active, i)
        best = _objective_oracle(q[i], p[i], parts)
        # the naive average: every opinion, each dustbin shared in the generalist's proportions
        naive = p[i].copy()
        for subset, pm in parts:
            others = np.setdiff1d(np.arange(7), subset)
            naive[subset] += pm[:-1]
            naive[others] += pm[-1] * p[i, others] / p[i, others].sum()
        naive /= naive.sum()
        assert best <= _objective_oracle(p[i], p[i], parts) + 1e-12
        assert best <= _objective_oracle(naive, p[i], parts) + 1e-12
        for _ in range(5):  # and every nearby probability vector
            near = q[i] * np.exp(rng.normal(scale=1e-3, size=7))
            assert best <= _objective_oracle(near / near.sum(), p[i], parts) + 1e-12


@pytest.mark.parametrize("method", METHODS)
def test_a_dustbin_fills_a_class_the_generalist_ruled_out(method):
    # p_g = (1, 0); the specialist on class 0 says (0.5, dustbin 0.5): q maximises
    # 1.5 log q0 + 0.5 log q1, so q = (0.75, 0.25)
    q = kl_inference(np.array([[1.0, 0.0]]), [([0], np.array([[0.5, 0.5]]))], method=method)
    np.testing.assert_allclose(q, [[0.75, 0.25]], atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_classes_without_evidence(method):
    spec = [([0, 1], np.array([[0.5, 0.3, 0.2]]))]
    # class 3 shares the dustbin with class 2, which has evidence: the optimum gives it 0,
    # exactly; one specialist, so q is the closed form of the test above
    q = kl_inference(np.array([[0.6, 0.3, 0.1, 0.0]]), spec, method=method)
    np.testing.assert_allclose(q, [[0.55, 0.3, 0.15, 0.0]], atol=1e-13)
    assert q[0, 3] == 0.0
    # no source has any evidence for classes 2 and 3: only their sum, 0.1, is determined
    q = kl_inference(np.array([[0.7, 0.3, 0.0, 0.0]]), spec, method=method)
    np.testing.assert_allclose(q[0, :2], [0.6, 0.3], atol=1e-13)
    assert q[0, 2:].sum() == pytest.approx(0.1, abs=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_zeros_in_the_inputs(method):
    p, specs = _case(12, n=20, c=6, m=3, alpha=0.3)
    p[:, 5] = 0.0  # a class the generalist never gives any probability
    p /= p.sum(1, keepdims=True)
    specs[0][1][:, 0] = 0.0
    specs[0] = (specs[0][0], specs[0][1] / specs[0][1].sum(1, keepdims=True))
    active = _active_oracle(p, specs, 2)
    q = kl_inference(p, specs, 2, method=method)
    assert np.isfinite(q).all() and (q >= 0).all()
    for i in range(len(p)):
        parts = _parts(specs, active, i)
        assert np.isfinite(_objective_oracle(q[i], p[i], parts))
        assert _objective_oracle(q[i], p[i], parts) <= _objective_oracle(p[i], p[i], parts)
    other = "gradient" if method == "em" else "em"
    np.testing.assert_allclose(q, kl_inference(p, specs, 2, method=other), atol=1e-8)


def test_strongly_disagreeing_specialists():
    # the generalist is sure of class 0; two overlapping specialists put nearly all their mass
    # in their dustbins: EM is slow here, the gradient method is not, and they agree
    p = np.array([[0.97, 0.01, 0.01, 0.005, 0.005]])
    specs = [([0, 1], np.array([[0.02, 0.01, 0.97]])), ([0, 2], np.array([[0.01, 0.01, 0.98]]))]
    q_em, it_em = kl_inference(p, specs, return_n_iter=True)
    q_grad, it_grad = kl_inference(p, specs, method="gradient", return_n_iter=True)
    np.testing.assert_allclose(q_em, q_grad, atol=1e-9)
    assert it_grad[0] < it_em[0]
    assert q_em[0, 0] < 0.5  # the specialists outvote the generalist


def test_classes_with_next_to_no_evidence_keep_their_proportions():
    # classes 2 and 3 lie outside both subsets, so the optimum splits the dustbins' mass between
    # them as p_g does, 1e-13 : 1e-17, however little that is next to the other classes. The
    # objective barely sees that split: EM starts from it and keeps it exactly; the gradient
    # method resolves it only to the objective's precision
    p = np.array([[0.6, 0.4 - 1e-13 - 1e-17, 1e-13, 1e-17]])
    specs = [([0, 1], np.array([[0.05, 0.05, 0.9]])), ([0], np.array([[0.1, 0.9]]))]
    q = kl_inference(p, specs)
    assert q[0, 2] > 0.3  # the specialists' dustbins outvote the generalist
    assert q[0, 3] / q[0, 2] == pytest.approx(1e-4, rel=1e-9)
    q_grad = kl_inference(p, specs, method="gradient")
    np.testing.assert_allclose(q_grad, q, atol=1e-6, rtol=0)
    assert q_grad[0, 3] / q_grad[0, 2] == pytest.approx(1e-4, rel=1e-2)


def test_newton_falls_back_to_least_squares(monkeypatch):
    p, specs = _case(18, n=6, c=6, m=3)
    expected = kl_inference(p, specs, 2, method="gradient")

    def singular(*args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(np.linalg, "solve", singular)
    np.testing.assert_allclose(kl_inference(p, specs, 2, method="gradient"), expected,
                               atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), c=st.integers(3, 7), m=st.integers(1, 4),
       n_top=st.integers(1, 3), data=st.data())
def test_relabelling_classes_relabels_q(seed, c, m, n_top, data):
    p, specs = _case(seed, n=4, c=c, m=m)
    n_top = min(n_top, c)
    perm = np.array(data.draw(st.permutations(range(c))))  # new id of old class j: perm[j]
    inverse = np.argsort(perm)
    p_new = p[:, inverse]
    rng = np.random.default_rng(seed)
    specs_new = []
    for subset, pm in specs:  # relabel, and shuffle the ids within each subset
        order = rng.permutation(len(subset))
        specs_new.append((perm[subset][order], pm[:, np.r_[order, len(subset)]]))
    specs_new = [specs_new[j] for j in rng.permutation(m)]  # and the order of the specialists
    q = kl_inference(p, specs, n_top)
    np.testing.assert_allclose(kl_inference(p_new, specs_new, n_top), q[:, inverse], atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), c=st.integers(2, 7), m=st.integers(0, 4))
def test_q_is_a_distribution_no_worse_than_p_general(seed, c, m):
    p, specs = _case(seed, n=5, c=c, m=m, alpha=0.5) if c > 2 else _case(seed, n=5, c=c, m=0)
    q = kl_inference(p, specs, 2 if c > 2 else 1)
    assert (q >= 0).all()
    np.testing.assert_allclose(q.sum(1), 1, atol=1e-12)
    active = active_specialists(p, specs, 2 if c > 2 else 1)
    assert (kl_objective(q, p, specs, active) <= kl_objective(p, p, specs, active) + 1e-12).all()


def test_torch_input_gives_the_same_answer():
    p, specs = _case(13, n=6, c=6, m=3)
    expected = kl_inference(p, specs, 2)
    got = kl_inference(torch.tensor(p), [(torch.tensor(s), torch.tensor(pm)) for s, pm in specs],
                       2)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, expected)


def test_return_n_iter():
    p, specs = _case(14, n=12, c=6, m=3)
    active = active_specialists(p, specs)
    for method in METHODS:
        q, n_iter = kl_inference(p, specs, method=method, return_n_iter=True)
        np.testing.assert_array_equal(q, kl_inference(p, specs, method=method))
        assert n_iter.shape == (12,)
        assert (n_iter[~active.any(1)] == 0).all()
        # EM takes at least the step that shows it has converged; Newton may take none
        assert (n_iter[active.any(1)] >= (1 if method == "em" else 0)).all()
        assert n_iter.max() >= 1


@pytest.mark.parametrize("method", METHODS)
def test_too_few_iterations_warn(method):
    p, specs = _case(15, n=6, c=6, m=3)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        kl_inference(p, specs, 3, method=method, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kl_inference(p, specs, 3, method=method)


# --- active_specialists, kl_objective, dustbin_fold -------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_active_specialists_matches_a_loop(seed):
    p, specs = _case(seed, n=20, c=6, m=4)
    for n_top in range(1, 7):
        np.testing.assert_array_equal(active_specialists(p, specs, n_top),
                                      _active_oracle(p, specs, n_top))


def test_larger_n_top_activates_more_specialists():
    p, specs = _case(16, n=50, c=8, m=5)
    before = active_specialists(p, specs, 1)
    for n_top in range(2, 9):
        now = active_specialists(p, specs, n_top)
        assert (now >= before).all()
        before = now
    assert before.all()  # with every class on top, every specialist is active
    assert active_specialists(p, specs, 3).sum() > active_specialists(p, specs, 1).sum()


def test_ties_among_top_classes_go_to_the_lower_id():
    p = np.array([[0.4, 0.4, 0.2]])
    specs = [([0], np.array([[0.5, 0.5]])), ([1], np.array([[0.5, 0.5]]))]
    assert active_specialists(p, specs).tolist() == [[True, False]]


def test_kl_objective_matches_a_loop():
    p, specs = _case(17, n=10, c=6, m=3)
    q = np.random.default_rng(1).dirichlet(np.ones(6), size=10)
    for n_top in (1, 2):
        active = _active_oracle(p, specs, n_top)
        expected = [_objective_oracle(q[i], p[i], _parts(specs, active, i)) for i in range(10)]
        np.testing.assert_allclose(kl_objective(q, p, specs, active), expected, rtol=1e-12)
    default = kl_objective(q, p, specs)  # n_top = 1
    active = _active_oracle(p, specs, 1)
    np.testing.assert_allclose(default, [_objective_oracle(q[i], p[i], _parts(specs, active, i))
                                         for i in range(10)], rtol=1e-12)


def test_kl_objective_zeros():
    p = np.array([[0.5, 0.5, 0.0]])
    specs = [([2], np.array([[0.0, 1.0]]))]
    active = np.array([[True]])
    assert kl_objective([[0.5, 0.5, 0.0]], p, specs, active)[0] == 0.0  # 0 log 0 = 0
    assert kl_objective([[1.0, 0.0, 0.0]], p, specs, active)[0] == np.inf
    assert kl_objective(p, p, specs, [[1]])[0] == 0.0  # a 0/1 mask


def test_dustbin_fold():
    q = np.random.default_rng(2).dirichlet(np.ones(5), size=4)
    subset = np.array([3, 0])
    expected = np.array([_fold(row, subset) for row in q])
    np.testing.assert_allclose(dustbin_fold(q, subset), expected, rtol=1e-15)
    np.testing.assert_allclose(dustbin_fold(q[1], [3, 0]), expected[1], rtol=1e-15)
    np.testing.assert_allclose(dustbin_fold(torch.tensor(q), torch.tensor([3, 0])), expected)


def test_empty_batch():
    q, n_iter = kl_inference(np.zeros((0, 3)), [([0], np.zeros((0, 2)))], return_n_iter=True)
    assert q.shape == (0, 3) and n_iter.shape == (0,)
    assert active_specialists(np.zeros((0, 3)), [([0], np.zeros((0, 2)))]).shape == (0, 1)


def test_docstring_examples_run():
    result = doctest.testmod(kdlab.inference)
    assert result.attempted >= 10 and result.failed == 0


# --- bad input --------------------------------------------------------------------------------


def _good():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    return p, [([0, 1], np.array([[0.2, 0.6, 0.2], [0.3, 0.3, 0.4]]))]


_P, _SPECS = _good()
_PM = _SPECS[0][1]


@pytest.mark.parametrize("kwargs, match", [
    ({"p_general": np.array([0.5, 0.5])}, "p_general must be 2-d"),
    ({"p_general": np.zeros((2, 0))}, "p_general must be 2-d"),
    ({"p_general": "probabilities"}, "p_general must be an array"),
    ({"p_general": None}, "p_general must be an array"),
    ({"p_general": np.array([[True, False, False]] * 2)}, "p_general must hold real"),
    ({"p_general": np.array([[0.5, 0.3, 0.3], [0.1, 0.2, 0.7]])}, "p_general.*sum to 1"),
    ({"p_general": np.array([[0.6, 0.6, -0.2], [0.1, 0.2, 0.7]])}, "p_general.*non-negative"),
    ({"p_general": np.array([[np.nan, 0.5, 0.5], [0.1, 0.2, 0.7]])}, "p_general must be finite"),
    ({"p_general": _P[:1]}, r"specialists\[0\] probs has 2 rows.*p_general has 1"),
    ({"specialists": [_PM]}, r"specialists\[0\] must be a \(subset, probs\) pair"),
    ({"specialists": "abc"}, "specialists must be a list"),
    ({"specialists": None}, "specialists must be a list"),
    ({"specialists": [([0, 1], _PM, 1)]}, r"specialists\[0\] must be a \(subset, probs\)"),
    ({"specialists": [([], _PM[:, :1])]}, r"specialists\[0\] subset is empty"),
    ({"specialists": [([0, 3], _PM)]}, r"specialists\[0\] subset: class ids must lie in"),
    ({"specialists": [([-1, 0], _PM)]}, r"specialists\[0\] subset: class ids must lie in"),
    ({"specialists": [([1, 1], _PM)]}, r"specialists\[0\] subset: duplicate class ids \[1\]"),
    ({"specialists": [([0, 1, 2], np.full((2, 4), 0.25))]},
     r"specialists\[0\] subset contains every one of the 3 classes"),
    ({"specialists": [([[0, 1]], _PM)]}, r"specialists\[0\] subset must be a 1-d"),
    ({"specialists": [([0], _PM)]}, r"specialists\[0\] probs must have 2 columns"),
    ({"specialists": [([0, 1], _PM[:1])]}, r"specialists\[0\] probs has 1 rows"),
    ({"specialists": _SPECS + [([2], np.array([[0.5, 0.6], [0.5, 0.5]]))]},
     r"specialists\[1\] probs.*sum to 1"),
    ({"specialists": [([0, 1], np.array([[1.2, -0.2, 0.0]] * 2))]},
     r"specialists\[0\] probs.*non-negative"),
    ({"n_top": 0}, r"n_top \(at most the number of classes\) must be an int in \[1, 3\]"),
    ({"n_top": 4}, r"n_top \(at most the number of classes\) must be an int in \[1, 3\]"),
    ({"n_top": 1.0}, "n_top .* must be an int"),
    ({"n_top": True}, "n_top .* must be an int"),
    ({"method": "newton"}, "method must be one of 'em', 'gradient'"),
    ({"method": None}, "method must be one of"),
    ({"tol": 0}, "tol must be"),
    ({"tol": float("nan")}, "tol must be"),
    ({"max_iter": 0}, "max_iter must be an int >= 1"),
    ({"max_iter": 2.5}, "max_iter must be an int"),
])
def test_kl_inference_bad_input(kwargs, match):
    (name, bad), = kwargs.items()
    error = error_for(bad, integer=name != "tol") if name in ("n_top", "tol", "max_iter") \
        else ValueError
    kwargs = {"p_general": _P, "specialists": _SPECS, **kwargs}
    with pytest.raises(error, match=match):
        kl_inference(**kwargs)


@pytest.mark.parametrize("subset, match", [
    ([0.0, 1.0], r"specialists\[0\] subset must hold integer"),
    ([True, False], r"specialists\[0\] subset must hold integer"),
    (None, r"specialists\[0\] subset must be a 1-d sequence of class ids"),
])
def test_kl_inference_subset_of_the_wrong_type(subset, match):
    with pytest.raises(TypeError, match=match):
        kl_inference(_P, [(subset, _PM)])


def test_sums_within_tolerance_are_accepted():
    p = _P + np.array([[5e-5, 0, 0], [0, 0, -5e-5]])
    q = kl_inference(p, _SPECS)  # row 0 consults the specialist, row 1 does not
    assert q[0].sum() == pytest.approx(1, abs=1e-12)
    np.testing.assert_array_equal(q[1], p[1])


@pytest.mark.parametrize("call, match", [
    (lambda: active_specialists(_P, _SPECS, 0), "n_top"),
    (lambda: active_specialists(np.full((2, 2), 0.5), [([0, 2], _PM)]),
     r"specialists\[0\] subset: class ids must lie in \[0, 2\)"),
    (lambda: kl_objective(_P[:1], _P, _SPECS), "q has 1 rows"),
    (lambda: kl_objective(_P[:, :2], _P, _SPECS), "q must have 3 columns"),
    (lambda: kl_objective(_P, _P, _SPECS, np.ones((2, 2), bool)), r"active must have shape"),
    (lambda: kl_objective(_P, _P, _SPECS, np.full((2, 1), 2)), "active must be boolean"),
    (lambda: dustbin_fold(np.ones((2, 2, 2)), [0]), "q must be 1-d or 2-d"),
    (lambda: dustbin_fold([-0.1, 1.1], [0]), "q must be non-negative"),
    (lambda: dustbin_fold([0.5, 0.5], [0, 1]), "subset contains every one of the 2"),
])
def test_helpers_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("y, error", [
    (np.array([True, False]), TypeError), (np.array([0.5, 1.0]), TypeError), (None, TypeError),
    (np.array([[0, 1]]), ValueError), (np.array([-1, 0]), ValueError)])
def test_covering_counts_refuses_bad_labels_by_name(y, error):
    with pytest.raises(error, match=r"^y "):
        covering_counts(y, [[0, 1]])
