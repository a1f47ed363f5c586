"""Bad input gets a clear error naming the argument, never a silent NaN or a torch traceback.

Each case below was probed and failed before kdlab.validate (issue 14): a NaN image trained a NaN
model and cached it, float labels trained silently, labels >= C gave torch's IndexError, -100
was silently ignored, logits passed as probabilities clustered without a warning, and so on.
The last tests check that correct inputs (int32 labels, float64 X) still work.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kdlab.train
from kdlab.clustering import OnlineKMeans, cluster_classes, confusable_groups
from kdlab.covariance import CovarianceAccumulator, prediction_correlation, prediction_covariance
from kdlab.data import load_dataset
from kdlab.distill import distill_student, distillation_loss
from kdlab.models import MLP
from kdlab.specialists import Specialist, specialist_confusion, train_specialists
from kdlab.train import evaluate, fit, fit_cached, predict_logits
from kdlab.validate import check_finite, check_int, check_labels, check_probabilities

N, D, C = 60, 5, 3
FIT = dict(epochs=1, batch_size=16, progress=False)


@pytest.fixture
def data():
    """Float32 X (N, D), int64 labels in [0, C), and finite teacher logits (N, C)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = np.arange(N) % C
    logits = rng.normal(size=(N, C)).astype(np.float32)
    return X, y, logits


def _net(seed=0):
    return MLP(D, (8,), C, seed=seed)


def _state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _unchanged(net, before):
    after = _state(net)
    return all(torch.equal(before[k], after[k]) for k in before)


def _poison(a, value):
    a = a.copy()
    a[3, 1] = value
    return a


# --- non-finite X and teacher logits: refused before any training -----------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_fit_refuses_non_finite_X_before_training(data, value):
    X, y, _ = data
    net = _net()
    before = _state(net)
    with pytest.raises(ValueError, match=r"\bX must be finite"):
        fit(net, _poison(X, value), y, **FIT)
    assert _unchanged(net, before)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_fit_refuses_non_finite_soft_targets(data, as_tensor):
    X, y, _ = data
    soft = np.eye(C, dtype=np.float32)[y]
    soft = _poison(soft, np.nan)
    with pytest.raises(ValueError, match="targets must be finite"):
        fit(_net(), X, torch.from_numpy(soft) if as_tensor else soft, **FIT)


def test_fit_refuses_logits_as_soft_targets_of_the_default_loss(data):
    X, _, logits = data
    with pytest.raises(ValueError, match="targets must hold probabilities.*softmax"):
        fit(_net(), X, logits, **FIT)
    fit(_net(), X, logits, loss_fn=lambda z, t: ((z - t) ** 2).mean(), **FIT)  # a custom loss


def _refuse(*_, **__):
    raise AssertionError("reached after the bad input should have been refused")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_fit_cached_refuses_non_finite_X_before_the_key_and_caches_nothing(data, value,
                                                                         kdlab_cache,
                                                                         monkeypatch):
    X, y, _ = data
    monkeypatch.setattr(kdlab.train, "cache_key", _refuse)
    monkeypatch.setattr(kdlab.train, "fit", _refuse)
    with pytest.raises(ValueError, match=r"\bX must be finite"):
        fit_cached(_net(), _poison(X, value), y, verbose=False, **FIT)
    assert not list(kdlab_cache.rglob("*.pt"))


def test_fit_cached_refuses_bad_labels_before_the_key(data, monkeypatch):
    X, y, _ = data
    monkeypatch.setattr(kdlab.train, "cache_key", _refuse)
    with pytest.raises(ValueError, match=r"targets must hold class ids in \[0, 3\)"):
        fit_cached(_net(), X, y + 1, verbose=False, **FIT)


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("what", ["X", "logits"])
def test_distill_student_refuses_non_finite_inputs(data, what, cache, kdlab_cache,
                                                   monkeypatch):
    X, _, logits = data
    monkeypatch.setattr(kdlab.distill, "fit", _refuse)
    monkeypatch.setattr(kdlab.distill, "fit_cached", _refuse)
    if what == "X":
        X = _poison(X, np.nan)
    else:
        logits = _poison(logits, np.inf)
    with pytest.raises(ValueError, match=rf"\b{what}\b.* must be finite"):
        distill_student(_net(), X, logits=logits, cache=cache, **FIT)
    assert not list(kdlab_cache.rglob("*.pt"))


