"""kdlab.experiments against independent oracles: the paper's numbers, gaps, bias shifts, sweeps."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.special
import torch
from _bad import error_for
from hypothesis import given, settings
from hypothesis import strategies as st

import kdlab
import kdlab.train
from kdlab.experiments import (
    PAPER_MNIST,
    PAPER_SPEECH,
    choose_bias_shift,
    distill_grid,
    errors_with_bias_shift,
    gap_closed,
    mean_soft_targets,
    raise_bias,
    scale_count,
)
from kdlab.models import MLP


def _logits_labels(seed, n=12, c=4, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=scale, size=(n, c)), rng.integers(0, c, size=n)


def _argmax_errors(z, y):
    """Errors of the plain arg-max, through torch (not the numpy path of the library)."""
    return int((torch.as_tensor(z).argmax(dim=1) != torch.as_tensor(y)).sum())


# --- the paper's numbers (DESIGN.md, "Numbers in the paper to mirror") ----------------------------


def test_paper_mnist_numbers():
    assert PAPER_MNIST["teacher"] == 67
    assert PAPER_MNIST["student"] == 146
    assert PAPER_MNIST["distilled"] == 74
    assert PAPER_MNIST["omitted"] == 206
    assert PAPER_MNIST["omitted_on_class"] == 133
    assert PAPER_MNIST["n_class_test"] == 1010
    assert PAPER_MNIST["shifted"] == 109
    assert PAPER_MNIST["shifted_on_class"] == 14
    assert PAPER_MNIST["bias_shift"] == 3.5
    assert PAPER_MNIST["n_test"] == 10000  # MNIST's test set


def test_paper_mnist_numbers_are_consistent():
    p = PAPER_MNIST
    assert p["teacher"] < p["distilled"] < p["student"]  # distillation closes most of the gap
    assert p["shifted"] < p["omitted"]  # raising the bias of 3 helps
    assert p["shifted_on_class"] < p["omitted_on_class"] <= p["n_class_test"] < p["n_test"]
    assert p["omitted_on_class"] <= p["omitted"] and p["shifted_on_class"] <= p["shifted"]


def test_paper_speech_numbers():
    assert PAPER_SPEECH == {"hard_3pct": 0.445, "soft_3pct": 0.570, "full": 0.589}
    assert PAPER_SPEECH["hard_3pct"] < PAPER_SPEECH["soft_3pct"] < PAPER_SPEECH["full"]


# --- scale_count ---------------------------------------------------------------------------------


def test_scale_count_rescales_the_paper_teacher():
    assert scale_count(PAPER_MNIST["teacher"], 5000) == pytest.approx(67 * 5000 / 10000)
    assert scale_count(PAPER_MNIST["teacher"], PAPER_MNIST["n_test"]) == 67
    assert isinstance(scale_count(67, 5000), float)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 10**6), n=st.integers(1, 10**6), n_ref=st.integers(1, 10**6))
def test_scale_count_keeps_the_error_rate(count, n, n_ref):
    got = scale_count(count, n, n_ref)
    assert got == pytest.approx(float(Fraction(count) * n / n_ref), rel=1e-12)
    assert scale_count(count, n_ref, n_ref) == pytest.approx(count, rel=1e-12)


def test_scale_count_accepts_numpy_scalars():
    assert scale_count(np.float64(2.5), np.int64(4), np.int64(2)) == pytest.approx(5.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"count": -1}, "count"),
    ({"count": float("nan")}, "count"),
    ({"count": float("inf")}, "count"),
    ({"count": True}, "count"),
    ({"count": "67"}, "count"),
    ({"n": 0}, "^n must"),
    ({"n": 2.5}, "^n must"),
    ({"n": True}, "^n must"),
    ({"n_ref": 0}, "n_ref"),
    ({"n_ref": -10}, "n_ref"),
])
def test_scale_count_bad_input(kwargs, match):
    (name, bad), = kwargs.items()
    kwargs = {"count": 67, "n": 5000, **kwargs}
    with pytest.raises(error_for(bad, integer=name != "count"), match=match):
        scale_count(**kwargs)


# --- gap_closed ----------------------------------------------------------------------------------


def test_gap_closed_on_the_paper_numbers():
    t, s, d = PAPER_MNIST["teacher"], PAPER_MNIST["student"], PAPER_MNIST["distilled"]
    assert gap_closed(t, s, d) == pytest.approx(float(Fraction(s - d, s - t)))


@settings(max_examples=80, deadline=None)
@given(t=st.integers(0, 5000), gap=st.integers(1, 5000), d=st.integers(0, 10000))
def test_gap_closed_matches_exact_fraction(t, gap, d):
    s = t + gap
    assert gap_closed(t, s, d) == pytest.approx(float(Fraction(s - d, s - t)), rel=1e-12)
    assert gap_closed(t, s, t) == 1.0  # as good as the teacher
    assert gap_closed(t, s, s) == 0.0  # no better than the student alone


@settings(max_examples=40, deadline=None)
@given(s=st.floats(0, 1e4), extra=st.floats(0, 1e4), d=st.floats(0, 1e4))
def test_gap_closed_is_nan_when_the_teacher_is_not_better(s, extra, d):
    assert math.isnan(gap_closed(s + extra, s, d))  # teacher worse than, or equal to, student


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), None, "67", True])
@pytest.mark.parametrize("name", ["teacher_err", "student_err", "distilled_err"])
def test_gap_closed_bad_input_names_the_argument(name, bad):
    kwargs = {"teacher_err": 67, "student_err": 146, "distilled_err": 74, name: bad}
    with pytest.raises(error_for(bad), match=name):
        gap_closed(**kwargs)


# --- mean_soft_targets ---------------------------------------------------------------------------


def _mean_soft_targets_loop(z, y, T, c):
    """Oracle: one example at a time, scipy's softmax, a running sum per class."""
    sums, counts = np.zeros((c, c)), np.zeros(c)
    for row, label in zip(z, y, strict=True):
        sums[label] += scipy.special.softmax(row / T)
        counts[label] += 1
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 30), c=st.integers(2, 8),
       T=st.floats(0.2, 50))
