"""kdlab.mistakes: each mistaken soft loss against an independent oracle, and the checker
against every mistake, hand-written variants of them and the correct loss."""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import kdlab
from kdlab.distill import distill_student, distillation_loss
from kdlab.mistakes import (
    MISTAKES,
    check_distillation,
    distill_with,
    distill_with_job,
    gradient_balance,
    gradient_ratio,
    noisy_teacher_logits,
    soft_gradient,
    soft_loss,
    soft_loss_log_target_missing,
    soft_loss_mean,
    soft_loss_no_T2,
    soft_loss_not_detached,
    soft_loss_probs_as_input,
    soft_loss_sum,
    train_with_shared_optimizer,
    update_ratio,
)
from kdlab.models import MLP
from kdlab.temperature import soft_cross_entropy_grad
from kdlab.train import cache_key, fit_cached_many, predict_logits


def _logits(n=8, c=10, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=torch.float64) * scale,
            torch.randn(n, c, generator=g, dtype=torch.float64) * scale)


def _by_hand(z, v, T):
    """T² · mean over the batch of Σ_i p_i (log p_i − log q_i), written out."""
    log_p = v / T - torch.logsumexp(v / T, 1, keepdim=True)
    log_q = z / T - torch.logsumexp(z / T, 1, keepdim=True)
    return T**2 * (log_p.exp() * (log_p - log_q)).sum(1).mean()


def _grad(loss_fn, z, v, T):
    z = z.clone().requires_grad_(True)
    loss_fn(z, v, T).backward()
    return z.grad


# --- the losses against their oracles --------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(T=st.floats(0.5, 40), n=st.integers(1, 12), c=st.integers(2, 12), seed=st.integers(0, 99))
def test_correct_loss_is_T2_batchmean_kl_and_kdlab_distillation_loss(T, n, c, seed):
    z, v = _logits(n, c, seed)
    torch.testing.assert_close(soft_loss(z, v, T), _by_hand(z, v, T))
    torch.testing.assert_close(soft_loss(z, v, T), distillation_loss(z, v, T=T))