def test_distill_student_refuses_non_finite_X_before_the_teacher_runs(data, monkeypatch):
    X, _, _ = data
    monkeypatch.setattr(kdlab.distill, "teacher_logits", _refuse)
    with pytest.raises(ValueError, match=r"\bX must be finite"):
        distill_student(_net(1), _poison(X, np.nan), teacher=_net(), cache=False, **FIT)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_distillation_loss_refuses_non_finite_teacher_logits(data, value):
    _, _, logits = data
    t = torch.from_numpy(_poison(logits, value))
    with pytest.raises(ValueError, match="teacher_logits must be finite"):
        distillation_loss(torch.zeros(N, C), t)


# --- labels: integer class ids in [0, C) ---------------------------------------------------------

BAD_LABELS = [
    pytest.param(lambda y: y.astype(np.float32), TypeError, "integer class ids", id="float"),
    pytest.param(lambda y: y.astype(bool), TypeError, "integer class ids", id="bool"),
    pytest.param(lambda y: np.where(y == 2, C, y), ValueError, r"\[0, 3\)", id="equal-to-C"),
    pytest.param(lambda y: np.where(y == 2, 7, y), ValueError, r"\[0, 3\)", id="above-C"),
    pytest.param(lambda y: np.where(y == 2, -100, y), ValueError, "-100", id="ignore-index"),
    pytest.param(lambda y: np.where(y == 2, -1, y), ValueError, "-1", id="negative"),
]


@pytest.mark.parametrize("change, error, match", BAD_LABELS)
def test_fit_refuses_bad_labels(data, change, error, match):
    X, y, _ = data
    net = _net()
    before = _state(net)
    with pytest.raises(error, match=rf"targets.*{match}"):
        fit(net, X, change(y), **FIT)
    assert _unchanged(net, before)


def test_fit_finds_the_number_of_classes_without_a_head(data):
    """A model without ``head`` is asked once (eval mode, no random draw, mode restored)."""
    X, y, _ = data
    net = torch.nn.Sequential(torch.nn.Linear(D, 8), torch.nn.Dropout(0.5),
                              torch.nn.Linear(8, C)).train()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with pytest.raises(ValueError, match=r"targets must hold class ids in \[0, 3\)"):
        fit(net, X, y + 1, **FIT)
    assert torch.equal(torch.rand(3), expected) and net.training
    fit(net, X, y, **FIT)


@pytest.mark.parametrize("change, error, match", BAD_LABELS)
def test_evaluate_refuses_bad_labels(data, change, error, match):
    X, y, _ = data
    with pytest.raises(error, match=rf"\by\b.*{match}"):
        evaluate(_net(), X, change(y))


@pytest.mark.parametrize("change, error, match", BAD_LABELS)
def test_distillation_loss_refuses_bad_labels(data, change, error, match):
    _, y, logits = data
    t = torch.from_numpy(logits)
    with pytest.raises(error, match=rf"targets.*{match}" if error is ValueError else "targets"):
        distillation_loss(torch.zeros(N, C), t, torch.from_numpy(change(y)))


@pytest.mark.parametrize("change, error, match", BAD_LABELS)
def test_distill_student_refuses_bad_labels(data, change, error, match, monkeypatch):
    X, y, logits = data
    monkeypatch.setattr(kdlab.distill, "fit", _refuse)
    with pytest.raises(error, match=rf"\by\b.*{match}"):
        distill_student(_net(), X, logits=logits, y=change(y), cache=False, **FIT)


# --- empty batches --------------------------------------------------------------------------

def test_distillation_loss_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="student_logits.*empty"):
        distillation_loss(torch.zeros(0, C), torch.zeros(0, C))
    with pytest.raises(ValueError, match="empty"):
        distillation_loss(torch.zeros(0, C), torch.zeros(0, C), torch.zeros(0, dtype=torch.long))


@pytest.mark.parametrize("X", [np.zeros((0, D), np.float32), torch.zeros(0, D)])
def test_predict_logits_of_no_rows_has_one_column_per_class(X):
    out = predict_logits(_net(), X)
    assert out.shape == (0, C) and out.dtype == np.float32
    result = evaluate(_net(), X, np.zeros(0, np.int64))
    assert result["n"] == 0 and result["errors_by_class"].tolist() == [0] * C