def test_mean_soft_targets_equals_loop_and_one_hot_oracles(seed, n, c, T):
    z, y = _logits_labels(seed, n, c)
    got = mean_soft_targets(z, y, T=T)
    assert got.shape == (c, c)
    np.testing.assert_allclose(got, _mean_soft_targets_loop(z, y, T, c), rtol=1e-10, atol=1e-14)
    # the same as a one-hot matrix product in torch
    probs = torch.softmax(torch.as_tensor(z) / T, dim=1)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y), c).double()
    counts = onehot.sum(0)
    present = (counts > 0).numpy()
    oracle = (onehot.T @ probs)[present] / counts[present, None]
    np.testing.assert_allclose(got[present], oracle.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got[present].sum(axis=1), 1.0, rtol=1e-12)
    assert np.isnan(got[~present]).all()


def test_mean_soft_targets_absent_class_gets_a_nan_row():
    z, _ = _logits_labels(1, n=9, c=4)
    y = np.array([0, 0, 1, 1, 3, 3, 3, 0, 1])  # no example of class 2
    got = mean_soft_targets(z, y)
    assert np.isnan(got[2]).all()
    assert np.isfinite(np.delete(got, 2, axis=0)).all()
    np.testing.assert_allclose(np.delete(got, 2, axis=0).sum(axis=1), 1.0)


def test_mean_soft_targets_temperature_limits():
    z, y = _logits_labels(2, n=40, c=5)
    c = z.shape[1]
    # T large: every softmax is uniform
    np.testing.assert_allclose(mean_soft_targets(z, y, T=1e6), np.full((c, c), 1 / c), atol=1e-5)
    # T small: one-hot arg-max, so row c counts where the examples of class c go
    z = np.stack([np.random.default_rng(k).permutation(c) for k in range(len(y))]).astype(float)
    cold = mean_soft_targets(z, y, T=1e-2)  # logits differ by >= 1: exp(-100) is nothing
    counts = np.zeros((c, c))
    np.add.at(counts, (y, z.argmax(axis=1)), 1)
    np.testing.assert_allclose(cold, counts / counts.sum(axis=1, keepdims=True), atol=1e-9)


def test_mean_soft_targets_accepts_n_classes_and_lists():
    z, y = _logits_labels(3, n=6, c=3)
    np.testing.assert_allclose(mean_soft_targets(z.tolist(), y.tolist(), n_classes=3),
                               mean_soft_targets(z, y))