@settings(max_examples=30, deadline=None)
@given(T=st.floats(0.5, 40), n=st.integers(1, 12), c=st.integers(2, 12), seed=st.integers(0, 99))
def test_correct_gradient_is_T_times_q_minus_p_over_N(T, n, c, seed):
    """The paper's (q − p)/T per example (kdlab.temperature), times T², averaged over N."""
    z, v = _logits(n, c, seed)
    exact = T**2 * soft_cross_entropy_grad(z, v, T) / n
    torch.testing.assert_close(_grad(soft_loss, z, v, T), exact)
    np.testing.assert_allclose(soft_gradient(soft_loss, z.numpy(), v.numpy(), T), exact.numpy(),
                               rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(T=st.floats(0.5, 40), n=st.integers(1, 12), c=st.integers(2, 12), seed=st.integers(0, 99))
def test_scale_mistakes_are_the_correct_gradient_times_1_over_T2_1_over_C_and_N(T, n, c, seed):
    z, v = _logits(n, c, seed)
    g = _grad(soft_loss, z, v, T)
    torch.testing.assert_close(_grad(soft_loss_no_T2, z, v, T), g / T**2)
    torch.testing.assert_close(_grad(soft_loss_mean, z, v, T), g / c)
    torch.testing.assert_close(_grad(soft_loss_sum, z, v, T), g * n)
    assert gradient_ratio(soft_loss_no_T2, z, v, T) == pytest.approx(1 / T**2, rel=1e-9)
    assert gradient_ratio(soft_loss_mean, z, v, T) == pytest.approx(1 / c, rel=1e-9)


@pytest.mark.parametrize("reduction, factor", [("mean", "1/NC"), ("batchmean", "1/N"),
                                               ("sum", "1")])
def test_each_reduction_matches_torch_kl_div_summed_by_hand(reduction, factor):
    z, v = _logits(6, 5)
    loss = {"mean": soft_loss_mean, "batchmean": soft_loss, "sum": soft_loss_sum}[reduction]
    p, log_q = torch.softmax(v / 2, 1), torch.log_softmax(z / 2, 1)
    total = (p * (p.log() - log_q)).sum()
    expected = total * 4 / {"1/NC": 30, "1/N": 6, "1": 1}[factor]
    torch.testing.assert_close(loss(z, v, 2.0), expected)


def test_probabilities_as_input_is_the_kl_div_formula_with_q_for_log_q():
    z, v = _logits(5, 4)
    T = 3.0
    p, q = torch.softmax(v / T, 1), torch.softmax(z / T, 1)
    expected = T**2 * (p * (p.log() - q)).sum(1).mean()
    torch.testing.assert_close(soft_loss_probs_as_input(z, v, T), expected)
    # its gradient is not along q - p
    cos = F.cosine_similarity(_grad(soft_loss_probs_as_input, z, v, T).flatten(),
                              _grad(soft_loss, z, v, T).flatten(), dim=0)
    assert cos < 0.9


def test_log_target_without_the_flag_is_nan_and_with_it_is_correct():
    z, v = _logits()
    assert soft_loss_log_target_missing(z, v, 2.0).isnan()
    fixed = F.kl_div(F.log_softmax(z / 2, 1), F.log_softmax(v / 2, 1), reduction="batchmean",
                     log_target=True) * 4
    torch.testing.assert_close(fixed, soft_loss(z, v, 2.0))


def test_not_detached_has_the_same_value_and_student_gradient_but_trains_the_teacher():
    z, v = _logits()
    T = 4.0
    torch.testing.assert_close(soft_loss_not_detached(z, v, T), soft_loss(z, v, T))
    torch.testing.assert_close(_grad(soft_loss_not_detached, z, v, T), _grad(soft_loss, z, v, T))
    vv = v.clone().requires_grad_(True)
    soft_loss_not_detached(z, vv, T).backward()
    oracle = v.clone().requires_grad_(True)
    _by_hand(z, oracle, T).backward()  # the gradient of T²·KL with respect to the teacher
    torch.testing.assert_close(vv.grad, oracle.grad)
    zd, vd = z.clone().requires_grad_(True), v.clone().requires_grad_(True)
    soft_loss(zd, vd, T).backward()  # the correct loss: no gradient reaches the teacher
    assert vd.grad is None and zd.grad is not None


def test_gradient_balance_against_norms_written_out():
    z, v = _logits(16, 10, seed=3)
    y = torch.arange(16) % 10
    T, alpha = 4.0, 0.7
    soft = T * (torch.softmax(z / T, 1) - torch.softmax(v / T, 1)) / 16
    hard = (torch.softmax(z, 1) - F.one_hot(y, 10)) / 16
    expected = alpha * float(soft.norm()) / ((1 - alpha) * float(hard.norm()))
    assert gradient_balance(soft_loss, z, v, y, T, alpha) == pytest.approx(expected, rel=1e-9)
    assert gradient_balance(soft_loss_no_T2, z, v, y, T, alpha) == pytest.approx(
        expected / T**2, rel=1e-9)
    assert gradient_balance(soft_loss, z, v, y.numpy(), T, alpha=0.0) == 0.0


def test_mistakes_table_is_one_line_away_from_the_correct_line():
    correct = MISTAKES["correct"]["line"]
    for name, m in MISTAKES.items():
        assert callable(m["loss"]) and m["effect"]
        assert (m["line"] == correct) == (name == "correct"), name


# --- the checker --------------------------------------------------------------------------------


EXPECTED = {
    "correct": [],
    "no T²": ["missing_T2"],
    'reduction="mean"': ["mean_reduction"],
    'reduction="sum"': ["sum_reduction"],
    "probabilities as input": ["probabilities_as_input"],
    "log target, no log_target": ["not_finite"],
    "teacher not detached": ["teacher_not_detached"],
}


@pytest.mark.parametrize("name", list(MISTAKES))
@pytest.mark.parametrize("seed, n_classes, batch_size", [(0, 10, 16), (1, 3, 4), (2, 100, 7)])
def test_checker_names_each_mistake_and_passes_the_correct_loss(name, seed, n_classes,
                                                                batch_size):
    report = check_distillation(MISTAKES[name]["loss"], seed=seed, n_classes=n_classes,
                                batch_size=batch_size)
    assert report.names == EXPECTED[name], str(report)
    assert report.ok == (name == "correct")
    assert str(report)


def _haitongli_style(z, v, T, alpha=0.9):  # nn.KLDivLoss() defaults to reduction="mean"
    return nn.KLDivLoss()(F.log_softmax(z / T, dim=1), F.softmax(v / T, dim=1)) * (alpha * T * T)


def _soft_cross_entropy(z, v, T):  # differs from the KL by a constant: same gradient
    return -(F.softmax(v.detach() / T, 1) * F.log_softmax(z / T, 1)).sum(1).mean() * T**2


def _log_target(z, v, T):
    return nn.KLDivLoss(reduction="batchmean", log_target=True)(
        F.log_softmax(z / T, 1), F.log_softmax(v.detach() / T, 1)) * T**2


def _log_target_on_probs(z, v, T):
    return F.kl_div(F.log_softmax(z / T, 1), F.softmax(v.detach() / T, 1),
                    reduction="batchmean", log_target=True) * T**2


def _student_not_softened(z, v, T):
    return F.kl_div(F.log_softmax(z, 1), F.softmax(v.detach() / T, 1),
                    reduction="batchmean") * T**2


def _T_once(z, v, T):
    return soft_loss(z, v, T) / T


def _raises(z, v, T):
    raise RuntimeError("boom")


def _per_example(z, v, T):
    return F.kl_div(F.log_softmax(z / T, 1), F.softmax(v / T, 1), reduction="none").sum(1)


def _no_grad(z, v, T):
    return soft_loss(z.detach(), v, T)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("loss_fn, names", [
    (_soft_cross_entropy, []),
    (_log_target, []),
    (functools.partial(_haitongli_style, alpha=1.0), ["teacher_not_detached", "mean_reduction"]),
    (_haitongli_style, ["teacher_not_detached", "mean_reduction"]),
    (lambda z, v, T: 0.9 * soft_loss(z, v, T), ["constant_factor"]),
    (lambda z, v, T: soft_loss_mean(z, v, T) / T**2, ["missing_T2", "mean_reduction"]),
    (_log_target_on_probs, ["log_target_on_probabilities"]),
    (_student_not_softened, ["wrong_direction"]),
    (_T_once, ["temperature_scaling"]),
    (lambda z, v, T: soft_loss_sum(z, v, T) / len(z) ** 2, ["batch_scaling"]),
    (_raises, ["error"]),
    (_per_example, ["error"]),
    (_no_grad, ["error"]),
])
def test_checker_on_hand_written_losses(loss_fn, names):
    report = check_distillation(loss_fn)
    assert report.names == names, str(report)


def test_checker_report_holds_the_ratios_it_measured():
    report = check_distillation(soft_loss_no_T2, temperatures=(2.0, 8.0), n_classes=4,
                                batch_size=3)
    assert set(report.ratios) == {(T, n, c) for T in (2.0, 8.0) for n in (3, 6) for c in (4, 8)}
    for (T, _, _), r in report.ratios.items():
        assert r == pytest.approx(1 / T**2, rel=1e-9)
    assert report.cosine == pytest.approx(1.0)
    assert kdlab.check_distillation is check_distillation


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss_fn="soft_loss"), TypeError, "loss_fn must be a callable"),
    (dict(n_classes=1), ValueError, "n_classes must be an int >= 2"),
    (dict(n_classes=2.5), TypeError, "n_classes must be an int"),
    (dict(batch_size=0), ValueError, "batch_size must be an int >= 2"),
    (dict(temperatures=(4.0,)), ValueError, "temperatures must hold at least two"),
    (dict(temperatures=(1.0, 0.0)), ValueError, "temperatures must be a positive"),
    (dict(temperatures=4.0), TypeError, "temperatures must be a sequence"),
    (dict(tol=2), ValueError, "tol must be a number in"),
    (dict(seed=-1), ValueError, "seed must be an int >= 0"),
])
def test_checker_refuses_bad_arguments_naming_them(kwargs, error, match):
    kwargs = {"loss_fn": soft_loss, **kwargs}
    with pytest.raises(error, match=match):
        check_distillation(kwargs.pop("loss_fn"), **kwargs)