# --- covariance of predicted probabilities --------------------------------------------------

def _probs(n=50, c=4, seed=0):
    return np.random.default_rng(seed).dirichlet(np.ones(c), size=n)


NOT_PROBABILITIES = [
    pytest.param(lambda p: np.log(p), id="log-probabilities"),
    pytest.param(lambda p: np.log(p) + 3.0, id="logits"),
    pytest.param(lambda p: p * 2, id="rows-sum-to-2"),
    pytest.param(lambda p: p - 0.1 / p.shape[1] + np.eye(p.shape[1])[0] * 0.1, id="negative"),
]


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize("change", NOT_PROBABILITIES)
def test_covariance_refuses_rows_that_are_not_probabilities(change, as_tensor):
    bad = change(_probs())
    bad = torch.from_numpy(bad) if as_tensor else bad
    with pytest.raises(ValueError, match=r"probs must hold probabilities.*apply softmax first"):
        prediction_covariance(bad)
    with pytest.raises(ValueError, match=r"probs must hold probabilities.*apply softmax first"):
        prediction_correlation(bad)
    with pytest.raises(ValueError, match=r"batch must hold probabilities.*softmax"):
        CovarianceAccumulator(4).update(bad)


def test_covariance_accepts_rounded_float32_probabilities_and_any_columns_on_request():
    p = torch.softmax(torch.randn(200, 1000) * 5, dim=1)  # float32: rows sum to 1 ± 1e-6
    assert prediction_covariance(p).shape == (1000, 1000)
    x = np.random.default_rng(0).normal(size=(30, 3))
    acc = CovarianceAccumulator(3, probabilities=False).update(x)
    np.testing.assert_allclose(acc.covariance(), np.cov(x, rowvar=False), atol=1e-12)
    with pytest.raises(TypeError, match="probabilities"):
        CovarianceAccumulator(3, probabilities="yes")


@pytest.mark.parametrize("ddof, error", [(-1, ValueError), (2, ValueError), (1.5, TypeError),
                                         ("1", TypeError), (True, TypeError), (1.0, TypeError)])
def test_ddof_is_0_or_1_as_an_int(ddof, error):
    acc = CovarianceAccumulator(4).update(_probs())
    with pytest.raises(error, match=r"\bddof\b"):
        acc.covariance(ddof)
    p = _probs()
    np.testing.assert_allclose(acc.covariance(np.int64(0)), np.cov(p, rowvar=False, ddof=0))
    np.testing.assert_allclose(acc.covariance(1), np.cov(p, rowvar=False))


# --- specialists and data ---------------------------------------------------------------------

@pytest.mark.parametrize("n_features", [D - 1, D + 3])
def test_a_specialist_refuses_X_of_the_wrong_width(data, n_features):
    X, y, _ = data
    spec = Specialist(_net(), [0, 1])
    wrong = np.zeros((4, n_features), np.float32)
    match = rf"\bX must have shape \(N, {D}\).*got shape \(4, {n_features}\)"
    with pytest.raises(ValueError, match=match):
        spec.predict_proba(wrong)
    with pytest.raises(ValueError, match=match):
        spec.predict_logits(torch.from_numpy(wrong))
    with pytest.raises(ValueError, match=match):
        specialist_confusion(spec, wrong, y[:4])
    with pytest.raises(ValueError, match=rf"\bX must have shape \(N, {D}\)"):
        train_specialists(_net(), np.zeros((N, n_features), np.float32), y, [[0, 1]],
                          epochs=1, cache=False, progress=False)


def test_train_specialists_refuses_non_finite_X(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"\bX must be finite"):
        train_specialists(_net(), _poison(X, np.nan), y, [[0, 1]], epochs=1, cache=False,
                          progress=False)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("0", TypeError),
                                         (None, TypeError)])
def test_load_dataset_refuses_a_bad_seed(seed, error):
    with pytest.raises(error, match=r"\bseed\b"):
        load_dataset("digits", "train", n=20, seed=seed)


# --- clustering data that would overflow ------------------------------------------------------

def _cov():
    return np.array([[2.0, 1.8, -1.0, -1.0], [1.8, 2.0, -1.0, -1.0],
                     [-1.0, -1.0, 2.0, 1.8], [-1.0, -1.0, 1.8, 2.0]])