@pytest.mark.parametrize("kwargs, match", [
    ({"logits": np.zeros(4)}, "logits"),
    ({"logits": np.zeros((4, 0))}, "logits"),
    ({"logits": np.zeros((4, 3, 1))}, "logits"),
    ({"y": np.array([0, 1, 2])}, "^y"),
    ({"y": np.array([0.0, 1.0, 2.0, 0.0])}, "^y"),
    ({"y": np.array([[0, 1, 2, 0]])}, "^y"),
    ({"y": np.array([0, 1, 3, 0])}, "^y"),
    ({"y": np.array([0, -1, 2, 0])}, "^y"),
    ({"n_classes": 4}, "n_classes"),
    ({"n_classes": 3.0}, "n_classes"),
    ({"n_classes": True}, "n_classes"),
    ({"T": 0.0}, "T must"),
    ({"T": -2.0}, "T must"),
])
def test_mean_soft_targets_bad_input(kwargs, match):
    kwargs = {"logits": np.zeros((4, 3)), "y": np.array([0, 1, 2, 0]), **kwargs}
    with pytest.raises(ValueError, match=match):
        mean_soft_targets(**kwargs)


def test_mean_soft_targets_bad_temperature_type():
    with pytest.raises(TypeError, match="T must"):
        mean_soft_targets(np.zeros((2, 2)), np.array([0, 1]), T="hot")


# --- raise_bias ----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**4), c=st.integers(2, 6), cls_frac=st.floats(0, 0.999),
       delta=st.floats(-20, 20))
def test_raise_bias_adds_delta_to_one_logit_column(seed, c, cls_frac, delta):
    cls = int(cls_frac * c)
    net = MLP(5, (4,), c, seed=seed)
    X = np.random.default_rng(seed).normal(size=(7, 5)).astype(np.float32)
    before = kdlab.predict_logits(net, X).astype(np.float64)
    shifted = raise_bias(net, cls, delta)
    expected = before.copy()
    expected[:, cls] += delta
    np.testing.assert_allclose(kdlab.predict_logits(shifted, X), expected, rtol=1e-5,
                               atol=1e-5 * (1 + abs(delta)))
    # the odds of cls against every other class are multiplied by exp(delta)
    log_odds = np.log(scipy.special.softmax(kdlab.predict_logits(shifted, X).astype(float), 1))
    log_odds0 = np.log(scipy.special.softmax(before, 1))
    others = [k for k in range(c) if k != cls]
    np.testing.assert_allclose((log_odds[:, [cls]] - log_odds[:, others])
                               - (log_odds0[:, [cls]] - log_odds0[:, others]), delta,
                               atol=1e-4 * (1 + abs(delta)))


def test_raise_bias_leaves_the_original_alone():
    net = MLP(5, (4,), 3, seed=0)
    net.train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    shifted = raise_bias(net, 1, 3.5)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert net.training  # the original's mode is untouched
    assert not shifted.training  # the copy is ready for evaluation
    assert shifted is not net and shifted.head.bias is not net.head.bias
    expected = state["head.bias"].clone()
    expected[1] += 3.5
    torch.testing.assert_close(shifted.head.bias.detach(), expected)
    torch.testing.assert_close(shifted.head.weight.detach(), state["head.weight"])


def test_raise_bias_zero_is_the_same_model():
    net = MLP(5, (4,), 3, seed=0)
    X = np.random.default_rng(0).normal(size=(6, 5))
    np.testing.assert_array_equal(kdlab.predict_logits(raise_bias(net, 2, 0.0), X),
                                  kdlab.predict_logits(net, X))


@pytest.mark.parametrize("kwargs, match", [
    ({"model": torch.nn.Linear(5, 3)}, "model"),
    ({"model": torch.nn.Sequential(torch.nn.Linear(5, 3))}, "model"),
    ({"cls": 3}, "cls"),
    ({"cls": -1}, "cls"),
    ({"cls": 1.0}, "cls"),
    ({"cls": True}, "cls"),
    ({"delta": float("nan")}, "delta"),
    ({"delta": float("inf")}, "delta"),
    ({"delta": "3.5"}, "delta"),
    ({"delta": True}, "delta"),
])
def test_raise_bias_bad_input(kwargs, match):
    (name, bad), = kwargs.items()
    error = ValueError if name == "model" else error_for(bad, integer=name == "cls")
    kwargs = {"model": MLP(5, (4,), 3, seed=0), "cls": 1, "delta": 3.5, **kwargs}
    with pytest.raises(error, match=match):
        raise_bias(**kwargs)