def test_gradient_helpers_refuse_bad_input():
    z, v = _logits()
    with pytest.raises(ValueError, match="teacher_logits: shape"):
        gradient_ratio(soft_loss, z, v[:, :5], 2.0)
    with pytest.raises(TypeError, match="student_logits must be a numpy array"):
        soft_gradient(soft_loss, [[1.0, 2.0]], v, 2.0)
    with pytest.raises(ValueError, match="T must be a positive"):
        soft_gradient(soft_loss, z, v, -1.0)
    with pytest.raises(ValueError, match="teacher_logits must be finite"):
        soft_gradient(soft_loss, z, v * np.nan, 1.0)
    with pytest.raises(ValueError, match="labels must hold class ids"):
        gradient_balance(soft_loss, z, v, torch.full((8,), 10), 2.0)
    with pytest.raises(ValueError, match="alpha must be"):
        gradient_balance(soft_loss, z, v, torch.zeros(8, dtype=torch.long), 2.0, alpha=2)


# --- optimisers and the loss's scale ------------------------------------------------------------


def _ce_loss(y):
    return functools.partial(_ce, y)


def _ce(y, out, idx):
    return F.cross_entropy(out, y[idx])


@pytest.mark.parametrize("scale", [1 / 400, 1 / 16, 10.0])
def test_adam_ignores_the_loss_scale_and_sgd_follows_it(scale):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(128, 6, generator=g), torch.arange(128) % 4
    net = MLP(6, (16,), 4, seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    assert update_ratio(net, X, _ce_loss(y), scale, optimizer="sgd", steps=1) == \
        pytest.approx(scale, rel=1e-2)  # float32 weights: an update of 1e-6 keeps 3 digits
    assert update_ratio(net, X, _ce_loss(y), scale, optimizer="adam", steps=5) == \
        pytest.approx(1.0, abs=0.02)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_update_ratio_refuses_bad_input():
    net, X = MLP(3, (4,), 2, seed=0), torch.zeros(8, 3)
    with pytest.raises(ValueError, match="optimizer must be"):
        update_ratio(net, X, _ce_loss(torch.zeros(8, dtype=torch.long)), 2.0, optimizer="rmsprop")
    with pytest.raises(ValueError, match="scale must be a positive"):
        update_ratio(net, X, _ce_loss(torch.zeros(8, dtype=torch.long)), 0.0)
    with pytest.raises(TypeError, match="model must be"):
        update_ratio("net", X, _ce_loss(torch.zeros(8, dtype=torch.long)), 2.0)


# --- mistakes outside the loss --------------------------------------------------------------


def test_noisy_teacher_logits_are_dropout_samples_and_leave_no_trace():
    X = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
    plain = MLP(6, (32,), 3, seed=0)
    np.testing.assert_allclose(noisy_teacher_logits(plain, X), predict_logits(plain, X),
                               rtol=1e-6)  # no dropout: train mode changes nothing
    teacher = MLP(6, (32,), 3, dropout=0.5, seed=0).eval()
    state = torch.get_rng_state()
    a, b = noisy_teacher_logits(teacher, X, seed=1), noisy_teacher_logits(teacher, X, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(a, b)  # seeded
    assert not np.allclose(a, predict_logits(teacher, X))
    assert not teacher.training
    # averaged over many dropout samples, train-mode logits approach eval-mode ones
    mean = np.mean([noisy_teacher_logits(teacher, X, seed=s) for s in range(400)], axis=0)
    assert np.abs(mean - predict_logits(teacher, X)).mean() < 0.2 * np.abs(a - mean).mean()
    with pytest.raises(TypeError, match="teacher must be"):
        noisy_teacher_logits(X, X)


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    v = (X @ rng.normal(size=(5, 3))).astype(np.float32) * 2
    return X, v, v.argmax(1)


def test_distill_with_the_correct_loss_trains_as_distill_student(small):
    X, v, y = small
    opts = dict(epochs=3, batch_size=32, lr=1e-2, seed=4, verbose=False)
    ours = distill_with(MLP(5, (8,), 3, seed=1), X, v, y, T=3.0, alpha=0.7, **opts)
    theirs = distill_student(MLP(5, (8,), 3, seed=1), X, logits=v, y=y, T=3.0, alpha=0.7,
                             **opts)
    np.testing.assert_allclose(predict_logits(ours, X), predict_logits(theirs, X), atol=1e-4)


def test_distill_with_a_permutation_reads_the_wrong_rows_and_is_cached(small, kdlab_cache):
    X, v, y = small
    opts = dict(epochs=2, batch_size=32, seed=0, verbose=False)
    perm = np.random.default_rng(1).permutation(len(X))
    same = distill_with(MLP(5, (8,), 3, seed=1), X, v, T=2.0, **opts)
    ident = distill_with(MLP(5, (8,), 3, seed=1), X, v, T=2.0, permutation=np.arange(len(X)),
                         **opts)
    moved = distill_with(MLP(5, (8,), 3, seed=1), X, v, T=2.0, permutation=perm, **opts)
    # a permutation of the logits is training on the logits permuted: the same network
    oracle = distill_with(MLP(5, (8,), 3, seed=1), X, v[perm], T=2.0, **opts)
    np.testing.assert_allclose(predict_logits(same, X), predict_logits(ident, X), atol=1e-6)
    np.testing.assert_allclose(predict_logits(moved, X), predict_logits(oracle, X), atol=1e-6)
    assert not np.allclose(predict_logits(moved, X), predict_logits(same, X))
    n_files = len(list((kdlab_cache / "models").glob("*.pt")))
    again = distill_with(MLP(5, (8,), 3, seed=1), X, v, T=2.0, permutation=perm, **opts)
    assert len(list((kdlab_cache / "models").glob("*.pt"))) == n_files  # loaded, not retrained
    np.testing.assert_array_equal(predict_logits(again, X), predict_logits(moved, X))


def test_distill_with_refuses_bad_input(small):
    X, v, y = small
    net = MLP(5, (8,), 3, seed=1)
    with pytest.raises(ValueError, match="permutation must be a permutation of range"):
        distill_with(net, X, v, permutation=np.zeros(len(X), int), epochs=1)
    with pytest.raises(ValueError, match="logits: expected shape"):
        distill_with(net, X, v[:10], epochs=1)
    with pytest.raises(ValueError, match="y must hold class ids"):
        distill_with(net, X, v, y + 3, epochs=1)
    with pytest.raises(TypeError, match="soft must be a soft loss"):
        distill_with(net, X, v, soft="kl", epochs=1)


def test_a_label_smoothing_loss_can_key_the_cache():
    smooth = functools.partial(F.cross_entropy, label_smoothing=0.1)
    plain = functools.partial(F.cross_entropy, label_smoothing=0.0)
    assert cache_key(loss_fn=smooth) != cache_key(loss_fn=plain)
    with pytest.raises(TypeError, match="module-level function"):
        cache_key(loss_fn=lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1))


def test_a_shared_optimizer_trains_the_teacher_only_when_it_is_not_detached(small):
    X, _, _ = small
    student, teacher = MLP(5, (8,), 3, seed=0), MLP(5, (16,), 3, dropout=0.5, seed=1)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    s_ok, t_ok = train_with_shared_optimizer(student, teacher, X, steps=4, batch_size=16)
    s_bad, t_bad = train_with_shared_optimizer(student, teacher, X, soft=soft_loss_not_detached,
                                               steps=4, batch_size=16)
    assert all(torch.equal(before[k], v) for k, v in t_ok.state_dict().items())
    assert not torch.equal(before["head.weight"], t_bad.head.weight)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())  # originals
    # one step: the student's update is the same either way (the same gradient reaches it)
    s1_ok, _ = train_with_shared_optimizer(student, teacher, X, steps=1, batch_size=16)
    s1_bad, _ = train_with_shared_optimizer(student, teacher, X, soft=soft_loss_not_detached,
                                            steps=1, batch_size=16)
    torch.testing.assert_close(s1_ok.head.weight, s1_bad.head.weight)
    assert not torch.equal(s_ok.head.weight, student.head.weight)
    assert not t_ok.training and not t_bad.training
    with pytest.raises(TypeError, match="teacher must be"):
        train_with_shared_optimizer(student, "teacher", X)


