"""Tests for kdlab.temperature against independent oracles: torch, scipy and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kdlab.temperature import (
    entropy,
    gibbs,
    log_softmax_t,
    logit_matching_grad,
    soft_cross_entropy_grad,
    softmax_t,
)

fast = settings(deadline=None, max_examples=60)  # per test, so other modules keep their settings

n_classes = st.integers(min_value=2, max_value=12)


def logit_arrays(bound=30.0, batch=True):
    """Logits of shape (C,) or (B, C) with entries in [-bound, bound]."""
    shapes = st.tuples(st.integers(1, 4), n_classes) if batch else st.tuples(n_classes)
    return shapes.flatmap(lambda shape: arrays(
        np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False)))


temperatures = st.floats(1e-2, 1e2)


def centered(z):
    return z - z.mean(axis=-1, keepdims=True)


def autograd_soft_ce_grad(z, v, T):
    """dC/dz by autograd, for C = -sum_i p_i log q_i summed over examples (the oracle)."""
    z = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(torch.tensor(v, dtype=torch.float64) / T, dim=-1)
    loss = -(p * torch.log_softmax(z / T, dim=-1)).sum()
    loss.backward()
    return z.grad.numpy()


# --- softmax_t and log_softmax_t against torch and scipy -----------------------------------------


@fast
@given(logit_arrays(), temperatures)
def test_softmax_t_matches_scipy_and_torch(z, T):
    expected = scipy.special.softmax(z / T, axis=-1)
    np.testing.assert_allclose(softmax_t(z, T), expected, rtol=1e-9, atol=1e-12)
    got = softmax_t(torch.from_numpy(z), T).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got, torch.softmax(torch.from_numpy(z) / T, -1).numpy(),
                               rtol=1e-9, atol=1e-12)


@fast
@given(logit_arrays(), temperatures)
def test_log_softmax_t_matches_scipy_and_torch(z, T):
    expected = scipy.special.log_softmax(z / T, axis=-1)
    np.testing.assert_allclose(log_softmax_t(z, T), expected, rtol=1e-9, atol=1e-9)
    got = log_softmax_t(torch.from_numpy(z), T).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got, torch.log_softmax(torch.from_numpy(z) / T, -1).numpy(),
                               rtol=1e-9, atol=1e-9)


def test_T_equal_one_is_the_ordinary_softmax():
    z = np.array([[3.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(softmax_t(z), scipy.special.softmax(z, axis=-1))
    np.testing.assert_allclose(softmax_t(z, 1.0), np.exp(z) / np.exp(z).sum(-1, keepdims=True))


def test_gibbs_is_softmax_of_negative_energies():
    E = np.array([0.5, 1.0, 3.0])
    T = 2.0
    np.testing.assert_allclose(gibbs(E, T), np.exp(-E / T) / np.exp(-E / T).sum())
    assert np.argmax(gibbs(E, T)) == np.argmin(E)  # low energy, high probability


@fast
@given(logit_arrays(bound=10.0, batch=False))
def test_low_temperature_gives_arg_max_one_hot(z):
    top2 = np.sort(z)[-2:]
    assume(top2[1] - top2[0] > 0.05)  # a unique maximum
    p = softmax_t(z, T=1e-3)
    np.testing.assert_allclose(p, np.eye(len(z))[np.argmax(z)], atol=1e-12)


@fast
@given(logit_arrays(bound=10.0))
def test_high_temperature_gives_uniform(z):
    p = softmax_t(z, T=1e6)
    np.testing.assert_allclose(p, np.full_like(z, 1.0 / z.shape[-1]), atol=1e-5)


@fast
@given(logit_arrays(bound=20.0, batch=False),
       st.lists(st.floats(1e-2, 1e2), min_size=2, max_size=6, unique=True))
def test_entropy_grows_with_temperature(z, Ts):
    H = [float(entropy(softmax_t(z, T))) for T in sorted(Ts)]
    assert all(a <= b + 1e-9 for a, b in zip(H, H[1:], strict=False))
    assert 0.0 <= H[0] and H[-1] <= np.log(len(z)) + 1e-9


@settings(deadline=None, max_examples=80)
@given(st.lists(st.sampled_from([1e4, -1e4, 0.0, 9999.0, -9999.5, 3.0]), min_size=1, max_size=10),
       st.floats(1e-3, 1e3), st.sampled_from(["float32", "float64"]))
def test_stable_for_huge_logits_and_extreme_temperatures(values, T, dtype):
    z = np.array(values, dtype=dtype)
    for p in (softmax_t(z, T), softmax_t(torch.from_numpy(z), T).numpy()):
        assert p.dtype == np.dtype(dtype)
        assert np.isfinite(p).all() and (p >= 0).all()
        assert abs(float(p.sum()) - 1.0) < 1e-5
    for lp in (log_softmax_t(z, T), log_softmax_t(torch.from_numpy(z), T).numpy()):
        assert np.isfinite(lp).all() and (lp <= 0).all()


@fast
@given(arrays(np.float64, st.tuples(n_classes), elements=st.floats(-1e4, 1e4)),
       st.floats(1e-3, 1e3))
def test_stable_for_any_logits_up_to_1e4(z, T):
    p = softmax_t(z, T)
    assert np.isfinite(p).all()
    assert abs(p.sum() - 1.0) < 1e-9
    np.testing.assert_allclose(p, scipy.special.softmax(z / T), atol=1e-9)


# --- entropy -------------------------------------------------------------------------------------


@fast
@given(logit_arrays(), temperatures)
def test_entropy_matches_scipy(z, T):
    p = softmax_t(z, T)
    np.testing.assert_allclose(entropy(p), scipy.stats.entropy(p, axis=-1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(entropy(torch.from_numpy(p)).numpy(), entropy(p), rtol=1e-12)


def test_entropy_special_values_and_axis():
    assert entropy(np.array([0.0, 1.0, 0.0])) == 0.0  # 0 log 0 = 0
    np.testing.assert_allclose(entropy(np.full(8, 1 / 8)), np.log(8))
    p = np.array([[0.5, 0.25], [0.5, 0.75]])
    np.testing.assert_allclose(entropy(p, axis=0), scipy.stats.entropy(p, axis=0))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_entropy_accepts_half_precision_softmax_output(dtype):
    z = torch.randn(64, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 30
    p = softmax_t(z.to(dtype), 3.0)
    assert p.dtype == dtype
    h = entropy(p.float())  # rounding to half precision must not trip the sum check
    np.testing.assert_allclose(h.numpy(), entropy(softmax_t(z, 3.0)).numpy(), atol=0.05)


def test_entropy_gradient_is_finite_at_zero_probability():
    p = torch.tensor([0.0, 0.3, 0.7], dtype=torch.float64, requires_grad=True)
    entropy(p).backward()
    assert torch.isfinite(p.grad).all()


# --- dtypes, kinds and gradients -----------------------------------------------------------------


@pytest.mark.parametrize("fn", [softmax_t, log_softmax_t])
def test_numpy_dtype_is_kept(fn):
    assert fn(np.zeros(3, dtype=np.float32), 2.0).dtype == np.float32
    assert fn(np.zeros(3, dtype=np.float64), 2.0).dtype == np.float64
    assert fn(np.zeros(3, dtype=np.float16), 2.0).dtype == np.float16
    assert fn(np.arange(3), 2.0).dtype == np.float64  # integers become float64
    out = fn([1.0, 2.0], 2.0)  # a list is read as a numpy array
    assert isinstance(out, np.ndarray) and out.dtype == np.float64


@pytest.mark.parametrize("fn", [softmax_t, log_softmax_t])
def test_torch_in_torch_out_with_gradients(fn):
    z = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    out = fn(z, 2.0)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    out[0, 0].backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert fn(torch.zeros(3, dtype=torch.float64)).dtype == torch.float64
    assert fn(torch.arange(3)).dtype == torch.get_default_dtype()


def test_temperature_may_be_a_0d_array_or_tensor_and_gets_gradients():
    z = np.array([1.0, 2.0, 3.0])
    expected = softmax_t(z, 2.0)
    np.testing.assert_allclose(softmax_t(z, np.array(2.0)), expected)
    np.testing.assert_allclose(softmax_t(z, np.float32(2.0)), expected, rtol=1e-6)
    np.testing.assert_allclose(softmax_t(z, torch.tensor(2.0)), expected, rtol=1e-6)
    T = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = entropy(softmax_t(torch.from_numpy(z), T))
    out.backward()
    assert T.grad is not None and float(T.grad) > 0  # entropy grows with T


def test_softmax_t_gradient_matches_autograd_of_torch_softmax():
    rng = np.random.default_rng(0)
    z0 = rng.normal(size=(4, 6))
    w = torch.from_numpy(rng.normal(size=(4, 6)))
    grads = []
    for fn in (lambda z: softmax_t(z, 3.0), lambda z: torch.softmax(z / 3.0, dim=-1)):
        z = torch.tensor(z0, requires_grad=True)
        (fn(z) * w).sum().backward()
        grads.append(z.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


# --- the soft-target gradient (q - p) / T ---------------------------------------------------------


@fast
@given(logit_arrays(bound=10.0), temperatures, st.integers(0, 2**32 - 1))
def test_soft_cross_entropy_grad_matches_autograd(z, T, seed):
    v = np.random.default_rng(seed).normal(scale=5.0, size=z.shape)
    expected = autograd_soft_ce_grad(z, v, T)
    np.testing.assert_allclose(soft_cross_entropy_grad(z, v, T), expected, rtol=1e-7, atol=1e-12)
    got = soft_cross_entropy_grad(torch.from_numpy(z), torch.from_numpy(v), T)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-7, atol=1e-12)


def test_soft_cross_entropy_grad_rows_sum_to_zero_and_keep_dtype():
    rng = np.random.default_rng(1)
    z, v = rng.normal(size=(5, 10)).astype(np.float32), rng.normal(size=(5, 10))
    g = soft_cross_entropy_grad(z, v, 4.0)
    assert g.dtype == np.float32 and g.shape == (5, 10)
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-6)
    gt = soft_cross_entropy_grad(torch.from_numpy(z), v, 4.0)  # teacher follows the student
    assert isinstance(gt, torch.Tensor) and gt.dtype == torch.float32


# --- the high-temperature limit: logit matching --------------------------------------------------


def relative_error(z, v, T, center=False):
    exact = soft_cross_entropy_grad(z, v, T)
    approx = logit_matching_grad(z, v, T, center=center)
    return np.linalg.norm(exact - approx) / np.linalg.norm(exact)


@fast
@given(logit_arrays(bound=5.0), st.integers(0, 2**32 - 1))
def test_logit_matching_limit_improves_with_temperature(z, seed):
    v = np.random.default_rng(seed).normal(scale=2.0, size=z.shape)
    z, v = centered(z), centered(v)
    assume(np.linalg.norm(z - v) > 1e-3)
    errors = [relative_error(z, v, T) for T in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-2


def test_logit_matching_is_the_paper_formula():
    z = np.array([[1.0, -2.0, 1.0]])
    v = np.array([[0.0, 0.5, -0.5]])
    np.testing.assert_allclose(logit_matching_grad(z, v, 4.0), (z - v) / (3 * 16.0))


def test_logit_matching_needs_zero_mean_logits_unless_centered():
    rng = np.random.default_rng(2)
    z, v = rng.normal(size=(3, 10)) + 5.0, rng.normal(size=(3, 10)) - 5.0  # means differ
    assert relative_error(z, v, 1000.0, center=False) > 1.0
    assert relative_error(z, v, 1000.0, center=True) < 1e-2
    zc, vc = centered(z), centered(v)
    np.testing.assert_allclose(logit_matching_grad(z, v, 7.0, center=True),
                               logit_matching_grad(zc, vc, 7.0), atol=1e-15)


def test_logit_matching_torch():
    z = torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64)
    v = torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64)
    g = logit_matching_grad(z, v, 2.0)
    assert isinstance(g, torch.Tensor)
    np.testing.assert_allclose(g.numpy(), [[1 / 12, 0.0, -1 / 12]])


# --- why the soft loss is multiplied by T^2 ------------------------------------------------------


def test_soft_gradient_shrinks_like_one_over_T_squared_and_T2_restores_it():
    rng = np.random.default_rng(3)
    z, v = centered(rng.normal(scale=3.0, size=(64, 10))), centered(rng.normal(scale=3.0,
                                                                                size=(64, 10)))
    Ts = np.array([2.0, 3.0, 5.0, 8.0, 12.0, 20.0])
    size = np.array([np.linalg.norm(soft_cross_entropy_grad(z, v, T)) for T in Ts])
    assert np.all(np.diff(size) < 0)
    # Without T^2: from T=2 to T=20 the gradient shrinks by roughly (20/2)^2 = 100.
    assert 50 < size[0] / size[-1] < 150
    # With T^2: it stays roughly constant across the whole range.
    scaled = size * Ts**2
    assert scaled.max() / scaled.min() < 1.5


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("T, error", [
    (0.0, ValueError), (-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    (np.array([1.0, 2.0]), ValueError), (torch.tensor([1.0, 2.0]), ValueError),
    (torch.tensor(-2.0), ValueError), (np.float64(-0.5), ValueError),
    ("2", TypeError), (None, TypeError), (True, TypeError), (1 + 2j, TypeError),
])
@pytest.mark.parametrize("fn", [
    softmax_t, log_softmax_t, gibbs,
    lambda z, T: soft_cross_entropy_grad(z, z, T), lambda z, T: logit_matching_grad(z, z, T),
])
def test_bad_temperature(fn, T, error):
    with pytest.raises(error, match="T must be a positive finite number"):
        fn(np.zeros(3), T)


@pytest.mark.parametrize("fn", [softmax_t, log_softmax_t])
def test_check_finite_false_skips_the_check(fn):
    z = torch.tensor([1.0, float("nan")])
    assert torch.isnan(fn(z, 2.0, check_finite=False)).any()  # no error, nan propagates
    np.testing.assert_allclose(fn(np.array([1.0, 2.0]), 2.0, check_finite=False),
                               fn(np.array([1.0, 2.0]), 2.0))


def test_bad_temperature_message_shows_the_value():
    with pytest.raises(ValueError, match=r"T must be a positive finite number, got -1$"):
        softmax_t(np.zeros(3), -1)


@pytest.mark.parametrize("logits, error, match", [
    (np.array([1.0, np.nan]), ValueError, "logits must be finite"),
    (np.array([1.0, np.inf]), ValueError, "logits must be finite"),
    (torch.tensor([1.0, float("-inf")]), ValueError, "logits must be finite"),
    (np.float64(1.0), ValueError, "logits must have at least one axis"),
    (np.zeros((2, 0)), ValueError, "logits must have at least one class"),
    ("1, 2", TypeError, "logits must be"),
    (None, TypeError, "logits must be"),
    (np.array(["a", "b"]), TypeError, "logits must hold real numbers"),
    (np.array([True, False]), TypeError, "logits must hold real numbers"),
    (np.array([1 + 1j, 2]), TypeError, "logits must hold real numbers"),
    (torch.tensor([True]), TypeError, "logits must hold real numbers"),
    ([[1.0, 2.0], [3.0]], TypeError, "logits must be"),
])
@pytest.mark.parametrize("fn", [softmax_t, log_softmax_t])
def test_bad_logits(fn, logits, error, match):
    with pytest.raises(error, match=match):
        fn(logits, 1.0)


@pytest.mark.parametrize("fn", [soft_cross_entropy_grad, logit_matching_grad])
def test_bad_student_or_teacher_logits(fn):
    with pytest.raises(ValueError, match="student_logits must be finite"):
        fn(np.array([np.nan, 1.0]), np.zeros(2), 2.0)
    with pytest.raises(ValueError, match="teacher_logits must be finite"):
        fn(np.zeros(2), np.array([np.nan, 1.0]), 2.0)
    with pytest.raises(ValueError, match=r"teacher_logits must have the same shape"):
        fn(np.zeros((2, 3)), np.zeros((2, 4)), 2.0)
    with pytest.raises(TypeError, match="teacher_logits must"):
        fn(np.zeros(2), "0, 0", 2.0)


def test_bad_center():
    with pytest.raises(TypeError, match="center must be a bool"):
        logit_matching_grad(np.zeros(2), np.zeros(2), 2.0, center="yes")


@pytest.mark.parametrize("probs, kwargs, error, match", [
    (np.array([-0.5, 1.5]), {}, ValueError, "probs must be non-negative"),
    (np.array([2.0, 3.0]), {}, ValueError, "probs must sum to 1"),
    (torch.tensor([2.0, 3.0]), {}, ValueError, "probs must sum to 1"),
    (np.array([0.5, np.nan]), {}, ValueError, "probs must be finite"),
    (np.array([0.5, 0.5]), {"axis": 1}, ValueError, "axis must be in"),
    (np.array([0.5, 0.5]), {"axis": 0.0}, TypeError, "axis must be an int"),
    ("0.5, 0.5", {}, TypeError, "probs must be"),
])
def test_bad_entropy_input(probs, kwargs, error, match):
    with pytest.raises(error, match=match):
        entropy(probs, **kwargs)