def test_raise_bias_needs_a_bias():
    net = MLP(5, (4,), 3, seed=0)
    net.head = torch.nn.Linear(4, 3, bias=False)
    with pytest.raises(ValueError, match="model"):
        raise_bias(net, 0, 1.0)


# --- errors_with_bias_shift ----------------------------------------------------------------------


def _errors_oracle(z, y, cls, grid):
    """All shifts at once by broadcasting in torch: (K, N, C) logits, one arg-max."""
    z, grid = torch.as_tensor(z), torch.as_tensor(np.asarray(grid, dtype=float))
    onehot = torch.nn.functional.one_hot(torch.tensor(cls), z.shape[1]).double()
    shifted = z[None] + grid[:, None, None] * onehot
    return (shifted.argmax(dim=2) != torch.as_tensor(y)).sum(dim=1).numpy()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 30), c=st.integers(2, 6),
       cls_frac=st.floats(0, 0.999), grid=st.lists(st.floats(-10, 10), min_size=1, max_size=8))
def test_errors_with_bias_shift_equals_broadcast_oracle(seed, n, c, cls_frac, grid):
    z, y = _logits_labels(seed, n, c)
    cls = int(cls_frac * c)
    got = errors_with_bias_shift(z, y, cls, grid)
    assert got.shape == (len(grid),) and np.issubdtype(got.dtype, np.integer)
    np.testing.assert_array_equal(got, _errors_oracle(z, y, cls, grid))
    assert ((0 <= got) & (got <= n)).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 30), c=st.integers(2, 6),
       cls_frac=st.floats(0, 0.999))
def test_errors_with_bias_shift_at_zero_is_plain_argmax(seed, n, c, cls_frac):
    z, y = _logits_labels(seed, n, c)
    cls = int(cls_frac * c)
    assert errors_with_bias_shift(z, y, cls, [0.0]).tolist() == [_argmax_errors(z, y)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), c=st.integers(2, 6), cls_frac=st.floats(0, 0.999))
def test_errors_on_the_raised_class_never_grow(seed, c, cls_frac):
    z, y = _logits_labels(seed, 40, c)
    cls = int(cls_frac * c)
    grid = np.linspace(-10, 10, 21)
    mine = y == cls
    on_class = errors_with_bias_shift(z[mine], y[mine], cls, grid) if mine.any() else np.zeros(21)
    assert (np.diff(on_class) <= 0).all()
    big = np.abs(z).max() * 2 + 1  # larger than any logit difference: cls always wins
    assert errors_with_bias_shift(z, y, cls, [big]).tolist() == [int((y != cls).sum())]


def test_errors_with_bias_shift_equals_raise_bias_on_a_model():
    net = MLP(5, (6,), 4, seed=1)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 5)), rng.integers(0, 4, size=50)
    grid = [-2.0, -0.5, 0.0, 0.5, 2.0]
    z = kdlab.predict_logits(net, X)
    expected = [kdlab.evaluate(raise_bias(net, 2, d), X, y)["errors"] for d in grid]
    assert errors_with_bias_shift(z, y, 2, grid).tolist() == expected