def test_distill_with_job_is_keyed_as_distill_with_and_trains_the_same(small, kdlab_cache,
                                                                        tmp_path, monkeypatch):
    X, v, y = small
    opts = dict(epochs=2, batch_size=32, lr=1e-2)
    runs = [(1, soft_loss, None), (2, soft_loss_no_T2, None),
            (3, soft_loss_mean, np.random.default_rng(0).permutation(len(X)))]
    jobs = [distill_with_job(MLP(5, (8,), 3, seed=s), X, v, y, soft=soft, T=3.0, name="j",
                             permutation=perm, seed=s, **opts) for s, soft, perm in runs]
    batched = fit_cached_many(X, jobs, verbose=False)
    assert len(list((kdlab_cache / "models").glob("*.pt"))) == 3
    for net, (s, soft, perm) in zip(batched, runs, strict=True):
        loaded = distill_with(MLP(5, (8,), 3, seed=s), X, v, y, soft=soft, T=3.0, seed=s,
                              permutation=perm, verbose=False, **opts)
        np.testing.assert_array_equal(predict_logits(loaded, X), predict_logits(net, X))
    assert len(list((kdlab_cache / "models").glob("*.pt"))) == 3  # each one was loaded
    monkeypatch.setenv("KDLAB_CACHE", str(tmp_path / "other"))  # now trained one at a time
    for net, (s, soft, perm) in zip(batched, runs, strict=True):
        alone = distill_with(MLP(5, (8,), 3, seed=s), X, v, y, soft=soft, T=3.0, seed=s,
                             permutation=perm, verbose=False, **opts)
        np.testing.assert_allclose(predict_logits(alone, X), predict_logits(net, X), atol=1e-4)
