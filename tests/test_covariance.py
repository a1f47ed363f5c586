"""Tests for kdlab.covariance against np.cov; hypothesis: any batch split and merge order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kdlab.covariance import (
    CovarianceAccumulator,
    correlation_from_covariance,
    prediction_correlation,
    prediction_covariance,
)

fast = settings(deadline=None, max_examples=60)


def probs(n, c, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(c), size=n)


def test_matches_np_cov():
    p = probs(500, 7)
    cov = prediction_covariance(p)
    assert cov.shape == (7, 7) and cov.dtype == np.float64
    np.testing.assert_allclose(cov, np.cov(p, rowvar=False), rtol=0, atol=1e-15)


def test_is_over_classes_not_examples():
    """C×C over classes whatever N; rows of probabilities sum to 1, so every column sums to 0."""
    p = probs(30, 4)
    cov = prediction_covariance(p)
    assert cov.shape == (4, 4)
    np.testing.assert_allclose(cov.sum(0), 0, atol=1e-15)


def test_float32_and_torch_inputs():
    p = probs(200, 5).astype(np.float32)
    expected = np.cov(p.astype(np.float64), rowvar=False)
    np.testing.assert_allclose(prediction_covariance(p), expected, atol=1e-15)
    out = prediction_covariance(torch.from_numpy(p))
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, expected, atol=1e-15)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensor_accumulates_on_device():
    p = probs(300, 6)
    acc = CovarianceAccumulator(6).update(torch.tensor(p, device="cuda"))
    assert acc._m2.device.type == "cuda"
    np.testing.assert_allclose(acc.covariance(), np.cov(p, rowvar=False), atol=1e-12)


def test_large_offset_is_stable_where_the_naive_formula_is_not():
    rng = np.random.default_rng(1)
    x = 1e8 + rng.random((4000, 3))
    exact = np.cov(x, rowvar=False)
    acc = CovarianceAccumulator(3, probabilities=False)  # any real columns, not probabilities
    for batch in np.array_split(x, 13):
        acc.update(batch)
    np.testing.assert_allclose(acc.covariance(), exact, rtol=1e-6, atol=1e-9)
    m = x.mean(0)
    naive = (x.T @ x / len(x) - np.outer(m, m)) * len(x) / (len(x) - 1)
    assert np.abs(naive - exact).max() > 1e-2  # catastrophic cancellation


def test_memory_is_o_c_squared():
    acc = CovarianceAccumulator(4)
    for seed in range(5):
        acc.update(probs(10_000, 4, seed))
    assert acc.n_ == 50_000
    assert acc._m2.shape == (4, 4) and acc.mean_.shape == (4,)


@st.composite
def split_and_order(draw):
    n = draw(st.integers(2, 60))
    c = draw(st.integers(1, 6))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=6)))
    order = draw(st.permutations(range(len(cuts) + 1)))
    seed = draw(st.integers(0, 2**16))
    return probs(n, c, seed) if c > 1 else np.random.default_rng(seed).random((n, 1)), cuts, order


@fast
@given(split_and_order(), st.booleans())
def test_any_split_and_merge_order_gives_np_cov(case, use_torch):
    x, cuts, order = case
    parts = np.split(x, cuts)
    accs = []
    for part in parts:  # one column: uniform random numbers, not probabilities
        acc = CovarianceAccumulator(x.shape[1], probabilities=x.shape[1] > 1)
        assert acc.update(torch.from_numpy(part) if use_torch else part) is acc
        accs.append(acc)
    total = CovarianceAccumulator(x.shape[1], probabilities=x.shape[1] > 1)
    for i in order:
        assert total.merge(accs[i]) is total
    assert total.n_ == len(x)
    np.testing.assert_allclose(total.mean_, x.mean(0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(total.covariance(), np.cov(x, rowvar=False).reshape(
        x.shape[1], x.shape[1]), rtol=0, atol=1e-10)


def test_mixed_numpy_and_torch_batches():
    x = probs(100, 3)
    acc = CovarianceAccumulator(3).update(x[:40]).update(torch.from_numpy(x[40:70])).update(x[70:])
    np.testing.assert_allclose(acc.covariance(), np.cov(x, rowvar=False), atol=1e-14)


def test_empty_batch_is_a_no_op():
    acc = CovarianceAccumulator(3).update(np.zeros((0, 3)))
    assert acc.n_ == 0


@pytest.mark.parametrize("bad, match", [
    (np.ones(5), "probs must be 2-d"),
    (np.ones((2, 3, 4)), "probs must be 2-d"),
    (np.array([[0.5, np.nan], [0.2, 0.8]]), "probs must be finite"),
    (torch.tensor([[0.5, float("inf")], [0.2, 0.8]]), "probs must be finite"),
    (np.ones((1, 3)), "at least 2 rows"),
    (np.ones((4, 0)), "at least one class"),
    (np.array([["a", "b"]]), "real numbers"),
    (None, "numpy array or torch tensor"),
])
def test_bad_input_to_prediction_covariance(bad, match):
    with pytest.raises(ValueError, match=match):
        prediction_covariance(bad)


def test_bad_input_to_accumulator():
    with pytest.raises(ValueError, match="n_classes must be an int >= 1"):
        CovarianceAccumulator(0)
    with pytest.raises(TypeError, match="n_classes must be an int"):
        CovarianceAccumulator(2.5)
    acc = CovarianceAccumulator(3)
    with pytest.raises(ValueError, match="batch has 2 classes .* expected 3"):
        acc.update(np.ones((4, 2)))
    with pytest.raises(ValueError, match="batch must be 2-d"):
        acc.update(np.ones(3))
    with pytest.raises(ValueError, match="other has 4 classes"):
        acc.merge(CovarianceAccumulator(4))
    with pytest.raises(ValueError, match="at least 2 observations"):
        acc.update(np.full((1, 3), 1 / 3)).covariance()


def test_covariance_can_stay_a_tensor():
    x = probs(50, 3)
    acc = CovarianceAccumulator(3).update(torch.from_numpy(x))
    cov = acc.covariance(as_numpy=False)
    assert isinstance(cov, torch.Tensor) and cov.dtype == torch.float64
    np.testing.assert_allclose(cov.numpy(), np.cov(x, rowvar=False), atol=1e-15)
    assert isinstance(CovarianceAccumulator(3).update(x).covariance(as_numpy=False), np.ndarray)


# --- correlation_from_covariance --------------------------------------------------------------

def test_correlation_matches_numpy_corrcoef():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(6, 0.3), size=400)
    corr = correlation_from_covariance(np.cov(probs, rowvar=False))
    assert np.allclose(corr, np.corrcoef(probs, rowvar=False), atol=1e-12)
    assert np.allclose(np.diag(corr), 1) and np.abs(corr).max() <= 1


def test_correlation_of_a_constant_class_is_a_zero_column_with_unit_diagonal():
    rng = np.random.default_rng(4)
    probs = np.column_stack([rng.dirichlet(np.ones(3), size=50) * 0.5, np.full(50, 0.5)])
    corr = correlation_from_covariance(np.cov(probs, rowvar=False))
    assert np.isfinite(corr).all()
    assert np.allclose(corr[3, :3], 0) and np.allclose(corr[:3, 3], 0) and corr[3, 3] == 1


def test_correlation_accepts_a_torch_covariance():
    cov = np.array([[4.0, 2.0], [2.0, 9.0]])
    assert np.allclose(correlation_from_covariance(torch.tensor(cov)),
                       [[1.0, 1 / 3], [1 / 3, 1.0]])


@pytest.mark.parametrize("bad, match", [
    (np.ones((2, 3)), "square"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "finite"),
    (np.array([[1.0, 0.5], [0.2, 1.0]]), "symmetric"),
    (np.array([[-1.0, 0.0], [0.0, 1.0]]), "non-negative diagonal"),
])
def test_correlation_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        correlation_from_covariance(bad)


def test_prediction_correlation_is_numpys_corrcoef_of_the_predictions():
    probs = np.random.default_rng(5).dirichlet(np.full(5, 0.4), size=300)
    assert np.allclose(prediction_correlation(probs), np.corrcoef(probs, rowvar=False))
    assert np.allclose(prediction_correlation(torch.tensor(probs)),
                       np.corrcoef(probs, rowvar=False))