@pytest.mark.parametrize("kwargs, match", [
    ({"logits": np.array([[np.nan, 0.0], [1.0, 0.0]])}, "logits"),
    ({"y": np.array([0, 2])}, "^y"),
    ({"grid": ["big"]}, "grid"),
])
def test_errors_with_bias_shift_rejects_bad_values(kwargs, match):
    kwargs = {"logits": np.array([[1.0, 0.0], [0.0, 1.0]]), "y": np.array([0, 1]), "cls": 1,
              "grid": [0.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        errors_with_bias_shift(**kwargs)


def test_errors_with_bias_shift_does_not_modify_its_input():
    z, y = _logits_labels(4)
    copy = z.copy()
    errors_with_bias_shift(z, y, 1, [5.0, -5.0])
    np.testing.assert_array_equal(z, copy)


@pytest.mark.parametrize("kwargs, match", [
    ({"logits": np.zeros(4)}, "logits"),
    ({"logits": np.zeros((4, 0))}, "logits"),
    ({"y": np.array([0, 1])}, "^y"),
    ({"y": None}, "^y"),
    ({"cls": 3}, "cls"),
    ({"cls": -1}, "cls"),
    ({"cls": 0.5}, "cls"),
    ({"cls": True}, "cls"),
    ({"grid": []}, "grid"),
    ({"grid": [[0.0, 1.0]]}, "grid"),
    ({"grid": [0.0, float("nan")]}, "grid"),
    ({"grid": [float("inf")]}, "grid"),
    ({"grid": 1.0}, "grid"),
])
def test_errors_with_bias_shift_bad_input(kwargs, match):
    (name, bad), = kwargs.items()
    error = error_for(bad, integer=True) if name == "cls" else ValueError
    kwargs = {"logits": np.zeros((4, 3)), "y": np.array([0, 1, 2, 0]), "cls": 1,
              "grid": [0.0, 1.0], **kwargs}
    with pytest.raises(error, match=match):
        errors_with_bias_shift(**kwargs)


# --- choose_bias_shift ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), c=st.integers(2, 5), cls_frac=st.floats(0, 0.999),
       grid=st.lists(st.sampled_from([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]),
                     min_size=1, max_size=9))
def test_choose_bias_shift_minimises_errors_then_abs_shift(seed, c, cls_frac, grid):
    z, y = _logits_labels(seed, 15, c, scale=1.0)
    cls = int(cls_frac * c)
    shift, errors = choose_bias_shift(z, None, y, cls, grid)
    assert isinstance(shift, float)
    np.testing.assert_array_equal(errors, _errors_oracle(z, y, cls, grid))
    best = [g for g, e in zip(grid, errors, strict=True) if e == min(errors)]
    assert shift in best
    assert abs(shift) == min(abs(g) for g in best)


def test_choose_bias_shift_ties_go_to_the_smallest_abs_shift():
    z = np.array([[1.0, 0.0], [1.0, 0.5]])
    y = np.array([0, 0])  # any shift below 0.5 is perfect
    shift, errors = choose_bias_shift(z, None, y, 1, [0.4, -3.0, 0.2, -0.1, 2.0])
    assert errors.tolist() == [0, 0, 0, 0, 2]
    assert shift == -0.1


def test_choose_bias_shift_docstring_example():
    z = np.array([[1.0, 0.0], [1.0, 0.5], [1.0, 0.8]])
    shift, errors = choose_bias_shift(z, None, np.array([0, 1, 1]), 1, [0.0, 0.3, 0.6, 2.0])
    assert shift == 0.6 and errors.tolist() == [2, 1, 0, 1]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**4), cls=st.integers(0, 3))
def test_choose_bias_shift_with_a_model_equals_with_its_logits(seed, cls):
    net = MLP(6, (5,), 4, seed=seed)
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(30, 6)).astype(np.float32), rng.integers(0, 4, size=30)
    grid = np.linspace(-3, 3, 13)
    by_model = choose_bias_shift(net, X, y, cls, grid)
    by_logits = choose_bias_shift(kdlab.predict_logits(net, X), None, y, cls, grid)
    assert by_model[0] == by_logits[0]
    np.testing.assert_array_equal(by_model[1], by_logits[1])


@pytest.mark.parametrize("args, match", [
    ((MLP(3, (2,), 2, seed=0), None), "X_val"),
    ((np.zeros((2, 2)), np.zeros((2, 3))), "X_val"),
])
def test_choose_bias_shift_needs_X_val_exactly_with_a_model(args, match):
    with pytest.raises(ValueError, match=match):
        choose_bias_shift(*args, np.array([0, 1]), 1, [0.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"y_val": np.array([0])}, "^y"),
    ({"cls": 2}, "cls"),
    ({"grid": []}, "grid"),
])
def test_choose_bias_shift_bad_input(kwargs, match):
    kwargs = {"model_or_logits": np.zeros((2, 2)), "X_val": None, "y_val": np.array([0, 1]),
              "cls": 1, "grid": [0.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        choose_bias_shift(**kwargs)


# --- distill_grid --------------------------------------------------------------------------------

ALPHAS = (0.0, 0.5, 1.0)
TEMPERATURES = (1.0, 4.0)


@pytest.fixture(scope="module")
def tiny():
    """200 training and 100 test digits, a noisy 'teacher' that knows the labels, a tiny MLP."""
    train = kdlab.load_dataset("digits", "train", n=200)
    test = kdlab.load_dataset("digits", "test", n=100)
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(len(train), 10)) + 4 * np.eye(10)[train.y]).astype(np.float32)
    make = functools.partial(MLP, 64, (8,), 10, seed=0)
    return train, test, logits, make