@pytest.mark.parametrize("as_tensor", [False, True])
def test_online_kmeans_refuses_data_that_would_overflow(as_tensor):
    X = _cov() * 1e200
    X = torch.from_numpy(X) if as_tensor else X
    with pytest.raises(ValueError, match=r"\bX holds values as large as 2e\+200.*rescale X"):
        OnlineKMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"\bX holds values"):
        OnlineKMeans(2, random_state=0).partial_fit(X)
    fitted = OnlineKMeans(2, random_state=0).fit(_cov())
    with pytest.raises(ValueError, match=r"\bX holds values"):
        fitted.predict(X)
    with pytest.raises(ValueError, match=r"\binit holds values"):
        OnlineKMeans(2, init=_cov()[:2] * 1e200).fit(_cov())


def test_cluster_classes_refuses_a_matrix_that_would_overflow_and_accepts_a_large_one():
    with pytest.raises(ValueError, match=r"\bcov holds values as large as.*rescale cov"):
        cluster_classes(_cov() * 1e200, 2)
    with pytest.raises(ValueError, match=r"\bmatrix holds values"):
        confusable_groups(_cov() * 1e200, 2)
    for scale in (1.0, 1e100, 1e-100):  # the partition does not depend on the scale
        groups = cluster_classes(_cov() * scale, 2)
        assert [g.tolist() for g in groups] == [[0, 1], [2, 3]]


# --- the shared checks ----------------------------------------------------------------------

def test_the_shared_checks_name_their_argument():
    with pytest.raises(ValueError, match="weights must be finite, got 2 NaN"):
        check_finite(torch.tensor([np.nan, 1.0, np.inf]), "weights")
    with pytest.raises(TypeError, match="epochs must be an int"):
        check_int(np.float64(2), "epochs")
    with pytest.raises(ValueError, match=r"labels must be 1-d"):
        check_labels(np.zeros((2, 2), np.int64), 3, "labels")
    with pytest.raises(ValueError, match="p must hold probabilities"):
        check_probabilities(torch.tensor([[0.5, 0.6]]), "p")
    assert check_labels(torch.tensor([0, 2], dtype=torch.int32), 3).dtype == torch.long
    assert check_labels([], 3).shape == (0,)


# --- correct input still works ----------------------------------------------------------------

def test_int32_labels_and_float64_inputs_work_everywhere(data):
    X, y, logits = data
    X64, y32 = X.astype(np.float64), y.astype(np.int32)
    net = _net()
    history = fit(net, X64, y32, **FIT)
    assert np.isfinite(history["loss"]).all()
    ref = _net()
    fit(ref, X, y.astype(np.int64), **FIT)
    for k, v in _state(ref).items():  # float64 X and int32 labels train like float32 and int64
        torch.testing.assert_close(net.state_dict()[k], v)
    expected = evaluate(net, X, y)
    for got in (evaluate(net, X64, y32), evaluate(net, torch.from_numpy(X), torch.from_numpy(y32))):
        assert (got["errors"], got["n"]) == (expected["errors"], expected["n"])
        np.testing.assert_array_equal(got["errors_by_class"], expected["errors_by_class"])
    s = torch.randn(N, C, requires_grad=True)
    t = torch.from_numpy(logits)
    loss32 = distillation_loss(s, t, torch.from_numpy(y32), T=2.0, alpha=0.5)
    torch.testing.assert_close(loss32, distillation_loss(s, t, torch.from_numpy(y), T=2.0,
                                                         alpha=0.5))
    loss32.backward()
    student = distill_student(_net(1), X64, logits=logits.astype(np.float64), y=y32,
                              cache=False, **FIT)
    assert np.isfinite(predict_logits(student, X)).all()
    teacher = _net(2)
    distill_student(_net(1), X64, teacher=teacher, y=torch.from_numpy(y32), cache=True,
                    verbose=False, **FIT)
    p = torch.softmax(torch.from_numpy(logits).double(), dim=1)
    assert prediction_covariance(p).shape == (C, C)
    np.testing.assert_allclose(prediction_correlation(p.float()),
                               np.corrcoef(p.numpy(), rowvar=False), atol=1e-5)