def _grid(tiny, **kwargs):
    train, test, logits, make = tiny
    kwargs = {"temperatures": TEMPERATURES, "alphas": ALPHAS, "y": train.y, "epochs": 1,
              "verbose": False, **kwargs}
    return distill_grid(make, train.X, logits, test.X, test.y, **kwargs)


def test_distill_grid_shape_range_and_cache(tiny, kdlab_cache, monkeypatch):
    test = tiny[1]
    errors = _grid(tiny)
    assert errors.shape == (len(ALPHAS), len(TEMPERATURES))
    assert np.issubdtype(errors.dtype, np.integer)
    assert ((0 <= errors) & (errors <= len(test.y))).all()
    assert (errors[0] == errors[0, 0]).all()  # alpha = 0 (hard labels alone) ignores T
    # alpha = 0 is trained once; every other cell once each
    trained = sorted(kdlab_cache.rglob("*.pt"))
    assert len(trained) == (len(ALPHAS) - 1) * len(TEMPERATURES) + 1

    def no_training(*args, **kwargs):
        raise AssertionError("the second call should load every student from the cache")

    monkeypatch.setattr(kdlab.train, "fit", no_training)
    np.testing.assert_array_equal(_grid(tiny), errors)
    assert sorted(kdlab_cache.rglob("*.pt")) == trained


def test_distill_grid_cells_equal_distill_student(tiny):
    train, test, logits, make = tiny
    errors = _grid(tiny, alphas=(0.5, 1.0), temperatures=(4.0,))
    for row, alpha in enumerate((0.5, 1.0)):
        student = kdlab.distill_student(make(), train.X, logits=logits,
                                        y=None if alpha == 1 else train.y, T=4.0, alpha=alpha,
                                        epochs=1, cache=False, progress=False)
        assert errors[row, 0] == kdlab.evaluate(student, test.X, test.y)["errors"]


def test_distill_grid_hard_labels_do_not_depend_on_T(tiny):
    # trained anew at another temperature (another cache key), alpha = 0 gives the same student
    assert _grid(tiny, alphas=0.0, temperatures=5.0).tolist() == \
        _grid(tiny, alphas=[0.0], temperatures=[1.0]).tolist()


def test_distill_grid_soft_only_needs_no_labels(tiny):
    errors = _grid(tiny, alphas=(1.0,), y=None, temperatures=(2.0,))
    assert errors.shape == (1, 1)


def test_distill_grid_rejects_a_model_instead_of_a_factory(tiny):
    train, test, logits, _ = tiny
    with pytest.raises(ValueError, match="make_student"):
        distill_grid(MLP(64, (8,), 10, seed=0), train.X, logits, test.X, test.y,
                     temperatures=[1.0], epochs=1, verbose=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"temperatures": [[1.0, 2.0]]}, "temperatures"),
    ({"alphas": [[0.5, 1.0]]}, "alphas"),
])
def test_distill_grid_rejects_nested_grids(tiny, kwargs, match):
    train, test, logits, make = tiny
    kwargs = {"temperatures": [1.0], "alphas": [1.0], **kwargs}
    with pytest.raises(ValueError, match=match):
        distill_grid(make, train.X, logits, test.X, test.y, y=train.y, epochs=1, verbose=False,
                     **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"make_student": None}, "make_student"),
    ({"make_student": "MLP"}, "make_student"),
    ({"temperatures": []}, "temperatures"),
    ({"temperatures": [1.0, 0.0]}, "temperatures"),
    ({"temperatures": [-2.0]}, "temperatures"),
    ({"temperatures": [float("inf")]}, "temperatures"),
    ({"alphas": [1.5]}, "alphas"),
    ({"alphas": [-0.1, 1.0]}, "alphas"),
    ({"alphas": [float("nan")]}, "alphas"),
    ({"alphas": []}, "alphas"),
    ({"alphas": [0.5], "y": None}, "^y"),
])
def test_distill_grid_bad_input(tiny, kdlab_cache, kwargs, match):
    train, test, logits, make = tiny
    kwargs = {"make_student": make, "X": train.X, "logits": logits, "X_eval": test.X,
              "y_eval": test.y, "temperatures": [1.0], "alphas": [1.0], "epochs": 1,
              "verbose": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        distill_grid(**kwargs)
    assert not list(kdlab_cache.rglob("*.pt"))  # refused before training anything


# --- train_generalist: chapter 02's student alone, shared by chapters 03-06 and replicate --

def _small_profile():
    import dataclasses

    from kdlab.profiles import get_profile

    return dataclasses.replace(get_profile("ci"), epochs=2, student_hidden=(8,), seed=3)


def test_train_generalist_under_another_name_loads_the_same_network(kdlab_cache, monkeypatch):
    import kdlab.train
    from kdlab.data import load_dataset
    from kdlab.experiments import train_generalist

    p, train = _small_profile(), load_dataset("digits", "train")
    net = train_generalist(train, p, verbose=False)
    files = sorted(kdlab_cache.rglob("*.pt"))
    assert len(files) == 1 and files[0].name.startswith("generalist-")
    # chapter 02 asks for it as its "student" alone: the same file, not another network
    monkeypatch.setattr(kdlab.train, "fit", lambda *a, **k: pytest.fail("retrained"))
    student = train_generalist(train, p, name="student", verbose=False)
    assert sorted(kdlab_cache.rglob("*.pt")) == files
    for a, b in zip(net.state_dict().values(), student.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)] == [8, 10]


def test_student_net_is_the_untrained_student_of_every_recipe(kdlab_cache, monkeypatch):
    """student_net: the profile's student sizes, initial weights from seed p.seed + 1, the same
    on every call; the student alone and the distilled student are it, trained."""
    import dataclasses

    import kdlab.train
    from kdlab.data import load_dataset
    from kdlab.experiments import student_net, train_distilled, train_generalist

    p, train = _small_profile(), load_dataset("digits", "train")
    net = student_net(train, p)
    assert [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)] == [8, 10]
    assert net.body[0].in_features == train.X.shape[1]
    for a, b in zip(net.state_dict().values(), student_net(train, p).state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    other = student_net(train, dataclasses.replace(p, seed=p.seed + 1))
    assert not torch.equal(other.state_dict()["body.0.weight"], net.state_dict()["body.0.weight"])
    started = []
    real_fit = kdlab.train.fit
    monkeypatch.setattr(kdlab.train, "fit", lambda model, *a, **k: (
        started.append({n: w.clone() for n, w in model.state_dict().items()}),
        real_fit(model, *a, **k))[1])
    logits = np.random.default_rng(0).normal(size=(len(train.X), 10)).astype(np.float32)
    train_generalist(train, p, verbose=False)
    train_distilled(train, p, logits, verbose=False)
    assert len(started) == 2
    for weights in started:
        for name, w in net.state_dict().items():
            assert torch.equal(weights[name], w)


def test_train_generalist_bad_input():
    from kdlab.data import load_dataset
    from kdlab.experiments import train_generalist

    with pytest.raises(TypeError, match="profile must be a kdlab Profile"):
        train_generalist(load_dataset("digits", "train"), "ci")
    with pytest.raises(TypeError, match="train must be a kdlab Dataset"):
        train_generalist((np.zeros((4, 2)), np.zeros(4)), _small_profile())


def test_seeded_students_start_with_chapter_02s_pair_then_differ_only_in_seeds(kdlab_cache,
                                                                              monkeypatch):
    import kdlab.train
    from kdlab.data import load_dataset
    from kdlab.experiments import train_distilled, train_generalist, train_seeded_students

    p, train = _small_profile(), load_dataset("digits", "train")
    logits = np.random.default_rng(0).normal(size=(len(train.X), 10)).astype(np.float32)
    nets = train_seeded_students(train, p, logits, n=3, verbose=False)
    assert [len(nets[k]) for k in ("student", "distilled")] == [3, 3]
    assert len(list(kdlab_cache.rglob("*.pt"))) == 6
    monkeypatch.setattr(kdlab.train, "fit", lambda *a, **k: pytest.fail("retrained"))
    run0 = {"student": train_generalist(train, p, verbose=False),  # section 1's pair: cached
            "distilled": train_distilled(train, p, logits, verbose=False)}
    for k, net in run0.items():
        assert all(torch.equal(a, b) for a, b in zip(
            net.state_dict().values(), nets[k][0].state_dict().values(), strict=True))
        # runs 1 and 2: other initial weights (seed_pairs), hence other networks
        assert not torch.equal(nets[k][1].state_dict()["body.0.weight"],
                               nets[k][0].state_dict()["body.0.weight"])
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        train_seeded_students(train, p, logits, n=0, verbose=False)


def test_seeded_profiles_differ_from_the_profile_only_in_seed():
    """Run i's profile: the seed p.seed + i (so weights p.seed + 1 + i, order p.seed + i), the
    profile otherwise; run 0's is the profile itself (chapter 02's pair, same cache keys)."""
    import dataclasses

    from kdlab.experiments import seed_pairs, seeded_profiles
    from kdlab.profiles import get_profile

    p = dataclasses.replace(get_profile("ci"), seed=7)
    qs = seeded_profiles(p, 4)
    assert [q.seed for q in qs] == [order for _, order in seed_pairs(p, 4)] == [7, 8, 9, 10]
    assert qs[0] == p and all(dataclasses.replace(q, seed=p.seed) == p for q in qs)
    assert len(seeded_profiles(p)) == p.distill_seeds
    with pytest.raises(ValueError, match="n"):
        seeded_profiles(p, 0)


@pytest.mark.parametrize("epochs, warmup", [(None, 5), (60, 5), (1000, 83), (6, 1), (2, 1),
                                            (1, 1)])
def test_a_shorter_or_longer_training_warms_up_over_the_same_fraction(epochs, warmup):
    """At ``paper`` the 3% run trains 1,000 epochs of 15 batches: warmed up over the profile's
    5 epochs (75 updates) its distilled student died (9.7% accuracy); over the same twelfth
    of its training, as the full run, it does not (book/reproducing.md)."""
    from kdlab.experiments import _student_options
    from kdlab.profiles import get_profile

    p = get_profile("paper")
    assert (p.epochs, p.fit_options("student")["warmup"]) == (60, 5)
    opts = _student_options(p, epochs)
    assert opts["warmup"] == warmup and opts["epochs"] == (epochs or 60)
    assert "warmup" not in _student_options(get_profile("laptop"), 1000)  # no warm-up: none


# --- synthetic_correlation: chapter 03's synthetic classes, shared with chapter 06 ---------

def test_synthetic_correlation_is_the_correlation_of_the_gibbs_predictions():
    from sklearn.metrics import adjusted_rand_score

    from kdlab.clustering import cluster_classes, group_labels
    from kdlab.covariance import prediction_correlation
    from kdlab.experiments import synthetic_correlation
    from kdlab.hierarchy import gibbs_probabilities, make_hierarchical
    from kdlab.profiles import get_profile

    p = get_profile("ci")
    corr, superclass = synthetic_correlation(p)
    X, _, truth, centers = make_hierarchical(8, 5, n_per_class=20, random_state=p.seed,
                                             return_centers=True)
    np.testing.assert_array_equal(corr, prediction_correlation(gibbs_probabilities(X, centers)))
    np.testing.assert_array_equal(superclass, truth)
    groups = cluster_classes(corr, 8, method="kmeans")
    assert adjusted_rand_score(superclass, group_labels(groups, 40)) > 0.9
    with pytest.raises(TypeError, match="profile must be a kdlab Profile"):
        synthetic_correlation("ci")


# --- train_distilled: chapter 02's distilled students (all data, one class omitted, 3%) ----

def test_train_distilled_on_rows_and_its_bad_input(kdlab_cache):
    from kdlab.data import load_dataset
    from kdlab.experiments import train_distilled

    p, train = _small_profile(), load_dataset("digits", "train")
    logits = np.random.default_rng(0).normal(size=(len(train.X), 10)).astype(np.float32)
    rows = np.flatnonzero(train.y != 3)
    net = train_distilled(train, p, logits, rows=rows, epochs=1, name="omitted", verbose=False)
    assert len(net.history["loss"]) == 1
    assert [f.name.split("-")[0] for f in kdlab_cache.rglob("*.pt")] == ["omitted"]
    with pytest.raises(ValueError, match="logits must hold the teacher's logits"):
        train_distilled(train, p, logits[:10], verbose=False)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        train_distilled(train, p, logits, epochs=0, verbose=False)
